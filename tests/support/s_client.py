"""What ``openssl s_client -connect HOST:443 -showcerts`` prints around a server's certificates.

The probe tests and the chain-file fuzzing both write saved chains in this shape.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from rotator.certs import Cert

_SHORT = {
    NameOID.COUNTRY_NAME: "C",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.COMMON_NAME: "CN",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.LOCALITY_NAME: "L",
}


def _oneline(name: x509.Name) -> str:
    """s_client's default name format, in DER order: "C = US, O = Microsoft Corporation, CN = ..."."""
    return ", ".join(f"{_SHORT.get(a.oid, a.oid.dotted_string)} = {a.value!s}" for a in name)


def s_client_text(certs: Sequence[Cert]) -> str:
    """What ``openssl s_client -connect HOST:443 -showcerts`` prints around the certificates."""
    lines = [
        "CONNECTED(00000003)",
        f"depth={len(certs)} {_oneline(certs[-1].x509.issuer)}",
        "verify return:1",
        "---",
        "Certificate chain",
    ]
    for i, cert in enumerate(certs):
        lines.append(f" {i} s:{_oneline(cert.x509.subject)}")
        lines.append(f"   i:{_oneline(cert.x509.issuer)}")
        lines.append("   a:PKEY: rsaEncryption, 2048 (bit); sigalg: RSA-SHA384")
        lines.append(
            f"   v:NotBefore: {cert.not_before:%b %e %H:%M:%S %Y} GMT; NotAfter: {cert.not_after:%b %e %H:%M:%S %Y} GMT"
        )
        lines.append(cert.x509.public_bytes(Encoding.PEM).decode().rstrip("\n"))
    lines += [
        "---",
        "Server certificate",
        f"subject={_oneline(certs[0].x509.subject)}",
        f"issuer={_oneline(certs[0].x509.issuer)}",
        "---",
        "No client certificate CA names sent",
        "SSL handshake has read 4925 bytes and written 394 bytes",
        "Verification: OK",
        "---",
        "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384",
        "DONE",
    ]
    return "\n".join(lines) + "\n"
