"""The benchmark command still runs against the current code (its cases drive rotator's
internals, which move): one run of each cheap group, every figure present."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.paths import REPO


@pytest.mark.slow
def test_each_cheap_benchmark_group_runs_and_reports() -> None:
    groups = ["startup", "bundle", "pem", "pem-dir", "daemon"]
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--repeat", "1", "--sizes", "1000"]
        + [arg for group in groups for arg in ("--only", group)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "failed:" not in proc.stdout, proc.stdout
    lines = proc.stdout.splitlines()
    for case in ("no-op sync, pem + jks + pkcs12", "rotator add 7 roots to 1k", "rotator sync pem-dir: 7 roots"):
        row = next(line for line in lines if line.startswith(case))
        assert "x of " in row, row  # measured, with its ratio to the anchor
    assert any(line.startswith("daemon RSS") and "growth" in line for line in lines), proc.stdout
