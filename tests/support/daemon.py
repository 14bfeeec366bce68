"""The daemon as a real process: its notify socket, starting it, stopping it, waiting on it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path


class NotifySocket:
    """A datagram socket standing in for systemd's, bound in the test's temp dir, read continuously."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[str] = []
        self.closed = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while not self.closed.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.extend(data.decode().splitlines())

    def collect(self, until: str, timeout: float = 15.0) -> list[str]:
        """Wait until a received line contains ``until``; every line seen so far is returned."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(until in m for m in list(self.messages)):
                return list(self.messages)
            time.sleep(0.02)
        raise AssertionError(f"no {until!r} within {timeout}s; got {self.messages}")

    def close(self) -> None:
        self.closed.set()
        self.reader.join(timeout=2)
        self.sock.close()


def start_daemon(
    tmp_path: Path, config: Path, notify: NotifySocket, *extra: str, watchdog_usec: int | None = None
) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["NOTIFY_SOCKET"] = str(notify.path)
    if watchdog_usec:
        env["WATCHDOG_USEC"] = str(watchdog_usec)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rotator",
            "daemon",
            "--config",
            str(config),
            "--state-dir",
            str(tmp_path / "state"),
            "--cache-dir",
            str(tmp_path / "cache"),
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, float, str]:
    started = time.monotonic()
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise
    return proc.returncode, time.monotonic() - started, err


def wait_for(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
