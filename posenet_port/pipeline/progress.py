"""Progress of long work: each step printed as it starts, with how long it took."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator

from posenet_port.errors import check_interrupted


class StepTimer:
    """Prints each step as it starts and how long it took; keeps the durations for reports."""

    def __init__(self, total: int, stream=sys.stdout) -> None:
        self.total = total
        self.stream = stream
        self.durations: dict[str, float] = {}

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        check_interrupted()
        index = len(self.durations) + 1
        print(f"[{index}/{self.total}] {label} ...", file=self.stream, flush=True)
        start = time.perf_counter()
        yield
        check_interrupted()
        self.durations[label] = time.perf_counter() - start
        print(f"      done in {self.durations[label]:.2f} s", file=self.stream, flush=True)
