"""The two locks a writing run holds, both waited for in one bounded way (``flock_within``).

The run lock: one per state directory, so a manual run and the daemon never write at the same time.

The store lock: on the directory that holds a store. Two runs with different state directories
(the service and a manual run with --state-dir, two users) would otherwise both read a store, plan,
and write: the second would add what the first had just added. Every rotator run that writes a
store takes this lock on the store's directory for the whole read, plan, write and read-back,
whatever its state directory. Readers that are not rotator (openssl, Java) take no lock and see
the atomic renames as before. Nothing is created next to the store.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from rotator.errors import LockTimeout, RotatorError
from rotator.host.files import make_dirs
from rotator.progress import Progress, silent

LOCK_NAME = "rotator.lock"


@contextlib.contextmanager
def run_lock(directory: Path, timeout: float, poll: float = 0.05, on_wait: Progress = silent) -> Iterator[None]:
    """Hold the lock for the block; wait at most ``timeout`` seconds (0: not at all), then say who holds it.

    ``on_wait`` hears once that the run is waiting, and for whom, so a wait is never silent.
    """
    fd = open_lock_file(directory / LOCK_NAME)
    try:
        if os.fstat(fd).st_uid == os.geteuid():
            os.fchmod(fd, 0o644)  # whatever the umask
        path = directory / LOCK_NAME
        flock_within(
            fd,
            timeout,
            poll,
            timed_out=lambda: LockTimeout(
                f"another rotator run ({_holder(fd)}) has held {path} for over {timeout:g}s; "
                "wait for it to finish or stop it"
            ),
            first_wait=lambda: on_wait(f"waiting up to {timeout:g}s for the lock {path} held by {_holder(fd)}"),
        )
        # Who holds it, for the next run's message; a full disk only costs that message.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def flock_within(
    fd: int,
    timeout: float,
    poll: float,
    *,
    timed_out: Callable[[], LockTimeout],
    first_wait: Callable[[], None] = lambda: None,
) -> None:
    """Take an exclusive flock on ``fd``, polling for at most ``timeout`` seconds (0: one try).

    ``first_wait`` runs once when the lock is busy; ``timed_out`` builds the error raised at the deadline.
    """
    deadline = time.monotonic() + timeout
    waiting = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise timed_out() from None
            if not waiting:
                waiting = True
                first_wait()
            time.sleep(poll)


def open_lock_file(path: Path) -> int:
    """Open (or create) the lock file without following a link and without blocking.

    A symlink planted under the lock's name is refused rather than followed (a run would
    otherwise truncate whatever it points at); so is anything but a regular file.
    """
    try:
        make_dirs(path.parent)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RotatorError(f"{path} is a symbolic link, which rotator never follows; remove it") from exc
        raise RotatorError(f"cannot create the lock {path}: {exc.strerror}; pass a writable --state-dir") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise RotatorError(f"{path} is not a regular file; remove it and run again")
    return fd


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode().strip()
    except OSError:
        text = ""
    return f"pid {text}" if text.isdigit() else "unknown pid"


def lock_directory(path: Path) -> Path:
    """The directory to lock: ``path`` itself, made now if missing, so that two runs racing to
    create a store lock the same directory; its closest existing ancestor if it cannot be made
    (the write will then fail with its own message)."""
    current = Path(os.path.realpath(path))
    try:
        make_dirs(current)
    except OSError:
        while not current.is_dir() and current != current.parent:
            current = current.parent
    return current


@contextlib.contextmanager
def store_lock(directory: Path, timeout: float, poll: float = 0.05) -> Iterator[None]:
    where = lock_directory(directory)
    try:
        fd = os.open(where, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        # Cannot even open the directory: the write will fail with its own clear message.
        yield
        return
    try:
        flock_within(
            fd,
            timeout,
            poll,
            timed_out=lambda: LockTimeout(
                f"another rotator run has been writing a store in {where} for over {timeout:g}s; "
                "wait for it to finish or stop it"
            ),
        )
        yield
    finally:
        os.close(fd)
