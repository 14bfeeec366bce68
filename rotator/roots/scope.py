"""Which roots each target gets: its own ``profile``/``include`` or the global ones, minus what a
host-wide store must not carry.

An application store (a bundle one client names) takes the whole selection. A host-wide store
(the OS store, every JDK's cacerts) serves every program on the host for every website, so a
root the public trust programs removed is withheld from it unless the target names that root in
``allow_distrusted``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from rotator.errors import ConfigError
from rotator.roots.catalog import Catalog, Root
from stores import is_host_wide
from stores.base import TargetSpec

SCOPE_KEYS = ("profile", "include", "allow_distrusted")


class Scope(NamedTuple):
    """One target's selection, before the lifecycle and the distrust rule (both depend on the date)."""

    profile: str
    roots: tuple[Root, ...]
    host_wide: bool = False
    allow_distrusted: tuple[str, ...] = ()

    def withheld(self, day: dt.date) -> list[Root]:
        """Selected roots this store must not receive on ``day``: publicly distrusted, not allowed."""
        if not self.host_wide:
            return []
        return [r for r in self.roots if r.distrusted_at(day) and r.id not in self.allow_distrusted]

    def wanted(self, day: dt.date) -> list[Root]:
        """The roots the store should hold on ``day``."""
        held_back = {r.id for r in self.withheld(day)}
        return [r for r in self.roots if r.active_at(day) and r.id not in held_back]

    def forbids(self, root: Root, day: dt.date) -> bool:
        """Whether this store must not hold ``root`` (selected or not) on ``day``."""
        return self.host_wide and root.distrusted_at(day) and root.id not in self.allow_distrusted


def everything(selected: Sequence[Root], profile: str = "") -> Scope:
    """The global selection for a store whose kind is not known (planning tests, no registry)."""
    return Scope(profile=profile, roots=tuple(selected))


def resolve_scope(spec: TargetSpec, catalog: Catalog, profile: str, include: Sequence[str]) -> Scope:
    """``spec``'s own ``profile`` and ``include`` (each falling back to the global value)."""
    own_profile = _string(spec, "profile")
    own_include = _ids(spec, "include", catalog)
    allowed = _ids(spec, "allow_distrusted", catalog)
    host_wide = is_host_wide(spec.kind)
    if allowed and not host_wide:
        raise ConfigError(
            f"{spec.where}.allow_distrusted: a {spec.kind} target is an application store and already takes "
            "every selected root; allow_distrusted is for host-wide stores (system, java-cacerts)"
        )
    chosen = own_profile or profile
    try:
        roots = catalog.select(chosen, include if own_include is None else own_include)
    except ConfigError as exc:
        if own_profile or own_include is not None:
            raise ConfigError(f"{spec.where}.{exc}") from exc
        raise
    return Scope(
        profile=chosen,
        roots=roots,
        host_wide=host_wide,
        allow_distrusted=tuple(allowed or ()),
    )


def _string(spec: TargetSpec, key: str) -> str | None:
    value = spec.option(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{spec.where}.{key}: expected a profile name (a string; `rotator catalog` lists them)")
    return value


def _ids(spec: TargetSpec, key: str, catalog: Catalog) -> list[str] | None:
    value = spec.option(key)
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{spec.where}.{key}: expected a list of root ids, e.g. ["digicert-global-root-ca"]')
    for root_id in value:
        if root_id not in catalog.roots:
            raise ConfigError(f"{spec.where}.{key}: unknown root id {root_id!r} (`rotator catalog` lists them)")
    return list(value)


# ---------------------------------------------------------------------------- what to tell the user

SKIPPED = "skipped"  # selected, withheld from a host-wide store
REMOVED = "removed"  # rotator had added it; it leaves the store
FOREIGN = "foreign"  # in a host-wide store, put there by someone else: reported, never touched


class ScopeNote(NamedTuple):
    action: str
    root_id: str
    label: str  # where it sits in the store ("" for a skipped root)
    message: str  # why, and where it belongs instead


def _removed_on(root: Root) -> str:
    when = f" on {root.public_trust_date}" if root.public_trust_date else ""
    return f"the public trust programs removed it{when}"


def _put_instead(root: Root) -> str:
    return f'put it in the bundle of the client that needs it (a pem: target with include = ["{root.id}"])'


def skipped_note(root: Root, target: str) -> ScopeNote:
    return ScopeNote(
        SKIPPED,
        root.id,
        "",
        (
            f"{root.name}: {_removed_on(root)}, and {target} serves every program on this host for every website; "
            f'{_put_instead(root)}, or set allow_distrusted = ["{root.id}"] on this target if the whole host '
            "must trust it"
        ),
    )


def removed_note(root: Root, label: str, scope: Scope, target: str) -> ScopeNote:
    if scope.host_wide:
        why = (
            f"{root.name}, which rotator had added: {_removed_on(root)}, and a host-wide store no longer gets it; "
            f"{_put_instead(root)}"
        )
    else:
        why = (
            f"{root.name}, which rotator had added, is no longer selected for {target} ({_removed_on(root)}); "
            f'if a client reading this store still meets chains anchored at it, add include = ["{root.id}"] '
            '(or profile = "azure-legacy") to this target'
        )
    return ScopeNote(REMOVED, root.id, label, why)


def foreign_note(root: Root, label: str) -> ScopeNote:
    return ScopeNote(
        FOREIGN,
        root.id,
        label,
        (
            f"{root.name} is here as {label}, not added by rotator, so it is left as it is; {_removed_on(root)}, yet "
            "every program reading this store trusts it for every website: if only some clients need it, remove it "
            f"with the tool that put it there and {_put_instead(root)}"
        ),
    )
