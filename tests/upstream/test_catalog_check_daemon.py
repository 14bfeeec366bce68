"""The daemon checks Azure's published CA list on its own schedule: a real process, a real local HTTPS list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rotator.upstream import record as published
from tests.support.daemon import NotifySocket, start_daemon, stop, wait_for
from tests.support.https_server import HttpsServer, Reply
from tests.support.paths import DATA
from tests.support.runs import run_process

pytestmark = pytest.mark.slow


PAGE = (DATA / "azure-ca-details.md").read_text()
# The page differs from the catalog by one unpublished root: G3 is missing from it.
DIFFERING = "\n".join(line for line in PAGE.splitlines() if "[DigiCert Global Root G3]" not in line)


def write_config(tmp_path: Path, https: HttpsServer, check: str, metrics: Path) -> Path:
    url = https.serve("/azure-ca-details.md", Reply(body=DIFFERING.encode(), content_type="text/plain"))
    config = tmp_path / "rotator.toml"
    config.write_text(f"""
profile = "azure-minimal"
metrics_file = "{metrics}"
[download]
ca_bundle = "{https.ca_file}"
retries = 0
[daemon]
interval = "1s"
jitter = "0s"
retry = "1s"
catalog_check = "{check}"
catalog_source = "{url}"
[[targets]]
kind = "pem"
path = "{tmp_path / "roots.pem"}"
""")
    return config


def test_a_difference_shows_in_the_status_line_the_metric_and_status(
    tmp_path: Path, https: HttpsServer, notify: NotifySocket
) -> None:
    metrics = tmp_path / "rotator.prom"
    config = write_config(tmp_path, https, "1d", metrics)
    proc = start_daemon(tmp_path, config, notify)
    try:
        lines = notify.collect("Azure's CA list differs from the catalog (1 difference")
        assert any(line.startswith("READY=1") for line in lines)
        wait_for(lambda: metrics.exists() and "rotator_catalog_differences 1.0" in metrics.read_text())
        notify.messages.clear()
        notify.collect("no change")  # more sync cycles (1s apart) ...
        notify.collect("no change")
    finally:
        code, _, err = stop(proc)
    assert code == 0, err
    assert https.routes["/azure-ca-details.md"].hits == 1  # ... but the list was read once: its own schedule
    assert "Azure's published CA list differs from the catalog" in err and "digicert-global-root-g3" in err
    record = published.load(tmp_path / "state")
    assert record is not None and record.ok is False
    assert [kind for kind, _ in record.differences] == ["unpublished-root"]
    assert "rotator_catalog_check_readable 1.0" in metrics.read_text()

    status = run_process(
        "status",
        "--config",
        str(config),
        "--state-dir",
        str(tmp_path / "state"),
        "--offline",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--json",
    )
    doc = json.loads(status.out)
    assert doc["catalog_check"]["ok"] is False and status.code == 0
    assert any("Azure's published CA list differs" in f["message"] for f in doc["findings"])


@pytest.mark.parametrize("check, extra", [("1d", ("--offline",)), ("off", ())])
def test_no_check_when_offline_or_off(
    tmp_path: Path, https: HttpsServer, notify: NotifySocket, check: str, extra: tuple[str, ...]
) -> None:
    config = write_config(tmp_path, https, check, tmp_path / "rotator.prom")
    proc = start_daemon(tmp_path, config, notify, *extra)
    try:
        notify.collect("READY=1")
        notify.messages.clear()
        notify.collect("ok:")
        notify.collect("ok:")
    finally:
        code, _, err = stop(proc)
    assert code == 0, err
    assert https.routes["/azure-ca-details.md"].hits == 0
    assert not (tmp_path / "state" / published.FILE_NAME).exists()
    assert "Azure's CA list" not in "\n".join(notify.messages)


def test_an_unreadable_list_is_logged_and_retried_later_not_every_cycle(
    tmp_path: Path, https: HttpsServer, notify: NotifySocket
) -> None:
    config = write_config(tmp_path, https, "1d", tmp_path / "rotator.prom")
    https.serve("/azure-ca-details.md", Reply(body=b"# Azure Certificate Authority details\n\nMoved.\n"))
    proc = start_daemon(tmp_path, config, notify)
    try:
        notify.collect("READY=1")
        wait_for(lambda: (tmp_path / "state" / published.FILE_NAME).exists())
        notify.messages.clear()
        notify.collect("ok:")
        notify.collect("ok:")
    finally:
        code, _, err = stop(proc)
    assert code == 0, err
    assert "cannot read Azure's published CA list" in err and "no table under a heading" in err
    assert https.routes["/azure-ca-details.md"].hits == 1
    record = published.load(tmp_path / "state")
    assert record is not None and record.ok is None and "no table" in (record.error or "")


@pytest.mark.parametrize("at", ["garbage", "2026-01-01T00:00:00"])
def test_a_damaged_record_never_stops_the_daemon_and_is_rewritten(
    tmp_path: Path, https: HttpsServer, notify: NotifySocket, at: str
) -> None:
    """Under systemd a traceback at start is a restart loop that never syncs."""
    state = tmp_path / "state"
    state.mkdir()
    damaged = state / published.FILE_NAME
    damaged.write_text(json.dumps({"version": 1, "at": at, "source": "x", "ok": True}))
    config = write_config(tmp_path, https, "1d", tmp_path / "rotator.prom")
    proc = start_daemon(tmp_path, config, notify)
    try:
        notify.collect("Azure's CA list differs from the catalog")  # synced, then checked at once
        assert any(line.startswith("READY=1") for line in notify.messages)
    finally:
        code, _, err = stop(proc)
    assert code == 0, err
    assert "Traceback" not in err
    assert f"catalog check record {damaged} is damaged" in err
    record = published.load(state)
    assert record is not None and record.ok is False and published.instant(record.at).tzinfo is not None


def test_a_bad_check_interval_is_a_usage_error(tmp_path: Path, run) -> None:
    config = tmp_path / "rotator.toml"
    config.write_text('[daemon]\ncatalog_check = "weekly"\n')
    result = run("daemon", "--offline", "--config", str(config))
    assert result.code == 2 and "daemon.catalog_check" in result.err
