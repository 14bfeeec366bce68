"""What every trust store kind shares: the entries it holds, the plan of a change, the interface.

A store is built from explicit paths. Ownership is read from the store itself (aliases
``rotator-<id>``, files ``rotator-<id>.*``, marker comments in bundles), so a lost state file
never makes rotator forget what it added, and never makes it remove what it did not add.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from rotator.certs import Cert

OWNED_PREFIX = "rotator-"


@dataclass(frozen=True)
class Anchor:
    """A verified root that a store should hold: catalog id plus certificate."""

    root_id: str
    name: str
    cert: Cert


@dataclass(frozen=True)
class Entry:
    """One certificate found in a store, with where it sits (alias, file name, line)."""

    label: str
    cert: Cert | None
    owner_id: str | None = None  # the root id when rotator added this entry


@dataclass(frozen=True)
class StoreContents:
    entries: tuple[Entry, ...] = ()
    exists: bool = True

    def fingerprints(self) -> set[str]:
        return {e.cert.sha256 for e in self.entries if e.cert is not None}

    def certs(self) -> list[Cert]:
        return [e.cert for e in self.entries if e.cert is not None]


@dataclass(frozen=True)
class Plan:
    """A pure diff: what to add, what is already there (and where), what to remove."""

    target: str
    add: tuple[Anchor, ...] = ()
    keep: tuple[tuple[Anchor, str], ...] = ()  # (anchor, label it was found under)
    remove: tuple[Entry, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def changes(self) -> bool:
        return bool(self.add or self.remove)


def owned_id(label: str) -> str | None:
    """The root id in a rotator-owned label such as ``rotator-digicert-global-root-g2``."""
    base = label.rsplit("/", 1)[-1]
    for suffix in (".crt", ".pem"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    if base.startswith(OWNED_PREFIX) and len(base) > len(OWNED_PREFIX):
        return base[len(OWNED_PREFIX) :]
    return None


def make_plan(target: str, contents: StoreContents, wanted: Sequence[Anchor]) -> Plan:
    """The diff every store kind uses.

    A wanted root already present under any label counts as present. An entry rotator owns
    is removed when its root is no longer wanted (profile changed, root retired), or when it
    holds another certificate than the one wanted under that id (or an unreadable one).
    Nothing rotator does not own is ever removed.
    """
    wanted_ids = {a.root_id: a for a in wanted}
    present = {e.cert.sha256: e for e in contents.entries if e.cert is not None}
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
    add: list[Anchor] = []
    keep: list[tuple[Anchor, str]] = []
    for anchor in wanted:
        found = present.get(anchor.cert.sha256)
        if found is not None and found.label not in removed_labels:
            keep.append((anchor, found.label))
        else:
            add.append(anchor)
    return Plan(target=target, add=tuple(add), keep=tuple(keep), remove=tuple(remove))


class TrustStore(Protocol):
    """The interface of every store kind.

    A store may also have ``lock_dir``, the directory a writing run locks (see rotator.storelock).
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


def verify_present(target: str, contents: StoreContents, wanted: Sequence[Anchor]) -> None:
    from rotator.errors import StoreError

    have = contents.fingerprints()
    missing = [a.root_id for a in wanted if a.cert.sha256 not in have]
    if missing:
        raise StoreError(
            f"{target}: after writing, these roots are still missing: {', '.join(missing)}; "
            "something else rewrote the store, run sync again and check other tools managing it"
        )


@dataclass(frozen=True)
class TargetSpec:
    """A target as the user wrote it: ``kind``, an optional path, and kind-specific options."""

    kind: str
    path: str | None = None
    options: tuple[tuple[str, object], ...] = ()
    where: str = "--target"  # where it was written, for error messages

    def option(self, key: str, default: object = None) -> object:
        for k, v in self.options:
            if k == key:
                return v
        return default


@dataclass(frozen=True)
class StoreContext:
    """What a store may need from the outside world, passed explicitly (no globals)."""

    environ: tuple[tuple[str, str], ...] = ()
    sysroot: str | None = None

    def getenv(self, key: str) -> str | None:
        for k, v in self.environ:
            if k == key:
                return v
        return None
