"""Running an outside command (a distribution's refresh) bounded in time and tied to rotator's life.

The command stays in rotator's process group, dies with rotator (even by SIGKILL), and on a
timeout or an interrupt its whole process tree is killed: a refresh never outlives the run that
started it, and a grandchild holding the output pipe open cannot make the wait unbounded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence


def run_bounded(argv: Sequence[str], *, env: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """Run argv with its output captured, tied to this run's life.

    The command stays in rotator's process group, so an interrupt or a stop aimed at the group
    (Ctrl-C, ``kill -- -PGID``, systemd) reaches it too; it is killed if rotator itself dies
    (parent-death signal), and on a timeout or an interrupt its whole process tree is killed, so
    a grandchild holding the pipe open cannot make the wait unbounded.
    """
    with subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        preexec_fn=_die_with_parent(),
    ) as proc:
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            kill_tree(proc.pid)
            try:
                output, _ = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                output = b""
            raise subprocess.TimeoutExpired(exc.cmd, timeout, output=output) from None
        except BaseException:
            kill_tree(proc.pid)  # interrupted (KeyboardInterrupt, the daemon stopping): no leftovers
            raise
        return proc.returncode, output


def _die_with_parent() -> Callable[[], None] | None:
    """A pre-exec step asking Linux to kill the child when rotator dies, even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    set_pdeathsig = 1  # PR_SET_PDEATHSIG

    def arm() -> None:
        prctl(set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)

    return arm


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and every process descended from it (found through /proc)."""
    for _ in range(3):  # a process may fork while the tree is being read: go over it again
        victims = [pid, *_descendants(pid)]
        alive = False
        for victim in victims:
            try:
                os.kill(victim, signal.SIGKILL)
                alive = True
            except (ProcessLookupError, PermissionError):
                continue
        if not alive:
            return


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.append(child)
                todo.append(child)
    return found
