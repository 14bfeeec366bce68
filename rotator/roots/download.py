"""HTTP(S) downloads: one session, explicit CA bundle, timeouts, retries, bounded bodies."""

from __future__ import annotations

import errno
import logging
import time
from urllib.parse import urljoin, urlsplit

from rotator.errors import ConfigError, SourceError
from rotator.records import TYPE_CHECKING
from rotator.roots.download_settings import DEFAULT_MAX_BYTES as DEFAULT_MAX_BYTES
from rotator.roots.download_settings import DownloadSettings as DownloadSettings

if TYPE_CHECKING:
    from typing import Any

    import requests

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 30  # seconds; a server asking for more is treated as down for this run


class Downloader:
    """Fetches small files. Unreachable sources raise SourceError so callers move on.

    Without network a run must not crawl: a failed name lookup or a refused connection is not
    retried, a host that could not be reached is not asked again in this run, and all downloads
    of a run share one time budget. Each SourceError carries a short reason for the user's line.
    """

    def __init__(self, settings: DownloadSettings) -> None:
        # requests and certifi are imported here, not at module load: runs that download nothing
        # (cache, embedded copies, --offline) never pay for them.
        import certifi
        import requests

        from rotator.roots import deadline as httpdeadline

        self.settings = settings
        self.deadline = time.monotonic() + settings.budget
        self.watchdog = httpdeadline.Watchdog()
        self.unresolved: set[str] = set()  # hosts whose name did not resolve: not asked again this run
        self.unreachable: dict[str, str] = {}  # host:port -> why no connection could be made this run
        if settings.ca_bundle is not None and not settings.ca_bundle.is_file():
            raise ConfigError(
                f"download.ca_bundle: {settings.ca_bundle} does not exist; give the PEM file of your proxy's CA"
            )
        # An explicit path: with verify=True, REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE would silently win.
        self.verify = str(settings.ca_bundle) if settings.ca_bundle else certifi.where()
        self.session: requests.Session = requests.Session()
        retry = httpdeadline.retry_class(self.watchdog, MAX_RETRY_AFTER, base=_retry_class())(
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
        # Seen for every response, each hop of a redirect included, before the next hop is requested.
        self.session.hooks["response"].append(_refuse_downgrade)
        self.session.headers["User-Agent"] = "rotator (Azure root CA updater)"

    def close(self) -> None:
        self.session.close()

    def get(self, url: str) -> bytes:
        """The body, within ``total_timeout`` and what is left of the run's ``budget``, or SourceError.

        Both are hard deadlines: when one passes, the watchdog shuts the connection down wherever
        the exchange is (a server sending its headers or body a byte at a time included).
        """
        s = self.settings
        started = time.monotonic()
        host = urlsplit(url).hostname or ""
        where = urlsplit(url).netloc  # host and port: another port of the same host may well answer
        if host in self.unresolved:
            raise SourceError(f"{url}: skipped, {host} did not resolve earlier in this run", "DNS")
        if where in self.unreachable:
            why = self.unreachable[where]
            raise SourceError(f"{url}: skipped, {where}: {why} earlier in this run", why)
        left = self.deadline - started
        if left <= 0:
            raise SourceError(
                f"{url}: skipped, this run's download budget of {s.budget:g}s is used up", "download budget used up"
            )
        limit = min(s.total_timeout, left)
        with self.watchdog.armed(limit):
            try:
                return self._get(url, host, where, limit, left)
            except SourceError as exc:
                if self.watchdog.expired:
                    raise SourceError(f"{url}: no complete answer within {limit:g}s; gave up", "deadline") from exc
                raise
            finally:
                # Connections are not kept between downloads: the watchdog only covers the sockets
                # opened while it was armed.
                self.session.close()

    def _get(self, url: str, host: str, where: str, limit: float, left: float) -> bytes:
        import requests

        s = self.settings
        started = time.monotonic()
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
                    raise SourceError(
                        f"{url}: body of {length} bytes exceeds the {s.max_bytes}-byte limit", "too large"
                    )
                body = bytearray()
                # iter_content counts decoded bytes, so a compressed bomb is caught too.
                for chunk in response.iter_content(chunk_size=8192):
                    body += chunk
                    if len(body) > s.max_bytes:
                        raise SourceError(f"{url}: body exceeds the {s.max_bytes}-byte limit", "too large")
                    if time.monotonic() - started > limit:
                        raise SourceError(f"{url}: download took longer than {limit:g}s", "timed out")
                return bytes(body)
        except _Downgrade as exc:
            via = f" (through {exc.here})" if exc.here != url else ""
            target = ascii(exc.target)[1:-1]  # what the server sent, on one line
            raise SourceError(
                f"{url}: redirected{via} to {target[:200]}, which is not https; a redirect never lowers https "
                "to http: use the https address it should serve, or have its owner redirect to https",
                "redirect to http",
            ) from None
        except requests.exceptions.SSLError as exc:
            raise SourceError(
                f"{url}: TLS verification failed ({_short(exc)}); behind an intercepting proxy, "
                "pass its CA with --download-ca-bundle",
                "TLS verification failed",
            ) from exc
        except requests.exceptions.ConnectTimeout as exc:
            self.unreachable[where] = "connect timed out"
            raise SourceError(f"{url}: connect timed out ({_short(exc)})", "connect timed out") from exc
        except requests.exceptions.Timeout as exc:
            raise SourceError(f"{url}: timed out ({_short(exc)})", "timed out") from exc
        except requests.exceptions.RetryError as exc:
            raise SourceError(
                f"{url}: still failing after {s.retries} retries ({_short(exc)})", f"failing after {s.retries} retries"
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            if _name_not_resolved(exc):
                self.unresolved.add(host)
                raise SourceError(f"{url}: {host} does not resolve (no DNS or no network)", "DNS") from exc
            reason = connection_failure(exc)
            if reason is not None:
                self.unreachable[where] = reason
            text = _short(exc)
            if reason is None and ("timed out" in text.lower() or "timeout" in text.lower()):
                raise SourceError(f"{url}: timed out ({text})", "timed out") from exc
            raise SourceError(f"{url}: unreachable ({text})", reason or "unreachable") from exc
        except requests.exceptions.RequestException as exc:
            raise SourceError(f"{url}: {_short(exc)}", type(exc).__name__) from exc
        except OSError as exc:  # a socket shut down under a read that requests does not wrap
            raise SourceError(f"{url}: {exc.strerror or _short(exc)}", type(exc).__name__) from exc


class _Downgrade(Exception):
    """A redirect from ``here`` (https) to ``target`` (not https), stopped before it was followed."""

    def __init__(self, here: str, target: str) -> None:
        super().__init__(here, target)
        self.here, self.target = here, target


def _refuse_downgrade(response: Any, *args: Any, **kwargs: Any) -> None:
    """A redirect from https to anything else (plain http) is refused before it is followed: what
    was asked for over TLS is never read from a connection anybody on the path can change."""
    if not response.is_redirect or urlsplit(response.url).scheme.lower() != "https":
        return
    target = urljoin(response.url, response.headers.get("location", ""))
    if urlsplit(target).scheme.lower() != "https":
        response.close()  # its connection, left open by the redirect that is not followed
        raise _Downgrade(response.url, target)


def _name_not_resolved(exc: BaseException) -> bool:
    """Whether a connection error is a failed name lookup (urllib3 wraps it several levels deep)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if _name_lookup_failed(current):
            return True
        todo += [current.__cause__, current.__context__]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
        todo += [a for a in current.args if isinstance(a, BaseException)]
    return False


def connection_failure(exc: BaseException) -> str | None:
    """Why no connection could be made (DNS, refused, unreachable, connect timeout), or None when
    the failure came after connecting (a read timeout, a reset): that host did answer."""
    chain = _causes(exc)
    names = {type(e).__name__ for e in chain}
    if not names & _CONNECT_ERRORS:
        return None
    for current in chain:
        if _name_lookup_failed(current):
            return "DNS"
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, OSError) and current.errno in _UNREACHABLE:
            return "network unreachable"
    return "connect timed out" if "ConnectTimeoutError" in names else "no connection"


def _name_lookup_failed(exc: BaseException) -> bool:
    import socket  # requests loaded it for the download that failed; runs without one never need it

    return isinstance(exc, socket.gaierror) or type(exc).__name__ == "NameResolutionError"


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps: requests and urllib3 keep causes in args, .reason,
    __cause__ and __context__."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if any(current is e for e in seen):
            continue
        seen.append(current)
        todo.extend(
            x
            for x in (*current.args, getattr(current, "reason", None), current.__cause__, current.__context__)
            if isinstance(x, BaseException)
        )
    return seen


# urllib3's errors of the connect phase (by name: urllib3 is imported only when something is downloaded).
_CONNECT_ERRORS = {"NewConnectionError", "NameResolutionError", "ConnectTimeoutError"}
_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN, errno.EADDRNOTAVAIL}
_FINAL = ("DNS", "connection refused", "network unreachable")  # the same answer for the rest of the run


def _retry_class() -> Any:
    """urllib3's Retry, except that a failed name lookup or a refused connection is final: retrying
    only adds minutes of waiting on a host without DNS or egress, and the answer will not change
    within a run."""
    from urllib3.exceptions import MaxRetryError
    from urllib3.util.retry import Retry

    class NoRetryOnNameResolution(Retry):
        def increment(
            self,
            method: Any = None,
            url: Any = None,
            response: Any = None,
            error: Any = None,
            _pool: Any = None,
            _stacktrace: Any = None,
        ) -> Any:
            if error is not None and (_name_not_resolved(error) or connection_failure(error) in _FINAL):
                raise MaxRetryError(_pool, url, error) from error
            return super().increment(method, url, response, error, _pool, _stacktrace)

    return NoRetryOnNameResolution


def _short(exc: BaseException) -> str:
    text = str(exc)
    # urllib3 nests whole reprs; the last clause is the informative one.
    return text if len(text) < 200 else text[:200] + "..."
