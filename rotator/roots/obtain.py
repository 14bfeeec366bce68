"""Obtaining verified copies of roots: cache, mirror, local file, official URLs, embedded copy.

The first candidate that passes every check wins. A candidate that is unreachable or not a
certificate is a warning and the next one is tried; a certificate that contradicts its pin
is a PinMismatch, which stops the run before anything is written.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from rotator.certs import Cert, NotACertificate, parse_one
from rotator.errors import PinMismatch, RootUnavailable, SourceError
from rotator.host.files import atomic_write, read_problem, read_regular
from rotator.progress import Progress, say_if_slow, silent
from rotator.records import TYPE_CHECKING, NamedTuple
from rotator.roots.catalog import RETIRED, Root
from rotator.roots.download_settings import DEFAULT_MAX_BYTES
from rotator.roots.locations import is_url

if TYPE_CHECKING:
    from rotator.roots.download import Downloader

log = logging.getLogger(__name__)

# Sources whose copies passed every check before they got there: rotator writes its cache only
# after them (file named by the pin), and the embedded copies ship checked with the package.
# From these a SHA-256 equal to the pin is the whole proof, and no X.509 parser is loaded.
PROVEN_SOURCES = frozenset({"cache", "embedded"})


class Obtained(NamedTuple):
    root: Root
    cert: Cert
    source: str  # cache | mirror | file | url | embedded
    location: str


class ObtainSettings(NamedTuple):
    at: dt.datetime
    offline: bool = False
    cache_dir: Path | None = None
    mirror: str | None = None
    max_bytes: int = DEFAULT_MAX_BYTES


class Obtainer:
    """Gets each root from the first source that gives a verified copy."""

    def __init__(
        self,
        settings: ObtainSettings,
        downloader: Callable[[], Downloader] | None = None,
        *,
        check: Callable[[], None] | None = None,
        write_cache: bool = True,
        progress: Progress = silent,
    ) -> None:
        self.settings = settings
        self.downloader = downloader  # made on first use: offline runs never build one
        self.warnings: list[str] = []
        self.check = check or (lambda: None)  # raises to abandon the run between candidates
        self.write_cache = write_cache  # False for read-only runs (probe): nothing is written anywhere
        self.progress = progress  # told when one step takes a while
        self._session: Downloader | None = None
        # Roots whose downloads failed and came from a local copy instead: one line for all of them
        # (``report_fallbacks``), since one network outage fails every root the same way.
        self._fallbacks: list[tuple[str, str, str]] = []  # (source used, short reason, per-root detail)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    def obtain_all(self, roots: Sequence[Root]) -> list[Obtained]:
        try:
            return [self.obtain(root) for root in roots]
        finally:
            self.report_fallbacks()

    def report_fallbacks(self) -> None:
        """Say once that downloads failed and local copies were used: how many, why, from where, and
        that ``--offline`` would not have tried. Each root's detail is logged at INFO (``-v``)."""
        if not self._fallbacks:
            return
        count = len(self._fallbacks)
        reasons = list(dict.fromkeys(reason for _, reason, _ in self._fallbacks))
        why = ", ".join(reasons[:2]) + (", ..." if len(reasons) > 2 else "")
        used = " and ".join(dict.fromkeys(_LOCAL_ORIGINS.get(source, source) for source, _, _ in self._fallbacks))
        self._fallbacks = []
        self._warn(
            f"no download ({why}): {count} root{'s' if count != 1 else ''} from {used}; --offline skips the network"
        )

    def obtain(self, root: Root) -> Obtained:
        reasons: list[str] = []
        failed: dict[str, list[str]] = {}  # source -> short reasons, for the one line a user sees
        for source, location, load in self._candidates(root):
            self.check()
            try:
                if is_url(location):
                    with say_if_slow(self.progress, f"root {root.id}: waiting for {location}"):
                        data = load()
                else:  # a local copy is read at once; a watch thread per root would cost more than the read
                    data = load()
                cert = check_candidate(
                    root, data, location, self.settings.at, self.settings.max_bytes, proven=source in PROVEN_SOURCES
                )
            except PinMismatch as exc:
                if source == "cache":
                    # Our own cache file is named by the pin: a mismatch is local corruption.
                    self._warn(f"cache file {location} does not hold root {root.id}; ignoring it")
                    continue
                if source == "file":
                    raise PinMismatch(root.id, location, exc.expected, exc.received, local_file=True) from None
                raise
            except (SourceError, NotACertificate, OSError) as exc:
                short = exc.short if isinstance(exc, SourceError) else _describe(exc)
                reason = str(exc) if isinstance(exc, SourceError) else f"{location}: {short}"
                reasons.append(reason)
                log.debug("root %s: %s; trying the next source", root.id, reason)
                # A cache or mirror lacking a file is normal; only a failure on a real copy is news.
                if not (source in ("cache", "mirror") and isinstance(exc, FileNotFoundError)):
                    host = urlsplit(location).netloc if is_url(location) else None
                    gist = f"{host}: {short}" if host else short
                    failed.setdefault(source, [])
                    if gist not in failed[source]:
                        failed[source].append(gist)
                continue
            if failed:
                detail = f"root {root.id}: {_failures(failed)}, using {_origin(source, location)}"
                if set(failed) == {"url"} and source in _LOCAL_ORIGINS:
                    log.info("%s", detail)
                    reason = failed["url"][0].rpartition(": ")[2]
                    self._fallbacks.append((source, reason, detail))
                else:  # a URL or mirror that failed while another worked is news about that place
                    self._warn(detail)
            if source not in ("cache", "embedded"):
                self._store_in_cache(root, cert)
            log.debug("root %s from %s (%s)", root.id, source, location)
            return Obtained(root=root, cert=cert, source=source, location=location)
        tried = "; ".join(reasons) or "no sources configured"
        hint = (
            "run without --offline, configure a mirror, or give a local file"
            if self.settings.offline
            else "check network access and proxies (--download-ca-bundle), or configure a mirror"
        )
        raise RootUnavailable(f"root {root.id}: no verified copy from any source ({tried}); {hint}")

    def _warn(self, message: str) -> None:
        log.warning("%s", message)
        self.warnings.append(message)

    def _candidates(self, root: Root) -> list[tuple[str, str, Callable[[], bytes]]]:
        s = self.settings
        out: list[tuple[str, str, Callable[[], bytes]]] = []
        if s.cache_dir is not None:
            path = s.cache_dir / f"{root.sha256}.pem"
            out.append(("cache", str(path), _reader(path, s.max_bytes)))
        if s.mirror:
            if is_url(s.mirror):
                if not s.offline:
                    base = s.mirror if s.mirror.endswith("/") else s.mirror + "/"
                    for suffix in (".pem", ".crt"):
                        url = f"{base}{root.id}{suffix}"
                        out.append(("mirror", url, self._fetcher(url)))
            else:
                for suffix in (".pem", ".crt"):
                    path = Path(s.mirror) / f"{root.id}{suffix}"
                    out.append(("mirror", str(path), _reader(path, s.max_bytes)))
        if root.file is not None:
            out.append(("file", str(root.file), _reader(root.file, s.max_bytes)))
        if not s.offline:
            for url in root.urls:
                out.append(("url", url, self._fetcher(url)))
        if root.embedded:
            out.append(("embedded", f"embedded copy of {root.id}", lambda: _embedded(root)))
        return out

    def _fetcher(self, url: str) -> Callable[[], bytes]:
        def fetch() -> bytes:
            if self._session is None:
                if self.downloader is None:
                    raise SourceError(f"{url}: downloads are not available in this run")
                self._session = self.downloader()
            return self._session.get(url)

        return fetch

    def _store_in_cache(self, root: Root, cert: Cert) -> None:
        cache_dir = self.settings.cache_dir
        if cache_dir is None or not self.write_cache:
            return
        try:
            atomic_write(cache_dir / f"{root.sha256}.pem", cert.to_pem(), mode=0o644)
        except Exception as exc:  # noqa: BLE001 - a cache that cannot be written only costs a download
            self._warn(f"could not write cache {cache_dir}: {exc}")


