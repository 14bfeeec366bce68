"""The reference chains a store is judged against: what Azure's servers send, per service.

A chain is one or more variants, and a store survives the chain only when it survives every
variant: a MySQL server may sit on either anchor, an Azure China replica on G1 or G2. A variant is
either a real certificate path (the intermediates a server sends after its leaf, shipped in
``rotator/data/chains/``: the OCSP 02 intermediate and the DigiCert G2 cross-sign of Microsoft TLS
RSA Root G2) or, where no real intermediate ships with the package, the catalog root that anchors
it, by pin (Azure's guidance names the roots; the intermediates under Microsoft RSA Root CA 2017
and under G1 are not shipped).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from rotator.certs import Cert, parse_one
from rotator.records import NamedTuple

OCSP_02 = "microsoft-tls-g2-rsa-ca-ocsp-02.pem"
G2_CROSS_SIGN = "microsoft-tls-rsa-root-g2-xsign.pem"
# The key (SHA-256 of its SubjectPublicKeyInfo) whose signature each shipped certificate carries,
# checked once with the crypto library by tests/scan: a store certificate with the issuer's name
# and this key signs it, and no other can. Judging a store then needs no X.509 parser at all.
SIGNER_KEYS: dict[str, str] = {
    OCSP_02: "4b03c9966c863b2c008a95a5ed9254070448c7b219d283102f6a6c5b6e8e2acd",  # Microsoft TLS RSA Root G2
    G2_CROSS_SIGN: "8bb593a93be1d0e8a822bb887c547890c3e706aad2dab76254f97fb36b82fc26",  # DigiCert Global Root G2
}


class Variant(NamedTuple):
    label: str
    files: tuple[str, ...] = ()  # a real path, the certificate after the leaf first
    anchor_id: str = ""  # or: the catalog root that anchors it

    def path(self) -> tuple[Cert, ...]:
        return tuple(shipped(name) for name in self.files)


@cache
def shipped(name: str) -> Cert:
    """A certificate of ``rotator/data/chains/``, read once per run, its shape checked only."""
    folder = Path(__file__).parent.parent / "data" / "chains"
    return parse_one((folder / name).read_bytes(), lazily=True)


def signer_key(cert: Cert) -> str | None:
    """The pinned signer key of a shipped certificate, None for any other."""
    for name, key in SIGNER_KEYS.items():
        if shipped(name).sha256 == cert.sha256:
            return key
    return None


class Chain(NamedTuple):
    id: str
    label: str
    variants: tuple[Variant, ...]


_NEW_RSA = Variant("OCSP 02 under Microsoft TLS RSA Root G2, with the DigiCert G2 cross-sign", (OCSP_02, G2_CROSS_SIGN))

CHAINS: tuple[Chain, ...] = (
    Chain("postgresql", "PostgreSQL flexible server (OCSP 02, DigiCert G2 cross-sign)", (_NEW_RSA,)),
    Chain(
        "postgresql-no-xsign",
        "PostgreSQL flexible server sending no cross-sign",
        (Variant("OCSP 02 under Microsoft TLS RSA Root G2, no cross-sign", (OCSP_02,)),),
    ),
    Chain(
        "mysql",
        "MySQL flexible server (G2 and Microsoft RSA Root CA 2017 chains)",
        (_NEW_RSA, Variant("anchored at Microsoft RSA Root CA 2017", anchor_id="microsoft-rsa-root-2017")),
    ),
    Chain(
        "china",
        "Azure China regions (G1 until the move to G2, replicas on either)",
        (Variant("anchored at DigiCert Global Root CA (G1)", anchor_id="digicert-global-root-ca"), _NEW_RSA),
    ),
)

# --service NAME: the chains it means. The default leaves China out: its G1 chain fails every
# public bundle on purpose (G1 is publicly distrusted), which only China users need to hear.
SERVICES: dict[str, tuple[str, ...]] = {
    "postgresql": ("postgresql", "postgresql-no-xsign"),
    "mysql": ("mysql",),
    "china": ("china",),
    "all": tuple(chain.id for chain in CHAINS),
}
DEFAULT_SERVICES = ("postgresql", "mysql")


def for_services(services: tuple[str, ...]) -> tuple[Chain, ...]:
    wanted = {chain_id for service in services or DEFAULT_SERVICES for chain_id in SERVICES[service]}
    return tuple(chain for chain in CHAINS if chain.id in wanted)
