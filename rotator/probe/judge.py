"""``rotator probe``: will a client using each managed store still trust this server?

Three steps, each usable on its own:

1. ``rotator.probe.tlsfetch.fetch_chain`` connects (TLS directly, or PostgreSQL's or MySQL's SSLRequest first)
   and collects every certificate the server sends, without verifying anything.
2. ``anchoring_roots`` names the catalog roots that anchor the chain by signature, not by name:
   Azure's chains are cross-signed, so several roots can anchor one chain.
3. ``judge_chain`` builds a path from the chain to one store's certificates with cryptography's
   x509 verification, the way a verifying client (libpq ``verify-full``, pgjdbc) would.

Nothing here prints; ``rotator.cli.main`` renders the result and picks the exit code.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from rotator.certs import Cert
from rotator.errors import PinMismatch, RootUnavailable, StoreError
from rotator.probe.options import SSLMODES as SSLMODES
from rotator.probe.options import VERIFY_CA as VERIFY_CA
from rotator.probe.options import VERIFY_FULL as VERIFY_FULL
from rotator.probe.tlsfetch import DEFAULT_TIMEOUT, LEGACY_TLS, Endpoint, Fetched, fetch_chain, is_ip
from rotator.roots.catalog import CrossSign, Root, only_through, root_to_add
from rotator.roots.obtain import Obtainer, ObtainSettings
from stores.base import StoreContext, TargetSpec, TrustStore
from stores.kinds import build_stores

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- which roots anchor it


@dataclass(frozen=True)
class CatalogAnchor:
    """A catalog root whose key signs a certificate of the chain (or that the server sent itself)."""

    root: Root
    cert: Cert
    index: int  # the chain certificate it signs (or equals)
    sent: bool = False  # the server sent the root itself


def reachable(chain: Sequence[Cert]) -> list[int]:
    """Indexes of the chain certificates on some signature path up from the server certificate."""
    if not chain:
        return []
    seen = [0]
    frontier = [0]
    while frontier:
        current = chain[frontier.pop()]
        for i, candidate in enumerate(chain):
            if i not in seen and candidate.sha256 != current.sha256 and current.signed_by(candidate):
                seen.append(i)
                frontier.append(i)
    return sorted(seen)


def anchoring_roots(chain: Sequence[Cert], roots: Sequence[tuple[Root, Cert]]) -> list[CatalogAnchor]:
    """Every root whose key signs a certificate reachable from the server certificate.

    By signature, never by name alone: a name match whose signature does not verify is no anchor.
    """
    hits: list[CatalogAnchor] = []
    on_path = reachable(chain)
    for root, root_cert in roots:
        for i in on_path:
            cert = chain[i]
            if cert.sha256 == root_cert.sha256:
                hits.append(CatalogAnchor(root=root, cert=root_cert, index=i, sent=True))
                break
            if not cert.is_self_issued and cert.signed_by(root_cert):
                hits.append(CatalogAnchor(root=root, cert=root_cert, index=i))
                break
    return hits


def signing_certs(chain: Sequence[Cert], certs: Sequence[Cert]) -> list[tuple[Cert, int]]:
    """The given certificates (a store's) that sign a certificate on the chain's signature path."""
    out: list[tuple[Cert, int]] = []
    on_path = reachable(chain)
    for candidate in certs:
        for i in on_path:
            cert = chain[i]
            if cert.sha256 == candidate.sha256 or (not cert.is_self_issued and cert.signed_by(candidate)):
                out.append((candidate, i))
                break
    return out


# ---------------------------------------------------------------------------- would a store accept it


@dataclass(frozen=True)
class TargetVerdict:
    target: str
    trusted: bool
    path: tuple[Cert, ...] = ()  # server certificate first, the store's anchor last
    reason: str = ""  # why not, when not trusted
    notes: tuple[str, ...] = ()
    cross_sign: CrossSign | None = None  # the path runs through this cross-certificate

    @property
    def anchor(self) -> Cert | None:
        return self.path[-1] if self.path else None

    @property
    def route(self) -> str:
        """``direct`` (the store holds the chain's own root) or ``cross-sign``; empty when not trusted."""
        if not self.trusted:
            return ""
        return "cross-sign" if self.cross_sign is not None else "direct"


def _server_eku(policy: Policy, cert: x509.Certificate, ext: x509.ExtendedKeyUsage | None) -> None:
    if ext is None:
        return
    if ExtendedKeyUsageOID.SERVER_AUTH not in ext and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in ext:
        raise ValueError("extendedKeyUsage does not allow TLS server authentication (no serverAuth)")


def _ca_eku(policy: Policy, cert: x509.Certificate, ext: x509.ExtendedKeyUsage | None) -> None:
    # OpenSSL's TLS server purpose checks a CA's extendedKeyUsage too: serverAuth or anyExtendedKeyUsage.
    _server_eku(policy, cert, ext)


def _verifier_builder(certs: Sequence[Cert], at: dt.datetime, *, has_leaf: bool = True) -> PolicyBuilder:
    """cryptography's verifier, tuned to judge like the TLS clients that read these stores.

    cryptography implements the CA/Browser Forum web PKI profile, which is stricter than what
    libpq (OpenSSL) and pgjdbc (Java PKIX) check. Where that would reject chains real clients
    accept, the policy is relaxed; everything else stays strict:

    - authorityKeyIdentifier is optional on CA and server certificates: neither OpenSSL nor Java
      require it, and private or older PKIs often omit it.
    - extendedKeyUsage, when present on the server certificate or a CA of the chain, must allow
      serverAuth (OpenSSL's and Java's rule). cryptography's client verifier, used for
      ``verify-ca`` where no name is checked, would otherwise demand clientAuth (and Azure's
      intermediates carry serverAuth only).
    - A saved chain without its server certificate (``has_leaf=False``) is judged from its lowest CA
      certificate, which is held to the CA rules in the server certificate's place.
    - Signatures inside the chain must be SHA-256 or stronger, as they must for OpenSSL at
      Debian's default security level 2 and for current JDKs: SHA-1 is not relaxed. A trust
      anchor's own self-signature is never checked by any of them, so a SHA-1 signed root such
      as DigiCert Global Root CA still works as an anchor.
    - Validity dates, basicConstraints, keyUsage, name constraints and path length are enforced.
    """
    ca_policy = (
        ExtensionPolicy.webpki_defaults_ca()
        .may_be_present(x509.AuthorityKeyIdentifier, Criticality.AGNOSTIC, None)
        .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _ca_eku)
    )
    ee_policy = (
        (ExtensionPolicy.webpki_defaults_ee() if has_leaf else ExtensionPolicy.webpki_defaults_ca())
        .may_be_present(x509.AuthorityKeyIdentifier, Criticality.AGNOSTIC, None)
        .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _server_eku)
    )
    return (
        PolicyBuilder()
        .store(Store([c.x509 for c in certs]))
        .time(at)
        .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
    )


