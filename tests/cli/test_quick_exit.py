"""The ``rotator`` command exits without the interpreter's teardown (rotator.cli.main.exit_quickly):
nothing a normal exit gives is lost. Each case runs a real process."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from rotator.cli.main import main
from tests.support.paths import REPO

ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=ENV, timeout=120)


def test_all_output_reaches_a_pipe_and_the_exit_code_is_mains(tmp_path: Path) -> None:
    # About 20 KB through a pipe: a buffer left unflushed would cut the JSON.
    shown = subprocess.run(
        [sys.executable, "-m", "rotator", "catalog", "--json"], capture_output=True, text=True, env=ENV, timeout=120
    )
    expected = io.StringIO()
    with contextlib.redirect_stdout(expected):
        assert main(["catalog", "--json"]) == 0
    assert shown.returncode == 0 and len(shown.stdout) > 8192
    assert json.loads(shown.stdout) == json.loads(expected.getvalue())

    # A failing run: main's exit code and its one error line, as a normal exit gives them.
    target = f"pem:{tmp_path / 'missing-dir' / 'x' / 'roots.pem'}"
    (tmp_path / "missing-dir").write_text("a file where a directory should be")
    argv = ["sync", "--offline", "--state-dir", str(tmp_path / "st"), "--no-cache", "--target", target]
    failed = subprocess.run(
        [sys.executable, "-m", "rotator", *argv], capture_output=True, text=True, env=ENV, timeout=120
    )
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        code = main(argv)
    assert code != 0 and failed.returncode == code
    assert failed.stderr.strip().splitlines()[-1] == err.getvalue().strip().splitlines()[-1]


def test_exit_handlers_run_and_a_live_thread_is_joined(tmp_path: Path) -> None:
    # What a coverage tool, logging or a temporary file's finalizer registers still runs.
    marker = tmp_path / "atexit"
    ran = _python(
        "import atexit, sys; atexit.register(lambda path=sys.argv[1]: open(path, 'w').write('ran'));"
        "from rotator.cli.main import run; sys.argv = ['rotator', '--version']; run()",
        str(marker),
    )
    assert ran.returncode == 0 and ran.stdout.startswith("rotator ") and marker.read_text() == "ran"

    # Another thread still working: the normal exit waits for it, as it always has.
    done = tmp_path / "thread"
    joined = _python(
        "import sys, threading, time\n"
        "def late(path=sys.argv[1]): time.sleep(0.3); open(path, 'w').write('done')\n"
        "threading.Thread(target=late).start()\n"
        "from rotator.cli.main import run; sys.argv = ['rotator', '--version']; run()",
        str(done),
    )
    assert joined.returncode == 0 and done.read_text() == "done"


def test_the_command_and_python_m_take_the_quick_exit() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'rotator = "rotator.cli.main:run"' in pyproject
    assert "run()" in (REPO / "rotator" / "__main__.py").read_text()
