"""A lock that lives with a store: on the directory that holds it.

The run lock sits in the state directory, and two runs with different state directories (the
service and a manual run with --state-dir, two users) would otherwise both read a store, plan,
and write: the second would add what the first had just added. Every rotator run that writes a
store takes this lock on the store's directory for the whole read, plan, write and read-back,
whatever its state directory. Readers that are not rotator (openssl, Java) take no lock and see
the atomic renames as before. Nothing is created next to the store.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from rotator.errors import LockTimeout
from rotator.fsutil import make_dirs
from rotator.lock import flock_within


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
def held(directory: Path, timeout: float, poll: float = 0.05) -> Iterator[None]:
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
