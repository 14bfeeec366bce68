"""What a service's journal shows: rotator's own lines, no library warnings.

Distribution bundles hold a few roots with serial number 0 (Starfield Class 2 Certification Authority,
copied here from Debian's ca-certificates); cryptography warns about each when it parses its extensions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import DATA, embedded_pem

SERIAL_ZERO = DATA / "serial-zero-root.pem"


@pytest.mark.parametrize("command", ["status", "sync"])
def test_a_bundle_with_a_serial_zero_root_logs_no_warning(tmp_path: Path, command: str) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(SERIAL_ZERO.read_bytes() + embedded_pem("digicert-global-root-g2"))
    env = {**os.environ, "PYTHONWARNINGS": "always"}  # show every warning, as a service's stderr would
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rotator",
            command,
            "--offline",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--state-dir",
            str(tmp_path / "state"),
            "--target",
            f"pem:{bundle}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
    assert "serial number" not in proc.stderr
