"""``rotator status``: read-only compliance of every target against the wanted roots.

Presence is checked against the pins (SHA-256), so status needs no network and no download.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from rotator.catalog import Root
from rotator.errors import RotatorError
from stores.base import Entry, TrustStore

OWNED = "owned"  # present, added by rotator
PRESENT = "present"  # present under another label (not rotator's)
MISSING = "missing"

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
class TargetStatus:
    target: str
    cells: dict[str, str] = field(default_factory=dict)  # root id -> OWNED | PRESENT | MISSING
    error: str | None = None


@dataclass(frozen=True)
class Event:
    date: dt.date
    root_id: str
    what: str


@dataclass
class StatusReport:
    at: dt.datetime
    warn_days: int
    roots: list[RootStatus]
    targets: list[TargetStatus]
    events: list[Event]
    findings: list[Finding]

    @property
    def compliant(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)


def evaluate(
    stores: Sequence[TrustStore], selected: Sequence[Root], at: dt.datetime, warn_days: int = 30
) -> StatusReport:
    day = at.date()
    wanted = [r for r in selected if r.active_at(day)]
    findings: list[Finding] = []
    targets: list[TargetStatus] = []
    expiry: dict[str, dt.date] = {r.id: r.not_after for r in wanted if r.not_after is not None}
    for store in stores:
        try:
            contents = store.read()
        except RotatorError as exc:
            targets.append(TargetStatus(target=store.name, error=str(exc)))
            findings.append(Finding(ERROR, store.name, f"cannot read: {exc}"))
            continue
        by_sha = {e.cert.sha256: e for e in contents.entries if e.cert is not None}
        cells: dict[str, str] = {}
        for root in wanted:
            entry = by_sha.get(root.sha256)
            if entry is None:
                cells[root.id] = MISSING
                findings.append(Finding(ERROR, store.name, f"root {root.id} ({root.name}) is missing"))
                continue
            cells[root.id] = OWNED if entry.owner_id == root.id else PRESENT
            if entry.cert is not None and root.id not in expiry:
                expiry[root.id] = entry.cert.not_after.date()
        targets.append(TargetStatus(target=store.name, cells=cells))
        findings.extend(_content_findings(store.name, contents.entries, at))
    roots: list[RootStatus] = []
    for root in wanted:
        end = expiry.get(root.id)
        days = (end - day).days if end is not None else None
        roots.append(RootStatus(root=root, not_after=end, days_left=days))
        if days is not None and days <= warn_days:
            findings.append(Finding(ERROR, None, f"root {root.id} expires on {end} ({days} days left)"))
    return StatusReport(
        at=at, warn_days=warn_days, roots=roots, targets=targets, events=events_ahead(selected, day),
        findings=findings,
    )


def _content_findings(target: str, entries: Sequence[Entry], at: dt.datetime) -> list[Finding]:
    """Pinning (intermediates, server certificates) and expired certificates anywhere in a store."""
    out: list[Finding] = []
    for entry in entries:
        if entry.cert is None:
            if entry.owner_id is None:
                out.append(Finding(WARNING, target, (
                    f"unreadable certificate at {entry.label}: not a certificate rotator can parse; "
                    "kept exactly as it is")))
            continue
        cert = entry.cert
        if not cert.is_ca:
            out.append(Finding(WARNING, target, (
                f"server certificate {cert.common_name!r} at {entry.label} is pinned in a trust store; "
                "Azure rotates these without notice: trust the roots instead")))
        elif not cert.is_self_issued:
            out.append(Finding(WARNING, target, (
                f"intermediate {cert.common_name!r} (issued by {cert.issuer}) at {entry.label} is pinned in a "
                "trust store; Azure rotates intermediates without notice: trust the roots instead")))
        if cert.expired(at):
            out.append(Finding(WARNING, target, (
                f"expired certificate {cert.common_name!r} at {entry.label} (not after {cert.not_after:%Y-%m-%d})")))
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
