"""PKCS#12 Java trust stores as bytes, read and written through cryptography.

The file is rebuilt from its bags: rotator's certificate bags are replaced, every other bag is
kept byte for byte (``stores.keystore.pkcs12_bags``), and a store holding a bag rotator cannot write back
(a private or secret key, a CRL) is refused. The protection (MAC, encryption) stays as it was.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rotator.der import DerError, Tlv, read_exact, sequence
from rotator.records import TYPE_CHECKING
from stores.keystore.base import INTEGRITY_FAILED, Format, Keystore, KeystoreProblem, Reason, TrustedCert
from stores.keystore.pkcs12_bags import BagProblem, Pfx, read_pfx, rewrite, trusted_bags

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import pkcs12

# cryptography is imported where a file is read or written.

OID_DATA = "1.2.840.113549.1.7.1"
OID_ENCRYPTED_DATA = "1.2.840.113549.1.7.6"
OID_CERT_BAG = "1.2.840.113549.1.12.10.1.3"
OID_SHA1 = "1.3.14.3.2.26"
OID_SHA256 = "2.16.840.1.101.3.4.2.1"
BAG_NAMES = {
    "1.2.840.113549.1.12.10.1.1": "a private key",
    "1.2.840.113549.1.12.10.1.2": "a private key",
    "1.2.840.113549.1.12.10.1.4": "a CRL",
    "1.2.840.113549.1.12.10.1.5": "a secret key",
    "1.2.840.113549.1.12.10.1.6": "nested safe contents",
}


@dataclass(frozen=True)
class Protection:
    """How a PKCS#12 file is protected, so a rewrite keeps it readable by the same clients."""

    mac: str | None  # digest OID of the MAC, None when the file has none (Temurin's cacerts)
    encrypted: bool  # certificates inside an encrypted container


