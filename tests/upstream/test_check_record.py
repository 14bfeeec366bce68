"""The catalog check's record in the state directory, damaged: sync, status, probe and the daemon go on.

A record is a side file: what the last `rotator catalog check` saw. One whose time is not ISO 8601, has no
zone, or whose values have the wrong type is ignored with one warning line naming it, and the next
check rewrites it. The daemon's check runs as in tests/upstream/test_catalog_check_daemon.py, here in
process (its constructor is where a damaged record once ended the daemon).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from rotator.errors import RotatorError
from rotator.upstream import record as published
from tests.support.https_server import HttpsServer, Reply
from tests.support.paths import DATA

PAGE = (DATA / "azure-ca-details.md").read_text()
GOOD = {"version": 1, "at": "2026-01-01T00:00:00+00:00", "source": "x", "ok": True}

# each damaged record, as the value of its file
DAMAGED = {
    "at not ISO 8601": json.dumps({**GOOD, "at": "garbage"}),
    "at without a zone": json.dumps({**GOOD, "at": "2026-01-01T00:00:00"}),
    "at empty": json.dumps({**GOOD, "at": ""}),
    "at a number": json.dumps({**GOOD, "at": 1767225600}),
    "at null": json.dumps({**GOOD, "at": None}),
    "last_read not a time": json.dumps({**GOOD, "last_read": "yesterday"}),
    "ok a string": json.dumps({**GOOD, "ok": "yes"}),
    "error a list": json.dumps({**GOOD, "error": ["x"]}),
    "differences a string": json.dumps({**GOOD, "differences": "none"}),
    "a difference without its message": json.dumps({**GOOD, "differences": [{"kind": "x"}]}),
    "intermediates a list": json.dumps({**GOOD, "intermediates": ["ab"]}),
    "an intermediate's name a number": json.dumps({**GOOD, "intermediates": {"ab": 1}}),
    "not an object": json.dumps([GOOD]),
    "nested deeper than json recurses": "[" * 100_000 + "]" * 100_000,
    "not JSON": "{not json",
}


def write_record(state: Path, text: str) -> Path:
    state.mkdir(exist_ok=True)
    path = state / published.FILE_NAME
    path.write_text(text)
    return path


@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_a_damaged_record_is_one_error_naming_the_file(tmp_path: Path, case: str) -> None:
    path = write_record(tmp_path / "state", DAMAGED[case])
    with pytest.raises(RotatorError) as caught:
        published.load(tmp_path / "state")
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400, message
    assert f"catalog check record {path} is damaged (" in message
    assert message.endswith("the next check rewrites it: run rotator catalog check")


@pytest.mark.parametrize("case", ["at not ISO 8601", "at without a zone", "ok a string", "not an object"])
def test_sync_with_metrics_and_status_warn_once_and_go_on(tmp_path: Path, run, case: str) -> None:
    path = write_record(tmp_path / "state", DAMAGED[case])
    bundle, metrics = tmp_path / "roots.pem", tmp_path / "rotator.prom"
    result = run("sync", "--offline", "--target", f"pem:{bundle}", "--metrics-file", str(metrics))
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if f"catalog check record {path} is damaged" in line]
    assert len(warnings) == 1, result.err
    assert warnings[0].startswith("rotator: WARNING: ") and "Traceback" not in result.err
    assert "rotator_root_present" in metrics.read_text()
    assert "rotator_catalog_check" not in metrics.read_text()  # nothing is known of the last check

    status = run("status", "--offline", "--target", f"pem:{bundle}", "--json")
    assert status.code == 0, status.err
    assert json.loads(status.out)["catalog_check"] is None
    assert f"catalog check record {path} is damaged" in status.err
    assert path.read_text() == DAMAGED[case]  # ignored, not removed: the next check rewrites it


def _daemon(tmp_path: Path, https: HttpsServer):
    from rotator.cli.arguments import build_parser, flags_of
    from rotator.service.daemon import Daemon

    url = https.serve("/azure-ca-details.md", Reply(body=PAGE.encode(), content_type="text/plain"))
    config = tmp_path / "rotator.toml"
    config.write_text(
        f'[download]\nca_bundle = "{https.ca_file}"\nretries = 0\n'
        f'[daemon]\ncatalog_check = "1d"\ncatalog_source = "{url}"\n'
    )
    args = build_parser().parse_args(
        [
            "daemon",
            "--config",
            str(config),
            "--state-dir",
            str(tmp_path / "state"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--target",
            f"pem:{tmp_path / 'roots.pem'}",
        ]
    )
    return Daemon(flags_of(args), {})


@pytest.mark.parametrize("case", ["at not ISO 8601", "at without a zone", "at null", "not JSON"])
def test_the_daemon_starts_checks_at_once_and_rewrites_the_record(
    tmp_path: Path, https: HttpsServer, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    path = write_record(tmp_path / "state", DAMAGED[case])
    daemon = _daemon(tmp_path, https)
    assert f"catalog check record {path} is damaged" in caplog.text
    assert daemon.check_record is None and daemon.next_check <= time.monotonic()  # due now: nothing known
    daemon._maybe_check()
    assert daemon.check_worker is not None
    daemon.check_worker.join(timeout=30)
    daemon._finish_check()
    record = published.load(tmp_path / "state")
    assert record is not None and record.ok is True and record.intermediates
    assert published.instant(record.at).tzinfo is not None


@pytest.mark.parametrize("at", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_a_record_from_the_end_or_start_of_time_does_not_stop_the_daemon(
    tmp_path: Path, https: HttpsServer, at: str
) -> None:
    write_record(tmp_path / "state", json.dumps({**GOOD, "at": at}))
    daemon = _daemon(tmp_path, https)
    if at.startswith("9999"):
        assert daemon.next_check > time.monotonic() + 86_000  # "checked" later than now: not due
    else:
        assert daemon.next_check <= time.monotonic()
