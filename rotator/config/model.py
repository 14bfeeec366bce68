"""What a config says, as plain values, and where the config is: without the TOML reader and its
checks (rotator.config.file), which a run without a config file never loads."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from rotator.records import TYPE_CHECKING, NamedTuple
from rotator.roots.download_settings import DownloadSettings
from rotator.sync.hooks import DEFAULT_TIMEOUT as DEFAULT_HOOK_TIMEOUT

if TYPE_CHECKING:
    from rotator.roots.catalog import Root
    from stores.base import TargetSpec

DEFAULT_PATH = Path("/etc/rotator/rotator.toml")

_DOWNLOAD = DownloadSettings()


class DownloadConfig(NamedTuple):
    offline: bool = False  # as --offline: cache, mirror directory, local files, embedded copies only
    ca_bundle: Path | None = None
    mirror: str | None = None
    # The download defaults are DownloadSettings' own: defined once, in rotator.roots.download_settings.
    connect_timeout: float = _DOWNLOAD.connect_timeout
    read_timeout: float = _DOWNLOAD.read_timeout
    total_timeout: float = _DOWNLOAD.total_timeout  # one download, headers to last byte
    budget: float = _DOWNLOAD.budget  # every download of one run together; then the run goes on offline
    retries: int = _DOWNLOAD.retries
    max_bytes: int = _DOWNLOAD.max_bytes


class Config(NamedTuple):
    source: Path | None = None
    profile: str | None = None
    include: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    roots: tuple[Root, ...] = ()
    profiles: Mapping[str, tuple[str, ...]] = MappingProxyType({})
    targets: tuple[TargetSpec, ...] = ()
    download: DownloadConfig = DownloadConfig()
    cache_dir: Path | None = None
    state_dir: Path | None = None
    metrics_file: Path | None = None
    on_change: tuple[tuple[str, ...], ...] = ()
    hook_timeout: float = DEFAULT_HOOK_TIMEOUT
    daemon: Mapping[str, str] = MappingProxyType({})


def locate(explicit: str | None, environ: Mapping[str, str]) -> Path | None:
    """``--config``, else ``$ROTATOR_CONFIG``, else the system file when it exists."""
    if explicit:
        return Path(explicit)
    if environ.get("ROTATOR_CONFIG"):
        return Path(environ["ROTATOR_CONFIG"])
    return DEFAULT_PATH if DEFAULT_PATH.is_file() else None