def _subject(name: str) -> x509.DNSName | x509.IPAddress:
    if is_ip(name):
        return x509.IPAddress(ipaddress.ip_address(name))
    return x509.DNSName(name.rstrip(".").lower())


def _clean(message: str) -> str:
    text = message.removeprefix("validation failed: ")
    cut = text.find(" (encountered processing")
    if cut > 0:
        text = text[:cut]
    text = text.replace("Python extension validator failed: ValueError: ", "")
    if text.startswith("candidates exhausted"):
        text = "no path from the server's chain to a certificate in this store"
    return text


def judge_chain(
    target: str,
    certs: Sequence[Cert],
    chain: Sequence[Cert],
    hostname: str | None,
    at: dt.datetime,
    *,
    has_leaf: bool = True,
) -> TargetVerdict:
    """Would a client trusting exactly ``certs`` accept ``chain`` (for ``hostname``, when given)?

    ``has_leaf=False``: ``chain`` has no server certificate; it is judged from ``chain[0]`` (a CA) upward.
    """
    if not chain:
        return TargetVerdict(target, False, reason="the server sent no certificate")
    notes = []
    strays = [c for c in certs if not c.is_ca or not c.is_self_issued]
    if not certs:
        return TargetVerdict(target, False, reason="the store is empty or does not exist (run rotator sync)")
    leaf, intermediates = chain[0].x509, [c.x509 for c in chain[1:]]
    builder = _verifier_builder(certs, at, has_leaf=has_leaf)
    try:
        if hostname is not None and has_leaf:
            built = builder.build_server_verifier(_subject(hostname)).verify(leaf, intermediates)
        else:
            built = builder.build_client_verifier().verify(leaf, intermediates).chain
    except VerificationError as exc:
        return TargetVerdict(target, False, reason=_why_not(exc, certs, chain, hostname, at))
    by_der = {c.der: c for c in [*chain, *certs]}
    ders = [c.public_bytes(Encoding.DER) for c in built]
    path = tuple(by_der.get(der) or Cert.from_der(der) for der in ders)
    anchor = path[-1]
    if anchor in strays:
        notes.append(
            f"this store trusts {anchor.common_name!r} directly, which is not a self-signed root: "
            "Microsoft rotates intermediates and server certificates without notice; trust the roots instead"
        )
    return TargetVerdict(target, True, path=path, notes=tuple(notes))


