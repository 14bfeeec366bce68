"""``rotator scan``: find the stores, read each, judge it against the service's chains, say the fix.

Read-only and offline: nothing is written (but the file --write-config names), nothing is
downloaded, and the only program run is a node binary root or the scanning user owns, bounded.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Mapping
from pathlib import Path

from rotator.certs import Cert, NotACertificate, der_subject
from rotator.der import DerError
from rotator.records import NamedTuple
from rotator.roots.catalog import BUILTIN_CROSS_SIGNS, BUILTIN_PROFILES, BUILTIN_ROOTS, Root
from rotator.scan import chains as chain_table
from rotator.scan import contents, finders, fix, settings, walk
from rotator.scan import found as kinds
from rotator.scan.found import Found, Unreadable
from rotator.scan.verdict import FAILS, SURVIVES, Anchors, Verdict, judge

DEFAULT_TIME_LIMIT = 300.0
# Where the walk looks, inside the root, besides the homes in passwd and --include.
WALK_STARTS = ("usr/lib", "usr/lib64", "usr/local", "usr/share", "opt", "srv", "root")


class ScanRequest(NamedTuple):
    root: Path = Path("/")
    services: tuple[str, ...] = ()
    includes: tuple[Path, ...] = ()
    at: dt.datetime | None = None
    time_limit: float = DEFAULT_TIME_LIMIT
    config: Path | None = None  # the config whose targets count as managed
    environ: Mapping[str, str] = {}  # the scanning shell's, on a live host (never changed)


class StoreReport:
    def __init__(self, found: Found, count: int = 0) -> None:
        self.found = found
        self.count = count
        self.azure_roots: list[str] = []
        self.azure_intermediates: list[str] = []
        self.verdicts: dict[str, Verdict] = {}
        self.managed = False
        self.target: fix.TargetFix | None = None
        self.setting: tuple[str, str] | None = None  # (setting, where) when no target can fix it

    @property
    def fails(self) -> bool:
        return any(v.outcome == FAILS for v in self.verdicts.values()) or bool(self.azure_intermediates)

    @property
    def deadline(self) -> dt.date | None:
        dates = [v.until for v in self.verdicts.values() if v.until]
        return min(dates) if dates else None


class ScanResult(NamedTuple):
    chains: tuple[chain_table.Chain, ...]
    stores: list[StoreReport]
    unreadable: list[tuple[Found | None, Unreadable]]
    entries: int
    seconds: float
    incomplete: str = ""
    skipped_mounts: list[str] = []  # noqa: RUF012 - never changed; built whole by scan()

    @property
    def failing(self) -> list[StoreReport]:
        return [s for s in self.stores if s.fails]


def scan(request: ScanRequest) -> ScanResult:
    started = time.monotonic()
    at = request.at or dt.datetime.now(dt.UTC)
    root = request.root
    chains = chain_table.for_services(request.services)
    findings = finders.Findings(root)
    people = finders.accounts(root)

    homes = [root / a.home.lstrip("/") for a in people if a.home not in ("/", "/nonexistent")]
    starts = walk.starts([root / s for s in WALK_STARTS] + homes + list(request.includes))
    skip = walk.skipped_mounts() | {str(root / top) for top in walk.PSEUDO_TOP}
    hits = walk.walk(starts, deadline=started + request.time_limit, skip=skip)
    findings.unreadable += [Unreadable(findings.inside(u.path), u.reason) for u in hits.unreadable]

    sources = settings.unit_sources(root, findings.unreadable) + settings.file_sources(root, findings.unreadable)
    if root == Path("/") and request.environ:
        mine = {k: v for k, v in request.environ.items() if k in settings.STORE_VARIABLES}
        mine |= {k: v for k, v in request.environ.items() if k in settings.JAVA_VARIABLES}
        if mine:
            sources.append(settings.Source(finders.SCANNING_SHELL, "the environment scan ran in", mine))
    users_of: dict[str, list[str]] = {}
    for source in sources:
        if source.unit and source.user:
            users_of.setdefault(source.user, []).append(source.unit)

    system = finders.system_store(findings)
    finders.jdk_stores(findings, hits)
    finders.certifi_stores(findings, hits)
    nodes = finders.node_binaries(findings, hits, finders.PATH_DIRS)
    finders.nss_databases(findings, hits)
    finders.wheel_openssl_stores(findings, hits)
    finders.postgresql_root_certs(findings, people, users_of)
    finders.variable_stores(findings, sources, system, nodes)

    judged = _Judge(root, chains, at, managed=fix.managed_paths(root, request.environ, request.config))
    stores: list[StoreReport] = []
    unreadable: list[tuple[Found | None, Unreadable]] = [(None, u) for u in findings.unreadable]
    for found in findings.by_key.values():
        try:
            stores.append(judged.report(found))
        except contents.Unreadable as exc:
            unreadable.append((found, Unreadable(found.path, str(exc))))
    judged.add_fixes(stores)
    return ScanResult(
        chains=chains,
        stores=stores,
        unreadable=unreadable,
        entries=hits.entries,
        seconds=time.monotonic() - started,
        incomplete=hits.incomplete,
        skipped_mounts=[findings.inside(m) for m in hits.skipped_mounts],
    )


class _Judge:
    def __init__(self, root: Path, chains: tuple[chain_table.Chain, ...], at: dt.datetime, managed: set[str]) -> None:
        self.root = root
        self.chains = chains
        self.at = at
        self.managed = managed
        self.china = any(c.id == "china" for c in chains)
        self.roots: dict[str, Root] = {r.id: r for r in BUILTIN_ROOTS}
        self.profiles = BUILTIN_PROFILES
        self.names = {r.sha256: r.id for r in BUILTIN_ROOTS}
        path_certs = [c for chain in chains for v in chain.variants for c in v.path()]
        self.known_azure = {c.sha256 for c in path_certs} | {x.sha256 for x in BUILTIN_CROSS_SIGNS}
        # Issuers whose certificates are Azure's intermediates or leaves (named in a store: remove).
        self.azure_issuers = {_subject(c) for c in path_certs} - {b""}
        self.cache: dict[str, list[Cert]] = {}
        self.judged: dict[frozenset[str], tuple[list[str], list[str], dict[str, Verdict]]] = {}

    def certs_of(self, path: str, kind: str, found: Found) -> list[Cert]:
        key = f"{kind} {path}"
        if key not in self.cache:
            self.cache[key] = contents.certificates(found, self.root)
        return self.cache[key]

    def report(self, found: Found) -> StoreReport:
        certs = list(self.certs_of(found.path, found.kind, found))
        if found.instead_reads:
            certs = self.certs_of(found.instead_reads, kinds.PEM, Found(kinds.PEM, found.instead_reads))
        if found.also_reads:
            certs += self.certs_of(found.also_reads, kinds.PEM, Found(kinds.PEM, found.also_reads))
        certs = list({c.sha256: c for c in certs}.values())  # a root in both node and its extra file
        report = StoreReport(found=found, count=len(certs))
        # The same bundle in many places (pip's certifi in every environment) is judged once.
        key = frozenset(c.sha256 for c in certs)
        if key not in self.judged:
            anchors = Anchors(certs, self.at)
            verdicts = {
                chain.id: judge(
                    chain, anchors, at=self.at, roots=self.roots, cross_signs=BUILTIN_CROSS_SIGNS, names=self.names
                )
                for chain in self.chains
            }
            roots = sorted(self.names[c.sha256] for c in certs if c.sha256 in self.names)
            self.judged[key] = (roots, self._azure_intermediates(anchors.issued), verdicts)
        roots, intermediates, verdicts = self.judged[key]
        report.azure_roots, report.azure_intermediates = list(roots), list(intermediates)
        report.verdicts = dict(verdicts)
        report.managed = os.path.normpath(found.path) in self.managed
        return report

    def _azure_intermediates(self, issued: list[tuple[Cert, bytes]]) -> list[str]:
        """The store's certificates that are not roots and are Azure's: (certificate, issuer) pairs."""
        out = []
        for cert, issuer in issued:
            try:
                if cert.sha256 in self.known_azure or issuer in self.azure_issuers or _is_microsoft(cert):
                    out.append(cert.common_name or cert.subject)
            except NotACertificate:
                continue
        return out

    def add_fixes(self, stores: list[StoreReport]) -> None:
        bundle = next(
            (s.found.path for s in stores if s.managed and s.found.kind == kinds.PEM and not s.fails), fix.NODE_BUNDLE
        )
        needing = [r for r in stores if r.fails or not all(v.outcome == SURVIVES for v in r.verdicts.values())]
        for report in needing:
            if report.found.kind not in (kinds.NODE, kinds.WHEEL_OPENSSL, kinds.NSS):
                report.target = fix.target_for(report.found, china=self.china, keystore_format=self._format(report))
        by_path = {r.found.path: r for r in stores if r.found.kind != kinds.NODE}
        for report in needing:
            if report.found.kind != kinds.NODE:
                continue
            # A node already pointed at a file (NODE_EXTRA_CA_CERTS, or OpenSSL's store with
            # --use-openssl-ca) is fixed by keeping that file right: the same target as its own.
            named = report.found.also_reads or report.found.instead_reads
            if named:
                own = by_path.get(named)
                report.target = (own.target if own is not None and own.target is not None else None) or (
                    fix.target_for(Found(kinds.PEM, named), china=self.china)
                )
            else:
                report.setting = fix.node_setting(report.found, bundle)
        profile = self.profiles[fix.profile_for(self.china)]
        for report in needing:
            if report.found.kind == kinds.NSS:
                missing = [r for r in profile if r not in report.azure_roots]
                report.setting = fix.nss_commands(report.found, missing) if missing else None
        system = next((r.found.path for r in stores if r.found.kind == kinds.SYSTEM), None)
        for report in needing:
            if report.found.kind == kinds.WHEEL_OPENSSL:
                # Nothing rotator writes reaches a path compiled into a wheel: point its OpenSSL
                # at the distribution's bundle (kept by the system target), else at rotator's own.
                report.setting = fix.openssl_setting(report.found, system or fix.NODE_BUNDLE)

    def _format(self, report: StoreReport) -> str:
        if report.found.store_type:
            return report.found.store_type.lower()
        try:
            with open(self.root / report.found.path.lstrip("/"), "rb") as handle:
                head = handle.read(4)
        except OSError:
            return ""
        return "jks" if head in (b"\xfe\xed\xfe\xed", b"\xce\xce\xce\xce") else "pkcs12"


def _subject(cert: Cert) -> bytes:
    try:
        return der_subject(cert.der)
    except (DerError, ValueError):
        return b""


def _is_microsoft(cert: Cert) -> bool:
    """A Microsoft or Azure CA or server certificate that is not a root (by its names)."""
    text = f"{cert.subject} {cert.issuer}"
    return "Microsoft" in text and ("Azure" in text or "TLS" in text) and not cert.is_self_issued


def write_config(result: ScanResult, path: Path) -> None:
    """The targets of every store that needs one, plus the bundle a Node setting points at."""
    targets: list[tuple[fix.TargetFix, str]] = []
    settings_to_add: list[tuple[str, str]] = []
    for store in result.stores:
        readers = ", ".join(r.who for r in store.found.readers[:3])
        if store.target is not None:
            if any(t.spec == store.target.spec for t, _ in targets):
                continue  # a node kept right through the file it is pointed at: one table
            why = f"{store.found.kind} read by {readers}"
            if store.target.kind in ("jks", "pkcs12"):
                why += "; create the storepass_file (mode 0600) holding its password"
            targets.append((store.target, why))
        elif store.setting is not None and store.setting not in settings_to_add:
            settings_to_add.append(store.setting)
    targets += [(t, "the bundle a setting below points at") for t in bundle_targets(result)]
    fix.write_config(path, targets, settings_to_add)


def bundle_targets(result: ScanResult) -> list[fix.TargetFix]:
    """The bundles a setting points at (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE) that no target or
    recorded store keeps yet."""
    bundles = {
        s.setting[0].rpartition("=")[2]
        for s in result.stores
        if s.setting is not None and s.found.kind in (kinds.NODE, kinds.WHEEL_OPENSSL)
    }
    have = {s.target.path for s in result.stores if s.target} | {s.found.path for s in result.stores if s.managed}
    have |= {s.found.path for s in result.stores if s.found.kind == kinds.SYSTEM}  # the system target keeps it
    profile = fix.profile_for(any(c.id == "china" for c in result.chains))
    return [fix.TargetFix("pem", bundle, (("profile", profile),)) for bundle in sorted(bundles - have)]
