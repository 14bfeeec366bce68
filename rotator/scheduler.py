"""The only module that touches ``schedule``: when the next cycle runs.

``schedule`` is small and unmaintained, so it stays behind this one class. Two of its
pitfalls are handled here: an exception in a job escapes ``run_pending`` and the job is not
rescheduled (jobs are wrapped), and ``to()`` jitter counts whole units (whole minutes are
used whenever the interval and jitter allow, seconds otherwise).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import schedule

log = logging.getLogger(__name__)

class CycleScheduler:
    """Runs one job: next after ``interval`` plus random jitter, or after a given delay."""

    def __init__(self, job: Callable[[], None]) -> None:
        self._scheduler = schedule.Scheduler()
        self._job = job

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
        self._scheduler.run_pending()

    def idle_seconds(self) -> float | None:
        return self._scheduler.idle_seconds
