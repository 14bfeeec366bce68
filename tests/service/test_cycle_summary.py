"""The daemon's one-line summary of a cycle (systemd's Status: line), as a pure function."""

from __future__ import annotations

import datetime as dt

from rotator.report.sync import cycle_summary
from rotator.sync.engine import SyncResult, TargetResult

AT = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)


def test_a_quiet_cycle() -> None:
    result = SyncResult(at=AT, dry_run=False, targets=[TargetResult("pem:/a", None), TargetResult("pem:/b", None)])
    assert cycle_summary(result) == (True, "2 targets, 0 roots; no change")


def test_changes_and_drift_are_counted() -> None:
    result = SyncResult(
        at=AT,
        dry_run=False,
        targets=[TargetResult("pem:/a", None, changed=True, drift=("x", "y")), TargetResult("pem:/b", None)],
    )
    assert cycle_summary(result) == (True, "2 targets, 0 roots; changed 1; repaired 2 drifted")


def test_the_first_failure_is_named_and_the_cycle_is_not_ok() -> None:
    result = SyncResult(
        at=AT,
        dry_run=False,
        targets=[
            TargetResult("pem:/a", None, changed=True),
            TargetResult("jks:/b", None, error="the password did not open the store"),
            TargetResult("pem:/c", None, hook_errors=("hook failed",)),
        ],
    )
    assert cycle_summary(result) == (False, "2 target(s) failed: the password did not open the store")
