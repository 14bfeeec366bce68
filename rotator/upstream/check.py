"""One ``catalog check`` run, by hand or from the daemon: read, compare, propose, remember.

Reading and comparing live in ``rotator.upstream.published_list``, proposals in ``rotator.upstream.proposal``, the saved
record in ``rotator.upstream.record``; this module strings them together (``run_and_keep``, the one way both
``rotator catalog check`` and the daemon run a check and keep its record) and decides when the daemon checks
again. Nothing here prints.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rotator.errors import RotatorError
from rotator.roots.catalog import Root
from rotator.roots.download import Downloader, DownloadSettings
from rotator.roots.obtain import ObtainSettings
from rotator.sync.state import now_iso
from rotator.upstream import record as saved
from rotator.upstream.proposal import Proposal, propose
from rotator.upstream.published_list import UNKNOWN_ROOT, CheckResult, ListUnreadable, check
from rotator.upstream.record import CheckRecord

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class KeptCheck:
    """A check run by ``run_and_keep``, and the record it left."""

    record: CheckRecord  # what status and the daemon now know (also when it could not be saved)
    checked: CheckRun | None = None  # None: the check failed, see ``error``
    error: Exception | None = None  # ``ListUnreadable``, or a bug in the check (logged, recorded as an internal error)
    not_kept: str | None = None  # why the record was not saved; the check's outcome stands


def run_and_keep(
    source: str,
    roots: Sequence[Root],
    obtain: ObtainSettings,
    download: DownloadSettings,
    state_dir: Path | None,
    cross_checks: Sequence[str] = (),
    *,
    proposals: bool = True,
) -> KeptCheck:
    """Run one check (``run``) and keep its record in ``state_dir`` (not saved when it is None).

    Never raises for the check itself: a list that cannot be read, or a bug in the check, becomes a
    failure record that keeps what the last successful read learnt, and ``error`` in the answer (the
    caller decides: ``catalog check`` exits 2, the daemon tries again sooner). The previous record is
    read from ``state_dir`` (a damaged one counts as none and is replaced). Failing to save is
    ``not_kept``, never a failure of the check.
    """
    failed: Exception
    try:
        checked = run(source, roots, obtain, download, cross_checks, proposals=proposals)
    except ListUnreadable as exc:
        failed, error = exc, str(exc)
    except Exception as exc:  # a bug in the check must not end the daemon, nor lose the attempt
        log.exception("catalog check crashed")
        failed, error = exc, f"internal error: {exc}"
    else:
        return _keep(state_dir, lambda _: success_record(checked, source), checked=checked)
    return _keep(state_dir, lambda previous: failure_record(source, obtain.at, error, previous), error=failed)


def _keep(
    state_dir: Path | None,
    make: Callable[[CheckRecord | None], CheckRecord],
    *,
    checked: CheckRun | None = None,
    error: Exception | None = None,
) -> KeptCheck:
    if state_dir is None:
        return KeptCheck(make(None), checked, error)
    record = make(saved.load_quietly(state_dir))
    try:
        saved.save(state_dir, record)
    except (RotatorError, OSError) as exc:
        return KeptCheck(
            record, checked, error, not_kept=f"the result was not kept in {state_dir} ({exc}); status will not show it"
        )
    return KeptCheck(record, checked, error)


def due(record: CheckRecord | None, interval: int, now: dt.datetime) -> bool:
    """Whether the daemon should check now: never checked, the last read is older than the interval,
    or the last attempt failed long enough ago."""
    if record is None:
        return True
    since_attempt = (now - record.at_time).total_seconds()
    if record.ok is None:
        return since_attempt >= min(interval, RETRY_AFTER_FAILURE)
    return since_attempt >= interval
