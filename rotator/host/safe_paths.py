"""Who may change the files that tell rotator what to do: the rule sshd (StrictModes) and sudo apply.

rotator runs as root and its config names commands to run, password files and roots to trust.
Anyone who can change such a file, or rename things in a directory above it, can run code as
root or read keystore passwords. So a file rotator takes instructions or secrets from, and every
directory from / down to it, must be owned by root or the user running rotator, must not be
writable by other users, and may be group-writable only for root's group. A sticky directory
writable by all (/tmp) passes: only an entry's owner may rename or remove the entry, so what
matters there is the entry itself. Symbolic links on the way are followed as the kernel does,
and each must be owned by root or the user running rotator.

Stdlib only and no work at import: this module is loaded on every run.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from collections.abc import Iterable, Mapping, Sequence

from rotator.errors import ConfigError
from rotator.records import NamedTuple

MAX_LINKS = 40  # the kernel's limit on links followed in one path lookup (ELOOP)
ROOT_GID = 0


class Finding(NamedTuple):
    """One path component that fails the rule, said so a user can fix it."""

    path: str
    kind: str  # "file", "directory" or "link"
    owner: str  # user:group
    mode: int
    problem: str  # "is writable by every user"
    fix: str  # "chmod go-w /srv/x"

    def describe(self, what: str, named: os.PathLike[str] | str) -> str:
        """One line: ``config file F (owner u:g, mode 0666) is writable by every user; fix: chmod go-w F``."""
        facts = f"(owner {self.owner}, mode {self.mode:04o})"
        subject = f"{what} {os.fspath(named)}".lstrip()
        if self.path in (os.fspath(named), os.path.abspath(named)):
            return f"{subject} {facts} {self.problem}; fix: {self.fix}"
        return f"{subject}: {self.kind} {self.path} {facts} {self.problem}; fix: {self.fix}"


class UnsafeFile(ConfigError):
    """A file rotator would act on is open to change by other users: nothing was attempted."""


def require(path: os.PathLike[str] | str, what: str, uids: frozenset[int]) -> None:
    """Raise UnsafeFile, naming the component, its owner and mode, and the fix."""
    finding = check(path, uids)
    if finding is not None:
        raise UnsafeFile(finding.describe(what, path))


def require_program(argv: Sequence[str], environ: Mapping[str, str], what: str, uids: frozenset[int]) -> None:
    finding = check_program(argv, environ, uids)
    if finding is not None:
        raise UnsafeFile(finding.describe(what, argv[0]))


def trusted_uids() -> frozenset[int]:
    """Root and the user running rotator: the only owners whose files rotator acts on."""
    return frozenset({0, os.geteuid()})


def check(path: os.PathLike[str] | str, uids: frozenset[int], *, new_entries_matter: bool = False) -> Finding | None:
    """The first component of ``path`` (links followed) that others could change, or None.

    A path that does not exist (yet) is not this rule's business: its reader says "not found".
    ``new_entries_matter``: ``path`` is a directory searched for names (a PATH entry), so a
    sticky directory writable by all fails too: anyone could add a name there.
    """
    return _walk(os.fspath(path), uids, strict=True, new_entries_matter=new_entries_matter)


def untrusted_link(path: os.PathLike[str] | str, uids: frozenset[int]) -> Finding | None:
    """A symbolic link in ``path`` owned by someone else (a link planted in a shared directory).

    Like the kernel's protected_symlinks, but for every directory: a store may live anywhere,
    and rotator writing as root through another user's link would write wherever they chose.
    """
    return _walk(os.fspath(path), uids, strict=False, new_entries_matter=False)


def readable_by_others(path: os.PathLike[str] | str) -> str | None:
    """``mode 0644`` when every user can read the file (a password file should be 0600 or 0640)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"mode {stat.S_IMODE(st.st_mode):04o}" if st.st_mode & stat.S_IROTH else None


def find_program(name: str, search_path: str) -> tuple[str | None, list[str]]:
    """Where exec finds ``name`` (a hook's argv[0]) and every PATH directory searched on the way.

    Hooks run with the working directory /, so relative names and PATH entries are taken from /.
    """
    if "/" in name:
        return os.path.join(os.sep, name), []
    searched = []
    for entry in search_path.split(os.pathsep):
        directory = os.path.join(os.sep, entry or ".")
        searched.append(directory)
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate, searched
    return None, searched


