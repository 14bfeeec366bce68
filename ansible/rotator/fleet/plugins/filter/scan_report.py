"""The fleet scan table: ``rotator scan --json`` from every host, one row per failing store.

``{{ results | rotator.fleet.scan_report(hosts) }}`` where ``results`` maps each host to what the
rotator.fleet.scan task registered for it (or nothing, when the task never ran there).
Every read is tolerant: a field the result lacks counts as empty, never a crash.
"""

from __future__ import annotations

SURVIVES = "survives"
FAILS = "fails"
UNREACHABLE = "unreachable"
NOT_SCANNED = "scan failed"


def _count(value, fallback):
    return value if isinstance(value, int) and not isinstance(value, bool) else fallback


def _list(value):
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def fix_text(store):
    """What to do about one failing store, as a command or a setting someone can act on."""
    fix = store.get("fix") if isinstance(store.get("fix"), dict) else {}
    parts = []
    if fix.get("target"):
        parts.append(f"rotator sync --target {fix['target']}")
    elif fix.get("setting"):
        parts.append(f"{fix['setting']} in {fix['where']}" if fix.get("where") else str(fix["setting"]))
    intermediates = [str(i) for i in store.get("azure_intermediates") or [] if i]
    if intermediates:
        # Azure replaces its intermediates without notice: a store must not anchor there.
        parts.append(f"remove {', '.join(intermediates)}")
    return "; ".join(parts) or "-"


def _fails_text(store):
    chains = [str(c) for c in store.get("failing_chains") or [] if c]
    if store.get("azure_intermediates"):
        chains.append("pins an Azure CA")
    return ", ".join(chains) or FAILS


def _reader(store):
    readers = [r for r in _list(store.get("readers")) if r.get("who")]
    if not readers:
        return ""
    more = f" +{len(readers) - 1}" if len(readers) > 1 else ""
    return f"{readers[0]['who']}{more}"


def _host_row(host, result):
    if not isinstance(result, dict) or not result:
        return {"host": host, "state": UNREACHABLE, "failing": [], "reasons": ["rotator scan did not run"]}
    if result.get("unreachable"):
        return {"host": host, "state": UNREACHABLE, "failing": [], "reasons": [str(result.get("msg", "unreachable"))]}
    if result.get("failed") or not isinstance(result.get("stores"), list):
        return {
            "host": host,
            "state": NOT_SCANNED,
            "failing": [],
            "reasons": [str(result.get("msg") or "rotator scan gave no result")],
        }
    summary = result.get("summary") if isinstance(result.get("summary"), dict) else {}
    failing = [
        {
            "path": str(store.get("path", "?")),
            "kind": str(store.get("kind", "")),
            "read_by": _reader(store),
            "fails": _fails_text(store),
            "fix": fix_text(store),
        }
        for store in _list(result.get("failing"))
    ]
    reasons = []
    if summary.get("complete") is False:
        reasons.append("the walk stopped before the end (time limit): stores may be missing from the table")
    breaks = bool(failing) or result.get("breaks") is True
    if breaks and not failing:
        reasons.append("rotator scan says a store fails, and names none this collection can read")
    return {
        "host": host,
        "state": FAILS if breaks else SURVIVES,
        "stores": _count(summary.get("stores"), len(result["stores"])),
        "unreadable": _count(summary.get("unreadable"), len(_list(result.get("unreadable")))),
        "failing": failing,
        "reasons": reasons,
    }


def _table_lines(rows):
    header = ["host", "stores", "failing", "unreadable", "failing store", "kind", "read by", "fails", "fix"]
    body = []
    for row in rows:
        if row["state"] in (UNREACHABLE, NOT_SCANNED):
            body.append([row["host"], "-", "-", "-", row["state"].upper(), "", "", "", ""])
            continue
        counts = [str(row["stores"]), str(len(row["failing"])), str(row["unreadable"])]
        if not row["failing"]:
            body.append([row["host"], *counts, "-", "", "", "", ""])
        for index, store in enumerate(row["failing"]):
            # The host on every line (a line found by grep still says where); its counts once.
            body.append(
                [
                    row["host"],
                    *(counts if index == 0 else ["", "", ""]),
                    store["path"],
                    store["kind"],
                    store["read_by"],
                    store["fails"],
                    store["fix"],
                ]
            )
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in [header, *body]]


def _counted(number, noun):
    return f"{number} {noun}{'' if number == 1 else 's'}"


def scan_report(results, hosts=None):
    """Rows and a printable table for a fleet; ``ok`` is False when a store fails or a host was not scanned."""
    results = results or {}
    hosts = list(hosts) if hosts is not None else sorted(results)
    rows = [_host_row(host, results.get(host)) for host in hosts]
    lines = _table_lines(rows)
    for row in rows:
        lines.extend(f"{row['host']}: {reason}" for reason in row["reasons"])
    failing = [r["host"] for r in rows if r["state"] == FAILS]
    not_scanned = [r["host"] for r in rows if r["state"] in (UNREACHABLE, NOT_SCANNED)]
    stores = sum(len(r["failing"]) for r in rows)
    if not failing and not not_scanned:
        verdict = f"all {_counted(len(rows), 'host')} scanned, no store breaks"
    else:
        parts = [f"{_counted(stores, 'failing store')} on {', '.join(failing)}"] if failing else []
        parts += [f"not scanned: {', '.join(not_scanned)}"] if not_scanned else []
        verdict = "; ".join(parts)
    return {
        "ok": not failing and not not_scanned,
        "failing_hosts": failing,
        "not_scanned": not_scanned,
        "failing_stores": stores,
        "verdict": verdict,
        "hosts": rows,
        "lines": lines,
    }


class FilterModule:
    def filters(self):
        return {"scan_report": scan_report}