def _why_not(
    exc: VerificationError, certs: Sequence[Cert], chain: Sequence[Cert], hostname: str | None, at: dt.datetime
) -> str:
    reason = _clean(str(exc))
    signers = signing_certs(chain, certs)
    if not signers:
        issuers = {chain[i].issuer for i in reachable(chain)} - {c.subject for c in chain}
        wanted = ", ".join(sorted(issuers)) or chain[-1].issuer
        return f"no certificate in this store signs the server's chain (it needs {wanted})"
    expired = [c for c in chain if c.expired(at) or c.not_before > at]
    if expired:
        c = expired[0]
        return (
            f"{c.common_name!r} is not valid on {at:%Y-%m-%d} (valid {c.not_before:%Y-%m-%d} to "
            f"{c.not_after:%Y-%m-%d}); {reason}"
        )
    if "subjectAltName" in reason and hostname is not None:
        names = _san_names(chain[0])
        return f"the server certificate is not valid for {hostname!r} (it names {', '.join(names) or 'nothing'})"
    signer, _ = signers[0]
    return f"the chain reaches {signer.common_name!r} in this store, but {reason}"


def _san_names(cert: Cert) -> list[str]:
    try:
        san = cert.x509.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names: list[str] = list(san.get_values_for_type(x509.DNSName))
    names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return names


# ---------------------------------------------------------------------------- one probe run


@dataclass(frozen=True)
class ProbeRequest:
    endpoint: Endpoint
    roots: tuple[Root, ...]  # every catalog root (built-in and custom): candidates for anchoring
    selected: tuple[Root, ...]  # the profile's roots: the pseudo-target when no target is configured
    profile: str
    targets: tuple[TargetSpec, ...]
    obtain: ObtainSettings
    context: StoreContext = field(default_factory=StoreContext)
    sslmode: str = VERIFY_FULL
    timeout: float = DEFAULT_TIMEOUT
    cross_signs: tuple[CrossSign, ...] = ()
    intermediates: Mapping[str, str] = field(default_factory=dict)  # Azure's published ones, SHA-1 -> name

    @property
    def at(self) -> dt.datetime:
        return self.obtain.at


@dataclass(frozen=True)
class ProbeResult:
    endpoint: Endpoint
    at: dt.datetime
    sslmode: str
    chain: tuple[Cert, ...]
    tls_version: str | None
    anchors: tuple[CatalogAnchor, ...]
    targets: tuple[TargetVerdict, ...]
    configured_targets: bool  # False: ``targets`` holds the profile's roots as a stand-in
    known: tuple[tuple[Root, Cert], ...] = ()  # the catalog roots with a local copy
    warnings: tuple[str, ...] = ()
    chain_file: str | None = None  # the saved chain judged, when not from a connection
    has_leaf: bool = True  # False: a saved chain without its server certificate
    azure_intermediates: tuple[tuple[int, str], ...] = ()  # chain index, published name
    missing_cross_signs: tuple[CrossSign, ...] = ()  # hierarchies the server sends without their cross-sign
    cipher: str | None = None  # the negotiated cipher suite
    server_version: str | None = None  # what a MySQL server's greeting says it is

    @property
    def legacy_tls(self) -> bool:
        """The server negotiated TLS below 1.2, which Azure refuses."""
        return self.tls_version in LEGACY_TLS

    @property
    def hostname(self) -> str | None:
        return self.endpoint.name if self.sslmode == VERIFY_FULL else None

    @property
    def ok(self) -> bool:
        return bool(self.targets) and all(t.trusted for t in self.targets)

    def root_id(self, cert: Cert | None) -> str | None:
        """The catalog id of a certificate, when it is one of the catalog roots."""
        if cert is None:
            return None
        for root, root_cert in self.known:
            if root_cert.sha256 == cert.sha256:
                return root.id
        return None