# The sources a failed download falls back to without the network, as the one summary line names them.
_LOCAL_ORIGINS = {"embedded": "the embedded copies", "cache": "the cache", "mirror": "the mirror", "file": "the files"}
_FAILED = {"url": "download failed", "mirror": "mirror failed", "file": "file failed", "cache": "cache failed"}


def _failures(failed: Mapping[str, Sequence[str]]) -> str:
    return "; ".join(f"{_FAILED.get(source, source)} ({', '.join(gists)})" for source, gists in failed.items())


def _origin(source: str, location: str) -> str:
    if source == "embedded":
        return "the embedded copy"
    return f"the cache ({location})" if source == "cache" else location


def check_candidate(
    root: Root, data: bytes, location: str, at: dt.datetime, max_bytes: int, *, proven: bool = False
) -> Cert:
    """Every check a root copy must pass, whatever its source.

    ``proven``: the copy comes from a source that holds only certificates which passed these
    checks already; its bytes equal to the pin are then the same certificate, and only what
    changes with time (expiry) is checked again.
    """
    if len(data) > max_bytes:
        raise SourceError(f"{location}: {len(data)} bytes exceeds the {max_bytes}-byte limit")
    try:
        cert = parse_one(data, lazily=proven)
    except NotACertificate as exc:
        raise SourceError(f"{location}: {exc}") from exc
    if cert.sha256 != root.sha256:
        raise PinMismatch(root.id, location, root.sha256, cert.sha256)
    # From here the bytes are exactly the pinned certificate: a failure below means the pin
    # itself names something that is not a usable root, which no other source can fix.
    if not proven:
        check_root(root, cert)
    if cert.expired(at) and root.status != RETIRED and not root.kept:
        raise RootUnavailable(
            f"root {root.id}: the pinned certificate expired on {cert.not_after:%Y-%m-%d}; "
            "remove it from the profile or pin its successor"
        )
    return cert


