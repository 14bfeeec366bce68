"""The verdict's signature check: each shipped certificate's signer key is pinned, and only a store
certificate with that name and that key counts as its signer."""

from __future__ import annotations

import datetime as dt
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rotator.certs import Cert, parse_one
from rotator.scan.chains import CHAINS, SIGNER_KEYS, shipped
from rotator.scan.verdict import Anchors
from tests.support.paths import embedded_pem

NOW = dt.datetime.now(dt.UTC)


def test_each_pinned_signer_key_verifies_its_certificate() -> None:
    # The key the pin names is a catalog root's, and the crypto library verifies the signature with it.
    roots = {rid: parse_one(embedded_pem(rid)) for rid in ("microsoft-tls-rsa-root-g2", "digicert-global-root-g2")}
    for name, key in SIGNER_KEYS.items():
        cert = shipped(name)
        signers = [
            r for r in roots.values()
            if hashlib.sha256(
                r.x509.public_key().public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            ).hexdigest() == key
        ]  # fmt: skip
        assert len(signers) == 1, name
        assert cert.signed_by(signers[0]), name
    # Every certificate on a shipped path has its signer pinned.
    assert {c.sha256 for chain in CHAINS for v in chain.variants for c in v.path()} == {
        shipped(name).sha256 for name in SIGNER_KEYS
    }


def _impostor(of: Cert) -> Cert:
    """A self-signed root with the very name of ``of`` and a key of its own."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = of.x509.subject
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Cert.from_der(cert.public_bytes(serialization.Encoding.DER))


def test_a_root_with_the_right_name_and_another_key_signs_nothing() -> None:
    real = parse_one(embedded_pem("microsoft-tls-rsa-root-g2"))
    ocsp_02 = next(shipped(n) for n in SIGNER_KEYS if shipped(n).issuer == real.subject)

    assert Anchors([real], NOW).signer_of(ocsp_02) == real
    assert Anchors([_impostor(real)], NOW).signer_of(ocsp_02) is None
    assert _impostor(real).subject == real.subject  # the name alone would have matched
