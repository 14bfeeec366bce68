"""Running rotator as a test does: in this process (the ``run`` fixture) or as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass


@dataclass
class Run:
    code: int
    out: str
    err: str


def run_process(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    """Run ``python -m rotator`` as a real process (exit codes and output as a user sees them)."""
    proc = subprocess.run(
        [sys.executable, "-m", "rotator", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else dict(os.environ),
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)
