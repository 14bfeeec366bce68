"""Small servers on 127.0.0.1 for probe tests: direct TLS, a PostgreSQL SSLRequest responder, a MySQL
greeting, silence.

Each accepts connections on a thread until stopped; every one is bounded by timeouts so a
broken test cannot hang the suite.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
import warnings
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

    def __init__(
        self, directory: Path, chain: list[Issued], key: Issued, *, starttls: bool = False, legacy: bool = False
    ) -> None:
        super().__init__()
        self.context = server_context(directory, chain, key, legacy=legacy)
        self.starttls = starttls

    def handle(self, conn: socket.socket) -> None:
        if self.starttls:
            request = conn.recv(8)
            if len(request) != 8:
                return
            conn.sendall(b"S")
        with self.context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(1)  # until the client closes


def server_context(directory: Path, chain: list[Issued], key: Issued, *, legacy: bool = False) -> ssl.SSLContext:
    """A TLS server context for ``chain``; ``legacy``: TLS 1.0 and 1.1 only, as a server Azure would refuse."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / "server-chain.pem", directory / "server.key"
    cert_file.write_bytes(b"".join(c.pem for c in chain))
    key_file.write_bytes(key.key_pem())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    if legacy:
        with warnings.catch_warnings():  # ssl deprecates the very versions this server stands for
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


CLIENT_SSL = 0x0800


def mysql_packet(seq: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([seq]) + payload


def mysql_greeting(version: str = "8.0.36-fake", *, ssl: bool = True) -> bytes:
    """A protocol 10 greeting as MySQL 8 sends it; ``ssl=False`` leaves CLIENT_SSL out of the flags."""
    capabilities = 0xFFFFF7FF | (CLIENT_SSL if ssl else 0)
    payload = (
        b"\x0a"
        + version.encode()
        + b"\0"
        + struct.pack("<I", 42)  # thread id
        + b"abcdefgh\0"  # auth data, part 1, and the filler
        + struct.pack("<H", capabilities & 0xFFFF)
        + bytes([255])  # character set
        + struct.pack("<H", 2)  # status flags
        + struct.pack("<H", capabilities >> 16)
        + bytes([21])  # auth data length
        + b"\0" * 10
        + b"ijklmnopqrst\0"
        + b"caching_sha2_password\0"
    )
    return mysql_packet(0, payload)


def mysql_error(code: int, message: str) -> bytes:
    """An error packet as a server sends it instead of its greeting (no SQL state before the handshake)."""
    return mysql_packet(0, b"\xff" + struct.pack("<H", code) + message.encode())


class FakeMysql(_Server):
    """Sends ``first`` (a greeting, an error packet, anything); with a TLS ``context``, then reads the
    client's SSLRequest (kept in ``requests``) and starts TLS."""

    def __init__(self, first: bytes, context: ssl.SSLContext | None = None) -> None:
        super().__init__()
        self.first = first
        self.context = context
        self.requests: list[bytes] = []

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(self.first)
        if self.context is None:
            while conn.recv(4096):  # read whatever comes, answer nothing, until the client gives up
                pass
            return
        request = b""
        while len(request) < 36:
            chunk = conn.recv(36 - len(request))
            if not chunk:
                return
            request += chunk
        self.requests.append(request)
        with self.context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(1)


class NoSslPostgres(_Server):
    """Answers PostgreSQL's SSLRequest with N, as a server with ``ssl = off`` does."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(8)
        conn.sendall(b"N")
        conn.recv(1)


class HangUp(_Server):
    """Reads what the client sends and closes without a word, as PostgreSQL does to a ClientHello."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(4)


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
