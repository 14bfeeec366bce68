"""`rotator service install`: the packaged units, the example config (only when absent) and the
drop-in, written into temp directories; a second run changes nothing; an edited unit is kept
unless --force; the units name the rotator that ran the install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rotator.errors import ConfigError
from rotator.service import install
from tests.support.paths import REPO

needs_systemd = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
UNIT_FILES = ["rotator-sync.service", "rotator-sync.timer", "rotator.service"]
THIS_ROTATOR = Path(sys.executable).parent / "rotator"  # `python -m rotator` and in-process runs


@pytest.fixture(autouse=True)
def wherever_the_checkout_is(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rotator under /home or /tmp is refused (the units' sandbox hides it), and a test checkout may
    well sit there: the tests of what install writes take the running rotator as it is. The refusal
    has its own test, with the real list."""
    if request.node.name != "test_a_rotator_the_sandbox_hides_is_refused":
        monkeypatch.setattr(install, "HIDDEN", ())


def args(tmp_path: Path, *more: str) -> list[str]:
    return ["service", "install", "--unit-dir", str(tmp_path / "units"), "--config-dir", str(tmp_path / "etc"), *more]


@pytest.fixture
def example_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The packaged example, its target moved under tmp: the drop-in creates a target's directory."""
    text = install.example_config().replace("/etc/azure/", f"{tmp_path}/azure/")
    assert f"{tmp_path}/azure/azure-roots.pem" in text
    monkeypatch.setattr(install, "example_config", lambda: text)
    return text


def test_packaged_units_and_example_are_the_repositorys_systemd_files() -> None:
    # One source of truth: rotator/data/systemd/ is what the wheel carries, systemd/ what the tree shows.
    packaged = sorted(p.name for p in install.SHIPPED.iterdir())
    assert packaged == sorted(p.name for p in (REPO / "systemd").iterdir())
    for name in packaged:
        assert (install.SHIPPED / name).read_bytes() == (REPO / "systemd" / name).read_bytes(), (
            f"rotator/data/systemd/{name} and systemd/{name} differ: edit one and copy it over the other"
        )


def test_install_writes_units_config_and_dropin_and_a_second_run_changes_nothing(
    tmp_path: Path, run, example_here: str
) -> None:
    result = run(*args(tmp_path))
    assert result.code == 0, result.err
    units, config = tmp_path / "units", tmp_path / "etc" / "rotator.toml"
    assert sorted(p.name for p in units.iterdir() if p.is_file()) == UNIT_FILES
    service = (units / "rotator.service").read_text()
    assert f"ExecStart={THIS_ROTATOR} daemon --config {config}\n" in service
    oneshot = (units / "rotator-sync.service").read_text()
    assert f"ExecStart={THIS_ROTATOR} sync --config {config}\n" in oneshot
    # Only ExecStart= differs from the shipped unit.
    shipped = install.shipped("rotator.service").splitlines()
    assert [a for a, b in zip(shipped, service.splitlines(), strict=True) if a != b] == [
        "ExecStart=/opt/rotator/bin/rotator daemon --config /etc/rotator/rotator.toml"
    ]
    assert (units / "rotator-sync.timer").read_text() == install.shipped("rotator-sync.timer")
    assert config.read_text() == example_here
    assert oct(config.stat().st_mode & 0o777) == "0o644"
    dropin = units / "rotator.service.d" / "rotator-sandbox.conf"
    assert f"ReadWritePaths=-{tmp_path}/azure" in dropin.read_text().splitlines()
    assert (units / "rotator-sync.service.d" / "rotator-sandbox.conf").is_symlink()
    assert (tmp_path / "azure").is_dir()
    assert f"wrote {config} (the example" in result.out
    assert "next: systemctl daemon-reload && systemctl enable --now rotator.service" in result.out
    assert f"then run `rotator service dropin --config {config} --unit-dir {units}` again" in result.out

    stamps = {p: p.stat().st_mtime_ns for p in [*units.rglob("*"), config]}
    again = run(*args(tmp_path))
    assert again.code == 0, again.err
    assert again.out.splitlines()[0] == f"nothing changed: the units, {config} and the drop-in are as installed"
    assert "wrote" not in again.out
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_an_existing_config_is_kept_and_the_dropin_follows_it(tmp_path: Path, run) -> None:
    config = tmp_path / "etc" / "rotator.toml"
    config.parent.mkdir()
    mine = f'[[targets]]\nkind = "pem"\npath = "{tmp_path}/app/roots.pem"\n'
    config.write_text(mine)
    result = run(*args(tmp_path))
    assert result.code == 0, result.err
    assert config.read_text() == mine
    assert f"kept {config} (an existing config is never overwritten)" in result.out
    dropin = (tmp_path / "units" / "rotator.service.d" / "rotator-sandbox.conf").read_text()
    assert f"ReadWritePaths=-{tmp_path}/app" in dropin.splitlines()
    assert f"from {config}" in dropin


