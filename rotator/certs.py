"""Certificate values: parsing PEM or DER from raw bytes, fingerprints, and root checks.

A certificate's identity is the SHA-256 of its DER bytes, which needs no X.509 parser. The
parse (cryptography, ~25 ms to import) happens on first use of a field that needs it, so a
run that only compares fingerprints against pins never loads it. Validity dates are read
from the DER directly for the same reason.
"""

from __future__ import annotations

import binascii
import datetime as dt
import hashlib
import re
import warnings
from functools import cached_property

from rotator.der import DerError, header
from rotator.records import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

# The body cannot hold a '-' (base64 has none): a block whose END line is missing ends at the
# next dash, and never swallows the blocks after it.
PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n(?P<body>[^-]*)-----END CERTIFICATE-----")
BEGIN_LINE = re.compile(rb"-----BEGIN CERTIFICATE-----")


class NotACertificate(ValueError):
    """The bytes are not exactly one parseable certificate."""


class Cert:
    """One X.509 certificate, identified by the SHA-256 of its DER encoding.

    Build it with ``from_der`` (fully parsed now) or ``from_der_lazily`` (shape checked now,
    parsed on first use of a field that needs the parser). Treated as immutable. A plain class
    with slots rather than a frozen dataclass: a bundle of 100,000 certificates makes one each,
    and a frozen dataclass costs several times as much to create and to hold.
    """

    # __dict__ holds what is worked out on first use (the parse, the dates).
    __slots__ = ("__dict__", "der", "sha256")

    def __init__(self, der: bytes) -> None:
        self.der = der
        # The identity, computed once: every store compares fingerprints.
        self.sha256 = hashlib.sha256(der).hexdigest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cert) and other.der == self.der

    def __hash__(self) -> int:
        return hash(self.der)

    def __repr__(self) -> str:
        return f"Cert(sha256={self.sha256})"

    @classmethod
    def from_der(cls, der: bytes) -> Cert:
        cert = cls(der=der)
        _ = cert.x509  # raises NotACertificate now rather than on first use
        return cert

    @classmethod
    def from_der_lazily(cls, der: bytes) -> Cert:
        """For fingerprint comparisons over many certificates: a DER SEQUENCE of the right shape.

        A copy whose SHA-256 equals a pin is byte for byte the pinned certificate, so no parse is
        needed to trust it; anything else is parsed only if a field of it is asked for.
        """
        # One DER SEQUENCE covering every byte, starting with another (the TBSCertificate). It runs
        # for every block of a bundle, so it is one header read, from here; the parser judges the
        # rest when a field is first asked for.
        size = len(der)
        try:
            tag, head, end = header(der, 0, size)
            shaped = tag == 0x30 and end == size and size >= 4 and head < end and der[head] == 0x30
        except DerError:
            shaped = False
        if not shaped:
            raise NotACertificate("not a DER certificate (malformed structure)")
        return cls(der=der)

    @cached_property
    def x509(self) -> x509.Certificate:
        from cryptography import x509

        try:
            with warnings.catch_warnings():
                # A few roots in distribution bundles carry serial 0; cryptography only warns.
                warnings.simplefilter("ignore")
                parsed = x509.load_der_x509_certificate(self.der)
                # cryptography parses names, extensions and keys lazily: a damaged certificate (a
                # bad version, a duplicate extension, an unknown key) would otherwise fail later,
                # wherever a field is first read. Every field rotator reads is read here, once:
                # the one rule for malformed certificates everywhere.
                parsed.subject.rfc4514_string()
                parsed.issuer.rfc4514_string()
                _ = parsed.extensions, parsed.not_valid_before_utc, parsed.not_valid_after_utc
                parsed.public_key()
                return parsed
        except Exception as exc:  # cryptography raises many types for malformed input
            raise NotACertificate(f"not a readable DER certificate ({_reason(exc)})") from exc

    @property
    def parseable(self) -> bool:
        """Whether the X.509 parser accepts it (always true for ``from_der`` certificates)."""
        try:
            _ = self.x509
        except NotACertificate:
            return False
        return True

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
        from cryptography.x509.oid import NameOID

        names = self.x509.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if names:
            value = names[0].value
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
        return self.subject

    @cached_property
    def _validity(self) -> tuple[dt.datetime, dt.datetime]:
        try:
            return _der_validity(self.der)
        except ValueError:  # an encoding the short reader does not know: ask the parser
            return self.x509.not_valid_before_utc, self.x509.not_valid_after_utc

    @property
    def not_after(self) -> dt.datetime:
        return self._validity[1]

    @property
    def not_before(self) -> dt.datetime:
        return self._validity[0]

    @cached_property
    def is_ca(self) -> bool:
        from cryptography import x509
        from cryptography.utils import CryptographyDeprecationWarning

        try:
            with warnings.catch_warnings():
                # The extensions are parsed here, on first use: cryptography warns then about a root
                # with serial 0 (a few in distribution bundles). Not news to a service's journal.
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                bc = self.x509.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            return False
        return bc.ca

    @cached_property
    def is_self_issued(self) -> bool:
        return self.x509.subject == self.x509.issuer

    def to_pem(self) -> bytes:
        body = binascii.b2a_base64(self.der, newline=False)  # base64 (and struct) stay unloaded
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines) + b"\n-----END CERTIFICATE-----\n"

    def expired(self, at: dt.datetime) -> bool:
        return at > self.not_after

    @cached_property
    def signature_problem(self) -> str | None:
        """Why this certificate's signature cannot be checked (an algorithm the crypto library does
        not know), or None. Such a certificate signs nothing as far as rotator can tell."""
        from cryptography.exceptions import UnsupportedAlgorithm

        try:
            self.x509.signature_hash_algorithm  # noqa: B018 - raises for an unknown signature algorithm
        except UnsupportedAlgorithm:
            oid = self.x509.signature_algorithm_oid.dotted_string
            return f"signature algorithm {oid} not supported: cannot tell whether it signed the next one"
        except ValueError as exc:  # a known algorithm with parameters it cannot take (RSASSA-PSS without any)
            oid = self.x509.signature_algorithm_oid.dotted_string
            return (
                f"signature algorithm {oid} with unreadable parameters ({exc}): "
                "cannot tell whether it signed the next one"
            )
        return None

    def signed_by(self, issuer: Cert) -> bool:
        """True when ``issuer``'s key verifies this certificate's signature.

        ``verify_directly_issued_by`` refuses SHA-1 signatures (DigiCert Global Root CA is
        SHA-1 signed), so the public key's own ``verify`` is called here instead.
        """
        if self.x509.issuer != issuer.x509.subject:
            return False
        return signature_valid(self.x509, issuer.x509.public_key())


