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
from pathlib import Path

from rotator import ownership
from rotator.errors import RotatorError
from rotator.progress import Progress, say_if_slow, silent
from rotator.records import TYPE_CHECKING, NamedTuple
from rotator.roots.catalog import CrossSign, Root
from rotator.roots.download_settings import DownloadSettings
from rotator.roots.obtain import Obtained, Obtainer, ObtainSettings
from rotator.roots.scope import REMOVED, Scope, ScopeNote, everything, foreign_note, removed_note, withheld_note
from rotator.sync import hooks, locks
from rotator.sync import state as state_mod
from rotator.sync.state import RootRecord, Seen, State
from stores.base import (
    Anchor,
    Entry,
    FileStamp,
    Plan,
    StoreContents,
    StoreContext,
    TargetSpec,
    TrustStore,
    one_file,
    still_as_stamped,
    target_path,
)
from stores.kinds import build_stores as stores_for

if TYPE_CHECKING:
    from rotator.roots.download import Downloader
    from rotator.sync.status import StatusReport

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


class SyncRequest(NamedTuple):
    selected: tuple[Root, ...]  # the profile's roots plus extra ids, before the lifecycle
    targets: tuple[TargetSpec, ...]
    obtain: ObtainSettings
    download: DownloadSettings
    lock_timeout: float  # defaults: rotator.config.settings
    warn_days: int
    context: StoreContext = StoreContext()
    dry_run: bool = False
    state_dir: Path | None = None  # None: no state, no lock (tests of pure planning)
    # Where the run and store locks live (rotator.sync.locks); None: ``locks`` in the state directory.
    lock_dir: Path | None = None
    metrics_file: Path | None = None
    on_change: tuple[tuple[str, ...], ...] = ()
    hook_timeout: float = hooks.DEFAULT_TIMEOUT
    # The targets are the configured set (not --target): state of any other target is stale.
    complete_set: bool = False
    with_status: bool = False  # also evaluate status after the run (the daemon's STATUS line)
    control: RunControl | None = None
    # The daemon's memory of what status read in earlier cycles (None: read every store afresh).
    status_reads: StatusReads | None = None
    scopes: tuple[Scope, ...] = ()  # one per target, same order; empty: the global selection everywhere
    known: tuple[Root, ...] = ()  # every catalog root (to explain removals and foreign distrusted roots)
    cross_signs: tuple[CrossSign, ...] = ()

    @property
    def at(self) -> dt.datetime:
        return self.obtain.at

    def scope_of(self, index: int) -> Scope:
        return self.scopes[index] if self.scopes else everything(self.selected)


class Bound(NamedTuple):
    """One store of a target, with the roots that target selects."""

    spec: TargetSpec
    scope: Scope
    store: TrustStore


class TargetResult(NamedTuple):
    target: str
    plan: Plan | None
    changed: bool = False
    error: str | None = None
    drift: tuple[str, ...] = ()  # roots that were in place at the last run and had gone
    hook_errors: tuple[str, ...] = ()
    scope_notes: tuple[ScopeNote, ...] = ()  # roots withheld, removed or left by the distrust rule


class SyncResult:
    """What a run did, filled in as it goes."""

    def __init__(
        self,
        *,
        at: dt.datetime,
        dry_run: bool,
        inactive: list[Root] | None = None,
        targets: list[TargetResult] | None = None,
    ) -> None:
        self.at = at
        self.dry_run = dry_run
        self.roots: list[Obtained] = []
        self.inactive = [] if inactive is None else inactive  # selected but not wanted on this date
        self.targets = [] if targets is None else targets
        self.warnings: list[str] = []
        self.status: StatusReport | None = None  # when asked for, or when metrics were written
        # Targets this run recorded for the first time, and where: the report says what comes next.
        self.first_recorded: list[str] = []
        self.state_file: Path | None = None

    @property
    def ok(self) -> bool:
        return all(t.error is None and not t.hook_errors for t in self.targets)


def wanted_roots(selected: Sequence[Root], at: dt.datetime) -> tuple[list[Root], list[Root]]:
    """Split the selection into roots a store should hold on ``at`` and those it should not."""
    day = at.date()
    active = [r for r in selected if r.active_at(day)]
    inactive = [r for r in selected if not r.active_at(day)]
    return active, inactive


def build_stores(request: SyncRequest) -> list[Bound]:
    """Every target's stores; a bad spec is a ConfigError before anything is fetched."""
    return [
        Bound(spec, request.scope_of(i), store)
        for i, spec in enumerate(request.targets)
        for store in stores_for(spec, request.context)
    ]


