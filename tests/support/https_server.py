"""A real HTTPS server on 127.0.0.1 for download tests, with a CA made by the test.

Each path maps to a ``Route``: a list of responses served in turn (the last one repeats),
so a test can say "503 twice, then the certificate".
"""

from __future__ import annotations

import http.server
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.pki import Issued, make_leaf, make_root


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/pkix-cert"
    stall_after: int | None = None  # send this many bytes of the body, then stall
    stall_seconds: float = 0.0
    delay_seconds: float = 0.0  # wait this long before answering at all
    headers: dict[str, str] = field(default_factory=dict)
    drip_seconds: float = 0.0  # send the headers and the body one byte at a time, this far apart
    drip_headers: bool = True  # False: the headers at once, only the body byte by byte


@dataclass
class Route:
    replies: list[Reply]
    hits: int = 0

    def next(self) -> Reply:
        reply = self.replies[min(self.hits, len(self.replies) - 1)]
        self.hits += 1
        return reply


class HttpsServer:
    def __init__(self, directory: Path, port: int = 0, ca: Issued | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.ca: Issued = ca or make_root("rotator test download CA")
        leaf = make_leaf(self.ca, ("localhost",))
        self.ca_file = directory / "download-ca.pem"
        self.ca_file.write_bytes(self.ca.pem)
        cert_file, key_file = leaf.write(directory, "download-server")
        self.routes: dict[str, Route] = {}
        self.static_dir: Path | None = None  # files served as they are on disk at each request
        self.stop_event = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                route = server.routes.get(self.path)
                if route is None and server.static_dir is not None:
                    route = server.static_route(self.path)
                if route is None:
                    self.send_error(404)
                    return
                reply = route.next()
                if reply.drip_seconds:
                    self._drip(reply)
                    return
                if reply.delay_seconds:
                    server.stop_event.wait(reply.delay_seconds)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if reply.stall_after is not None:
                    self.wfile.write(reply.body[: reply.stall_after])
                    self.wfile.flush()
                    server.stop_event.wait(reply.stall_seconds)
                    return
                self.wfile.write(reply.body)

            def _drip(self, reply: Reply) -> None:
                """A hostile server: every byte on its own, each well within a read timeout."""
                head = f"HTTP/1.1 {reply.status} X\r\nContent-Length: {len(reply.body)}\r\n"
                head += "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items()) + "\r\n"
                data = head.encode() + reply.body
                start = 0
                if not reply.drip_headers:
                    self.wfile.write(head.encode())
                    start = len(head)
                for byte in data[start:]:
                    if server.stop_event.wait(reply.drip_seconds):
                        return
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:
                        return

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"https://localhost:{self.port}{path}"

    def serve(self, path: str, *replies: Reply) -> str:
        self.routes[path] = Route(list(replies))
        return self.url(path)

    def static_route(self, path: str) -> Route | None:
        """A file of static_dir, read now (a test may change it between requests); one level, no '..'."""
        assert self.static_dir is not None
        name = path.lstrip("/")
        if not name or "/" in name or name.startswith("."):
            return None
        try:
            return Route([Reply(body=(self.static_dir / name).read_bytes())])
        except OSError:
            return None

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@contextmanager
def https_server(directory: Path, port: int = 0, ca: Issued | None = None) -> Iterator[HttpsServer]:
    server = HttpsServer(directory, port, ca)
    server.start()
    deadline = time.monotonic() + 5
    while not server.thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield server
    finally:
        server.stop()


class PlainHttpServer:
    """Plain http on 127.0.0.1: where a hostile redirect from https points. Every path answers ``body``;
    ``hits`` counts the requests, so a test can tell that nothing followed the redirect."""

    def __init__(self, body: bytes) -> None:
        server = self
        self.body = body
        self.hits = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                server.hits += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def plain_http_server(body: bytes) -> Iterator[PlainHttpServer]:
    server = PlainHttpServer(body)
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(timeout=5)
