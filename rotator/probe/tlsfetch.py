"""Connecting to a TLS server and collecting the chain it sends, without verifying anything.

TLS directly, or PostgreSQL's SSLRequest first (what libpq and ``openssl s_client -starttls
postgres`` do). Every failure to get a chain is a ServerUnreachable with a short reason.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import ssl
import struct
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

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
    return 5432 if starttls == "postgres" else 443


def parse_endpoint(text: str, starttls: str | None = None, servername: str | None = None) -> Endpoint:
    """``HOST``, ``HOST:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address."""
    if starttls is not None and starttls not in STARTTLS:
        raise ConfigError(f"--starttls: {starttls!r} is not supported (known: {', '.join(STARTTLS)})")
    text = text.strip()
    port: int | None = None
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
    tls_version: str | None = None


def fetch_chain(endpoint: Endpoint, timeout: float = DEFAULT_TIMEOUT) -> Fetched:
    """Connect, negotiate TLS without verifying anything, and return every certificate sent.

    Raises ``ServerUnreachable`` (exit 2) with a short reason: refused, timeout, unresolved,
    no-ssl (PostgreSQL answered the SSLRequest with N), closed, handshake.
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
        if endpoint.starttls == "postgres":
            _postgres_ssl_request(sock, endpoint, deadline, timeout)
        if sys.version_info >= (3, 13):
            return _handshake_stdlib(sock, endpoint, deadline, timeout)
        return _handshake_pyopenssl(sock, endpoint, deadline, timeout)
    finally:
        sock.close()


def _postgres_ssl_request(sock: socket.socket, endpoint: Endpoint, deadline: float, timeout: float) -> None:
    try:
        sock.settimeout(_remaining(endpoint, deadline, timeout, "before PostgreSQL's SSLRequest"))
        sock.sendall(_SSL_REQUEST)
        sock.settimeout(_remaining(endpoint, deadline, timeout, "waiting for the answer to PostgreSQL's SSLRequest"))
        answer = sock.recv(1)
    except TimeoutError as exc:
        raise ServerUnreachable(
            endpoint, "timeout", f"no answer to PostgreSQL's SSLRequest within {timeout:g}s"
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
    raise ServerUnreachable(
        endpoint, "handshake", f"unexpected answer {answer!r} to PostgreSQL's SSLRequest: is this a PostgreSQL server?"
    )


def _sni(endpoint: Endpoint) -> str | None:
    return None if is_ip(endpoint.name) else endpoint.name


def _handshake_failed(endpoint: Endpoint, detail: str) -> ServerUnreachable:
    hint = ""
    if "wrong version number" in detail or "packet length" in detail or "record layer" in detail:
        hint = _postgres_hint(endpoint, "; the server does not speak TLS directly")
    elif "eof" in detail.lower():  # hung up on the ClientHello, as PostgreSQL does
        hint = _postgres_hint(endpoint)
    return ServerUnreachable(endpoint, "handshake", f"TLS handshake error: {detail}{hint}")


def _postgres_hint(endpoint: Endpoint, prefix: str = "") -> str:
    # PostgreSQL reads a ClientHello as a malformed startup packet and hangs up without a word.
    return f"{prefix}; is this PostgreSQL? try --starttls postgres" if endpoint.starttls is None else ""


def _handshake_pyopenssl(sock: socket.socket, endpoint: Endpoint, deadline: float, timeout: float) -> Fetched:
    """Python before 3.13 has no public API for the unverified chain: pyOpenSSL provides it."""
    from OpenSSL import SSL, crypto

    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.set_verify(SSL.VERIFY_NONE, None)  # verification happens afterwards, per store
    conn = SSL.Connection(context, sock)
    sni = _sni(endpoint)
    if sni:
        conn.set_tlsext_host_name(sni.encode("idna"))
    conn.set_connect_state()
    sock.setblocking(False)
    while True:
        try:
            conn.do_handshake()
            break
        except SSL.WantReadError:
            _wait(sock, endpoint, deadline, timeout, write=False)
        except SSL.WantWriteError:
            _wait(sock, endpoint, deadline, timeout, write=True)
        except SSL.SysCallError as exc:
            raise ServerUnreachable(
                endpoint, "handshake", f"TLS handshake error: connection closed ({exc}){_postgres_hint(endpoint)}"
            ) from exc
        except SSL.Error as exc:
            raise _handshake_failed(endpoint, _openssl_reason(exc)) from exc
    raw = conn.get_peer_cert_chain() or []
    ders = [crypto.dump_certificate(crypto.FILETYPE_ASN1, c) for c in raw]
    version = conn.get_protocol_version_name()
    return Fetched(chain=_parse_chain(ders, endpoint), tls_version=version)


def _openssl_reason(exc: Exception) -> str:
    args = exc.args[0] if exc.args else None
    if isinstance(args, list) and args:
        parts = [str(item[-1]) for item in args if isinstance(item, tuple) and item]
        if parts:
            return "; ".join(parts)
    return str(exc) or type(exc).__name__


def _handshake_stdlib(sock: socket.socket, endpoint: Endpoint, deadline: float, timeout: float) -> Fetched:
    """Python 3.13+: ``SSLSocket.get_unverified_chain`` returns the chain as DER bytes. The handshake
    runs non-blocking against the probe's deadline (a socket timeout would restart at every read)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # verification happens afterwards, per store
    sock.setblocking(False)
    tls = context.wrap_socket(sock, server_hostname=_sni(endpoint), do_handshake_on_connect=False)
    try:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                _wait(tls, endpoint, deadline, timeout, write=False)
            except ssl.SSLWantWriteError:
                _wait(tls, endpoint, deadline, timeout, write=True)
            except ssl.SSLError as exc:
                raise _handshake_failed(endpoint, exc.reason or str(exc)) from exc
            except OSError as exc:
                raise ServerUnreachable(
                    endpoint, "handshake", f"TLS handshake error: {exc.strerror or exc}{_postgres_hint(endpoint)}"
                ) from exc
        # A list of DER-encoded bytes (3.13+ only; mypy checks against 3.11, hence getattr).
        chain: Any = getattr(tls, "get_unverified_chain")()  # noqa: B009
        ders = [bytes(c) for c in chain or []]
        return Fetched(chain=_parse_chain(ders, endpoint), tls_version=tls.version())
    finally:
        tls.close()


def _remaining(endpoint: Endpoint, deadline: float, timeout: float, step: str) -> float:
    """The time left of the probe's one deadline, or the timeout error naming the step it ran out in."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise ServerUnreachable(endpoint, "timeout", f"no answer within {timeout:g}s ({step})")
    return left


def _deadline(timeout: float) -> float:
    return time.monotonic() + timeout


def _wait(sock: socket.socket, endpoint: Endpoint, deadline: float, timeout: float, *, write: bool) -> None:
    remaining = deadline - time.monotonic()
    if remaining > 0:
        ready = select.select([], [sock], [], remaining) if write else select.select([sock], [], [], remaining)
        if ready[1] if write else ready[0]:
            return
    raise ServerUnreachable(endpoint, "timeout", f"TLS handshake did not finish within {timeout:g}s")


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
