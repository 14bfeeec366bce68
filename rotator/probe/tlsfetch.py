"""Connecting to a TLS server and collecting the chain it sends, without verifying anything.

TLS directly, PostgreSQL's SSLRequest first (what libpq and ``openssl s_client -starttls
postgres`` do), or MySQL's greeting and SSLRequest first (what every MySQL and MariaDB client and
``openssl s_client -starttls mysql`` do). Every failure to get a chain is a ServerUnreachable with a
short reason.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import ssl
import struct
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rotator.certs import Cert, NotACertificate
from rotator.errors import ConfigError, RotatorError, ServerUnreachable
from rotator.probe.options import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from rotator.probe.options import STARTTLS as STARTTLS
from rotator.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

# PostgreSQL's SSLRequest: length 8, then the magic request code 1234.5679.
_SSL_REQUEST = struct.pack("!II", 8, 80877103)


# ---------------------------------------------------------------------------- the endpoint


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    starttls: str | None = None
    servername: str | None = None  # SNI and the name checked; default: host

    @property
    def name(self) -> str:
        """The name a ``verify-full`` client checks against the certificate."""
        return self.servername or self.host

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def default_port(starttls: str | None) -> int:
    return {"postgres": 5432, "mysql": 3306}.get(starttls or "", 443)


def parse_endpoint(text: str, starttls: str | None = None, servername: str | None = None) -> Endpoint:
    """``HOST``, ``HOST:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address."""
    if starttls is not None and starttls not in STARTTLS:
        raise ConfigError(f"--starttls: {starttls!r} is not supported (known: {', '.join(STARTTLS)})")
    text = text.strip()
    port: int | None = None
    if "://" in text:
        # A URL pasted from a portal or a connection string: say what to give instead.
        scheme, _, rest = text.partition("://")
        host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        example = host or "HOST"
        raise _usage(f"{text!r} is a URL ({scheme}://); give HOST[:PORT], e.g. {example}")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise _usage(f"{text!r} is not HOST[:PORT]; write IPv6 addresses as [ADDRESS]:PORT")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""  # a name, or a bare IPv6 address
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise _usage(f"{text!r}: port {port_text!r} is not a number from 1 to 65535")
        port = int(port_text)
    if not host:
        raise _usage(f"{text!r}: no host name")
    return Endpoint(host=host, port=port or default_port(starttls), starttls=starttls, servername=servername)


def _usage(message: str) -> RotatorError:
    return ConfigError(f"probe: {message}")


def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------- fetching the chain


@dataclass(frozen=True)
class Fetched:
    chain: tuple[Cert, ...]  # as the server sent it: the server certificate first
    tls_version: str | None = None  # as OpenSSL names it: TLSv1.3, TLSv1.2, TLSv1.1, TLSv1
    cipher: str | None = None  # OpenSSL's name of the negotiated cipher suite
    server_version: str | None = None  # what a MySQL server's greeting says it is


# Below TLS 1.2: Azure refuses these, and so do clients with current defaults.
LEGACY_TLS = ("SSLv3", "TLSv1", "TLSv1.1")


def fetch_chain(endpoint: Endpoint, timeout: float = DEFAULT_TIMEOUT) -> Fetched:
    """Connect, negotiate TLS without verifying anything, and return every certificate sent.

    Raises ``ServerUnreachable`` (exit 2) with a short reason: refused, timeout, unresolved,
    no-ssl (PostgreSQL answered the SSLRequest with N, or a MySQL greeting lacks CLIENT_SSL),
    closed, handshake.
    """
    # One deadline for the whole probe: a server that answers each step just in time must not
    # stretch it to a multiple of --timeout. (Name resolution is the system resolver's own.)
    deadline = _deadline(timeout)
    try:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except socket.gaierror as exc:
        raise ServerUnreachable(endpoint, "unresolved", f"cannot resolve {endpoint.host!r} ({exc.strerror})") from exc
    except ConnectionRefusedError as exc:
        raise ServerUnreachable(
            endpoint, "refused", "connection refused (no server listening on that port, or a firewall rejects it)"
        ) from exc
    except TimeoutError as exc:
        raise ServerUnreachable(
            endpoint, "timeout", f"no answer within {timeout:g}s (a firewall drops the packets, or wrong host)"
        ) from exc
    except OSError as exc:
        raise ServerUnreachable(endpoint, "unreachable", f"cannot connect ({exc.strerror or exc})") from exc
    try:
        server_version = None
        if endpoint.starttls == "postgres":
            _postgres_ssl_request(sock, endpoint, deadline, timeout)
        elif endpoint.starttls == "mysql":
            server_version = _mysql_ssl_request(sock, endpoint, deadline, timeout)
        if sys.version_info >= (3, 13):
            fetched = _handshake_stdlib(sock, endpoint, deadline, timeout)
        else:
            fetched = _handshake_pyopenssl(sock, endpoint, deadline, timeout)
        return replace(fetched, server_version=server_version)
    finally:
        sock.close()


# ---------------------------------------------------------------------------- PostgreSQL


def _postgres_ssl_request(sock: socket.socket, endpoint: Endpoint, deadline: float, timeout: float) -> None:
    try:
        sock.settimeout(_remaining(endpoint, deadline, timeout, "before PostgreSQL's SSLRequest"))
        sock.sendall(_SSL_REQUEST)
        sock.settimeout(_remaining(endpoint, deadline, timeout, "waiting for the answer to PostgreSQL's SSLRequest"))
        answer = sock.recv(1)
    except TimeoutError as exc:
        raise ServerUnreachable(
            endpoint, "timeout", f"no answer to PostgreSQL's SSLRequest within {timeout:g}s{port_hint(endpoint)}"
        ) from exc
    except OSError as exc:
        raise ServerUnreachable(
            endpoint, "closed", f"connection lost during SSLRequest ({exc.strerror or exc})"
        ) from exc
    if answer == b"S":
        return
    if answer == b"N":
        raise ServerUnreachable(
            endpoint, "no-ssl", "server does not support SSL (PostgreSQL answered the SSLRequest with N: ssl = off)"
        )
    if not answer:
        raise ServerUnreachable(endpoint, "closed", "server closed the connection instead of answering the SSLRequest")
    # A MySQL server speaks first: the byte read is the start of its greeting, the rest is queued.
    sent = answer + _already_sent(sock, deadline)
    if _mysql_packet(sent):
        raise ServerUnreachable(
            endpoint,
            "handshake",
            f"the server sent {_mysql_what(sent)} instead of answering PostgreSQL's SSLRequest: "
            "it is a MySQL server; try --starttls mysql",
        )
    raise ServerUnreachable(
        endpoint, "handshake", f"unexpected answer {answer!r} to PostgreSQL's SSLRequest: is this a PostgreSQL server?"
    )


def _already_sent(sock: socket.socket, deadline: float) -> bytes:
    """What else the server has sent, waiting briefly (a greeting comes in one piece)."""
    try:
        sock.settimeout(max(0.01, min(0.3, deadline - time.monotonic())))
        return sock.recv(_MYSQL_GREETING_MAX)
    except OSError:
        return b""


# ---------------------------------------------------------------------------- MySQL and MariaDB

# Every packet of MySQL's protocol: a 3-byte little-endian payload length, a sequence number, the
# payload. The server speaks first: its greeting (protocol version 10) says whether it offers TLS
# (CLIENT_SSL); the client answers with an SSLRequest (sequence 1) and both start TLS on the socket.
_MYSQL_PROTOCOL = 10
_MYSQL_ERROR = 0xFF
CLIENT_LONG_PASSWORD = 0x1
CLIENT_LONG_FLAG = 0x4
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SSL = 0x800
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_MULTI_RESULTS = 0x20000
CLIENT_PLUGIN_AUTH = 0x80000
# What a libmysqlclient-style client announces, as far as the server offers it; CLIENT_SSL and
# CLIENT_PROTOCOL_41 always (an SSLRequest is a protocol 4.1 packet).
_MYSQL_CLIENT_FLAGS = (
    CLIENT_LONG_PASSWORD
    | CLIENT_LONG_FLAG
    | CLIENT_TRANSACTIONS
    | CLIENT_SECURE_CONNECTION
    | CLIENT_MULTI_RESULTS
    | CLIENT_PLUGIN_AUTH
)
_MYSQL_MAX_PACKET = 1 << 24
_MYSQL_CHARSET = 33  # utf8_general_ci: known to every server since 4.1
_MYSQL_GREETING_MAX = 4096  # a real greeting is about 100 bytes
# Errors a server sends instead of its greeting, and the next step for each.
_MYSQL_ERROR_STEPS = {
    1040: "too many connections: try again later, or raise max_connections",
    1129: "this host is blocked after failed connections: unblock it with FLUSH HOSTS (mariadb-admin flush-hosts)",
    1130: "allow this client's address in the server's firewall rules (Azure) or user hosts",
}


@dataclass(frozen=True)
class MysqlGreeting:
    server_version: str
    capabilities: int  # lower and upper capability flags together


def parse_mysql_greeting(payload: bytes) -> MysqlGreeting:
    """The server version and capability flags of a protocol 10 greeting; ValueError when it is none."""
    if not payload or payload[0] != _MYSQL_PROTOCOL:
        raise ValueError(f"protocol version {payload[:1].hex() or 'missing'}, not 0a")
    end = payload.find(b"\0", 1)
    # version NUL, thread id (4), auth data part 1 (8), filler (1), capability flags lower (2)
    at = end + 1 + 4 + 8 + 1
    if end < 0 or len(payload) < at + 2:
        raise ValueError("the greeting is cut short")
    version = payload[1:end].decode("ascii", "replace")
    capabilities = int.from_bytes(payload[at : at + 2], "little")
    # then character set (1), status flags (2), capability flags upper (2), when the server sends them
    if len(payload) >= at + 7:
        capabilities |= int.from_bytes(payload[at + 5 : at + 7], "little") << 16
    return MysqlGreeting(server_version=version, capabilities=capabilities)


def mysql_ssl_request(capabilities: int) -> bytes:
    """The SSLRequest packet: capability flags, max packet size, character set, 23 zero bytes; sequence 1."""
    flags = (_MYSQL_CLIENT_FLAGS & capabilities) | CLIENT_SSL | CLIENT_PROTOCOL_41
    payload = struct.pack("<IIB23x", flags, _MYSQL_MAX_PACKET, _MYSQL_CHARSET)
    return len(payload).to_bytes(3, "little") + b"\x01" + payload


def _mysql_ssl_request(sock: socket.socket, endpoint: Endpoint, deadline: float, timeout: float) -> str:
    """Read the greeting, check CLIENT_SSL, send the SSLRequest; the server version, for the report."""
    header = _greeting_bytes(sock, 4, endpoint, deadline, timeout)
    if not header:
        raise ServerUnreachable(
            endpoint,
            "closed",
            f"server closed the connection without a MySQL greeting: is this a MySQL server?{port_hint(endpoint)}",
        )
    length = int.from_bytes(header[:3], "little")
    if len(header) < 4 or header[3] != 0 or not 0 < length <= _MYSQL_GREETING_MAX:
        raise _not_mysql(endpoint, header + _already_sent(sock, deadline))
    payload = _greeting_bytes(sock, length, endpoint, deadline, timeout)
    if len(payload) < length:
        raise ServerUnreachable(endpoint, "closed", "server closed the connection in the middle of its MySQL greeting")
    if payload[0] == _MYSQL_ERROR:
        code, message = _mysql_error(payload)
        step = _MYSQL_ERROR_STEPS.get(code, "fix what it says on the server, then probe again")
        raise ServerUnreachable(
            endpoint,
            "handshake",
            f"the MySQL server refused the connection before TLS: error {code}: {message}; {step}",
        )
    try:
        greeting = parse_mysql_greeting(payload)
    except ValueError as exc:
        raise _not_mysql(endpoint, header + payload, str(exc)) from exc
    if not greeting.capabilities & CLIENT_SSL:
        raise ServerUnreachable(
            endpoint,
            "no-ssl",
            f"server does not support SSL (its MySQL greeting, {greeting.server_version}, lacks CLIENT_SSL: "
            "give the server ssl_cert and ssl_key)",
        )
    try:
        sock.settimeout(_remaining(endpoint, deadline, timeout, "sending MySQL's SSLRequest"))
        sock.sendall(mysql_ssl_request(greeting.capabilities))
    except TimeoutError as exc:
        raise ServerUnreachable(
            endpoint, "timeout", f"no answer within {timeout:g}s (sending MySQL's SSLRequest)"
        ) from exc
    except OSError as exc:
        raise ServerUnreachable(
            endpoint, "closed", f"connection lost during SSLRequest ({exc.strerror or exc})"
        ) from exc
    return greeting.server_version


def _greeting_bytes(sock: socket.socket, size: int, endpoint: Endpoint, deadline: float, timeout: float) -> bytes:
    """``size`` bytes of the greeting, or fewer when the server closes; every wait within the one deadline."""
    data = b""
    try:
        while len(data) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
            chunk = sock.recv(size - len(data))
            if not chunk:
                break
            data += chunk
    except TimeoutError as exc:
        raise ServerUnreachable(
            endpoint,
            "timeout",
            f"no MySQL greeting within {timeout:g}s (a MySQL server greets every connection at once: "
            f"is this a MySQL server?){port_hint(endpoint)}",
        ) from exc
    except OSError as exc:
        raise ServerUnreachable(
            endpoint, "closed", f"connection lost while reading the MySQL greeting ({exc.strerror or exc})"
        ) from exc
    return data


def _mysql_error(payload: bytes) -> tuple[int, str]:
    """An error packet: 0xff, a 2-byte code, maybe ``#`` and a 5-character SQL state, the message."""
    code = int.from_bytes(payload[1:3], "little")
    text = payload[3:]
    if text.startswith(b"#") and len(text) >= 6:
        text = text[6:]
    message = " ".join(text.decode("utf-8", "replace").split())
    return code, message[:200] or "no message"


