"""rotator scan over a planted host tree: every kind of store found, with its reader, the Azure
certificates it holds, a verdict per chain, and the fix; what breaks walks is named, never hangs."""

from __future__ import annotations

import json
import os
import subprocess
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.support.hosttree import EXPECTED, NODE, UNTIL, plant
from tests.support.runs import Run


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tree for the tests that only read it (keytool makes its keystores: seconds each)."""
    return plant(tmp_path_factory.mktemp("planted") / "host").root


@pytest.fixture
def own_tree(tmp_path: Path) -> Path:
    """A tree of the test's own, for tests that change it."""
    return plant(tmp_path / "host", node=False).root


def _scan(run: Any, tree: Path, *extra: str) -> tuple[Run, dict[str, Any]]:
    result = run("scan", "--sysroot", str(tree), "--json", *extra)
    return result, json.loads(result.out)


def _by_path(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["path"]: s for s in doc["stores"] if s["kind"] != "node-builtin"}


def test_every_planted_store_is_found_with_its_kind_and_verdict_per_chain(run: Any, tree: Path) -> None:
    result, doc = _scan(run, tree)

    assert result.code == 1  # some fail
    stores = _by_path(doc)
    for path, (kind, postgresql, no_xsign, mysql) in EXPECTED.items():
        assert path in stores, f"{path} not found; found {sorted(stores)}"
        store = stores[path]
        assert store["kind"] == kind, path
        assert store["verdicts"] == {"postgresql": postgresql, "postgresql-no-xsign": no_xsign, "mysql": mysql}, path
    assert doc["version"] == 1 and doc["command"] == "scan"
    assert doc["summary"]["complete"] is True


def test_readers_say_who_reads_each_store_and_why(run: Any, tree: Path) -> None:
    _, doc = _scan(run, tree)
    stores = _by_path(doc)

    def readers(path: str) -> list[str]:
        return [f"{r['who']} | {r['why']}" for r in stores[path]["readers"]]

    venv_certifi = readers("/srv/app/.venv/lib/python3.11/site-packages/certifi/cacert.pem")
    assert venv_certifi[0].startswith("Python virtualenv /srv/app/.venv | requests")
    assert readers("/srv/app/.venv/lib/python3.11/site-packages/pip/_vendor/certifi/cacert.pem")[0].startswith(
        "pip in virtualenv /srv/app/.venv"
    )
    assert readers("/opt/app/jre/lib/security/cacerts")[0].startswith("application JRE /opt/app/jre |")
    billing = readers("/etc/billing/root.crt")
    assert billing == ["unit billing.service | PGSSLROOTCERT in /etc/systemd/system/billing.service: "
                       "libpq, psycopg, asyncpg: sslrootcert"]  # fmt: skip
    ledger = readers("/etc/ledger/trust.jks")
    assert ledger[0].startswith("unit ledger.service | -Djavax.net.ssl.trustStore in JAVA_TOOL_OPTIONS")
    assert readers("/etc/web/extra.pem")[0].startswith("unit web.service | NODE_EXTRA_CA_CERTS in /etc/default/web")
    assert readers("/home/app/.postgresql/root.crt")[0].startswith("account app | libpq")
    # billing runs as pgapp: that account's root.crt is read by the unit too.
    assert "unit billing.service | runs as pgapp" in readers("/var/lib/pgapp/.postgresql/root.crt")


def test_azure_roots_by_pin_and_intermediates_named_for_removal(run: Any, tree: Path) -> None:
    _, doc = _scan(run, tree)
    stores = _by_path(doc)

    assert stores["/etc/ledger/trust.jks"]["azure_roots"] == [
        "digicert-global-root-g2",
        "microsoft-rsa-root-2017",
        "microsoft-tls-rsa-root-g2",
    ]
    assert stores["/etc/billing/root.crt"]["azure_roots"] == ["digicert-global-root-ca"]
    pinned = stores["/home/app/.postgresql/root.crt"]
    assert pinned["azure_intermediates"] == ["Microsoft TLS G2 RSA CA OCSP 02"]
    assert pinned["azure_roots"] == []
    text = " ".join(run("scan", "--sysroot", str(tree)).out.split())  # a long fix line wraps
    assert "fix: remove Microsoft TLS G2 RSA CA OCSP 02 from /home/app/.postgresql/root.crt: Azure rotates these " \
           "without notice" in text  # fmt: skip


