"""Running rotator as a test does: in this process (the ``run`` fixture) or as a real process."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

from tests.support.paths import REPO


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def unwrapped(self) -> str:
        """``out`` with each wrapped line joined again: text output wraps at 100 columns, continuing a
        line with an indent of four spaces or more, where an indented line of its own has two."""
        return unwrapped(self.out)


def unwrapped(text: str) -> str:
    return re.sub(r"\n {4,}", " ", text)


def run_in_process(argv: list[str]) -> Run:
    """Run ``rotator.cli.main.main`` in this process, its output captured (exit codes as main gives them)."""
    import contextlib
    import io

    from rotator.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
    return Run(code, out.getvalue(), err.getvalue())


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


def interpreter_for_nobody() -> tuple[list[str], dict[str, str]] | str:
    """This checkout's rotator under an interpreter nobody may run (a pyenv python under /root is
    not one: the system's python of the same version then, with the same packages), or why none."""
    if shutil.which("runuser") is None:
        return "runuser is not installed"
    env = {
        "PATH": os.environ["PATH"],
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join([str(REPO), *(p for p in sys.path if p.endswith("site-packages"))]),
    }
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    errors = []
    for python in dict.fromkeys([sys.executable, f"/usr/bin/python{version}"]):
        probe = subprocess.run(
            ["runuser", "-u", "nobody", "--", python, "-c", "import rotator.cli.main"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            cwd="/",
        )
        if probe.returncode == 0:
            return ["runuser", "-u", "nobody", "--", python, "-m", "rotator"], env
        errors.append(f"{python}: {probe.stderr.strip().splitlines()[-1:]}")
    return f"no python that nobody may run with this checkout: {'; '.join(errors)}"
