"""A real MariaDB server (Debian's mariadb-server) with TLS on 127.0.0.1, for end-to-end tests.

Like tests/support/postgres.py: as root, the server runs as the unprivileged user of
tests/support/dbserver.py, its whole tree (datadir, socket, TLS files, log) in a directory of its
own. It listens on a free port on 127.0.0.1 only. Every wait is bounded and the server is always stopped.

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
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.dbserver import TIMEOUT, ServerTree, wait_until
from tests.support.dbserver import TRUST_VARIABLES as TRUST_VARIABLES
from tests.support.dbserver import client_env as client_env
from tests.support.pki import Issued

SERVER = os.environ.get("ROTATOR_TEST_MARIADBD", "/usr/sbin/mariadbd")


def available() -> str | None:
    """None when a server can be started here, else why not."""
    for tool in (SERVER, "mariadb-install-db", "mariadb"):
        if not (Path(tool).is_file() if os.path.isabs(tool) else shutil.which(tool)):
            return f"{tool} not found (install mariadb-server and mariadb-client; .ci/run does)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser not found (install util-linux)"
    return None


class MariadbServer(ServerTree):
    """One datadir made by ``mariadb-install-db``; root@localhost without a password (TCP, TLS)."""

    def __init__(self, *, ssl: bool = True) -> None:
        super().__init__("rotator-mariadb-")
        self.data = self.base / "data"
        self.tls = self.base / "tls"
        self.socket = self.base / "mariadb.sock"
        self.ssl = ssl
        self.process: subprocess.Popen[bytes] | None = None
        self.tls.mkdir()
        self._own(self.base, self.tls)
        self.base.chmod(0o700)

    def install_chain(self, chain: Sequence[Issued], key: Issued) -> None:
        self.write_tls(self.tls, chain, key)

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

    def serve(self, chain: Sequence[Issued], key: Issued) -> None:
        """Rotate the running server to ``chain`` and wait until new connections get it."""
        from rotator.probe.tlsfetch import Endpoint, fetch_chain

        self.install_chain(chain, key)
        self.reload_tls()

        def served() -> bool:
            got = fetch_chain(Endpoint("127.0.0.1", self.port, starttls="mysql", servername="localhost"), timeout=5)
            return [c.sha256 for c in got.chain] == [c.sha256 for c in chain]

        wait_until(served, 15, "the new chain being served")

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
