"""What the real database servers of the tests share: the unprivileged user they run as, a tree of
their own, a free port on 127.0.0.1, bounded waits, and the clean environment for their clients.

PostgreSQL refuses to run as root, and MariaDB is started the same way: when the tests run as root
(CI does), the server runs as the ``rotatortest`` system user (created once with ``useradd
--system``) through ``runuser``, in a fresh directory under the system temp dir that this user owns,
so no pytest directory has to be opened up.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.support.pki import Issued

SERVICE_USER = "rotatortest"
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


def client_env(**extra: str) -> dict[str, str]:
    """The environment for a client process: this one's, without any trust variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in TRUST_VARIABLES}
    env.update(extra)
    return env


def ensure_service_user() -> str | None:
    """The unprivileged user a server runs as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            check=True,
            capture_output=True,
            timeout=TIMEOUT,
        )
    return SERVICE_USER


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def wait_until(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not reached within {timeout:g}s")


class ServerTree:
    """A server's own directory (0700, owned by the service user), its port and its log."""

    def __init__(self, prefix: str) -> None:
        self.user = ensure_service_user()
        self.base = Path(tempfile.mkdtemp(prefix=prefix))
        self.log = self.base / "server.log"
        self.port = free_port()

    def _as_user(self, argv: Sequence[str]) -> list[str]:
        if self.user is None:
            return list(argv)
        return ["runuser", "-u", self.user, "--", *argv]

    def _own(self, *paths: Path) -> None:
        if self.user is None:
            return
        entry = pwd.getpwnam(self.user)
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def write_tls(self, directory: Path, chain: Sequence[Issued], key: Issued) -> None:
        """Server certificate plus intermediates in ``server.crt``, the key 0600 in ``server.key``;
        written to temp names and renamed, so a reload never reads half a file."""
        cert_tmp, key_tmp = directory / "server.crt.new", directory / "server.key.new"
        cert_tmp.write_bytes(b"".join(c.pem for c in chain))
        key_tmp.write_bytes(key.key_pem())
        key_tmp.chmod(0o600)
        cert_tmp.chmod(0o644)
        self._own(cert_tmp, key_tmp)
        key_tmp.replace(directory / "server.key")
        cert_tmp.replace(directory / "server.crt")

    def stop(self) -> None:
        raise NotImplementedError

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
