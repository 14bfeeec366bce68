"""probe --timeout is one deadline for the whole probe, not one per step: a server that answers each
step just in time cannot stretch it (a real server on 127.0.0.1 that is slow at every step)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.runs import run_process


@pytest.fixture
def slow_postgres() -> Iterator[int]:
    """Answers PostgreSQL's SSLRequest with "S" after 1.8 s, then never says a word of TLS."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        held = []
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.recv(8)
            time.sleep(1.8)
            conn.sendall(b"S")
            held.append(conn)  # the ClientHello goes unanswered until the test ends
        for conn in held:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_a_server_slow_at_every_step_is_cut_off_at_the_one_deadline(slow_postgres: int, tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_process(
        "probe",
        f"127.0.0.1:{slow_postgres}",
        "--starttls",
        "postgres",
        "--timeout",
        "2",
        "--state-dir",
        str(tmp_path / "s"),
        timeout=30,
    )
    elapsed = time.monotonic() - started
    assert result.code == 2, result.out + result.err
    assert "within 2s" in result.err
    # Per step it would be 1.8 s for the SSLRequest plus 2 s for the handshake; one deadline stops at 2 s
    # (the interpreter's start-up comes on top, so the bound is generous but below the per-step sum).
    assert elapsed < 3.6, f"{elapsed:.1f}s"
