"""The state file: written and read back unchanged, a corrupt one refused with the next step."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from rotator.errors import RotatorError
from rotator.sync import state
from rotator.sync.state import RootRecord, State

SHA = "cd" * 32


def sample() -> State:
    return State(
        targets={
            "pem:/b.pem": {
                "g2": RootRecord(SHA, True, "2026-01-01T00:00:00+00:00"),
                "g3": RootRecord(SHA[::-1], False, "2026-02-01T00:00:00+00:00"),
            },
            "jks:/t.jks": {},
        },
        last_success="2026-03-01T00:00:00+00:00",
        last_failure=None,
        failures=2,
        drift_repairs=7,
    )


def test_saved_state_loads_back_equal(tmp_path: Path) -> None:
    state.save(tmp_path, sample())
    assert state.load(tmp_path) == sample()
    doc = json.loads((tmp_path / state.FILE_NAME).read_text())
    assert doc["version"] == state.STATE_VERSION and doc["targets"]["pem:/b.pem"]["g2"]["owned"] is True


def test_no_file_is_an_empty_state(tmp_path: Path) -> None:
    assert state.load(tmp_path / "missing") == State()


def test_counters_default_to_zero_when_absent(tmp_path: Path) -> None:
    (tmp_path / state.FILE_NAME).write_text(json.dumps({"version": 1, "targets": {}}))
    loaded = state.load(tmp_path)
    assert (loaded.failures, loaded.drift_repairs, loaded.last_success) == (0, 0, None)


@pytest.mark.parametrize(
    "text, detail",
    [
        ("{", "Expecting property name"),
        ("[]", "unknown state version []"),
        ('{"version": 2, "targets": {}}', "unknown state version 2"),
        ('{"version": 1, "targets": {"pem:/b": {"g2": {"sha256": "x"}}}}', "pem:/b: g2: owned is not true or false"),
        ('{"version": 1, "targets": {"pem:/b": []}}', "target 'pem:/b' is not an object"),
        ('{"version": 1, "targets": {}, "failures": "many"}', "failures is not a count"),
    ],
)
def test_a_corrupt_file_is_refused_naming_it_and_the_fix(tmp_path: Path, text: str, detail: str) -> None:
    path = tmp_path / state.FILE_NAME
    path.write_text(text)
    with pytest.raises(RotatorError) as caught:
        state.load(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"state file {path} is corrupt (") and detail in message
    assert message.endswith("move it aside and run sync again: rotator rebuilds it from the stores")
    assert path.read_text() == text  # never replaced silently


def test_times_are_utc_seconds() -> None:
    at = dt.datetime(2026, 5, 1, 14, 30, 15, 999, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert state.now_iso(at) == "2026-05-01T12:30:15+00:00"


def test_state_dir_is_var_lib_for_root_and_xdg_otherwise() -> None:
    assert state.default_state_dir({}, is_root=True) == Path("/var/lib/rotator")
    assert state.default_state_dir({"XDG_STATE_HOME": "/x"}, is_root=False) == Path("/x/rotator")
    assert state.default_state_dir({"HOME": "/h"}, is_root=False) == Path("/h/.local/state/rotator")