def signature_valid(cert: x509.Certificate, key: object) -> bool:
    """Whether ``key`` verifies ``cert``'s signature; an algorithm that cannot be checked is not a
    valid signature (the chain through it is not verified; ``Cert.signature_problem`` says why)."""
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa

    try:
        algorithm = cert.signature_hash_algorithm
    except (UnsupportedAlgorithm, ValueError):  # ValueError: parameters that cannot be read (PSS)
        return False
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
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        # ValueError/TypeError: parameters the key type cannot take (a PSS hash it does not support).
        return False
    return True


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def decode_block(body: bytes) -> bytes:
    """The DER inside one PEM block's base64 body; NotACertificate when the base64 is damaged."""
    try:
        return binascii.a2b_base64(body)  # what base64.b64decode(body) does, non-strict
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


def parse_one(data: bytes, *, lazily: bool = False) -> Cert:
    """Exactly one certificate, PEM or DER, sniffed from the bytes (never from a name or header).

    ``lazily``: check the shape only and leave the X.509 parse to the first field that needs it.
    """
    if not data:
        raise NotACertificate("empty file")
    make = Cert.from_der_lazily if lazily else Cert.from_der
    if looks_like_pem(data):
        blocks = pem_blocks(data)
        if len(blocks) != 1:
            raise NotACertificate(f"expected exactly one PEM certificate, found {len(blocks)}")
        if blocks[0] is None:
            raise NotACertificate("damaged base64 in the PEM block")
        return make(blocks[0])
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"{")):
        raise NotACertificate("got a web page or document, not a certificate")
    return make(data)


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


# -- validity dates and subject, read from the DER with rotator.der: no X.509 parser -----------


def _der_time(tag: int, raw: bytes) -> dt.datetime:
    """UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ), as RFC 5280 requires them.

    Parsed by hand: strptime loads locale and calendar modules, more than a no-op run costs.
    """
    text = raw.decode("ascii")
    if tag == 0x17 and len(text) == 13 and text.endswith("Z"):
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif not (tag == 0x18 and len(text) == 15 and text.endswith("Z")):
        raise ValueError("unsupported time encoding")
    if not text[:14].isdigit():
        raise ValueError("not a time")
    month, day, hour, minute, second = (int(text[i : i + 2]) for i in range(4, 14, 2))
    return dt.datetime(int(text[:4]), month, day, hour, minute, second, tzinfo=dt.UTC)


def _tbs_element(der: bytes, index: int) -> tuple[int, int, int, int]:
    """(start, tag, start of value, end) of TBSCertificate's element ``index`` after the optional
    version: 0 serialNumber, 1 signature, 2 issuer, 3 validity, 4 subject. DerError when the DER
    is not one certificate-shaped element or an element runs past the one holding it."""
    size = len(der)
    _, start, cert_end = header(der, 0, size)
    if cert_end != size:
        raise DerError(f"{size - cert_end} unexpected bytes after the certificate")
    _, pos, tbs_end = header(der, start, cert_end)  # into tbsCertificate
    tag, _, end = header(der, pos, tbs_end)
    if tag == 0xA0:  # explicit version
        pos = end
    for _ in range(index):
        _, _, pos = header(der, pos, tbs_end)
    return (pos, *header(der, pos, tbs_end))


def der_subject(der: bytes) -> bytes:
    """The DER of the certificate's subject Name (what OpenSSL hashes to name CApath links).

    DerError (a ValueError) when the short reader cannot find it.
    """
    start, tag, _, end = _tbs_element(der, 4)
    if tag != 0x30:
        raise DerError("no subject")
    return der[start:end]


def der_spki(der: bytes) -> bytes:
    """The DER of the certificate's SubjectPublicKeyInfo: the key, as a signature check sees it."""
    start, tag, _, end = _tbs_element(der, 5)
    if tag != 0x30:
        raise DerError("no subjectPublicKeyInfo")
    return der[start:end]


def der_issuer(der: bytes) -> bytes:
    """The DER of the certificate's issuer Name: equal to ``der_subject`` for a self-issued one."""
    start, tag, _, end = _tbs_element(der, 2)
    if tag != 0x30:
        raise DerError("no issuer")
    return der[start:end]


def _der_validity(der: bytes) -> tuple[dt.datetime, dt.datetime]:
    """notBefore and notAfter from TBSCertificate."""
    _, tag, pos, end = _tbs_element(der, 3)
    if tag != 0x30:
        raise DerError("no validity")
    tag_before, start_before, end_before = header(der, pos, end)
    tag_after, start_after, end_after = header(der, end_before, end)
    if end_after != end:
        raise DerError("unexpected bytes after notAfter")
    return (_der_time(tag_before, der[start_before:end_before]), _der_time(tag_after, der[start_after:end_after]))
