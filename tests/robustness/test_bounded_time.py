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


def _hook_run(tmp_path: Path, hook_body: str, hook_timeout: float) -> tuple[list[str], Path]:
    """A sync of a new bundle whose on_change hook is ``hook_body``; returns its argv and the pid file."""
    pid_file = tmp_path / "hook.pids"
    script = tmp_path / "hook.sh"
    script.write_text(f"#!/bin/sh\n{hook_body.format(pids=pid_file)}\n")
    script.chmod(0o755)
    config = tmp_path / "rotator.toml"
    config.write_text(
        f'hook_timeout = {hook_timeout}\non_change = ["{script}"]\n'
        f'[[targets]]\nkind = "pem"\npath = "{tmp_path / "roots.pem"}"\n'
    )
    argv = [sys.executable, "-m", "rotator", "sync", "--offline", "--no-cache", "--profile", "azure-minimal"]
    return [*argv, "--config", str(config), "--state-dir", str(tmp_path / "state")], pid_file


def _pids(pid_file: Path, count: int, timeout: float = 60) -> list[int]:
    """The pids the hook wrote, one a line, once it has written ``count`` of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = pid_file.read_text().split() if pid_file.exists() else []
        if len(lines) >= count:
            return [int(line) for line in lines]
        time.sleep(0.05)
    raise AssertionError(f"the hook wrote no {count} pids to {pid_file} within {timeout}s")


def _all_gone(pids: list[int], timeout: float = 5) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


# A hook that leaves a child behind in the background and then waits itself: the child is
# re-parented when the hook dies, which is how a bare subprocess.run timeout let it live on.
FORKING_HOOK = "sleep 300 &\necho $! >> {pids}\necho $$ >> {pids}\nsleep 300"


@pytest.mark.slow
@pytest.mark.parametrize("hook_body", [FORKING_HOOK, "sleep 300 &\necho $! >> {pids}\necho $$ >> {pids}\nexit 0"])
def test_a_hook_past_its_timeout_is_stopped_with_what_it_started(tmp_path: Path, hook_body: str) -> None:
    """Whether the hook still runs or has exited leaving a child that holds its output, the
    timeout ends the wait and nothing the hook started is left."""
    argv, pid_file = _hook_run(tmp_path, hook_body, hook_timeout=1)
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env(tmp_path), timeout=120)
    pids = _pids(pid_file, 2, timeout=1)
    try:
        assert proc.returncode == 1, proc.stderr
        assert "did not finish within 1s and was stopped, with what it started" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert time.monotonic() - started < 30
        assert _all_gone(pids) == [], "a process the hook started outlived the timeout"
        assert "# rotator-digicert-global-root-g2" in (tmp_path / "roots.pem").read_text()  # the store keeps it
    finally:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_hook_dies_with_a_killed_run_and_so_does_its_child(tmp_path: Path) -> None:
    """SIGKILL, which rotator cannot catch: the hook and the child it forked are both gone after."""
    argv, pid_file = _hook_run(tmp_path, FORKING_HOOK, hook_timeout=600)
    proc = subprocess.Popen(argv, env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pids: list[int] = []
    try:
        pids = _pids(pid_file, 2)
        assert all(_alive(p) for p in pids)
        proc.kill()
        proc.wait(timeout=30)
        assert _all_gone(pids) == [], "a hook process outlived the killed run"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_hook_that_detaches_properly_is_waited_for_only_until_it_exits(tmp_path: Path) -> None:
    """A hook that starts a daemon the usual way (output closed, own session) returns at once, and
    the daemon it meant to start is left running: only what holds the run's output is waited for."""
    hook = "setsid sleep 300 </dev/null >/dev/null 2>&1 &\necho $! >> {pids}\nexit 0"
    argv, pid_file = _hook_run(tmp_path, hook, hook_timeout=60)
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env(tmp_path), timeout=120)
    pids = _pids(pid_file, 1, timeout=1)
    try:
        assert proc.returncode == 0, proc.stderr
        assert time.monotonic() - started < 30
        assert _alive(pids[0]), "a daemon the hook started on purpose was killed"
    finally:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_hook_gets_its_variables_and_its_failure_is_reported(tmp_path: Path) -> None:
    argv, pid_file = _hook_run(tmp_path, 'echo "$ROTATOR_ADDED" > {pids}\necho "no reload" >&2\nexit 3', 60)
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env(tmp_path), timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "exited 3: no reload; the store keeps its new roots" in proc.stderr
    assert "digicert-global-root-g2" in pid_file.read_text()