def test_the_fix_is_a_target_per_failing_store(run: Any, tree: Path) -> None:
    _, doc = _scan(run, tree)
    stores = _by_path(doc)

    assert stores["/etc/ssl/certs/ca-certificates.crt"]["fix"] == {"target": "system"}
    assert stores["/opt/app/jre/lib/security/cacerts"]["fix"] == {
        "target": "java-cacerts:/opt/app/jre/lib/security/cacerts,profile=azure-postgresql"
    }
    assert stores["/srv/app/.venv/lib/python3.11/site-packages/certifi/cacert.pem"]["fix"] == {
        "target": "pem:/srv/app/.venv/lib/python3.11/site-packages/certifi/cacert.pem,profile=azure-postgresql"
    }
    assert stores["/etc/ledger/trust.jks"]["fix"] is None  # it survives
    assert stores["/var/lib/pgapp/.postgresql/root.crt"]["fix"] is None


@pytest.mark.skipif(NODE is None, reason="no node binary on this machine")
def test_node_builtin_roots_are_read_from_the_binary_and_a_units_extra_bundle_counts(run: Any, tree: Path) -> None:
    _, doc = _scan(run, tree)
    nodes = [s for s in doc["stores"] if s["kind"] == "node-builtin"]

    plain = next(s for s in nodes if not s["notes"])
    web = next(s for s in nodes if s["notes"])
    assert plain["path"] == web["path"] == "/usr/bin/node"
    assert plain["certificates"] > 100  # Node's built-in roots, read from the bytes of the binary
    # Node's roots have no Microsoft TLS RSA Root G2: without the cross-sign it fails.
    assert plain["verdicts"]["postgresql-no-xsign"] == "fails"
    assert plain["fix"] == {
        "setting": "NODE_EXTRA_CA_CERTS=/etc/rotator/azure-roots.pem",
        "where": "the environment of every program run with /usr/bin/node",
    }
    # web.service adds /etc/web/extra.pem (Microsoft TLS RSA Root G2): it survives every chain.
    assert [r["who"] for r in web["readers"]] == ["unit web.service"]
    assert set(web["verdicts"].values()) == {"survives"}
    assert web["notes"] == ["NODE_EXTRA_CA_CERTS=/etc/web/extra.pem adds to its roots"]
    # /etc/default/web reaches node only through the unit that reads it: not a node store of its own.
    assert [s["readers"][0]["who"] for s in nodes] == ["programs run with /usr/bin/node", "unit web.service"]


@pytest.mark.skipif(NODE is None, reason="no node binary on this machine")
def test_node_asked_on_a_live_host_agrees_with_the_bytes_of_its_binary() -> None:
    from rotator.scan.contents import node_roots

    asked = node_roots(Path(NODE), live=True)
    read = node_roots(Path(NODE), live=False)
    script = "process.stdout.write(String(require('tls').rootCertificates.length))"
    count = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=30).stdout
    assert len(asked) == int(count) == len({c.sha256 for c in read})
    assert {c.sha256 for c in asked} == {c.sha256 for c in read}


def test_what_breaks_walks_is_named_and_never_hangs(run: Any, tree: Path) -> None:
    started = time.monotonic()
    _, doc = _scan(run, tree)

    assert time.monotonic() - started < 60  # a FIFO read would block forever
    unreadable = {u["path"]: u["reason"] for u in doc["unreadable"]}
    assert "not a regular file" in unreadable["/opt/tools/certifi/cacert.pem"]
    assert "larger than 64 MiB" in unreadable["/opt/huge/lib/security/cacerts"]
    # The loop is a link to a directory: never followed, so nothing is found twice.
    assert not [s for s in doc["stores"] if "/srv/loop/" in s["path"]]


