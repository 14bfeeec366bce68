"""The watch between rotator and an outside command: whatever the command starts dies with the run.

``run_bounded`` does not start a command itself: it starts this file as a small process of its own
(``python -I -S reaper.py PARENT_PID EXECUTABLE ARGV...``), which starts the command and forwards its
output. Linux gives a process no way to take its grandchildren with it when it is killed by SIGKILL,
so this one exists to outlive rotator by a moment:

- it is a child subreaper (``PR_SET_CHILD_SUBREAPER``): a process the command starts and leaves
  behind (``sleep 300 &`` in a hook) is re-parented to it, not to init, so it stays in the tree
  that ``kill_tree`` finds;
- it is told when rotator dies, even by SIGKILL (``PR_SET_PDEATHSIG``, armed by ``run_bounded``
  before it starts), and then kills every process below it before it exits;
- on SIGTERM, SIGINT or SIGHUP (a stop aimed at rotator's process group, or the parent-death
  signal) it does the same.

It waits for the command to exit and for its output to close, so a background process still
holding the output keeps the run waiting until the timeout, and the timeout then kills it too.
A process that detached properly (closed the output, as a daemon does) is left to run.

Only the standard library, imported here at the top: the file runs without site-packages.
"""

from __future__ import annotations

import os
import signal
import sys

TYPE_CHECKING = False  # typing is not imported for the name alone
if TYPE_CHECKING:
    from collections.abc import Callable

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
CANNOT_START = 126  # the shell's exit code for a command found but not runnable


def libc_prctl() -> Callable[..., int] | None:
    """Linux's prctl(2) through ctypes, looked up before a fork (a pre-exec step must not import)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return function


def kill_tree(pid: int, *, include_self: bool = True) -> None:
    """SIGKILL every process descended from ``pid`` (found through /proc), deepest first, then ``pid``."""
    for _ in range(3):  # a process may fork while the tree is being read: go over it again
        victims = _descendants(pid)[::-1] + ([pid] if include_self else [])
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


def _stop(signum: int, _frame: object) -> None:
    kill_tree(os.getpid(), include_self=False)
    os._exit(128 + signum)


def main(args: list[str]) -> int:
    parent, executable, argv = int(args[0]), args[1], args[2:]
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _stop)
    prctl = libc_prctl()
    if prctl is not None:
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if os.getppid() != parent:
        return 128 + signal.SIGTERM  # rotator died before the parent-death signal was armed
    read_end, write_end = os.pipe()
    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        child = os.posix_spawn(
            executable,
            argv,
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, write_end, 1),
                (os.POSIX_SPAWN_DUP2, write_end, 2),
            ],
        )
    except OSError as exc:
        os.write(1, f"cannot start {executable}: {exc.strerror}\n".encode())
        return CANNOT_START
    finally:
        os.close(write_end)
        os.close(devnull)
    while chunk := os.read(read_end, 65536):  # until every process holding the output has closed it
        try:
            os.write(1, chunk)
        except OSError:
            pass  # rotator stopped reading (it is going away): keep draining, so no writer blocks
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):
        ended_by = os.WTERMSIG(status)
        if ended_by not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(ended_by, signal.SIG_DFL)
        os.kill(os.getpid(), ended_by)  # end as the command ended, so rotator sees the same signal
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
