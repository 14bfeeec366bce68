"""The unit files: `systemd-analyze verify` is clean and each service's exposure is 2.5 or lower."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rotator.config import file as config
from tests.support.paths import REPO

UNITS = REPO / "systemd"
DOCS = REPO / "docs" / "service.md"
INSTALLED_COMMAND = "/opt/rotator/bin/rotator"  # the venv docs/service.md installs
needs_systemd = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")


def installed_copy(tmp_path: Path) -> Path:
    """The units as they would be installed here: ExecStart points at this environment's rotator."""
    rotator = Path(sys.executable).parent / "rotator"
    assert rotator.exists(), "the rotator console script is installed next to the interpreter"
    out = tmp_path / "units"
    out.mkdir()
    for unit in [*UNITS.glob("*.service"), *UNITS.glob("*.timer")]:
        (out / unit.name).write_text(unit.read_text().replace(INSTALLED_COMMAND, str(rotator)))
    return out


@needs_systemd
def test_units_verify_cleanly(tmp_path: Path) -> None:
    units = installed_copy(tmp_path)
    names = sorted(p.name for p in units.iterdir())
    assert names == ["rotator-sync.service", "rotator-sync.timer", "rotator.service"]
    proc = subprocess.run(["systemd-analyze", "verify", *names], cwd=units, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "", proc.stderr


@needs_systemd
@pytest.mark.parametrize("unit", ["rotator.service", "rotator-sync.service"])
def test_exposure_is_at_most_2_5(unit: str, tmp_path: Path) -> None:
    units = installed_copy(tmp_path)
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", unit], cwd=units, capture_output=True, text=True, timeout=60
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", proc.stdout)
    assert match, proc.stdout + proc.stderr
    assert float(match.group(1)) <= 2.5


def test_unit_shapes() -> None:
    service = (UNITS / "rotator.service").read_text()
    for line in (
        "Type=notify",
        "Restart=on-failure",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "SystemCallFilter=@system-service",
        "StateDirectory=rotator",
        "CacheDirectory=rotator",
        "ConfigurationDirectory=rotator",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "RestartPreventExitStatus=2",
        f"ExecStart={INSTALLED_COMMAND} daemon ",
    ):
        assert line in service
    # A minimal system has no /bin/kill (procps): the reload signal comes from sh's built-in.
    assert re.search(r"^ExecReload=/bin/sh -c 'kill -HUP \"\$MAINPID\"'$", service, re.M)
    assert not re.search(r"^Exec.*/bin/kill", service, re.M)
    assert re.search(r"^WatchdogSec=", service, re.M)
    assert not re.search(r"^MemoryDenyWriteExecute=yes", service, re.M), "would kill the JVM of Debian's Java hook"
    timer = (UNITS / "rotator-sync.timer").read_text()
    assert "Persistent=true" in timer and "RandomizedDelaySec=" in timer and "OnCalendar=" in timer
    oneshot = (UNITS / "rotator-sync.service").read_text()
    assert "Type=oneshot" in oneshot and f"ExecStart={INSTALLED_COMMAND} sync " in oneshot


def sandbox_lines(unit: str) -> list[str]:
    text = (UNITS / unit).read_text()
    return [line for line in text[text.index("ProtectSystem=") :].splitlines() if line and not line.startswith("#")]


def test_both_services_share_one_sandbox() -> None:
    # One place to change: the hardening is the same, and the generated drop-in is read by both.
    assert sandbox_lines("rotator.service")[:-2] == sandbox_lines("rotator-sync.service")
    for line in ("ReadWritePaths=-/var/lib/dpkg -/var/log/dpkg.log",):
        assert line in sandbox_lines("rotator-sync.service")


def test_docs_install_the_command_the_units_run() -> None:
    docs = DOCS.read_text()
    assert "sudo python3 -m venv /opt/rotator" in docs
    assert INSTALLED_COMMAND.rsplit("/", 2)[0] + "/bin/pip install" in docs
    assert "sudo rotator service dropin" in docs


def test_example_config_parses() -> None:
    parsed = config.load(UNITS / "rotator.toml.example")
    assert parsed.profile == "azure-postgresql"
    assert parsed.daemon == {"interval": "6h", "jitter": "30m"}
    assert [t.kind for t in parsed.targets] == ["pem"]
    assert parsed.download.offline is False
