"""Turns the config file and command-line flags into one run's explicit values (flags win)."""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path

from rotator.errors import ConfigError
from rotator.records import TYPE_CHECKING, NamedTuple

# Light to import (the parser reads the defaults below for its help): what resolving a run needs
# is imported when a run is resolved.
if TYPE_CHECKING:
    from typing import TypeVar

    from rotator.config.model import Config
    from rotator.roots.catalog import Catalog, Root
    from rotator.sync.engine import SyncRequest
    from stores.base import TargetSpec

    T = TypeVar("T")

log = logging.getLogger(__name__)


# Defaults of the flags, each defined here only. A flag given as 0 or "" is a value, never "not given".
DEFAULT_LOCK_TIMEOUT = 60.0
MAX_LOCK_TIMEOUT = 86400.0  # a day; nan or inf would make a run wait forever
DEFAULT_WARN_DAYS = 30


class Flags(NamedTuple):
    """The command line as typed values. ``None`` means "not given": the config or a default applies."""

    config: str | None = None
    profile: str | None = None
    roots: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    mirror: str | None = None
    offline: bool = False
    cache_dir: str | None = None
    no_cache: bool = False
    download_ca_bundle: str | None = None
    at: str | None = None
    state_dir: str | None = None
    metrics_file: str | None = None
    lock_timeout: float | None = None
    lock_dir: str | None = None
    warn_days: int | None = None
    dry_run: bool = False
    sysroot: str | None = None
    storepass_env: str | None = None
    storepass_file: str | None = None


class Resolved(NamedTuple):
    config: Config
    catalog: Catalog
    profile: str
    selected: tuple[Root, ...]
    request: SyncRequest
    # Set when neither --target nor the config named a target and those a sync recorded are used.
    recorded_in: Path | None = None

    @property
    def every_selected(self) -> tuple[Root, ...]:
        """The global selection plus every root a target selects for itself (what a mirror must hold)."""
        roots = {r.id: r for r in self.selected}
        for scope in self.request.scopes:
            roots.update((r.id, r) for r in scope.roots if r.id not in roots)
        return tuple(roots.values())


def parse_at(text: str | None) -> dt.datetime:
    """``--at`` as a UTC instant: a date means the start of that day."""
    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"--at: {text!r} is not a date (YYYY-MM-DD) or ISO time") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def lock_timeout(value: float | None) -> float:
    """``--lock-timeout`` checked, or its default when not given (applied here only)."""
    if value is None:
        return DEFAULT_LOCK_TIMEOUT
    if not math.isfinite(value) or not 0 <= value <= MAX_LOCK_TIMEOUT:
        raise ConfigError(f"--lock-timeout: expected seconds from 0 to {MAX_LOCK_TIMEOUT:g}, got {value!r}")
    return value


def _with_password(spec: TargetSpec, flags: Flags) -> TargetSpec:
    """``--storepass-env/--storepass-file`` reach every --target kind that takes a keystore password."""
    from stores.kinds import accepts_option

    for key, value in (("storepass_env", flags.storepass_env), ("storepass_file", flags.storepass_file)):
        if value is not None and accepts_option(spec.kind, key):
            return spec._replace(options=(*spec.options, (key, value)))
    return spec


