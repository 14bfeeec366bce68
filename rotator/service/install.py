"""`rotator service install`: the units and the example config this package carries, written where
systemd and the service read them.

The units name ``/opt/rotator/bin/rotator`` (the venv docs/service.md sets up). Installed, their
``ExecStart=`` names the rotator that runs the install instead, so a wheel installed anywhere else
(another venv, pipx, a distribution's package) gets units that start it. A unit that differs from
what this package would write is somebody's edit or another version's: it is replaced only with
``--force``. The config is written only when absent: it is the administrator's from then on.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from rotator.errors import ConfigError
from rotator.host.files import atomic_write

SHIPPED = Path(__file__).parent.parent / "data" / "systemd"
UNIT_FILES = ("rotator.service", "rotator-sync.service", "rotator-sync.timer")
EXAMPLE_FILE = "rotator.toml.example"
CONFIG_NAME = "rotator.toml"
DEFAULT_UNIT_DIR = Path("/etc/systemd/system")
DEFAULT_CONFIG_DIR = Path("/etc/rotator")
SHIPPED_COMMAND = "/opt/rotator/bin/rotator"
SHIPPED_CONFIG = "/etc/rotator/rotator.toml"
# What the units hide from the service: ProtectHome= (/home, /root, /run/user), PrivateTmp= (/tmp, /var/tmp).
HIDDEN = tuple(Path(p) for p in ("/home", "/root", "/run/user", "/tmp", "/var/tmp"))  # noqa: S108 (names, not files)
# A word systemd reads as written in ExecStart= (no quoting, no specifiers, no escapes).
_PLAIN = re.compile(r"[A-Za-z0-9/._+@-]+")

WRITE, REPLACE, UNCHANGED, KEEP = "write", "replace", "unchanged", "keep"


def shipped(name: str) -> str:
    # Read as a plain file, as the embedded roots are: importlib.resources costs more than the read.
    return (SHIPPED / name).read_text(encoding="utf-8")


def example_config() -> str:
    return shipped(EXAMPLE_FILE)


def running_command(argv0: str, executable: str) -> Path:
    """The rotator command this process runs as, for the units' ExecStart=: the script started
    (links resolved: /usr/local/bin/rotator is the venv's), else the one beside the interpreter
    (``python -m rotator``)."""
    if Path(argv0).name == "rotator" and os.path.isfile(argv0):
        command = Path(os.path.realpath(argv0))
    else:
        beside = Path(executable).parent / "rotator"
        if not beside.is_file():
            raise ConfigError(
                f"cannot find the rotator command of {executable} (no {beside}); "
                "run the installed command's `rotator service install` (e.g. /opt/rotator/bin/rotator)"
            )
        command = Path(os.path.abspath(beside))
    for hidden in HIDDEN:
        if command.is_relative_to(hidden):
            raise ConfigError(
                f"{command} is under {hidden}, which the units hide from the service (ProtectHome=, "
                "PrivateTmp=); install rotator into /opt/rotator (docs/service.md) and run its `service install`"
            )
    return command


def _unit_word(path: Path, what: str) -> str:
    text = str(path)
    if not _PLAIN.fullmatch(text):
        raise ConfigError(
            f"{what} {text}: a unit's ExecStart= cannot name it as written (spaces or special characters); "
            "use a plain path such as /opt/rotator"
        )
    return text


def render_unit(name: str, command: Path, config: Path) -> str:
    """The shipped unit, its ExecStart= naming ``command`` and ``config``."""
    run_as = _unit_word(command, "the rotator command")
    config_word = _unit_word(config, "the config file")
    lines = []
    for line in shipped(name).splitlines(keepends=True):
        if line.startswith("ExecStart="):
            line = line.replace(SHIPPED_COMMAND, run_as, 1).replace(
                f"--config {SHIPPED_CONFIG}", f"--config {config_word}"
            )
        lines.append(line)
    return "".join(lines)


@dataclass(frozen=True)
class Step:
    path: Path
    action: str  # WRITE, REPLACE, UNCHANGED or KEEP (an existing config)
    text: str  # what is (or would be) there afterwards


@dataclass(frozen=True)
class Plan:
    units: tuple[Step, ...]
    config: Step
    command: Path

    @property
    def fresh_config(self) -> bool:
        return self.config.action == WRITE


def plan(unit_dir: Path, config_dir: Path, command: Path, *, force: bool) -> Plan:
    """What an install would write; raises naming every unit that differs when not ``force``."""
    config = config_dir / CONFIG_NAME
    units = []
    for name in UNIT_FILES:
        path = unit_dir / name
        wanted = render_unit(name, command, config)
        present = _read(path)
        if present is None:
            action = WRITE
        elif present == wanted:
            action = UNCHANGED
        else:
            action = REPLACE
        units.append(Step(path, action, wanted))
    differing = [s.path for s in units if s.action == REPLACE]
    if differing and not force:
        more = f" (and {len(differing) - 1} more)" if len(differing) > 1 else ""
        raise ConfigError(f"{differing[0]}{more}: not what rotator installs; --force replaces it")
    present_config = _read(config)
    if present_config is None:
        config_step = Step(config, WRITE, example_config())
    else:
        config_step = Step(config, KEEP, present_config)
    return Plan(units=tuple(units), config=config_step, command=command)


def _read(path: Path) -> str | None:
    if not os.path.lexists(path):
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read {path} ({why}); move it aside or run as root") from exc


def apply(install: Plan) -> None:
    for step in install.units:
        if step.action in (WRITE, REPLACE):
            atomic_write(step.path, step.text.encode("utf-8"), mode=0o644)
    if install.config.action == WRITE:
        # Never over an existing file, even one that appeared since the plan: O_EXCL.
        path = install.config.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return
        except OSError as exc:
            raise ConfigError(f"cannot write {path}: {exc.strerror}; run as root") from exc
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(install.config.text)
            out.flush()
            os.fsync(out.fileno())
