"""The only module that touches ``schedule``: when the next cycle runs.

``schedule`` is small and unmaintained, so it stays behind this one class, which handles the
three pitfalls it has for a service: an exception in a job escapes ``run_pending`` and the job
is not rescheduled (jobs are wrapped); ``to()`` jitter counts whole units (whole minutes are
used whenever the interval and jitter allow, seconds otherwise); and it counts on the local
wall clock, so a step back (NTP correcting a clock that ran fast) would delay the next cycle
by the size of the step (the monotonic clock bounds every wait at its longest).
Why it stays rather than being replaced: docs/architecture.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import schedule

log = logging.getLogger(__name__)


class CycleScheduler:
    """Runs one job: next after ``interval`` plus random jitter, or after a given delay."""

    def __init__(self, job: Callable[[], None], *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._scheduler = schedule.Scheduler()
        self._job = job
        self._monotonic = monotonic
        self._latest = 0.0  # monotonic time by which the pending cycle runs, whatever the wall clock says

    def _safe_job(self) -> schedule.CancelJob:
        try:
            self._job()
        except Exception:  # one bad cycle must never stop later cycles
            log.exception("cycle failed unexpectedly; the next one is scheduled as usual")
        # One-shot: the job itself schedules the next run (interval, jitter or backoff).
        return schedule.CancelJob()

    def next_in(self, seconds: int, jitter: int = 0) -> None:
        self._scheduler.clear()
        seconds = max(seconds, 1)
        self._latest = self._monotonic() + seconds + jitter
        if seconds % 60 == 0 and jitter % 60 == 0:
            job = self._scheduler.every(seconds // 60)
            if jitter:
                job = job.to(seconds // 60 + jitter // 60)
            job.minutes.do(self._safe_job)
        else:
            job = self._scheduler.every(seconds)
            if jitter:
                job = job.to(seconds + jitter)
            job.seconds.do(self._safe_job)

    def run_pending(self) -> None:
        if self._scheduler.jobs and self._monotonic() >= self._latest:
            self._scheduler.run_all()  # the wall clock went back: the longest wait is over all the same
        else:
            self._scheduler.run_pending()

    def idle_seconds(self) -> float | None:
        idle = self._scheduler.idle_seconds
        if idle is None:
            return None
        return min(idle, max(self._latest - self._monotonic(), 0.0))
