"""The trusted-certificate subset of JKS, read and written without the keystore library.

A truststore (a JDK's cacerts, an application's trust.jks) holds nothing but trusted certificates,
and that part of the format is small: a header (magic, version 2, the entry count), then per entry
a tag (2), an alias, a creation time and the certificate's type and DER, then a SHA-1 over the
password and every byte before it. That is what the JDK's ``JavaKeyStore`` writes, and all this
module writes. Doing it directly costs a fraction of importing pyjks (pyasn1 and pycryptodome, about
60 ms); a store holding anything else (a private key, a JCEKS file, version 1, an alias twice) is
left to the library (``None``), which keeps private keys byte for byte or refuses the store.

An existing store is rewritten only when its entries are known byte for byte: each is kept as the
slice of the file it came from, and a store is taken only when those slices, written back
unchanged, give the file's exact bytes (``TrustedJks.load``).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Sequence

from stores.keystore.base import INTEGRITY_FAILED, JKS_MAGIC, Format, Keystore, KeystoreProblem, Reason, TrustedCert

_TRUSTED_CERT = 2
_VERSION = 2  # version 1 stores carry no certificate type; the library reads those
_WHITENER = b"Mighty Aphrodite"  # the constant the JDK mixes into the integrity digest
_DIGEST = 20
_X509 = b"\x00\x05X.509"  # the certificate type, as a length-prefixed string
_MAX_UTF = 0xFFFF  # DataOutputStream.writeUTF's limit, in encoded bytes


def integrity_digest(body: bytes, password: str) -> bytes:
    """The JKS integrity digest of ``body`` (everything before it): the password as UTF-16BE."""
    return hashlib.sha1(password.encode("utf-16-be") + _WHITENER + body, usedforsecurity=False).digest()


class _Entry:
    """One trusted-certificate entry: what it holds, and its bytes in the file it came from."""

    __slots__ = ("alias", "der", "raw")

    def __init__(self, alias: str, der: bytes, raw: bytes) -> None:
        self.alias = alias
        self.der = der
        self.raw = raw


def _parse(data: bytes, password: str) -> list[_Entry] | None:
    if data[:4] != JKS_MAGIC:
        return None
    if len(data) < 12 + _DIGEST:
        raise KeystoreProblem(Reason.DAMAGED, "it is damaged or truncated (shorter than a JKS header)")
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    version = int.from_bytes(body[4:8], "big")
    if version != _VERSION:
        return None
    count = int.from_bytes(body[8:12], "big")
    pos, out = 12, []
    try:
        for _ in range(count):
            start = pos
            tag = int.from_bytes(_take(body, pos, 4), "big")
            if tag != _TRUSTED_CERT:
                return None
            alias_bytes, pos = _utf(body, pos + 4)
            pos += 8  # the entry's creation time
            cert_type, pos = _utf(body, pos)
            if cert_type != b"X.509":
                return None
            length = int.from_bytes(_take(body, pos, 4), "big")
            der = _take(body, pos + 4, length)
            pos += 4 + length
            alias = decode_utf(alias_bytes)
            if alias is None:
                return None
            out.append(_Entry(alias, der, body[start:pos]))
    except ValueError as exc:
        raise KeystoreProblem(Reason.DAMAGED, f"it is damaged or truncated ({exc})") from exc
    if pos != len(body):
        raise KeystoreProblem(Reason.DAMAGED, "it is damaged (bytes after its last entry)")
    if not hmac.compare_digest(integrity_digest(body, password), digest):
        raise KeystoreProblem(Reason.PASSWORD, INTEGRITY_FAILED)
    return out


def read_trusted(data: bytes, password: str) -> list[TrustedCert] | None:
    """Every trusted certificate of a JKS truststore, its integrity checked with ``password``;
    None when the store holds more than trusted certificates (the library reads those)."""
    entries = _parse(data, password)
    return None if entries is None else [TrustedCert(alias=e.alias, der=e.der) for e in entries]


def _take(data: bytes, pos: int, length: int) -> bytes:
    if length < 0 or pos + length > len(data):
        raise ValueError(f"an entry runs past the end at byte {pos}")
    return data[pos : pos + length]


def _utf(data: bytes, pos: int) -> tuple[bytes, int]:
    """A string as DataOutputStream.writeUTF writes it: two length bytes, then the text."""
    length = int.from_bytes(_take(data, pos, 2), "big")
    return _take(data, pos + 2, length), pos + 2 + length


def decode_utf(raw: bytes) -> str | None:
    """Java's modified UTF-8 as text: UTF-8, but NUL is C0 80 and a character beyond the BMP is its
    two UTF-16 surrogates, three bytes each. None for bytes the JDK would not have written (an
    overlong form, a four-byte sequence, a lone surrogate): the library decides about those."""
    if raw.isascii() and b"\x00" not in raw:
        return raw.decode("ascii")
    if b"\x00" in raw or any(b >= 0xF0 for b in raw):
        return None
    try:
        units = raw.replace(b"\xc0\x80", b"\x00").decode("utf-8", "surrogatepass")
        # Surrogates pair up into the characters they stand for; a lone one fails here.
        return units.encode("utf-16-be", "surrogatepass").decode("utf-16-be")
    except UnicodeError:
        return None


def encode_utf(text: str) -> bytes:
    """``text`` as DataOutputStream.writeUTF writes it, its two length bytes first."""
    if text.isascii() and "\x00" not in text:
        raw = text.encode("ascii")
    else:
        units = text.encode("utf-16-be", "surrogatepass")
        out = bytearray()
        for i in range(0, len(units), 2):
            c = units[i] << 8 | units[i + 1]
            if 0 < c < 0x80:
                out.append(c)
            elif c < 0x800:  # NUL too: C0 80
                out += bytes((0xC0 | c >> 6, 0x80 | c & 0x3F))
            else:  # the rest of the BMP, and each half of a surrogate pair
                out += bytes((0xE0 | c >> 12, 0x80 | c >> 6 & 0x3F, 0x80 | c & 0x3F))
        raw = bytes(out)
    if len(raw) > _MAX_UTF:
        raise ValueError(f"an alias of {len(raw)} bytes is longer than JKS allows ({_MAX_UTF})")
    return len(raw).to_bytes(2, "big") + raw


def trusted_entry(alias: str, der: bytes, created_ms: int) -> bytes:
    """One trusted-certificate entry, byte for byte as the JDK writes it."""
    return (
        _TRUSTED_CERT.to_bytes(4, "big")
        + encode_utf(alias)
        + created_ms.to_bytes(8, "big")
        + _X509
        + len(der).to_bytes(4, "big")
        + der
    )


def serialize(entries: Sequence[bytes], password: str) -> bytes:
    """A JKS file of these entries (each as ``trusted_entry`` makes it), with its integrity digest."""
    body = b"".join((JKS_MAGIC, _VERSION.to_bytes(4, "big"), len(entries).to_bytes(4, "big"), *entries))
    return body + integrity_digest(body, password)


class TrustedJks(Keystore):
    """A JKS truststore of trusted certificates only, rewritten without the keystore library."""

    format = Format.JKS

    def __init__(self, entries: list[_Entry], password: str) -> None:
        self._entries = entries
        self._password = password

    @classmethod
    def new(cls, password: str) -> TrustedJks:
        return cls([], password)

    @classmethod
    def load(cls, data: bytes, password: str) -> TrustedJks | None:
        """The store, or None when it is the library's to read: anything but trusted certificates,
        an alias twice, or bytes this module would not write back exactly as they are."""
        entries = _parse(data, password)
        if entries is None or len({e.alias for e in entries}) != len(entries):
            return None
        store = cls(entries, password)
        # The round-trip proof: unchanged, the store must serialize to the very same bytes.
        if store.render((), ()) != data:
            return None
        return store

    def trusted(self) -> list[TrustedCert]:
        return [TrustedCert(alias=e.alias, der=e.der) for e in self._entries]

    def render(self, remove: Iterable[str], add: Sequence[TrustedCert]) -> bytes:
        # An alias added again replaces its entry (as a key store's setCertificateEntry does), so
        # the file never holds one alias twice.
        gone = set(remove) | {cert.alias for cert in add}
        now = time.time_ns() // 1_000_000
        kept = [e.raw for e in self._entries if e.alias not in gone]
        for cert in add:
            assert cert.alias is not None
            kept.append(trusted_entry(cert.alias, cert.der, now))
        return serialize(kept, self._password)
