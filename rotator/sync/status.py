"""``rotator status``: read-only compliance of every target against the wanted roots.

Presence is checked against the pins (SHA-256), so status needs no network and no download.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rotator.errors import RotatorError
from rotator.roots.catalog import RETIRED, CrossSign, Root, only_through, root_to_add
from rotator.roots.scope import WITHHELD, Scope, everything
from rotator.upstream.record import CheckRecord
from stores.base import Entry, TrustStore

OWNED = "owned"  # present, added by rotator
PRESENT = "present"  # present under another label (not rotator's)
MISSING = "missing"
# WITHHELD (``rotator.roots.scope``): selected, but the scope rule keeps it out of this store

DIRECT = "direct"  # the store holds the hierarchy's self-signed root
CROSS_SIGN = "cross-sign"  # only through a cross-certificate from a root the store holds
NONE = "none"

ERROR = "error"  # makes the status non-compliant (exit 1)
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    severity: str
    target: str | None
    message: str


@dataclass(frozen=True)
class RootStatus:
    root: Root
    not_after: dt.date | None
    days_left: int | None


@dataclass(frozen=True)
class Reach:
    """Whether a store can anchor one Azure hierarchy, how, and until when."""

    hierarchy: str  # the hierarchy's root id
    name: str
    path: str  # DIRECT | CROSS_SIGN | NONE
    anchor: str | None = None  # the root id the store holds for it
    until: dt.date | None = None
    cross_sign: CrossSign | None = None


@dataclass(frozen=True)
class TargetStatus:
    target: str
    cells: dict[str, str] = field(default_factory=dict)  # root id -> OWNED | PRESENT | MISSING | WITHHELD
    error: str | None = None
    exists: bool = True
    profile: str = ""
    reach: tuple[Reach, ...] = ()


@dataclass(frozen=True)
class Event:
    date: dt.date
    root_id: str
    what: str
    target: str | None = None


@dataclass
class StatusReport:
    at: dt.datetime
    warn_days: int
    roots: list[RootStatus]
    targets: list[TargetStatus]
    events: list[Event]
    findings: list[Finding]
    cross_signs: tuple[CrossSign, ...] = ()
    catalog_check: CheckRecord | None = None  # the last comparison with Azure's published list

    @property
    def compliant(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)


def compliance_report(
    stores: Sequence[TrustStore | tuple[TrustStore, Scope]],
    selected: Sequence[Root],
    at: dt.datetime,
    warn_days: int,
    *,
    known: Sequence[Root] = (),
    cross_signs: Sequence[CrossSign] = (),
    intermediates: Mapping[str, str] | None = None,
    catalog_check: CheckRecord | None = None,
) -> StatusReport:
    """Each store against its own selection (a bare store: the global one).

    ``intermediates``: Azure's published intermediates, SHA-1 -> name (``rotator.upstream.record``);
    ``catalog_check``: the last comparison with Azure's published list, shown as findings.
    """
    day = at.date()
    findings: list[Finding] = []
    targets: list[TargetStatus] = []
    every: dict[str, Root] = {r.id: r for r in selected}
    expiry: dict[str, dt.date] = {}
    events: list[Event] = []
    for item in stores:
        store, scope = item if isinstance(item, tuple) else (item, everything(selected))
        every.update((r.id, r) for r in scope.roots if r.id not in every)
        wanted = scope.wanted(day)
        expiry.update((r.id, r.not_after) for r in wanted if r.not_after is not None)
        try:
            contents = store.read()
        except RotatorError as exc:
            targets.append(TargetStatus(target=store.name, error=str(exc), profile=scope.profile))
            findings.append(Finding(ERROR, store.name, f"cannot read: {exc}"))
            continue
        if not contents.exists:
            # One finding, not one per root: the file is not there at all.
            targets.append(
                TargetStatus(
                    target=store.name, cells={r.id: MISSING for r in wanted}, exists=False, profile=scope.profile
                )
            )
            findings.append(Finding(ERROR, store.name, "does not exist: run rotator sync to create it"))
            continue
        by_sha = {e.cert.sha256: e for e in contents.entries if e.cert is not None}
        cells: dict[str, str] = {r.id: WITHHELD for r in scope.withheld(day)}
        for root in wanted:
            entry = by_sha.get(root.sha256)
            if entry is None:
                cells[root.id] = MISSING
                findings.append(Finding(ERROR, store.name, f"root {root.id} ({root.name}) is missing"))
                continue
            cells[root.id] = OWNED if entry.owner_id == root.id else PRESENT
            if entry.cert is not None and root.id not in expiry:
                expiry[root.id] = entry.cert.not_after.date()
        catalog = known or list(every.values())
        reach = reach_of(set(by_sha), catalog, cross_signs, day)
        targets.append(TargetStatus(target=store.name, cells=cells, profile=scope.profile, reach=tuple(reach)))
        findings.extend(Finding(ERROR, store.name, problem) for problem in contents.problems)
        findings.extend(_content_findings(store.name, contents.entries, at, intermediates or {}))
        findings.extend(_distrust_findings(store.name, scope, contents.entries, known, day))
        catalog_ids = {c.id for c in catalog}
        for r in reach:
            finding, event = _deadline(store.name, r, catalog_ids, day, warn_days)
            findings.extend(finding)
            events.extend(event)
    roots: list[RootStatus] = []
    wanted_anywhere = [r for r in every.values() if r.active_at(day)]
    for root in wanted_anywhere:
        end = expiry.get(root.id, root.not_after)
        days = (end - day).days if end is not None else None
        roots.append(RootStatus(root=root, not_after=end, days_left=days))
        if days is not None and days <= warn_days:
            findings.append(Finding(ERROR, None, f"root {root.id} expires on {end} ({days} days left)"))
    events.extend(events_ahead(list(every.values()), day))
    findings.extend(_catalog_findings(catalog_check))
    return StatusReport(
        at=at,
        warn_days=warn_days,
        roots=roots,
        targets=targets,
        events=sorted(events, key=lambda e: (e.date, e.root_id, e.target or "")),
        findings=findings,
        cross_signs=tuple(cross_signs),
        catalog_check=catalog_check,
    )


def reach_of(held: set[str], known: Sequence[Root], cross_signs: Sequence[CrossSign], day: dt.date) -> list[Reach]:
    """For every Azure hierarchy a store could anchor: directly, through a cross-sign, or not at all.

    By fingerprint: the store holds the hierarchy's self-signed root, or the root that cross-signed it.
    Retired and custom roots are no Azure hierarchy of interest here.
    """
    by_id = {r.id: r for r in known}
    out: list[Reach] = []
    tops = [(r.id, r.name) for r in known if r.public_trust and r.status != RETIRED]
    tops += [(c.subject_id, c.subject_name) for c in cross_signs if c.subject_id not in by_id]
    for top_id, name in dict.fromkeys(tops):
        root = by_id.get(top_id)
        if root is not None and root.sha256 in held and (root.not_after is None or root.not_after >= day):
            out.append(Reach(top_id, name, DIRECT, anchor=root.id, until=root.not_after))
            continue
        best: Reach | None = None
        for cs in cross_signs:
            issuer = by_id.get(cs.issuer_id)
            if cs.subject_id != top_id or issuer is None or issuer.sha256 not in held:
                continue
            until = min(d for d in (cs.not_after, issuer.not_after) if d is not None)
            if best is None or (best.until is not None and until > best.until):
                best = Reach(top_id, name, CROSS_SIGN, anchor=issuer.id, until=until, cross_sign=cs)
        out.append(best or Reach(top_id, name, NONE))
    return out


def _deadline(
    target: str, reach: Reach, catalog_ids: set[str], day: dt.date, warn_days: int
) -> tuple[list[Finding], list[Event]]:
    """A hierarchy a store reaches only through a cross-sign: an event ahead, a finding once it is near or gone.
    The advice (which root to add) is ``rotator.roots.catalog``'s, the same as probe's."""
    if reach.path != CROSS_SIGN or reach.cross_sign is None or reach.until is None:
        return [], []
    cs = reach.cross_sign
    left = (reach.until - day).days
    if left < 0:
        message = (
            f"can no longer anchor {cs.subject_name}: the {reach.anchor} cross-sign expired on {reach.until}; "
            f"servers on that hierarchy will be rejected; {root_to_add(cs, catalog_ids)}"
        )
        return [Finding(ERROR, target, message)], []
    what = f"{target} {only_through(cs, catalog_ids)}"  # the event carries the date
    findings = []
    if left <= warn_days:
        findings.append(Finding(ERROR, target, only_through(cs, catalog_ids, until=reach.until, days_left=left)))
    return findings, [Event(reach.until, cs.subject_id, what, target=target)]


def _distrust_findings(
    target: str, scope: Scope, entries: Sequence[Entry], known: Sequence[Root], day: dt.date
) -> list[Finding]:
    """A publicly distrusted root in a host-wide store that does not allow it."""
    out: list[Finding] = []
    forbidden = {r.sha256: r for r in known if scope.withholds(r, day)}
    for entry in entries:
        root = forbidden.get(entry.cert.sha256) if entry.cert is not None else None
        if root is None:
            continue
        when = f" on {root.public_trust_date}" if root.public_trust_date else ""
        if entry.owner_id is not None:
            out.append(
                Finding(
                    ERROR,
                    target,
                    (
                        f"{root.id} ({root.name}) was added by rotator as {entry.label}; the public "
                        f"trust programs removed it"
                        f"{when} and a host-wide store no longer carries it: the next sync removes it"
                    ),
                )
            )
        else:
            out.append(
                Finding(
                    WARNING,
                    target,
                    (
                        f"{root.id} ({root.name}) is here as {entry.label}, not added by rotator (left "
                        f"as it is); the public "
                        f"trust programs removed it{when}, yet every program using this store trusts it: "
                        f"if only some clients "
                        "need it, remove it here and give them their own bundle"
                    ),
                )
            )
    return out


def _catalog_findings(record: CheckRecord | None) -> list[Finding]:
    """A difference from Azure's published list is news, not non-compliance: the stores are as configured."""
    if record is None:
        return []
    out = []
    if record.error:
        out.append(
            Finding(WARNING, None, f"the last check of Azure's published CA list failed ({record.at}): {record.error}")
        )
    if record.differences:
        when = record.last_read or record.at
        first = "; ".join(message for _, message in record.differences[:3])
        more = f" (and {len(record.differences) - 3} more)" if len(record.differences) > 3 else ""
        out.append(
            Finding(
                WARNING,
                None,
                (
                    f"Azure's published CA list differs from the catalog (read {when}): {first}{more}; "
                    "run rotator catalog check for details and proposals"
                ),
            )
        )
    return out