def catalog_certs(roots: Sequence[Root], settings: ObtainSettings) -> tuple[list[tuple[Root, Cert]], list[str]]:
    """Local verified copies of the roots (cache, mirror directory, file, embedded); never downloads."""
    local = ObtainSettings(
        at=settings.at, offline=True, cache_dir=settings.cache_dir, mirror=settings.mirror, max_bytes=settings.max_bytes
    )
    obtainer = Obtainer(local, downloader=None, write_cache=False)
    found: list[tuple[Root, Cert]] = []
    warnings: list[str] = []
    for root in roots:
        try:
            found.append((root, obtainer.obtain(root).cert))
        except (RootUnavailable, PinMismatch) as exc:
            warnings.append(f"cannot tell whether root {root.id} anchors the chain: {exc}")
    return found, warnings


def assess(
    request: ProbeRequest,
    fetched: Fetched,
    roots: Sequence[tuple[Root, Cert]],
    stores: Sequence[TrustStore] | None = None,
    warnings: Sequence[str] = (),
    *,
    has_leaf: bool = True,
    chain_file: str | None = None,
) -> ProbeResult:
    """Everything after the connection: anchors and one verdict per target store. No network.

    ``stores`` defaults to the stores built from ``request.targets`` through the store registry.
    ``has_leaf=False``: a saved chain without its server certificate; no name can be checked.
    """
    chain = fetched.chain
    sslmode = request.sslmode if has_leaf else VERIFY_CA
    hostname = request.endpoint.name if sslmode == VERIFY_FULL else None
    anchors = anchoring_roots(chain, roots)
    verdicts: list[TargetVerdict] = []
    notes = list(warnings)
    if fetched.tls_version in LEGACY_TLS:
        # One report line within 100 columns: the details are in docs/probe.md.
        notes.append(
            f"the server negotiated {fetched.tls_version}: Azure refuses TLS below 1.2, and so do default clients"
        )
    notes.extend(validity_notes(chain, request.at))
    notes.extend(
        f"certificate {i} ({cert.common_name or cert.sha256[:16]}): {cert.signature_problem}"
        for i, cert in enumerate(chain)
        if cert.signature_problem
    )
    missing = unsent_cross_signs(chain, request.cross_signs)
    catalog_ids = {root.id for root in request.roots}
    for cs in missing:
        need = f"{cs.subject_id} itself" if cs.subject_id in catalog_ids else f"the self-signed {cs.subject_name}"
        notes.append(
            f"the server sends its chain without the cross-sign for {cs.subject_name}: only a store holding {need} "
            f"trusts it (a store with {cs.issuer_id} alone does not)"
        )
    configured = bool(request.targets)
    if configured:
        if stores is None:
            stores = target_stores(request)
        for store in stores:
            try:
                contents = store.read()
            except StoreError as exc:
                verdicts.append(TargetVerdict(store.name, False, reason=f"cannot read the store: {exc}"))
                continue
            if not contents.exists:
                verdicts.append(
                    TargetVerdict(store.name, False, reason="the store does not exist yet (run rotator sync)")
                )
                continue
            verdict = judge_chain(store.name, contents.certs(), chain, hostname, request.at, has_leaf=has_leaf)
            verdicts.append(judge_route(verdict, contents.certs(), chain, request, roots, missing))
    else:
        day = request.at.date()
        wanted = {r.id for r in request.selected if r.active_at(day)}
        certs = [cert for root, cert in roots if root.id in wanted]
        verdict = judge_chain(f"profile:{request.profile}", certs, chain, hostname, request.at, has_leaf=has_leaf)
        verdicts.append(judge_route(verdict, certs, chain, request, roots, missing))
    return ProbeResult(
        endpoint=request.endpoint,
        at=request.at,
        sslmode=sslmode,
        chain=chain,
        tls_version=fetched.tls_version,
        cipher=fetched.cipher,
        server_version=fetched.server_version,
        anchors=tuple(anchors),
        targets=tuple(verdicts),
        configured_targets=configured,
        known=tuple(roots),
        warnings=tuple(notes),
        missing_cross_signs=tuple(missing),
        chain_file=chain_file,
        has_leaf=has_leaf,
        azure_intermediates=tuple(
            (i, request.intermediates[c.sha1]) for i, c in enumerate(chain) if c.sha1 in request.intermediates
        ),
    )


