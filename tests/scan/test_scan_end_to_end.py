"""rotator scan end to end: a host tree whose clients read stores nobody pointed rotator at, a real
PostgreSQL 15 serving a test chain, and the real clients that read those stores (psql with the
account's default ~/.postgresql/root.crt, requests in a virtualenv on its own certifi, pgjdbc on an
application's own JRE made by jlink, node with its built-in roots). Before: scan says each breaks,
and each client does. After `scan --write-config` and a sync of that config (plus the Node setting
scan printed): every client connects, and a second scan finds every store surviving.

The test chain's root stands in for the next Azure root: it is a custom pinned root added to the
config scan wrote, as the rotation rehearsal does. Scan itself judges against Azure's real chains.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rotator.roots.catalog import Catalog
from tests.support import postgres as pg
from tests.support.hosttree import G1, write
from tests.support.https_server import https_server
from tests.support.paths import REPO, embedded_pem, pgjdbc_jar
from tests.support.pki import Issued, make_intermediate, make_leaf, make_root

pytestmark = pytest.mark.slow

JAVA_CLIENT = REPO / "tests" / "support" / "java" / "PgjdbcConnect.java"
# A node client the way node-postgres connects: PostgreSQL's SSLRequest, then TLS on the same
# socket with the default CA (node's roots plus NODE_EXTRA_CA_CERTS) and the host name checked.
NODE_CLIENT = """
const net = require('net'), tls = require('tls');
setTimeout(() => { console.log('timeout'); process.exit(4); }, 15000);
const sock = net.connect(Number(process.argv[2]), '127.0.0.1', () => {
  const req = Buffer.alloc(8); req.writeInt32BE(8, 0); req.writeInt32BE(80877103, 4); sock.write(req);
});
sock.on('error', (e) => { console.log('socket ' + e.message); process.exit(2); });
sock.once('data', (d) => {
  if (d[0] !== 83) { console.log('no ssl'); process.exit(3); }
  const t = tls.connect({ socket: sock, servername: 'localhost' }, () => {
    console.log('authorized'); process.exit(0);
  });
  t.on('error', (e) => { console.log('tls ' + e.code); process.exit(1); });
});
"""
# requests in the virtualenv: its certifi is the one in the venv's site-packages.
REQUESTS_CLIENT = """
import sys, certifi, requests
assert certifi.where().startswith(sys.prefix), certifi.where()
try:
    requests.get(sys.argv[1], timeout=10)
except requests.exceptions.SSLError as exc:
    print("ssl error", exc); sys.exit(1)
print("verified")
"""
# psycopg from its binary wheel with sslrootcert=system: the wheel's own OpenSSL and its compiled directory.
PSYCOPG_CLIENT = """
import sys, psycopg
try:
    psycopg.connect(sys.argv[1], connect_timeout=10).close()
except psycopg.OperationalError as exc:
    print("refused", str(exc).strip().splitlines()[-1]); sys.exit(1)
