"""The two locks a writing run holds, both waited for in one bounded way (``flock_within``).

The run lock: one per state directory, so a manual run and the daemon never write at the same time.

The store lock: one per directory that holds a store. Two runs with different state directories
(the service and a manual run with --state-dir) would otherwise both read a store, plan, and write:
the second would add what the first had just added. Every rotator run that writes a store takes
this lock for the whole read, plan, write and read-back, whatever its state directory. Readers that
are not rotator (openssl, Java) take no lock and see the atomic renames as before.

Where the locks live. ``flock`` needs only a descriptor, and any user who can open a file (or a
directory) read-only can hold an exclusive lock on it for as long as they like. A lock that root
takes on a shared path (the store's directory, a 0644 file) can therefore be held by anyone, and
every later sync would wait for it and fail: a trust update stoppable by an unprivileged user. So
both locks are files of rotator's own, 0600, in one lock directory (``default_lock_dir``: the
``locks`` directory next to the default state directory, 0700) that only the running user can
write or enter, named by the SHA-256 of the resolved path they stand for. Nothing is created next
to a store, and nothing is locked that another user can open. A lock directory that is a link,
someone else's, or writable by others is refused. The price: runs of different users no longer
exclude each other on one store; a store that another user may write can be changed under a run
by that user anyway, lock or not.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from rotator.errors import LockTimeout, RotatorError
from rotator.host import safe_paths
from rotator.host.files import make_dirs
from rotator.progress import Progress, silent

LOCK_DIR_NAME = "locks"
LOCK_DIR_ENV = "ROTATOR_LOCK_DIR"
# The run lock of earlier versions, 0644 in the state directory: anyone could open and hold it.
OLD_RUN_LOCK = "rotator.lock"
_FILE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def default_lock_dir(environ: Mapping[str, str], is_root: bool) -> Path:
    """``$ROTATOR_LOCK_DIR``, else ``locks`` in the default state directory (/var/lib/rotator/locks
    for root). Never derived from --state-dir: runs with different state directories must meet on
    the same store locks."""
    from rotator.sync.state_dir import default_state_dir

    explicit = environ.get(LOCK_DIR_ENV)
    if explicit:
        return Path(os.path.expanduser(explicit))
    return default_state_dir(environ, is_root) / LOCK_DIR_NAME


def run_lock_path(lock_dir: Path, state_dir: Path) -> Path:
    return lock_dir / f"run-{_key(state_dir)}.lock"


def store_lock_path(lock_dir: Path, directory: Path) -> Path:
    return lock_dir / f"store-{_key(directory)}.lock"


def _key(path: Path) -> str:
    return hashlib.sha256(os.fsencode(os.path.realpath(path))).hexdigest()


@contextlib.contextmanager
def run_lock(
    lock_dir: Path,
    state_dir: Path,
    timeout: float,
    poll: float = 0.05,
    on_wait: Progress = silent,
) -> Iterator[None]:
    """Hold the state directory's lock for the block; wait at most ``timeout`` seconds (0: not at
    all), then say who holds it.

    ``on_wait`` hears once that the run is waiting, and for whom, so a wait is never silent.
    """
    try:
        make_dirs(state_dir)  # first, so that its resolved path (the lock's name) stays what it is
    except OSError as exc:
        raise RotatorError(
            f"cannot create the state directory {state_dir}: {exc.strerror}; pass a writable --state-dir"
        ) from exc
    path = run_lock_path(lock_dir, state_dir)
    with _held(
        path,
        timeout,
        poll,
        timed_out=lambda holder: LockTimeout(
            f"another rotator run ({holder}) has held the lock of {state_dir} ({path}) for over {timeout:g}s; "
            "wait for it to finish or stop it"
        ),
        first_wait=lambda holder: on_wait(
            f"waiting up to {timeout:g}s for the lock of {state_dir} ({path}) held by {holder}"
        ),
    ):
        _retire_old_run_lock(state_dir)
        yield


@contextlib.contextmanager
def store_lock(lock_dir: Path, directory: Path, timeout: float, poll: float = 0.05) -> Iterator[None]:
    """Hold the lock standing for the store directory ``directory`` (which need not exist yet)."""
    path = store_lock_path(lock_dir, directory)
    with _held(
        path,
        timeout,
        poll,
        timed_out=lambda holder: LockTimeout(
            f"another rotator run ({holder}) has been writing a store in {directory} for over {timeout:g}s "
            f"(lock {path}); wait for it to finish or stop it"
        ),
    ):
        yield


@contextlib.contextmanager
def _held(
    path: Path,
    timeout: float,
    poll: float,
    *,
    timed_out: Callable[[str], LockTimeout],
    first_wait: Callable[[str], None] = lambda holder: None,
) -> Iterator[None]:
    fd = open_lock_file(path)
    try:
        flock_within(
            fd,
            timeout,
            poll,
            timed_out=lambda: timed_out(_holder(fd)),
            first_wait=lambda: first_wait(_holder(fd)),
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
    """Open (or create, 0600) the lock file ``path`` in its private directory (see ``open_lock_dir``).

    Opened relative to the directory checked, so nothing can be swapped in between; never through
    a link (a run would otherwise truncate whatever it points at), and only a regular file of the
    running user's.
    """
    dir_fd = open_lock_dir(path.parent)
    try:
        try:
            fd = os.open(path.name, _FILE_FLAGS, 0o600, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise RotatorError(f"{path} is a symbolic link, which rotator never follows; remove it") from exc
            raise RotatorError(f"cannot create the lock {path}: {exc.strerror}; pass a writable --lock-dir") from exc
    finally:
        os.close(dir_fd)
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = f"{path} is not a regular file; remove it and run again"
    elif info.st_uid != os.geteuid():
        problem = f"the lock {path} is owned by {_user(info.st_uid)}, not the user running rotator; remove it"
    if problem is not None:
        os.close(fd)
        raise RotatorError(problem)
    if stat.S_IMODE(info.st_mode) != 0o600:
        os.fchmod(fd, 0o600)  # whatever the umask
    return fd


def open_lock_dir(directory: Path) -> int:
    """The lock directory, made 0700 if missing, opened without following a link: a descriptor
    for the lock files' ``openat``. Refused when another user could change it or what leads to it.
    """
    try:
        make_dirs(directory.parent)
        made = False
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, 0o700)
            made = True
        fd = os.open(directory, _DIR_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(directory):
            raise RotatorError(
                f"lock directory {directory} is a symbolic link, which rotator never follows; "
                "remove it (rotator makes the directory itself, mode 0700) or pass --lock-dir"
            ) from exc
        if exc.errno == errno.ENOTDIR:
            raise RotatorError(f"lock directory {directory} is not a directory; remove it or pass --lock-dir") from exc
        raise RotatorError(
            f"cannot create the lock directory {directory}: {exc.strerror}; pass a writable --lock-dir"
        ) from exc
    try:
        if made:
            os.fchmod(fd, 0o700)  # whatever the umask
        _check_lock_dir(directory, os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_lock_dir(directory: Path, info: os.stat_result) -> None:
    facts = f"(owner {_user(info.st_uid)}:{_group(info.st_gid)}, mode {stat.S_IMODE(info.st_mode):04o})"
    if info.st_uid != os.geteuid():
        raise RotatorError(
            f"lock directory {directory} {facts} is not the running user's: its owner could hold rotator's locks; "
            f"fix: remove it (rotator makes it again, mode 0700) or pass --lock-dir"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise RotatorError(
            f"lock directory {directory} {facts} is writable by other users, who could hold rotator's locks; "
            f"fix: chmod 0700 {directory}"
        )
    # What leads to it: whoever may rename a directory on the way could put their own in its place.
    finding = safe_paths.check(directory.parent, safe_paths.trusted_uids())
    if finding is not None:
        raise RotatorError(finding.describe("lock directory", directory))


def _retire_old_run_lock(state_dir: Path) -> None:
    """Remove an earlier version's ``rotator.lock`` (0644: anyone could hold it); no run locks it
    any more. Only a regular file of the running user's: a link or another user's file is not
    rotator's to remove, and is harmless now that nothing opens it."""
    old = state_dir / OLD_RUN_LOCK
    with contextlib.suppress(OSError):
        info = os.lstat(old)
        if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid():
            os.unlink(old)


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode().strip()
    except OSError:
        text = ""
    return f"pid {text}" if text.isdigit() else "unknown pid"


def _user(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
