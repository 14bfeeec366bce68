"""Bounded time: hostile servers, special files where files are read, and refresh commands on interrupt.

Each hostile case would run for minutes or forever without its bound; the assertions check that
the run ended with rotator's own error, within a bound far below what the server asks for.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rotator.errors import SourceError
from rotator.roots.download import Downloader, DownloadSettings
from tests.support.https_server import HttpsServer, Reply
from tests.support.pki import make_root
from tests.support.runs import run_process

ROOT = make_root("Bounded Time Root")

# After a 503 retried past the deadline, urllib3 can leave one socket for the garbage collector to
# close. It is collected after each test here, so its ResourceWarning cannot land on a later test.
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture(autouse=True)
def _collect_sockets() -> Iterator[None]:
    yield
    gc.collect()


def _downloader(https: HttpsServer, **overrides: float) -> Downloader:
    settings = DownloadSettings(
        ca_bundle=https.ca_file, connect_timeout=2, read_timeout=1.5, total_timeout=2, retries=2
    )
    return Downloader(settings._replace(**overrides))


@pytest.mark.slow
@pytest.mark.parametrize(
    "reply, what",
    [
        (Reply(body=ROOT.der, drip_seconds=0.25, drip_headers=False), "slow-drip body under a Content-Length"),
        (Reply(body=ROOT.der, drip_seconds=0.25), "headers sent a byte at a time"),
        (Reply(status=503, body=b"busy", headers={"Retry-After": "1000"}), "503 with Retry-After: 1000"),
    ],
)
def test_hostile_download_fails_within_its_deadline(https: HttpsServer, reply: Reply, what: str) -> None:
    url = https.serve("/hostile", reply)
    downloader = _downloader(https)
    started = time.monotonic()
    try:
        with pytest.raises(SourceError) as raised:
            downloader.get(url)
    finally:
        downloader.close()
        gc.collect()
    elapsed = time.monotonic() - started
    # Unbounded, each of these takes minutes (the drip: hundreds of bytes a quarter second apart;
    # the 503: 1000 s per retry). The deadline is 2 s; the margin covers a loaded machine.
    assert elapsed < 15, (what, elapsed)
    assert url in str(raised.value)


@pytest.mark.slow
def test_the_run_budget_is_shared_by_every_download(https: HttpsServer) -> None:
    url = https.serve("/slow", Reply(body=ROOT.der, drip_seconds=0.25, drip_headers=False))
    downloader = _downloader(https, budget=1.0, total_timeout=30)
    try:
        with pytest.raises(SourceError, match="no complete answer within"):
            downloader.get(url)
        with pytest.raises(SourceError, match="download budget of 1s is used up"):
            downloader.get(url)
    finally:
        downloader.close()


def test_a_served_copy_within_the_deadline_still_arrives(https: HttpsServer) -> None:
    url = https.serve("/ok", Reply(body=ROOT.der))
    downloader = _downloader(https)
    try:
        assert downloader.get(url) == ROOT.der
    finally:
        downloader.close()


# -- special files where rotator reads files ------------------------------------------------------


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "xc"), XDG_STATE_HOME=str(tmp_path / "xs"))
    return env


@pytest.mark.parametrize("where", ["cache", "mirror", "state", "target"])
def test_a_fifo_is_never_opened_for_reading(tmp_path: Path, where: str) -> None:
    """A FIFO with no writer blocks a plain open() forever; rotator must not wait on it."""
    cache, mirror, state = tmp_path / "cache", tmp_path / "mirror", tmp_path / "state"
    for d in (cache, mirror, state):
        d.mkdir()
    target = tmp_path / "bundle.pem"
    config = tmp_path / "rotator.toml"
    fifo = {
        "cache": cache / "cb3ccbb76031e5e0138f8dd39a23f9de47ffc35e43c1144cea27d46a5ab1cb5f.pem",
        "mirror": mirror / "digicert-global-root-g2.pem",
        "state": state / "state.json",
        "target": target,
    }[where]
    config.write_text("")
    os.mkfifo(fifo)
    result = run_process(
        "sync",
        "--offline",
        "--config",
        str(config),
        "--cache-dir",
        str(cache),
        "--mirror",
        str(mirror),
        "--state-dir",
        str(state),
        "--target",
        f"pem:{target}",
        env=_env(tmp_path),
        timeout=60,
    )
    if where in ("cache", "mirror"):
        # Another source (the embedded copy) is used; the FIFO is named in a warning.
        assert result.code == 0, result.err
        assert "not a regular file" in result.err
    else:
        assert result.code in (1, 2), result.err
        assert "not a regular file" in result.err, result.err
        assert "Traceback" not in result.err
    assert Path(fifo).exists()


# -- refresh commands on interrupt ----------------------------------------------------------------


@pytest.mark.slow
def test_refresh_command_dies_with_an_interrupted_run(tmp_path: Path) -> None:
    """A refresh still running when rotator is interrupted must not live on in a session of its own.

    The refresh command here is a stand-in script (the distribution's refresh cannot be made to
    hang on purpose): it records its pid and sleeps.
    """
    sysroot = tmp_path / "root"
    (sysroot / "usr/local/share/ca-certificates").mkdir(parents=True)
    (sysroot / "etc/ssl/certs").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pid_file = tmp_path / "refresh.pid"
    script = bin_dir / "update-ca-certificates"
    script.write_text(
        textwrap.dedent(f"""\
        #!/bin/sh
        echo $$ > {pid_file}
        exec sleep 300
        """)
    )
    script.chmod(0o755)
    config = tmp_path / "rotator.toml"
    config.write_text('[[targets]]\nkind = "system"\ndistro = "debian"\nrefresh = "host"\nrefresh_timeout = 600\n')
    env = _env(tmp_path)
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rotator",
            "sync",
            "--offline",
            "--no-cache",
            "--config",
            str(config),
            "--sysroot",
            str(sysroot),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        refresh_pid = int(pid_file.read_text())
        os.kill(proc.pid, signal.SIGINT)  # an interrupt to rotator alone, as a supervisor might send
        proc.communicate(timeout=60)
        for _ in range(100):
            if not _alive(refresh_pid):
                break
            time.sleep(0.05)
        assert not _alive(refresh_pid), "the refresh command outlived the run"
    finally:
        os.killpg(proc.pid, signal.SIGKILL) if _alive(proc.pid) else None
        if pid_file.exists() and pid_file.read_text().strip() and _alive(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


@pytest.mark.slow
def test_refresh_command_dies_when_the_run_is_killed(tmp_path: Path) -> None:
    """Even SIGKILL, which rotator cannot catch: the refresh is tied to rotator's life."""
    sysroot = tmp_path / "root"
    (sysroot / "usr/local/share/ca-certificates").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pid_file = tmp_path / "refresh.pid"
    script = bin_dir / "update-ca-certificates"
    script.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 300\n")
    script.chmod(0o755)
    config = tmp_path / "rotator.toml"
    config.write_text('[[targets]]\nkind = "system"\ndistro = "debian"\nrefresh = "host"\nrefresh_timeout = 600\n')
    env = _env(tmp_path)
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rotator",
            "sync",
            "--offline",
            "--no-cache",
            "--config",
            str(config),
            "--sysroot",
            str(sysroot),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        refresh_pid = int(pid_file.read_text())
        proc.kill()
        proc.wait(timeout=30)
        for _ in range(100):
            if not _alive(refresh_pid):
                break
            time.sleep(0.05)
        assert not _alive(refresh_pid), "the refresh command outlived a killed run"
    finally:
        if pid_file.exists() and pid_file.read_text().strip() and _alive(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[-1][:1] != "Z"
    except FileNotFoundError:
        return False
