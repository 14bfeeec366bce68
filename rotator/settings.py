"""Turns the config file and command-line flags into one run's explicit values (flags win)."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from rotator import config as config_mod
from rotator import filesafety
from rotator.catalog import DEFAULT_PROFILE, Catalog, Root
from rotator.config import Config
from rotator.engine import SyncRequest
from rotator.errors import ConfigError
from rotator.fetch import DownloadSettings
from rotator.obtain import ObtainSettings, default_cache_dir
from rotator.scope import resolve_scope
from rotator.state import default_state_dir
from stores import accepts_option, parse_target
from stores.base import StoreContext, TargetSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resolved:
    config: Config
    catalog: Catalog
    profile: str
    selected: tuple[Root, ...]
    request: SyncRequest

    @property
    def every_selected(self) -> tuple[Root, ...]:
        """The global selection plus every root a target selects for itself (what a mirror must hold)."""
        roots = {r.id: r for r in self.selected}
        for scope in self.request.scopes:
            roots.update((r.id, r) for r in scope.roots if r.id not in roots)
        return tuple(roots.values())


def parse_at(text: str | None) -> dt.datetime:
    """``--at`` as a UTC instant: a date means the start of that day."""
    if not text:
        return dt.datetime.now(dt.UTC)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"--at: {text!r} is not a date (YYYY-MM-DD) or ISO time") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def _lock_timeout(value: float | None) -> float:
    if value is None:
        return 60.0
    if not math.isfinite(value) or not 0 <= value <= config_mod.DAY:
        raise ConfigError(f"--lock-timeout: expected seconds from 0 to {config_mod.DAY:g}, got {value!r}")
    return value


def _with_password(spec: TargetSpec, args: argparse.Namespace) -> TargetSpec:
    """``--storepass-env/--storepass-file`` reach every --target kind that takes a keystore password."""
    for key in ("storepass_env", "storepass_file"):
        value = getattr(args, key, None)
        if value and accepts_option(spec.kind, key):
            return replace(spec, options=(*spec.options, (key, value)))
    return spec


def resolve(args: argparse.Namespace, environ: Mapping[str, str]) -> Resolved:
    cfg = config_mod.load(config_mod.locate(getattr(args, "config", None), environ))
    catalog = Catalog.builtin().extended(cfg.roots, cfg.profiles, keep=cfg.keep)
    profile = getattr(args, "profile", None) or cfg.profile or DEFAULT_PROFILE
    include = list(cfg.include) + list(getattr(args, "root", None) or [])
    selected = catalog.select(profile, include)

    specs: tuple[TargetSpec, ...]
    cli_targets = getattr(args, "target", None) or []
    if cli_targets:
        specs = tuple(_with_password(parse_target(t), args) for t in cli_targets)
    else:
        specs = cfg.targets
    scopes = tuple(resolve_scope(spec, catalog, profile, include) for spec in specs)
    check_sources(cfg, specs, environ)
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    cache_arg = getattr(args, "cache_dir", None)
    if getattr(args, "no_cache", False):
        cache_dir: Path | None = None
    elif cache_arg:
        cache_dir = Path(cache_arg)
    else:
        cache_dir = cfg.cache_dir or default_cache_dir(environ, is_root)
    ca_bundle_arg = getattr(args, "download_ca_bundle", None)
    download = DownloadSettings(
        ca_bundle=Path(ca_bundle_arg) if ca_bundle_arg else cfg.download.ca_bundle,
        connect_timeout=cfg.download.connect_timeout,
        read_timeout=cfg.download.read_timeout,
        total_timeout=cfg.download.total_timeout,
        budget=cfg.download.budget,
        retries=cfg.download.retries,
        max_bytes=cfg.download.max_bytes,
    )
    obtain = ObtainSettings(
        at=parse_at(getattr(args, "at", None)),
        offline=bool(getattr(args, "offline", False)) or cfg.download.offline,
        cache_dir=cache_dir,
        mirror=getattr(args, "mirror", None) or cfg.download.mirror,
        max_bytes=cfg.download.max_bytes,
    )
    context = StoreContext(
        environ=tuple(sorted(environ.items())),
        sysroot=getattr(args, "sysroot", None),
    )
    state_arg = getattr(args, "state_dir", None)
    metrics_arg = getattr(args, "metrics_file", None)
    request = SyncRequest(
        selected=selected,
        targets=specs,
        scopes=scopes,
        known=tuple(catalog.roots.values()),
        cross_signs=catalog.cross_signs,
        obtain=obtain,
        download=download,
        context=context,
        dry_run=bool(getattr(args, "dry_run", False)),
        state_dir=Path(state_arg) if state_arg else cfg.state_dir or default_state_dir(environ, is_root),
        metrics_file=Path(metrics_arg) if metrics_arg else cfg.metrics_file,
        on_change=cfg.on_change,
        hook_timeout=cfg.hook_timeout,
        warn_days=30 if getattr(args, "warn_days", None) is None else int(args.warn_days),
        lock_timeout=_lock_timeout(getattr(args, "lock_timeout", None)),
    )
    return Resolved(config=cfg, catalog=catalog, profile=profile, selected=selected, request=request)


def check_sources(cfg: Config, specs: tuple[TargetSpec, ...], environ: Mapping[str, str]) -> None:
    """Files that decide what rotator runs, trusts or reads as a secret must be safe from other
    users (docs/configuration.md); the config file itself was checked before it was read."""
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
                log.warning("%s %s (%s) is readable by every user; fix: chmod o-r %s",
                            what, password_file, mode, password_file)
