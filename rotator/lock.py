"""One lock per state directory, so a manual run and the daemon never write at the same time."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from rotator.errors import LockTimeout, RotatorError
from rotator.fsutil import make_dirs
from rotator.progress import Progress, silent

LOCK_NAME = "rotator.lock"


@contextlib.contextmanager
def held(
    directory: Path, timeout: float, poll: float = 0.05, on_wait: Progress = silent
) -> Iterator[None]:
    """Hold the lock for the block; wait at most ``timeout`` seconds (0: not at all), then say who holds it.

    ``on_wait`` hears once that the run is waiting, and for whom, so a wait is never silent.
    """
    try:
        make_dirs(directory)
        # Never through a link: one planted here would have root truncate any file.
        fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RotatorError(
                f"{directory / LOCK_NAME} is a symbolic link, which rotator never follows; remove it"
            ) from exc
        raise RotatorError(
            f"cannot create the lock in {directory}: {exc.strerror}; pass a writable --state-dir"
        ) from exc
    try:
        if os.fstat(fd).st_uid == os.geteuid():
            os.fchmod(fd, 0o644)  # whatever the umask
        deadline = time.monotonic() + timeout
        waiting = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder(fd)
                    raise LockTimeout(
                        f"another rotator run ({holder}) has held {directory / LOCK_NAME} for over {timeout:g}s; "
                        "wait for it to finish or stop it"
                    ) from None
                if not waiting:
                    waiting = True
                    on_wait(f"waiting up to {timeout:g}s for the lock {directory / LOCK_NAME} held by {_holder(fd)}")
                time.sleep(poll)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode().strip()
    except OSError:
        text = ""
    return f"pid {text}" if text.isdigit() else "unknown pid"
