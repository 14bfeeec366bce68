"""One sync run: obtain verified roots, then read, plan, apply and verify every target.

Order matters: every root is obtained and proven before any store is touched, so a pin
mismatch leaves every target as it was. Each target then converges on its own (one broken
store does not keep the others from being repaired), under one lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rotator import hooks, lock, storelock
from rotator import state as state_mod
from rotator.catalog import Root
from rotator.errors import RotatorError
from rotator.fetch import Downloader, DownloadSettings
from rotator.obtain import Obtained, Obtainer, ObtainSettings
from rotator.state import RootRecord, State
from rotator.status import StatusReport, evaluate
from stores import build_stores as stores_for
from stores.base import Anchor, Plan, StoreContext, TargetSpec, TrustStore, owned_id

log = logging.getLogger(__name__)


class Cancelled(RotatorError):
    """The run was asked to stop (daemon shutdown) between two steps; nothing is half-written."""


class RunControl:
    """Lets another thread stop a run between steps, and wait until no store is being written."""

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._writing = threading.Lock()

    def cancel(self) -> None:
        self._cancel.set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled("stopped before finishing: stores already written are complete, the rest untouched")

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        with self._writing:
            self.check()
            yield

    def block_writes(self, timeout: float) -> bool:
        """Wait for a write in progress to end and keep any new one from starting (held until exit)."""
        return self._writing.acquire(timeout=timeout)


@dataclass(frozen=True)
class SyncRequest:
    selected: tuple[Root, ...]  # the profile's roots plus extra ids, before the lifecycle
    targets: tuple[TargetSpec, ...]
    obtain: ObtainSettings
    download: DownloadSettings
    context: StoreContext = field(default_factory=StoreContext)
    dry_run: bool = False
    state_dir: Path | None = None  # None: no state, no lock (tests of pure planning)
    metrics_file: Path | None = None
    on_change: tuple[tuple[str, ...], ...] = ()
    hook_timeout: float = hooks.DEFAULT_TIMEOUT
    lock_timeout: float = 60.0
    warn_days: int = 30
    with_status: bool = False  # also evaluate status after the run (the daemon's STATUS line)
    control: RunControl | None = field(default=None, compare=False)

    @property
    def at(self) -> dt.datetime:
        return self.obtain.at


@dataclass(frozen=True)
class TargetResult:
    target: str
    plan: Plan | None
    changed: bool = False
    error: str | None = None
    drift: tuple[str, ...] = ()  # roots that were in place at the last run and had gone
    hook_errors: tuple[str, ...] = ()


@dataclass
class SyncResult:
    at: dt.datetime
    dry_run: bool
    roots: list[Obtained] = field(default_factory=list)
    inactive: list[Root] = field(default_factory=list)  # selected but not wanted on this date
    targets: list[TargetResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    status: StatusReport | None = None  # when asked for, or when metrics were written

    @property
    def ok(self) -> bool:
        return all(t.error is None and not t.hook_errors for t in self.targets)


def wanted_roots(selected: Sequence[Root], at: dt.datetime) -> tuple[list[Root], list[Root]]:
    """Split the selection into roots a store should hold on ``at`` and those it should not."""
    day = at.date()
    active = [r for r in selected if r.active_at(day)]
    inactive = [r for r in selected if not r.active_at(day)]
    return active, inactive


def build_stores(request: SyncRequest) -> list[tuple[TargetSpec, TrustStore]]:
    """Every target's stores; a bad spec is a ConfigError before anything is fetched."""
    return [(spec, store) for spec in request.targets for store in stores_for(spec, request.context)]


def sync(request: SyncRequest) -> SyncResult:
    stores = build_stores(request)
    if request.dry_run or request.state_dir is None:
        # A dry run writes nothing, not even the lock file or the state.
        state = state_mod.load(request.state_dir) if request.state_dir else State()
        result = _run(request, stores, state)
        if request.with_status:
            result.status = status_of(request, [s for _, s in stores])
        return result
    with lock.held(request.state_dir, timeout=request.lock_timeout):
        state = state_mod.load(request.state_dir)  # corrupt: an error before any store is touched
        try:
            result = _run(request, stores, state)
        except Cancelled:
            raise
        except RotatorError:
            state.failures += 1
            state.last_failure = state_mod.now_iso(request.at)
            _record(request, stores, state)
            raise
        if result.ok:
            state.last_success = state_mod.now_iso(request.at)
        else:
            state.failures += 1
            state.last_failure = state_mod.now_iso(request.at)
        result.status = _record(request, stores, state)
        return result


