"""Where an ONNX model's time goes, op type by op type (ONNX Runtime's own profiler).

    python tools/profile_ops.py build/posenet_mobilenet_v1_075_stride16_float32.onnx other.onnx --threads 1

Runs each model `--runs` times on a random input of `--size` in ONNX Runtime (CPU) with profiling on, then prints
per op type the milliseconds per run (the sum over its nodes, median run) and its share of the run, with the
CPU's flags: the evidence for what bounds float32 and int8 on a given CPU.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from posenet_port.cli.common import run_cli  # noqa: E402
from posenet_port.model.architecture import HEAD_NAMES  # noqa: E402


def op_times(model: Path, size: int, threads: int, runs: int) -> dict[str, float]:
    """Milliseconds per run spent in each op type (median over runs)."""
    import onnxruntime as ort

    from posenet_port.formats.onnx.runner import read_checked_model

    content, _ = read_checked_model(model)
    with tempfile.TemporaryDirectory(prefix="posenet-profile-") as work:
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        options.enable_profiling, options.profile_file_prefix = True, str(Path(work) / "profile")
        session = ort.InferenceSession(content, options, providers=["CPUExecutionProvider"])
        batch = np.random.default_rng(0).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
        for _ in range(runs):
            session.run(None, {session.get_inputs()[0].name: batch})
        events = json.loads(Path(session.end_profiling()).read_text())
    per_run: dict[str, list[float]] = defaultdict(lambda: [0.0] * runs)
    run = -1
    for event in events:
        if event.get("cat") == "Session" and event.get("name") == "model_run":
            run += 1
        elif event.get("cat") == "Node" and event["name"].endswith("_kernel_time") and 0 <= run < runs:
            per_run[_kind(event["args"]["op_name"], event["name"])][run] += event["dur"] / 1000
    warm = max(runs // 5, 1)  # the first runs allocate and pack weights
    return {op: statistics.median(times[warm:]) for op, times in per_run.items()}


# posenet_port's ONNX writer names each convolution after its MobileNet scope (Conv2d_3_depthwise/Conv2D, ...).
LAYER_KINDS = ("depthwise", "pointwise", "Conv2d_0")
HEADS = HEAD_NAMES


def _kind(op: str, node: str) -> str:
    """The op type, and for a convolution which kind of layer it is (when the node name says)."""
    if "Conv" not in op:
        return op
    kind = next((k for k in LAYER_KINDS if k in node), "head" if any(h in node for h in HEADS) else None)
    return f"{op} ({'conv0' if kind == 'Conv2d_0' else kind})" if kind else op


def main(argv: list[str] | None = None) -> int:
    from posenet_port._util.machine import describe_cpu

    parser = argparse.ArgumentParser(prog="python tools/profile_ops.py", description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path, help="ONNX models")
    parser.add_argument("--size", type=int, default=257, help="input size (default 257)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (default 1)")
    parser.add_argument("--runs", type=int, default=100, help="profiled runs (default 100)")
    args = parser.parse_args(argv)
    print(f"CPU: {describe_cpu()}; input {args.size}, {args.threads} thread(s), median of {args.runs} runs")
    for model in args.models:
        times = op_times(model, args.size, args.threads, args.runs)
        total = sum(times.values())
        print(f"\n{model.name}: {total:.3f} ms in kernels per run")
        for op, milliseconds in sorted(times.items(), key=lambda item: -item[1]):
            print(f"  {op:<24} {milliseconds:8.3f} ms  {milliseconds / total:6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
