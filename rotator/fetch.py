"""HTTP(S) downloads: one session, explicit CA bundle, timeouts, retries, bounded bodies."""

from __future__ import annotations

import errno
import logging
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from rotator.errors import ConfigError, SourceError

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class DownloadSettings:
    ca_bundle: Path | None = None  # None: certifi's bundle (never the REQUESTS_CA_BUNDLE env var)
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    retries: int = 3  # on 429 and 5xx only: a host that cannot be resolved or reached is not retried
    backoff: float = 0.5
    max_bytes: int = DEFAULT_MAX_BYTES
    run_budget: float = 60.0  # all downloads of one run together; then the remaining sources are skipped


class Downloader:
    """Fetches small files. Unreachable sources raise SourceError so callers move on.

    Without network a run must not crawl: a connection that fails (DNS, refused, timed out) is
    not retried, a host that failed once is not tried again in this run, and all downloads of a
    run share one time budget.
    """

    def __init__(self, settings: DownloadSettings) -> None:
        # requests and certifi are imported here, not at module load: runs that download nothing
        # (cache, embedded copies, --offline) never pay for them.
        import certifi
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        self.settings = settings
        if settings.ca_bundle is not None and not settings.ca_bundle.is_file():
            raise ConfigError(
                f"download.ca_bundle: {settings.ca_bundle} does not exist; give the PEM file of your proxy's CA"
            )
        # An explicit path: with verify=True, REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE would silently win.
        self.verify = str(settings.ca_bundle) if settings.ca_bundle else certifi.where()
        self.session: requests.Session = requests.Session()
        self._deadline = time.monotonic() + settings.run_budget
        self._down: dict[str, str] = {}  # host[:port] -> why it could not be reached earlier in this run
        retry = Retry(
            total=settings.retries,
            connect=0,
            read=0,
            status=settings.retries,
            backoff_factor=settings.backoff,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers["User-Agent"] = "rotator (Azure root CA updater)"

    def close(self) -> None:
        self.session.close()

    def get(self, url: str) -> bytes:
        import requests

        s = self.settings
        host = urlsplit(url).netloc  # host and port: another port on the same host may well answer
        if host in self._down:
            raise SourceError(f"{url}: {self._down[host]} (earlier in this run)", self._down[host])
        started = time.monotonic()
        left = self._deadline - started
        if left <= 0:
            raise SourceError(f"{url}: skipped, the downloads of this run took {s.run_budget:g}s already",
                              "download time budget spent")
        deadline = min(started + s.total_timeout, self._deadline)
        try:
            with self.session.get(
                url,
                timeout=(min(s.connect_timeout, left), min(s.read_timeout, left)),
                verify=self.verify,
                stream=True,
                allow_redirects=True,
            ) as response:
                if response.status_code != 200:
                    raise SourceError(f"{url}: HTTP {response.status_code}", f"HTTP {response.status_code}")
                length = response.headers.get("Content-Length")
                if length and length.isdigit() and int(length) > s.max_bytes:
                    raise SourceError(f"{url}: body of {length} bytes exceeds the {s.max_bytes}-byte limit",
                                      "too large")
                body = bytearray()
                # iter_content counts decoded bytes, so a compressed bomb is caught too.
                for chunk in response.iter_content(chunk_size=8192):
                    body += chunk
                    if len(body) > s.max_bytes:
                        raise SourceError(f"{url}: body exceeds the {s.max_bytes}-byte limit", "too large")
                    if time.monotonic() > deadline:
                        raise SourceError(f"{url}: download took too long ({time.monotonic() - started:.0f}s)",
                                          "timed out")
                return bytes(body)
        except requests.exceptions.SSLError as exc:
            raise SourceError(
                f"{url}: TLS verification failed ({_short(exc)}); behind an intercepting proxy, "
                "pass its CA with --download-ca-bundle",
                "TLS verification failed",
            ) from exc
        except requests.exceptions.RetryError as exc:
            raise SourceError(f"{url}: still failing after {s.retries} retries ({_short(exc)})",
                              f"failing after {s.retries} retries") from exc
        except requests.exceptions.ConnectTimeout as exc:
            self._down[host] = "connect timed out"
            raise SourceError(f"{url}: connect timed out ({_short(exc)})", "connect timed out") from exc
        except requests.exceptions.Timeout as exc:
            raise SourceError(f"{url}: timed out ({_short(exc)})", "timed out") from exc
        except requests.exceptions.ConnectionError as exc:
            reason = connection_failure(exc)
            if reason is not None:
                self._down[host] = reason
            raise SourceError(f"{url}: unreachable ({_short(exc)})", reason or "unreachable") from exc
        except requests.exceptions.RequestException as exc:
            raise SourceError(f"{url}: {_short(exc)}", type(exc).__name__) from exc


def connection_failure(exc: BaseException) -> str | None:
    """Why no connection could be made (DNS, refused, ...), or None when it broke later."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return "DNS"
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, TimeoutError | socket.timeout):
            return "connect timed out"
        if isinstance(current, OSError) and current.errno in _UNREACHABLE:
            return "network unreachable"
        # requests and urllib3 keep the cause in args, .reason, __cause__ or __context__.
        todo.extend(x for x in (*current.args, getattr(current, "reason", None), current.__cause__,
                                current.__context__) if isinstance(x, BaseException))
    return None


_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN, errno.EADDRNOTAVAIL}


def _short(exc: BaseException) -> str:
    text = str(exc)
    # urllib3 nests whole reprs; the last clause is the informative one.
    return text if len(text) < 200 else text[:200] + "..."
