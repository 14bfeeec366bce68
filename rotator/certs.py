"""Certificate values: parsing PEM or DER from raw bytes, fingerprints, and root checks."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import warnings
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

# The body cannot hold a '-' (base64 has none): a block whose END line is missing ends at the
# next dash, and never swallows the blocks after it.
PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n(?P<body>[^-]*)-----END CERTIFICATE-----")
BEGIN_LINE = re.compile(rb"-----BEGIN CERTIFICATE-----")


class NotACertificate(ValueError):
    """The bytes are not exactly one parseable certificate."""


@dataclass(frozen=True)
class Cert:
    """One X.509 certificate, identified by the SHA-256 of its DER encoding."""

    der: bytes
    x509: x509.Certificate = field(compare=False, repr=False)

    @classmethod
    def from_der(cls, der: bytes) -> Cert:
        """The certificate, or NotACertificate: the one rule for malformed input everywhere.

        cryptography parses names, extensions and keys lazily, so a damaged certificate (a bad
        version, a duplicate extension, an unknown key type) would only fail later, wherever a
        field is first read. Every field rotator reads is read here, once, instead.
        """
        try:
            with warnings.catch_warnings():
                # A few roots in distribution bundles carry serial 0; cryptography only warns.
                warnings.simplefilter("ignore")
                parsed = x509.load_der_x509_certificate(der)
                parsed.subject.rfc4514_string()
                parsed.issuer.rfc4514_string()
                _ = parsed.extensions, parsed.not_valid_before_utc, parsed.not_valid_after_utc
                parsed.public_key()
        except Exception as exc:  # cryptography raises many types for malformed input
            raise NotACertificate(f"not a readable DER certificate ({_reason(exc)})") from exc
        return cls(der=der, x509=parsed)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.der, usedforsecurity=False).hexdigest()

    @property
    def subject(self) -> str:
        return self.x509.subject.rfc4514_string()

    @property
    def issuer(self) -> str:
        return self.x509.issuer.rfc4514_string()

    @property
    def common_name(self) -> str:
        names = self.x509.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if names:
            value = names[0].value
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
        return self.subject

    @property
    def not_after(self) -> dt.datetime:
        return self.x509.not_valid_after_utc

    @property
    def not_before(self) -> dt.datetime:
        return self.x509.not_valid_before_utc

    @property
    def is_ca(self) -> bool:
        try:
            bc = self.x509.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            return False
        return bc.ca

    @property
    def is_self_issued(self) -> bool:
        return self.x509.subject == self.x509.issuer

    def to_pem(self) -> bytes:
        body = base64.encodebytes(self.der).replace(b"\n", b"")
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines) + b"\n-----END CERTIFICATE-----\n"

    def expired(self, at: dt.datetime) -> bool:
        return at > self.not_after

    def signed_by(self, issuer: Cert) -> bool:
        """True when ``issuer``'s key verifies this certificate's signature.

        ``verify_directly_issued_by`` refuses SHA-1 signatures (DigiCert Global Root CA is
        SHA-1 signed), so the public key's own ``verify`` is called here instead.
        """
        if self.x509.issuer != issuer.x509.subject:
            return False
        return signature_valid(self.x509, issuer.x509.public_key())


def signature_valid(cert: x509.Certificate, key: object) -> bool:
    algorithm = cert.signature_hash_algorithm
    try:
        if isinstance(key, rsa.RSAPublicKey):
            params = cert.signature_algorithm_parameters
            pad = params if isinstance(params, padding.PSS) else padding.PKCS1v15()
            if algorithm is None:
                return False
            key.verify(cert.signature, cert.tbs_certificate_bytes, pad, algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if algorithm is None:
                return False
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        elif isinstance(key, dsa.DSAPublicKey):
            if algorithm is None:
                return False
            key.verify(cert.signature, cert.tbs_certificate_bytes, algorithm)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def decode_block(body: bytes) -> bytes:
    """The DER inside one PEM block's base64 body; NotACertificate when the base64 is damaged."""
    try:
        return base64.b64decode(body, validate=False)
    except ValueError as exc:  # binascii.Error
        raise NotACertificate(f"damaged base64 in a PEM block ({exc})") from exc


def pem_blocks(data: bytes) -> list[bytes | None]:
    """The DER bodies of every CERTIFICATE block, each decoded on its own (None: damaged base64).

    ``load_pem_x509_certificates`` fails whole on one bad block; callers that must keep
    going past a damaged block use this and parse each body separately.
    """
    out: list[bytes | None] = []
    for match in PEM_BLOCK.finditer(data):
        try:
            out.append(decode_block(match.group("body")))
        except NotACertificate:
            out.append(None)
    return out


def looks_like_pem(data: bytes) -> bool:
    return b"-----BEGIN" in data[:4096] or b"-----BEGIN CERTIFICATE-----" in data


def parse_one(data: bytes) -> Cert:
    """Exactly one certificate, PEM or DER, sniffed from the bytes (never from a name or header)."""
    if not data:
        raise NotACertificate("empty file")
    if looks_like_pem(data):
        blocks = pem_blocks(data)
        if len(blocks) != 1:
            raise NotACertificate(f"expected exactly one PEM certificate, found {len(blocks)}")
        if blocks[0] is None:
            raise NotACertificate("damaged base64 in the PEM block")
        return Cert.from_der(blocks[0])
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"{")):
        raise NotACertificate("got a web page or document, not a certificate")
    cert = Cert.from_der(data)
    return cert


def parse_many(data: bytes) -> list[Cert]:
    """Every certificate in a PEM bundle or a single DER file; damaged blocks are skipped.

    Raises NotACertificate only for a non-empty file that is neither PEM nor one DER certificate.
    """
    if looks_like_pem(data):
        certs = []
        for der in pem_blocks(data):
            if der is None:
                continue
            try:
                certs.append(Cert.from_der(der))
            except NotACertificate:
                continue
        return certs
    return [Cert.from_der(data)] if data else []
