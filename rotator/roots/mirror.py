"""``rotator mirror DIR``: verified copies of the selected roots, for hosts that sync from a directory.

Each copy is obtained and proven exactly as a sync would (the same sources, the same pin), then
written atomically as ``DIR/<id>.pem``; a host reading the mirror proves each file again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rotator.errors import ConfigError
from rotator.host.files import atomic_write
from rotator.progress import Progress, silent
from rotator.roots.catalog import Root
from rotator.roots.download import Downloader, DownloadSettings
from rotator.roots.obtain import Obtainer, ObtainSettings


@dataclass(frozen=True)
class Written:
    root_id: str
    sha256: str
    path: Path
    source: str


def write_mirror(
    directory: Path,
    roots: Sequence[Root],
    obtain: ObtainSettings,
    download: DownloadSettings,
    progress: Progress = silent,
) -> list[Written]:
    """Obtain every root (a pin mismatch stops before any file is written), then write each copy."""
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"mirror: {directory} exists and is not a directory")
    obtainer = Obtainer(obtain, downloader=lambda: Downloader(download), progress=progress)
    try:
        obtained = obtainer.obtain_all(roots)
    finally:
        obtainer.close()
    written = []
    for o in obtained:
        path = directory / f"{o.root.id}.pem"
        atomic_write(path, o.cert.to_pem(), mode=0o644)
        written.append(Written(root_id=o.root.id, sha256=o.cert.sha256, path=path, source=o.source))
    return written