def test_a_unit_that_differs_is_replaced_only_with_force(tmp_path: Path, run, example_here: str) -> None:
    assert run(*args(tmp_path)).code == 0
    unit = tmp_path / "units" / "rotator.service"
    edited = unit.read_text().replace("WatchdogSec=2min", "WatchdogSec=5min")
    unit.write_text(edited)
    refused = run(*args(tmp_path))
    assert refused.code == 2
    # One line, within 100 columns for /etc/systemd/system/rotator.service.
    assert refused.err == f"rotator: error: {unit}: not what rotator installs; --force replaces it\n"
    assert len(refused.err.replace(str(unit), "/etc/systemd/system/rotator.service")) <= 101
    assert unit.read_text() == edited  # refused: nothing written, the other units neither
    forced = run(*args(tmp_path, "--force"))
    assert forced.code == 0, forced.err
    assert f"replaced {unit}" in forced.out
    assert "WatchdogSec=2min" in unit.read_text()


def test_dry_run_says_what_it_would_write_and_writes_nothing(tmp_path: Path, run, example_here: str) -> None:
    result = run(*args(tmp_path, "--dry-run"))
    assert result.code == 0, result.err
    assert f"would write {tmp_path}/units/rotator.service" in result.out
    assert f"would write {tmp_path}/etc/rotator.toml (the example" in result.out
    assert f"would write {tmp_path}/units/rotator.service.d/rotator-sandbox.conf" in result.out
    assert "nothing written (--dry-run)" in result.out
    assert not (tmp_path / "units").exists() and not (tmp_path / "etc").exists()
    assert not (tmp_path / "azure").exists()


@needs_systemd
def test_the_installed_units_verify_cleanly(tmp_path: Path, run, example_here: str) -> None:
    assert run(*args(tmp_path)).code == 0
    units = tmp_path / "units"
    proc = subprocess.run(
        ["systemd-analyze", "verify", *UNIT_FILES], cwd=units, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr


def test_the_units_name_the_script_that_runs_links_resolved(tmp_path: Path) -> None:
    assert install.running_command(str(THIS_ROTATOR), sys.executable) == Path(os.path.realpath(THIS_ROTATOR))
    # `python -m rotator`: the script beside the interpreter.
    assert install.running_command("/somewhere/rotator/__main__.py", sys.executable) == THIS_ROTATOR
    link = REPO / "build" / "test-links" / "rotator"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(THIS_ROTATOR)
    try:
        assert install.running_command(str(link), "/usr/bin/python3") == Path(os.path.realpath(THIS_ROTATOR))
    finally:
        link.unlink()


def test_a_rotator_the_sandbox_hides_is_refused(tmp_path: Path) -> None:
    if not tmp_path.is_relative_to("/tmp"):
        pytest.skip(f"{tmp_path} is not under /tmp")
    script = tmp_path / "venv" / "bin" / "rotator"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    with pytest.raises(ConfigError, match=r"under /tmp, which the units hide .*/opt/rotator"):
        install.running_command(str(script), sys.executable)
    with pytest.raises(ConfigError, match=r"cannot find the rotator command of /nowhere/bin/python"):
        install.running_command("-c", "/nowhere/bin/python")
    with pytest.raises(ConfigError, match="ExecStart= cannot name it"):
        install.render_unit("rotator.service", Path("/opt/my rotator/bin/rotator"), Path("/etc/rotator/rotator.toml"))
