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
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rotator.errors import RotatorError
from rotator.host.files import ReadAs, atomic_write, read_file_or_none
from rotator.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

log = logging.getLogger(__name__)

FILE_NAME = "catalog-check.json"
RECORD_VERSION = 1
# A record holds one list's intermediates: a few KiB. The cap keeps a planted or damaged file from
# costing more than that to read (and json from recursing into a deeply nested one).
MAX_RECORD_BYTES = 4 * 1024 * 1024
_SHOWN = 80  # characters of a bad value quoted in a message

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

    at: str  # ISO 8601 time of the attempt, with its zone
    source: str
    ok: bool | None  # True: agrees; False: differs; None: the list could not be read
    error: str | None = None
    differences: tuple[tuple[str, str], ...] = ()  # (kind, message)
    intermediates: Mapping[str, str] = field(default_factory=dict)  # SHA-1 -> name, from the list
    last_read: str | None = None  # ISO time of the last successful read (kept across failures)

    @property
    def at_time(self) -> dt.datetime:
        """When the check ran; the earliest time (due at once) when that is not known, so that no
        record, however it was made, can stop the daemon or a sync."""
        try:
            return instant(self.at)
        except ValueError:
            return dt.datetime.min.replace(tzinfo=dt.UTC)

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


def instant(text: str) -> dt.datetime:
    """An ISO 8601 time with its zone, as ``now_iso`` writes it; ValueError for anything else. A time
    without a zone cannot be compared with the daemon's clock (nor placed on a metric's axis)."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"not a time: {_shown(text)}")
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {_shown(text)}") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"a time without a zone: {_shown(text)}")
    return when


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _str(doc: Mapping[str, Any], key: str) -> str:
    value = doc[key]
    if not isinstance(value, str):
        raise ValueError(f"{key!r} is {_shown(value)}, not text")
    return value


def _optional_str(doc: Mapping[str, Any], key: str) -> str | None:
    return None if doc.get(key) is None else _str(doc, key)


def _parse(doc: Any) -> CheckRecord:
    """Every value checked for its type: a wrong one makes the file damaged, never a crash later."""
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    if doc.get("version") != RECORD_VERSION:
        raise ValueError(f"unknown version {_shown(doc.get('version'))}")
    at = _str(doc, "at")
    instant(at)
    last_read = _optional_str(doc, "last_read")
    if last_read is not None:
        instant(last_read)
    ok = doc["ok"]
    if ok is not None and not isinstance(ok, bool):
        raise ValueError(f"'ok' is {_shown(ok)}, not true, false or null")
    differences = doc.get("differences", [])
    if not isinstance(differences, list) or not all(isinstance(d, dict) for d in differences):
        raise ValueError("'differences' is not a list of objects")
    found = doc.get("intermediates", {})
    if not isinstance(found, dict):
        raise ValueError("'intermediates' is not an object")
    return CheckRecord(
        at=at,
        source=_str(doc, "source"),
        ok=ok,
        error=_optional_str(doc, "error"),
        differences=tuple((_str(d, "kind"), _str(d, "message")) for d in differences),
        intermediates={sha1.lower(): _str(found, sha1) for sha1 in found},
        last_read=last_read,
    )


def load(state_dir: Path | None) -> CheckRecord | None:
    """The last check, or None when none was saved. A damaged file is an error naming it."""
    if state_dir is None:
        return None
    path = state_dir / FILE_NAME
    read_as = ReadAs("catalog check record", "check --state-dir", RotatorError)
    raw = read_file_or_none(path, read_as, limit=MAX_RECORD_BYTES)
    if raw is None:
        return None
    try:
        return _parse(json.loads(raw))
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        reason = f"no {exc}" if isinstance(exc, KeyError) else str(exc) or type(exc).__name__
        raise RotatorError(
            f"catalog check record {path} is damaged ({reason}); it is ignored until the next check "
            "rewrites it: run rotator catalog check"
        ) from exc


def load_or_note(state_dir: Path | None) -> CheckRecord | None:
    """``load`` for sync, status, probe and the daemon: a record that cannot be used is ignored with
    a warning (the next check rewrites it), so that a side file never stops any of them."""
    try:
        return load(state_dir)
    except RotatorError as exc:
        log.warning("%s", exc)
        return None


def load_quietly(state_dir: Path | None) -> CheckRecord | None:
    """``load`` for the check about to replace the record: a damaged one counts as none."""
    try:
        return load(state_dir)
    except RotatorError:
        return None


def save(state_dir: Path, record: CheckRecord) -> None:
    data = json.dumps(record.to_json(), indent=2).encode() + b"\n"
    atomic_write(state_dir / FILE_NAME, data, mode=0o644)


def intermediates(record: CheckRecord | None) -> dict[str, str]:
    """Every known Azure intermediate, SHA-1 -> name: the built-in few plus the last list read."""
    known = dict(BUILTIN_INTERMEDIATES)
    if record is not None:
        known.update(record.intermediates)
    return known
