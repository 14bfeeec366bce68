"""File helpers: atomic replacement that keeps mode, owner and symlinks intact; reading a file
with one way of saying what is wrong with it (``read_file``)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from pathlib import Path

from rotator.errors import RotatorError, StoreError
from rotator.host import safe_paths as filesafety
from rotator.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import BinaryIO

TEMP_SUFFIX = ".rotator-tmp"


def real_target(path: Path) -> Path:
    """The file a write must land in: a symlinked store (Debian's JDK cacerts) is updated
    through its link, never by replacing the link with a regular file."""
    refuse_planted_link(path)
    return Path(os.path.realpath(path))


class SpecialFile(OSError):
    """A FIFO, device or socket where a regular file was expected: never opened for reading,
    since reading a FIFO with no writer blocks forever."""


def read_regular(path: Path | str, limit: int | None = None, *, known: bytes | None = None) -> bytes:
    """The bytes of a regular file (at most ``limit`` + 1 of them, so callers can tell "too big").

    Anything else is refused without blocking: the type is checked before opening, and again
    on the open descriptor (opened non-blocking) in case the name was swapped in between.
    ``known``: bytes the file is expected to hold (it was just written); when it does, they are
    returned instead of a second copy (a 50 MB bundle read back costs no other 50 MB).
    """
    kind = os.stat(path).st_mode
    if stat.S_ISDIR(kind):
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
    if not stat.S_ISREG(kind):
        raise SpecialFile(errno.EINVAL, "not a regular file (a FIFO, device or socket)", str(path))
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SpecialFile(errno.EINVAL, "not a regular file (a FIFO, device or socket)", str(path))
        if known is not None and limit is None:
            return _same_or_read(handle, known)
        return handle.read() if limit is None else handle.read(limit + 1)


def _same_or_read(handle: BinaryIO, known: bytes) -> bytes:
    """What ``handle`` holds from here on: ``known`` itself when it is the same bytes."""
    pos = 0
    while chunk := handle.read(1 << 20):
        if known[pos : pos + len(chunk)] != chunk:
            return known[:pos] + chunk + handle.read()
        pos += len(chunk)
    return known if pos == len(known) else known[:pos]


def refuse_planted_link(path: Path) -> None:
    """Follow links only when root or the user running rotator owns them: through a link another
    user planted, rotator would read or write wherever that user chose."""
    finding = filesafety.untrusted_link(path, filesafety.trusted_uids())
    if finding is not None:
        raise StoreError(finding.describe("", path))


def make_dirs(directory: Path, mode: int = 0o755) -> None:
    """``mkdir -p`` whose new directories get ``mode`` whatever the umask (0 would make them
    writable by all); existing ones are left as they are."""
    missing = []
    while not directory.exists() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    for new in reversed(missing):
        try:
            os.mkdir(new, mode)
        except FileExistsError:
            continue  # made meanwhile by another process: not ours to change
        os.chmod(new, mode)


def read_optional(path: Path, what: str, *, known: bytes | None = None) -> bytes | None:
    """A store's file, or None when it does not exist yet (``known``: see ``read_regular``)."""
    refuse_planted_link(path)
    return read_file_or_none(path, ReadAs(what), known=known)


# ---------------------------------------------------------------------------- reading, explained

TARGET_FIX = "point the target at a file"
OWNER_FIX = "run as its owner (sudo) or through the service"
_MIB = 1024 * 1024


def read_problem(exc: OSError) -> str:
    """What went wrong reading a file, in the words every message about a file uses."""
    if isinstance(exc, FileNotFoundError):
        return "not found"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a file"
    if isinstance(exc, SpecialFile):
        return "is not a regular file (a FIFO, device or socket)"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or str(exc)


class ReadAs(NamedTuple):
    """How the messages about one kind of file name it, what they raise and the next step they give."""

    what: str  # before the path: "config file", "password file"; "" for the path alone
    fix: str = TARGET_FIX  # the next step when the path names no readable file (of a sane size)
    error: type[RotatorError] = StoreError
    where: str = ""  # the flag or key the path came from, put first: "--chain-file"

    def refusal(self, path: Path | str, exc: OSError) -> RotatorError:
        named = f"{self.what} {path}" if self.what else str(path)
        problem = read_problem(exc)
        if isinstance(exc, PermissionError):
            return self._error(f"cannot read {named}: {problem}; {OWNER_FIX}")
        if isinstance(exc, FileNotFoundError | IsADirectoryError | SpecialFile):
            return self._error(f"{named} {problem}; {self.fix}")
        return self._error(f"cannot read {named}: {problem}; {self.fix}")

    def too_large(self, path: Path | str, limit: int) -> RotatorError:
        named = f"{self.what} {path}" if self.what else str(path)
        size = f"{limit // _MIB} MiB" if limit >= _MIB and limit % _MIB == 0 else f"{limit} bytes"
        return self._error(f"{named} is larger than {size}; {self.fix}")

    def _error(self, message: str) -> RotatorError:
        return self.error(f"{self.where}: {message}" if self.where else message)


def read_file(
    path: Path | str, read_as: ReadAs, *, limit: int | None = None, pipes: bool = False, known: bytes | None = None
) -> bytes:
    """The bytes of ``path``, or ``read_as.error`` with one line naming the file, what is wrong with
    it (not found, a directory, not a regular file, permission denied, larger than ``limit``) and
    the next step. Every reader of a file goes through here, so each says it the same way.

    ``pipes``: a FIFO or device is read like a file, for a path the user names on purpose
    (``--chain-file <(openssl s_client ...)``); otherwise it is refused without being opened
    (``read_regular``), as a file rotator keeps or writes must never block a run.
    """
    data = _read(path, read_as, limit, pipes, known, missing_ok=False)
    assert data is not None
    return data


def read_file_or_none(
    path: Path | str, read_as: ReadAs, *, limit: int | None = None, pipes: bool = False, known: bytes | None = None
) -> bytes | None:
    """As ``read_file``, but None when ``path`` does not exist (a file not made yet)."""
    return _read(path, read_as, limit, pipes, known, missing_ok=True)


def _read(
    path: Path | str, read_as: ReadAs, limit: int | None, pipes: bool, known: bytes | None, *, missing_ok: bool
) -> bytes | None:
    try:
        if pipes:
            with open(path, "rb") as handle:
                data = handle.read() if limit is None else handle.read(limit + 1)
        else:
            data = read_regular(path, limit, known=known)
    except FileNotFoundError as exc:
        if missing_ok:
            return None
        raise read_as.refusal(path, exc) from exc
    except OSError as exc:
        raise read_as.refusal(path, exc) from exc
    if limit is not None and len(data) > limit:
        raise read_as.too_large(path, limit)
    return data


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so readers see either the old or the new file, never half.

    Writes a temp file in the same directory, fsyncs it, renames it over the target and
    fsyncs the directory. An existing file keeps its mode and owner; a new one gets ``mode``.
    """
    target = real_target(path)
    directory = target.parent
    try:
        make_dirs(directory)
    except OSError as exc:
        raise _write_error(directory, exc) from exc
    try:
        current = os.stat(target)
    except FileNotFoundError:
        current = None
    except OSError as exc:
        raise _write_error(target, exc) from exc
    if current is not None and not _is_regular(current.st_mode):
        raise StoreError(f"{target} is not a regular file; point the target at a file")
    _remove_stale_temps(directory, target.name)
    try:
        fd, tmp_name = _create_temp(directory, target.name)
    except OSError as exc:
        raise _write_error(directory, exc) from exc
    # Locked for as long as it is ours: another run (another state directory, another user) only
    # removes a temp file whose lock it can take, that is, one whose writer is gone.
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with os.fdopen(fd, "wb", closefd=False) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if current is not None:
            _keep_owner_and_mode(tmp_name, target, current)
        else:
            os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise _write_error(target, exc) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    finally:
        os.close(fd)
    fsync_dir(directory)


def _keep_owner_and_mode(tmp_name: str, target: Path, current: os.stat_result) -> None:
    """The replacement gets the file's owner, group and mode, or the write is refused: a store
    silently changing hands (root's 0444 bundle becoming the writer's) is worse than no write."""
    if (current.st_uid, current.st_gid) != (os.geteuid(), os.getegid()):
        try:
            os.chown(tmp_name, current.st_uid, current.st_gid)
        except PermissionError as exc:
            raise StoreError(
                f"cannot write {target} keeping its owner {current.st_uid}:{current.st_gid} (this run is "
                f"{os.geteuid()}:{os.getegid()}); run as its owner or as root; the file was left untouched"
            ) from exc
    os.chmod(tmp_name, current.st_mode & 0o7777)


def _create_temp(directory: Path, name: str) -> tuple[int, str]:
    """A new file ``.<name>.<random>.rotator-tmp`` only this process can have opened, like
    ``tempfile.mkstemp`` (which loads random and shutil: more than a no-op run's whole work)."""
    for _ in range(100):
        path = os.path.join(directory, f".{name}.{os.urandom(6).hex()}{TEMP_SUFFIX}")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue
        return fd, path
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(directory))


def _remove_stale_temps(directory: Path, name: str) -> None:
    """Temp files a killed run left for this target: those whose lock nobody holds any more.
    Their suffix keeps refresh tools (``*.crt`` only) and ``openssl rehash`` from reading them."""
    # A listing and two string tests rather than a glob: pathlib's compiles a pattern per name,
    # which cost a no-op run more than the rest of its state write.
    prefix = f".{name}."
    try:
        with os.scandir(directory) as listing:
            names = [e.name for e in listing if e.name.startswith(prefix) and e.name.endswith(TEMP_SUFFIX)]
    except OSError:
        return
    for stale_name in names:
        if len(stale_name) < len(prefix) + len(TEMP_SUFFIX):
            continue  # the prefix and suffix overlap: not a name _create_temp makes
        stale = os.path.join(directory, stale_name)
        try:
            fd = os.open(stale, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                continue
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # its writer is still at work
        else:
            with contextlib.suppress(OSError):
                os.unlink(stale)
        finally:
            os.close(fd)


def remove_file(path: Path) -> None:
    """Remove one file and make the removal durable."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _write_error(path, exc) from exc
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename is still atomic
    finally:
        os.close(fd)


def _is_regular(st_mode: int) -> bool:
    return stat.S_ISREG(st_mode)


def _write_error(path: Path, exc: OSError) -> StoreError:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return StoreError(f"cannot write {path}: permission denied; run with sudo or through the rotator service")
    if exc.errno == errno.EROFS:
        return StoreError(f"cannot write {path}: read-only file system; point the target at a writable path")
    if exc.errno == errno.ENOSPC:
        return StoreError(f"cannot write {path}: no space left on device; free space and run again")
    return StoreError(f"cannot write {path}: {exc.strerror or exc}")
