"""One sync run: obtain verified roots, then read, plan, apply and verify every target."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from rotator.catalog import Root
from rotator.errors import RotatorError
from rotator.fetch import Downloader, DownloadSettings
from rotator.obtain import Obtained, Obtainer, ObtainSettings
from stores import build_stores as stores_for
from stores.base import Anchor, Plan, StoreContext, TargetSpec, TrustStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncRequest:
    selected: tuple[Root, ...]  # the profile's roots plus extra ids, before the lifecycle
    targets: tuple[TargetSpec, ...]
    obtain: ObtainSettings
    download: DownloadSettings
    context: StoreContext = field(default_factory=StoreContext)
    dry_run: bool = False

    @property
    def at(self) -> dt.datetime:
        return self.obtain.at


@dataclass(frozen=True)
class TargetResult:
    target: str
    plan: Plan | None
    changed: bool = False
    error: str | None = None


@dataclass
class SyncResult:
    at: dt.datetime
    dry_run: bool
    roots: list[Obtained] = field(default_factory=list)
    inactive: list[Root] = field(default_factory=list)  # selected but not wanted on this date
    targets: list[TargetResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(t.error is None for t in self.targets)


def wanted_roots(selected: Sequence[Root], at: dt.datetime) -> tuple[list[Root], list[Root]]:
    """Split the selection into roots a store should hold on ``at`` and those it should not."""
    day = at.date()
    active = [r for r in selected if r.active_at(day)]
    inactive = [r for r in selected if not r.active_at(day)]
    return active, inactive


def build_stores(request: SyncRequest) -> list[TrustStore]:
    """Every target's store; a bad spec is a ConfigError before anything is fetched."""
    return [store for spec in request.targets for store in stores_for(spec, request.context)]


def sync(request: SyncRequest) -> SyncResult:
    stores = build_stores(request)
    active, inactive = wanted_roots(request.selected, request.at)
    result = SyncResult(at=request.at, dry_run=request.dry_run, inactive=inactive)
    obtainer = Obtainer(request.obtain, downloader=lambda: Downloader(request.download))
    try:
        # A PinMismatch escapes here: no target has been touched yet.
        result.roots = obtainer.obtain_all(active)
    finally:
        obtainer.close()
        result.warnings.extend(obtainer.warnings)
    anchors = [Anchor(root_id=o.root.id, name=o.root.name, cert=o.cert) for o in result.roots]
    for store in stores:
        result.targets.append(converge(store, anchors, dry_run=request.dry_run))
    return result


def converge(store: TrustStore, anchors: Sequence[Anchor], *, dry_run: bool) -> TargetResult:
    """Plan one store and, unless dry-run, apply and verify it. Failures stay with this target."""
    try:
        plan = store.plan(anchors)
    except RotatorError as exc:
        return TargetResult(target=store.name, plan=None, error=str(exc))
    if dry_run or not plan.changes:
        return TargetResult(target=store.name, plan=plan, changed=False)
    try:
        store.apply(plan)
        store.verify(anchors)
    except RotatorError as exc:
        return TargetResult(target=store.name, plan=plan, error=str(exc))
    log.info(
        "%s: added %s; removed %s",
        store.name,
        ", ".join(a.root_id for a in plan.add) or "nothing",
        ", ".join(e.owner_id or e.label for e in plan.remove) or "nothing",
    )
    return TargetResult(target=store.name, plan=plan, changed=True)
