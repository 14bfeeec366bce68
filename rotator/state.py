"""What rotator remembers between runs: per target, which roots were present and which it added.

Ownership itself is read from the stores (aliases and file names ``rotator-<id>``, marker
comments in bundles), so the state is a record, not the source of truth: a missing file is
rebuilt from the stores on the next sync. A corrupt file is an error, never silently replaced,
because it also carries counters that monitoring reads.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rotator.errors import RotatorError
from rotator.fsutil import atomic_write
from stores.base import FileStamp

STATE_VERSION = 1
FILE_NAME = "state.json"


@dataclass(frozen=True)
class RootRecord:
    sha256: str
    owned: bool  # rotator added it (False: it was already there under another label)
    since: str  # ISO time it was first seen in place


@dataclass(frozen=True)
class Seen:
    """A one-file store as it was when a run last verified it held every wanted root.

    A later run wanting the same roots, that finds the same bytes (same SHA-256), answers from
    here without parsing the store; any change to the file means a full read.
    """

    stamp: FileStamp
    labels: dict[str, str]  # root id -> the label it was found or written under
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        s = self.stamp
        return {"size": s.size, "mtime_ns": s.mtime_ns, "sha256": s.sha256, "labels": dict(self.labels),
                "notes": list(self.notes)}

    @classmethod
    def from_json(cls, doc: Any) -> Seen:
        stamp = FileStamp(size=int(doc["size"]), mtime_ns=int(doc["mtime_ns"]), sha256=str(doc["sha256"]))
        labels = {str(k): str(v) for k, v in doc["labels"].items()}
        return cls(stamp=stamp, labels=labels, notes=tuple(str(n) for n in doc.get("notes", ())))


@dataclass
class State:
    targets: dict[str, dict[str, RootRecord]] = field(default_factory=dict)
    synced: dict[str, str] = field(default_factory=dict)  # target -> ISO time of its last successful sync
    seen: dict[str, Seen] = field(default_factory=dict)  # one-file stores by name
    last_success: str | None = None
    last_failure: str | None = None
    failures: int = 0
    drift_repairs: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "last_success": self.last_success,
            "last_failure": self.last_failure,
            "failures": self.failures,
            "drift_repairs": self.drift_repairs,
            "targets": {
                name: {rid: {"sha256": r.sha256, "owned": r.owned, "since": r.since} for rid, r in roots.items()}
                for name, roots in sorted(self.targets.items())
            },
            "synced": dict(sorted(self.synced.items())),
            "seen": {name: seen.to_json() for name, seen in sorted(self.seen.items())},
        }

    def prune(self, current: set[str], *, others_stale: bool) -> list[str]:
        """Forget targets not in ``current``: all of them when ``current`` is the configured set,
        otherwise those whose file or directory no longer exists. Returns the names forgotten."""
        names = sorted((set(self.targets) | set(self.synced)) - current)
        gone = [n for n in names if others_stale or _path_gone(n)]
        for name in gone:
            self.targets.pop(name, None)
            self.synced.pop(name, None)
        return gone


def _path_gone(target: str) -> bool:
    """``pem:/a/b`` and the like whose path is gone; a target without a path (system) never is."""
    _, sep, path = target.partition(":")
    return bool(sep) and os.path.isabs(path) and not os.path.lexists(path)


def default_state_dir(environ: Mapping[str, str], is_root: bool) -> Path:
    """/var/lib/rotator for root, else the XDG state directory."""
    if is_root:
        return Path("/var/lib/rotator")
    base = environ.get("XDG_STATE_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "rotator"


def load(directory: Path) -> State:
    path = directory / FILE_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return State()
    except OSError as exc:
        raise RotatorError(f"cannot read state file {path}: {exc.strerror}; check --state-dir") from exc
    try:
        doc = json.loads(raw)
        return _parse(doc)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RotatorError(
            f"state file {path} is corrupt ({exc}); move it aside and run sync again: "
            "rotator rebuilds it from the stores"
        ) from exc


def save(directory: Path, state: State) -> None:
    data = json.dumps(state.to_json(), indent=2, sort_keys=True).encode() + b"\n"
    atomic_write(directory / FILE_NAME, data, mode=0o644)


def now_iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).replace(microsecond=0).isoformat()


def _parse(doc: Any) -> State:
    if not isinstance(doc, dict) or doc.get("version") != STATE_VERSION:
        raise ValueError(f"unknown state version {doc.get('version') if isinstance(doc, dict) else doc!r}")
    targets: dict[str, dict[str, RootRecord]] = {}
    for name, roots in doc["targets"].items():
        targets[str(name)] = {
            str(rid): RootRecord(sha256=str(r["sha256"]), owned=bool(r["owned"]), since=str(r["since"]))
            for rid, r in roots.items()
        }
    synced = doc.get("synced", {})
    if not isinstance(synced, dict):
        raise ValueError("synced is not a table")
    # Older files have no "seen": every store is then read in full once.
    seen = {str(name): Seen.from_json(s) for name, s in doc.get("seen", {}).items()}
    return State(
        targets=targets,
        synced={str(k): str(v) for k, v in synced.items()},
        seen=seen,
        last_success=doc.get("last_success"),
        last_failure=doc.get("last_failure"),
        failures=int(doc.get("failures", 0)),
        drift_repairs=int(doc.get("drift_repairs", 0)),
    )
