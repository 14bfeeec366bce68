"""What ``rotator catalog`` shows: the built-in roots, their pins, dates and profiles."""

from __future__ import annotations

from rotator.records import TYPE_CHECKING
from rotator.report import JSON_VERSION
from rotator.report.width import wrapped
from rotator.roots.catalog import Catalog

if TYPE_CHECKING:
    from typing import Any


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
    """Each root as a heading line (id, status, expiry) with its facts indented below it, so that a
    full fingerprint and a long name fit 100 columns; prose wraps."""
    lines = ["roots:"]
    for r in catalog.roots.values():
        expiry = f", not after {r.not_after}" if r.not_after else ""
        lines.append(f"  {r.id}: {r.status}{expiry}")
        lines.append(f"    {r.name}")
        lines.append(f"    sha256 {r.sha256}")
        if r.role:
            lines.append(f"    role: {r.role}")
        trust = r.public_trust_text + (f" ({r.public_trust_note})" if r.public_trust_note else "")
        lines.append(f"    public trust: {trust}")
        if r.note:
            lines.append(f"    {r.note}")
    if catalog.cross_signs:
        lines.append("cross-signs (catalog facts, never written to a store as anchors):")
        for c in catalog.cross_signs:
            lines.append(f"  {c.subject_name} signed by {c.issuer_id}: not after {c.not_after}")
            lines.append(f"    sha256 {c.sha256}")
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
    return wrapped(lines)
