"""What ``rotator status`` shows: each target's compliance, and the hierarchies it can anchor."""

from __future__ import annotations

from rotator.records import TYPE_CHECKING
from rotator.report import JSON_VERSION
from rotator.report.width import wrapped
from rotator.roots.scope import WITHHELD, is_withheld
from rotator.sync.state import State
from rotator.sync.status import CROSS_SIGN, DIRECT, ERROR, MISSING, OWNED, PRESENT, Reach, StatusReport

if TYPE_CHECKING:
    from typing import Any


def status_json(status: StatusReport, state: State) -> dict[str, Any]:

    return {
        "version": JSON_VERSION,
        "command": "status",
        "at": status.at.isoformat(),
        "compliant": status.compliant,
        "warn_days": status.warn_days,
        "last_success": state.last_success,
        "last_failure": state.last_failure,
        "roots": [
            {
                "id": r.root.id,
                "name": r.root.name,
                "sha256": r.root.sha256,
                "not_after": r.not_after.isoformat() if r.not_after else None,
                "days_left": r.days_left,
            }
            for r in status.roots
        ],
        "targets": [
            {
                "target": t.target,
                "profile": t.profile or None,
                "roots": {k: v for k, v in t.cells.items() if not is_withheld(v)},
                "withheld": [k for k, v in t.cells.items() if is_withheld(v)],
                "hierarchies": [_reach_json(r) for r in t.reach],
                "error": t.error,
                "exists": t.exists,
                "last_sync": state.synced.get(t.target),
            }
            for t in status.targets
        ],
        "events": [
            {"date": e.date.isoformat(), "root": e.root_id, "what": e.what, "target": e.target} for e in status.events
        ],
        "findings": [{"severity": f.severity, "target": f.target, "message": f.message} for f in status.findings],
        "catalog_check": status.catalog_check.to_json() if status.catalog_check else None,
    }


def _reach_json(r: Reach) -> dict[str, Any]:
    return {
        "root": r.hierarchy,
        "name": r.name,
        "path": r.path,
        "anchor": r.anchor,
        "cross_sign": r.cross_sign.sha256 if r.cross_sign else None,
        "until": r.until.isoformat() if r.until else None,
    }


def status_errors(status: StatusReport) -> list[str]:
    """What makes the status non-compliant, one line each (for --quiet)."""

    return [f"{f.target}: {f.message}" if f.target else f.message for f in status.findings if f.severity == ERROR]


def status_text(status: StatusReport, state: State, *, verbose: bool = False) -> list[str]:
    """The table part fits 100 columns: the target on its line, its facts below; with ``verbose``, one
    line per root. Events and findings are sentences, one line each (for grep)."""

    cell_text = {OWNED: "added", PRESENT: "present", MISSING: "MISSING", WITHHELD: "withheld"}
    lines = [f"status on {status.at:%Y-%m-%d}: {'compliant' if status.compliant else 'NOT COMPLIANT'}"]
    check = status.catalog_check
    if check is not None and check.at:
        agrees = "agrees with the catalog" if check.ok else "DIFFERS from the catalog"
        verdict = "could not be read" if check.ok is None else agrees
        lines.append(f"Azure's published CA list: {verdict} (checked {check.at})")
    lines.append("targets:")
    for t in status.targets:
        # The name on a line of its own: paths are long, the facts below stay within 100 columns.
        lines.append(f"  {t.target}")
        synced = state.synced.get(t.target)
        when = f"last sync {synced[:16].replace('T', ' ')}" if synced else "never synced"
        if t.error:
            lines.append(f"    cannot read ({when}); see findings")
            continue
        if not t.exists:
            lines.append(f"    does not exist ({when}); rotator sync creates it")
            continue
        counts = {kind: sum(1 for c in t.cells.values() if c == kind) for kind in (OWNED, PRESENT, MISSING)}
        total = sum(counts.values())
        parts = [f"{counts[OWNED]} added"] if counts[OWNED] else []
        if counts[PRESENT]:
            parts.append(f"{counts[PRESENT]} already there")
        if counts[MISSING]:
            parts.append(f"{counts[MISSING]} MISSING")
        withheld = [i for i, c in t.cells.items() if is_withheld(c)]
        if withheld:
            parts.append(f"{len(withheld)} withheld: publicly distrusted")
        of = f" of {t.profile}" if t.profile else ""
        lines.append(f"    {total - counts[MISSING]} of {total} roots{of} ({', '.join(parts) or 'none'}); {when}")
        if verbose:
            lines.extend(f"      {root_id:32} {cell_text[cell]}" for root_id, cell in t.cells.items())
    signed = {c.subject_id for c in status.cross_signs}
    crossed = [(t.target, [r for r in t.reach if r.hierarchy in signed]) for t in status.targets]
    if any(reaches for _, reaches in crossed):
        lines.append("cross-signed hierarchies (how each target anchors them):")
        for target, reaches in crossed:
            if reaches:
                lines.append(f"  {target}")
                lines.extend(f"    {r.name}: {_reach_text(r)}" for r in reaches)
    lines.append("roots:")
    for r in status.roots:
        left = f"{r.days_left} days left" if r.days_left is not None else "expiry unknown"
        lines.append(f"  {r.root.id:32} not after {r.not_after or '?'}  ({left})")
    if status.events:
        lines.append("ahead:")
        lines += wrapped(f"  {e.date}  {e.root_id}: {e.what}" for e in status.events)
    if status.findings:
        lines.append("findings:")
        for f in status.findings:
            where = f"{f.target}: " if f.target else ""
            lines += wrapped([f"  {f.severity}: {where}{f.message}"])
    if not verbose:
        lines.append("(each target's roots one by one: -v; everything: --json)")
    return lines


def _reach_text(r: Reach) -> str:

    if r.path == DIRECT:
        return f"directly ({r.anchor}, until {r.until})"
    if r.path == CROSS_SIGN:
        return f"only through the {r.anchor} cross-sign, until {r.until}"
    return "not anchored"