def _mysql_packet(data: bytes) -> bool:
    """Whether ``data`` starts like a MySQL server's first packet: a greeting or an error, sequence 0."""
    if len(data) < 5 or data[3] != 0 or not 0 < int.from_bytes(data[:3], "little") <= _MYSQL_GREETING_MAX:
        return False
    if data[4] == _MYSQL_ERROR:
        return True
    return data[4] == _MYSQL_PROTOCOL and b"\0" in data[5:]


def _mysql_what(data: bytes) -> str:
    """A MySQL server's first packet, as the report names it."""
    if data[4] == _MYSQL_ERROR:
        code, message = _mysql_error(data[4:])
        return f"a MySQL error packet (error {code}: {message})"
    version = data[5 : data.find(b"\0", 5)].decode("ascii", "replace")
    return f"a MySQL greeting ({version})"


def _not_mysql(endpoint: Endpoint, data: bytes, why: str = "") -> ServerUnreachable:
    if data[:2] == b"\x16\x03":
        what = "a TLS record: the server speaks TLS directly; leave out --starttls"
    else:
        what = f"{_preview(data)}{f' ({why})' if why else ''}: is this a MySQL server?{port_hint(endpoint)}"
    return ServerUnreachable(endpoint, "handshake", f"no MySQL greeting: the server sent {what}")


