"""What a run tells the user: plain text for people, one stable JSON document for machines."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from rotator.catalog import Catalog, Root
from rotator.certs import Cert
from rotator.engine import SyncResult
from rotator.errors import ServerUnreachable
from rotator.scope import FOREIGN, REMOVED, SKIPPED, ScopeNote
from rotator.state import State
from stores.base import Plan

# rotator.status is imported by the functions that report status: a sync's report does not load it.
if TYPE_CHECKING:
    from rotator.probe import ProbeResult
    from rotator.status import Reach, StatusReport

JSON_VERSION = 1


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
                    {"action": n.action, "root": n.root_id, "as": n.label or None, "message": n.message}
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
        lines.append(f"{t.target}: {'; '.join(parts) or 'up to date'}")
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
    return lines


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


def _scope_line(note: ScopeNote, dry_run: bool) -> str:
    if note.action == SKIPPED:
        return f"  skipped {note.root_id}: {note.message}"
    if note.action == REMOVED:
        verb = "would remove" if dry_run else "removed"
        return f"  {verb} {note.root_id} (as {note.label}): {note.message}"
    assert note.action == FOREIGN
    return f"  left {note.root_id}: {note.message}"


def catalog_json(catalog: Catalog) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "roots": [
            {
                "id": r.id,
                "name": r.name,
                "sha256": r.sha256,
                "sha1": r.sha1 or None,
                "urls": list(r.urls),
                "file": str(r.file) if r.file else None,
                "key": r.key or None,
                "not_after": r.not_after.isoformat() if r.not_after else None,
                "status": r.status,
                "note": r.note,
                "embedded": r.embedded,
                "custom": r.custom,
                "trusted_from": r.trusted_from.isoformat() if r.trusted_from else None,
                "retire_after": r.retire_after.isoformat() if r.retire_after else None,
                "retire_reason": r.retire_reason or None,
                "role": r.role or None,
                "public_trust": {
                    "status": r.public_trust or None,
                    "date": r.public_trust_date.isoformat() if r.public_trust_date else None,
                    "note": r.public_trust_note or None,
                },
            }
            for r in catalog.roots.values()
        ],
        "cross_signs": [
            {
                "subject": c.subject_id,
                "subject_name": c.subject_name,
                "issuer": c.issuer_id,
                "sha256": c.sha256,
                "sha1": c.sha1,
                "not_after": c.not_after.isoformat(),
                "note": c.note,
            }
            for c in catalog.cross_signs
        ],
        "profiles": {name: list(ids) for name, ids in catalog.profiles.items()},
        "profile_purposes": {name: catalog.purpose(name) for name in catalog.profiles},
    }


def catalog_text(catalog: Catalog) -> list[str]:
    lines = ["roots:"]
    for r in catalog.roots.values():
        expiry = f"not after {r.not_after}" if r.not_after else ""
        lines.append(f"  {r.id:32} {r.status:8} {expiry:22} {r.name}")
        lines.append(f"  {'':32} sha256 {r.sha256}")
        if r.role:
            lines.append(f"  {'':32} role: {r.role}")
        trust = r.public_trust_text + (f" ({r.public_trust_note})" if r.public_trust_note else "")
        lines.append(f"  {'':32} public trust: {trust}")
        if r.note:
            lines.append(f"  {'':32} {r.note}")
    if catalog.cross_signs:
        lines.append("cross-signs (catalog facts, never written to a store as anchors):")
        for c in catalog.cross_signs:
            lines.append(f"  {c.subject_name} signed by {c.issuer_id}: not after {c.not_after}, sha256 {c.sha256}")
            if c.note:
                lines.append(f"    {c.note}")
    lines.append("profiles:")
    for name, ids in catalog.profiles.items():
        lines.append(f"  {name}: {catalog.purpose(name)}")
        lines.append(f"    {', '.join(ids)}")
    lines.append(
        "host-wide stores (system, java-cacerts) never get a root whose public trust is 'removed' unless "
        "the target sets allow_distrusted"
    )
    return lines


def status_json(status: StatusReport, state: State) -> dict[str, Any]:
    from rotator.status import WITHHELD

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
                "roots": {k: v for k, v in t.cells.items() if v != WITHHELD},
                "withheld": [k for k, v in t.cells.items() if v == WITHHELD],
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
    from rotator.status import ERROR

    return [f"{f.target}: {f.message}" if f.target else f.message for f in status.findings if f.severity == ERROR]


def status_text(status: StatusReport, state: State, *, verbose: bool = False) -> list[str]:
    """The table part fits 100 columns: the target on its line, its facts below; with ``verbose``, one
    line per root. Events and findings are sentences, one line each (for grep)."""
    from rotator.status import MISSING, OWNED, PRESENT, WITHHELD

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
        withheld = [i for i, c in t.cells.items() if c == WITHHELD]
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
        for e in status.events:
            lines.append(f"  {e.date}  {e.root_id}: {e.what}")
    if status.findings:
        lines.append("findings:")
        for f in status.findings:
            where = f"{f.target}: " if f.target else ""
            lines.append(f"  {f.severity}: {where}{f.message}")
    if not verbose:
        lines.append("(each target's roots one by one: -v; everything: --json)")
    return lines


def _reach_text(r: Reach) -> str:
    from rotator.status import CROSS_SIGN, DIRECT

    if r.path == DIRECT:
        return f"directly ({r.anchor}, until {r.until})"
    if r.path == CROSS_SIGN:
        return f"only through the {r.anchor} cross-sign, until {r.until}"
    return "not anchored"


def probe_json(result: ProbeResult) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "command": "probe",
        "chain_file": result.chain_file,
        "host": None if result.chain_file else result.endpoint.host,
        "port": None if result.chain_file else result.endpoint.port,
        "starttls": result.endpoint.starttls,
        "servername": result.endpoint.name,
        "sslmode": result.sslmode,
        "hostname_checked": result.hostname,
        "at": result.at.isoformat(),
        "reachable": True,
        "tls_version": result.tls_version,
        "server_certificate": result.has_leaf,
        "chain": [
            {
                "index": i,
                "subject": c.subject,
                "issuer": c.issuer,
                "not_before": c.not_before.isoformat(),
                "not_after": c.not_after.isoformat(),
                "sha256": c.sha256,
                "ca": c.is_ca,
                "valid_at": not c.expired(result.at) and c.not_before <= result.at,
            }
            for i, c in enumerate(result.chain)
        ],
        "anchors": [
            {
                "id": a.root.id,
                "name": a.root.name,
                "sha256": a.cert.sha256,
                "signs": a.index,
                "sent_by_server": a.sent,
            }
            for a in result.anchors
        ],
        "targets": [
            {
                "target": t.target,
                "trusted": t.trusted,
                "anchor": (
                    {"id": result.root_id(t.anchor), "subject": t.anchor.subject, "sha256": t.anchor.sha256}
                    if t.anchor is not None
                    else None
                ),
                "path": [c.sha256 for c in t.path],
                "route": t.route or None,
                "cross_sign": (
                    {
                        "subject": t.cross_sign.subject_id,
                        "issuer": t.cross_sign.issuer_id,
                        "sha256": t.cross_sign.sha256,
                        "not_after": t.cross_sign.not_after.isoformat(),
                    }
                    if t.cross_sign is not None
                    else None
                ),
                "reason": t.reason or None,
                "notes": list(t.notes),
            }
            for t in result.targets
        ],
        "azure_intermediates": [
            {"index": i, "name": name, "sha1": result.chain[i].sha1} for i, name in result.azure_intermediates
        ],
        "configured_targets": result.configured_targets,
        "missing_cross_signs": [
            {"subject": c.subject_id, "name": c.subject_name, "issuer": c.issuer_id} for c in result.missing_cross_signs
        ],
        "ok": result.ok,
        "verdict": probe_verdict(result),
        "warnings": list(result.warnings),
    }


def probe_unreachable_json(error: ServerUnreachable, starttls: str | None) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "command": "probe",
        "endpoint": error.endpoint,
        "starttls": starttls,
        "reachable": False,
        "reason": error.reason,
        "error": error.detail,
        "ok": False,
    }


def _probed(result: ProbeResult) -> str:
    return f"the chain in {result.chain_file}" if result.chain_file else str(result.endpoint)


def probe_verdict(result: ProbeResult) -> str:
    verdict = _verdict(result)
    if not result.has_leaf:
        verdict += " (as far as the chain goes: the file holds no server certificate)"
    return verdict


def _verdict(result: ProbeResult) -> str:
    where = _probed(result)
    if not result.configured_targets:
        target = result.targets[0]
        scope = f"a store holding profile {target.target.removeprefix('profile:')}'s roots"
        hint = " (no targets configured: pass --target KIND:PATH to check the stores your clients read)"
        if target.trusted:
            return f"OK: {scope} trusts {where}{hint}"
        return f"FAIL: {scope} would reject {where}: {target.reason}{hint}"
    bad = [t for t in result.targets if not t.trusted]
    if not bad:
        return f"OK: every target ({len(result.targets)}) trusts {where}"
    names = ", ".join(t.target for t in bad)
    return f"FAIL: {len(bad)} of {len(result.targets)} targets would reject {where}: {names}"


def _anchor_label(result: ProbeResult, cert: Cert | None) -> str:
    if cert is None:
        return "nothing"
    root_id = result.root_id(cert)
    return f"{root_id} ({cert.common_name})" if root_id else repr(cert.common_name)


def probe_text(result: ProbeResult) -> list[str]:
    ep = result.endpoint
    tls = result.tls_version or "TLS"
    how = f"PostgreSQL SSLRequest, then {tls}" if ep.starttls == "postgres" else tls
    checked = f"name checked: {result.hostname}" if result.hostname else "name not checked (verify-ca)"
    count = f"{len(result.chain)} certificate{'s' if len(result.chain) != 1 else ''}"
    if result.chain_file:
        if not result.has_leaf:
            checked = "name not checked (no server certificate in the file)"
        elif not result.hostname:
            checked = "name not checked (give --servername NAME to check it)"
        lines = [f"probe chain file {result.chain_file} (no connection); {checked}; at {result.at:%Y-%m-%d %H:%M}Z"]
        held = "server certificate first" if result.has_leaf else "no server certificate"
        lines.append(f"chain in the file ({count}, {held}):")
    else:
        lines = [f"probe {ep} ({how}); {checked}; at {result.at:%Y-%m-%d %H:%M}Z"]
        lines.append(f"chain sent by the server ({count}):")
    for i, c in enumerate(result.chain):
        state = ""
        if c.expired(result.at):
            state = "  EXPIRED"
        elif c.not_before > result.at:
            state = "  NOT YET VALID"
        lines.append(f"  [{i}] {c.subject}")
        lines.append(f"      issuer     {c.issuer}")
        lines.append(f"      not after  {c.not_after:%Y-%m-%d %H:%M}Z{state}")
        lines.append(f"      sha256     {c.sha256}")
    if result.azure_intermediates:
        lines.append("Azure intermediates (on Microsoft's published list; rotated without notice, never pin them):")
        lines.extend(f"  [{i}] {name}" for i, name in result.azure_intermediates)
    if result.anchors:
        lines.append("anchored by catalog roots (by signature):")
        for a in result.anchors:
            itself = "in the file itself" if result.chain_file else "sent by the server itself"
            what = itself if a.sent else f"signs [{a.index}] {result.chain[a.index].common_name}"
            lines.append(f"  {a.root.id} ({a.root.name}): {what}")
    else:
        lines.append("anchored by catalog roots: none (no catalog root signs any certificate of this chain)")
    label = "targets" if result.configured_targets else "no targets configured; the profile's roots"
    lines.append(f"{label} (a client using each store, sslmode={result.sslmode}):")
    for t in result.targets:
        if t.trusted:
            path = " > ".join(c.common_name for c in t.path)
            if t.cross_sign is not None:
                route = (
                    f"through the cross-sign of {t.cross_sign.subject_name} by {t.cross_sign.issuer_id}, "
                    f"valid to {t.cross_sign.not_after}"
                )
            else:
                route = "direct root"
            lines.append(
                f"  {t.target}: trusted, anchored at {_anchor_label(result, t.anchor)}, {route} (path: {path})"
            )
        else:
            lines.append(f"  {t.target}: NOT trusted: {t.reason}")
        lines.extend(f"    note: {n}" for n in t.notes)
    lines.extend(f"warning: {w}" for w in result.warnings)
    lines.append(f"verdict: {probe_verdict(result)}")
    return lines