def sync(request: SyncRequest, progress: Progress = silent) -> SyncResult:
    """``progress`` hears about steps that take a while (a slow download, waiting for the lock)."""
    stores = build_stores(request)
    if request.dry_run or request.state_dir is None:
        # A dry run writes nothing, not even the lock file or the state.
        state = state_mod.load(request.state_dir) if request.state_dir else State()
        result = _run(request, stores, state, progress)
        if request.with_status:
            result.status = status_of(request, stores)
        return result
    lock_dir = lock_dir_of(request) or request.state_dir / locks.LOCK_DIR_NAME
    with locks.run_lock(lock_dir, request.state_dir, timeout=request.lock_timeout, on_wait=progress):
        state = state_mod.load(request.state_dir)  # corrupt: an error before any store is touched
        forgotten = state.prune({bound.store.name for bound in stores}, others_stale=request.complete_set)
        if forgotten:
            log.info(
                "state: forgot %d target(s) no longer configured or gone: %s", len(forgotten), ", ".join(forgotten)
            )
        try:
            result = _run(request, stores, state, progress)
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


def _record(request: SyncRequest, stores: Sequence[Bound], state: State) -> StatusReport | None:
    """Save the state; evaluate status (one more read of each store) only when someone wants it."""
    assert request.state_dir is not None
    state_mod.save(request.state_dir, state)
    if request.metrics_file is None and not request.with_status:
        return None
    report = status_of(request, stores)
    if request.metrics_file is not None:
        from rotator.sync import metrics  # prometheus_client loads only when metrics are wanted

        metrics.write(request.metrics_file, report, state)
    return report


def status_of(request: SyncRequest, stores: Sequence[Bound] | None = None) -> StatusReport:
    from rotator.sync.status import compliance_report  # a plain sync never evaluates status
    from rotator.upstream import record as published

    bound = build_stores(request) if stores is None else stores
    read = [b.store for b in bound]
    if request.status_reads is not None:
        read = request.status_reads.through(read)
    record = published.load_or_note(request.state_dir)
    return compliance_report(
        [(store, b.scope) for store, b in zip(read, bound, strict=True)],
        request.selected,
        request.at,
        request.warn_days,
        known=request.known,
        cross_signs=request.cross_signs,
        intermediates=published.intermediates(record),
        catalog_check=record,
    )


class StatusReads:
    """What the daemon's status pass read from each one-file store, kept from cycle to cycle.

    A store whose bytes are still the ones read (same SHA-256) is answered from memory, with the
    certificates it parsed then; anything else is read again. Only the stores of the latest
    cycle are kept, so memory does not grow with the number of cycles.
    """

    def __init__(self) -> None:
        self._kept: dict[str, tuple[FileStamp, StoreContents]] = {}

    def through(self, stores: Sequence[TrustStore]) -> list[TrustStore]:
        kept: dict[str, tuple[FileStamp, StoreContents]] = {}
        out: list[TrustStore] = []
        for store in stores:
            single = one_file(store)
            previous = self._kept.get(store.name)
            if single is not None and previous is not None and still_as_stamped(single, previous[0]):
                kept[store.name] = previous
                out.append(_Read(store, previous[1]))
                continue
            out.append(_Remembering(store, kept))
        self._kept = kept
        return out


class _Read:
    """A store answered from memory (status only calls ``read``)."""

    def __init__(self, store: TrustStore, contents: StoreContents) -> None:
        self.name = store.name
        self._store = store
        self._contents = contents

    def read(self) -> StoreContents:
        return self._contents

    def plan(self, wanted: Sequence[Anchor]) -> Plan:
        return self._store.plan(wanted)

    def apply(self, plan: Plan) -> None:
        self._store.apply(plan)

    def verify(self, wanted: Sequence[Anchor]) -> None:
        self._store.verify(wanted)


class _Remembering(_Read):
    """A store read now; a one-file store's contents are kept with the stamp of the bytes read."""

    def __init__(self, store: TrustStore, kept: dict[str, tuple[FileStamp, StoreContents]]) -> None:
        super().__init__(store, StoreContents())
        self._kept = kept

    def read(self) -> StoreContents:
        contents = self._store.read()
        single = one_file(self._store)
        last = single.last_read() if single is not None else None
        if last is not None:
            self._kept[self.name] = (last.stamp(), contents)
        return contents