def check_program(argv: Sequence[str], environ: Mapping[str, str], uids: frozenset[int]) -> Finding | None:
    """A hook's program and every PATH directory searched up to its own: a program planted in
    one of them under the same name would run instead of the one meant."""
    program, searched = find_program(argv[0], environ.get("PATH") or os.defpath)
    for directory in searched:
        finding = check(directory, uids, new_entries_matter=True)
        if finding is not None:
            return finding
    return check(program, uids) if program is not None else None


def _walk(path: str, uids: frozenset[int], *, strict: bool, new_entries_matter: bool) -> Finding | None:
    """Resolve ``path`` one component at a time as the kernel does, judging each step."""
    if not os.path.isabs(path):
        path = os.path.join(os.getcwd(), path)
    pending = _components(path)
    current = os.sep
    links = 0
    if strict:
        finding = _judge(current, os.lstat(current), uids, last=not pending, new_entries_matter=new_entries_matter)
        if finding is not None:
            return finding
    while pending:
        name = pending.pop()
        if name == "..":
            current = os.path.dirname(current)
            continue
        candidate = os.path.join(current, name)
        try:
            st = os.lstat(candidate)
        except OSError:
            return None  # missing or unreadable: the reader reports it in its own words
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > MAX_LINKS:
                return None  # a loop: the reader gets ELOOP
            if st.st_uid not in uids:
                problem = f"is a symbolic link owned by {_user(st.st_uid)}, {_not_trusted(uids)}: not followed"
                return _finding(
                    candidate, "link", st, problem, f"remove the link and name its target, or chown -h root {candidate}"
                )
            target = os.readlink(candidate)
            if os.path.isabs(target):
                current = os.sep
            pending.extend(_components(target))
            continue
        if strict:
            finding = _judge(candidate, st, uids, last=not pending, new_entries_matter=new_entries_matter)
            if finding is not None:
                return finding
        current = candidate
    return None


def _components(path: str) -> list[str]:
    """Path components in reverse, so the next one is ``pop()``; '.' and empty ones dropped."""
    return [part for part in reversed(path.split("/")) if part not in ("", ".")]


def _judge(
    path: str, st: os.stat_result, uids: frozenset[int], *, last: bool, new_entries_matter: bool
) -> Finding | None:
    kind = "directory" if stat.S_ISDIR(st.st_mode) else "file"
    problems: list[str] = []
    fixes: list[str] = []
    if st.st_uid not in uids:
        problems.append(f"is owned by {_user(st.st_uid)}, {_not_trusted(uids)}")
        fixes.append(f"chown root {path}")
    # Sticky: others may add names but not rename or remove ours; fine for a directory on
    # the way, not for one searched for names that anyone could add.
    sticky = kind == "directory" and bool(st.st_mode & stat.S_ISVTX) and not (last and new_entries_matter)
    chmod = f"chmod go-w {path}" + (" or take it out of PATH" if last and new_entries_matter else "")
    if not sticky and st.st_mode & stat.S_IWOTH:
        problems.append("is writable by every user")
        fixes.append(chmod)
    elif not sticky and st.st_mode & stat.S_IWGRP and st.st_gid != ROOT_GID:
        problems.append(f"is writable by group {_group(st.st_gid)}")
        fixes.append(chmod)
    if not problems:
        return None
    return _finding(path, kind, st, " and ".join(problems), " && ".join(fixes))


def _finding(path: str, kind: str, st: os.stat_result, problem: str, fix: str) -> Finding:
    owner = f"{_user(st.st_uid)}:{_group(st.st_gid)}"
    return Finding(path=path, kind=kind, owner=owner, mode=stat.S_IMODE(st.st_mode), problem=problem, fix=fix)


def _not_trusted(uids: Iterable[int]) -> str:
    others = sorted(uid for uid in uids if uid != 0)
    if not others:
        return "not root"
    return f"not root or {', '.join(_user(uid) for uid in others)} (running rotator)"


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
