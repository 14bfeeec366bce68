"""HTTP(S) downloads: one session, explicit CA bundle, timeouts, retries, bounded bodies."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import certifi

from rotator.errors import ConfigError, SourceError

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 64 * 1024
MAX_RETRY_AFTER = 30  # seconds; a server asking for more is treated as down for this run


@dataclass(frozen=True)
class DownloadSettings:
    ca_bundle: Path | None = None  # None: certifi's bundle (never the REQUESTS_CA_BUNDLE env var)
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0  # one download, connection to last byte: a hard deadline
    budget: float = 120.0  # every download of one Downloader (one run) together
    retries: int = 3
    backoff: float = 0.5
    max_bytes: int = DEFAULT_MAX_BYTES


class Downloader:
    """Fetches small files. Unreachable sources raise SourceError so callers move on."""

    def __init__(self, settings: DownloadSettings) -> None:
        # requests is imported here, not at module load: offline runs never pay for it.
        import requests

        from rotator import httpdeadline

        self.settings = settings
        self.run_ends = time.monotonic() + settings.budget
        self.watchdog = httpdeadline.Watchdog()
        if settings.ca_bundle is not None and not settings.ca_bundle.is_file():
            raise ConfigError(
                f"download.ca_bundle: {settings.ca_bundle} does not exist; give the PEM file of your proxy's CA"
            )
        # An explicit path: with verify=True, REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE would silently win.
        self.verify = str(settings.ca_bundle) if settings.ca_bundle else certifi.where()
        self.session: requests.Session = requests.Session()
        retry = httpdeadline.retry_class(self.watchdog, MAX_RETRY_AFTER)(
            total=settings.retries,
            connect=settings.retries,
            read=0,
            status=settings.retries,
            backoff_factor=settings.backoff,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = httpdeadline.adapter(self.watchdog, retry)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers["User-Agent"] = "rotator (Azure root CA updater)"

    def close(self) -> None:
        self.session.close()

    def get(self, url: str) -> bytes:
        """The body, within ``total_timeout`` (and what is left of the run's ``budget``), or SourceError."""
        s = self.settings
        limit = min(s.total_timeout, self.run_ends - time.monotonic())
        if limit <= 0:
            raise SourceError(f"{url}: skipped, this run's download budget of {s.budget:g}s is used up")
        with self.watchdog.armed(limit):
            try:
                return self._get(url, limit)
            except SourceError as exc:
                if self.watchdog.expired:
                    raise SourceError(f"{url}: no complete answer within {limit:g}s; gave up") from exc
                raise
            finally:
                # Connections are not kept between downloads: the watchdog only covers the sockets
                # opened while it was armed.
                self.session.close()

    def _get(self, url: str, limit: float) -> bytes:
        import requests

        s = self.settings
        started = time.monotonic()
        try:
            with self.session.get(
                url,
                timeout=(s.connect_timeout, s.read_timeout),
                verify=self.verify,
                stream=True,
                allow_redirects=True,
            ) as response:
                if response.status_code != 200:
                    raise SourceError(f"{url}: HTTP {response.status_code}")
                length = response.headers.get("Content-Length")
                if length and length.isdigit() and int(length) > s.max_bytes:
                    raise SourceError(f"{url}: body of {length} bytes exceeds the {s.max_bytes}-byte limit")
                body = bytearray()
                # iter_content counts decoded bytes, so a compressed bomb is caught too.
                for chunk in response.iter_content(chunk_size=8192):
                    body += chunk
                    if len(body) > s.max_bytes:
                        raise SourceError(f"{url}: body exceeds the {s.max_bytes}-byte limit")
                    if time.monotonic() - started > limit:
                        raise SourceError(f"{url}: download took longer than {limit:g}s")
                return bytes(body)
        except requests.exceptions.SSLError as exc:
            raise SourceError(
                f"{url}: TLS verification failed ({_short(exc)}); behind an intercepting proxy, "
                "pass its CA with --download-ca-bundle"
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise SourceError(f"{url}: timed out ({_short(exc)})") from exc
        except requests.exceptions.RetryError as exc:
            raise SourceError(f"{url}: still failing after {s.retries} retries ({_short(exc)})") from exc
        except requests.exceptions.ConnectionError as exc:
            text = _short(exc)
            if "timed out" in text.lower() or "timeout" in text.lower():
                raise SourceError(f"{url}: timed out ({text})") from exc
            raise SourceError(f"{url}: unreachable ({text})") from exc
        except requests.exceptions.RequestException as exc:
            raise SourceError(f"{url}: {_short(exc)}") from exc
        except OSError as exc:  # a socket shut down under a read that requests does not wrap
            raise SourceError(f"{url}: {exc.strerror or _short(exc)}") from exc


def _short(exc: BaseException) -> str:
    text = str(exc)
    # urllib3 nests whole reprs; the last clause is the informative one.
    return text if len(text) < 200 else text[:200] + "..."
