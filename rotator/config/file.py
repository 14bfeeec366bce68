"""The TOML configuration: parsed, checked key by key, turned into plain values.

Every error names the key path (``roots[1].sha256``) and is a ConfigError (exit 2).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path

from rotator.config.model import DEFAULT_PATH as DEFAULT_PATH
from rotator.config.model import Config as Config
from rotator.config.model import DownloadConfig as DownloadConfig
from rotator.config.model import locate as locate
from rotator.errors import ConfigError
from rotator.host import safe_paths as filesafety
from rotator.host.files import ReadAs, read_file
from rotator.ownership import MAX_NAME, MAX_NOTE, one_line, valid_id
from rotator.records import TYPE_CHECKING
from rotator.roots.catalog import SHA256_HEX, Root
from rotator.roots.locations import is_url
from rotator.sync.hooks import DEFAULT_TIMEOUT as DEFAULT_HOOK_TIMEOUT
from stores.base import TargetSpec

if TYPE_CHECKING:
    from typing import Any

CONFIG_FILE = ReadAs("config file", "pass an existing file with --config", ConfigError)

TOP_KEYS = {
    "profile",
    "include",
    "keep",
    "roots",
    "profiles",
    "targets",
    "download",
    "cache_dir",
    "state_dir",
    "metrics_file",
    "on_change",
    "hook_timeout",
    "daemon",
}
ROOT_KEYS = {"id", "sha256", "urls", "file", "name", "note", "trusted_from", "retire_after", "retire_reason"}
DOWNLOAD_KEYS = {
    "offline",
    "ca_bundle",
    "mirror",
    "connect_timeout",
    "read_timeout",
    "total_timeout",
    "budget",
    "retries",
    "max_bytes",
}
DAEMON_KEYS = {"interval", "jitter", "retry", "catalog_check", "catalog_source"}
DAEMON_DURATIONS = ("interval", "jitter", "retry", "catalog_check")  # catalog_check may also be "off"


def load(path: Path | None) -> Config:
    if path is None:
        return Config()
    # Before reading: the config names commands rotator runs, as root for the service.
    filesafety.require(path, "config file", filesafety.trusted_uids())
    raw = read_file(path, CONFIG_FILE, pipes=True)  # a pipe too: --config <(generate-config)
    import tomllib  # only when there is a config file to read

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    try:
        return parse(data, path)
    except ConfigError as exc:
        # A host may hold several configs (the service's, a hand-run one): say which file is wrong.
        raise ConfigError(f"config file {path}: {exc}") from exc


def parse(data: Mapping[str, Any], source: Path | None = None) -> Config:
    base = source.parent if source else Path.cwd()
    _no_nul(dict(data), "")
    _no_unknown(data, TOP_KEYS, "")
    roots = tuple(_root(r, f"roots[{i}]", base) for i, r in enumerate(_list(data, "roots", "", dict)))
    seen: set[str] = set()
    for i, root in enumerate(roots):
        if root.id in seen:
            raise ConfigError(f"roots[{i}].id: duplicate id {root.id!r}")
        seen.add(root.id)
    profiles_raw = data.get("profiles", {})
    if not isinstance(profiles_raw, dict):
        raise ConfigError("profiles: expected a table of name = [root ids]")
    profiles = {name: tuple(_str_list(ids, f"profiles.{name}")) for name, ids in profiles_raw.items()}
    targets = tuple(_target(t, f"targets[{i}]", base) for i, t in enumerate(_list(data, "targets", "", dict)))
    download = _download(data.get("download", {}), base)
    daemon_raw = data.get("daemon", {})
    if not isinstance(daemon_raw, dict):
        raise ConfigError("daemon: expected a table")
    _no_unknown(daemon_raw, DAEMON_KEYS, "daemon.")
    daemon = {k: _str(daemon_raw, k, "daemon.") or "" for k in daemon_raw}
    for key in DAEMON_DURATIONS:
        # Checked here, for every command: `sync --dry-run --config F` is how a config is checked.
        value = daemon.get(key)
        if value and not (key == "catalog_check" and value.strip() == "off"):
            parse_duration(value, f"daemon.{key}")
    return Config(
        source=source,
        profile=_str(data, "profile", ""),
        include=tuple(_str_list(data.get("include", []), "include")),
        keep=tuple(_str_list(data.get("keep", []), "keep")),
        roots=roots,
        profiles=profiles,
        targets=targets,
        download=download,
        cache_dir=_path(data, "cache_dir", "", base),
        state_dir=_path(data, "state_dir", "", base),
        metrics_file=_path(data, "metrics_file", "", base),
        on_change=_commands(data.get("on_change", []), "on_change") if "on_change" in data else (),
        hook_timeout=_number(data, "hook_timeout", DEFAULT_HOOK_TIMEOUT, ""),
        daemon=daemon,
    )


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")


def parse_duration(text: str, where: str) -> int:
    """``"6h"``, ``"30m"``, ``"45s"``, ``"1d"`` as seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f'{where}: {text!r} is not a duration (a whole number with s, m, h or d: "6h")')
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_DURATION:
        raise ConfigError(f"{where}: {text!r} is longer than a year; give at most 365d")
    return seconds


