"""What ``rotator catalog check`` tells the user: plain text, or one JSON document."""

from __future__ import annotations

from rotator.records import TYPE_CHECKING
from rotator.report import JSON_VERSION
from rotator.upstream.check import CheckRun
from rotator.upstream.proposal import AGREES, DISAGREES, Proposal
from rotator.upstream.published_list import PublishedCA

if TYPE_CHECKING:
    from typing import Any


def _row(row: PublishedCA) -> dict[str, Any]:
    return {"name": row.name, "url": row.url, "serial": row.serial_hex, "sha1": row.sha1, "line": row.line}


def check_json(checked: CheckRun) -> dict[str, Any]:
    result = checked.result
    return {
        "version": JSON_VERSION,
        "command": "catalog check",
        "source": result.published.source,
        "at": result.at.isoformat(),
        "ok": result.ok,
        "published": {
            "roots": [_row(r) for r in result.published.roots],
            "subordinates": [_row(r) for r in result.published.subordinates],
        },
        "agreeing": [{"id": root.id, "sha1": row.sha1, "name": row.name} for root, row in result.comparison.agreeing],
        "differences": [
            {
                "kind": d.kind,
                "root": d.root_id,
                "published": _row(d.published) if d.published else None,
                "message": d.message,
            }
            for d in result.comparison.differences
        ],
        "proposals": [_proposal_json(p) for p in checked.proposals],
        "notes": list(result.notes),
    }


def _proposal_json(p: Proposal) -> dict[str, Any]:
    return {
        "name": p.published.name,
        "id": p.root_id,
        "ok": p.ok,
        "sha256": p.cert.sha256 if p.cert is not None else None,
        "url": p.published.url,
        "problems": list(p.problems),
        "channels": [{"channel": c.name, "verdict": c.verdict, "detail": c.detail} for c in p.channels],
        "agreed": p.agreed if p.ok else [],
        "entry": p.entry() if p.ok else None,
    }


def check_unreadable_json(source: str, error: str) -> dict[str, Any]:
    return {"version": JSON_VERSION, "command": "catalog check", "source": source, "ok": False, "error": error}


def check_text(checked: CheckRun) -> list[str]:
    result = checked.result
    published = result.published
    lines = [
        f"Azure's published CA list: {published.source}",
        f"  {len(published.roots)} roots, {len(published.subordinates)} subordinate CAs; "
        f"read {result.at:%Y-%m-%d %H:%M}Z",
    ]
    if result.comparison.agreeing:
        ids = sorted({root.id for root, _ in result.comparison.agreeing})
        lines.append(f"agree with the catalog: {', '.join(ids)}")
    if result.comparison.differences:
        lines.append("differences:")
        lines.extend(f"  {d.kind}: {d.message}" for d in result.comparison.differences)
    lines.extend(f"note: {n}" for n in result.notes)
    for p in checked.proposals:
        lines.append("")
        lines.extend(proposal_text(p))
    lines.append("")
    if result.ok:
        lines.append("verdict: OK: the catalog agrees with Azure's published list")
    else:
        count = len(result.comparison.differences)
        lines.append(
            f"verdict: DIFFERS: {count} difference{'s' if count != 1 else ''} between the catalog and "
            "Azure's published list; nothing was changed or trusted"
        )
    return lines


def proposal_text(p: Proposal) -> list[str]:
    name = p.published.name
    if p.problems:
        lines = [f"no proposal for {name!r}: it does not match what the list publishes, or cannot be checked:"]
        lines.extend(f"  - {problem}" for problem in p.problems)
        lines.append("  do not trust it on the strength of the list alone")
        return lines
    assert p.cert is not None
    cert = p.cert
    lines = [
        f"{name!r}: downloaded from {p.published.url}",
        f"  SHA-1 {cert.sha1} and serial {cert.x509.serial_number:x} as published; self-signed CA; "
        f"valid until {cert.not_after:%Y-%m-%d}",
        f"  SHA-256 {cert.sha256}",
    ]
    for c in p.channels:
        mark = {AGREES: "agrees", DISAGREES: "DISAGREES"}.get(c.verdict, "no evidence")
        lines.append(f"  second channel {c.name}: {mark}: {c.detail}")
    if not p.ok:
        lines.append("  no proposal: a second channel holds another certificate under this name; find out why first")
        return lines
    independent = [c for c in p.channels if c.verdict == AGREES]
    if independent:
        lines.append(f"  agreed: {'; '.join(p.agreed)}")
    else:
        hint = "" if p.channels else " (name one with --cross-check FILE|DIR|URL)"
        lines.append(
            f"  agreed: the published download only; no independent channel confirmed it{hint}: "
            "compare the SHA-256 with a source you trust before pasting"
        )
    lines.append("  nothing was trusted. To trust it, add this to the config, and its id to `include`")
    lines.append("  (or to a profile) to put it in the stores:")
    lines.append("")
    lines.extend(f"    {line}" for line in p.entry().splitlines())
    return lines
