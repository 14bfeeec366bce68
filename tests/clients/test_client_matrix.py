"""The client matrix: the real clients Azure's users run, each reading the store it reads in real life, against
a real PostgreSQL 15, a real MariaDB and HTTPS servers on 127.0.0.1 serving Azure-style test chains.

Chains (tests/support/client_matrix.py): the old one (G1 stand-in), the new one with G2's cross-sign of the
Microsoft TLS RSA Root G2 stand-in, the new one without that cross-sign, and a Microsoft RSA 2017-style one.

Stores, all files rotator writes under a temp dir (never the machine's): application stores (a bundle named in
the client's settings, ``~/.postgresql/root.crt``, a JKS and a PKCS#12 truststore) start with the old root
only, as Azure's old guidance left them; the stores a client reads as "the system" (an ``SSL_CERT_FILE`` bundle,
an ``SSL_CERT_DIR`` hash directory, a JRE's own cacerts) start with Azure's real roots but no test root. Then
``rotator sync --offline`` adds the test roots (custom pinned roots) with Azure's embedded ones to every store.

For every row, chain and phase (before and after the sync), the client's outcome (connects, or refuses with a
certificate verify error as that client reports one; anything else fails the test) must equal ``rotator
probe``'s verdict for the store the client reads, and both must equal the expected table: a row that still
connected to the new chains before the sync, or did not after it, measures nothing and fails.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from rotator.roots.catalog import Catalog
from tests.support import mariadb as my
from tests.support import postgres as pg
from tests.support.client_matrix import (
    CHAINS,
    TRUST_VARIABLES,
    Outcome,
    Rotator,
    client_env,
    https_chain_server,
    parse_outcomes,
)
from tests.support.paths import pgjdbc_jar
from tests.support.pki import Hierarchy, make_hierarchy

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node"
PHASES = ("before", "after")
STOREPASS = "changeit"

# The stores, by key: the target spec is built under the work dir.
APP_STORES = ("app-bundle", "root.crt", "jks", "pkcs12")
HOST_STORES = ("system-bundle", "system-dir", "jre-cacerts")
SURVIVORS = {"old", "new-with-cross-sign", "rsa-2017"}  # without the cross-sign, Microsoft TLS RSA Root G2 is needed
EXPECTED = {  # phase: store group: the chains a client of such a store connects to
    "before": {"app": {"old"}, "host": set()},
    "after": {"app": SURVIVORS, "host": SURVIVORS},
}


@dataclass
class Work:
    """The work dir: the stores, the clients built once, and the servers' ports."""

    root: Path
    specs: dict[str, str]
    home: Path  # HOME of the clients: its .postgresql/root.crt is a store
    empty_dir: Path  # SSL_CERT_DIR where a row must not read a directory
    empty_file: Path  # SSL_CERT_FILE where a row must not read a file
    jre: Path
    classes: Path
    go_client: Path
    pg_ports: dict[str, int]
    https_ports: dict[str, int]

    def url(self, chain: str) -> str:
        return f"https://localhost:{self.https_ports[chain]}/"

    def path(self, store: str) -> str:
        return self.specs[store].split(":", 1)[1]


Runner = Callable[[Work, dict[str, int]], dict[str, Outcome]]


@dataclass(frozen=True)
class Row:
    name: str
    protocol: str  # postgres, mysql, https
    store: str
    run: Runner

    @property
    def group(self) -> str:
        return "app" if self.store in APP_STORES else "host"


def _run(argv: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=env["HOME"])


def _script(
    argv: list[str], env: dict[str, str], endpoints: dict[str, int], timeout: float = 120
) -> dict[str, Outcome]:
    args = [f"{chain}={port}" for chain, port in endpoints.items()]
    proc = _run([*argv, *args], env, timeout)
    return parse_outcomes(proc.stdout, proc.stderr, list(endpoints))


# -- PostgreSQL rows


def _psql(work: Work, endpoints: dict[str, int], rootcert: str | None) -> dict[str, Outcome]:
    found = {}
    for chain, port in endpoints.items():
        conninfo = f"host=localhost hostaddr=127.0.0.1 port={port} user=postgres dbname=postgres sslmode=verify-full"
        if rootcert is not None:
            conninfo += f" sslrootcert={rootcert}"
        sql = "select version from pg_stat_ssl where pid = pg_backend_pid()"
        proc = _run(["psql", conninfo + " connect_timeout=10", "-X", "-A", "-t", "-c", sql], client_env(work.home))
        if proc.returncode == 0:
            found[chain] = Outcome("connects", proc.stdout.strip())
        else:
            verify = "certificate verify failed" in proc.stderr
            found[chain] = Outcome("refuses" if verify else "error", proc.stderr.strip())
    return found


