"""A rotation rehearsal against a real MariaDB server and the real ``mariadb`` client.

Azure rotated MySQL flexible server from DigiCert Global Root CA to DigiCert Global Root G2 and
Microsoft RSA Root CA 2017, keeping all three during the move. Stand-ins for each, plus Microsoft TLS
RSA Root G2 (cross-signed by G2), make the chains the server serves in turn: the old one, the new one
with and without the cross-sign, a Microsoft RSA 2017-style one, and one whose certificate names
another host. For every chain, before and after a ``rotator sync`` that adds the new roots to the
bundle, ``rotator probe --starttls mysql`` must judge the bundle as the client that reads it does:
``mariadb --ssl-verify-server-cert --ssl-ca=BUNDLE`` connects exactly when probe says trusted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from rotator.certs import parse_many
from tests.support import mariadb as my
from tests.support.pki import Hierarchy, make_hierarchy, make_leaf

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pki() -> Hierarchy:
    hierarchy = make_hierarchy("MySQL Rehearsal")
    old_ca = hierarchy.chains["old"][0][1]
    other_host = make_leaf(old_ca, ("db.example.test",), ips=())
    hierarchy.chains["other-host"] = ([other_host, old_ca], other_host)
    return hierarchy


@pytest.fixture(scope="module")
def server(pki: Hierarchy) -> Iterator[my.MariadbServer]:
    chain, key = pki.chains["old"]
    with my.mariadb_server(chain, key) as db:
        yield db


def write_config(directory: Path, pki: Hierarchy) -> Path:
    """The roots as custom roots with pins; ``before`` holds the old root, ``after`` all three of Azure's."""
    lines = [
        "[profiles]",
        'before = ["test-g1"]',
        'after = ["test-g1", "test-g2", "test-rsa2017"]',
    ]
    for rid, issued in (("test-g1", pki.g1), ("test-g2", pki.g2), ("test-rsa2017", pki.rsa2017)):
        issued.write(directory / "roots", rid)
        lines += ["[[roots]]", f'id = "{rid}"', f'name = "{rid} stand-in"']
        lines += [f'sha256 = "{issued.sha256}"', f'file = "roots/{rid}.pem"']
    config = directory / "rotator.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def client_verdict(db: my.MariadbServer, bundle: Path) -> tuple[bool, str]:
    """Whether the real client connects verifying chain and name against ``bundle``; its TLS version or error."""
    proc = my.mariadb_client(db.port, bundle)
    if proc.returncode == 0:
        name, _, version = proc.stdout.strip().partition("\t")
        assert name == "Ssl_version", proc.stdout
        return True, version
    # Not a login or network failure: the client refused the server's certificate.
    assert "TLS/SSL error" in proc.stderr, proc.stderr
    return False, proc.stderr.strip()


EXPECTED = {
    # chain: (trusted with the old root only, trusted after the sync added G2 and RSA 2017)
    "old": (True, True),
    "new-with-cross-sign": (False, True),  # through G2's cross-sign of Microsoft TLS RSA Root G2
    "new-without-cross-sign": (False, False),  # needs Microsoft TLS RSA Root G2 itself, in no profile
    "rsa-2017": (False, True),
    "other-host": (False, False),  # the certificate names db.example.test, the client connects to localhost
}


def test_probe_judges_each_chain_as_the_mariadb_client_does_before_and_after_a_sync(
    tmp_path: Path, pki: Hierarchy, server: my.MariadbServer, run
) -> None:
    config = write_config(tmp_path, pki)
    bundle = tmp_path / "azure-mysql-roots.pem"
    target = ["--config", str(config), "--target", f"pem:{bundle}"]
    seen: dict[str, list[bool]] = {name: [] for name in pki.chains}
    for phase, profile in enumerate(("before", "after")):
        synced = run("sync", "--offline", "--profile", profile, *target)
        assert synced.code == 0, synced.out + synced.err
        wanted = {"before": {pki.g1.sha256}, "after": {pki.g1.sha256, pki.g2.sha256, pki.rsa2017.sha256}}[profile]
        assert {c.sha256 for c in parse_many(bundle.read_bytes())} == wanted
        for name, (chain, key) in pki.chains.items():
            server.serve(chain, key)
            probed = run("probe", f"localhost:{server.port}", "--starttls", "mysql", "--json", *target)
            doc = json.loads(probed.out)
            assert [c["sha256"] for c in doc["chain"]] == [c.sha256 for c in chain], name
            (verdict,) = doc["targets"]
            trusted, detail = client_verdict(server, bundle)
            cell = f"{name}, {profile} the sync: probe says {verdict['trusted']}, mariadb {detail!r}"
            assert verdict["trusted"] == trusted, cell
            assert probed.code == (0 if trusted else 1), cell
            assert trusted == EXPECTED[name][phase], cell
            if trusted:
                assert doc["tls_version"] == detail, cell  # the version the client negotiated too
            seen[name].append(trusted)
    assert {name: tuple(v) for name, v in seen.items()} == EXPECTED


def test_probe_text_names_the_mysql_handshake_and_the_negotiated_version(
    tmp_path: Path, pki: Hierarchy, server: my.MariadbServer, run
) -> None:
    chain, key = pki.chains["old"]
    server.serve(chain, key)
    store = tmp_path / "g1.pem"
    store.write_bytes(pki.g1.pem)
    result = run("probe", f"localhost:{server.port}", "--starttls", "mysql", "--target", f"pem:{store}")
    assert result.code == 0, result.out + result.err
    assert f"probe localhost:{server.port} (MySQL SSLRequest, then TLSv1.3)" in result.out
    assert "negotiated TLSv1.3, cipher TLS_" in result.out
    assert "-MariaDB" in result.out  # the server version from its greeting
    assert f"pem:{store}: trusted, anchored at 'MySQL Rehearsal Global Root CA'" in result.out


def test_plain_tls_to_the_mariadb_port_suggests_starttls_mysql(server: my.MariadbServer, run) -> None:
    result = run("probe", f"localhost:{server.port}", "--timeout", "5", "--json")
    assert result.code == 2
    assert json.loads(result.out)["reason"] == "handshake"
    (line,) = result.err.splitlines()
    assert "the server sent a MySQL greeting (" in line and "-MariaDB" in line
    assert line.endswith("it is a MySQL server; try --starttls mysql")
    assert "PostgreSQL" not in line


def test_a_mariadb_without_ssl_gets_a_one_line_reason(run) -> None:
    with my.mariadb_server(ssl=False) as db:
        assert db.sql("show variables like 'have_ssl'").stdout.split() == ["have_ssl", "DISABLED"]
        result = run("probe", f"localhost:{db.port}", "--starttls", "mysql")
        as_json = run("probe", f"localhost:{db.port}", "--starttls", "mysql", "--json")
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert "server does not support SSL (its MySQL greeting, " in line and "lacks CLIENT_SSL" in line
    assert json.loads(as_json.out)["reason"] == "no-ssl"
