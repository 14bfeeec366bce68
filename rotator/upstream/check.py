"""One ``catalog check`` run, by hand or from the daemon: read, compare, propose, remember.

Reading and comparing live in ``rotator.upstream.published_list``, proposals in ``rotator.upstream.proposal``, the saved
record in ``rotator.upstream.record``; this module strings them together and decides when the daemon
checks again. Nothing here prints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rotator.roots.catalog import Root
from rotator.roots.download import Downloader, DownloadSettings
from rotator.roots.obtain import ObtainSettings
from rotator.sync.state import now_iso
from rotator.upstream.proposal import Proposal, propose
from rotator.upstream.published_list import UNKNOWN_ROOT, CheckResult, check
from rotator.upstream.record import CheckRecord

DEFAULT_INTERVAL = "7d"
RETRY_AFTER_FAILURE = 6 * 3600  # a list that could not be read is tried again sooner than the interval


@dataclass(frozen=True)
class CheckRun:
    result: CheckResult
    proposals: tuple[Proposal, ...] = ()


def run(
    source: str,
    roots: Sequence[Root],
    obtain: ObtainSettings,
    download: DownloadSettings,
    cross_checks: Sequence[str] = (),
    *,
    proposals: bool = True,
) -> CheckRun:
    """Raises ``ListUnreadable`` (exit 2) when the list cannot be fetched or read."""
    result = check(source, roots, obtain, download)
    unknown = [d.published for d in result.comparison.differences if d.kind == UNKNOWN_ROOT and d.published]
    if not proposals or not unknown:
        return CheckRun(result)
    downloader = Downloader(download)
    try:
        made = tuple(propose(row, downloader.get, cross_checks, obtain.at) for row in unknown)
    finally:
        downloader.close()
    return CheckRun(result, made)


def success_record(checked: CheckRun, source: str) -> CheckRecord:
    result = checked.result
    when = now_iso(result.at)
    return CheckRecord(
        at=when,
        source=source,
        ok=result.ok,
        differences=tuple((d.kind, d.message) for d in result.comparison.differences),
        intermediates={row.sha1: row.name for row in result.published.subordinates},
        last_read=when,
    )


def failure_record(source: str, at: dt.datetime, error: str, previous: CheckRecord | None) -> CheckRecord:
    """A failed read keeps what the last successful one learnt (its intermediates and differences)."""
    if previous is None:
        return CheckRecord(at=now_iso(at), source=source, ok=None, error=error)
    return replace(previous, at=now_iso(at), source=source, ok=None, error=error)


def due(record: CheckRecord | None, interval: int, now: dt.datetime) -> bool:
    """Whether the daemon should check now: never checked, the last read is older than the interval,
    or the last attempt failed long enough ago."""
    if record is None:
        return True
    since_attempt = (now - record.at_time).total_seconds()
    if record.ok is None:
        return since_attempt >= min(interval, RETRY_AFTER_FAILURE)
    return since_attempt >= interval