def test_text_is_one_line_per_store_failing_first_within_100_columns(run: Any, tree: Path) -> None:
    result = run("scan", "--sysroot", str(tree))

    lines = result.out.splitlines()
    summary_at = next(i for i, line in enumerate(lines) if " stores: " in line)
    store_lines = [line for line in lines[:summary_at] if not line.startswith("UNREADABLE")]
    assert len(store_lines) == len(json.loads(run("scan", "--sysroot", str(tree), "--json").out)["stores"])
    assert all(len(line) <= 100 for line in lines[: summary_at + 1])
    statuses = [line.split()[0] for line in store_lines]
    assert statuses == sorted(statuses, key=lambda s: ["FAILS", "PINS", "until", "survives"].index(s))
    assert lines[summary_at].startswith(f"{len(store_lines)} stores: ")
    # The public bundle fails only the chain without the cross-sign, and says which; the G1-only JRE fails all.
    assert any(line.startswith("FAILS no-xsign    system        /etc/ssl/certs/ca-certificates.crt") for line in lines)
    assert any(line.startswith("FAILS             java-cacerts  /opt/app/jre/lib/security/cacerts") for line in lines)
    verbose = run("scan", "--sysroot", str(tree), "-v").out
    assert "    read by unit billing.service (PGSSLROOTCERT in /etc/systemd/system/billing.service" in verbose
    assert "    postgresql: fails: " in verbose


def test_exit_zero_when_every_store_survives(run: Any, tmp_path: Path) -> None:
    from tests.support.hosttree import write
    from tests.support.paths import embedded_pem

    root = tmp_path / "good"
    write(root / "etc/passwd", "app:x:1000:1000::/home/app:/bin/sh\n")
    roots = b"".join(embedded_pem(r) for r in ("digicert-global-root-g2", "microsoft-tls-rsa-root-g2",
                                                "microsoft-rsa-root-2017"))  # fmt: skip
    write(root / "home/app/.postgresql/root.crt", roots)

    result = run("scan", "--sysroot", str(root))
    assert result.code == 0, result.out
    assert result.out.splitlines()[0].startswith("survives          pem           /home/app/.postgresql/root.crt")


def test_at_a_date_after_the_cross_sign_expires_stores_relying_on_it_fail(run: Any, tree: Path) -> None:
    _, doc = _scan(run, tree, "--at", "2029-07-01")
    stores = _by_path(doc)
    assert stores["/srv/app/.venv/lib/python3.11/site-packages/certifi/cacert.pem"]["verdicts"]["postgresql"] == "fails"
    assert stores["/etc/ledger/trust.jks"]["verdicts"]["postgresql"] == "survives"
    _, today = _scan(run, tree)
    assert (
        _by_path(today)["/srv/app/.venv/lib/python3.11/site-packages/certifi/cacert.pem"]["verdicts"]["postgresql"]
        == UNTIL
    )


def test_service_china_judges_the_g1_chain_and_its_fix_allows_g1(run: Any, tree: Path) -> None:
    _, doc = _scan(run, tree, "--service", "china")
    stores = _by_path(doc)
    assert list(doc["chains"]) == ["china"]
    # The G1-only root.crt meets the G1 replica but not the G2 one.
    assert stores["/etc/billing/root.crt"]["verdicts"] == {"china": "fails"}
    assert stores["/etc/ssl/certs/ca-certificates.crt"]["fix"] == {
        "target": "system,allow_distrusted=digicert-global-root-ca"
    }
    assert stores["/opt/app/jre/lib/security/cacerts"]["fix"]["target"].endswith("profile=azure-legacy")


def test_write_config_writes_the_targets_and_never_overwrites(run: Any, tree: Path, tmp_path: Path) -> None:
    config = tmp_path / "rotator.toml"
    result = run("scan", "--sysroot", str(tree), "--write-config", str(config))

    assert result.code == 1
    data = tomllib.loads(config.read_text())
    specs = {(t["kind"], t.get("path")) for t in data["targets"]}
    assert ("java-cacerts", "/opt/app/jre/lib/security/cacerts") in specs
    assert ("pem", "/etc/billing/root.crt") in specs
    assert ("system", None) in specs
    if NODE:
        assert ("pem", "/etc/rotator/azure-roots.pem") in specs  # the bundle the Node setting names
        assert "#   NODE_EXTRA_CA_CERTS=/etc/rotator/azure-roots.pem" in config.read_text()
    assert ("jks", "/etc/ledger/trust.jks") not in specs  # it survives
    # rotator reads it back as a config: every target valid.
    from rotator.config.file import load

    assert len(load(config).targets) == len(data["targets"])
    before = config.read_bytes()
    again = run("scan", "--sysroot", str(tree), "--write-config", str(config))
    assert again.code == 2
    assert again.err.strip().endswith("exists already; scan never overwrites, name a new file")
    assert config.read_bytes() == before


