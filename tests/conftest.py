"""Shared fixtures: an isolated environment, the CLI run in-process or as a real process."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rotator.cli import main
from tests.https_server import HttpsServer, https_server

DATA = Path(__file__).parent / "data"
# The roots of the default profile (azure-all), written out: what the tests expect it to be.
AZURE_IDS = [
    "digicert-global-root-g2",
    "digicert-global-root-g3",
    "digicert-tls-ecc-p384-root-g5",
    "digicert-tls-rsa4096-root-g5",
    "microsoft-rsa-root-2017",
    "microsoft-ecc-root-2017",
    "microsoft-tls-rsa-root-g2",
]


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the machine's config, cache or state, or a CA bundle from the environment."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
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
        if argv and argv[0] in ("sync", "mirror", "status", "daemon"):
            if "--cache-dir" not in argv and "--no-cache" not in argv:
                argv[1:1] = ["--cache-dir", str(cache_dir)]
            if "--state-dir" not in argv and argv[0] != "mirror":
                argv[1:1] = ["--state-dir", str(state_dir)]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse
                code = int(exc.code or 0)
        return Run(code, out.getvalue(), err.getvalue())

    return _run


def run_process(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    """Run ``python -m rotator`` as a real process (exit codes and output as a user sees them)."""
    proc = subprocess.run(
        [sys.executable, "-m", "rotator", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else dict(os.environ),
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def https(tmp_path: Path) -> Iterator[HttpsServer]:
    with https_server(tmp_path / "https") as server:
        yield server


def embedded_pem(root_id: str) -> bytes:
    return (Path(__file__).parent.parent / "rotator" / "data" / f"{root_id}.pem").read_bytes()