MAX_DURATION = 365 * 86400  # past this, timers overflow; no schedule needs it


def _root(raw: dict[str, Any], where: str, base: Path) -> Root:
    _no_unknown(raw, ROOT_KEYS, f"{where}.")
    root_id = _str(raw, "id", f"{where}.")
    if not root_id:
        raise ConfigError(f"{where}.id: required")
    if not valid_id(root_id):
        raise ConfigError(
            f"{where}.id: {root_id!r} is not a valid id (lower-case letters, digits, '.', '_', '-'; at most 63)"
        )
    pin = (_str(raw, "sha256", f"{where}.") or "").lower().replace(":", "")
    if not SHA256_HEX.fullmatch(pin):
        raise ConfigError(f"{where}.sha256: expected 64 hex digits (the SHA-256 of the DER certificate)")
    urls = tuple(_str_list(raw.get("urls", []), f"{where}.urls"))
    for j, url in enumerate(urls):
        if not is_url(url):
            raise ConfigError(f"{where}.urls[{j}]: {url!r} is not an http(s) URL")
    file = _path(raw, "file", f"{where}.", base)
    if not urls and file is None:
        raise ConfigError(f"{where}: give urls, file, or both, so rotator can obtain the root")
    for key, limit in (("name", MAX_NAME), ("note", MAX_NOTE), ("retire_reason", MAX_NOTE)):
        text = _str(raw, key, f"{where}.")
        if text is not None and not one_line(text, limit):
            raise ConfigError(
                f"{where}.{key}: must be one line of printable text, at most {limit} characters "
                "(no line breaks or control characters); it is written into stores and reports"
            )
    return Root(
        id=root_id,
        name=_str(raw, "name", f"{where}.") or root_id,
        sha256=pin,
        urls=urls,
        file=file,
        note=_str(raw, "note", f"{where}.") or "custom root from the configuration",
        custom=True,
        trusted_from=_date(raw, "trusted_from", f"{where}."),
        retire_after=_date(raw, "retire_after", f"{where}."),
        retire_reason=_str(raw, "retire_reason", f"{where}.") or "",
    )


def _target(raw: dict[str, Any], where: str, base: Path) -> TargetSpec:
    kind = _str(raw, "kind", f"{where}.")
    if not kind:
        raise ConfigError(f"{where}.kind: required (pem, jks, pkcs12, java-cacerts, system, pem-dir)")
    path = _str(raw, "path", f"{where}.")
    options = []
    for key, value in raw.items():
        if key in ("kind", "path"):
            continue
        if key == "on_change":
            value = _commands(value, f"{where}.on_change")
        if key == "storepass_file" and isinstance(value, str):
            value = str(base / os.path.expanduser(value))
        options.append((key, value))
    # A relative path means the same file whatever directory rotator runs from (a unit runs from /):
    # it is taken from the config file's directory, like every other path in the file.
    return TargetSpec(kind=kind, path=path, options=tuple(options), where=where, base=str(base))