def _preview(data: bytes) -> str:
    head = data[:40]
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return repr(head.decode("ascii").strip())
    return f"bytes {head.hex(' ')}"


# ---------------------------------------------------------------------------- hints


def port_hint(endpoint: Endpoint) -> str:
    """The protocol a well-known port suggests, when the probe did not speak it."""
    if endpoint.port == 3306 and endpoint.starttls != "mysql":
        return "; port 3306 is MySQL's: try --starttls mysql"
    if endpoint.port == 5432 and endpoint.starttls != "postgres":
        return "; port 5432 is PostgreSQL's: try --starttls postgres"
    return ""


def _protocol_hint(endpoint: Endpoint, received: bytes, *, hung_up: bool = False) -> str:
    """What a plain TLS probe's failure says about the server: the --starttls to try, if any."""
    if endpoint.starttls is not None:
        return ""
    if _mysql_packet(received):
        return f"; the server sent {_mysql_what(received)} instead of TLS: it is a MySQL server; try --starttls mysql"
    if hung_up and not received:
        # PostgreSQL reads a ClientHello as a malformed startup packet and hangs up without a word.
        return "; PostgreSQL does that to a ClientHello: is this PostgreSQL? try --starttls postgres"
    return port_hint(endpoint)


# ---------------------------------------------------------------------------- TLS
#
# Both handshakes run over memory buffers: the probe itself moves every byte between the socket
# and OpenSSL, non-blocking and against the one deadline, and so knows what the server sent when
# a handshake fails (a MySQL greeting, or nothing before it hung up).


