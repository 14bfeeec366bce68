"""Finding every JDK's ``cacerts`` on a host.

Where to look is passed in (``$JAVA_HOME``, ``$PATH``, the JVM directories), never read from
globals, so tests point discovery at a tree of their own. Results are de-duplicated by the
real path of the file: Debian links every JDK's cacerts to /etc/ssl/certs/java/cacerts, which
must be one store, written once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from rotator.records import NamedTuple

DEFAULT_JVM_DIRS = ("/usr/lib/jvm",)
CACERTS_LAYOUTS = (("lib", "security", "cacerts"), ("jre", "lib", "security", "cacerts"))  # JDK 9+, JDK 8


class FoundCacerts:
    def __init__(self, path: Path) -> None:
        self.path = path  # the real file (links resolved): what gets written
        self.jdks: dict[Path, list[str]] = {}  # JDK home -> how it was found

    def describe(self) -> str:
        return ", ".join(f"{home} ({', '.join(hows)})" if hows else str(home) for home, hows in self.jdks.items())


class Discovery(NamedTuple):
    found: list[FoundCacerts]
    looked: list[str]  # where it looked, for the "none found" error
    # $JAVA_HOME set but naming no JDK with a cacerts: the user meant that JDK, so patching whatever
    # else was found would update the wrong one in silence.
    java_home_problem: str = ""


def resolve_in(root: Path | None, path: Path) -> Path:
    """``path`` with every link resolved; inside an image tree (``root``), links stay inside it."""
    if root is None:
        return Path(os.path.realpath(path))
    parts = list(PurePosixPath(path).parts[1:])
    resolved = PurePosixPath("/")
    hops = 0
    while parts:
        part = parts.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            resolved = resolved.parent
            continue
        candidate = resolved / part
        on_disk = root / candidate.relative_to("/")
        if on_disk.is_symlink() and hops < 40:
            hops += 1
            target = PurePosixPath(os.readlink(on_disk))
            if target.is_absolute():
                resolved = PurePosixPath("/")
                parts = list(target.parts[1:]) + parts
            else:
                parts = list(target.parts) + parts
        else:
            resolved = candidate
    return root / resolved.relative_to("/")


def java_on_path(path_env: str | None) -> Path | None:
    for directory in (path_env or "").split(os.pathsep):
        if not directory or not os.path.isabs(directory):
            continue  # a relative PATH entry depends on the working directory: ignore it
        candidate = Path(directory) / "java"
        try:
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
        except OSError:
            continue  # an entry this user cannot search (/root/.cargo/bin under runuser): as a shell does
    return None


def discover(
    *,
    java_home: str | None,
    path_env: str | None,
    jvm_dirs: Sequence[Path],
    root: Path | None = None,
) -> Discovery:
    """Every distinct cacerts file, with the JDKs that use it, in the order they were found."""
    homes: list[tuple[Path, str]] = []
    looked: list[str] = []
    if root is None:
        # In an image tree, the host's JAVA_HOME and PATH say nothing about the image.
        if java_home:
            homes.append((Path(java_home), "$JAVA_HOME"))
            looked.append(f"$JAVA_HOME={java_home}")
        else:
            looked.append("$JAVA_HOME (unset)")
        java = java_on_path(path_env)
        if java is not None:
            real = resolve_in(None, java)
            home = real.parent.parent
            homes.append((home, f"java on PATH ({java} -> {real})"))
            looked.append(f"java on PATH ({java})")
        else:
            looked.append("java on PATH (none)")
    for jvm_dir in jvm_dirs:
        on_disk = root / jvm_dir.relative_to("/") if root is not None and jvm_dir.is_absolute() else jvm_dir
        looked.append(str(on_disk))
        try:
            children = sorted(p for p in on_disk.iterdir() if p.is_dir())
        except OSError:
            continue
        homes.extend((child if root is None else Path("/") / child.relative_to(root), "") for child in children)

    by_real: dict[Path, FoundCacerts] = {}
    java_home_found = False
    for home, how in homes:
        # The same JDK reached several ways ($JAVA_HOME, PATH, a versioned link in /usr/lib/jvm) is one JDK.
        try:
            real_home = resolve_in(root, home)
        except OSError:
            continue
        shown = real_home if root is None else Path("/") / real_home.relative_to(root)
        for layout in CACERTS_LAYOUTS:
            try:
                real = resolve_in(root, home.joinpath(*layout))
                if not real.is_file():
                    continue
            except OSError:
                continue  # a JDK this user cannot look into is not one it can update
            if how == "$JAVA_HOME":
                java_home_found = True
            hows = by_real.setdefault(real, FoundCacerts(path=real)).jdks.setdefault(shown, [])
            if how and how not in hows:
                hows.append(how)
            break  # one cacerts per JDK: the JDK 9+ layout wins over a nested JRE
    problem = ""
    if root is None and java_home and not java_home_found:
        if not Path(java_home).is_dir():
            problem = f"$JAVA_HOME={java_home} is not a directory"
        else:
            problem = f"$JAVA_HOME={java_home} holds no lib/security/cacerts (nor jre/lib/security/cacerts)"
    return Discovery(found=list(by_real.values()), looked=looked, java_home_problem=problem)
