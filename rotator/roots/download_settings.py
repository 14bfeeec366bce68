"""How downloads are bounded, without the code that downloads: a run that downloads nothing (offline,
or answered from the cache and the embedded copies) reads these settings and never loads the rest."""

from __future__ import annotations

from pathlib import Path

from rotator.records import NamedTuple

DEFAULT_MAX_BYTES = 64 * 1024


class DownloadSettings(NamedTuple):
    ca_bundle: Path | None = None  # None: certifi's bundle (never the REQUESTS_CA_BUNDLE env var)
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    budget: float = 120.0  # every download of one Downloader (one run) together
    retries: int = 3  # never after a failed name lookup or a refused connection: those are final
    backoff: float = 0.5
    max_bytes: int = DEFAULT_MAX_BYTES