def _sni(endpoint: Endpoint) -> str | None:
    return None if is_ip(endpoint.name) else endpoint.name


def _handshake_failed(endpoint: Endpoint, detail: str, received: bytes) -> ServerUnreachable:
    hint = _protocol_hint(endpoint, received)
    return ServerUnreachable(endpoint, "handshake", f"TLS handshake error: {detail}{hint}")


class _Wire:
    """The socket side of a memory-buffer handshake: send what OpenSSL wrote, read what the server sends."""

    def __init__(self, sock: socket.socket, endpoint: Endpoint, deadline: float, timeout: float) -> None:
        self.sock, self.endpoint, self.deadline, self.timeout = sock, endpoint, deadline, timeout
        self.received = b""  # every byte the server sent during the handshake
        sock.setblocking(False)

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = self.sock.send(view)
            except BlockingIOError:
                self._wait(write=True)
                continue
            except OSError as exc:
                raise self._lost(exc) from exc
            view = view[sent:]

    def recv(self) -> bytes:
        """The next bytes from the server; raises when it hangs up."""
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                self._wait(write=False)
                continue
            except ConnectionResetError as exc:
                raise self._hung_up() from exc
            except OSError as exc:
                raise self._lost(exc) from exc
            if not data:
                raise self._hung_up()
            self.received += data
            return data

    def _wait(self, *, write: bool) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining > 0:
            if write:
                ready = select.select([], [self.sock], [], remaining)[1]
            else:
                ready = select.select([self.sock], [], [], remaining)[0]
            if ready:
                return
        hint = _protocol_hint(self.endpoint, self.received)
        raise ServerUnreachable(
            self.endpoint, "timeout", f"TLS handshake did not finish within {self.timeout:g}s{hint}"
        )

    def _hung_up(self) -> ServerUnreachable:
        said = "after sending part of its answer" if self.received else "without sending a byte"
        hint = _protocol_hint(self.endpoint, self.received, hung_up=True)
        return ServerUnreachable(
            self.endpoint, "handshake", f"TLS handshake error: the server closed the connection {said}{hint}"
        )

    def _lost(self, exc: OSError) -> ServerUnreachable:
        return ServerUnreachable(
            self.endpoint, "closed", f"connection lost during the TLS handshake ({exc.strerror or exc})"
        )


