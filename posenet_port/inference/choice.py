"""Which model to run on this machine: the fastest of a build's models that passed their checks, timed here.

The ranking depends on the CPU and the runtime: XNNPACK's int8 PoseNet is 2.3x float32 on a CPU with VNNI and
slower than float32 on one without, and ONNX Runtime, OpenVINO and LiteRT each win somewhere. So every checked
model of every format that runs in this process (formats.py) is a candidate, timed briefly, paced like a 30 fps camera (the demo's workload:
a core that idles between frames runs a call slower than back to back), and the choice is cached in the build
folder with the CPU it was measured on and the candidates' checksums; a change of either measures again.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from posenet_port._util.fileio import parse_json_bounded, write_bytes_atomic
from posenet_port._util.machine import describe_cpu
from posenet_port._util.timing import FRAME_INTERVAL_S
from posenet_port.errors import ModelFileError
from posenet_port.formats.artifacts import MANIFEST_NAME, read_manifest
from posenet_port.formats.registry import FORMATS
from posenet_port.formats.runner import median_ms
from posenet_port.model.spec import DEFAULT_INPUT_SIZE, ModelSpec

CHOICE_NAME = "model_choice.json"
WARMUP_RUNS = 3
GIVE_UP_FACTOR = 3.0  # a candidate whose warm call takes this many times the fastest one is not timed on


@dataclass(frozen=True)
class ModelChoice:
    name: str  # the manifest's artifact name, e.g. tflite-float32, onnx-float32
    path: Path
    median_ms: dict[str, float]  # every candidate's paced network median (one warm call if far slower), fastest first
    cpu: str
    threads: int
    measured: str
    cached: bool = False

    def describe(self) -> str:
        others = ", ".join(f"{name} {ms:.2f} ms" for name, ms in self.median_ms.items())
        when = f"measured {self.measured}, cached" if self.cached else "measured now"
        return (f"{self.name}, the fastest here of {len(self.median_ms)} models that passed their checks "
                f"(paced at 30 fps, {self.threads} threads: {others}; {when}; {self.cpu})")


def choose_model(build_dir: Path, threads: int = 2, input_size: int | None = None, runs: int = 12) -> ModelChoice | None:
    """The fastest checked model of `build_dir` on this CPU (of those taking `input_size`, if given; timed at
    that size, else at 257 or the model's own); None if the build has none."""
    candidates = _checked_models(build_dir, input_size)
    if not candidates:
        return None
    key = {"cpu": describe_cpu(), "threads": threads, "input_size": input_size,
           "sha256": {name: artifact["sha256"] for name, artifact in sorted(candidates.items())}}
    cached = _cached(build_dir, key)
    if cached is not None:
        return cached
    timed = {name: _Timed(build_dir, artifact, threads, input_size) for name, artifact in candidates.items()}
    # One warm call each first: a far slower model (a 16x8 TFLite model, for NPUs, takes 0.4 s a call on a CPU)
    # keeps that time instead of a median of many.
    give_up_ms = GIVE_UP_FACTOR * min(t.warm_call_ms for t in timed.values())
    medians = {name: t.warm_call_ms if t.warm_call_ms > give_up_ms else t.paced_ms(runs) for name, t in timed.items()}
    ranked = dict(sorted(medians.items(), key=lambda item: item[1]))
    best = next(iter(ranked))
    choice = ModelChoice(best, build_dir / candidates[best]["path"], ranked, key["cpu"], threads,
                         time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    record = {**key, "choice": {**asdict(choice), "path": candidates[best]["path"]}}  # relative: the build may move
    write_bytes_atomic(build_dir / CHOICE_NAME, (json.dumps(record, indent=2) + "\n").encode())
    return choice


class _Timed:
    """A candidate opened for timing, with the time of one warm call."""

    def __init__(self, build_dir: Path, artifact: dict, threads: int, input_size: int | None) -> None:
        spec = ModelSpec.from_dict(artifact["spec"], build_dir / MANIFEST_NAME)
        self.runner = FORMATS[spec.format].open(build_dir / artifact["path"], threads, spec)
        self.size = spec.input_size or input_size or DEFAULT_INPUT_SIZE
        self.warm_call_ms = median_ms(self.runner, self.size, runs=1, warmup=1)

    def paced_ms(self, runs: int) -> float:
        return median_ms(self.runner, self.size, runs, FRAME_INTERVAL_S, WARMUP_RUNS)


def _checked_models(build_dir: Path, input_size: int | None) -> dict[str, dict]:
    """Manifest entries of models that passed their checks, run in this process, take `input_size` and whose
    files are there."""
    manifest = build_dir / MANIFEST_NAME
    if not manifest.is_file():
        return {}
    try:
        artifacts = read_manifest(build_dir).get("artifacts", [])
        return {a["name"]: a for a in artifacts
                if a.get("check", {}).get("status") == "PASS" and a.get("spec")
                and a["format"] in FORMATS and FORMATS[a["format"]].in_process
                and (input_size is None or a.get("input_size") in (None, input_size))
                and (build_dir / a["path"]).exists()}
    except (ValueError, AttributeError, KeyError, TypeError) as error:
        raise ModelFileError(f"{manifest}: not a manifest `rebuild` wrote ({error}); run `make rebuild` again") from None


def _cached(build_dir: Path, key: dict) -> ModelChoice | None:
    """The recorded choice if it was measured for this key (CPU, threads, the same files), else None."""
    try:
        record = parse_json_bounded((build_dir / CHOICE_NAME).read_bytes(), CHOICE_NAME, ValueError)
        if {name: record[name] for name in key} != key:
            return None
        fields = record["choice"]
        return ModelChoice(**{**fields, "path": build_dir / fields["path"], "cached": True})
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing, unreadable or from another CPU or build: measure again
