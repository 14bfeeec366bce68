"""`rotator service dropin`: the sandbox drop-in both units read, generated from the config; and the
daemon's start-up check that every directory it must write is writable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def write_config(tmp_path: Path) -> Path:
    app = tmp_path / "srv" / "my app"  # a space: escaped in the unit syntax
    config = tmp_path / "rotator.toml"
    config.write_text(f"""
metrics_file = "{tmp_path}/metrics/rotator.prom"
[[targets]]
kind = "pem"
path = "{tmp_path}/azure/roots.pem"
[[targets]]
kind = "jks"
path = "{app}/trust.jks"
storepass_credential = "app-storepass"
[[targets]]
kind = "pem-dir"
path = "{tmp_path}/azure/certs"
[[targets]]
kind = "system"
""")
    return config


def test_dropin_names_every_directory_and_credential_and_both_units_read_it(tmp_path: Path, run) -> None:
    config = write_config(tmp_path)
    units = tmp_path / "units"
    result = run("service", "dropin", "--config", str(config), "--unit-dir", str(units))
    assert result.code == 0, result.err
    dropin = units / "rotator.service.d" / "rotator-sandbox.conf"
    lines = dropin.read_text().splitlines()
    assert lines[2] == "[Service]"
    assert lines[3:] == [
        f"ReadWritePaths=-{tmp_path}/azure",
        f"ReadWritePaths=-{tmp_path}/srv/my\\x20app",
        f"ReadWritePaths=-{tmp_path}/azure/certs",
        f"ReadWritePaths=-{tmp_path}/metrics",
        "LoadCredential=app-storepass:/etc/credstore/app-storepass",
    ]
    link = units / "rotator-sync.service.d" / "rotator-sandbox.conf"
    assert link.is_symlink() and link.resolve() == dropin.resolve()
    # Directories that did not exist are created: the sandbox cannot open up a missing path.
    for created in ("azure", "srv/my app", "azure/certs", "metrics"):
        assert (tmp_path / created).is_dir()
    assert f"created {tmp_path}/srv/my app" in result.out
    if not Path("/etc/credstore/app-storepass").exists():
        assert "/etc/credstore/app-storepass does not exist" in result.err

    # Run again after a change: the same file is rewritten, the link stays a link.
    config.write_text(f'[[targets]]\nkind = "pem"\npath = "{tmp_path}/other/roots.pem"\n')
    assert run("service", "dropin", "--config", str(config), "--unit-dir", str(units)).code == 0
    assert dropin.read_text().splitlines()[3:] == [f"ReadWritePaths=-{tmp_path}/other"]
    assert link.is_symlink() and link.read_text() == dropin.read_text()


def test_dropin_print_writes_nothing(tmp_path: Path, run) -> None:
    config = write_config(tmp_path)
    units = tmp_path / "units"
    result = run("service", "dropin", "--config", str(config), "--unit-dir", str(units), "--print")
    assert result.code == 0
    assert "LoadCredential=app-storepass:/etc/credstore/app-storepass" in result.out
    assert not units.exists() and not (tmp_path / "azure").exists()


def test_dropin_without_a_config_is_a_usage_error(tmp_path: Path, run) -> None:
    result = run("service", "dropin", "--config", str(tmp_path / "missing.toml"), "--unit-dir", str(tmp_path))
    assert result.code == 2
    assert "missing.toml not found" in result.err


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="a read-only bind mount in a private mount namespace needs root",
)
def test_daemon_refuses_to_start_when_a_target_directory_is_read_only(tmp_path: Path) -> None:
    """What ProtectSystem=strict does to a directory the drop-in lacks: a read-only bind mount (in a
    mount namespace of its own, gone with the process)."""
    target_dir = tmp_path / "azure"
    target_dir.mkdir()
    config = tmp_path / "rotator.toml"
    config.write_text(f'[[targets]]\nkind = "pem"\npath = "{target_dir}/roots.pem"\n[download]\noffline = true\n')
    script = (
        f'mount --bind "{target_dir}" "{target_dir}" && mount -o remount,bind,ro "{target_dir}" && '
        f'exec "{sys.executable}" -m rotator daemon --config "{config}" --state-dir "{tmp_path}/state" '
        f'--cache-dir "{tmp_path}/cache"'
    )
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NOTIFY_SOCKET": ""},
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"cannot write {target_dir} (read-only file system)" in lines[0]
    assert "rotator service dropin" in lines[0]
    assert not (target_dir / "roots.pem").exists()
