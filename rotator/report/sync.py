"""What a sync tells the user (and the daemon's one-line cycle summary)."""

from __future__ import annotations

import datetime as dt

from rotator.records import TYPE_CHECKING
from rotator.report import JSON_VERSION
from rotator.report.width import WIDTH, wrapped
from rotator.roots.catalog import Root
from rotator.roots.scope import FOREIGN, REMOVED, SYNC_WITHHELD, ScopeNote, is_withheld
from rotator.sync.engine import SyncResult
from stores.base import Plan

if TYPE_CHECKING:
    from typing import Any


def sync_json(result: SyncResult) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "command": "sync",
        "at": result.at.isoformat(),
        "dry_run": result.dry_run,
        "ok": result.ok,
        "roots": [
            {
                "id": o.root.id,
                "name": o.root.name,
                "sha256": o.cert.sha256,
                "not_after": o.cert.not_after.isoformat(),
                "source": o.source,
                "location": o.location,
            }
            for o in result.roots
        ],
        "not_wanted": [{"id": r.id, "reason": _not_wanted(r, result.at)} for r in result.inactive],
        "targets": [
            {
                "target": t.target,
                "added": [a.root_id for a in t.plan.add] if t.plan else [],
                "removed": [e.owner_id or e.label for e in t.plan.remove] if t.plan else [],
                "kept": [{"id": a.root_id, "as": label} for a, label in t.plan.keep] if t.plan else [],
                # The roots rotator manages in this store before and after the run (a dry run: after it
                # would run), for configuration engines that show a diff.
                "before": _roots_before(t.plan) if t.plan else [],
                "after": _roots_after(t.plan) if t.plan else [],
                "changed": t.changed,
                "would_change": bool(t.plan and t.plan.changes),
                "unfinished": bool(t.plan and t.plan.unfinished),
                "notes": list(t.plan.notes) if t.plan else [],
                "error": t.error,
                "drift": list(t.drift),
                "hook_errors": list(t.hook_errors),
                "scope": [
                    {"action": _action(n), "root": n.root_id, "as": n.label or None, "message": n.message}
                    for n in t.scope_notes
                ],
            }
            for t in result.targets
        ],
        "warnings": list(result.warnings),
    }


def cycle_summary(result: SyncResult) -> tuple[bool, str]:
    """The daemon's one line for a cycle (systemd's Status:), and whether every target is fine."""
    failed = [t for t in result.targets if t.error or t.hook_errors]
    if failed:
        first = failed[0]
        return False, f"{len(failed)} target(s) failed: {first.error or first.hook_errors[0]}"
    changed = [t.target for t in result.targets if t.changed]
    drift = sum(len(t.drift) for t in result.targets)
    parts = [f"{len(result.targets)} targets, {len(result.roots)} roots"]
    parts.append(f"changed {len(changed)}" if changed else "no change")
    if drift:
        parts.append(f"repaired {drift} drifted")
    if result.status is not None:
        parts.append("compliant" if result.status.compliant else "NOT compliant")
    return True, "; ".join(parts)


def _roots_before(plan: Plan) -> list[str]:
    return sorted([a.root_id for a, _ in plan.keep] + [e.owner_id or e.label for e in plan.remove])


def _roots_after(plan: Plan) -> list[str]:
    return sorted([a.root_id for a, _ in plan.keep] + [a.root_id for a in plan.add])


