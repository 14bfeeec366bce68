"""What every trust store kind shares: the entries it holds, the plan of a change, the interface.

A store is built from explicit paths. Ownership is read from the store itself (aliases
``rotator-<id>``, files ``rotator-<id>.*``, marker comments in bundles; ``rotator.ownership``
formats and parses them), so a lost state file never makes rotator forget what it added, and
never makes it remove what it did not add.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from rotator.certs import Cert
from rotator.records import NamedTuple, Protocol


class Anchor(NamedTuple):
    """A verified root that a store should hold: catalog id plus certificate."""

    root_id: str
    name: str
    cert: Cert


class Entry(NamedTuple):
    """One certificate found in a store, with where it sits (alias, file name, line).

    A named tuple: a bundle of 100,000 certificates makes one each.
    """

    label: str
    cert: Cert | None
    owner_id: str | None = None  # the root id when rotator added this entry


class StoreContents(NamedTuple):
    entries: tuple[Entry, ...] = ()
    exists: bool = True
    # What keeps the store from serving what it holds (an OS bundle not refreshed): status errors.
    problems: tuple[str, ...] = ()

    def fingerprints(self) -> set[str]:
        return {e.cert.sha256 for e in self.entries if e.cert is not None}

    def certs(self) -> list[Cert]:
        """Every certificate the X.509 parser accepts (a bundle's blocks are parsed only here)."""
        return [e.cert for e in self.entries if e.cert is not None and e.cert.parseable]


class Plan(NamedTuple):
    """A pure diff: what to add, what is already there (and where), what to remove."""

    target: str
    add: tuple[Anchor, ...] = ()
    keep: tuple[tuple[Anchor, str], ...] = ()  # (anchor, label it was found under)
    remove: tuple[Entry, ...] = ()
    notes: tuple[str, ...] = ()
    unfinished: bool = False  # nothing to write, yet the store does not serve what it holds (see notes)
    # What the store held when the plan was made (None: made without reading it, from the state).
    entries: tuple[Entry, ...] | None = None

    @property
    def changes(self) -> bool:
        return bool(self.add or self.remove)


def make_plan(target: str, contents: StoreContents, wanted: Sequence[Anchor]) -> Plan:
    """The diff every store kind uses.

    A wanted root already present under any label counts as present. An entry rotator owns
    is removed when its root is no longer wanted (profile changed, root retired), or when it
    holds another certificate than the one wanted under that id (or an unreadable one).
    Nothing rotator does not own is ever removed.
    """
    wanted_ids = {a.root_id: a for a in wanted}
    remove: list[Entry] = []
    for entry in contents.entries:
        if entry.owner_id is None:
            continue
        anchor = wanted_ids.get(entry.owner_id)
        stale_copy = anchor is not None and entry.cert is not None and entry.cert.sha256 != anchor.cert.sha256
        if anchor is None or stale_copy or entry.cert is None:
            remove.append(entry)
    # A root rotator added twice (two runs that raced before stores were locked) is collapsed:
    # every copy after the first is removed.
    seen: set[str] = set()
    for entry in contents.entries:
        if entry.owner_id is None:
            continue
        if entry.owner_id in seen and entry not in remove:
            remove.append(entry)
        seen.add(entry.owner_id)
    removed_labels = {e.label for e in remove}
    # A copy about to be removed does not make its root present; any other copy does, wherever it sits.
    present = {e.cert.sha256: e for e in contents.entries if e.cert is not None and e.label not in removed_labels}
    add: list[Anchor] = []
    keep: list[tuple[Anchor, str]] = []
    for anchor in wanted:
        found = present.get(anchor.cert.sha256)
        if found is not None:
            keep.append((anchor, found.label))
        else:
            add.append(anchor)
    return Plan(target=target, add=tuple(add), keep=tuple(keep), remove=tuple(remove), entries=contents.entries)


class FileStamp(NamedTuple):
    """A store file as rotator last read it: size and mtime to notice a change cheaply, and the
    SHA-256 of the bytes, which decides (an edit can keep both size and mtime)."""

    size: int
    mtime_ns: int
    sha256: str
    access: str = ""  # what else decided that the file opened (see OneFileStore.access_digest)

    @classmethod
    def of(cls, before: os.stat_result, data: bytes, access: str = "") -> FileStamp:
        """``before``: the file's stat taken before ``data`` was read. Should the file change in
        between, the size or mtime no longer fit the file and the next run reads it in full."""
        digest = hashlib.sha256(data).hexdigest()
        return cls(size=before.st_size, mtime_ns=before.st_mtime_ns, sha256=digest, access=access)

    def same_bytes(self, path: Path) -> bytes | None:
        """The file's bytes when they are exactly those this stamp was taken of (read and hashed)."""
        try:
            st = os.stat(path)
            if st.st_size != self.size or st.st_mtime_ns != self.mtime_ns:
                return None
            with open(path, "rb") as handle:
                data = handle.read(self.size + 1)
        except OSError:
            return None
        return data if len(data) == self.size and hashlib.sha256(data).hexdigest() == self.sha256 else None


class StampedFile:
    """The bytes of a one-file store together with the stat taken just before reading them, and
    the store's access digest for them."""

    def __init__(self, before: os.stat_result, data: bytes, access: str = "") -> None:
        self.before = before
        self.data = data
        self.access = access

    def stamp(self) -> FileStamp:
        return FileStamp.of(self.before, self.data, self.access)


def stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


class TrustStore(Protocol):
    """The interface of every store kind.

    A store may also have ``lock_dir``, the directory whose lock a writing run holds
    (see rotator.sync.locks.store_lock).
    """

    name: str

    def read(self) -> StoreContents:
        """Every certificate in the store; raises StoreError naming the path and the next step."""
        ...

    def plan(self, wanted: Sequence[Anchor]) -> Plan:
        """Pure: read and diff, write nothing."""
        ...

    def apply(self, plan: Plan) -> None:
        """Atomic; on failure the store is left exactly as it was."""
        ...

    def verify(self, wanted: Sequence[Anchor]) -> None:
        """Re-read from disk and confirm every wanted fingerprint is there."""
        ...


class OneFileStore(TrustStore, Protocol):
    """A store that is one file: after a run has verified it, the state keeps its stamp, and a
    later run that finds the same bytes (and wants the same roots) needs not read it again."""

    path: Path

    def last_read(self) -> StampedFile | None:
        """The bytes (and the stat before them) of this object's most recent read of the file."""
        ...

    def access_digest(self, data: bytes) -> str:
        """What besides the bytes decides that the file opens (a keystore's password), as a
        digest of it; "" when nothing does. A stamp taken with another digest means a full read,
        so a wrong password is found by the next run, not only when the file must change."""
        ...


def still_as_stamped(store: OneFileStore, stamp: FileStamp) -> bool:
    """Whether the file holds the stamped bytes and would open as it did then."""
    data = stamp.same_bytes(store.path)
    return data is not None and store.access_digest(data) == stamp.access


def one_file(store: TrustStore) -> OneFileStore | None:
    return store if callable(getattr(store, "last_read", None)) else None  # type: ignore[return-value]


def verify_present(target: str, contents: StoreContents, wanted: Sequence[Anchor]) -> None:
    from rotator.errors import StoreError

    have = contents.fingerprints()
    missing = [a.root_id for a in wanted if a.cert.sha256 not in have]
    if missing:
        raise StoreError(
            f"{target}: after writing, these roots are still missing: {', '.join(missing)}; "
            "something else rewrote the store, run sync again and check other tools managing it"
        )


class TargetSpec(NamedTuple):
    """A target as the user wrote it: ``kind``, an optional path, and kind-specific options."""

    kind: str
    path: str | None = None
    options: tuple[tuple[str, object], ...] = ()
    where: str = "--target"  # where it was written, for error messages
    base: str | None = None  # the directory a relative path is taken from (the config's); None: the current one

    def option(self, key: str, default: object = None) -> object:
        for k, v in self.options:
            if k == key:
                return v
        return default


def target_path(spec: TargetSpec) -> Path:
    """The target's path, ``~`` expanded and absolute, so a target has one name in the state
    whatever directory rotator runs from (a shell leaves ``pem:~/x.pem`` unexpanded). A relative
    path in a config file is taken from the file's directory."""
    if not spec.path:
        from rotator.errors import ConfigError

        raise ConfigError(f"{spec.where}: target kind {spec.kind!r} needs a path ({spec.kind}:PATH)")
    return Path(os.path.abspath(os.path.join(spec.base or os.curdir, os.path.expanduser(spec.path))))


class StoreContext(NamedTuple):
    """What a store may need from the outside world, passed explicitly (no globals)."""

    environ: tuple[tuple[str, str], ...] = ()
    sysroot: str | None = None

    def getenv(self, key: str) -> str | None:
        for k, v in self.environ:
            if k == key:
                return v
        return None