def _handshake_pyopenssl(sock: socket.socket, endpoint: Endpoint, deadline: float, timeout: float) -> Fetched:
    """Python before 3.13 has no public API for the unverified chain: pyOpenSSL provides it."""
    from OpenSSL import SSL, crypto

    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    # Down to TLS 1.0, at any security level: the probe completes the handshake with a server real
    # clients refuse, to name its TLS version and judge its chain anyway; it sends no secret.
    context.set_min_proto_version(SSL.TLS1_VERSION)
    context.set_cipher_list(b"DEFAULT:@SECLEVEL=0")
    context.set_verify(SSL.VERIFY_NONE, None)  # verification happens afterwards, per store
    conn = SSL.Connection(context, None)
    sni = _sni(endpoint)
    if sni:
        conn.set_tlsext_host_name(sni.encode("idna"))
    conn.set_connect_state()
    wire = _Wire(sock, endpoint, deadline, timeout)

    def flush() -> None:
        while True:
            try:
                wire.send(conn.bio_read(65536))
            except SSL.WantReadError:
                return

    while True:
        try:
            conn.do_handshake()
            break
        except SSL.WantReadError:
            flush()
            conn.bio_write(wire.recv())
        except SSL.Error as exc:
            raise _handshake_failed(endpoint, _openssl_reason(exc), wire.received) from exc
    flush()  # the client's Finished, so that the server completes its handshake too
    raw = conn.get_peer_cert_chain() or []
    ders = [crypto.dump_certificate(crypto.FILETYPE_ASN1, c) for c in raw]
    return Fetched(
        chain=_parse_chain(ders, endpoint),
        tls_version=conn.get_protocol_version_name(),
        cipher=conn.get_cipher_name(),
    )


