"""A hard deadline for HTTP exchanges: when it passes, every socket opened under it is shut down.

requests' timeouts bound each socket operation, not the exchange: a server that sends headers
or a body one byte at a time, each within the read timeout, would keep a download going for
hours. The watchdog here is a timer that shuts the sockets down, which makes a blocked read
return at once wherever it is (TLS handshake, headers, body), so the caller fails in time.
Waiting between retries (``Retry-After``, back-off) is cut to what is left of the deadline.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

from rotator.progress import unless_done_within
from rotator.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any


class Watchdog:
    """Holds a duplicate of every socket opened while armed: TLS wrapping detaches the original
    socket object, but a duplicate still reaches the same connection, so shutting it down ends
    the exchange at whatever stage it is. The duplicates are closed when the watchdog disarms,
    so callers must not reuse a connection across two armed periods (Downloader clears its pool)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._ends_at: float | None = None
        self.expired = False

    def remaining(self) -> float:
        with self._lock:
            return float("inf") if self._ends_at is None else max(0.0, self._ends_at - time.monotonic())

    def register(self, sock: socket.socket) -> None:
        try:
            duplicate = sock.dup()
        except OSError:
            return
        with self._lock:
            self._sockets.append(duplicate)
            if self.expired:
                _shut(duplicate)

    @contextlib.contextmanager
    def armed(self, seconds: float) -> Iterator[None]:
        with self._lock:
            self.expired = False
            self._ends_at = time.monotonic() + seconds
        try:
            with unless_done_within(seconds, self._fire):
                yield
        finally:
            with self._lock:
                self._ends_at = None
                for sock in self._sockets:
                    sock.close()
                self._sockets.clear()

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in list(self._sockets):
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def adapter(watchdog: Watchdog, retry: Any) -> Any:
    """A requests HTTPAdapter whose connections register their sockets with ``watchdog``."""
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Plain(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            watchdog.register(sock)
            return sock

    class Tls(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            watchdog.register(sock)
            return sock

    class PlainPool(HTTPConnectionPool):
        ConnectionCls = Plain

    class TlsPool(HTTPSConnectionPool):
        ConnectionCls = Tls

    pools = {"http": PlainPool, "https": TlsPool}

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools

        def proxy_manager_for(self, proxy: Any, **kwargs: Any) -> Any:
            manager = super().proxy_manager_for(proxy, **kwargs)
            manager.pool_classes_by_scheme = pools
            return manager

    return Adapter(max_retries=retry)


def retry_class(watchdog: Watchdog, longest: float, base: Any = None) -> Any:
    """urllib3's Retry (or ``base``), sleeping between attempts at most ``longest`` seconds and never
    past the deadline, whatever ``Retry-After`` asks for."""
    from urllib3.util.retry import Retry

    parent = base or Retry

    class BoundedRetry(parent):  # type: ignore[misc, valid-type]
        def sleep(self, response: Any = None) -> None:
            wanted = None
            if response is not None and self.respect_retry_after_header:
                with contextlib.suppress(Exception):  # a malformed Retry-After counts as none
                    wanted = self.get_retry_after(response)
            if wanted is None:
                wanted = self.get_backoff_time()
            time.sleep(max(0.0, min(float(wanted), longest, watchdog.remaining())))

    return BoundedRetry
