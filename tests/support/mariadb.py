"""A real MariaDB server (Debian's mariadb-server) with TLS on 127.0.0.1, for end-to-end tests.

Like tests/support/postgres.py: when the tests run as root, the server runs as the unprivileged
``rotatortest`` system user through ``runuser``, its whole tree (datadir, socket, TLS files, log)
in a fresh directory under the system temp dir that this user owns. It listens on a free port on
127.0.0.1 only. Every wait is bounded and the server is always stopped.

Usage::

    with mariadb_server(chain=[leaf, intermediate], key=leaf) as db:
        db.port, db.install_chain([...], key), db.reload_tls()

``ssl=False`` starts it with TLS disabled (its greeting then lacks CLIENT_SSL).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.pki import Issued
from tests.support.postgres import ensure_service_user, free_port, wait_until

SERVER = os.environ.get("ROTATOR_TEST_MARIADBD", "/usr/sbin/mariadbd")
TIMEOUT = 30  # seconds, for every wait and every subprocess

# Trust settings a machine may set for every process: a client that inherits them measures them,
# not the store under test.
TRUST_VARIABLES = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "AWS_CA_BUNDLE",
    "NIX_SSL_CERT_FILE",
    "PGSSLROOTCERT",
    "MYSQL_HOME",
    "MARIADB_HOME",
)


def client_env() -> dict[str, str]:
    """The environment for a client process: this one's, without any trust variable."""
    return {k: v for k, v in os.environ.items() if k not in TRUST_VARIABLES}


def available() -> str | None:
    """None when a server can be started here, else why not."""
    for tool in (SERVER, "mariadb-install-db", "mariadb"):
        if not (Path(tool).is_file() if os.path.isabs(tool) else shutil.which(tool)):
            return f"{tool} not found (install mariadb-server and mariadb-client; .ci/run does)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser not found (install util-linux)"
    return None


class MariadbServer:
    """One datadir made by ``mariadb-install-db``; root@localhost without a password (TCP, TLS)."""

    def __init__(self, *, ssl: bool = True) -> None:
        self.user = ensure_service_user()
        self.base = Path(tempfile.mkdtemp(prefix="rotator-mariadb-"))
        self.data = self.base / "data"
        self.tls = self.base / "tls"
        self.socket = self.base / "mariadb.sock"
        self.log = self.base / "server.log"
        self.port = free_port()
        self.ssl = ssl
        self.process: subprocess.Popen[bytes] | None = None
        self.tls.mkdir()
        self._own(self.base, self.tls)
        self.base.chmod(0o700)

    def _as_user(self, argv: Sequence[str]) -> list[str]:
        if self.user is None:
            return list(argv)
        return ["runuser", "-u", self.user, "--", *argv]

    def _own(self, *paths: Path) -> None:
        if self.user is None:
            return
        for path in paths:
            shutil.chown(path, self.user, self.user)

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def install_chain(self, chain: Sequence[Issued], key: Issued) -> None:
        """Server certificate plus intermediates in ``server.crt``, the key 0600 in ``server.key``;
        written to temp names and renamed, so a TLS reload never reads half a file."""
        cert_tmp, key_tmp = self.tls / "server.crt.new", self.tls / "server.key.new"
        cert_tmp.write_bytes(b"".join(c.pem for c in chain))
        key_tmp.write_bytes(key.key_pem())
        key_tmp.chmod(0o600)
        cert_tmp.chmod(0o644)
        self._own(cert_tmp, key_tmp)
        key_tmp.replace(self.tls / "server.key")
        cert_tmp.replace(self.tls / "server.crt")

    def init(self) -> None:
        self.data.mkdir()
        self._own(self.data)
        argv = [
            "mariadb-install-db",
            "--no-defaults",
            f"--datadir={self.data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
        ]
        proc = subprocess.run(self._as_user(argv), capture_output=True, text=True, timeout=TIMEOUT * 4, cwd=self.base)
        if proc.returncode != 0:
            raise RuntimeError(f"mariadb-install-db exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")

    def start(self) -> None:
        argv = [
            SERVER,
            "--no-defaults",
            f"--datadir={self.data}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--log-error={self.log}",
            f"--pid-file={self.base / 'mariadbd.pid'}",
            "--skip-name-resolve",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=16M",
            "--performance-schema=OFF",
            "--max-connect-errors=100000",
        ]
        if self.ssl:
            argv += [
                f"--ssl-cert={self.tls / 'server.crt'}",
                f"--ssl-key={self.tls / 'server.key'}",
                "--tls-version=TLSv1.2,TLSv1.3",
            ]
        else:
            argv.append("--skip-ssl")
        self.process = subprocess.Popen(
            self._as_user(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.base
        )

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited {self.process.returncode}:\n{self.log_text()}")
            return self.socket.exists() and self.sql("select 1").returncode == 0

        try:
            wait_until(ready, TIMEOUT, "mariadbd accepting connections")
        except TimeoutError as exc:
            raise RuntimeError(f"{exc}:\n{self.log_text()}") from exc

    def sql(self, statement: str) -> subprocess.CompletedProcess[str]:
        """One statement as root through the server's socket (no TLS on a socket)."""
        return subprocess.run(
            ["mariadb", "--no-defaults", f"--socket={self.socket}", "-u", "root", "-N", "-B", "-e", statement],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=client_env(),
        )

    def reload_tls(self) -> None:
        """Read the certificate files again (``FLUSH SSL``, MariaDB 10.4+): the running server
        serves the new chain to new connections."""
        proc = self.sql("FLUSH SSL")
        if proc.returncode != 0:
            raise RuntimeError(f"FLUSH SSL failed: {proc.stderr.strip()}\n{self.log_text()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        # runuser passes the signal on to mariadbd, which shuts down cleanly on SIGTERM.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=TIMEOUT)

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


@contextlib.contextmanager
def mariadb_server(
    chain: Sequence[Issued] | None = None, key: Issued | None = None, *, ssl: bool = True
) -> Iterator[MariadbServer]:
    reason = available()
    if reason:
        pytest.fail(reason)
    server = MariadbServer(ssl=ssl)
    try:
        if chain is not None and key is not None:
            server.install_chain(chain, key)
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()


def mariadb_client(port: int, ca_file: Path, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """The real ``mariadb`` client over TCP to ``localhost``, verifying the chain and the name against
    ``ca_file`` only (``--no-defaults``: no option file adds another CA), as root@localhost."""
    return subprocess.run(
        [
            "mariadb",
            "--no-defaults",
            "--protocol=TCP",
            "-h",
            "localhost",
            "-P",
            str(port),
            "-u",
            "root",
            "--connect-timeout=10",
            "--ssl",
            "--ssl-verify-server-cert",
            f"--ssl-ca={ca_file}",
            "-N",
            "-B",
            "-e",
            "show status like 'Ssl_version'",
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=client_env(),
    )
