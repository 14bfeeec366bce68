"""Prometheus text-format metrics for node_exporter's textfile collector."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from rotator.errors import RotatorError, StoreError
from rotator.host.files import atomic_write
from rotator.roots.scope import is_withheld
from rotator.sync.state import State
from rotator.sync.status import MISSING, StatusReport


def _catalog_check(registry: CollectorRegistry, report: StatusReport) -> None:
    """The last comparison with Azure's published CA list, when one was made."""
    record = report.catalog_check
    if record is None or not record.at:
        return
    Gauge(
        "rotator_catalog_differences",
        "Differences between the catalog and Azure's published CA list at the last read",
        registry=registry,
    ).set(len(record.differences))
    Gauge(
        "rotator_catalog_check_readable",
        "1 when the last check could read Azure's published CA list",
        registry=registry,
    ).set(0 if record.ok is None else 1)
    Gauge("rotator_catalog_check_timestamp_seconds", "Last check of Azure's published CA list", registry=registry).set(
        record.at_time.timestamp()
    )


def write(path: Path, report: StatusReport, state: State) -> None:
    """Write every metric atomically: node_exporter never reads half a file."""
    registry = CollectorRegistry()
    present = Gauge("rotator_root_present", "1 when the target holds the root", ["target", "root"], registry=registry)
    not_after = Gauge("rotator_root_not_after_timestamp_seconds", "Expiry of the root", ["root"], registry=registry)
    compliant = Gauge("rotator_compliant", "1 when every target holds every wanted root", registry=registry)
    last_ok = Gauge("rotator_last_success_timestamp_seconds", "Last successful sync", registry=registry)
    failures = Counter("rotator_sync_failures", "Failed sync runs", registry=registry)
    drift = Counter("rotator_drift_repairs", "Roots put back after something removed them", registry=registry)
    for target in report.targets:
        for root_id, cell in target.cells.items():
            if is_withheld(cell):  # not wanted in this store: no series, as status --json lists no cell
                continue
            present.labels(target=target.target, root=root_id).set(0 if cell == MISSING else 1)
    for root in report.roots:
        if root.not_after is not None:
            end = dt.datetime.combine(root.not_after, dt.time(), tzinfo=dt.UTC)
            not_after.labels(root=root.root.id).set(end.timestamp())
    compliant.set(1 if report.compliant else 0)
    if state.last_success:
        last_ok.set(dt.datetime.fromisoformat(state.last_success).timestamp())
    failures.inc(state.failures)
    drift.inc(state.drift_repairs)
    _catalog_check(registry, report)
    # Our own atomic write rather than prometheus_client's: its file's mode follows the umask.
    try:
        atomic_write(path, generate_latest(registry), mode=0o644)
    except StoreError as exc:
        raise RotatorError(f"metrics file: {exc}; or check metrics_file") from exc