def _openssl_reason(exc: Exception) -> str:
    args = exc.args[0] if exc.args else None
    if isinstance(args, list) and args:
        parts = [str(item[-1]) for item in args if isinstance(item, tuple) and item]
        if parts:
            return "; ".join(parts)
    return str(exc) or type(exc).__name__


def _handshake_stdlib(sock: socket.socket, endpoint: Endpoint, deadline: float, timeout: float) -> Fetched:
    """Python 3.13+: ``get_unverified_chain`` returns the chain as DER bytes."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with warnings.catch_warnings():
        # Down to TLS 1.0 at any security level, as in the pyOpenSSL path (ssl deprecates the names).
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # verification happens afterwards, per store
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=_sni(endpoint))
    wire = _Wire(sock, endpoint, deadline, timeout)
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            wire.send(outgoing.read())
            incoming.write(wire.recv())
        except ssl.SSLError as exc:
            raise _handshake_failed(endpoint, exc.reason or str(exc), wire.received) from exc
    wire.send(outgoing.read())  # the client's Finished, so that the server completes its handshake too
    # A list of DER-encoded bytes (3.13+ only; mypy checks against 3.11, hence getattr).
    chain: Any = getattr(tls, "get_unverified_chain")()  # noqa: B009
    ders = [bytes(c) for c in chain or []]
    cipher = tls.cipher()
    return Fetched(chain=_parse_chain(ders, endpoint), tls_version=tls.version(), cipher=cipher[0] if cipher else None)


def _remaining(endpoint: Endpoint, deadline: float, timeout: float, step: str) -> float:
    """The time left of the probe's one deadline, or the timeout error naming the step it ran out in."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise ServerUnreachable(endpoint, "timeout", f"no answer within {timeout:g}s ({step})")
    return left


def _deadline(timeout: float) -> float:
    return time.monotonic() + timeout


def _parse_chain(ders: Sequence[bytes], endpoint: Endpoint) -> tuple[Cert, ...]:
    if not ders:
        raise ServerUnreachable(endpoint, "handshake", "TLS handshake error: the server sent no certificate")
    certs = []
    for der in ders:
        try:
            certs.append(Cert.from_der(der))
        except NotACertificate as exc:
            raise ServerUnreachable(
                endpoint, "handshake", f"the server sent an unparseable certificate ({exc})"
            ) from exc
    return tuple(certs)
