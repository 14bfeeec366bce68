"""Where a copy comes from: a URL to download, or a local path. The one rule that tells them apart.

Light on purpose (no imports): the config parser, the command line and the obtainer all ask it.
"""

from __future__ import annotations

URL_SCHEMES = ("https://", "http://")


def is_url(location: str) -> bool:
    """Whether ``location`` (a mirror, a root's source, ``--source``, ``--cross-check``) is an http(s)
    URL; anything else is a local path. The scheme is matched as written: ``HTTPS://x`` is a path."""
    return location.startswith(URL_SCHEMES)
