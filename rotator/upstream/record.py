"""What rotator knows of Azure's published CA list between runs.

Two sources, both read explicitly, never at import time:

- ``BUILTIN_INTERMEDIATES``: a few subordinate CAs of Azure's list whose certificates were checked
  (SHA-1 equals the published thumbprint; the signature verifies against DigiCert Global Root G2).
- The last ``rotator catalog check`` (by hand or by the daemon), saved as ``catalog-check.json`` in
  the state directory: when it ran, whether the list differed from the catalog and how, and every
  subordinate CA thumbprint it read. ``status`` and ``probe`` name a published intermediate from it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rotator.errors import RotatorError
from rotator.host.files import ReadAs, atomic_write, read_file_or_none
from rotator.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

FILE_NAME = "catalog-check.json"
RECORD_VERSION = 1

# SHA-1 -> name as Microsoft lists it. Cross-signed certificates carry the subject of the CA they
# cross-sign, hence the note in the name.
BUILTIN_INTERMEDIATES: Mapping[str, str] = {
    "b5ee89e77326ab2bf1775bd99c19a28947ff8184": "Microsoft TLS RSA Root G2 (cross-signed by DigiCert Global Root G2)",
    "7fa05acf9b4aabb0de0cfafa297ddf92fdc5f3f5": "Microsoft TLS ECC Root G2 (cross-signed by DigiCert Global Root G3)",
    "f8a408b8fbeea077b75738658641be77154720eb": "Microsoft TLS G2 RSA CA OCSP 02",
    "f9388ea2c9b7d632b66a2b0b406df1d37d3901f6": "Microsoft Azure RSA TLS Issuing CA 03 (cross-signed)",
}


@dataclass(frozen=True)
class CheckRecord:
    """The outcome of the last check, as saved."""

    at: str  # ISO time of the attempt ("" when the saved file was damaged)
    source: str
    ok: bool | None  # True: agrees; False: differs; None: the list could not be read
    error: str | None = None
    differences: tuple[tuple[str, str], ...] = ()  # (kind, message)
    intermediates: Mapping[str, str] = field(default_factory=dict)  # SHA-1 -> name, from the list
    last_read: str | None = None  # ISO time of the last successful read (kept across failures)

    @property
    def at_time(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.at) if self.at else dt.datetime.min.replace(tzinfo=dt.UTC)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": RECORD_VERSION,
            "at": self.at,
            "source": self.source,
            "ok": self.ok,
            "error": self.error,
            "differences": [{"kind": k, "message": m} for k, m in self.differences],
            "intermediates": dict(sorted(self.intermediates.items())),
            "last_read": self.last_read,
        }


def load(state_dir: Path | None) -> CheckRecord | None:
    """The last check, or None when none was saved. A damaged file is an error naming it."""
    if state_dir is None:
        return None
    path = state_dir / FILE_NAME
    raw = read_file_or_none(path, ReadAs("catalog check record", "check --state-dir", RotatorError))
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
        if doc.get("version") != RECORD_VERSION:
            raise ValueError(f"unknown version {doc.get('version')!r}")
        return CheckRecord(
            at=str(doc["at"]),
            source=str(doc["source"]),
            ok=None if doc["ok"] is None else bool(doc["ok"]),
            error=doc.get("error"),
            differences=tuple((str(d["kind"]), str(d["message"])) for d in doc.get("differences", [])),
            intermediates={str(k).lower(): str(v) for k, v in doc.get("intermediates", {}).items()},
            last_read=doc.get("last_read"),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RotatorError(f"{path} is damaged ({exc}); delete it and run rotator catalog check again") from exc


def load_or_note(state_dir: Path | None) -> CheckRecord | None:
    """``load`` for status and the daemon: a damaged file becomes a record saying so (and due a new
    check), so that a side file never stops a sync."""
    try:
        return load(state_dir)
    except RotatorError as exc:
        return CheckRecord(at="", source=str(state_dir), ok=None, error=str(exc))


def save(state_dir: Path, record: CheckRecord) -> None:
    data = json.dumps(record.to_json(), indent=2).encode() + b"\n"
    atomic_write(state_dir / FILE_NAME, data, mode=0o644)


def intermediates(record: CheckRecord | None) -> dict[str, str]:
    """Every known Azure intermediate, SHA-1 -> name: the built-in few plus the last list read."""
    known = dict(BUILTIN_INTERMEDIATES)
    if record is not None:
        known.update(record.intermediates)
    return known
