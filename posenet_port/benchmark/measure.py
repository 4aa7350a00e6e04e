"""Measuring: timings with their spread, the machine they ran on, and one model's latencies in a process of
its own (so its peak memory is its own)."""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from posenet_port._util.machine import cpu_flags, cpu_model
from posenet_port._util.timing import FRAME_INTERVAL_S, time_calls


@dataclass(frozen=True)
class Timing:
    label: str
    median_ms: float
    p10_ms: float
    p90_ms: float
    runs: int


def measure(label: str, function: Callable[[], object], runs: int, warmup: int = 5, interval_s: float = 0.0) -> Timing:
    """`function` timed back to back, or paced: one call every `interval_s` seconds (timing.time_calls)."""
    return measure_stats(label, time_calls(function, runs, warmup, interval_s))


def measure_stats(label: str, samples_ms: list[float]) -> Timing:
    p10, p90 = np.percentile(samples_ms, [10, 90])
    return Timing(label, statistics.median(samples_ms), float(p10), float(p90), len(samples_ms))


def machine() -> dict:
    import importlib.metadata
    import shutil
    import subprocess

    facts = {"CPU": cpu_model(), "CPU flags": " ".join(cpu_flags()) or "none that matter",
             "cores": os.cpu_count(), "Python": platform.python_version()}
    for package in ("numpy", "tensorflow", "ai-edge-litert", "onnxruntime", "openvino", "tensorflowjs", "opencv-python-headless"):
        try:
            facts[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            facts[package] = "not installed"
    node = shutil.which("node")
    facts["node"] = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip() if node else "none"
    facts["@tensorflow/tfjs"] = "4.22.0 (package-lock.json)"
    facts["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return facts


@dataclass(frozen=True)
class LatencySpec:
    """One model to time: `format` is its registry name, `spec` the ModelSpec its build recorded."""

    label: str  # e.g. "TFLite int8"
    name: str  # its name in the build's manifest and check report, e.g. "tflite-int8-gptq"
    format: str
    path: str
    size: int
    threads: int | None
    runs: int
    spec: dict


PACED_RUNS = 40  # calls 33 ms apart: 1.3 s per figure
FIGURE_BUDGET_S = 10.0  # back-to-back runs of a model slower than 50 ms are cut to fit (16x8 TFLite: 0.4 s a run)
MIN_RUNS = 10


def affordable_runs(function: Callable[[], object], runs: int) -> int:
    """`runs`, or fewer (at least MIN_RUNS) if one call of `function` says they would take over FIGURE_BUDGET_S."""
    start = time.perf_counter()
    function()
    return max(MIN_RUNS, min(runs, int(FIGURE_BUDGET_S / max(time.perf_counter() - start, 1e-9))))


def worker(latency: LatencySpec) -> dict:
    """In a fresh process: network latency and end-to-end time per 640x480 frame, each back to back and paced
    like a 30 fps camera; decode times; peak RSS."""
    import cv2

    from posenet_port._util.machine import keep_freed_memory
    from posenet_port.formats.registry import FORMATS
    from posenet_port.inference.decode import decode_multiple_poses, decode_single_pose
    from posenet_port.inference.estimator import network_outputs
    from posenet_port.inference.preprocess import load_image, preprocess
    from posenet_port.model.spec import ModelSpec
    from posenet_port.pipeline.photos import SOLVAY_1927

    keep_freed_memory()
    spec = ModelSpec.from_dict(latency.spec)
    stride = spec.output_stride
    run = FORMATS[latency.format].open(latency.path, latency.threads or 2, spec)
    frame = cv2.resize(load_image(SOLVAY_1927)[:, :1229], (640, 480), interpolation=cv2.INTER_AREA)
    batch, box = preprocess(frame, latency.size)
    runs = affordable_runs(lambda: run(batch), latency.runs)
    network = measure("network", lambda: run(batch), runs)
    outputs = network_outputs(run(batch), box, stride)
    tensors = (outputs.scores, outputs.offsets, outputs.displacements_fwd, outputs.displacements_bwd)

    def end_to_end():
        frame_batch, frame_box = preprocess(frame, latency.size)
        o = network_outputs(run(frame_batch), frame_box, stride)
        return [p.scaled(frame_box) for p in decode_multiple_poses(o.scores, o.offsets, o.displacements_fwd, o.displacements_bwd, stride)]

    paced_runs = min(runs, PACED_RUNS)
    # CPU time of the whole paced stretch, idle gaps included: a runtime whose threads spin after a call pays
    # for its paced speed here (warmed up already, so no untimed calls inside the stretch).
    cpu_start = time.process_time()
    network_paced = measure("network, paced", lambda: run(batch), paced_runs, warmup=0, interval_s=FRAME_INTERVAL_S)
    cpu_ms_per_frame = (time.process_time() - cpu_start) * 1000 / paced_runs
    return {
        "network": asdict(network),
        "network_paced": asdict(network_paced),
        "cpu_ms_per_paced_frame": cpu_ms_per_frame,
        "end_to_end": asdict(measure("end to end", end_to_end, runs)),
        "end_to_end_paced": asdict(measure("end to end, paced", end_to_end, paced_runs, interval_s=FRAME_INTERVAL_S)),
        "decode_multi": asdict(measure("multi", lambda: decode_multiple_poses(*tensors, stride), latency.runs)),
        "decode_single": asdict(measure("single", lambda: decode_single_pose(tensors[0], tensors[1], stride), latency.runs)),
        "peak_rss_bytes": peak_rss_bytes(),
    }


def gflops(row: dict) -> float:
    """A latency row's network speed: 2 FLOPs per multiply-add over the median latency, in GFLOP/s."""
    return 2 * row["macs"] / (row["network"]["median_ms"] / 1000) / 1e9


PEAK_SIZE = 1024  # square matrices: large enough that the kernels, not the call, set the pace


def peak_throughput(threads: int, runs: int = 20) -> dict[str, float]:
    """This CPU's practical limit: ONNX Runtime's float32 MatMul and u8 x s8 MatMulInteger (the kernels its convs
    and int8 models use) on square matrices, in GFLOP/s and GOP/s (2 per multiply-add)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    cases = {
        "float32": ("MatMul", TensorProto.FLOAT, TensorProto.FLOAT, TensorProto.FLOAT,
                    rng.standard_normal((PEAK_SIZE, PEAK_SIZE)).astype(np.float32),
                    rng.standard_normal((PEAK_SIZE, PEAK_SIZE)).astype(np.float32)),
        "int8": ("MatMulInteger", TensorProto.UINT8, TensorProto.INT8, TensorProto.INT32,
                 rng.integers(0, 256, (PEAK_SIZE, PEAK_SIZE), dtype=np.uint8),
                 rng.integers(-128, 128, (PEAK_SIZE, PEAK_SIZE), dtype=np.int8)),
    }
    peaks = {}
    for name, (op, a_type, b_type, c_type, a, b) in cases.items():
        shape = [PEAK_SIZE, PEAK_SIZE]
        graph = helper.make_graph(
            [helper.make_node(op, ["A", "B"], ["C"])], name,
            [helper.make_tensor_value_info("A", a_type, shape), helper.make_tensor_value_info("B", b_type, shape)],
            [helper.make_tensor_value_info("C", c_type, shape)])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        milliseconds = statistics.median(time_calls(lambda: session.run(None, {"A": a, "B": b}), runs))
        peaks[name] = 2 * PEAK_SIZE ** 3 / (milliseconds / 1000) / 1e9
    return peaks


def peak_rss_bytes() -> int:
    """This process's own peak resident memory (VmHWM). Not getrusage: its ru_maxrss survives fork and exec, so
    a child would report its parent's peak."""
    with open("/proc/self/status") as status:
        kilobytes = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return kilobytes * 1024


def run_worker(latency: LatencySpec) -> dict:
    """`worker` in a fresh Python process (`python -m posenet_port.bench --worker`)."""
    import subprocess

    completed = subprocess.run(
        [sys.executable, "-m", "posenet_port.bench", "--worker", json.dumps(asdict(latency))],
        capture_output=True, text=True, timeout=900,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark worker for {latency.label} at {latency.size} failed: {completed.stderr[-800:]}")
    return json.loads(lines[-1])
