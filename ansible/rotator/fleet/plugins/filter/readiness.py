"""The fleet readiness table: ``rotator status --json`` from every host, one row per host.

``{{ results | rotator.fleet.readiness }}`` where ``results`` maps each host to what the
rotator.fleet.status task registered for it (or nothing, when the task never ran there).
Every read of rotator's JSON is tolerant: a field it lacks counts as unknown, never a crash.
"""

from __future__ import annotations

import datetime as dt

READY = "ready"
NOT_READY = "not ready"
UNREACHABLE = "unreachable"
NOT_WANTED = "-"


def _date(text):
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def _cells(target):
    """root id -> cell ("owned", "present", "missing", ...) of one target, from a dict or a list."""
    roots = target.get("roots")
    if isinstance(roots, dict):
        return {str(k): str(v).lower() for k, v in roots.items()}
    out = {}
    for item in roots if isinstance(roots, list) else []:
        if isinstance(item, dict) and item.get("id"):
            out[str(item["id"])] = str(item.get("state") or item.get("status") or "").lower()
    return out


def _next_deadline(report):
    """The soonest dated event ahead (entering, retiring, expiring), else the soonest expiry."""
    today = _date(report.get("at")) or dt.datetime.now(dt.UTC).date()
    best = None
    for event in report.get("events") or []:
        if not isinstance(event, dict):
            continue
        day = _date(event.get("date"))
        if day is None or day < today:
            continue
        if best is None or day < best["date_obj"]:
            best = {"date_obj": day, "root": event.get("root"), "what": event.get("what")}
    if best is None:
        for root in report.get("roots") or []:
            if isinstance(root, dict) and root.get("not_after"):
                day = _date(root["not_after"])
                if day is not None and (best is None or day < best["date_obj"]):
                    best = {"date_obj": day, "root": root.get("id"), "what": "expires"}
    if best is None:
        return None
    day = best.pop("date_obj")
    return dict(best, date=day.isoformat(), days=(day - today).days)


def _host_row(host, result):
    if not isinstance(result, dict) or not result:
        return {"host": host, "state": UNREACHABLE, "roots": {}, "reasons": ["rotator status did not run"]}
    if result.get("unreachable"):
        return {"host": host, "state": UNREACHABLE, "roots": {}, "reasons": [str(result.get("msg", "unreachable"))]}
    report = result.get("report")
    if result.get("failed") or not isinstance(report, dict):
        return {
            "host": host,
            "state": NOT_READY,
            "roots": {},
            "failed": True,
            "reasons": [str(result.get("msg") or "rotator status gave no report")],
        }
    wanted = [str(r["id"]) for r in report.get("roots") or [] if isinstance(r, dict) and r.get("id")]
    targets = [t for t in report.get("targets") or [] if isinstance(t, dict)]
    roots = {}
    reasons = []
    cells = [_cells(t) for t in targets if not t.get("error")]
    for root_id in wanted:
        # A target lists only the roots it should hold (its own profile; a host-wide store leaves out
        # publicly distrusted ones): a root no target lists is not wanted here.
        listed = [c[root_id] for c in cells if root_id in c]
        if len(cells) < len(targets) or "missing" in listed:
            roots[root_id] = NOT_READY
        else:
            roots[root_id] = READY if listed else NOT_WANTED
    for target in targets:
        if target.get("error"):
            reasons.append(f"{target.get('target', '?')}: {target['error']}")
    for finding in report.get("findings") or []:
        if (
            isinstance(finding, dict)
            and finding.get("severity") == "error"
            and not str(finding.get("message", "")).startswith("cannot read")
        ):
            where = f"{finding['target']}: " if finding.get("target") else ""
            reasons.append(f"{where}{finding.get('message', '')}")
    compliant = report.get("compliant")
    ready = all(v != NOT_READY for v in roots.values()) and compliant is not False
    if not targets:
        reasons.append("no targets: nothing to check on this host")
    return {
        "host": host,
        "state": READY if ready else NOT_READY,
        "roots": roots,
        "next_deadline": _next_deadline(report),
        "reasons": reasons if not ready else [],
    }


def _deadline_text(deadline):
    if not deadline:
        return ""
    return f"{deadline['days']} days ({deadline['date']} {deadline.get('root') or ''}: {deadline.get('what') or ''})"


def readiness(results, hosts=None):
    """Rows, columns and a printable table for a fleet; ``ready`` is False when any host is not."""
    results = results or {}
    hosts = list(hosts) if hosts is not None else sorted(results)
    rows = [_host_row(host, results.get(host)) for host in hosts]
    columns = []
    for row in rows:
        for root_id in row["roots"]:
            if root_id not in columns:
                columns.append(root_id)
    for row in rows:
        if row["state"] == UNREACHABLE:
            row["cells"] = {c: UNREACHABLE for c in columns}
        else:
            row["cells"] = {c: row["roots"].get(c, NOT_WANTED) for c in columns}
    header = ["host", *columns, "host verdict", "next deadline"]
    body = [
        [
            r["host"],
            *(r["cells"][c] for c in columns),
            r["state"].upper() if r["state"] != READY else READY,
            _deadline_text(r.get("next_deadline")),
        ]
        for r in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in [header, *body]
    ]
    for row in rows:
        lines.extend(f"{row['host']}: {reason}" for reason in row["reasons"])
    not_ready = [r["host"] for r in rows if r["state"] != READY]
    return {"ready": not not_ready, "not_ready": not_ready, "columns": columns, "hosts": rows, "lines": lines}


class FilterModule:
    def filters(self):
        return {"readiness": readiness}
