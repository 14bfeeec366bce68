"""Helpers for the client matrix (tests/clients/): Azure-style test chains, an HTTPS server per chain,
a client environment built from scratch, rotator in this process, and the outcome of one connection.

The chains are ``tests.support.pki.make_hierarchy``'s, as in the MySQL rehearsal: stand-ins for DigiCert
Global Root CA (the old root), G2 and Microsoft RSA Root CA 2017 (the new ones) and Microsoft TLS RSA
Root G2 (cross-signed by G2, in no profile).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.pki import Issued
from tests.support.runs import Run, run_in_process
from tests.support.tls_server import server_context

CHAINS = ("old", "new-with-cross-sign", "new-without-cross-sign", "rsa-2017")

# Every variable through which a machine (or a user's shell) changes what a client trusts, how it
# connects or which options file it reads. A client process gets none of them from this one.
TRUST_VARIABLES = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "CURL_HOME",
    "NODE_EXTRA_CA_CERTS",
    "NODE_OPTIONS",
    "NODE_TLS_REJECT_UNAUTHORIZED",
    "AWS_CA_BUNDLE",
    "NIX_SSL_CERT_FILE",
    "PGSSLROOTCERT",
    "PGSSLMODE",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGSYSCONFDIR",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGPASSFILE",
    "MYSQL_HOME",
    "MARIADB_HOME",
    "JAVA_TOOL_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "_JAVA_OPTIONS",
    "JAVA_HOME",
    "GODEBUG",
    "GOFLAGS",
    "OPENSSL_CONF",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
)


def client_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment for one client, from scratch: PATH, a locale, ``HOME`` (a temp dir) and ``extra``."""
    env = {k: os.environ[k] for k in ("PATH", "LANG", "TZ") if k in os.environ}
    env.update(HOME=str(home), NO_PROXY="*", no_proxy="*")
    assert not set(extra) & {"PATH"}, "a client's PATH stays the machine's"
    env.update(extra)
    return env


@dataclass(frozen=True)
class Outcome:
    """What one client did against one server: ``connects``, ``refuses`` (a certificate verify error,
    as that client reports one) or ``error`` (anything else: a test that cannot tell measures nothing)."""

    result: str
    detail: str

    @property
    def connected(self) -> bool:
        return self.result == "connects"


def parse_outcomes(stdout: str, stderr: str, expected: list[str]) -> dict[str, Outcome]:
    """The JSON lines a client script prints, one per chain: ``{"chain", "result", "detail"}``."""
    found: dict[str, Outcome] = {}
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        doc = json.loads(line)
        found[doc["chain"]] = Outcome(doc["result"], doc["detail"])
    for chain in expected:
        if chain not in found:
            found[chain] = Outcome("error", f"no answer for {chain}: {(stdout + stderr).strip()[-600:]}")
    return found


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ChainHttpsServer(http.server.ThreadingHTTPServer):
    """HTTPS on 127.0.0.1 serving one chain; the TLS handshake runs on the request's thread, bounded."""

    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context = context
        self.port: int = self.server_address[1]

    def finish_request(self, request: Any, client_address: Any) -> None:
        assert isinstance(request, socket.socket)
        request.settimeout(10)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except OSError:  # the client refused the chain, or went away
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            with contextlib.suppress(OSError):
                tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet: clients hang up mid-request
        pass


@contextlib.contextmanager
def https_chain_server(directory: Path, chain: list[Issued], key: Issued) -> Iterator[ChainHttpsServer]:
    server = ChainHttpsServer(server_context(directory, chain, key))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Rotator:
    """rotator's command line in this process, with its cache and state under a temp dir (as the ``run``
    fixture does, for fixtures wider than one test)."""

    def __init__(self, cache: Path, state: Path) -> None:
        self.cache, self.state = cache, state

    def __call__(self, *args: str) -> Run:
        return run_in_process([args[0], "--cache-dir", str(self.cache), "--state-dir", str(self.state), *args[1:]])
