"""A real PostgreSQL 15 server with TLS on 127.0.0.1, for end-to-end tests.

PostgreSQL refuses to run as root: as root, the server runs as the unprivileged user of
tests/support/dbserver.py, in a tree of its own. Every wait is bounded and the server is always stopped.

Usage::

    with postgres_server(chain=[leaf, intermediate], key=leaf) as pg:
        pg.port, pg.install_chain([...], key), pg.reload(), pg.set_ssl(False)

or the ``postgres`` fixture factory (``tests.conftest`` re-exports nothing: import it where needed).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.dbserver import TIMEOUT, ServerTree, client_env
from tests.support.dbserver import ensure_service_user as ensure_service_user
from tests.support.dbserver import free_port as free_port
from tests.support.dbserver import wait_until as wait_until
from tests.support.pki import Issued

PG_BIN = Path(os.environ.get("ROTATOR_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def available() -> str | None:
    """None when a server can be started here, else why not."""
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not (PG_BIN / tool).is_file():
            return f"{PG_BIN / tool} not found (install postgresql-15; .ci/run does)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser not found (install util-linux)"
    return None


class PostgresServer(ServerTree):
    """One cluster: ``initdb``, TLS files, ``pg_hba`` with hostssl + trust for 127.0.0.1."""

    def __init__(self, *, ssl: bool = True) -> None:
        super().__init__("rotator-pg-")
        self.data = self.base / "data"
        self.sockets = self.base / "sockets"
        self.ssl = ssl
        self.running = False
        self.sockets.mkdir()
        self._own(self.base, self.sockets)
        self.base.chmod(0o700)

    # -- running commands as the server's user

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self._as_user(argv), capture_output=True, text=True, timeout=TIMEOUT + 15, cwd=self.base)
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}\n{self.log_text()}"
            )
        return proc

    # -- the cluster

    def init(self, chain: Sequence[Issued] | None = None, key: Issued | None = None) -> None:
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "--encoding=UTF8",
            "--locale=C",
        )
        if chain is not None and key is not None:
            self.install_chain(chain, key)
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.sockets}'",
            "ssl": "on" if self.ssl else "off",
            "ssl_cert_file": "'server.crt'",
            "ssl_key_file": "'server.key'",
            "ssl_min_protocol_version": "'TLSv1.2'",
            "fsync": "off",
            "logging_collector": "off",
        }
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n# rotator tests\n")
            conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n"
        )

    def install_chain(self, chain: Sequence[Issued], key: Issued) -> None:
        self.data.mkdir(exist_ok=True)
        self.write_tls(self.data, chain, key)

    def start(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(TIMEOUT))
        self.running = True

    def reload(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "reload", "-D", str(self.data))

    def set_ssl(self, on: bool) -> None:
        """Switch ``ssl`` and reload (ssl is reloadable since PostgreSQL 10)."""
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"ssl = {'on' if on else 'off'}\n")
        self.ssl = on
        self.reload()

    def stop(self) -> None:
        if self.running:
            self._run(
                str(PG_BIN / "pg_ctl"),
                "stop",
                "-D",
                str(self.data),
                "-m",
                "fast",
                "-w",
                "-t",
                str(TIMEOUT),
                check=False,
            )
            self.running = False


@contextlib.contextmanager
def postgres_server(
    chain: Sequence[Issued] | None = None, key: Issued | None = None, *, ssl: bool = True
) -> Iterator[PostgresServer]:
    reason = available()
    if reason:
        pytest.skip(reason)
    server = PostgresServer(ssl=ssl)
    try:
        server.init(chain, key)
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def postgres() -> Iterator[Callable[..., PostgresServer]]:
    """A factory: ``postgres(chain=[leaf, ca], key=leaf)`` starts a server, stopped after the test."""
    stack = contextlib.ExitStack()

    def start(chain: Sequence[Issued] | None = None, key: Issued | None = None, *, ssl: bool = True) -> PostgresServer:
        return stack.enter_context(postgres_server(chain, key, ssl=ssl))

    with stack:
        yield start


def psql(conninfo: str, sql: str = "select 1", timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run psql (as the current user: a client may be root) with a bounded connect."""
    env = client_env(PGCONNECT_TIMEOUT="10")
    return subprocess.run(
        ["psql", conninfo, "-X", "-A", "-t", "-c", sql], capture_output=True, text=True, timeout=timeout, env=env
    )
