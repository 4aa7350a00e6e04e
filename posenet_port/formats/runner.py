"""The interface of every format's runner (`formats/<format>/runner.py`: `open_runner(path, threads, spec)`).

A runner maps a preprocessed [1, H, W, 3] float32 batch to the raw outputs keyed by the canonical names
(`heatmap_2`, `offset_2`, `displacement_fwd_2`, `displacement_bwd_2`, and `heatmap` where the model has it).
"""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from posenet_port._util.timing import time_calls
from posenet_port.errors import ModelFileError, reading
from posenet_port.model.architecture import HEAD_NAMES
from posenet_port.model.spec import ModelSpec, canonical_output_name

Outputs = dict[str, np.ndarray]


class Runner:
    """The interface every format's runner has: a format implements `run`. `input_size` is the one size a
    fixed-input model takes, else None; `source` names the model in errors; `milliseconds` holds the runtime's own
    timings of the last `run_many` where it reports them (tfjs in node), else it stays empty."""

    input_size: int | None = None
    source: str | Path = "model"
    milliseconds: list[float]

    def __call__(self, batch: np.ndarray) -> Outputs:
        # A model that loaded can still fail in its runtime on a damaged node: one clean error naming it.
        with reading(self.source, "the runtime failed to run this model", ModelFileError):
            return self.run(batch)

    def run(self, batch: np.ndarray) -> Outputs:
        raise NotImplementedError

    def run_many(self, batches: Sequence[np.ndarray]) -> list[Outputs]:
        return [self(batch) for batch in batches]


def median_ms(runner: Runner, size: int, runs: int, interval_s: float = 0.0, warmup: int = 5) -> float:
    """Median milliseconds of one call on a random input of `size`: back to back, or one call every
    `interval_s` seconds (timing.time_calls)."""
    batch = np.random.default_rng(0).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
    return statistics.median(time_calls(lambda: runner(batch), runs, warmup, interval_s))


def output_role(names: Iterable[str], spec: ModelSpec | None) -> str | None:
    """The canonical output a tensor with these names is: by the spec's names, else by its name's parts."""
    renamed = {node: canonical for canonical, node in spec.outputs.items()} if spec else {}
    return next((role for role in (renamed.get(n) or canonical_output_name(n) for n in sorted(names)) if role), None)


def check_outputs(names, source) -> None:
    """A model must give the four heads by their canonical names; say which are missing."""
    missing = set(HEAD_NAMES) - set(names)
    if missing:
        raise ModelFileError(f"{source}: the model's outputs lack {', '.join(sorted(missing))}")
