"""One timer for the benchmark, the checks and the demo's model choice: calls back to back, or paced like a
camera (a core that idles between frames runs the next call slower, and some runtimes' thread pools sleep)."""
from __future__ import annotations

import time
from typing import Callable

FRAME_INTERVAL_S = 1 / 30  # a 30 fps camera: the demo's workload


def time_calls(function: Callable[[], object], runs: int, warmup: int = 5, interval_s: float = 0.0) -> list[float]:
    """Milliseconds of each of `runs` calls after `warmup` untimed ones; with `interval_s`, a call starts every
    `interval_s` seconds (the time left after a call is slept)."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
        if interval_s:
            time.sleep(max(interval_s - samples[-1] / 1000, 0))
    return samples
