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
from pathlib import Path

from rotator.errors import RotatorError
from rotator.host.files import ReadAs, atomic_write, read_file_or_none
from rotator.records import TYPE_CHECKING, NamedTuple
from rotator.sync.state_dir import FILE_NAME as FILE_NAME
from rotator.sync.state_dir import default_state_dir as default_state_dir
from stores.base import FileStamp

if TYPE_CHECKING:
    from typing import Any

STATE_VERSION = 1


class RootRecord(NamedTuple):
    sha256: str
    owned: bool  # rotator added it (False: it was already there under another label)
    since: str  # ISO time it was first seen in place


class Seen(NamedTuple):
    """A one-file store as it was when a run last verified it held every wanted root.

    A later run wanting the same roots, that finds the same bytes (same SHA-256), answers from
    here without parsing the store; any change to the file means a full read.
    """

    stamp: FileStamp
    labels: dict[str, str]  # root id -> the label it was found or written under
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        s = self.stamp
        return {
            "size": s.size,
            "mtime_ns": s.mtime_ns,
            "sha256": s.sha256,
            **({"access": s.access} if s.access else {}),
            "labels": dict(self.labels),
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, doc: Any) -> Seen:
        stamp = FileStamp(
            size=_int64(doc["size"], "seen size"),
            mtime_ns=_int64(doc["mtime_ns"], "seen mtime_ns"),
            sha256=_text(doc["sha256"], "seen sha256"),
            access=_text(doc.get("access", ""), "seen access"),
        )
        labels = {_text(k, "seen label"): _text(v, "seen label") for k, v in doc["labels"].items()}
        return cls(stamp=stamp, labels=labels, notes=tuple(_text(n, "seen note") for n in doc.get("notes", ())))


class RecordedTarget(NamedTuple):
    """A target as a later run can build it again: what ``--target`` can say, never a secret (a
    password is recorded as its source, ``storepass_env``/``storepass_file``, not its value)."""

    kind: str
    path: str
    options: tuple[tuple[str, str | tuple[str, ...]], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "options": {k: list(v) if isinstance(v, tuple) else v for k, v in self.options},
        }

    @classmethod
    def from_json(cls, doc: Any) -> RecordedTarget:
        if not isinstance(doc, dict) or not isinstance(doc.get("options", {}), dict):
            raise ValueError("a recorded target is not an object")
        options: list[tuple[str, str | tuple[str, ...]]] = []
        for key, value in sorted(doc.get("options", {}).items()):
            if isinstance(value, list):
                options.append((_text(key, "option"), tuple(_text(v, "option value") for v in value)))
            else:
                options.append((_text(key, "option"), _text(value, "option value")))
        return cls(_text(doc.get("kind"), "recorded kind"), _text(doc.get("path", ""), "recorded path"), tuple(options))


class State:
    """What the state file holds; a run changes it in place and saves it at the end."""

    def __init__(
        self,
        *,
        targets: dict[str, dict[str, RootRecord]] | None = None,
        synced: dict[str, str] | None = None,
        seen: dict[str, Seen] | None = None,
        last_success: str | None = None,
        last_failure: str | None = None,
        failures: int = 0,
        drift_repairs: int = 0,
        recorded: dict[str, RecordedTarget] | None = None,
    ) -> None:
        self.targets = {} if targets is None else targets  # target -> root id -> what is there
        self.synced = {} if synced is None else synced  # target -> ISO time of its last successful sync
        self.seen = {} if seen is None else seen  # one-file stores by name
        # store name -> how to build it again: status, sync and probe with no target use these
        self.recorded = {} if recorded is None else recorded
        self.last_success = last_success
        self.last_failure = last_failure
        self.failures = failures
        self.drift_repairs = drift_repairs

    def __eq__(self, other: object) -> bool:  # equal when they would be saved alike
        return isinstance(other, State) and other.to_json() == self.to_json()

    __hash__ = None  # type: ignore[assignment]  # changed in place: never a set member or dict key

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
            "recorded": {name: r.to_json() for name, r in sorted(self.recorded.items())},
        }

    def prune(self, current: set[str], *, others_stale: bool) -> list[str]:
        """Forget targets not in ``current``: all of them when ``current`` is the configured set,
        otherwise those whose file or directory no longer exists. Returns the names forgotten."""
        names = sorted((set(self.targets) | set(self.synced)) - current)
        gone = [n for n in names if others_stale or _path_gone(n)]
        for name in gone:
            self.forget(name)
        return gone

    def forget(self, name: str) -> bool:
        """Drop everything recorded of one target; whether there was anything."""
        found = False
        for table in (self.targets, self.synced, self.seen, self.recorded):
            found = table.pop(name, None) is not None or found
        return found


