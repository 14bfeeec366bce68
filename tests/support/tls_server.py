"""Small servers on 127.0.0.1 for probe tests: direct TLS, a PostgreSQL SSLRequest responder, silence.

Each accepts connections on a thread until stopped; every one is bounded by timeouts so a
broken test cannot hang the suite.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

from tests.support.pki import Issued


class _Server:
    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.errors: list[str] = []

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            try:
                self.handle(conn)
            except (OSError, ssl.SSLError) as exc:
                self.errors.append(str(exc))
            finally:
                conn.close()

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()


class TlsServer(_Server):
    """Serves ``chain`` (server certificate first) with ``key``; ``starttls`` answers an SSLRequest first."""

    def __init__(self, directory: Path, chain: list[Issued], key: Issued, *, starttls: bool = False) -> None:
        super().__init__()
        directory.mkdir(parents=True, exist_ok=True)
        cert_file, key_file = directory / "server-chain.pem", directory / "server.key"
        cert_file.write_bytes(b"".join(c.pem for c in chain))
        key_file.write_bytes(key.key_pem())
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert_file, key_file)
        self.starttls = starttls

    def handle(self, conn: socket.socket) -> None:
        if self.starttls:
            request = conn.recv(8)
            if len(request) != 8:
                return
            conn.sendall(b"S")
        with self.context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(1)  # until the client closes


class NoSslPostgres(_Server):
    """Answers PostgreSQL's SSLRequest with N, as a server with ``ssl = off`` does."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(8)
        conn.sendall(b"N")
        conn.recv(1)


class Silent(_Server):
    """Accepts and never says anything: a handshake can only time out."""

    def handle(self, conn: socket.socket) -> None:
        self.stopping.wait(10)


class Plaintext(_Server):
    """Speaks plain text to anyone: not TLS."""

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


@contextlib.contextmanager
def serving(server: _Server) -> Iterator[_Server]:
    server.thread.start()
    try:
        yield server
    finally:
        server.stop()


def free_port() -> int:
    """A port nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port