class Pkcs12Keystore(Keystore):
    format = Format.PKCS12

    def __init__(self, pfx: Pfx | None, password: str, protection: Protection) -> None:
        self._pfx = pfx  # None for a store that does not exist yet
        self._password = password
        self._protection = protection
        untrusted = sum(1 for b in pfx.bags() if b.is_cert and not b.java_trusted) if pfx else 0
        self.notes = (
            (
                f"{untrusted} certificate{'s' if untrusted != 1 else ''} without Java's trust attribute kept as "
                f"{'they are' if untrusted != 1 else 'it is'} (Java does not trust "
                f"{'them' if untrusted != 1 else 'it'})",
            )
            if untrusted
            else ()
        )

    @classmethod
    def new(cls, password: str) -> Pkcs12Keystore:
        # An empty password gets Temurin's layout (no MAC, no encryption): Java opens it with
        # or without a password; with a password, keytool's own default protection.
        if not password:
            return cls(None, password, Protection(mac=None, encrypted=False))
        return cls(None, password, Protection(mac=OID_SHA256, encrypted=True))

    @classmethod
    def load(cls, data: bytes, password: str) -> Pkcs12Keystore:
        from cryptography.hazmat.primitives.serialization import pkcs12

        protection = inspect_pkcs12(data)
        with warnings.catch_warnings():
            # Bytes that are not valid DER make cryptography warn and read them again as BER.
            # Java writes DER and so does rotator: such a file is damaged, and said so.
            warnings.filterwarnings("error", message="PKCS#12 bundle could not be parsed as DER", category=UserWarning)
            try:
                loaded = pkcs12.load_pkcs12(data, password.encode("utf-8"))
            except UserWarning as exc:
                details = str(exc).rpartition("Error details: ")[2]
                raise KeystoreProblem(Reason.DAMAGED, f"it is damaged: not valid DER ({details})") from exc
            except ValueError as exc:
                # The structure was checked above, so this is the MAC or the decryption failing.
                raise KeystoreProblem(Reason.PASSWORD, INTEGRITY_FAILED) from exc
        if loaded.key is not None or loaded.cert is not None:
            raise KeystoreProblem(
                Reason.UNSUPPORTED,
                "it holds a private key, which rotator cannot write back safely",
                "keep trusted roots in a separate trust store",
            )
        try:
            pfx = read_pfx(data, password)
        except BagProblem as exc:
            reason = Reason.DAMAGED if exc.damaged else Reason.UNSUPPORTED
            raise KeystoreProblem(
                reason, f"{exc}; rotator only rewrites a store when it can keep every other entry exactly as it is"
            ) from exc
        except (DerError, IndexError, ValueError) as exc:
            raise KeystoreProblem(
                Reason.DAMAGED, f"it is damaged or truncated ({exc or 'unexpected structure'})"
            ) from exc
        for bag in pfx.bags():
            if not bag.is_cert:
                what = BAG_NAMES.get(bag.type_oid, f"an entry of type {bag.type_oid}")
                raise KeystoreProblem(
                    Reason.UNSUPPORTED,
                    f"it holds {what}, which rotator cannot write back safely; keep trusted roots in a "
                    "separate trust store",
                )
        return cls(pfx, password, protection)

    def trusted(self) -> list[TrustedCert]:
        # Java only trusts certificate bags with its trust attribute: the others are not entries
        # to it (keytool does not list them), so they do not make a root present either.
        if self._pfx is None:
            return []
        return [
            TrustedCert(alias=b.alias, der=b.der)
            for b in self._pfx.bags()
            if b.is_cert and b.java_trusted and b.der is not None
        ]

    def _serialize(self, certs: list[pkcs12.PKCS12Certificate]) -> bytes:
        """A whole new file holding ``certs``, protected as this store is."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.serialization import (
            BestAvailableEncryption,
            NoEncryption,
            PrivateFormat,
            pkcs12,
        )

        prot = self._protection
        if prot.mac is None and not prot.encrypted:
            return _strip_mac(pkcs12.serialize_java_truststore(certs, NoEncryption()))
        if not self._password:
            return pkcs12.serialize_java_truststore(certs, NoEncryption())
        if prot.mac == OID_SHA1:
            # Keep files made by older JDKs readable by them: SHA-1 MAC, 3DES certificate container.
            legacy = (
                PrivateFormat.PKCS12.encryption_builder()
                .kdf_rounds(50000)
                .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
                .hmac_hash(hashes.SHA1())  # noqa: S303 - what those JDKs can read
                .build(self._password.encode("utf-8"))
            )
            return pkcs12.serialize_java_truststore(certs, legacy)
        return pkcs12.serialize_java_truststore(certs, BestAvailableEncryption(self._password.encode("utf-8")))

    def render(self, remove: Iterable[str], add: Sequence[TrustedCert]) -> bytes:
        from cryptography.hazmat.primitives.serialization import NoEncryption, pkcs12

        certs = []
        for cert in add:
            assert cert.alias is not None
            certs.append(pkcs12.PKCS12Certificate(_load_der(cert.der), cert.alias.encode("utf-8")))
        if self._pfx is None:
            if not certs:
                raise ValueError("a new store needs at least one certificate")
            return self._serialize(certs)
        # rotator's new bags come from cryptography's Java trust store writer (friendly name and
        # trust attribute as keytool writes them); every other bag is kept as it is.
        new_bags = trusted_bags(pkcs12.serialize_java_truststore(certs, NoEncryption())) if certs else []
        return rewrite(self._pfx, set(remove), new_bags)


def inspect_pkcs12(data: bytes) -> Protection:
    """Walk the outer layers: damaged files, and bags rotator would drop, are refused here."""
    try:
        pfx = read_exact(data)
        parts = pfx.children()
        if pfx.tag != 0x30 or len(parts) not in (2, 3) or parts[0].tag != 0x02:
            raise DerError("not a PKCS#12 PFX structure")
        if parts[0].value != b"\x03":
            raise DerError(f"PFX version {int.from_bytes(parts[0].value, 'big', signed=True)}, not 3")
        auth_safe = _content(parts[1], OID_DATA)
        encrypted = False
        for info in auth_safe.children():
            kind = info.children()[0].oid()
            if kind == OID_ENCRYPTED_DATA:
                encrypted = True
                continue
            if kind != OID_DATA:
                raise KeystoreProblem(Reason.UNSUPPORTED, f"it holds a container of type {kind} rotator cannot read")
            for bag in _content(info, OID_DATA).children():
                bag_id = bag.children()[0].oid()
                if bag_id != OID_CERT_BAG:
                    what = BAG_NAMES.get(bag_id, f"an entry of type {bag_id}")
                    raise KeystoreProblem(
                        Reason.UNSUPPORTED,
                        f"it holds {what}, which rotator cannot write back safely",
                        "keep trusted roots in a separate trust store",
                    )
        mac = None
        if len(parts) == 3:
            mac = parts[2].children()[0].children()[0].children()[0].oid()
    except (DerError, IndexError) as exc:
        raise KeystoreProblem(Reason.DAMAGED, f"it is damaged or truncated ({exc or 'unexpected structure'})") from exc
    return Protection(mac=mac, encrypted=encrypted)


def _content(info: Tlv, expected_oid: str) -> Tlv:
    """The inner value of a ContentInfo of type data: ``[0] EXPLICIT OCTET STRING`` holding DER."""
    fields = info.children()
    if fields[0].oid() != expected_oid or len(fields) != 2 or fields[1].tag != 0xA0:
        raise DerError("unexpected content type")
    octets = read_exact(fields[1].value)
    if octets.tag != 0x04:
        raise DerError("content is not an OCTET STRING")
    return read_exact(octets.value)


def _strip_mac(data: bytes) -> bytes:
    version, auth_safe, *_ = read_exact(data).children()
    return sequence(version.raw, auth_safe.raw)


def _load_der(der: bytes) -> x509.Certificate:
    from cryptography import x509

    return x509.load_der_x509_certificate(der)
