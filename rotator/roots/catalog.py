"""The Azure root CAs rotator knows, with pins, official locations, lifecycle and profiles.

Pins live here (or in the user's config), never in anything downloaded.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType

from rotator.errors import ConfigError
from rotator.records import NamedTuple

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")

DIGICERT = "https://cacerts.digicert.com/"
MICROSOFT = "https://www.microsoft.com/pkiops/certs/"

CURRENT = "current"
LEGACY = "legacy"
RETIRED = "retired"
STATUSES = (CURRENT, LEGACY, RETIRED)

# Whether the public trust programs (Mozilla, and with it certifi and the distributions; Chrome,
# Apple, Microsoft) include a root. A root they removed must not be re-trusted host-wide by rotator.
TRUST_IN = "in"
TRUST_NOT_YET = "not yet"
TRUST_REMOVED = "removed"


class Root(NamedTuple):
    """A root CA and everything needed to obtain and prove it."""

    id: str
    name: str
    sha256: str
    urls: tuple[str, ...] = ()
    sha1: str = ""
    key: str = ""
    not_after: dt.date | None = None
    status: str = CURRENT
    note: str = ""
    embedded: bool = False  # a copy ships in rotator/data/<id>.pem
    file: Path | None = None  # a local copy named in the user's config
    custom: bool = False
    trusted_from: dt.date | None = None
    retire_after: dt.date | None = None
    retire_reason: str = ""
    kept: bool = False  # the user's `keep`: stays in the stores whatever the lifecycle says
    role: str = ""  # what it anchors for Azure
    public_trust: str = ""  # TRUST_IN, TRUST_NOT_YET, TRUST_REMOVED; "" for custom roots (unknown)
    public_trust_date: dt.date | None = None  # for TRUST_REMOVED: the day it was removed
    public_trust_note: str = ""

    def embedded_bytes(self) -> bytes | None:
        if not self.embedded:
            return None
        # The package's data directory, read as a plain file: importlib.resources (with zipfile,
        # shutil and compression modules behind it) costs more than the read itself.
        return (Path(__file__).parent.parent / "data" / f"{self.id}.pem").read_bytes()

    def active_at(self, day: dt.date) -> bool:
        """Whether the lifecycle wants this root in a store on ``day``."""
        if self.kept:
            return True
        if self.trusted_from is not None and day < self.trusted_from:
            return False
        if self.not_after is not None and day > self.not_after:
            return False  # an expired root protects nothing: it leaves the stores rotator manages
        return not (self.retire_after is not None and day > self.retire_after)

    def distrusted_at(self, day: dt.date) -> bool:
        """Whether the public trust programs had removed this root by ``day``."""
        if self.public_trust != TRUST_REMOVED:
            return False
        return self.public_trust_date is None or day >= self.public_trust_date

    @property
    def public_trust_text(self) -> str:
        if not self.public_trust:
            return "unknown (custom root)"
        if self.public_trust == TRUST_REMOVED and self.public_trust_date:
            return f"removed {self.public_trust_date}"
        return self.public_trust


class CrossSign(NamedTuple):
    """A cross-certificate: the subject root's name and key, issued by an older root.

    A catalog fact, never an anchor: it lets a store that holds the issuing root reach the
    subject's hierarchy, until it expires. Stores should hold the self-signed root itself.
    """

    subject_id: str  # the hierarchy it reaches (a catalog root id, or the id its root will get)
    subject_name: str
    issuer_id: str  # the catalog root that signed it
    sha256: str
    sha1: str
    not_after: dt.date
    note: str = ""

    @property
    def label(self) -> str:
        return f"{self.subject_name} cross-signed by {self.issuer_id}"


def root_to_add(cross_sign: CrossSign, catalog_ids: Collection[str], *, before_expiry: bool = False) -> str:
    """Which root a store should add so that it anchors ``cross_sign``'s hierarchy itself: the
    hierarchy's self-signed root when ``catalog_ids`` (every catalog root's id) has a pin for it, else
    a newer rotator (``before_expiry``: before the cross-sign the store relies on expires).

    The one wording of this advice, for ``status`` (``rotator.sync.status``) and ``probe``
    (``rotator.probe.judge``)."""
    if cross_sign.subject_id in catalog_ids:
        return f'add {cross_sign.subject_id} to this target (include = ["{cross_sign.subject_id}"])'
    when = " before then" if before_expiry else ""
    return f"no pin for the self-signed {cross_sign.subject_name} is known to this catalog yet: update rotator{when}"


def only_through(
    cross_sign: CrossSign, catalog_ids: Collection[str], *, until: dt.date | None = None, days_left: int | None = None
) -> str:
    """A store that reaches a hierarchy only through ``cross_sign``: until when, and which root to add
    (``root_to_add``). ``until``: when that route ends (omitted where the date is shown beside it)."""
    when = f" on {until}" if until is not None else ""
    left = f" ({days_left} days left)" if days_left is not None else ""
    return (
        f"reaches {cross_sign.subject_name} only through the {cross_sign.issuer_id} cross-sign, which expires"
        f"{when}{left}: {root_to_add(cross_sign, catalog_ids, before_expiry=True)}"
    )


def _digicert(name: str) -> tuple[str, ...]:
    return (f"{DIGICERT}{name}.crt.pem", f"{DIGICERT}{name}.crt")


BUILTIN_ROOTS: tuple[Root, ...] = (
    Root(
        id="digicert-global-root-ca",
        name="DigiCert Global Root CA",
        sha256="4348a0e9444c78cb265e058d5e8944b4d84f9662bd26db257f8934a443c70161",
        sha1="a8985d3a65e5e5c4b2d7d66d40c6dd2fb19c5436",
        urls=_digicert("DigiCertGlobalRootCA"),
        key="RSA 2048 (SHA-1 signed)",
        not_after=dt.date(2031, 11, 10),
        status=LEGACY,
        note=(
            "G1. Azure still lists it for legacy and China regions (China moved to G2 from 2026-03-09; "
            "replicas may sit on either). Mozilla and Chrome distrusted it for TLS from 2026-04-15 and "
            "certifi no longer ships it, so it must be added explicitly."
        ),
        role="legacy Azure TLS root (older chains, Azure China until its move to G2)",
        public_trust=TRUST_REMOVED,
        public_trust_date=dt.date(2026, 4, 15),
        public_trust_note=(
            "distrusted for TLS by Mozilla and Chrome from 2026-04-15; dropped by certifi 2026.04 and "
            "Debian's ca-certificates 20260601"
        ),
        embedded=True,
    ),
    Root(
        id="digicert-global-root-g2",
        name="DigiCert Global Root G2",
        sha256="cb3ccbb76031e5e0138f8dd39a23f9de47ffc35e43c1144cea27d46a5ab1cb5f",
        sha1="df3c24f9bfd666761b268073fe06d1cc8d4f82a4",
        urls=_digicert("DigiCertGlobalRootG2"),
        key="RSA 2048",
        not_after=dt.date(2038, 1, 15),
        note="Anchors PostgreSQL and MySQL flexible server chains (MySQL G1->G2 deadline 2025-09-01).",
        role="anchors Azure's RSA chains, and through its cross-sign the Microsoft TLS RSA Root G2 hierarchy",
        public_trust=TRUST_IN,
        embedded=True,
    ),
    Root(
        id="digicert-global-root-g3",
        name="DigiCert Global Root G3",
        sha256="31ad6648f8104138c738f39ea4320133393e3a18cc02296ef97c2ac9ef6731d0",
        sha1="7e04de896a3e666d00e687d33ffad93be83d349e",
        urls=_digicert("DigiCertGlobalRootG3"),
        key="ECC P-384",
        not_after=dt.date(2038, 1, 15),
        note="Part of Azure's complete root set.",
        role="Azure ECC chains, and through its cross-sign the Microsoft TLS ECC Root G2 hierarchy",
        public_trust=TRUST_IN,
        embedded=True,
    ),
    Root(
        id="digicert-tls-ecc-p384-root-g5",
        name="DigiCert TLS ECC P384 Root G5",
        sha256="018e13f0772532cf809bd1b17281867283fc48c6e13be9c69812854a490c1b05",
        sha1="17f3de5e9f0f19e98ef61f32266e20c407ae30ee",
        urls=_digicert("DigiCertTLSECCP384RootG5"),
        key="ECC P-384",
        not_after=dt.date(2046, 1, 14),
        note="Part of Azure's complete root set.",
        role="successor DigiCert ECC root in Azure's complete set",
        public_trust=TRUST_IN,
        embedded=True,
    ),
    Root(
        id="digicert-tls-rsa4096-root-g5",
        name="DigiCert TLS RSA4096 Root G5",
        sha256="371a00dc0533b3721a7eeb40e8419e70799d2b0a0f2c1d80693165f7cec4ad75",
        sha1="a78849dc5d7c758c8cde399856b3aad0b2a57135",
        urls=_digicert("DigiCertTLSRSA4096RootG5"),
        key="RSA 4096",
        not_after=dt.date(2046, 1, 14),
        note="Part of Azure's complete root set.",
        role="successor DigiCert RSA root in Azure's complete set",
        public_trust=TRUST_IN,
        embedded=True,
    ),
    Root(
        id="microsoft-rsa-root-2017",
        name="Microsoft RSA Root Certificate Authority 2017",
        sha256="c741f70f4b2a8d88bf2e71c14122ef53ef10eba0cfa5e64cfa20f418853073e0",
        sha1="73a5e64a3bff8316ff0edccc618a906e4eae4d74",
        urls=(f"{MICROSOFT}Microsoft%20RSA%20Root%20Certificate%20Authority%202017.crt",),
        key="RSA 4096",
        not_after=dt.date(2042, 7, 18),
        note="Cross-anchors Azure database chains next to G2; Microsoft serves DER only.",
        role="cross-anchors Azure's RSA chains next to DigiCert Global Root G2",
        public_trust=TRUST_IN,
        embedded=True,
    ),
    Root(
        id="microsoft-ecc-root-2017",
        name="Microsoft ECC Root Certificate Authority 2017",
        sha256="358df39d764af9e1b766e9c972df352ee15cfac227af6ad1d70e8e4a6edcba02",
        sha1="999a64c37ff47d9fab95f14769891460eec4c3c5",
        urls=(f"{MICROSOFT}Microsoft%20ECC%20Root%20Certificate%20Authority%202017.crt",),
        key="ECC P-384",
        not_after=dt.date(2042, 7, 18),
        note="Part of Azure's complete root set; Microsoft serves DER only.",
        role="cross-anchors Azure's ECC chains",
        public_trust=TRUST_IN,
        embedded=True,
    ),
    Root(
        id="microsoft-tls-rsa-root-g2",
        name="Microsoft TLS RSA Root G2",
        sha256="6a170583db584151e1c454eeca2a64cc5d8e484a5bd1156e720b4458654ee9e5",
        sha1="21734d95a2473be25cbfd12a84c6fbc5bc8e2414",
        urls=(f"{MICROSOFT}Microsoft%20TLS%20RSA%20Root%20G2.crt",),
        key="RSA 4096",
        not_after=dt.date(2040, 4, 10),
        note=(
            "Azure endpoints (PostgreSQL flexible server from 2025-11, IMDS and others in 2026) chain to it "
            "through Microsoft TLS G2 RSA CA OCSP 02..16. Some send no cross-sign, and the DigiCert Global Root "
            "G2 cross-sign expires 2029-06-19: only the self-signed root anchors those chains. Microsoft serves "
            "DER only."
        ),
        role="root of Microsoft's TLS RSA hierarchy that Azure endpoints moved to in 2025-2026",
        public_trust=TRUST_NOT_YET,
        public_trust_note=(
            "not in Mozilla-derived root lists (checked mid-2026); publicly trusted only through the DigiCert "
            "Global Root G2 cross-sign until 2029-06-19"
        ),
        embedded=True,
    ),
    Root(
        id="baltimore-cybertrust-root",
        name="Baltimore CyberTrust Root",
        sha256="16af57a9f676b0ab126095aa5ebadef22ab31119d644ac95cd4b93dbf3f26aeb",
        sha1="d4de20d05e66fc53fe1a50882c78db2852cae474",
        urls=_digicert("BaltimoreCyberTrustRoot"),
        key="RSA 2048",
        not_after=dt.date(2025, 5, 12),
        status=RETIRED,
        note="Azure migrated from Baltimore to G2 in 2020-2024; the root expired 2025-05-12.",
        role="retired: anchored Azure before the 2020-2024 move to G2",
        public_trust=TRUST_REMOVED,
        public_trust_date=dt.date(2025, 5, 12),
        public_trust_note="dropped from Mozilla's list in 2025; expired 2025-05-12",
        embedded=True,
        retire_after=dt.date(2025, 5, 12),
        retire_reason="expired 2025-05-12 after Azure's Baltimore to DigiCert Global Root G2 migration",
    ),
)

# The two cross-certificates Azure's new chains carry (public data; SHA-1 as Microsoft publishes it).
BUILTIN_CROSS_SIGNS: tuple[CrossSign, ...] = (
    CrossSign(
        subject_id="microsoft-tls-rsa-root-g2",
        subject_name="Microsoft TLS RSA Root G2",
        issuer_id="digicert-global-root-g2",
        sha256="ddcd1e8a20638d4aaff7201bb1d56452acd2c759f1686bdc38f73dd15732bdc2",
        sha1="b5ee89e77326ab2bf1775bd99c19a28947ff8184",
        not_after=dt.date(2029, 6, 19),
        note="after it expires, only stores holding microsoft-tls-rsa-root-g2 itself trust the new RSA chains",
    ),
    CrossSign(
        subject_id="microsoft-tls-ecc-root-g2",
        subject_name="Microsoft TLS ECC Root G2",
        issuer_id="digicert-global-root-g3",
        sha256="61799e3594f6fa6c9f619031e4a3c9f643fda38c083704a5075e5709a21b1ab7",
        sha1="7fa05acf9b4aabb0de0cfafa297ddf92fdc5f3f5",
        not_after=dt.date(2029, 6, 19),
        note="no pin for the self-signed Microsoft TLS ECC Root G2 is known yet; a later catalog will carry it",
    ),
)

G1 = "digicert-global-root-ca"
_ALL_CURRENT = tuple(r.id for r in BUILTIN_ROOTS if r.status == CURRENT)
_DATABASE = ("digicert-global-root-g2", "microsoft-rsa-root-2017", "microsoft-tls-rsa-root-g2")

BUILTIN_PROFILES: dict[str, tuple[str, ...]] = {
    "azure-all": _ALL_CURRENT,
    "azure-postgresql": _DATABASE,
    "azure-mysql": _DATABASE,
    "azure-minimal": ("digicert-global-root-g2", "microsoft-rsa-root-2017"),
    "azure-legacy": (*_ALL_CURRENT, G1),
}
PROFILE_PURPOSES: dict[str, str] = {
    "azure-all": "every current Azure root (Microsoft's advice); the default, fit for host-wide stores",
    "azure-postgresql": "PostgreSQL flexible server clients: G2, Microsoft RSA 2017 and Microsoft TLS RSA Root G2",
    "azure-mysql": "MySQL flexible server clients: the same roots as azure-postgresql",
    "azure-minimal": (
        "G2 and Microsoft RSA 2017 only; reaches Microsoft TLS RSA Root G2 through the cross-sign until "
        "2029-06-19 (status shows the deadline)"
    ),
    "azure-legacy": (
        "azure-all plus DigiCert Global Root CA (G1, publicly distrusted) for the bundle of a client that still "
        "meets G1 chains (Azure China, replicas mid-migration); host-wide stores skip G1 unless allowed"
    ),
}
DEFAULT_PROFILE = "azure-all"


class Catalog(NamedTuple):
    roots: Mapping[str, Root]
    profiles: Mapping[str, tuple[str, ...]] = MappingProxyType({})
    cross_signs: tuple[CrossSign, ...] = ()

    @classmethod
    def builtin(cls) -> Catalog:
        return cls(
            roots={r.id: r for r in BUILTIN_ROOTS}, profiles=dict(BUILTIN_PROFILES), cross_signs=BUILTIN_CROSS_SIGNS
        )

    def purpose(self, profile: str) -> str:
        if profile in PROFILE_PURPOSES and self.profiles.get(profile) == BUILTIN_PROFILES.get(profile):
            return PROFILE_PURPOSES[profile]
        return "defined in the configuration"

    def extended(
        self, roots: Iterable[Root], profiles: Mapping[str, Iterable[str]], keep: Iterable[str] = ()
    ) -> Catalog:
        """The catalog plus the user's own roots and profiles; ``keep`` cancels retirement."""
        merged = dict(self.roots)
        for root in roots:
            if root.id in merged:
                raise ConfigError(
                    f"roots: id {root.id!r} is already a catalog root; choose another id for a custom root"
                )
            merged[root.id] = root
        all_profiles = dict(self.profiles)
        for name, ids in profiles.items():
            all_profiles[name] = tuple(ids)
        for key, ids in all_profiles.items():
            for root_id in ids:
                if root_id not in merged:
                    raise ConfigError(
                        f"profiles.{key}: unknown root id {root_id!r}; `rotator catalog` lists the known ids"
                    )
        for root_id in keep:
            if root_id not in merged:
                raise ConfigError(f"keep: unknown root id {root_id!r}; `rotator catalog` lists the known ids")
            merged[root_id] = merged[root_id]._replace(kept=True)
        return Catalog(roots=merged, profiles=all_profiles, cross_signs=self.cross_signs)

    def select(self, profile: str, include: Iterable[str] = ()) -> tuple[Root, ...]:
        """The roots of a profile plus extra ids, in profile order, without duplicates."""
        if profile not in self.profiles:
            known = ", ".join(sorted(self.profiles))
            raise ConfigError(f"profile: unknown profile {profile!r} (known: {known})")
        ids = list(self.profiles[profile])
        for root_id in include:
            if root_id not in self.roots:
                raise ConfigError(
                    f"unknown root id {root_id!r} (from --root or include); `rotator catalog` lists the known ids"
                )
            if root_id not in ids:
                ids.append(root_id)
        return tuple(self.roots[i] for i in ids)