def test_a_store_rotator_keeps_is_marked_managed(run: Any, own_tree: Path) -> None:
    from tests.support.hosttree import write

    tree = own_tree
    write(tree / "etc/rotator/rotator.toml", '[[targets]]\nkind = "pem"\npath = "/etc/billing/root.crt"\n')
    _, doc = _scan(run, tree)
    stores = _by_path(doc)
    assert stores["/etc/billing/root.crt"]["managed"] is True
    assert stores["/home/app/.postgresql/root.crt"]["managed"] is False


def test_usage_errors_exit_two(run: Any, tmp_path: Path) -> None:
    assert run("scan", "--sysroot", str(tmp_path / "missing")).code == 2
    assert run("scan", "--service", "oracle").code == 2
    assert run("scan", "--include", str(tmp_path / "nope")).code == 2


def test_a_keystore_with_an_unknown_password_is_named_unreadable(run: Any, own_tree: Path) -> None:
    tree = own_tree
    unit = tree / "etc/systemd/system/ledger.service"
    unit.write_text(unit.read_text().replace(" -Djavax.net.ssl.trustStorePassword=s3cret-pw", ""))
    _, doc = _scan(run, tree)
    unreadable = {u["path"]: u["reason"] for u in doc["unreadable"]}
    assert "password is not changeit" in unreadable["/etc/ledger/trust.jks"]
    assert "/etc/ledger/trust.jks" not in _by_path(doc)


def test_live_environment_variables_are_read_on_a_live_host_only(
    run: Any, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tree / "etc/billing/root.crt"))
    _, doc = _scan(run, tree)
    assert not [s for s in doc["stores"] if any(r["who"] == "your environment" for r in s["readers"])]
    assert os.environ["SSL_CERT_FILE"]


@pytest.mark.skipif(NODE is None, reason="no node binary on this machine")
def test_a_node_pointed_at_a_failing_file_is_fixed_by_that_files_target(run: Any, tmp_path: Path) -> None:
    from tests.support.hosttree import write

    tree = plant(tmp_path / "host").root
    # Every program's environment adds the distribution's bundle (as many images set it).
    write(tree / "etc/environment", "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt\n")
    _, doc = _scan(run, tree)
    everyone = next(
        s for s in doc["stores"] if s["kind"] == "node-builtin" and s["readers"][0]["who"] == "/etc/environment"
    )
    assert everyone["fix"] == {"target": "system"}  # keep the bundle it reads right, not a second setting

    text = run("scan", "--sysroot", str(tree)).out.splitlines()
    start = text.index("fix: rotator sync \\")
    block = [text[start]]
    for line in text[start + 1 :]:
        block.append(line)
        if not line.endswith(" \\"):
            break
    specs = [line.split("--target ", 1)[1].removesuffix(" \\") for line in block[1:]]
    assert len(specs) == len(set(specs)) and "system" in specs
    # The Node setting's bundle is in the same command, so that the setting points at a kept file.
    assert "pem:/etc/rotator/azure-roots.pem,profile=azure-postgresql" in specs
    fixed = {s["fix"]["target"] for s in doc["stores"] if s["fix"] and "target" in s["fix"]}
    assert set(specs) == fixed | {"pem:/etc/rotator/azure-roots.pem,profile=azure-postgresql"}