def _needed(request: SyncRequest, stores: Sequence[Bound]) -> tuple[list[Root], list[Root]]:
    """Every root some target (or the global selection) wants on this date, and those selected but not."""
    day = request.at.date()
    active, inactive = wanted_roots(request.selected, request.at)
    ids = {r.id for r in active} | {r.id for r in inactive}
    for bound in stores:
        for root in bound.scope.roots:
            if root.id in ids:
                continue
            ids.add(root.id)
            (active if root.active_at(day) else inactive).append(root)
    return active, inactive


def _downloader(settings: DownloadSettings) -> Downloader:
    # Loaded only when a root is not in the cache or the package: an offline run or one answered
    # from the cache never imports the download code.
    from rotator.roots.download import Downloader

    return Downloader(settings)


def _run(request: SyncRequest, stores: Sequence[Bound], state: State, progress: Progress) -> SyncResult:
    active, inactive = _needed(request, stores)
    day = request.at.date()
    result = SyncResult(at=request.at, dry_run=request.dry_run, inactive=inactive)
    control = request.control or RunControl()
    obtainer = Obtainer(
        request.obtain, downloader=lambda: _downloader(request.download), check=control.check, progress=progress
    )
    try:
        # A PinMismatch escapes here: no target has been touched yet.
        result.roots = obtainer.obtain_all(active)
    finally:
        obtainer.close()
        result.warnings.extend(obtainer.warnings)
    by_id = {o.root.id: Anchor(root_id=o.root.id, name=o.root.name, cert=o.cert) for o in result.roots}
    for bound in stores:
        spec, store = bound.spec, bound.store
        anchors = [by_id[r.id] for r in bound.scope.wanted(day)]
        previous = state.targets.get(store.name, {})
        outcome = unchanged_since_verified(store, anchors, previous, state.seen.get(store.name))
        read_now = outcome is None
        if outcome is None:
            with control.writing(), _store_lock(store, request), say_if_slow(progress, f"{store.name}: still working"):
                outcome = converge(store, anchors, previous, dry_run=request.dry_run)
        if read_now and not request.dry_run:
            _remember_read(state, store, outcome)
        if outcome.plan is not None:
            outcome = outcome._replace(scope_notes=explain(bound, outcome.plan, request.known, day))
            for note in outcome.scope_notes:
                if note.action == REMOVED and outcome.changed:  # once, when it happens (the daemon's journal)
                    log.info("%s: removed %s: %s", store.name, note.root_id, note.message)
        if outcome.changed:
            outcome = _after_change(request, spec, outcome)
        if not request.dry_run and outcome.error is None and outcome.plan is not None:
            state.targets[store.name] = _records(outcome.plan, state.targets.get(store.name, {}), request.at)
            state.synced[store.name] = state_mod.now_iso(request.at)
            if store.name not in state.recorded and request.state_dir is not None:
                result.first_recorded.append(store.name)
                result.state_file = request.state_dir / state_mod.FILE_NAME
            state.recorded[store.name] = _recorded(bound)
            state.drift_repairs += len(outcome.drift)
        result.targets.append(outcome)
    return result


# What a recorded target keeps of its spec: what ``--target`` and its password flags can say.
RECORDED_OPTIONS = ("allow_distrusted", "storepass_env", "storepass_file", "storepass_credential")


def _recorded(bound: Bound) -> state_mod.RecordedTarget:
    """How a later run without targets builds this store again: the effective profile and include
    (so ``status`` judges it by what this sync wanted), never a password itself."""
    spec, scope = bound.spec, bound.scope
    options: list[tuple[str, str | tuple[str, ...]]] = [("profile", scope.profile)]
    if scope.include:
        options.append(("include", tuple(scope.include)))
    for key in RECORDED_OPTIONS:
        value = spec.option(key)
        if isinstance(value, str):
            options.append((key, value))
        elif isinstance(value, list | tuple) and value:
            options.append((key, tuple(str(v) for v in value)))
    path = str(target_path(spec)) if spec.path else ""
    return state_mod.RecordedTarget(spec.kind, path, tuple(sorted(options)))


def lock_dir_of(request: SyncRequest) -> Path | None:
    if request.lock_dir is not None:
        return request.lock_dir
    return None if request.state_dir is None else request.state_dir / locks.LOCK_DIR_NAME


def _store_lock(store: TrustStore, request: SyncRequest) -> contextlib.AbstractContextManager[None]:
    """The lock standing for the store's directory, held from reading to reading back (not for dry
    runs, nor for a run with neither a lock nor a state directory: tests of pure planning)."""
    directory = getattr(store, "lock_dir", None)
    lock_dir = lock_dir_of(request)
    if request.dry_run or lock_dir is None or not isinstance(directory, Path):
        return contextlib.nullcontext()
    return locks.store_lock(lock_dir, directory, timeout=request.lock_timeout)


