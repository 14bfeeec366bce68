"""One bounded walk of the places trust stores hide, noting the names that mark one.

It never follows a link to a directory (no loops, no leaving the tree), never enters a pseudo or
network file system, stops at a deadline, and names each directory it could not list. A file costs
one name comparison unless its directory is one where stores sit: the walk must cost little more
than ``find`` over the same tree.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from rotator.host.files import read_problem
from rotator.scan.found import Unreadable

# File systems whose contents are no trust store (or would hang a walk: a dead NFS server).
SKIPPED_FS = frozenset(
    {
        "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "securityfs", "debugfs", "tracefs",
        "configfs", "fusectl", "mqueue", "hugetlbfs", "pstore", "bpf", "autofs", "binfmt_misc", "efivarfs",
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "ceph", "glusterfs", "9p", "virtiofs",
        "fuse.sshfs", "fuse.rclone", "fuse.s3fs", "fuse.gcsfuse", "fuse.glusterfs", "lustre", "gpfs",
    }
)  # fmt: skip
# Never walked wherever they appear as a start: the kernel's and systemd's runtime trees.
PSEUDO_TOP = ("proc", "sys", "dev", "run")


class Hits:
    """What the walk saw, as paths on this machine."""

    def __init__(self) -> None:
        self.cacerts: list[str] = []  # .../lib/security/cacerts
        self.certifi: list[str] = []  # .../certifi/cacert.pem
        self.node: list[str] = []  # .../bin/node
        self.nss: list[str] = []  # .../cert9.db
        self.openssl_libs: list[str] = []  # .../<wheel>.libs/libcrypto-*.so*
        self.unreadable: list[Unreadable] = []
        self.skipped_mounts: list[str] = []
        self.entries = 0
        self.incomplete = ""  # why the walk stopped early, if it did


def skipped_mounts(mountinfo: Path = Path("/proc/self/mountinfo")) -> frozenset[str]:
    """Mount points (paths on this machine) of the file systems a walk must not enter."""
    try:
        text = mountinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    out = set()
    for line in text.splitlines():
        # ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5 or not right:
            continue
        fstype = right.split()[0]
        if fstype in SKIPPED_FS:
            out.add(_unescape(fields[4]))
    return frozenset(out)


def _unescape(path: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        path = path.replace(code, char)
    return path


def starts(paths: list[Path]) -> list[str]:
    """The distinct existing directories to walk, none inside another."""
    real = sorted({os.path.normpath(p) for p in paths if p.is_dir() and not p.is_symlink()})
    out: list[str] = []
    for path in real:
        if not any(path == s or path.startswith(s.rstrip("/") + "/") for s in out):
            out.append(path)
    return out


_SPECIAL_DIRS = ("/lib/security", "/certifi", "/bin", ".libs")


def _match(directory: str, name: str, path: str, hits: Hits) -> None:
    """A file in a directory where stores sit: which store, if any."""
    if name == "cacerts" and directory.endswith("/lib/security"):
        hits.cacerts.append(path)
    elif name == "cacert.pem" and directory.endswith("/certifi"):
        hits.certifi.append(path)
    elif name in ("node", "nodejs") and directory.endswith("/bin"):
        hits.node.append(path)
    elif name.startswith("libcrypto") and directory.endswith(".libs"):
        hits.openssl_libs.append(path)  # auditwheel's folder of a wheel's vendored libraries


def walk(roots: list[str], *, deadline: float, skip: frozenset[str], max_entries: int = 5_000_000) -> Hits:
    hits = Hits()
    stack = list(reversed(roots))
    seen = 0
    while stack:
        directory = stack.pop()
        if time.monotonic() > deadline:
            hits.incomplete = f"stopped at the time limit before {directory}"
            break
        # Where a store can sit is known from the directory's name: decided once per directory, so
        # a file elsewhere costs one comparison (cert9.db may sit anywhere).
        special = directory.endswith(_SPECIAL_DIRS)
        try:
            with os.scandir(directory) as listing:
                entries = list(listing)  # one directory at a time: memory stays that of the largest
        except OSError as exc:
            hits.unreadable.append(Unreadable(directory, f"cannot list: {read_problem(exc)}"))
            continue
        seen += len(entries)
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if entry.path in skip:
                    hits.skipped_mounts.append(entry.path)
                else:
                    stack.append(entry.path)
            elif entry.name == "cert9.db":
                hits.nss.append(entry.path)
            elif special:
                _match(directory, entry.name, entry.path, hits)
        if seen > max_entries:
            hits.incomplete = f"stopped after {max_entries} entries"
            break
    hits.entries = seen
    return hits