@pytest.mark.slow
def test_as_an_unprivileged_user_what_it_cannot_read_is_named_with_the_reason(tmp_path: Path) -> None:
    import shutil
    import tempfile

    from tests.support.runs import interpreter_for_nobody

    found = interpreter_for_nobody()
    if isinstance(found, str):
        pytest.skip(found)
    command, env = found
    # Under /tmp, not pytest's root-only directory: nobody must be able to reach the tree at all.
    shared = Path(tempfile.mkdtemp(prefix="rotator-scan-", dir="/tmp"))
    try:
        os.chmod(shared, 0o755)
        tree = plant(shared / "host", node=False).root
        os.chmod(tree / "home/app", 0o700)  # an account's home: root's to read
        os.chmod(tree / "etc/ledger/trust.jks", 0o600)  # a keystore a unit names
        proc = subprocess.run(
            [*command, "scan", "--sysroot", str(tree), "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            cwd="/",
        )
        text = subprocess.run(
            [*command, "scan", "--sysroot", str(tree)], capture_output=True, text=True, env=env, timeout=120, cwd="/"
        )
    finally:
        shutil.rmtree(shared)

    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    unreadable = {u["path"]: u["reason"] for u in doc["unreadable"]}
    assert "permission denied" in unreadable["/home/app"].lower(), unreadable
    assert "permission denied" in unreadable["/etc/ledger/trust.jks"].lower(), unreadable
    # What it can read is still judged: the JRE's G1-only cacerts fails as it does for root.
    stores = _by_path(doc)
    assert stores["/opt/app/jre/lib/security/cacerts"]["verdicts"]["postgresql"] == "fails"
    assert "/etc/ledger/trust.jks" not in stores
    assert "2 unreadable for want of permission: run scan as root to judge them too" in text.stdout.splitlines()


def test_an_nss_database_is_read_with_certutil_and_its_fix_imports_the_missing_roots(run: Any, tmp_path: Path) -> None:
    import shlex
    import shutil

    from tests.support.hosttree import write
    from tests.support.paths import embedded_pem

    if shutil.which("certutil") is None:
        pytest.fail("certutil is needed (.ci/run installs libnss3-tools)")
    root = tmp_path / "host"
    write(root / "etc/passwd", "app:x:1000:1000::/home/app:/bin/sh\n")
    nss = root / "home/app/.pki/nssdb"
    nss.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True, timeout=60)
    for nickname, root_id, trust in (
        ("g2", "digicert-global-root-g2", "C,,"),
        ("plain", "microsoft-rsa-root-2017", ",,"),
    ):
        pem = write(tmp_path / f"{root_id}.pem", embedded_pem(root_id))
        subprocess.run(
            ["certutil", "-A", "-d", f"sql:{nss}", "-n", nickname, "-t", trust, "-a", "-i", str(pem)],
            check=True, timeout=60,
        )  # fmt: skip
    before = (nss / "cert9.db").read_bytes()

    _, doc = _scan(run, root)
    store = next(s for s in doc["stores"] if s["kind"] == "nss")
    assert store["path"] == "/home/app/.pki/nssdb"
    # Only what the database trusts for TLS counts: RSA 2017 is in it with no trust flags.
    assert store["azure_roots"] == ["digicert-global-root-g2"] and store["certificates"] == 1
    assert store["verdicts"]["postgresql-no-xsign"] == "fails"
    assert (nss / "cert9.db").read_bytes() == before  # read from a copy: the database is not opened

    # The fix: verified copies of the missing roots, imported with certutil. Run it as printed, with
    # the copies' directory and the database moved under the test's tree.
    commands = store["fix"]["setting"].replace("/etc/rotator/roots", str(tmp_path / "roots"))
    commands = commands.replace("sql:/home/app/.pki/nssdb", f"sql:{nss}")
    for command in commands.split(" && "):
        argv = shlex.split(command)
        if argv[0] == "rotator":
            assert run(*argv[1:]).code == 0
        else:
            subprocess.run(argv, check=True, timeout=60)
    _, after = _scan(run, root)
    fixed = next(s for s in after["stores"] if s["kind"] == "nss")
    assert set(fixed["verdicts"].values()) == {"survives"}, fixed


def test_a_certifi_bundle_kept_by_its_target_stays_public_and_a_pip_upgrade_is_drift_repaired(
    run: Any, tmp_path: Path
) -> None:
    import certifi

    from rotator.certs import parse_many
    from tests.support.hosttree import write

    public = Path(certifi.where()).read_bytes()
    bundle = write(tmp_path / "venv/lib/python3.11/site-packages/certifi/cacert.pem", public)
    target = f"pem:{bundle},profile=azure-postgresql"
    mozilla = {c.sha256 for c in parse_many(public)}

    assert run("sync", "--offline", "--target", target).code == 0
    kept = {c.sha256 for c in parse_many(bundle.read_bytes())}
    assert mozilla < kept  # every public root kept, Azure's added
    # pip upgrades certifi: a fresh public bundle replaces the file.
    bundle.write_bytes(public)
    status = run("status", "--offline", "--target", target)
    assert status.code == 1 and "MISSING" in status.out
    repaired = run("sync", "--offline", "--target", target)
    assert repaired.code == 0, repaired.err
    assert {c.sha256 for c in parse_many(bundle.read_bytes())} == kept