def validity_notes(chain: Sequence[Cert], at: dt.datetime) -> list[str]:
    """Each certificate of the chain that is expired or not yet valid on ``at``, named with its date."""
    notes = []
    for i, cert in enumerate(chain):
        if cert.expired(at):
            notes.append(f"[{i}] {cert.common_name!r} expired on {cert.not_after:%Y-%m-%d}")
        elif cert.not_before > at:
            notes.append(f"[{i}] {cert.common_name!r} is not valid before {cert.not_before:%Y-%m-%d}")
    return notes


def _cn(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = values[0].value if values else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def unsent_cross_signs(chain: Sequence[Cert], cross_signs: Sequence[CrossSign]) -> list[CrossSign]:
    """Cross-signed hierarchies the chain hangs under without carrying the root certificate
    (cross-signed or self-signed): the client must hold the self-signed root itself."""
    subjects = {_cn(c.x509.subject) for c in chain}
    out: list[CrossSign] = []
    for cs in cross_signs:
        if cs.subject_name in subjects or any(c.subject_id == cs.subject_id for c in out):
            continue
        if any(_cn(chain[i].x509.issuer) == cs.subject_name and not chain[i].is_self_issued for i in reachable(chain)):
            out.append(cs)
    return out


def judge_route(
    verdict: TargetVerdict,
    certs: Sequence[Cert],
    chain: Sequence[Cert],
    request: ProbeRequest,
    roots: Sequence[tuple[Root, Cert]],
    missing: Sequence[CrossSign],
) -> TargetVerdict:
    """Name the route of a trusted path (direct root or a cross-sign, with its end) and, for a
    store that lacks a cross-signed hierarchy's own root, say which anchor it needs."""
    held = {c.sha256 for c in certs}
    by_id = {root.id: cert for root, cert in roots}
    catalog_ids = {root.id for root in request.roots}  # which root to add: ``rotator.roots.catalog``, as status

    def holds_root(cs: CrossSign) -> bool:
        cert = by_id.get(cs.subject_id)
        return cert is not None and cert.sha256 in held

    if not verdict.trusted:
        for cs in missing:
            if not holds_root(cs):
                reason = (
                    f"the server sends no cross-sign for {cs.subject_name}, so a client needs the self-signed "
                    f"{cs.subject_name} as an anchor and this store lacks it; {root_to_add(cs, catalog_ids)}"
                )
                return replace(verdict, reason=reason)
        sent = {c.sha256 for c in chain}
        for cs in request.cross_signs:
            if cs.sha256 in sent and not holds_root(cs):
                return replace(
                    verdict,
                    reason=(
                        f"{verdict.reason}; the chain reaches {cs.subject_name} through the {cs.issuer_id} cross-sign "
                        f"(valid to {cs.not_after}): {root_to_add(cs, catalog_ids)}"
                    ),
                )
        return verdict
    on_path = {c.sha256 for c in verdict.path}
    for cs in request.cross_signs:
        if cs.sha256 in on_path:
            notes = list(verdict.notes)
            if not holds_root(cs):
                notes.append(f"this store {only_through(cs, catalog_ids, until=cs.not_after)}")
            return replace(verdict, cross_sign=cs, notes=tuple(notes))
    return verdict


def probe(request: ProbeRequest) -> ProbeResult:
    """Connect, then assess. Store specs are checked before connecting (a config error is exit 2 early)."""
    stores = target_stores(request)
    fetched = fetch_chain(request.endpoint, request.timeout)
    roots, warnings = catalog_certs(request.roots, request.obtain)
    return assess(request, fetched, roots, stores, warnings)


def target_stores(request: ProbeRequest) -> list[TrustStore]:
    """Every configured target's stores, through the registry (any kind, no kind-specific code)."""
    return [store for spec in request.targets for store in build_stores(spec, request.context)]