def resolve(flags: Flags, environ: Mapping[str, str], *, use_recorded: bool = False) -> Resolved:
    """``use_recorded``: with no target given anywhere, take the ones the state file recorded
    (``status``, ``sync`` and ``probe`` by hand after a first sync; never the daemon)."""
    from rotator.config import model
    from rotator.roots.catalog import DEFAULT_PROFILE, Catalog
    from rotator.roots.download_settings import DownloadSettings
    from rotator.roots.obtain import ObtainSettings, default_cache_dir
    from rotator.roots.scope import resolve_scope
    from rotator.sync.engine import SyncRequest
    from rotator.sync.locks import default_lock_dir
    from rotator.sync.state_dir import default_state_dir, state_file
    from stores.base import StoreContext
    from stores.kinds import parse_target

    if flags.lock_timeout is not None and flags.lock_timeout < 0:
        raise ConfigError("--lock-timeout: expected seconds, 0 or more (0: do not wait)")
    if flags.warn_days is not None and flags.warn_days < 0:
        raise ConfigError("--warn-days: expected a number of days, 0 or more")
    config_path = model.locate(flags.config, environ)
    if config_path is None:
        cfg = model.Config()  # the TOML reader and its checks are not even loaded
    else:
        from rotator.config import file as config_mod

        cfg = config_mod.load(config_path)
    try:
        catalog = Catalog.builtin().extended(cfg.roots, cfg.profiles, keep=cfg.keep)
    except ConfigError as exc:  # roots, profiles and keep come from the file alone: name it
        raise ConfigError(f"config file {config_path}: {exc}") from exc
    profile = _or(_first(flags.profile, cfg.profile), DEFAULT_PROFILE)
    include = [*cfg.include, *flags.roots]
    selected = catalog.select(profile, include)

    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    state_dir = _or(_first(_path(flags.state_dir), cfg.state_dir), default_state_dir(environ, is_root))
    specs: tuple[TargetSpec, ...]
    recorded_in: Path | None = None
    if flags.targets:
        specs = tuple(_with_password(parse_target(t), flags) for t in flags.targets)
    elif cfg.targets or not use_recorded:
        specs = cfg.targets
    else:
        specs = recorded_targets(state_dir)
        if flags.profile is not None or flags.roots:
            # --profile/--root given now say what to judge by, over what the sync recorded.
            specs = tuple(
                s._replace(options=tuple(o for o in s.options if o[0] not in ("profile", "include"))) for s in specs
            )
        recorded_in = state_file(state_dir) if specs else None
    scopes = tuple(resolve_scope(spec, catalog, profile, include) for spec in specs)
    check_sources(cfg, specs, environ)
    cache_dir: Path | None
    if flags.no_cache:
        cache_dir = None
    else:
        cache_dir = _or(_first(_path(flags.cache_dir), cfg.cache_dir), default_cache_dir(environ, is_root))
    download = DownloadSettings(
        ca_bundle=_first(_path(flags.download_ca_bundle), cfg.download.ca_bundle),
        connect_timeout=cfg.download.connect_timeout,
        read_timeout=cfg.download.read_timeout,
        total_timeout=cfg.download.total_timeout,
        budget=cfg.download.budget,
        retries=cfg.download.retries,
        max_bytes=cfg.download.max_bytes,
    )
    obtain = ObtainSettings(
        at=parse_at(flags.at),
        offline=flags.offline or cfg.download.offline,
        cache_dir=cache_dir,
        mirror=_first(flags.mirror, cfg.download.mirror),
        max_bytes=cfg.download.max_bytes,
    )
    context = StoreContext(environ=tuple(sorted(environ.items())), sysroot=flags.sysroot)
    request = SyncRequest(
        selected=selected,
        targets=specs,
        scopes=scopes,
        known=tuple(catalog.roots.values()),
        cross_signs=catalog.cross_signs,
        obtain=obtain,
        download=download,
        context=context,
        dry_run=flags.dry_run,
        state_dir=state_dir,
        metrics_file=_first(_path(flags.metrics_file), cfg.metrics_file),
        on_change=cfg.on_change,
        hook_timeout=cfg.hook_timeout,
        warn_days=_or(flags.warn_days, DEFAULT_WARN_DAYS),
        lock_timeout=lock_timeout(flags.lock_timeout),
        lock_dir=_or(_path(flags.lock_dir), default_lock_dir(environ, is_root)),
        complete_set=not flags.targets and recorded_in is None,
    )
    return Resolved(
        config=cfg, catalog=catalog, profile=profile, selected=selected, request=request, recorded_in=recorded_in
    )


def recorded_targets(state_dir: Path) -> tuple[TargetSpec, ...]:
    """The targets earlier syncs recorded in the state, each once (a java-cacerts target that found
    several JDKs is recorded under each store it built)."""
    from rotator.sync.state import load as load_state
    from stores.base import TargetSpec

    unique = dict.fromkeys(load_state(state_dir).recorded.values())
    return tuple(
        TargetSpec(
            kind=r.kind,
            path=r.path or None,
            options=tuple((k, list(v) if isinstance(v, tuple) else v) for k, v in r.options),
        )
        for r in unique
    )


def _first(*values: T | None) -> T | None:
    """The first value that was given; only ``None`` counts as not given (0 and "" are values)."""
    for value in values:
        if value is not None:
            return value
    return None


def _or(value: T | None, default: T) -> T:
    return default if value is None else value


def _path(text: str | None) -> Path | None:
    return None if text is None else Path(os.path.expanduser(text))


def require_targets(resolved: Resolved) -> None:
    """A run without a target would verify roots, write nothing and look like a success: refuse it."""
    if resolved.request.targets:
        return
    config = resolved.config.source
    where = f"a [[targets]] table to {config}" if config else "a [[targets]] table to a config file (--config FILE)"
    raise ConfigError(
        f"no targets configured; nothing to do: pass --target KIND:PATH (e.g. pem:/etc/azure/roots.pem) or add {where}"
    )


def check_sources(cfg: Config, specs: tuple[TargetSpec, ...], environ: Mapping[str, str]) -> None:
    """Files that decide what rotator runs, trusts or reads as a secret must be safe from other
    users (docs/configuration.md); the config file itself was checked before it was read."""
    from rotator.host import safe_paths as filesafety

    uids = filesafety.trusted_uids()
    for root in cfg.roots:
        if root.file is not None:
            filesafety.require(root.file, f"file of root {root.id}", uids)
    hooks: list[tuple[str, object]] = [("on_change", cfg.on_change)]
    hooks += [(f"{spec.where}.on_change", spec.option("on_change")) for spec in specs]
    for where, commands in hooks:
        for argv in commands if isinstance(commands, tuple) else ():
            filesafety.require_program(argv, environ, f"{where} hook", uids)
    for spec in specs:
        password_file = spec.option("storepass_file")
        if isinstance(password_file, str) and password_file:
            what = f"{spec.where}.storepass_file"
            filesafety.require(password_file, what, uids)
            mode = filesafety.readable_by_others(password_file)
            if mode:
                log.warning(
                    "%s %s (%s) is readable by every user; fix: chmod o-r %s", what, password_file, mode, password_file
                )