def _record(
    request: SyncRequest, stores: Sequence[tuple[TargetSpec, TrustStore]], state: State
) -> StatusReport | None:
    """Save the state; evaluate status (one more read of each store) only when someone wants it."""
    assert request.state_dir is not None
    state_mod.save(request.state_dir, state)
    if request.metrics_file is None and not request.with_status:
        return None
    report = status_of(request, [s for _, s in stores])
    if request.metrics_file is not None:
        from rotator import metrics  # prometheus_client loads only when metrics are wanted

        metrics.write(request.metrics_file, report, state)
    return report


def status_of(request: SyncRequest, stores: Sequence[TrustStore]) -> StatusReport:
    return evaluate(stores, request.selected, request.at, request.warn_days)


def _run(request: SyncRequest, stores: Sequence[tuple[TargetSpec, TrustStore]], state: State) -> SyncResult:
    active, inactive = wanted_roots(request.selected, request.at)
    result = SyncResult(at=request.at, dry_run=request.dry_run, inactive=inactive)
    control = request.control or RunControl()
    obtainer = Obtainer(request.obtain, downloader=lambda: Downloader(request.download), check=control.check)
    try:
        # A PinMismatch escapes here: no target has been touched yet.
        result.roots = obtainer.obtain_all(active)
    finally:
        obtainer.close()
        result.warnings.extend(obtainer.warnings)
    anchors = [Anchor(root_id=o.root.id, name=o.root.name, cert=o.cert) for o in result.roots]
    for spec, store in stores:
        with control.writing(), _store_lock(store, request):
            outcome = converge(store, anchors, state.targets.get(store.name, {}), dry_run=request.dry_run)
        if outcome.changed:
            outcome = _after_change(request, spec, outcome)
        if not request.dry_run and outcome.error is None and outcome.plan is not None:
            state.targets[store.name] = _records(outcome.plan, state.targets.get(store.name, {}), request.at)
            state.drift_repairs += len(outcome.drift)
        result.targets.append(outcome)
    return result


def _store_lock(store: TrustStore, request: SyncRequest) -> contextlib.AbstractContextManager[None]:
    """The lock on the store's own directory, held from reading to reading back (not for dry runs)."""
    directory = getattr(store, "lock_dir", None)
    if request.dry_run or not isinstance(directory, Path):
        return contextlib.nullcontext()
    return storelock.held(directory, timeout=request.lock_timeout)


def converge(
    store: TrustStore, anchors: Sequence[Anchor], previous: dict[str, RootRecord], *, dry_run: bool
) -> TargetResult:
    """Plan one store and, unless dry-run, apply and verify it. Failures stay with this target."""
    try:
        plan = store.plan(anchors)
    except RotatorError as exc:
        return TargetResult(target=store.name, plan=None, error=str(exc))
    # Drift: a root that was in place at the last run (same certificate) and is gone now.
    drift = tuple(
        a.root_id for a in plan.add if a.root_id in previous and previous[a.root_id].sha256 == a.cert.sha256
    )
    if drift:
        verb = "would be repaired" if dry_run else "repairing"
        log.warning("%s: drift: %s removed since the last run; %s", store.name, ", ".join(drift), verb)
    if dry_run or not plan.changes:
        return TargetResult(target=store.name, plan=plan, drift=drift)
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
    return TargetResult(target=store.name, plan=plan, changed=True, drift=drift)


def _after_change(request: SyncRequest, spec: TargetSpec, outcome: TargetResult) -> TargetResult:
    assert outcome.plan is not None
    own = spec.option("on_change")
    commands = tuple(own) if isinstance(own, tuple) else ()
    commands += request.on_change
    if not commands:
        return outcome
    errors = hooks.run_hooks(
        commands,
        target=outcome.target,
        added=[a.root_id for a in outcome.plan.add],
        removed=[e.owner_id or e.label for e in outcome.plan.remove],
        environ=dict(request.context.environ),
        timeout=request.hook_timeout,
    )
    return TargetResult(
        target=outcome.target, plan=outcome.plan, changed=True, drift=outcome.drift, hook_errors=tuple(errors)
    )


def _records(plan: Plan, previous: dict[str, RootRecord], at: dt.datetime) -> dict[str, RootRecord]:
    now = state_mod.now_iso(at)
    records: dict[str, RootRecord] = {}
    for anchor, label in plan.keep:
        old = previous.get(anchor.root_id)
        since = old.since if old is not None and old.sha256 == anchor.cert.sha256 else now
        owned = owned_id(label) == anchor.root_id
        records[anchor.root_id] = RootRecord(sha256=anchor.cert.sha256, owned=owned, since=since)
    for anchor in plan.add:
        records[anchor.root_id] = RootRecord(sha256=anchor.cert.sha256, owned=True, since=now)
    return records