def test_a_hash_directory_a_pkcs12_keystore_and_damaged_or_locked_keystores(run: Any, tmp_path: Path) -> None:
    from tests.support.hosttree import keystore, write
    from tests.support.paths import embedded_pem

    root = tmp_path / "host"
    write(root / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
    certs = root / "etc/app/certs"
    write(certs / "g2.pem", embedded_pem("digicert-global-root-g2"))
    write(certs / "tls-g2.pem", embedded_pem("microsoft-tls-rsa-root-g2"))
    write(certs / "rsa-2017.pem", embedded_pem("microsoft-rsa-root-2017"))
    write(certs / "README", "not a certificate\n")
    (certs / "old").mkdir()
    keystore(root / "etc/app/trust.p12", "p12-pass", ["microsoft-rsa-root-2017"], storetype="PKCS12")
    write(root / "etc/app/broken.jks", b"\xfe\xed\xfe\xed" + b"\x00" * 40)
    keystore(root / "etc/app/locked.jks", "the-right-one", ["digicert-global-root-g2"])
    units = root / "etc/systemd/system"
    write(units / "dir.service", "[Service]\nEnvironment=SSL_CERT_DIR=/etc/app/certs\nExecStart=/usr/bin/app\n")
    write(
        units / "p12.service",
        '[Service]\nEnvironment="JAVA_OPTS=-Djavax.net.ssl.trustStore=/etc/app/trust.p12 '
        '-Djavax.net.ssl.trustStorePassword=p12-pass -Djavax.net.ssl.trustStoreType=PKCS12"\nExecStart=/usr/bin/java\n',
    )
    write(
        units / "broken.service",
        "[Service]\nEnvironment=JAVA_TOOL_OPTIONS=-Djavax.net.ssl.trustStore=/etc/app/broken.jks\n",
    )
    write(
        units / "locked.service",
        '[Service]\nEnvironment="JAVA_TOOL_OPTIONS=-Djavax.net.ssl.trustStore=/etc/app/locked.jks '
        '-Djavax.net.ssl.trustStorePassword=wrong"\n',
    )

    _, doc = _scan(run, root)
    stores = _by_path(doc)
    directory = stores["/etc/app/certs"]
    assert directory["kind"] == "pem-dir" and directory["certificates"] == 3  # not the README, not the folder
    assert set(directory["verdicts"].values()) == {"survives"}  # every anchor the chains need
    p12 = stores["/etc/app/trust.p12"]
    assert p12["azure_roots"] == ["microsoft-rsa-root-2017"] and p12["verdicts"]["postgresql"] == "fails"
    assert p12["fix"]["target"].startswith("pkcs12:/etc/app/trust.p12,profile=azure-postgresql,storepass_file=")
    unreadable = {u["path"]: u["reason"] for u in doc["unreadable"]}
    assert "not a keystore rotator can read" in unreadable["/etc/app/broken.jks"]
    assert (
        "cannot open it with the password from -Djavax.net.ssl.trustStorePassword" in unreadable["/etc/app/locked.jks"]
    )


@pytest.mark.skipif(NODE is None, reason="no node binary on this machine")
def test_node_with_use_openssl_ca_is_judged_on_the_store_it_reads_instead(run: Any, tmp_path: Path) -> None:
    from tests.support.hosttree import write

    tree = plant(tmp_path / "host").root
    write(
        tree / "etc/systemd/system/api.service",
        "[Service]\nEnvironment=SSL_CERT_FILE=/etc/billing/root.crt\n"
        "ExecStart=/usr/bin/node --use-openssl-ca /srv/api/server.js\n",
    )
    _, doc = _scan(run, tree)
    api = next(s for s in doc["stores"] if s["kind"] == "node-builtin" and s["readers"][0]["who"] == "unit api.service")
    assert api["notes"] == ["run with --use-openssl-ca: reads /etc/billing/root.crt"]
    # It reads the G1-only file, not node's own roots: it fails as that file does, and that file's target fixes it.
    assert api["azure_roots"] == ["digicert-global-root-ca"] and set(api["verdicts"].values()) == {"fails"}
    assert api["fix"] == {"target": "pem:/etc/billing/root.crt,profile=azure-postgresql"}