def check_root(root: Root, cert: Cert) -> None:
    """The pinned certificate is a self-signed CA whose signature verifies with its own key."""
    if not cert.is_ca:
        raise RootUnavailable(
            f"root {root.id}: the pinned certificate {cert.common_name!r} is not a CA (basicConstraints CA=false); "
            "pin the root certificate, never an intermediate or server certificate"
        )
    if cert.signature_problem:
        raise RootUnavailable(
            f"root {root.id}: the pinned certificate {cert.common_name!r}: {cert.signature_problem} "
            "(itself); pin a root whose signature algorithm clients can check"
        )
    if not cert.is_self_issued or not cert.signed_by(cert):
        raise RootUnavailable(
            f"root {root.id}: the pinned certificate {cert.common_name!r} is not a self-signed root; "
            "pin the root at the top of the chain"
        )


def _embedded(root: Root) -> bytes:
    data = root.embedded_bytes()
    assert data is not None  # only called for embedded roots
    return data


def _reader(path: Path, max_bytes: int) -> Callable[[], bytes]:
    def read() -> bytes:
        return read_regular(path, max_bytes)

    return read


def _describe(exc: BaseException) -> str:
    return read_problem(exc) if isinstance(exc, OSError) else str(exc)


def default_cache_dir(environ: Mapping[str, str], is_root: bool) -> Path:
    """/var/cache/rotator for root, else the XDG cache directory."""
    if is_root:
        return Path("/var/cache/rotator")
    base = environ.get("XDG_CACHE_HOME") or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".cache")
    return Path(base) / "rotator"