def unchanged_since_verified(
    store: TrustStore, anchors: Sequence[Anchor], previous: dict[str, RootRecord], seen: Seen | None
) -> TargetResult | None:
    """The no-op answer for a one-file store whose bytes are the ones the last run verified,
    when the same roots are wanted; None whenever the store has to be read."""
    single = one_file(store)
    if single is None or seen is None:
        return None
    wanted = {a.root_id: a.cert.sha256 for a in anchors}
    if {rid: r.sha256 for rid, r in previous.items()} != wanted or set(seen.labels) != set(wanted):
        return None
    if not still_as_stamped(single, seen.stamp):
        return None  # changed in any way (drift included), or opened with another password: read in full
    log.debug("%s: same bytes as verified at the last run; not read again", store.name)
    keep = tuple((a, seen.labels[a.root_id]) for a in anchors)
    return TargetResult(target=store.name, plan=Plan(target=store.name, keep=keep, notes=seen.notes))


def _remember_read(state: State, store: TrustStore, outcome: TargetResult) -> None:
    """Keep the stamp of a one-file store that this run read in full and found complete.

    After a change the stamp waits for the next run's full read: the plan that wrote the file
    carries notes about the write ("new JKS store") that a later no-op must not repeat.
    """
    single = one_file(store)
    last = single.last_read() if single is not None else None
    plan = outcome.plan
    if last is None or outcome.error is not None or plan is None or plan.changes:
        state.seen.pop(store.name, None)
        return
    labels = {a.root_id: label for a, label in plan.keep}
    state.seen[store.name] = Seen(stamp=last.stamp(), labels=labels, notes=plan.notes)


def converge(
    store: TrustStore, anchors: Sequence[Anchor], previous: dict[str, RootRecord], *, dry_run: bool
) -> TargetResult:
    """Plan one store and, unless dry-run, apply and verify it. Failures stay with this target."""
    try:
        plan = store.plan(anchors)
    except RotatorError as exc:
        return TargetResult(target=store.name, plan=None, error=str(exc))
    # Drift: a root that was in place at the last run (same certificate) and is gone now.
    drift = tuple(a.root_id for a in plan.add if a.root_id in previous and previous[a.root_id].sha256 == a.cert.sha256)
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
    return outcome._replace(hook_errors=tuple(errors))


def explain(bound: Bound, plan: Plan, known: Sequence[Root], day: dt.date) -> tuple[ScopeNote, ...]:
    """What the distrust rule did to this store: roots withheld, rotator's copies removed, and
    copies someone else put into a host-wide store (reported, never touched)."""
    scope, name = bound.scope, bound.store.name
    notes = [withheld_note(root, name) for root in scope.withheld(day)]
    catalog = {r.id: r for r in known}
    for entry in plan.remove:
        root = catalog.get(entry.owner_id or "")
        if root is not None and root.distrusted_at(day) and root.active_at(day):
            notes.append(removed_note(root, entry.label, scope, name))
    forbidden = {r.sha256: r for r in known if scope.withholds(r, day)}
    if forbidden:
        for entry in _entries(bound.store, plan):
            root = forbidden.get(entry.cert.sha256) if entry.cert is not None else None
            if root is not None and entry.owner_id is None:
                notes.append(foreign_note(root, entry.label))
    return tuple(notes)


def _entries(store: TrustStore, plan: Plan) -> tuple[Entry, ...]:
    """What the store holds: as the plan found it, or (a plan made from the state) read now."""
    if plan.entries is not None:
        return plan.entries
    try:
        return store.read().entries
    except RotatorError:
        return ()


def _records(plan: Plan, previous: dict[str, RootRecord], at: dt.datetime) -> dict[str, RootRecord]:
    now = state_mod.now_iso(at)
    records: dict[str, RootRecord] = {}
    for anchor, label in plan.keep:
        old = previous.get(anchor.root_id)
        since = old.since if old is not None and old.sha256 == anchor.cert.sha256 else now
        owned = ownership.is_label_of(label, anchor.root_id)
        records[anchor.root_id] = RootRecord(sha256=anchor.cert.sha256, owned=owned, since=since)
    for anchor in plan.add:
        records[anchor.root_id] = RootRecord(sha256=anchor.cert.sha256, owned=True, since=now)
    return records