def _content_findings(
    target: str, entries: Sequence[Entry], at: dt.datetime, intermediates: Mapping[str, str]
) -> list[Finding]:
    """Pinning (intermediates, server certificates) and expired certificates anywhere in a store."""
    out: list[Finding] = []
    for entry in entries:
        if entry.cert is None or not entry.cert.parseable:
            if entry.owner_id is None:
                out.append(
                    Finding(
                        WARNING,
                        target,
                        (
                            f"unreadable certificate at {entry.label}: not a certificate rotator can parse; "
                            "kept exactly as it is"
                        ),
                    )
                )
            continue
        cert = entry.cert
        if not cert.is_ca:
            out.append(
                Finding(
                    WARNING,
                    target,
                    (
                        f"server certificate {cert.common_name!r} at {entry.label} is pinned in a trust store; "
                        "Azure rotates these without notice: trust the roots instead"
                    ),
                )
            )
        elif cert.sha1 in intermediates:
            out.append(
                Finding(
                    WARNING,
                    target,
                    (
                        f"intermediate {cert.common_name!r} at {entry.label} is a published Azure intermediate "
                        f"({intermediates[cert.sha1]}, SHA-1 {cert.sha1}): remove it: Azure rotates intermediates "
                        "without notice; trust the roots instead"
                    ),
                )
            )
        elif not cert.is_self_issued:
            out.append(
                Finding(
                    WARNING,
                    target,
                    (
                        f"intermediate {cert.common_name!r} (issued by {cert.issuer}) at {entry.label} is pinned in a "
                        "trust store; Azure rotates intermediates without notice: trust the roots instead"
                    ),
                )
            )
        if cert.expired(at):
            out.append(
                Finding(
                    WARNING,
                    target,
                    (
                        f"expired certificate {cert.common_name!r} at {entry.label} (not after "
                        f"{cert.not_after:%Y-%m-%d})"
                    ),
                )
            )
    return out


def events_ahead(selected: Sequence[Root], day: dt.date) -> list[Event]:
    """Dated lifecycle events still to come for the selected roots, soonest first."""
    events = []
    for root in selected:
        if root.trusted_from and root.trusted_from > day:
            events.append(Event(root.trusted_from, root.id, "enters the trust stores"))
        if root.retire_after and root.retire_after >= day:
            reason = f": {root.retire_reason}" if root.retire_reason else ""
            events.append(Event(root.retire_after, root.id, f"retires after this day{reason}"))
        if root.not_after and root.not_after >= day:
            events.append(Event(root.not_after, root.id, "expires"))
    return sorted(events, key=lambda e: (e.date, e.root_id))
