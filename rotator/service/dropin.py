"""The systemd service's sandbox, derived from the config.

The units allow writes only where OS and JDK trust stores live (``ProtectSystem=strict``). What a
config adds (a bundle in /etc/azure, a keystore next to an application, a pem-dir, the metrics
file) goes into one generated drop-in that both units read, so nobody hand-writes
``ReadWritePaths=``. The daemon checks at start that it can write every such directory, and says
which command fixes it when it cannot, instead of failing every cycle.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rotator.config.file import Config
from rotator.errors import ConfigError
from rotator.host.files import atomic_write
from stores.kinds import written_dirs

UNITS = ("rotator.service", "rotator-sync.service")
DROPIN_NAME = "rotator-sandbox.conf"
CREDSTORE = Path("/etc/credstore")
DROPIN_COMMAND = "rotator service dropin"


@dataclass(frozen=True)
class Sandbox:
    """What one config needs from the units beyond what they allow themselves."""

    writable: tuple[Path, ...]  # directories, absolute, each once
    credentials: tuple[str, ...]  # storepass_credential names


def sandbox_for(config: Config) -> Sandbox:
    specs = config.targets
    dirs: list[Path] = []
    for spec in specs:
        dirs.extend(written_dirs(spec))
    # A state or cache directory outside systemd's own (StateDirectory=, CacheDirectory=).
    dirs += [d for d in (config.state_dir, config.cache_dir) if d is not None]
    if config.metrics_file is not None:
        dirs.append(config.metrics_file.parent)
    names = []
    for spec in specs:
        name = spec.option("storepass_credential")
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    return Sandbox(writable=_unique(Path(os.path.abspath(d)) for d in dirs), credentials=tuple(names))


def _unique(paths: Iterable[Path]) -> tuple[Path, ...]:
    return tuple(dict.fromkeys(paths))


def render_dropin(sandbox: Sandbox, source: Path | None) -> str:
    origin = f"from {source}" if source else "from the default config"
    lines = [
        f"# Written by `{DROPIN_COMMAND}` {origin}; run it again after changing the targets.",
        "# Read by rotator.service and rotator-sync.service (the latter through a link).",
        "[Service]",
    ]
    for directory in sandbox.writable:
        # "-": a directory removed later must not keep the unit from starting (status=226/NAMESPACE);
        # the daemon's start-up check names it instead.
        lines.append(f"ReadWritePaths=-{_escape(str(directory))}")
    for name in sandbox.credentials:
        lines.append(f"LoadCredential={name}:{CREDSTORE / name}")
    return "\n".join(lines) + "\n"


def _escape(path: str) -> str:
    # systemd unit syntax: spaces separate paths, backslashes escape, % starts a specifier.
    return path.replace("\\", "\\\\").replace(" ", "\\x20").replace("%", "%%")


@dataclass(frozen=True)
class Installed:
    dropin: Path
    links: tuple[Path, ...]
    created: tuple[Path, ...]  # target directories that did not exist
    missing_credentials: tuple[Path, ...]
    changed: bool = True  # False: the drop-in, its links and the directories were all there already


def install_dropin(sandbox: Sandbox, source: Path | None, unit_dir: Path) -> Installed:
    """Write the drop-in for rotator.service, link it for rotator-sync.service, and create the
    directories it names (a path that does not exist cannot be made writable by the sandbox, and
    rotator cannot create it from inside)."""
    created = []
    for directory in sandbox.writable:
        if not directory.is_dir():
            try:
                directory.mkdir(parents=True, mode=0o755)
            except OSError as exc:
                raise ConfigError(f"cannot create {directory} for a target: {exc.strerror}; run as root") from exc
            created.append(directory)
    others = UNITS[1:]
    dropin = dropin_path(unit_dir)
    text = render_dropin(sandbox, source).encode("utf-8")
    changed = bool(created)
    try:
        dropin.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        # The same bytes are not written again: a second install reports nothing changed.
        if dropin.is_symlink() or not dropin.is_file() or dropin.read_bytes() != text:
            atomic_write(dropin, text, mode=0o644)
            changed = True
        links = []
        for unit in others:
            link = unit_dir / f"{unit}.d" / DROPIN_NAME
            link.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            relative = Path("..") / dropin.parent.name / DROPIN_NAME
            if not (link.is_symlink() and Path(os.readlink(link)) == relative):
                tmp = link.with_name(f".{DROPIN_NAME}.tmp")
                tmp.unlink(missing_ok=True)
                tmp.symlink_to(relative)
                tmp.replace(link)
                changed = True
            links.append(link)
    except OSError as exc:
        raise ConfigError(f"cannot write the drop-in under {unit_dir}: {exc.strerror}; run as root") from exc
    missing = tuple(CREDSTORE / n for n in sandbox.credentials if not (CREDSTORE / n).is_file())
    return Installed(dropin, tuple(links), tuple(created), missing, changed)


def dropin_path(unit_dir: Path) -> Path:
    return unit_dir / f"{UNITS[0]}.d" / DROPIN_NAME


def pending(sandbox: Sandbox, source: Path | None, unit_dir: Path) -> bool:
    """Whether install_dropin would change anything: for a dry run, which writes nothing."""
    dropin = dropin_path(unit_dir)
    text = render_dropin(sandbox, source).encode("utf-8")
    if dropin.is_symlink() or not dropin.is_file() or dropin.read_bytes() != text:
        return True
    relative = Path("..") / dropin.parent.name / DROPIN_NAME
    for unit in UNITS[1:]:
        link = unit_dir / f"{unit}.d" / DROPIN_NAME
        if not (link.is_symlink() and Path(os.readlink(link)) == relative):
            return True
    return any(not d.is_dir() for d in sandbox.writable)


def check_writable(sandbox: Sandbox) -> None:
    """Raise a ConfigError naming the first directory this process cannot write into."""
    for directory in sandbox.writable:
        problem = _write_problem(directory)
        if problem:
            raise ConfigError(
                f"cannot write {directory} ({problem}), where a target or the metrics file lives; "
                f"under systemd, run `sudo {DROPIN_COMMAND}`, then `systemctl daemon-reload` and restart the service"
            )


def _write_problem(directory: Path) -> str | None:
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    # access() checks the real uid (the daemon's: it never changes uid) and a read-only mount.
    if os.access(existing, os.W_OK | os.X_OK):
        return None
    try:
        read_only = bool(os.statvfs(existing).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    why = "read-only file system" if read_only else "permission denied"
    return why if existing == directory else f"it does not exist, and {existing}: {why}"
