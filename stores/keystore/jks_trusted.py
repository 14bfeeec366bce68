"""The trusted-certificate subset of JKS, read without the keystore library.

A truststore (a JDK's cacerts, an application's trust.jks) holds nothing but trusted certificates,
and that part of the format is small: a header, then per entry a tag, an alias, a time and the
certificate's DER, then a SHA-1 over the password and every byte before it. Reading it directly
costs a fraction of importing pyjks (pyasn1 and pycryptodome, about 60 ms); a store holding
anything else (a private key, a JCEKS file, version 1) is left to the library (``None``).
"""

from __future__ import annotations

import hashlib
import hmac

from stores.keystore.base import INTEGRITY_FAILED, JKS_MAGIC, KeystoreProblem, Reason, TrustedCert

_TRUSTED_CERT = 2
_VERSION = 2  # version 1 stores carry no certificate type; the library reads those
_WHITENER = b"Mighty Aphrodite"  # the constant the JDK mixes into the integrity digest
_DIGEST = 20


def integrity_digest(body: bytes, password: str) -> bytes:
    """The JKS integrity digest of ``body`` (everything before it): the password as UTF-16BE."""
    return hashlib.sha1(password.encode("utf-16-be") + _WHITENER + body, usedforsecurity=False).digest()


def read_trusted(data: bytes, password: str) -> list[TrustedCert] | None:
    """Every trusted certificate of a JKS truststore, its integrity checked with ``password``;
    None when the store holds more than trusted certificates (the library reads those)."""
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
            tag = int.from_bytes(_take(body, pos, 4), "big")
            if tag != _TRUSTED_CERT:
                return None
            alias, pos = _utf(body, pos + 4)
            pos += 8  # the entry's creation time
            cert_type, pos = _utf(body, pos)
            if cert_type != "X.509":
                return None
            length = int.from_bytes(_take(body, pos, 4), "big")
            der = _take(body, pos + 4, length)
            pos += 4 + length
            out.append(TrustedCert(alias=alias, der=der))
    except (ValueError, UnicodeDecodeError) as exc:
        raise KeystoreProblem(Reason.DAMAGED, f"it is damaged or truncated ({exc})") from exc
    if pos != len(body):
        raise KeystoreProblem(Reason.DAMAGED, "it is damaged (bytes after its last entry)")
    if not hmac.compare_digest(integrity_digest(body, password), digest):
        raise KeystoreProblem(Reason.PASSWORD, INTEGRITY_FAILED)
    return out


def _take(data: bytes, pos: int, length: int) -> bytes:
    if length < 0 or pos + length > len(data):
        raise ValueError(f"an entry runs past the end at byte {pos}")
    return data[pos : pos + length]


def _utf(data: bytes, pos: int) -> tuple[str, int]:
    """A Java modified-UTF-8 string (two length bytes); for the text of aliases, plain UTF-8 reads
    the same but for NUL and characters beyond the BMP, which keytool's aliases do not hold."""
    length = int.from_bytes(_take(data, pos, 2), "big")
    return _take(data, pos + 2, length).decode("utf-8"), pos + 2 + length