print("connected")
"""
# Variables a machine may set globally: a client that inherits them measures nothing.
TRUST_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
                   "PGSSLROOTCERT", "NODE_OPTIONS", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "PGSSLMODE")  # fmt: skip


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TRUST_VARIABLES}
    return {**env, **extra}


class Host:
    """The planted host and its clients, each run against the servers with only its own store."""

    def __init__(self, root: Path, work: Path, pg_port: int, https_url: str) -> None:
        self.root, self.work, self.pg_port, self.https_url = root, work, pg_port, https_url

    def psql(self) -> subprocess.CompletedProcess[str]:
        # No sslrootcert: libpq reads ~/.postgresql/root.crt of the account (its $HOME here).
        conninfo = f"host=localhost hostaddr=127.0.0.1 port={self.pg_port} user=postgres dbname=postgres "
        return subprocess.run(
            ["psql", conninfo + "sslmode=verify-full connect_timeout=10", "-X", "-A", "-t", "-c", "select 1"],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(HOME=str(self.root / "home/app"), PGCONNECT_TIMEOUT="10"),
        )

    def requests(self) -> subprocess.CompletedProcess[str]:
        python = self.root / "srv/app/.venv/bin/python"
        return subprocess.run(
            [str(python), "-c", REQUESTS_CLIENT, self.https_url], capture_output=True, text=True, timeout=60,
            env=clean_env(),
        )  # fmt: skip

    def psycopg(self, **extra: str) -> subprocess.CompletedProcess[str]:
        python = self.root / "srv/app/.venv/bin/python"
        conninfo = (f"host=localhost hostaddr=127.0.0.1 port={self.pg_port} user=postgres dbname=postgres "
                    "sslmode=verify-full sslrootcert=system")  # fmt: skip
        return subprocess.run(
            [str(python), "-c", PSYCOPG_CLIENT, conninfo], capture_output=True, text=True, timeout=60,
            env=clean_env(**extra),
        )  # fmt: skip

    def pgjdbc(self) -> subprocess.CompletedProcess[str]:
        jar = pgjdbc_jar()
        assert jar is not None, "PostgreSQL JDBC driver not found (.ci/run installs libpostgresql-jdbc-java)"
        java = self.root / "opt/app/jre/bin/java"
        return subprocess.run(
            [str(java), "-cp", f"{self.work / 'classes'}:{jar}", "PgjdbcConnect",
             f"jdbc:postgresql://localhost:{self.pg_port}/postgres"],
            capture_output=True, text=True, timeout=120, env=clean_env(),
        )  # fmt: skip

    def node(self, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.root / "usr/bin/node"), str(self.work / "client.js"), str(self.pg_port)],
            capture_output=True, text=True, timeout=60, env=clean_env(**extra),
        )  # fmt: skip


def plant_clients(root: Path, work: Path) -> None:
    write(root / "etc/os-release", 'ID=debian\nPRETTY_NAME="Debian GNU/Linux 12"\n')
    write(root / "etc/passwd", "root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000:App:/home/app:/bin/bash\n")
    # The account's root.crt holds DigiCert Global Root CA alone: what Azure told users to use until 2025.
    write(root / "home/app/.postgresql/root.crt", embedded_pem(G1))
    # A virtualenv with a real certifi of its own (requests and the rest come from this environment).
    venv = root / "srv/app/.venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    import certifi

    shutil.copytree(Path(certifi.__file__).parent, site / "certifi")
    (site / "this-environment.pth").write_text(sysconfig.get_path("purelib") + "\n")
    # psycopg's binary wheel carries its own OpenSSL: the venv holds that library, as an install would
    # (the client imports the very same files from this environment).
    import importlib.util

    spec = importlib.util.find_spec("psycopg_binary")  # found, not imported: psycopg must come first
    assert spec is not None and spec.origin, "psycopg[binary] is a test dependency (pyproject.toml)"
    libs = Path(spec.origin).parent.parent / "psycopg_binary.libs"
    (site / "psycopg_binary.libs").mkdir()
    for library in libs.glob("libcrypto*"):
        shutil.copy2(library, site / "psycopg_binary.libs" / library.name)
    # An application's own JRE, made from the machine's JDK: its cacerts is the JDK's own list.
    subprocess.run(
        ["jlink", "--add-modules", "java.base,java.sql,java.naming,java.security.jgss,java.management,jdk.crypto.ec",
         "--no-header-files", "--no-man-pages", "--output", str(root / "opt/app/jre")],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    jar = pgjdbc_jar()
    assert jar is not None
    subprocess.run(
        ["javac", "-cp", jar, "-d", str(work / "classes"), str(JAVA_CLIENT)], check=True, capture_output=True,
        timeout=300,
    )  # fmt: skip
    (work / "client.js").write_text(NODE_CLIENT)
    # A service that runs node.
    write(root / "etc/systemd/system/web.service", "[Service]\nExecStart=/usr/bin/node /srv/web/server.js\n")
    node = shutil.which("node")
    assert node is not None, "node is needed (the machine kind ships it)"
    (root / "usr/bin").mkdir(parents=True)
    try:
        os.link(os.path.realpath(node), root / "usr/bin/node")
    except OSError:
        shutil.copy2(os.path.realpath(node), root / "usr/bin/node")


def add_test_root(config: Path, root_ca: Issued, tree: Path) -> None:
    """The config scan wrote, as this tree's rotator would use it: paths under the tree (on a live
    host they are the host's own), and the test chain's root pinned into the profile."""
    text = config.read_text()
    text = text.replace('path = "/', f'path = "{tree}/')
    text = text.replace('profile = "azure-postgresql"', 'profile = "e2e"')
    (config.parent / "roots").mkdir()
    (config.parent / "roots/e2e-root.pem").write_bytes(root_ca.pem)
    roots = [*Catalog.builtin().profiles["azure-postgresql"], "test-e2e-root"]
    text += (
        f"\n[profiles]\ne2e = {json.dumps(roots)}\n"
        f'[[roots]]\nid = "test-e2e-root"\nname = "E2E Root"\nsha256 = "{root_ca.sha256}"\n'
        'file = "roots/e2e-root.pem"\n'
    )
    config.write_text(text)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[Issued, int, str]]:
    if problem := pg.available():
        pytest.fail(problem)
    for tool in ("psql", "jlink", "javac"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is needed (.ci/run installs it)")
    root_ca = make_root("E2E Root")
    intermediate = make_intermediate(root_ca, "E2E Intermediate")
    leaf = make_leaf(intermediate)
    with pg.postgres_server([leaf, intermediate], leaf) as server, https_server(tmp_path / "https", ca=root_ca) as web:
        yield root_ca, server.port, web.url("/")


def _stores(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{s['kind']} {s['path']} {s['readers'][0]['who']}": s for s in doc["stores"]}


def test_scan_names_what_breaks_and_its_fix_makes_every_real_client_connect(
    tmp_path: Path, servers: tuple[Issued, int, str], run: Any
) -> None:
    root_ca, pg_port, url = servers
    tree = tmp_path / "host"
    plant_clients(tree, tmp_path)
    host = Host(tree, tmp_path, pg_port, url)
    config = tmp_path / "rotator.toml"

    before = run("scan", "--sysroot", str(tree), "--json", "--write-config", str(config))
    assert before.code == 1, before.err
    stores = _stores(json.loads(before.out))
    root_crt = stores["pem /home/app/.postgresql/root.crt account app"]
    assert root_crt["azure_roots"] == [G1] and set(root_crt["verdicts"].values()) == {"fails"}
    certifi_store = next(s for s in stores.values() if s["kind"] == "certifi")
    jre = stores["java-cacerts /opt/app/jre/lib/security/cacerts application JRE /opt/app/jre"]
    node = next(s for s in stores.values() if s["kind"] == "node-builtin")
    wheel = next(s for s in stores.values() if s["kind"] == "wheel-openssl")
    assert wheel["readers"][0]["who"] == "psycopg_binary in virtualenv /srv/app/.venv"
    assert wheel["certificates"] == 0 and set(wheel["verdicts"].values()) == {"fails"}
    assert wheel["fix"] == {
        "setting": "SSL_CERT_FILE=/etc/rotator/azure-roots.pem",
        "where": "the environment of every program using psycopg_binary in virtualenv /srv/app/.venv",
    }
    # None of them holds Microsoft TLS RSA Root G2: the chain without the cross-sign fails each.
    for store in (certifi_store, jre, node):
        assert store["verdicts"]["postgresql-no-xsign"] == "fails", store
    assert node["fix"] == {
        "setting": "Environment=NODE_EXTRA_CA_CERTS=/etc/rotator/azure-roots.pem",
        "where": "/etc/systemd/system/web.service.d/azure-roots.conf ([Service] section)",
    }

    # Before: every real client that reads those stores fails against the server's new root.
    assert "certificate verify failed" in host.psql().stderr
    assert host.requests().returncode == 1
    refused = host.psycopg()
    assert refused.returncode == 1 and "certificate verify failed" in refused.stdout, refused.stdout + refused.stderr
    java = host.pgjdbc()
    assert java.returncode != 0 and "PKIX path building failed" in java.stdout + java.stderr
    assert host.node().stdout.strip() == "tls UNABLE_TO_GET_ISSUER_CERT_LOCALLY"

    # The fix: the config scan wrote (with the test root pinned in), synced; the Node setting added.
    add_test_root(config, root_ca, tree)
    synced = run("sync", "--offline", "--config", str(config))
    assert synced.code == 0, synced.out + synced.err
    drop_in = tree / node["fix"]["where"].split(" ")[0].lstrip("/")
    write(drop_in, "[Service]\n" + node["fix"]["setting"] + "\n")

    # After: each client connects through the very store it read before.
    psql = host.psql()
    assert psql.returncode == 0 and psql.stdout.strip() == "1", psql.stderr
    assert host.requests().stdout.strip() == "verified"
    cert_file = wheel["fix"]["setting"].removeprefix("SSL_CERT_FILE=")
    assert host.psycopg(SSL_CERT_FILE=str(tree / cert_file.lstrip("/"))).stdout.strip() == "connected"
    java = host.pgjdbc()
    assert "connected ssl=true" in java.stdout, java.stdout + java.stderr
    bundle = re.sub(r"^Environment=NODE_EXTRA_CA_CERTS=", "", node["fix"]["setting"])
    assert host.node(NODE_EXTRA_CA_CERTS=str(tree / bundle.lstrip("/"))).stdout.strip() == "authorized"

    # A second scan: every store the fix named survives every chain; only what no file can fix (node's
    # own roots for programs no unit names, the wheel's compiled directory) still needs its setting.
    after = run("scan", "--sysroot", str(tree), "--json", "--config", str(config))
    doc = json.loads(after.out)
    failing = [s for s in doc["stores"] if set(s["verdicts"].values()) != {"survives"}]
    assert sorted((s["kind"], s["readers"][0]["who"]) for s in failing) == [
        ("node-builtin", "programs run with /usr/bin/node"),
        ("wheel-openssl", "psycopg_binary in virtualenv /srv/app/.venv"),
    ], failing
    web = next(s for s in doc["stores"] if s["kind"] == "node-builtin" and s["readers"][0]["who"] == "unit web.service")
    assert set(web["verdicts"].values()) == {"survives"}
    assert web["notes"] == ["NODE_EXTRA_CA_CERTS=/etc/rotator/azure-roots.pem adds to its roots"]
