"""``rotator daemon``: a sync at start, then every interval (with jitter), under systemd.

The main thread only waits, handles signals, pings the watchdog and schedules; each cycle
runs in a worker thread so a slow download never starves the watchdog. On SIGTERM the
daemon stops within about a second: a cycle still downloading is abandoned (nothing has
been written yet at that point), a store write in progress is waited for, never cut.

Azure's published CA list is checked on its own schedule (``daemon.catalog_check``, weekly by
default, never when offline) in a thread of its own: it writes only its record in the state
directory, so it never delays a sync, and it is abandoned at once on SIGTERM.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import FrameType

from rotator.config.file import parse_duration
from rotator.config.settings import Flags, Resolved, require_targets, resolve
from rotator.errors import RotatorError
from rotator.report import sync as report
from rotator.service.dropin import check_writable, sandbox_for
from rotator.service.notify import Notifier
from rotator.service.scheduler import CycleScheduler
from rotator.sync.engine import Cancelled, RunControl, StatusReads, SyncRequest, sync
from rotator.upstream import check as catalog_check
from rotator.upstream import record as published
from rotator.upstream.published_list import DEFAULT_SOURCE
from rotator.upstream.record import CheckRecord

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = "6h"
DEFAULT_JITTER = "30m"
DEFAULT_RETRY = "1m"
STOP_GRACE_SECONDS = 0.8


@dataclass(frozen=True)
class Timing:
    interval: int
    jitter: int
    retry: int  # first delay after a failure; doubles per failure, capped at the interval
    catalog_check: int | None = None  # seconds between checks of Azure's published list; None: off
    catalog_source: str = DEFAULT_SOURCE

    @classmethod
    def from_config(cls, daemon: Mapping[str, str]) -> Timing:
        check = daemon.get("catalog_check") or catalog_check.DEFAULT_INTERVAL
        return cls(
            interval=parse_duration(daemon.get("interval") or DEFAULT_INTERVAL, "daemon.interval"),
            jitter=parse_duration(daemon.get("jitter") or DEFAULT_JITTER, "daemon.jitter"),
            retry=parse_duration(daemon.get("retry") or DEFAULT_RETRY, "daemon.retry"),
            catalog_check=None if check.strip() == "off" else parse_duration(check, "daemon.catalog_check"),
            catalog_source=daemon.get("catalog_source") or DEFAULT_SOURCE,
        )

    def backoff(self, failures: int) -> int:
        return int(min(self.retry * 2 ** max(failures - 1, 0), self.interval))


@dataclass
class CycleOutcome:
    ok: bool
    summary: str


class Daemon:
    def __init__(
        self,
        flags: Flags,
        environ: Mapping[str, str],
        *,
        resolver: Callable[[Flags, Mapping[str, str]], Resolved] = resolve,
    ) -> None:
        self.flags = flags
        self.environ = environ
        self.resolver = resolver
        self.resolved = resolver(flags, environ)  # a bad config at start is exit 2, as for sync
        require_targets(self.resolved)
        _check_sandbox(self.resolved)
        self.timing = Timing.from_config(self.resolved.config.daemon)
        self.notifier = Notifier(environ)
        self.scheduler = CycleScheduler(self._start_cycle)
        self.control = RunControl()
        self.status_reads = StatusReads()
        self.wake = threading.Event()
        self.stop_requested = False
        self.reload_requested = False
        self.worker: threading.Thread | None = None
        self.outcome: CycleOutcome | None = None
        self.failures = 0
        self.ready_sent = False
        self.last_watchdog = 0.0
        self.status_line = ""
        self.check_worker: threading.Thread | None = None
        self.check_record: CheckRecord | None = published.load_or_note(self.resolved.request.state_dir)
        self.next_check = self._check_due_in(self.check_record)

    # signals only set flags; the main loop acts on them
    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_requested = True
        self.wake.set()

    def _on_reload(self, signum: int, frame: FrameType | None) -> None:
        self.reload_requested = True
        self.wake.set()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)
        log.info("daemon started: every %ss (+ up to %ss jitter)", self.timing.interval, self.timing.jitter)
        self._start_cycle()
        while not self.stop_requested:
            if self.worker is not None and not self.worker.is_alive():
                self._finish_cycle()
            if self.reload_requested and self.worker is None:
                self._reload()
            if self.worker is None:
                self.scheduler.run_pending()
            if self.check_worker is not None and not self.check_worker.is_alive():
                self._finish_check()
            self._maybe_check()
            self._ping_watchdog()
            self.wake.wait(timeout=self._tick())
            self.wake.clear()
        return self._shutdown()

    def _tick(self) -> float:
        if self.worker is not None or self.check_worker is not None:
            return 0.05
        idle = self.scheduler.idle_seconds()
        tick = 1.0 if idle is None else max(0.05, min(1.0, idle))
        if self.notifier.watchdog_seconds:
            tick = min(tick, self.notifier.watchdog_seconds / 4)
        return tick

    def _ping_watchdog(self) -> None:
        # systemd arms the watchdog once start-up completes (READY=1); pings start then.
        period = self.notifier.watchdog_seconds
        now = time.monotonic()
        if period and self.ready_sent and now - self.last_watchdog >= period / 2:
            self.notifier.send("WATCHDOG=1")
            self.last_watchdog = now

    def cycle_request(self) -> SyncRequest:
        """The request for the next cycle, judged at the time it starts.

        A daemon runs for months: the lifecycle (a root retired on its date, a cross-sign that
        ended) must follow the clock, not the moment the config was read. ``--at`` pins the date.
        """
        request = self.resolved.request._replace(control=self.control, with_status=True, status_reads=self.status_reads)
        if self.flags.at is not None:
            return request
        return request._replace(obtain=request.obtain._replace(at=dt.datetime.now(dt.UTC)))

    def _start_cycle(self) -> None:
        request = self.cycle_request()

        def body() -> None:
            try:
                result = sync(request)
                self.outcome = CycleOutcome(*report.cycle_summary(result))
            except Cancelled:
                self.outcome = CycleOutcome(False, "stopped")
            except RotatorError as exc:
                self.outcome = CycleOutcome(False, str(exc))
            except Exception as exc:  # a bug in one cycle must not end the service
                log.exception("cycle crashed")
                self.outcome = CycleOutcome(False, f"internal error: {exc}")
            finally:
                self.wake.set()

        self.outcome = None
        self.worker = threading.Thread(target=body, name="rotator-cycle", daemon=True)
        self.worker.start()

    def _finish_cycle(self) -> None:
        assert self.worker is not None
        self.worker.join()
        self.worker = None
        outcome = self.outcome or CycleOutcome(False, "cycle ended without a result")
        if outcome.ok:
            self.failures = 0
            delay, jitter = self.timing.interval, self.timing.jitter
            line = f"ok: {outcome.summary}; next sync in about {_human(delay)}"
            log.info("%s", line)
        else:
            self.failures += 1
            delay, jitter = self.timing.backoff(self.failures), 0
            line = f"failed ({self.failures} in a row): {outcome.summary}; retry in {_human(delay)}"
            log.error("%s", line)
        self.scheduler.next_in(delay, jitter)
        self.status_line = line
        if not self.ready_sent:
            self.notifier.send("READY=1", f"STATUS={self._status()}")
            self.ready_sent = True
        else:
            self.notifier.status(self._status())

    def _status(self) -> str:
        """The last cycle's line, plus a standing difference from Azure's published list."""
        record = self.check_record
        if record is None or self.timing.catalog_check is None:
            return self.status_line
        if record.ok is False:
            count = len(record.differences)
            return (
                f"{self.status_line}; Azure's CA list differs from the catalog "
                f"({count} difference{'s' if count != 1 else ''}: rotator catalog check)"
            )
        if record.ok is None and record.differences:
            return f"{self.status_line}; Azure's CA list differed at the last read, unreadable since"
        return self.status_line

    # ------------------------------------------------------------------ Azure's published list

    def _check_due_in(self, record: CheckRecord | None) -> float:
        """The monotonic time of the next check (inf when checks are off)."""
        interval = self.timing.catalog_check
        if interval is None or self.resolved.request.obtain.offline or self.resolved.request.state_dir is None:
            return float("inf")
        now = dt.datetime.now(dt.UTC)
        if catalog_check.due(record, interval, now):
            return time.monotonic()
        assert record is not None
        # A difference of times, never a time plus the interval: that overflows for a record dated 9999.
        wait = interval - (now - record.at_time).total_seconds()
        return time.monotonic() + max(wait, 0.0)

    def _maybe_check(self) -> None:
        if self.check_worker is not None or time.monotonic() < self.next_check:
            return
        request = self.resolved.request
        source = self.timing.catalog_source
        roots = tuple(self.resolved.catalog.roots.values())

        def body() -> None:
            obtain = request.obtain._replace(at=dt.datetime.now(dt.UTC))
            # The one way to run a check and keep its record (as `rotator catalog check`): it never raises
            # for the check; a failure is a record, logged by _finish_check.
            kept = catalog_check.run_and_keep(
                source, roots, obtain, request.download, request.state_dir, proposals=False
            )
            if kept.not_kept is not None:
                log.error("catalog check: %s", kept.not_kept)
            self.check_record = kept.record
            self.wake.set()

        self.check_worker = threading.Thread(target=body, name="rotator-catalog-check", daemon=True)
        self.check_worker.start()

    def _finish_check(self) -> None:
        assert self.check_worker is not None
        self.check_worker.join()
        self.check_worker = None
        record = self.check_record
        interval = self.timing.catalog_check or 0
        if record is None or record.ok is None:
            retry = min(interval, catalog_check.RETRY_AFTER_FAILURE)
            log.warning(
                "cannot read Azure's published CA list: %s; next try in %s",
                record.error if record else "no result",
                _human(retry),
            )
            self.next_check = time.monotonic() + retry
        else:
            if record.ok:
                log.info("Azure's published CA list agrees with the catalog; next check in %s", _human(interval))
            else:
                log.warning(
                    "Azure's published CA list differs from the catalog: %s; run rotator catalog check "
                    "for details and proposals",
                    "; ".join(m for _, m in record.differences),
                )
            self.next_check = time.monotonic() + interval
        if self.ready_sent:
            self.notifier.status(self._status())

    def _reload(self) -> None:
        self.reload_requested = False
        try:
            resolved = self.resolver(self.flags, self.environ)
            require_targets(resolved)
            _check_sandbox(resolved)
            timing = Timing.from_config(resolved.config.daemon)
        except RotatorError as exc:
            log.error("config reload failed, keeping the previous config: %s", exc)
            self.notifier.status(f"config reload failed, running with the previous config: {exc}")
            return
        self.resolved, self.timing = resolved, timing
        if self.check_worker is None:
            self.next_check = self._check_due_in(self.check_record)
        log.info("config reloaded; syncing now")
        self._start_cycle()

    def _shutdown(self) -> int:
        self.notifier.send("STOPPING=1")
        self.control.cancel()
        if self.worker is not None:
            self.worker.join(STOP_GRACE_SECONDS)
            if self.worker.is_alive():
                # Still downloading (nothing written yet) or inside a store write: wait for the
                # write to end and keep any other from starting, then leave.
                self.control.block_writes(timeout=120)
                log.info("stopping: the unfinished cycle was abandoned before writing")
        log.info("daemon stopped")
        return 0


def _check_sandbox(resolved: Resolved) -> None:
    """Every directory a target writes must be writable now: a sandbox that forbids one would
    otherwise fail every cycle. A ConfigError (exit 2: the unit stops instead of restarting)."""
    request = resolved.request
    check_writable(sandbox_for(resolved.config._replace(targets=request.targets, metrics_file=request.metrics_file)))


def _human(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
