"""The unit files: `systemd-analyze verify` is clean and each service's exposure is 2.5 or lower."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rotator import config

UNITS = Path(__file__).parent.parent / "systemd"
needs_systemd = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")


def installed_copy(tmp_path: Path) -> Path:
    """The units as they would be installed here: ExecStart points at this environment's rotator."""
    rotator = Path(sys.executable).parent / "rotator"
    assert rotator.exists(), "the rotator console script is installed next to the interpreter"
    out = tmp_path / "units"
    out.mkdir()
    for unit in [*UNITS.glob("*.service"), *UNITS.glob("*.timer")]:
        (out / unit.name).write_text(unit.read_text().replace("/usr/local/bin/rotator", str(rotator)))
    return out


@needs_systemd
def test_units_verify_cleanly(tmp_path: Path) -> None:
    units = installed_copy(tmp_path)
    names = sorted(p.name for p in units.iterdir())
    assert names == ["rotator-sync.service", "rotator-sync.timer", "rotator.service"]
    proc = subprocess.run(["systemd-analyze", "verify", *names], cwd=units, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "", proc.stderr


@needs_systemd
@pytest.mark.parametrize("unit", ["rotator.service", "rotator-sync.service"])
def test_exposure_is_at_most_2_5(unit: str, tmp_path: Path) -> None:
    units = installed_copy(tmp_path)
    proc = subprocess.run(["systemd-analyze", "security", "--offline=true", unit], cwd=units,
                          capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", proc.stdout)
    assert match, proc.stdout + proc.stderr
    assert float(match.group(1)) <= 2.5


def test_unit_shapes() -> None:
    service = (UNITS / "rotator.service").read_text()
    for line in ("Type=notify", "Restart=on-failure", "ProtectSystem=strict", "NoNewPrivileges=yes",
                 "SystemCallFilter=@system-service", "StateDirectory=rotator", "CacheDirectory=rotator",
                 "ConfigurationDirectory=rotator", "ProtectHome=yes", "PrivateTmp=yes", "ExecReload=/bin/kill -HUP"):
        assert line in service
    assert re.search(r"^WatchdogSec=", service, re.M)
    assert not re.search(r"^MemoryDenyWriteExecute=yes", service, re.M), "would kill the JVM of Debian's Java hook"
    timer = (UNITS / "rotator-sync.timer").read_text()
    assert "Persistent=true" in timer and "RandomizedDelaySec=" in timer and "OnCalendar=" in timer
    assert "Type=oneshot" in (UNITS / "rotator-sync.service").read_text()


def test_example_config_parses() -> None:
    parsed = config.load(UNITS / "rotator.toml.example")
    assert parsed.profile == "azure-postgresql"
    assert parsed.daemon == {"interval": "6h", "jitter": "30m"}
    assert [t.kind for t in parsed.targets] == ["pem"]
