"""One bounded walk of the places trust stores hide, noting the names that mark one.

It never follows a link to a directory (no loops, no leaving the tree), never enters a pseudo or
network file system, stops at a deadline, and names each directory it could not list. Per entry it
does one name comparison: the walk must cost little more than ``find`` over the same tree.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
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


@dataclass
class Hits:
    """What the walk saw, as paths on this machine."""

    cacerts: list[str] = field(default_factory=list)  # .../lib/security/cacerts
    certifi: list[str] = field(default_factory=list)  # .../certifi/cacert.pem
    node: list[str] = field(default_factory=list)  # .../bin/node
    nss: list[str] = field(default_factory=list)  # .../cert9.db
    openssl_libs: list[str] = field(default_factory=list)  # .../<wheel>.libs/libcrypto-*.so*
    unreadable: list[Unreadable] = field(default_factory=list)
    skipped_mounts: list[str] = field(default_factory=list)
    entries: int = 0
    incomplete: str = ""  # why the walk stopped early, if it did


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


def walk(roots: list[str], *, deadline: float, skip: frozenset[str], max_entries: int = 5_000_000) -> Hits:
    hits = Hits()
    stack = list(reversed(roots))
    seen = 0
    while stack:
        directory = stack.pop()
        if time.monotonic() > deadline:
            hits.incomplete = f"stopped at the time limit before {directory}"
            break
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    seen += 1
                    name = entry.name
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        continue
                    if is_dir:
                        if entry.path in skip:
                            hits.skipped_mounts.append(entry.path)
                        else:
                            stack.append(entry.path)
                    elif name == "cacerts":
                        if directory.endswith("/lib/security"):
                            hits.cacerts.append(entry.path)
                    elif name == "cacert.pem":
                        if directory.endswith("/certifi"):
                            hits.certifi.append(entry.path)
                    elif name == "node" or name == "nodejs":
                        if directory.endswith("/bin"):
                            hits.node.append(entry.path)
                    elif name == "cert9.db":
                        hits.nss.append(entry.path)
                    elif name.startswith("libcrypto") and directory.endswith(".libs"):
                        hits.openssl_libs.append(entry.path)  # auditwheel's folder of vendored libraries
        except OSError as exc:
            hits.unreadable.append(Unreadable(directory, f"cannot list: {read_problem(exc)}"))
        if seen > max_entries:
            hits.incomplete = f"stopped after {max_entries} entries"
            break
    hits.entries = seen
    return hits
