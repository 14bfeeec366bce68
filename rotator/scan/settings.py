"""Where the variables that point clients at a trust store are set, and what they say.

Read from systemd units (``Environment=``, ``EnvironmentFile=``, the JVM options on ``ExecStart=``,
drop-ins included), ``/etc/environment`` and ``/etc/default/*``, each a bounded read. Nothing is
run and no shell is involved: a value is what systemd or pam_env would hand the program.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from pathlib import Path

from rotator.errors import RotatorError
from rotator.host.files import ReadAs, read_file
from rotator.scan.found import Unreadable

# The variables that name a trust store, and how each client reads it.
STORE_VARIABLES: dict[str, str] = {
    "PGSSLROOTCERT": "libpq, psycopg, asyncpg: sslrootcert",
    "SSL_CERT_FILE": "OpenSSL's default file (Python ssl, curl, Ruby, Go)",
    "SSL_CERT_DIR": "OpenSSL's default directory",
    "REQUESTS_CA_BUNDLE": "requests",
    "CURL_CA_BUNDLE": "curl, requests",
    "NODE_EXTRA_CA_CERTS": "Node, added to its built-in roots",
}
JAVA_VARIABLES = ("JAVA_TOOL_OPTIONS", "JAVA_OPTS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS", "CATALINA_OPTS")
UNIT_DIRS = ("etc/systemd/system", "usr/lib/systemd/system", "lib/systemd/system", "usr/local/lib/systemd/system")
_SETTINGS_FILE = ReadAs("settings file", fix="scan reads what it can and names the rest")
_LIMIT = 1 << 20  # a unit or environment file larger than this is no unit


class Source:
    """One place that sets variables: a unit (with its drop-ins and env files) or an env file."""

    def __init__(self, name: str, file: str, values: dict[str, str] | None = None, *, unit: str = "") -> None:
        self.name = name  # "unit app.service", "/etc/environment"
        self.file = file  # the file it was read from, inside the sysroot
        self.values: dict[str, str] = dict(values or {})
        self.set_in: dict[str, str] = {}  # variable: the file that sets it, if not ``file``
        self.user = ""  # a unit's User=
        self.exec_start: list[str] = []  # a unit's ExecStart= command lines
        self.unit = unit  # the unit's name, for a drop-in fix


def parse_assignments(text: str, *, export_ok: bool) -> dict[str, str]:
    """KEY=value lines of an environment file (``export`` allowed in /etc/default files)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if export_ok and line.startswith("export "):
            line = line[len("export ") :].strip()
        key, sep, value = line.partition("=")
        if not sep or not key.replace("_", "a").isalnum():
            continue
        values[key] = _unquote(value.strip())
    return values


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _words(value: str) -> list[str]:
    try:
        return shlex.split(value)
    except ValueError:
        return value.split()


def java_properties(options: str) -> dict[str, str]:
    """The ``-Dname=value`` system properties in a JVM options string or command line."""
    out: dict[str, str] = {}
    for word in _words(options):
        if word.startswith("-D") and "=" in word:
            key, _, value = word[2:].partition("=")
            out[key] = value
    return out


def _read(root: Path, inside: str, unreadable: list[Unreadable]) -> str | None:
    try:
        return read_file(root / inside.lstrip("/"), _SETTINGS_FILE, limit=_LIMIT).decode("utf-8", "replace")
    except RotatorError as exc:
        if os.path.lexists(root / inside.lstrip("/")):
            unreadable.append(Unreadable(inside, str(exc).split(": ", 1)[-1]))
        return None


def _unit_files(root: Path) -> Iterator[tuple[str, list[str]]]:
    """(unit name, its files inside the root: the unit first, then drop-ins in name order)."""
    units: dict[str, list[str]] = {}
    drop_ins: dict[str, list[str]] = {}
    for top in UNIT_DIRS:
        base = root / top
        if not base.is_dir() or (base.is_symlink() and top == "lib/systemd/system"):
            continue  # /lib is /usr/lib on merged-/usr systems: read once
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue
        for name in names:
            path = base / name
            if name.endswith(".service") and path.is_file():
                units.setdefault(name, [f"/{top}/{name}"])  # the first directory wins, as in systemd
            elif name.endswith(".service.d") and path.is_dir():
                try:
                    confs = sorted(c for c in os.listdir(path) if c.endswith(".conf"))
                except OSError:
                    continue
                drop_ins.setdefault(name[: -len(".d")], []).extend(f"/{top}/{name}/{c}" for c in confs)
    for name in sorted(units):
        yield name, units[name] + drop_ins.get(name, [])


def unit_sources(root: Path, unreadable: list[Unreadable]) -> list[Source]:
    out = []
    for name, files in _unit_files(root):
        source = Source(name=f"unit {name}", file=files[0], unit=name)
        for inside in files:
            text = _read(root, inside, unreadable)
            if text is None:
                continue
            for key, value in _unit_lines(text):
                if key == "Environment":
                    for word in _words(value):
                        var, sep, val = word.partition("=")
                        if sep:
                            source.values[var] = val
                            source.set_in[var] = inside
                elif key == "EnvironmentFile":
                    path = value.strip().lstrip("-")
                    env_text = _read(root, path, unreadable) if path.startswith("/") else None
                    if env_text is not None:
                        assigned = parse_assignments(env_text, export_ok=False)
                        source.values.update(assigned)
                        source.set_in.update(dict.fromkeys(assigned, path))
                elif key == "User":
                    source.user = value.strip()
                elif key == "ExecStart":
                    if value.strip():
                        source.exec_start.append(value.strip().lstrip("@-:+!"))
                    else:
                        source.exec_start.clear()  # an empty ExecStart= in a drop-in resets the list
        out.append(source)
    return out


def _unit_lines(text: str) -> Iterator[tuple[str, str]]:
    pending = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = (pending + line).strip(), ""
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, sep, value = line.partition("=")
        if sep:
            yield key.strip(), value


def file_sources(root: Path, unreadable: list[Unreadable]) -> list[Source]:
    """/etc/environment (pam_env) and each /etc/default/* file."""
    out = []
    text = _read(root, "/etc/environment", unreadable)
    if text is not None:
        out.append(Source("/etc/environment", "/etc/environment", parse_assignments(text, export_ok=False)))
    defaults = root / "etc/default"
    try:
        names = sorted(os.listdir(defaults)) if defaults.is_dir() else []
    except OSError as exc:
        unreadable.append(Unreadable("/etc/default", f"cannot list: {exc.strerror}"))
        names = []
    for name in names:
        inside = f"/etc/default/{name}"
        if not (root / inside.lstrip("/")).is_file():
            continue
        text = _read(root, inside, unreadable)
        if text is not None:
            values = parse_assignments(text, export_ok=True)
            if any(k in STORE_VARIABLES or k in JAVA_VARIABLES for k in values):
                out.append(Source(inside, inside, values))
    return out
