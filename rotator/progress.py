"""Telling the user what a run waits for, when a step takes longer than a moment.

The message goes to a callback (``rotator.cli.main`` prints it on stderr), so nothing here prints.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

SLOW_STEP = 2.0  # seconds a step may take before the user is told what it waits for

Progress = Callable[[str], None]


def silent(message: str) -> None:
    """The progress callback of runs nobody watches."""


@contextlib.contextmanager
def say_if_slow(progress: Progress, message: str, after: float = SLOW_STEP) -> Iterator[None]:
    """Tell ``progress`` once, if the block is still running after ``after`` seconds."""
    with unless_done_within(after, lambda: progress(f"{message} ...")):
        yield


@contextlib.contextmanager
def unless_done_within(seconds: float, act: Callable[[], object]) -> Iterator[None]:
    """Call ``act`` once, from a timer thread, if the block is still running after ``seconds``;
    the timer never keeps the process alive and is cancelled however the block ends."""
    timer = threading.Timer(seconds, act)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
