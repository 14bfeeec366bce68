"""What ``rotator scan`` shows: one line per store (failing first), a summary, the fixes; the
evidence with -v; one JSON document with --json (docs/scan.md)."""

from __future__ import annotations

import os

from rotator.records import TYPE_CHECKING
from rotator.report import JSON_VERSION
from rotator.report.width import WIDTH, wrapped
from rotator.scan.run import ScanResult, StoreReport, bundle_targets
from rotator.scan.verdict import FAILS, SURVIVES

if TYPE_CHECKING:
    from typing import Any


def _status(store: StoreReport) -> str:
    failing = [chain_id for chain_id, v in store.verdicts.items() if v.outcome == FAILS]
    if len(failing) == 1 and len(store.verdicts) > 1:
        # One chain of several: name it, so that "fails only without the cross-sign" reads apart
        # from "fails today" (a stock public bundle is the first).
        return f"FAILS {failing[0].removeprefix('postgresql-')}"
    if failing:
        return "FAILS"
    if store.azure_intermediates:
        return "PINS AZURE CA"
    deadline = store.deadline
    return f"until {deadline}" if deadline else "survives"


def _order(store: StoreReport) -> tuple[int, str]:
    status = _status(store)
    rank = (
        0 if status.startswith("FAILS") else 1 if status == "PINS AZURE CA" else 2 if status.startswith("until") else 3
    )
    return (rank, store.found.path)


def _elide(text: str, room: int) -> str:
    if len(text) <= room:
        return text
    keep = max(room - 1, 2)
    return text[: keep // 3] + "…" + text[len(text) - (keep - keep // 3) :]


def store_line(store: StoreReport) -> str:
    head = f"{_status(store):<17} {store.found.kind:<13} "
    reader = store.found.readers[0].who if store.found.readers else ""
    more = f" +{len(store.found.readers) - 1}" if len(store.found.readers) > 1 else ""
    return _fit(head, store.found.path, f"  {reader}" if reader else "", more)


def _fit(head: str, path: str, tail: str, more: str = "") -> str:
    """``head path tail more`` in WIDTH columns: the tail is cut first, then the path's middle."""
    room = WIDTH - len(head) - len(path) - len(more)
    if len(tail) > room:
        tail = tail[: room - 1] + "…" if room > 12 else ""
    if len(head) + len(path) + len(tail) + len(more) > WIDTH:
        path = _elide(path, WIDTH - len(head) - len(tail) - len(more))
    return head + path + tail + more


def summary(result: ScanResult) -> str:
    failing = len(result.failing)
    until = len([s for s in result.stores if _status(s).startswith("until")])
    parts = [f"{len(result.stores)} stores: {failing} fail", f"{until} until a deadline"]
    if result.unreadable:
        parts.append(f"{len(result.unreadable)} unreadable")
    return f"{', '.join(parts)} ({result.entries} entries walked in {result.seconds:.1f} s)"


def unreadable_line(kind: str, path: str, reason: str) -> str:
    return _fit(f"{'UNREADABLE':<17} {kind:<13} ", path, "  " + reason.split("; ")[0])


def fix_lines(result: ScanResult) -> list[str]:
    """One sync command for every target (a line per target, so that it pastes whole however long a
    path is), then each setting to add by hand, then each Azure CA to remove."""
    ordered = sorted(result.stores, key=_order)
    specs = list(dict.fromkeys(s.target.spec for s in ordered if s.target is not None))
    specs += [t.spec for t in bundle_targets(result)]
    out = []
    if specs:
        out.append("fix: rotator sync \\")
        out += [f"       --target {spec}" + (" \\" if n < len(specs) - 1 else "") for n, spec in enumerate(specs)]
    settings = dict.fromkeys(s.setting for s in ordered if s.setting is not None)
    for setting, where in settings:
        # Commands joined for the JSON document (an NSS import) read one to a line here.
        out += [f"fix: {part}" for part in setting.split(" && ")]
        out += wrapped([f"       in {where}"])
    for store in ordered:
        if store.azure_intermediates:
            removal = f"fix: remove {', '.join(store.azure_intermediates)} from {store.found.path}: "
            out += wrapped([removal + "Azure rotates these without notice"])
    return out


def scan_text(result: ScanResult, *, verbose: bool) -> list[str]:
    lines = []
    for store in sorted(result.stores, key=_order):
        lines.append(store_line(store))
        if verbose:
            lines += wrapped(_evidence(store))
    for found, problem in result.unreadable:
        lines.append(unreadable_line(found.kind if found else "", problem.path, problem.reason))
        if verbose:
            lines.append(f"    {problem.reason}")
    denied = [p for _, p in result.unreadable if "permission denied" in p.reason]
    if denied and hasattr(os, "geteuid") and os.geteuid() != 0:
        lines.append(f"{len(denied)} unreadable for want of permission: run scan as root to judge them too")
    if result.incomplete:
        lines.append(f"warning: the walk {result.incomplete}: the results are incomplete")
    lines.append(summary(result))
    if verbose:
        lines += [f"judged against {c.id}: {c.label}" for c in result.chains]
    lines += fix_lines(result)
    return lines


def _evidence(store: StoreReport) -> list[str]:
    out = [f"    read by {reader.text()}" for reader in store.found.readers]
    out += [f"    note: {note}" for note in store.found.notes]
    roots = ", ".join(store.azure_roots) or "none"
    out.append(f"    {store.count} certificates; Azure roots: {roots}")
    if store.azure_intermediates:
        out.append(f"    Azure intermediates or leaves: {', '.join(store.azure_intermediates)} (remove them)")
    for chain_id, verdict in store.verdicts.items():
        out.append(f"    {chain_id}: {verdict.code}: {verdict.evidence}")
    out.append(f"    managed by rotator: {'yes' if store.managed else 'no'}")
    return out


def scan_json(result: ScanResult) -> dict[str, Any]:
    stores: list[dict[str, Any]] = []
    for store in sorted(result.stores, key=_order):
        fix: dict[str, str] | None = None
        if store.target is not None:
            fix = {"target": store.target.spec}
        elif store.setting is not None:
            fix = {"setting": store.setting[0], "where": store.setting[1]}
        stores.append(
            {
                "path": store.found.path,
                "kind": store.found.kind,
                "readers": [{"who": r.who, "why": r.why} for r in store.found.readers],
                "notes": list(store.found.notes),
                "certificates": store.count,
                "azure_roots": store.azure_roots,
                "azure_intermediates": store.azure_intermediates,
                "verdicts": {chain_id: v.code for chain_id, v in store.verdicts.items()},
                "managed": store.managed,
                "fix": fix,
            }
        )
    failing = [s for s in stores if s["azure_intermediates"] or FAILS in s["verdicts"].values()]
    return {
        "version": JSON_VERSION,
        "command": "scan",
        "chains": {c.id: c.label for c in result.chains},
        "stores": stores,
        "unreadable": [
            {"path": p.path, "reason": p.reason, "kind": f.kind if f else None} for f, p in result.unreadable
        ],
        "summary": {
            "stores": len(stores),
            "failing": len(failing),
            "surviving": len([s for s in stores if set(s["verdicts"].values()) == {SURVIVES}]),
            "unreadable": len(result.unreadable),
            "entries_walked": result.entries,
            "seconds": round(result.seconds, 3),
            "complete": not result.incomplete,
        },
    }