def _download(raw: Any, base: Path) -> DownloadConfig:
    if not isinstance(raw, dict):
        raise ConfigError("download: expected a table")
    _no_unknown(raw, DOWNLOAD_KEYS, "download.")
    mirror = _str(raw, "mirror", "download.")
    if mirror and not is_url(mirror):
        mirror = str(base / mirror)
    defaults = DownloadConfig()
    offline = raw.get("offline", False)
    if not isinstance(offline, bool):
        raise ConfigError("download.offline: expected true or false")
    return DownloadConfig(
        offline=offline,
        ca_bundle=_path(raw, "ca_bundle", "download.", base),
        mirror=mirror,
        connect_timeout=_number(raw, "connect_timeout", defaults.connect_timeout),
        read_timeout=_number(raw, "read_timeout", defaults.read_timeout),
        total_timeout=_number(raw, "total_timeout", defaults.total_timeout),
        budget=_number(raw, "budget", defaults.budget),
        retries=int(_number(raw, "retries", defaults.retries, allow_zero=True)),
        max_bytes=int(_number(raw, "max_bytes", defaults.max_bytes)),
    )


def _commands(raw: Any, where: str) -> tuple[tuple[str, ...], ...]:
    """``on_change``: one argv list, or a list of argv lists."""
    if not isinstance(raw, list):
        raise ConfigError(f'{where}: expected an argv list such as ["systemctl", "reload", "app"]')
    if raw and all(isinstance(x, str) for x in raw):
        return (tuple(raw),)
    out = []
    for i, cmd in enumerate(raw):
        if not isinstance(cmd, list) or not cmd or not all(isinstance(x, str) for x in cmd):
            raise ConfigError(f"{where}[{i}]: expected a non-empty list of strings (an argv)")
        out.append(tuple(cmd))
    return tuple(out)


def _no_unknown(raw: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{prefix}{key}: unknown key (allowed: {', '.join(sorted(allowed))})")


def _list(raw: Mapping[str, Any], key: str, prefix: str, item: type) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, item) for v in value):
        kind = "tables ([[" + key + "]])" if item is dict else item.__name__ + "s"
        raise ConfigError(f"{prefix}{key}: expected a list of {kind}")
    return value


def _str(raw: Mapping[str, Any], key: str, prefix: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{prefix}{key}: expected a string, got {type(value).__name__}")
    return value


def _str_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings")
    return value


def _path(raw: Mapping[str, Any], key: str, prefix: str, base: Path) -> Path | None:
    value = _str(raw, key, prefix)
    if value is None:
        return None
    return base / os.path.expanduser(value)


# Upper bounds: a value past these is a typo (or inf), and would make a run unbounded in time or memory.
DAY = 86400.0
LIMITS = {
    "hook_timeout": DAY,
    "connect_timeout": 3600.0,
    "read_timeout": 3600.0,
    "total_timeout": 3600.0,
    "budget": DAY,
    "retries": 20,
    "max_bytes": 16 * 1024 * 1024,
}


def _number(
    raw: Mapping[str, Any], key: str, default: float, prefix: str = "download.", allow_zero: bool = False
) -> float:
    value = raw.get(key, default)
    high = LIMITS[key]
    kind = "non-negative" if allow_zero else "positive"
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not allow_zero)
        or value > high
    ):
        raise ConfigError(f"{prefix}{key}: expected a {kind} number no greater than {high:g}, got {value!r}")
    return float(value)


def _no_nul(value: Any, where: str) -> None:
    """A NUL byte cannot be part of a path, an argv or a name: refuse it where it was written."""
    if isinstance(value, str) and "\x00" in value:
        raise ConfigError(f"{where or 'config'}: contains a NUL character")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key, where)
            _no_nul(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _no_nul(item, f"{where}[{i}]")


def _date(raw: Mapping[str, Any], key: str, prefix: str) -> dt.date | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"{prefix}{key}: expected a date (YYYY-MM-DD)")