def psql_file(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    return _psql(work, endpoints, work.path("app-bundle"))


def psql_root_crt(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    return _psql(work, endpoints, None)  # libpq reads $HOME/.postgresql/root.crt


def psycopg_file(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    argv = [sys.executable, str(HERE / "py/psycopg_client.py"), work.path("app-bundle")]
    return _script(argv, client_env(work.home, PSYCOPG_IMPL="binary"), endpoints)  # the wheel's libpq, or fail


def psycopg_system(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    # sslrootcert=system: the wheel's OpenSSL default store, redirected to the bundle (and no directory).
    env = client_env(
        work.home, PSYCOPG_IMPL="binary", SSL_CERT_FILE=work.path("system-bundle"), SSL_CERT_DIR=str(work.empty_dir)
    )
    return _script([sys.executable, str(HERE / "py/psycopg_client.py"), "system"], env, endpoints)


def asyncpg_cafile(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    argv = [sys.executable, str(HERE / "py/asyncpg_client.py"), work.path("app-bundle")]
    return _script(argv, client_env(work.home), endpoints)


def node_pg_ca(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    return _script(["node", str(NODE_DIR / "pg_client.js"), work.path("app-bundle")], client_env(work.home), endpoints)


def node_pg_extra(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    env = client_env(work.home, NODE_EXTRA_CA_CERTS=work.path("system-bundle"))
    return _script(["node", str(NODE_DIR / "pg_client.js"), "-"], env, endpoints)


def _pgjdbc(work: Work, endpoints: dict[str, int], java: str, options: list[str], factory: str) -> dict[str, Outcome]:
    jar = pgjdbc_jar()
    assert jar is not None, "PostgreSQL JDBC driver not found (.ci/run installs libpostgresql-jdbc-java)"
    argv = [java, "-Xshare:auto", "-XX:TieredStopAtLevel=1", *options, "-cp", f"{work.classes}:{jar}", "PgjdbcMatrix"]
    return _script([*argv, factory], client_env(work.home), endpoints)


def pgjdbc_root_crt(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    # pgjdbc's own factory reads ${user.home}/.postgresql/root.crt: user.home is the passwd home, not $HOME.
    return _pgjdbc(work, endpoints, "java", [f"-Duser.home={work.home}"], "default")


def pgjdbc_cacerts(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    # DefaultJavaSSLFactory with no truststore property: the JRE's own lib/security/cacerts.
    return _pgjdbc(work, endpoints, str(work.jre / "bin/java"), [], "java")


def _truststore(work: Work, store: str, kind: str) -> list[str]:
    return [
        f"-Djavax.net.ssl.trustStore={work.path(store)}",
        f"-Djavax.net.ssl.trustStoreType={kind}",
        f"-Djavax.net.ssl.trustStorePassword={STOREPASS}",
    ]


def pgjdbc_jks(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    return _pgjdbc(work, endpoints, "java", _truststore(work, "jks", "JKS"), "java")


def pgjdbc_pkcs12(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    return _pgjdbc(work, endpoints, "java", _truststore(work, "pkcs12", "PKCS12"), "java")


def go_cert_file(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    # Go reads SSL_CERT_FILE and then SSL_CERT_DIR (else /etc/ssl/certs): an empty directory keeps the machine's out.
    env = client_env(work.home, SSL_CERT_FILE=work.path("system-bundle"), SSL_CERT_DIR=str(work.empty_dir))
    return _script([str(work.go_client)], env, endpoints)


def go_cert_dir(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    env = client_env(work.home, SSL_CERT_FILE=str(work.empty_file), SSL_CERT_DIR=work.path("system-dir"))
    return _script([str(work.go_client)], env, endpoints)


# -- MySQL rows


def mariadb_cli(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    found = {}
    for chain, port in endpoints.items():
        proc = my.mariadb_client(port, Path(work.path("app-bundle")))
        if proc.returncode == 0:
            found[chain] = Outcome("connects", proc.stdout.strip().partition("\t")[2])
        else:
            verify = "TLS/SSL error" in proc.stderr and "certificate" in proc.stderr.lower()
            found[chain] = Outcome("refuses" if verify else "error", proc.stderr.strip())
    return found


def pymysql_ca(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    argv = [sys.executable, str(HERE / "py/pymysql_client.py"), work.path("app-bundle")]
    return _script(argv, client_env(work.home), endpoints)


def mysql2_ca(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    argv = ["node", str(NODE_DIR / "mysql2_client.js"), work.path("app-bundle")]
    return _script(argv, client_env(work.home), endpoints)


def mysql2_extra(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    env = client_env(work.home, NODE_EXTRA_CA_CERTS=work.path("system-bundle"))
    return _script(["node", str(NODE_DIR / "mysql2_client.js"), "-"], env, endpoints)


# -- HTTPS rows


def requests_bundle(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    env = client_env(work.home, REQUESTS_CA_BUNDLE=work.path("system-bundle"))
    urls = [f"{chain}={work.url(chain)}" for chain in endpoints]
    proc = _run([sys.executable, str(HERE / "py/requests_client.py"), *urls], env)
    return parse_outcomes(proc.stdout, proc.stderr, list(endpoints))


def _curl(work: Work, endpoints: dict[str, int], options: list[str], env: dict[str, str]) -> dict[str, Outcome]:
    found = {}
    for chain in endpoints:
        proc = _run(["curl", "-sSv", "--max-time", "10", *options, work.url(chain)], env)
        # What curl says it read (verbose): the CA file and Debian's compiled-in CApath.
        read = "; ".join(
            line.strip("* ").strip() for line in proc.stderr.splitlines() if "CAfile:" in line or "CApath:" in line
        )
        if proc.returncode == 0 and proc.stdout == "ok\n":
            found[chain] = Outcome("connects", f"HTTP 200 ({read})")
        else:
            tail = [line for line in proc.stderr.splitlines() if line.startswith("curl: (")]
            found[chain] = Outcome(
                "refuses" if proc.returncode == 60 else "error", f"exit {proc.returncode}: {tail} ({read})"
            )
    return found


def curl_cacert(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    # Debian's curl also reads its compiled-in CApath (/etc/ssl/certs) beside --cacert: an empty one instead.
    options = ["--cacert", work.path("app-bundle"), "--capath", str(work.empty_dir)]
    return _curl(work, endpoints, options, client_env(work.home))


def curl_env_bundle(work: Work, endpoints: dict[str, int]) -> dict[str, Outcome]:
    # CURL_CA_BUNDLE is read only when neither --cacert nor --capath is given, so the compiled-in CApath
    # (/etc/ssl/certs) is read too: it holds no test root, and curl -v shows it.
    return _curl(work, endpoints, [], client_env(work.home, CURL_CA_BUNDLE=work.path("system-bundle")))


ROWS = [
    Row("psql sslrootcert=FILE", "postgres", "app-bundle", psql_file),
    Row("psql ~/.postgresql/root.crt", "postgres", "root.crt", psql_root_crt),
    Row("psycopg sslrootcert=FILE", "postgres", "app-bundle", psycopg_file),
    Row("psycopg sslrootcert=system + SSL_CERT_FILE", "postgres", "system-bundle", psycopg_system),
    Row("asyncpg ssl context from a cafile", "postgres", "app-bundle", asyncpg_cafile),
    Row("node-postgres ssl.ca", "postgres", "app-bundle", node_pg_ca),
    Row("node-postgres NODE_EXTRA_CA_CERTS", "postgres", "system-bundle", node_pg_extra),
    Row("pgjdbc default factory, root.crt", "postgres", "root.crt", pgjdbc_root_crt),
    Row("pgjdbc DefaultJavaSSLFactory, the JRE's cacerts", "postgres", "jre-cacerts", pgjdbc_cacerts),
    Row("pgjdbc DefaultJavaSSLFactory, trustStore JKS", "postgres", "jks", pgjdbc_jks),
    Row("pgjdbc DefaultJavaSSLFactory, trustStore PKCS12", "postgres", "pkcs12", pgjdbc_pkcs12),
    Row("Go crypto/tls, system roots (SSL_CERT_FILE)", "postgres", "system-bundle", go_cert_file),
    Row("Go crypto/tls, SSL_CERT_DIR", "postgres", "system-dir", go_cert_dir),
    Row("mariadb --ssl-ca", "mysql", "app-bundle", mariadb_cli),
    Row("PyMySQL ssl_ca", "mysql", "app-bundle", pymysql_ca),
    Row("mysql2 ssl.ca", "mysql", "app-bundle", mysql2_ca),
    Row("mysql2 NODE_EXTRA_CA_CERTS", "mysql", "system-bundle", mysql2_extra),
    Row("requests REQUESTS_CA_BUNDLE", "https", "system-bundle", requests_bundle),
    Row("curl --cacert", "https", "app-bundle", curl_cacert),
    Row("curl CURL_CA_BUNDLE", "https", "system-bundle", curl_env_bundle),
]


@dataclass(frozen=True)
class Cell:
    client: Outcome
    probe: bool  # probe's verdict for the row's store: trusted


Matrix = dict[str, dict[tuple[str, str], Cell]]  # row name: (phase, chain): cell


def check_tools() -> None:
    for tool in ("psql", "java", "javac", "jlink", "node", "go", "curl", "mariadb"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is needed by the client matrix (.ci/run installs it)")
    for module in ("psycopg", "psycopg_binary", "asyncpg", "pymysql"):
        if importlib.util.find_spec(module) is None:
            pytest.fail(f"the Python module {module} is needed (pip install -e '.[test]'; .ci/run does)")
    for package in ("pg", "mysql2"):
        if not (NODE_DIR / "node_modules" / package / "package.json").is_file():
            pytest.fail(f"the npm package {package} is needed: npm ci --prefix {NODE_DIR} (.ci/run does)")


def write_config(directory: Path, pki: Hierarchy) -> Path:
    """The test roots as custom pinned roots; ``old-only`` holds G1, ``azure-only`` Azure's real database
    roots (no test root), ``after`` both."""
    azure = list(Catalog.builtin().profiles["azure-postgresql"])
    tests = ["test-g1", "test-g2", "test-rsa2017"]
    lines = [
        "[profiles]",
        'old-only = ["test-g1"]',
        f"azure-only = {json.dumps(azure)}",
        f"after = {json.dumps(azure + tests)}",
    ]
    for rid, issued in zip(tests, (pki.g1, pki.g2, pki.rsa2017), strict=True):
        issued.write(directory / "roots", rid)
        lines += ["[[roots]]", f'id = "{rid}"', f'name = "{rid} stand-in"']
        lines += [f'sha256 = "{issued.sha256}"', f'file = "roots/{rid}.pem"']
    config = directory / "rotator.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def build_clients(root: Path) -> tuple[Path, Path, Path]:
    """The JRE (jlink: its own cacerts, a copy of the JDK's), the Java client's classes, the Go client."""
    jre = root / "jre"
    modules = "java.base,java.sql,java.naming,java.security.jgss,java.management,jdk.crypto.ec"
    subprocess.run(
        ["jlink", "--add-modules", modules, "--no-header-files", "--no-man-pages", "--output", str(jre)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    jar = pgjdbc_jar()
    assert jar is not None, "PostgreSQL JDBC driver not found (.ci/run installs libpostgresql-jdbc-java)"
    classes = root / "classes"
    subprocess.run(
        ["javac", "-cp", jar, "-d", str(classes), str(HERE / "java/PgjdbcMatrix.java")],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    go_client = root / "go-client"
    go_env = client_env(
        root,
        GOPATH=str(root / "gopath"),
        GOCACHE=str(root / "gocache"),
        GO111MODULE="off",
        GOFLAGS="",
        GOPROXY="off",
        GOTOOLCHAIN="local",
    )
    built = subprocess.run(
        ["go", "build", "-o", str(go_client), "main.go"], cwd=HERE / "go", env=go_env, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    return jre, classes, go_client


class MatrixRun:
    def __init__(self, work: Work, rotator: Rotator, config: Path, mysql: my.MariadbServer, pki: Hierarchy) -> None:
        self.work, self.rotator, self.config, self.mysql, self.pki = work, rotator, config, mysql, pki
        self.matrix: Matrix = {row.name: {} for row in ROWS}
        self.seconds: dict[str, float] = {}

    def sync(self, profile: str, stores: tuple[str, ...]) -> None:
        targets = [arg for store in stores for arg in ("--target", self.work.specs[store])]
        synced = self.rotator(
            "sync", "--offline", "--config", str(self.config), "--profile", profile, *targets,
            "--storepass-env", "MATRIX_STOREPASS",
        )  # fmt: skip
        assert synced.code == 0, synced.out + synced.err

    def probe(self, port: int, starttls: str | None) -> dict[str, bool]:
        """probe's verdict for every store, keyed by store."""
        args = ["probe", f"127.0.0.1:{port}", "--servername", "localhost", "--json", "--timeout", "10"]
        if starttls:
            args += ["--starttls", starttls]
        for spec in self.work.specs.values():
            args += ["--target", spec]
        probed = self.rotator(*args, "--config", str(self.config), "--storepass-env", "MATRIX_STOREPASS")
        assert probed.code in (0, 1), probed.out + probed.err
        doc = json.loads(probed.out)
        by_spec = {t["target"]: bool(t["trusted"]) for t in doc["targets"]}
        verdicts = {store: by_spec[spec] for store, spec in self.work.specs.items()}
        assert probed.code == (0 if all(verdicts.values()) else 1), probed.out
        return verdicts

    def record(
        self, phase: str, rows: list[Row], verdicts: dict[str, dict[str, bool]], endpoints: dict[str, int]
    ) -> None:
        """Run ``rows`` against ``endpoints`` (two at a time: clients are separate processes)."""

        def one(row: Row) -> tuple[Row, dict[str, Outcome], float]:
            start = time.monotonic()
            outcomes = row.run(self.work, endpoints)
            return row, outcomes, time.monotonic() - start

        with ThreadPoolExecutor(max_workers=2) as pool:
            for row, outcomes, seconds in pool.map(one, rows):
                self.seconds[row.name] = self.seconds.get(row.name, 0.0) + seconds
                for chain in endpoints:
                    self.matrix[row.name][phase, chain] = Cell(outcomes[chain], verdicts[chain][row.store])

    def phase(self, phase: str) -> None:
        if phase == "before":
            self.sync("old-only", APP_STORES)
            self.sync("azure-only", HOST_STORES)
        else:
            self.sync("after", APP_STORES + HOST_STORES)
        pg_rows = [r for r in ROWS if r.protocol == "postgres"]
        pg_verdicts = {chain: self.probe(port, "postgres") for chain, port in self.work.pg_ports.items()}
        self.record(phase, pg_rows, pg_verdicts, self.work.pg_ports)
        https_rows = [r for r in ROWS if r.protocol == "https"]
        https_verdicts = {chain: self.probe(port, None) for chain, port in self.work.https_ports.items()}
        self.record(phase, https_rows, https_verdicts, self.work.https_ports)
        mysql_rows = [r for r in ROWS if r.protocol == "mysql"]
        for chain in CHAINS:
            self.mysql.serve(*self.pki.chains[chain])
            self.record(phase, mysql_rows, {chain: self.probe(self.mysql.port, "mysql")}, {chain: self.mysql.port})


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MatrixRun]:
    check_tools()
    started = time.monotonic()
    root = tmp_path_factory.mktemp("client-matrix")
    pki = make_hierarchy()
    home, empty_dir, empty_file = root / "home", root / "empty-dir", root / "empty-file"
    for directory in (home / ".postgresql", empty_dir, root / "app", root / "java", root / "system"):
        directory.mkdir(parents=True)
    empty_file.write_bytes(b"")
    jre, classes, go_client = build_clients(root)
    specs = {
        "app-bundle": f"pem:{root / 'app/roots.pem'}",
        "root.crt": f"pem:{home / '.postgresql/root.crt'}",
        "jks": f"jks:{root / 'java/truststore.jks'}",
        "pkcs12": f"pkcs12:{root / 'java/truststore.p12'}",
        "system-bundle": f"pem:{root / 'system/ca-bundle.pem'}",
        "system-dir": f"pem-dir:{root / 'system/certs'}",
        "jre-cacerts": f"java-cacerts:{jre / 'lib/security/cacerts'}",
    }
    config = write_config(root, pki)
    with pytest.MonkeyPatch.context() as mp, ExitStack() as stack:
        # rotator in this process: nothing of the machine's (config, cache, state, locks, trust variables).
        for var in (*TRUST_VARIABLES, "ROTATOR_CONFIG", "CREDENTIALS_DIRECTORY"):
            mp.delenv(var, raising=False)
        mp.setenv("HOME", str(root / "rotator-home"))
        mp.setenv("XDG_CACHE_HOME", str(root / "rotator-home/cache"))
        mp.setenv("XDG_STATE_HOME", str(root / "rotator-home/state"))
        mp.setenv("ROTATOR_LOCK_DIR", str(root / "locks"))
        mp.setenv("MATRIX_STOREPASS", STOREPASS)
        pg_ports = {}
        for chain in CHAINS:
            served, key = pki.chains[chain]
            pg_ports[chain] = stack.enter_context(pg.postgres_server(served, key)).port
        https_ports = {}
        for chain in CHAINS:
            served, key = pki.chains[chain]
            https_ports[chain] = stack.enter_context(https_chain_server(root / "https" / chain, served, key)).port
        mysql = stack.enter_context(my.mariadb_server(*pki.chains["old"]))
        work = Work(root, specs, home, empty_dir, empty_file, jre, classes, go_client, pg_ports, https_ports)
        run = MatrixRun(work, Rotator(root / "cache", root / "state"), config, mysql, pki)
        run.seconds["set-up"] = time.monotonic() - started
        for phase in PHASES:
            run.phase(phase)
        run.seconds["total"] = time.monotonic() - started
        # Every cell with what the client said, for a reader of a failed run.
        cells = {
            row: {f"{phase} {chain}": [c.client.result, c.probe, c.client.detail] for (phase, chain), c in by.items()}
            for row, by in run.matrix.items()
        }
        (root / "matrix.json").write_text(json.dumps(cells, indent=1))
        yield run


def table(run: MatrixRun, rows: list[Row]) -> str:
    """One line per row: for each phase, each chain's client outcome and probe verdict."""
    short = {"connects": "ok", "refuses": "refused", "error": "ERROR"}
    lines = []
    for row in rows:
        cells = []
        for phase in PHASES:
            for chain in CHAINS:
                cell = run.matrix[row.name][phase, chain]
                agree = "" if cell.client.connected == cell.probe else f" (probe: {'trusted' if cell.probe else 'not'})"
                cells.append(f"{phase} {chain}: {short[cell.client.result]}{agree}")
        lines.append(f"{row.name} [{row.store}]: " + "; ".join(cells))
    return "\n".join(lines)


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_client_outcome_equals_probe_verdict_before_and_after_the_sync(matrix: MatrixRun, row: Row) -> None:
    problems = []
    for phase in PHASES:
        for chain in CHAINS:
            cell = matrix.matrix[row.name][phase, chain]
            where = f"{phase} the sync, chain {chain}"
            if cell.client.result == "error":
                problems.append(f"{where}: neither connected nor refused the certificate: {cell.client.detail}")
                continue
            if cell.client.connected != cell.probe:
                problems.append(f"{where}: client {cell.client.result}, probe says trusted={cell.probe}")
            expected = chain in EXPECTED[phase][row.group]
            if cell.client.connected != expected:
                problems.append(
                    f"{where}: client {cell.client.result}, expected {'connects' if expected else 'refuses'}"
                )
            if cell.client.connected and row.protocol != "https":
                assert cell.client.detail in ("TLSv1.2", "TLSv1.3"), (where, cell.client.detail)
    assert not problems, "\n".join([*problems, table(matrix, [row])])


def test_every_row_fails_before_and_connects_after_on_the_new_chains(matrix: MatrixRun) -> None:
    """The assertion that can fail: before the sync no row reaches the new chains; after it every row does."""
    for row in ROWS:
        for chain in ("new-with-cross-sign", "rsa-2017"):
            assert matrix.matrix[row.name]["before", chain].client.result == "refuses", (row.name, chain)
            assert matrix.matrix[row.name]["after", chain].client.result == "connects", (row.name, chain)
        # Without the cross-sign the chain needs Microsoft TLS RSA Root G2 itself, in neither store.
        assert matrix.matrix[row.name]["after", "new-without-cross-sign"].client.result == "refuses", row.name
    print("\n" + table(matrix, ROWS))
    print(f"every cell: {matrix.work.root / 'matrix.json'}")
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in matrix.seconds.items()))
