"""A rotation rehearsal against a real PostgreSQL 15 server, psql and pgjdbc.

An "old" root and a "new" root (standing in for DigiCert Global Root CA and G2), each with an
intermediate and a ``localhost`` server certificate. rotator syncs both roots into the stores;
the server rotates from the old chain to the new one; verifying clients keep connecting, a
store holding only the old root does not, and ``rotator probe`` said so before the rotation.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from rotator.certs import parse_many
from rotator.errors import ServerUnreachable
from rotator.probe.tlsfetch import Endpoint, fetch_chain
from tests.support import postgres as pg
from tests.support.paths import REPO, pgjdbc_jar
from tests.support.pki import Rotation, make_rotation
from tests.support.tls_server import free_port

pytestmark = pytest.mark.slow

JAVA_CLIENT = REPO / "tests" / "support" / "java" / "PgjdbcConnect.java"


@pytest.fixture(scope="module")
def chains() -> Rotation:
    return make_rotation("Rehearsal", "Old Root (G1 stand-in)", "New Root (G2 stand-in)")


@pytest.fixture
def servers() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def write_config(directory: Path, c: Rotation) -> Path:
    """Both roots as custom roots with pins; profile ``rehearsal`` holds both, ``old-only`` the old one."""
    c.old_root.write(directory / "roots", "old-root")
    c.new_root.write(directory / "roots", "new-root")
    config = directory / "rotator.toml"
    config.write_text(
        'profile = "rehearsal"\n'
        "[profiles]\n"
        'rehearsal = ["digicert-global-root-ca", "digicert-global-root-g2", "test-old-root", "test-new-root"]\n'
        'old-only = ["test-old-root"]\n'
        "[[roots]]\n"
        'id = "test-old-root"\nname = "Rehearsal Old Root"\n'
        f'sha256 = "{c.old_root.sha256}"\nfile = "roots/old-root.pem"\n'
        "[[roots]]\n"
        'id = "test-new-root"\nname = "Rehearsal New Root"\n'
        f'sha256 = "{c.new_root.sha256}"\nfile = "roots/new-root.pem"\n'
    )
    return config


def conninfo(port: int, rootcert: Path) -> str:
    return (
        f"host=localhost hostaddr=127.0.0.1 port={port} user=postgres dbname=postgres "
        f"sslmode=verify-full sslrootcert={rootcert} connect_timeout=10"
    )


def assert_psql_connects(port: int, rootcert: Path) -> None:
    proc = pg.psql(conninfo(port, rootcert), "select 'ssl=' || ssl from pg_stat_ssl where pid = pg_backend_pid()")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ssl=true"


def assert_pgjdbc_connects(port: int, truststore: Path) -> None:
    jar = pgjdbc_jar()
    assert jar is not None, "PostgreSQL JDBC driver not found (.ci/run installs libpostgresql-jdbc-java)"
    proc = subprocess.run(
        [
            "java",
            f"-Djavax.net.ssl.trustStore={truststore}",
            "-Djavax.net.ssl.trustStorePassword=changeit",
            "-Djavax.net.ssl.trustStoreType=JKS",
            "-cp",
            jar,
            str(JAVA_CLIENT),
            f"jdbc:postgresql://localhost:{port}/postgres",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "connected ssl=true" in proc.stdout


def serving_leaf(port: int) -> str:
    chain = fetch_chain(Endpoint("127.0.0.1", port, starttls="postgres", servername="localhost"), timeout=5)
    return chain.chain[0].sha256


def test_rotation_rehearsal(
    tmp_path: Path, chains: Rotation, servers: ExitStack, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("psql") is None or shutil.which("java") is None:
        pytest.fail("psql and java are needed (.ci/run installs them)")
    config = write_config(tmp_path, chains)
    bundle, old_only = tmp_path / "azure-roots.pem", tmp_path / "old-only.pem"
    jks = tmp_path / "truststore.jks"
    monkeypatch.setenv("REHEARSAL_STOREPASS", "changeit")
    jks_target = ["--target", f"jks:{jks}", "--storepass-env", "REHEARSAL_STOREPASS"]

    # rotator writes the stores: both roots (plus G1 and G2) in the bundle and the JKS truststore,
    # only the old root in the control bundle.
    synced = run("sync", "--offline", "--config", str(config), "--target", f"pem:{bundle}", *jks_target)
    assert synced.code == 0, synced.err
    control = run("sync", "--offline", "--config", str(config), "--profile", "old-only", "--target", f"pem:{old_only}")
    assert control.code == 0, control.err
    assert {c.sha256 for c in parse_many(bundle.read_bytes())} >= {chains.old_root.sha256, chains.new_root.sha256}
    assert [c.sha256 for c in parse_many(old_only.read_bytes())] == [chains.old_root.sha256]
    assert jks.read_bytes()[:4] == bytes.fromhex("feedfeed")

    # The production server on the old chain; a second server already on the new chain.
    prod = servers.enter_context(pg.postgres_server(chains.old, chains.old_leaf))
    staging = servers.enter_context(pg.postgres_server(chains.new, chains.new_leaf))
    targets = ["--config", str(config), "--target", f"pem:{bundle}", "--target", f"pem:{old_only}", *jks_target]

    # Before: every client connects, and probe names the old root for every store.
    before = run("probe", f"localhost:{prod.port}", "--starttls", "postgres", "--json", *targets)
    assert before.code == 0, before.out + before.err
    doc = json.loads(before.out)
    assert [a["id"] for a in doc["anchors"]] == ["test-old-root"]
    assert [t["target"] for t in doc["targets"]] == [f"pem:{bundle}", f"pem:{old_only}", f"jks:{jks}"]
    assert [t["anchor"]["id"] for t in doc["targets"]] == ["test-old-root"] * 3
    assert_psql_connects(prod.port, bundle)
    assert_psql_connects(prod.port, old_only)
    assert_pgjdbc_connects(prod.port, jks)

    # Before the rotation, probe the new chain: it says which store would fail, and why.
    preview = run("probe", f"localhost:{staging.port}", "--starttls", "postgres", *targets)
    assert preview.code == 1, preview.out + preview.err
    assert "test-new-root (Rehearsal New Root): signs [1] Rehearsal New Intermediate" in preview.out
    assert f"pem:{bundle}: trusted, anchored at test-new-root" in preview.out
    assert f"jks:{jks}: trusted, anchored at test-new-root" in preview.out
    assert f"pem:{old_only}: NOT trusted: no certificate in this store signs the server's chain" in preview.out
    assert "it needs CN=Rehearsal New Root" in preview.out
    assert f"verdict: FAIL: 1 of 3 targets would reject localhost:{staging.port}: pem:{old_only}" in preview.out

    # The rotation: replace the server's files, reload.
    prod.install_chain(chains.new, chains.new_leaf)
    prod.reload()
    pg.wait_until(lambda: serving_leaf(prod.port) == chains.new_leaf.sha256, 15, "the new chain being served")

    # After: rotator's stores still connect; probe names the new root; the control fails, as predicted.
    after = run(
        "probe",
        f"localhost:{prod.port}",
        "--starttls",
        "postgres",
        "--config",
        str(config),
        "--target",
        f"pem:{bundle}",
        *jks_target,
    )
    assert after.code == 0, after.out + after.err
    assert "test-new-root (Rehearsal New Root): signs [1] Rehearsal New Intermediate" in after.out
    assert f"pem:{bundle}: trusted, anchored at test-new-root" in after.out
    assert f"jks:{jks}: trusted, anchored at test-new-root" in after.out
    assert_psql_connects(prod.port, bundle)
    assert_pgjdbc_connects(prod.port, jks)
    failed = pg.psql(conninfo(prod.port, old_only))
    assert failed.returncode != 0
    assert "certificate verify failed" in failed.stderr
    control_probe = run("probe", f"localhost:{prod.port}", "--starttls", "postgres", *targets)
    assert control_probe.code == 1
    assert f"pem:{old_only}: NOT trusted" in control_probe.out


def test_probe_unreachable_and_ssl_off(tmp_path: Path, chains: Rotation, servers: ExitStack, run) -> None:
    refused = run("probe", f"127.0.0.1:{free_port()}", "--starttls", "postgres", "--json")
    assert refused.code == 2
    assert json.loads(refused.out)["reason"] == "refused"
    assert "connection refused" in refused.err

    plain = servers.enter_context(pg.postgres_server(ssl=False))
    no_ssl = run("probe", f"localhost:{plain.port}", "--starttls", "postgres")
    assert no_ssl.code == 2
    assert "server does not support SSL" in no_ssl.err

    # A server turned from ssl=on to ssl=off by a reload answers the same way.
    server = servers.enter_context(pg.postgres_server(chains.old, chains.old_leaf))
    reachable = run("probe", f"localhost:{server.port}", "--starttls", "postgres")
    assert reachable.code == 1  # reachable; only the Azure profile is judged, which does not anchor a test chain
    assert chains.old_leaf.sha256 in reachable.out
    server.set_ssl(False)

    def ssl_refused() -> bool:
        try:
            serving_leaf(server.port)
        except ServerUnreachable as exc:
            return exc.reason == "no-ssl"
        return False

    pg.wait_until(ssl_refused, 15, "ssl = off after reload")
    json_doc = run("probe", f"127.0.0.1:{server.port}", "--starttls", "postgres", "--json")
    assert json_doc.code == 2
    assert json.loads(json_doc.out)["reason"] == "no-ssl"
