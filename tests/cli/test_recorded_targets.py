"""A sync records its targets; status, sync and probe with none given use them; forget drops one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support import keytool as kt
from tests.support.paths import embedded_pem
from tests.support.targets import G2, MS_RSA, MS_TLS, PW, error_lines

RECORDED = "rotator: no target given: using the"


def _state(state_dir: Path) -> dict[str, object]:
    doc = json.loads((state_dir / "state.json").read_text())
    assert isinstance(doc, dict)
    return doc


def test_status_after_a_first_sync_checks_what_it_recorded_by_its_profile(tmp_path: Path, run, state_dir: Path) -> None:
    bundle = tmp_path / "roots.pem"
    assert run("sync", "--offline", "--profile", "azure-postgresql", "--target", f"pem:{bundle}").code == 0
    status = run("status")
    assert status.code == 0, status.err
    assert f"{RECORDED} 1 target recorded in {state_dir / 'state.json'}" in status.err
    assert f"pem:{bundle}" in status.out
    assert "3 of 3 roots of azure-postgresql" in status.out  # the sync's profile, not the default azure-all
    # The recorded target is really read: a root taken out of the bundle makes status fail.
    text = bundle.read_text()
    first_end = text.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----\n")
    bundle.write_text(text[first_end:])
    assert run("status").code == 1
    # A sync with no target repairs it, from the record, and records nothing new.
    again = run("sync", "--offline")
    assert again.code == 0, again.err
    assert RECORDED in again.err and "added" in again.out
    assert run("status").code == 0
    # --profile given now judges by it.
    wider = run("status", "--profile", "azure-all")
    assert wider.code == 1 and "3 of 7 roots of azure-all" in wider.out


def test_a_keystore_is_recorded_with_its_password_source_never_the_password(
    tmp_path: Path, run, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_STOREPASS", PW)
    store = tmp_path / "app.jks"
    result = run(
        "sync",
        "--offline",
        "--profile",
        "azure-postgresql",
        "--storepass-env",
        "APP_STOREPASS",
        "--target",
        f"jks:{store}",
    )
    assert result.code == 0, result.err
    assert PW not in (state_dir / "state.json").read_text()
    recorded = _state(state_dir)["recorded"]
    assert recorded == {
        f"jks:{store}": {
            "kind": "jks",
            "path": str(store),
            "options": {"profile": "azure-postgresql", "storepass_env": "APP_STOREPASS"},
        }
    }
    status = run("status")
    assert status.code == 0, status.err
    assert {sha for _, sha in kt.by_alias(store, PW).values()} >= {G2, MS_RSA, MS_TLS}
    monkeypatch.delenv("APP_STOREPASS")
    missing = run("status")
    assert missing.code == 2 and "APP_STOREPASS is not set" in error_lines(missing.err)[0]


def test_probe_with_no_target_judges_the_recorded_ones(tmp_path: Path, run) -> None:
    bundle = tmp_path / "roots.pem"
    assert run("sync", "--offline", "--profile", "azure-minimal", "--target", f"pem:{bundle}").code == 0
    chain = tmp_path / "chain.pem"
    chain.write_bytes(embedded_pem("microsoft-rsa-root-2017"))
    probe = run("probe", "--chain-file", str(chain), "--sslmode", "verify-ca", "--json")
    assert RECORDED in probe.err
    doc = json.loads(probe.out)
    assert [t["target"] for t in doc["targets"]] == [f"pem:{bundle}"]


def test_config_targets_win_over_the_record(tmp_path: Path, run) -> None:
    recorded = tmp_path / "recorded.pem"
    assert run("sync", "--offline", "--target", f"pem:{recorded}").code == 0
    configured = tmp_path / "configured.pem"
    config = tmp_path / "rotator.toml"
    config.write_text(f'[[targets]]\nkind = "pem"\npath = "{configured}"\n')
    status = run("status", "--config", str(config))
    assert RECORDED not in status.err
    assert f"pem:{configured}" in status.out and f"pem:{recorded}" not in status.out


def test_forget_drops_one_target_and_refuses_an_unknown_one_leaving_the_state(
    tmp_path: Path, run, state_dir: Path
) -> None:
    a, b = tmp_path / "a.pem", tmp_path / "b.pem"
    assert run("sync", "--offline", "--target", f"pem:{a}", "--target", f"pem:{b}").code == 0
    before = (state_dir / "state.json").read_bytes()
    unknown = run("forget", f"pem:{tmp_path / 'c.pem'}")
    assert unknown.code == 1
    (line,) = error_lines(unknown.err)
    assert f"not recorded in {state_dir / 'state.json'} (recorded: pem:{a}, pem:{b}); nothing forgotten" in line
    assert (state_dir / "state.json").read_bytes() == before
    # A relative path is taken from the current directory, as sync recorded it.
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        done = run("forget", "pem:./a.pem")
    finally:
        os.chdir(cwd)
    assert done.code == 0, done.err
    assert f"forgot pem:{a}" in done.out
    state = _state(state_dir)
    for table in ("targets", "synced", "recorded"):
        assert list(state[table]) == [f"pem:{b}"], table  # type: ignore[call-overload]
    assert a.exists() and a.read_bytes()  # the store itself is left as it is
    status = run("status")
    assert status.code == 0 and f"pem:{b}" in status.out and f"pem:{a}" not in status.out
    # A bare kind drops every store of it.
    assert run("forget", "pem").code == 0
    assert run("status").code == 2


def test_a_state_file_from_before_the_record_still_loads(tmp_path: Path, run, state_dir: Path) -> None:
    bundle = tmp_path / "roots.pem"
    assert run("sync", "--offline", "--target", f"pem:{bundle}").code == 0
    doc = _state(state_dir)
    del doc["recorded"]
    (state_dir / "state.json").write_text(json.dumps(doc))
    status = run("status")
    assert status.code == 2 and "no targets configured" in status.err
    assert run("status", "--target", f"pem:{bundle}").code == 0


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="unshare -n needs root")
def test_the_readme_sync_fits_a_terminal_and_says_what_comes_next(tmp_path: Path) -> None:
    """The README's first sync, with and without the network, as a new user runs it (a real process),
    from a directory with a path as short as a user's checkout (pytest's own are 60 columns and more)."""
    with tempfile.TemporaryDirectory(prefix="rt-", dir="/tmp") as short:
        _readme_sync_in(Path(short))


def _readme_sync_in(tmp_path: Path) -> None:
    env = dict(os.environ, HOME=str(tmp_path))
    base = [sys.executable, "-m", "rotator", "sync", "--state-dir", str(tmp_path / "s"), "--no-cache"]
    runs = [
        ([*base, "--offline", "--target", "pem:./azure-roots.pem"], True),
        (["unshare", "-n", *base, "--target", "pem:./azure-roots.pem"], False),  # no network: one warning
        ([*base, "--offline", "--target", "pem:./other.pem"], True),
    ]
    for argv, first in runs:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
        assert proc.returncode == 0, proc.stderr
        lines = (proc.stdout + proc.stderr).splitlines()
        assert max(len(line) for line in lines) <= 100, "\n".join(line for line in lines if len(line) > 100)
        said_next = any(line.startswith("next: `rotator status` checks it") for line in lines)
        assert said_next == first, proc.stdout
        if first:
            assert f"recorded 1 new target in {tmp_path / 's' / 'state.json'}" in proc.stdout
    status = subprocess.run(
        [sys.executable, "-m", "rotator", "status", "--state-dir", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    assert "2 targets recorded" in status.stderr
