"""The fixtures every test may use: an isolated environment, the CLI run in-process, servers.

Helpers that are not fixtures live in tests/support/, imported by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import NotifySocket
from tests.support.https_server import HttpsServer, https_server
from tests.support.runs import Run, run_in_process


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the machine's config, cache or state, or a CA bundle from the environment."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    # As root the locks would live in /var/lib/rotator/locks: this test's own directory instead.
    monkeypatch.setenv("ROTATOR_LOCK_DIR", str(tmp_path / "locks"))
    for var in (
        "ROTATOR_CONFIG",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "SSL_CERT_FILE",
        "NOTIFY_SOCKET",
        "CREDENTIALS_DIRECTORY",
        "JAVA_HOME",
        "https_proxy",
        "HTTPS_PROXY",
        "http_proxy",
        "HTTP_PROXY",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return home


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def run(cache_dir: Path, state_dir: Path) -> object:
    """Run the CLI in this process, with cache and state under tmp (never the machine's)."""

    def _run(*args: str) -> Run:
        argv = list(args)
        if argv and argv[0] in ("sync", "mirror", "status", "daemon", "probe", "forget"):
            if "--cache-dir" not in argv and "--no-cache" not in argv and argv[0] != "forget":
                argv[1:1] = ["--cache-dir", str(cache_dir)]
            if "--state-dir" not in argv and argv[0] != "mirror":
                argv[1:1] = ["--state-dir", str(state_dir)]
        return run_in_process(argv)

    return _run


@pytest.fixture
def https(tmp_path: Path) -> Iterator[HttpsServer]:
    with https_server(tmp_path / "https") as server:
        yield server


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    """A stand-in for systemd's notify socket, in the test's temp dir."""
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()