def recorded_names(state: State) -> list[str]:
    """Every target the state knows of, by store name."""
    return sorted(set(state.targets) | set(state.synced) | set(state.recorded))


def matching(names: list[str], wanted: str) -> list[str]:
    """The recorded names ``wanted`` stands for: the name itself; ``KIND:PATH`` with the path made
    absolute as a sync records it (``pem:./roots.pem``); or a bare ``KIND`` for every store of it
    (``system``, ``java-cacerts``)."""
    kind, sep, path = wanted.partition(":")
    absolute = f"{kind}:{os.path.abspath(os.path.expanduser(path))}" if sep and path else wanted
    return [n for n in names if n in (wanted, absolute) or (not sep and n.partition(":")[0] == kind)]


def _path_gone(target: str) -> bool:
    """``pem:/a/b`` and the like whose path is gone; a target without a path (system) never is."""
    _, sep, path = target.partition(":")
    return bool(sep) and os.path.isabs(path) and not os.path.lexists(path)


def load(directory: Path) -> State:
    path = directory / FILE_NAME
    raw = read_file_or_none(path, ReadAs("state file", "check --state-dir", RotatorError))
    if raw is None:
        return State()
    try:
        doc = json.loads(raw)
        return _parse(doc)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError, OverflowError) as exc:
        raise RotatorError(
            f"state file {path} is corrupt ({exc}); move it aside and run sync again: "
            "rotator rebuilds it from the stores"
        ) from exc


def save(directory: Path, state: State) -> None:
    data = json.dumps(state.to_json(), indent=2, sort_keys=True).encode() + b"\n"
    atomic_write(directory / FILE_NAME, data, mode=0o644)


def now_iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).replace(microsecond=0).isoformat()


MAX_COUNT = 2**53  # counters stay exact in JSON readers (monitoring) below this


def _parse(doc: Any) -> State:
    """Every value checked for type and range: a bad one makes the file corrupt, never a crash."""
    if not isinstance(doc, dict) or doc.get("version") != STATE_VERSION:
        raise ValueError(f"unknown state version {doc.get('version') if isinstance(doc, dict) else doc!r}")
    raw_targets = doc.get("targets", {})
    if not isinstance(raw_targets, dict):
        raise ValueError("targets is not an object")
    targets: dict[str, dict[str, RootRecord]] = {}
    for name, roots in raw_targets.items():
        if not isinstance(roots, dict):
            raise ValueError(f"target {name!r} is not an object")
        targets[_text(name, "target name")] = {
            _text(rid, "root id"): _record(r, f"{name}: {rid}") for rid, r in roots.items()
        }
    synced = doc.get("synced", {})
    if not isinstance(synced, dict):
        raise ValueError("synced is not a table")
    # Older files have no "seen": every store is then read in full once.
    seen = {str(name): Seen.from_json(s) for name, s in doc.get("seen", {}).items()}
    # Older files have no "recorded": a target-less status then asks for --target, as before.
    recorded = {_text(name, "target name"): RecordedTarget.from_json(r) for name, r in doc.get("recorded", {}).items()}
    return State(
        recorded=recorded,
        targets=targets,
        synced={str(k): str(v) for k, v in synced.items()},
        seen=seen,
        last_success=_optional_time(doc.get("last_success"), "last_success"),
        last_failure=_optional_time(doc.get("last_failure"), "last_failure"),
        failures=_count(doc.get("failures", 0), "failures"),
        drift_repairs=_count(doc.get("drift_repairs", 0), "drift_repairs"),
    )


def _record(raw: Any, where: str) -> RootRecord:
    if not isinstance(raw, dict):
        raise ValueError(f"{where} is not an object")
    owned = raw.get("owned")
    if not isinstance(owned, bool):
        raise ValueError(f"{where}: owned is not true or false")
    return RootRecord(
        sha256=_text(raw.get("sha256"), f"{where}: sha256"),
        owned=owned,
        since=_text(raw.get("since"), f"{where}: since"),
    )


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or "\x00" in value or len(value) > 4096:
        raise ValueError(f"{what} is not a short string")
    return value


def _optional_time(value: Any, what: str) -> str | None:
    """An ISO time with its zone (monitoring turns it into a timestamp)."""
    if value is None:
        return None
    text = _text(value, what)
    parsed = dt.datetime.fromisoformat(text)  # ValueError: corrupt
    if parsed.tzinfo is None:
        raise ValueError(f"{what} has no time zone")
    parsed.timestamp()
    return text


def _int64(value: Any, what: str) -> int:
    """A file size or time in nanoseconds, as os.stat gives them."""
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise ValueError(f"{what} is not a 64-bit whole number, got {value!r}")
    return value


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise ValueError(f"{what} is not a count (a whole number from 0 to {MAX_COUNT}), got {value!r}")
    return value
