"""The daemon as a real process: systemd notify protocol, signals, reload, outages, the lock."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rotator.certs import parse_many
from rotator.sync import locks
from tests.support.daemon import NotifySocket, start_daemon, stop, wait_for
from tests.support.https_server import Reply, https_server
from tests.support.pki import make_root

pytestmark = pytest.mark.slow


def write_config(path: Path, bundle: Path, profile: str = "azure-minimal", extra: str = "") -> None:
    path.write_text(f"""
profile = "{profile}"
{extra}
[daemon]
interval = "2s"
jitter = "0s"
retry = "1s"
catalog_check = "off"
[[targets]]
kind = "pem"
path = "{bundle}"
""")


def test_notify_protocol_in_order_and_sigterm_is_prompt(tmp_path: Path, notify: NotifySocket) -> None:
    bundle = tmp_path / "b.pem"
    config = tmp_path / "rotator.toml"
    write_config(config, bundle)
    proc = start_daemon(tmp_path, config, notify, "--offline", watchdog_usec=600_000)
    try:
        notify.collect("READY=1")
        assert len(parse_many(bundle.read_bytes())) == 2
        notify.collect("WATCHDOG=1")
        # A second cycle runs by itself after the interval.
        statuses_before = sum(1 for m in notify.messages if m.startswith("STATUS="))
        wait_for(lambda: sum(1 for m in notify.messages if m.startswith("STATUS=")) > statuses_before, 10)
    finally:
        code, took, err = stop(proc)
    assert code == 0, err
    assert took < 1.5
    notify.collect("STOPPING=1", timeout=2)
    kinds = [m.split("=", 1)[0] for m in notify.messages]
    assert kinds.index("READY") < kinds.index("WATCHDOG") < kinds.index("STOPPING")
    assert kinds[-1] == "STOPPING"
    assert any(m.startswith("STATUS=ok: 1 targets, 2 roots") for m in notify.messages)
    assert "daemon stopped" in err
    assert not any(line[:4].isdigit() for line in err.splitlines()), "no timestamps of its own"


def test_sighup_reloads_and_a_broken_config_keeps_the_old(tmp_path: Path, notify: NotifySocket) -> None:
    first, second = tmp_path / "first.pem", tmp_path / "second.pem"
    config = tmp_path / "rotator.toml"
    write_config(config, first)
    config.write_text(config.read_text().replace('interval = "2s"', 'interval = "1h"'))
    proc = start_daemon(tmp_path, config, notify, "--offline")
    try:
        notify.collect("READY=1")
        assert first.exists() and not second.exists()
        write_config(config, second, profile="azure-postgresql")
        config.write_text(config.read_text().replace('interval = "2s"', 'interval = "1h"'))
        proc.send_signal(signal.SIGHUP)
        wait_for(second.exists)
        assert len(parse_many(second.read_bytes())) == 3
        config.write_text("this is = not [valid toml")
        proc.send_signal(signal.SIGHUP)
        notify.collect("config reload failed")
        time.sleep(0.3)
        assert proc.poll() is None, "a broken config must not stop the daemon"
    finally:
        code, _, err = stop(proc)
    assert code == 0, err
    assert "config reload failed, keeping the previous config" in err


def test_outage_is_reported_and_recovered_without_restart(tmp_path: Path, notify: NotifySocket) -> None:
    root = make_root("Outage Test Root")
    with socket.socket() as probe:  # a free port that nothing listens on yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bundle = tmp_path / "b.pem"
    config = tmp_path / "rotator.toml"
    url = f"https://localhost:{port}/root.der"
    write_config(
        config,
        bundle,
        profile="only",
        extra=f"""
[profiles]
only = ["outage-root"]
[[roots]]
id = "outage-root"
sha256 = "{root.sha256}"
urls = ["{url}"]
[download]
connect_timeout = 1
read_timeout = 1
retries = 0
""",
    )
    ca = make_root("daemon download CA")
    ca_file = tmp_path / "download-ca.pem"
    ca_file.write_bytes(ca.pem)
    proc = start_daemon(tmp_path, config, notify, "--no-cache", "--download-ca-bundle", str(ca_file))
    try:
        notify.collect("READY=1")
        assert any("failed (1 in a row)" in m and "outage-root" in m for m in notify.messages)
        assert not bundle.exists()
        notify.collect("failed (2 in a row)")
        assert proc.poll() is None
        with https_server(tmp_path / "srv", port=port, ca=ca) as server:
            server.serve("/root.der", Reply(body=root.der))
            notify.collect("STATUS=ok")
            assert [c.sha256 for c in parse_many(bundle.read_bytes())] == [root.sha256]
    finally:
        code, _, err = stop(proc)
    assert code == 0, err


def test_lock_makes_the_second_run_wait_and_names_the_holder(tmp_path: Path) -> None:
    bundle = tmp_path / "b.pem"
    state = tmp_path / "state"
    base = [
        sys.executable,
        "-m",
        "rotator",
        "sync",
        "--offline",
        "--state-dir",
        str(state),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--target",
        f"pem:{bundle}",
    ]
    lock_dir = tmp_path / "locks"  # the one ROTATOR_LOCK_DIR names for this test's runs
    with locks.run_lock(lock_dir, state, timeout=60):
        timed_out = subprocess.run([*base, "--lock-timeout", "0.5"], capture_output=True, text=True, timeout=60)
        assert timed_out.returncode == 1
        assert f"pid {os.getpid()}" in timed_out.stderr
        assert str(locks.run_lock_path(lock_dir, state)) in timed_out.stderr
        assert not bundle.exists()
        waiting = subprocess.Popen(base, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        assert waiting.poll() is None, "must wait while the lock is held"
        assert not bundle.exists()
    _, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert len(parse_many(bundle.read_bytes())) == 7


def test_two_syncs_started_together_both_finish_and_the_store_is_intact(tmp_path: Path) -> None:
    bundle = tmp_path / "b.pem"
    other = make_root("Someone Else's Root")
    bundle.write_bytes(b"# app bundle\n" + other.pem)
    cmd = [
        sys.executable,
        "-m",
        "rotator",
        "sync",
        "--offline",
        "--state-dir",
        str(tmp_path / "state"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--profile",
        "azure-all",
        "--target",
        f"pem:{bundle}",
    ]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    certs = [c.sha256 for c in parse_many(bundle.read_bytes())]
    assert len(certs) == len(set(certs)) == 8, "every root once, the foreign one kept"
    assert certs[0] == other.sha256
    outputs = [out for out, _ in results]
    # The lock serialises the runs: one adds the roots, the other then finds them in place.
    assert sorted("added digicert-global-root-g2" in out for out in outputs) == [False, True]
    assert sum("up to date" in out for out in outputs) == 1


@pytest.mark.parametrize(
    "line, key",
    [('interval = "6x"', "daemon.interval"), ('jitter = "ten"', "daemon.jitter"), ('every = "1h"', "daemon.every")],
)
def test_bad_daemon_settings_are_usage_errors(tmp_path: Path, run, line: str, key: str) -> None:
    config = tmp_path / "rotator.toml"
    config.write_text(f"[daemon]\n{line}\n")
    result = run("daemon", "--offline", "--config", str(config))
    assert result.code == 2
    assert key in result.err
