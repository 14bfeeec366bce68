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
    timer = threading.Timer(after, progress, args=(f"{message} ...",))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