def sync_text(result: SyncResult) -> list[str]:
    lines = []
    for o in result.roots:
        origin = "the embedded copy" if o.source == "embedded" else f"{o.source} {o.location}"
        lines.append(f"root {o.root.id}: verified (sha256 {o.cert.sha256[:16]}...), from {origin}")
    for r in result.inactive:
        lines.append(f"root {r.id}: not wanted on {result.at:%Y-%m-%d} ({_not_wanted(r, result.at)})")
    for t in result.targets:
        if t.error:
            lines.append(f"{t.target}: FAILED (the error is on stderr); left as it was")
            continue
        assert t.plan is not None
        verb = "would add" if result.dry_run else "added"
        rverb = "would remove" if result.dry_run else "removed"
        parts = []
        if t.plan.add:
            parts.append(f"{verb} {', '.join(a.root_id for a in t.plan.add)}")
        if t.plan.remove:
            parts.append(f"{rverb} {', '.join(e.owner_id or e.label for e in t.plan.remove)}")
        if t.plan.keep:
            parts.append(f"already present: {', '.join(a.root_id for a, _ in t.plan.keep)}")
        if not t.plan.changes:
            parts.insert(0, "NOT refreshed (see the note)" if t.plan.unfinished else "up to date")
        lines.extend(_wrapped(f"{t.target}:", "; ".join(parts) or "up to date"))
        lines.extend(f"  note: {note}" for note in t.plan.notes)
        lines.extend(_scope_line(n, result.dry_run) for n in t.scope_notes)
        if t.drift:
            lines.append(f"  drift: {', '.join(t.drift)} had been removed since the last run; put back")
        if result.dry_run:
            for a in t.plan.add:
                lines.append(f"  + {a.root_id} ({a.name}, sha256 {a.cert.sha256})")
            for e in t.plan.remove:
                lines.append(f"  - {e.label}")
            for a, label in t.plan.keep:
                lines.append(f"  = {a.root_id} as {label}")
    # Notes and scope lines name paths and commands: wrapped at spaces, never cut inside a word.
    return wrapped(lines + _next_steps(result))


def _next_steps(result: SyncResult) -> list[str]:
    """After a target's first sync: where it was recorded, and the two commands that follow."""
    if not result.first_recorded or result.state_file is None or not result.ok:
        return []
    count = len(result.first_recorded)
    them = "them" if count != 1 else "it"
    return [
        f"recorded {count} new target{'s' if count != 1 else ''} in {result.state_file}",
        f"next: `rotator status` checks {them}; keep {them} current with the service (docs/service.md),",
        "      or run this sync again from cron or an image build",
    ]


def _wrapped(head: str, body: str) -> list[str]:
    """A target's line (``head``, its path, then what was done) broken after a ", " or "; " between
    root ids and continued with an indent, so a phrase ("would remove", an id) is never split; a path
    too long to share a line stands alone, and one longer than the width stays whole."""
    if len(head) + 1 + len(body) <= WIDTH:
        return [f"{head} {body}"]
    import re  # only for the long lines

    pieces = re.split(r"(?<=[,;]) ", body)
    out = [f"{head} {pieces[0]}"] if len(head) + 1 + len(pieces[0]) <= WIDTH else [head, "    " + pieces[0]]
    for piece in pieces[1:]:
        if len(out[-1]) + 1 + len(piece) <= WIDTH:
            out[-1] += " " + piece
        else:
            out.append("    " + piece)
    return out


def _not_wanted(root: Root, at: dt.datetime) -> str:
    if root.not_after is not None and root.not_after < at.date():
        return f"expired on {root.not_after:%Y-%m-%d}"
    if root.trusted_from is not None and root.trusted_from > at.date():
        return f"trusted from {root.trusted_from:%Y-%m-%d}"
    if root.retire_reason:
        return root.retire_reason
    if root.retire_after is not None and root.retire_after < at.date():
        return f"retired after {root.retire_after:%Y-%m-%d}"
    return "not active on this date"


def _action(note: ScopeNote) -> str:
    """The note's action as sync names it: a withheld root is "skipped" (what this run did with it)."""
    return SYNC_WITHHELD if is_withheld(note.action) else note.action


def _scope_line(note: ScopeNote, dry_run: bool) -> str:
    if is_withheld(note.action):
        return f"  {_action(note)} {note.root_id}: {note.message}"
    if note.action == REMOVED:
        verb = "would remove" if dry_run else "removed"
        return f"  {verb} {note.root_id} (as {note.label}): {note.message}"
    assert note.action == FOREIGN
    return f"  left {note.root_id}: {note.message}"
