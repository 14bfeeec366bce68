"""The daemon's timing, without running it: durations, the backoff after failures, and the
scheduler that holds the next cycle (the one module that uses ``schedule``)."""

from __future__ import annotations

import datetime as dt
import types

import pytest
import schedule

from rotator.config.file import parse_duration
from rotator.errors import ConfigError
from rotator.service.daemon import DEFAULT_INTERVAL, DEFAULT_JITTER, DEFAULT_RETRY, Timing
from rotator.service.scheduler import CycleScheduler


@pytest.mark.parametrize(
    "text, seconds", [("45s", 45), ("30m", 1800), ("6h", 21600), ("1d", 86400), (" 2 h ", 7200), ("0s", 0)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text, "daemon.interval") == seconds


@pytest.mark.parametrize("text", ["6", "6x", "1.5h", "-1m", "h", "", "6h30m"])
def test_a_bad_duration_names_its_key(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^daemon\.retry: .* is not a duration"):
        parse_duration(text, "daemon.retry")


def test_defaults_apply_to_keys_not_set() -> None:
    timing = Timing.from_config({"interval": "2h"})
    assert (timing.interval, timing.jitter, timing.retry) == (
        7200,
        parse_duration(DEFAULT_JITTER, "j"),
        parse_duration(DEFAULT_RETRY, "r"),
    )
    assert Timing.from_config({}).interval == parse_duration(DEFAULT_INTERVAL, "i")


def test_backoff_doubles_from_retry_and_stops_at_the_interval() -> None:
    timing = Timing(interval=3600, jitter=0, retry=60)
    assert [timing.backoff(n) for n in range(1, 9)] == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert timing.backoff(0) == 60  # before any failure: the first retry delay
    assert timing.backoff(10_000) == 3600  # no overflow after a long outage


def test_backoff_never_exceeds_a_short_interval() -> None:
    assert Timing(interval=30, jitter=0, retry=60).backoff(1) == 30


def _bounds(scheduler: CycleScheduler) -> float:
    idle = scheduler.idle_seconds()
    assert idle is not None
    return idle


def test_next_in_replaces_the_pending_cycle_and_jitter_only_delays() -> None:
    scheduler = CycleScheduler(lambda: None)
    assert scheduler.idle_seconds() is None
    scheduler.next_in(3600, 1800)
    assert 3590 <= _bounds(scheduler) <= 5400
    scheduler.next_in(90)  # a retry after a failure replaces the long wait
    assert 80 <= _bounds(scheduler) <= 90


def test_jitter_in_seconds_when_minutes_would_round_it_away() -> None:
    # 45 s of jitter on a 90 s interval: whole minutes cannot express it, seconds are used.
    seen = set()
    for _ in range(40):
        scheduler = CycleScheduler(lambda: None)
        scheduler.next_in(90, 45)
        idle = _bounds(scheduler)
        assert 80 <= idle <= 135
        seen.add(round(idle))
    assert len(seen) > 3  # really random within the window, not a fixed delay


def test_a_zero_delay_still_waits_a_second() -> None:
    scheduler = CycleScheduler(lambda: None)
    scheduler.next_in(0)
    assert 0 < _bounds(scheduler) <= 1


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def step_wall_clock_back_one_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """``schedule`` reads the wall clock through its ``datetime`` module. Stepping the machine's
    clock is not something a test may do, so the step is made there, for ``schedule`` only."""

    class SteppedBack(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            return dt.datetime.now(tz) - dt.timedelta(days=1)

    stepped = types.SimpleNamespace(**{name: getattr(dt, name) for name in dir(dt) if not name.startswith("__")})
    stepped.datetime = SteppedBack
    monkeypatch.setattr(schedule, "datetime", stepped)


def test_a_wall_clock_step_back_does_not_delay_the_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    clock = FakeMonotonic()
    scheduler = CycleScheduler(lambda: calls.append(1), monotonic=clock)
    scheduler.next_in(3600, 1800)
    step_wall_clock_back_one_day(monkeypatch)
    assert _bounds(scheduler) <= 5400  # not the day the wall clock now adds
    clock.now += 5399
    scheduler.run_pending()
    assert calls == []
    clock.now += 1  # the longest wait (interval plus all the jitter) is over
    scheduler.run_pending()
    assert calls == [1]
    assert scheduler.idle_seconds() is None


def test_a_job_that_raises_neither_escapes_nor_runs_again_by_itself(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def job() -> None:
        calls.append(1)
        raise RuntimeError("boom")

    clock = FakeMonotonic()
    scheduler = CycleScheduler(job, monotonic=clock)
    scheduler.next_in(60)
    clock.now += 60
    scheduler.run_pending()
    assert calls == [1]
    assert "cycle failed unexpectedly" in caplog.text
    # One-shot: the daemon schedules the next cycle itself; nothing is pending until it does.
    assert scheduler.idle_seconds() is None
    clock.now += 3600
    scheduler.run_pending()
    assert calls == [1]
