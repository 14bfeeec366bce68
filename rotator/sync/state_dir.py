"""Where the state lives, without the state reader: a scan or a lock only asks where, and whether a
sync ever recorded anything there."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

FILE_NAME = "state.json"


def default_state_dir(environ: Mapping[str, str], is_root: bool) -> Path:
    """/var/lib/rotator for root, else the XDG state directory."""
    if is_root:
        return Path("/var/lib/rotator")
    base = environ.get("XDG_STATE_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "rotator"


def state_file(directory: Path) -> Path:
    """The state file of the state directory ``directory``."""
    return directory / FILE_NAME


def has_state(directory: Path) -> bool:
    """Whether a sync recorded anything in ``directory``."""
    return state_file(directory).exists()
