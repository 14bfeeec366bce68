"""Small timing helpers shared by the benchmarks: medians of wall-clock runs of real commands."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

ROTATOR = [sys.executable, "-m", "rotator"]


def run(argv: Sequence[str], **kwargs: object) -> None:
    subprocess.run(list(argv), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300,
                   **kwargs)  # type: ignore[call-overload]


def median_seconds(action: Callable[[], None], setup: Callable[[], None] | None = None, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def report(title: str, rows: list[tuple[str, float]], baseline: str) -> None:
    base = dict(rows)[baseline]
    print(f"\n{title}")
    for name, seconds in rows:
        print(f"  {name:58} {seconds * 1000:9.1f} ms   {seconds / base:6.2f}x of {baseline.split(' ')[0]}")
