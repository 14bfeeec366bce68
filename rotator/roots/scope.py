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

from rotator.errors import ConfigError
from rotator.records import NamedTuple
from rotator.roots.catalog import Catalog, Root
from stores.base import TargetSpec
from stores.kinds import is_host_wide

SCOPE_KEYS = ("profile", "include", "allow_distrusted")


class Scope(NamedTuple):
    """One target's selection, before the lifecycle and the distrust rule (both depend on the date)."""

    profile: str
    roots: tuple[Root, ...]
    host_wide: bool = False
    allow_distrusted: tuple[str, ...] = ()
    include: tuple[str, ...] = ()  # the ids added to the profile (the target's own, else the global ones)

    def withholds(self, root: Root, day: dt.date) -> bool:
        """The scope rule, the one place it is decided: whether ``root`` (selected or not), which the
        lifecycle wants on ``day``, is withheld from this store: a host-wide store, a root the public
        trust programs had removed by then, not named in ``allow_distrusted``."""
        if not self.host_wide or root.id in self.allow_distrusted:
            return False
        return root.distrusted_at(day) and root.active_at(day)

    def withheld(self, day: dt.date) -> list[Root]:
        """Selected roots this store must not receive on ``day`` (``withholds``)."""
        return [r for r in self.roots if self.withholds(r, day)]

    def wanted(self, day: dt.date) -> list[Root]:
        """The roots the store should hold on ``day``: active, and not withheld."""
        return [r for r in self.roots if r.active_at(day) and not self.withholds(r, day)]


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
    added = tuple(include if own_include is None else own_include)
    try:
        roots = catalog.select(chosen, added)
    except ConfigError as exc:
        if own_profile or own_include is not None:
            raise ConfigError(f"{spec.where}.{exc}") from exc
        raise
    return Scope(
        profile=chosen,
        roots=roots,
        host_wide=host_wide,
        allow_distrusted=tuple(allowed or ()),
        include=added,
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

WITHHELD = "withheld"  # selected, but the scope rule keeps it out of this store (``Scope.withholds``)
REMOVED = "removed"  # rotator had added it; it leaves the store
FOREIGN = "foreign"  # in a host-wide store, put there by someone else: reported, never touched

# How ``sync`` names a WITHHELD root in its JSON (``scope[].action``) and its text: by what the run did
# with it. ``status`` names it by its state, WITHHELD itself. Both are stable values of the JSON.
SYNC_WITHHELD = "skipped"


def is_withheld(mark: str) -> bool:
    """The one filter of the reports: whether a status cell or a scope note's action marks a root the
    scope rule withholds from its store."""
    return mark == WITHHELD


class ScopeNote(NamedTuple):
    action: str  # WITHHELD | REMOVED | FOREIGN
    root_id: str
    label: str  # where it sits in the store ("" for a withheld root)
    message: str  # why, and where it belongs instead


def _removed_on(root: Root) -> str:
    when = f" on {root.public_trust_date}" if root.public_trust_date else ""
    return f"the public trust programs removed it{when}"


def _put_instead(root: Root) -> str:
    return f'put it in the bundle of the client that needs it (a pem: target with include = ["{root.id}"])'


def withheld_note(root: Root, target: str) -> ScopeNote:
    return ScopeNote(
        WITHHELD,
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
