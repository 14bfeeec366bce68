"""Test PKI: roots, intermediates and leaves made with cryptography, written as PEM files."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = dt.datetime.now(dt.UTC)


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
        cert_path.write_bytes(self.pem)
        key_path.write_bytes(self.key_pem())
        key_path.chmod(0o600)
        return cert_path, key_path


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "rotator tests"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


def make_root(
    cn: str = "Test Root", *, days: int = 3650, not_before: dt.datetime | None = None, ca: bool = True
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or NOW - dt.timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=ca,
                crl_sign=ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return Issued(builder.sign(key, hashes.SHA256()), key)


def _ca_certificate(
    subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: Issued, *, path_length: int | None, days: int
) -> x509.Certificate:
    """A CA certificate for ``subject`` and ``key``, signed by ``issuer``."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    )
    return builder.sign(issuer.key, hashes.SHA256())


def make_intermediate(issuer: Issued, cn: str = "Test Intermediate", *, days: int = 1825) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    return Issued(_ca_certificate(_name(cn), key, issuer, path_length=0, days=days), key)


def make_leaf(
    issuer: Issued,
    hostnames: tuple[str, ...] = ("localhost",),
    *,
    ips: tuple[str, ...] = ("127.0.0.1",),
    days: int = 90,
) -> Issued:
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    san: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
    san += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(hostnames[0]))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=False,
                crl_sign=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    )
    return Issued(builder.sign(issuer.key, hashes.SHA256()), key)


def make_cross_sign(subject: Issued, issuer: Issued, *, days: int = 1000) -> Issued:
    """``subject``'s name and key, issued by ``issuer``: what Azure's cross-signed roots are (Microsoft
    TLS RSA Root G2 by DigiCert Global Root G2)."""
    cert = _ca_certificate(subject.cert.subject, subject.key, issuer, path_length=None, days=days)
    return Issued(cert, subject.key)


@dataclass
class Rotation:
    """An "old" and a "new" root, each with an intermediate and a ``localhost`` server certificate:
    a server rotating from one chain to the other."""

    old_root: Issued
    old_ca: Issued
    old_leaf: Issued
    new_root: Issued
    new_ca: Issued
    new_leaf: Issued

    @property
    def old(self) -> list[Issued]:
        return [self.old_leaf, self.old_ca]

    @property
    def new(self) -> list[Issued]:
        return [self.new_leaf, self.new_ca]


def make_rotation(label: str, old_root_cn: str = "Old Root", new_root_cn: str = "New Root") -> Rotation:
    old_root = make_root(f"{label} {old_root_cn}")
    old_ca = make_intermediate(old_root, f"{label} Old Intermediate")
    new_root = make_root(f"{label} {new_root_cn}")
    new_ca = make_intermediate(new_root, f"{label} New Intermediate")
    return Rotation(
        old_root, old_ca, make_leaf(old_ca, ("localhost",)), new_root, new_ca, make_leaf(new_ca, ("localhost",))
    )


@dataclass
class Hierarchy:
    g1: Issued  # DigiCert Global Root CA: the old root
    g2: Issued  # DigiCert Global Root G2: a new root
    rsa2017: Issued  # Microsoft RSA Root CA 2017: the other new root
    ms_g2: Issued  # Microsoft TLS RSA Root G2, self-signed: in no profile
    chains: dict[str, tuple[list[Issued], Issued]]  # name: (what the server sends, its key)


def make_hierarchy(label: str = "Matrix") -> Hierarchy:
    """Stand-ins for Azure's roots and the chains a server serves in turn through a rotation."""
    g1, g2 = make_root(f"{label} Global Root CA"), make_root(f"{label} Global Root G2")
    rsa2017, ms_g2 = make_root(f"{label} RSA Root CA 2017"), make_root(f"{label} TLS RSA Root G2")
    old_ca = make_intermediate(g1, f"{label} G1 Issuing CA")
    ms_ca = make_intermediate(ms_g2, f"{label} TLS G2 Issuing CA")
    ca2017 = make_intermediate(rsa2017, f"{label} RSA 2017 Issuing CA")
    cross = make_cross_sign(ms_g2, g2)
    old_leaf, new_leaf, leaf2017 = make_leaf(old_ca), make_leaf(ms_ca), make_leaf(ca2017)
    return Hierarchy(
        g1,
        g2,
        rsa2017,
        ms_g2,
        {
            "old": ([old_leaf, old_ca], old_leaf),
            "new-with-cross-sign": ([new_leaf, ms_ca, cross], new_leaf),
            "new-without-cross-sign": ([new_leaf, ms_ca], new_leaf),
            "rsa-2017": ([leaf2017, ca2017], leaf2017),
        },
    )
