"""Running an outside command (a refresh, an on_change hook) bounded in time and tied to rotator's life.

The one way rotator runs another program. The command stays in rotator's process group, so an
interrupt or a stop aimed at the group (Ctrl-C, ``kill -- -PGID``, systemd) reaches it too. It runs
under ``reaper`` (a small process of its own, see there), so that on a timeout, an interrupt, or
rotator's own death, even by SIGKILL, the command and everything it started is killed: a command
never outlives the run that started it, and a grandchild holding the output pipe open cannot make
the wait unbounded.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence

from rotator.host import reaper


def run_bounded(
    argv: Sequence[str], *, env: dict[str, str], timeout: float, cwd: str | None = None
) -> tuple[int, bytes]:
    """Run argv with stdout and stderr captured together; return its exit code and output.

    Raises ``FileNotFoundError`` when argv[0] is not found on ``env``'s PATH, ``PermissionError``
    when it exists but cannot be run, and ``subprocess.TimeoutExpired`` (with what was printed)
    when it did not finish within ``timeout`` seconds: the command and its whole tree are dead then.
    """
    executable = _resolve(argv[0], env.get("PATH"))
    watch = [sys.executable, "-I", "-S", reaper.__file__, str(os.getpid()), executable, *argv]
    with subprocess.Popen(
        watch,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
        preexec_fn=_signal_on_parent_death(),
    ) as proc:
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            reaper.kill_tree(proc.pid)
            try:
                output, _ = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                output = b""
            raise subprocess.TimeoutExpired(exc.cmd, timeout, output=output) from None
        except BaseException:
            reaper.kill_tree(proc.pid)  # interrupted (KeyboardInterrupt, the daemon stopping): no leftovers
            raise
        return proc.returncode, output


def _resolve(command: str, search: str | None) -> str:
    """The file ``command`` names, looked up as the shell would (errors as ``execvp`` gives them)."""
    found = shutil.which(command, path=search)
    if found is not None:
        return found
    if os.sep in command and os.path.exists(command):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), command)
    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), command)


def _signal_on_parent_death() -> Callable[[], None] | None:
    """A pre-exec step asking Linux to send the watch SIGTERM when rotator dies, even by SIGKILL."""
    prctl = reaper.libc_prctl()
    if prctl is None:
        return None

    def arm() -> None:
        prctl(reaper.PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)

    return arm
