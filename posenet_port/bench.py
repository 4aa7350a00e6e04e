"""python -m posenet_port.bench: measured speed on this machine, written to BENCHMARKS.md and benchmarks.json.

Every figure is a median over repeated runs after warm-up, with p10 / p90 for spread, and ratios are taken
against a baseline measured in the same process. Sections can be run alone; the report keeps the others.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .cli import keep_freed_memory, path_size, run_cli
from .fileio import atomic_path, write_bytes_atomic
from .machine import cpu_flags, cpu_model, describe_cpu, has_vnni

REPORT_MD = "BENCHMARKS.md"
REPORT_JSON = "benchmarks.json"
CHART = "benchmarks.png"


@dataclass(frozen=True)
class Timing:
    label: str
    median_ms: float
    p10_ms: float
    p90_ms: float
    runs: int


def measure(label: str, function: Callable[[], object], runs: int, warmup: int = 5) -> Timing:
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return measure_stats(label, samples)


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


@dataclass
class Section:
    title: str
    timings: list[Timing] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)  # per-artifact measurements (latency section)
    # Sections can be rerun alone on another machine: each names the CPU (and its kernel flags) it ran on.
    cpu: str = field(default_factory=describe_cpu)


def machine() -> dict:
    import importlib.metadata
    import shutil
    import subprocess

    facts = {"CPU": cpu_model(), "CPU flags": " ".join(cpu_flags()) or "none that matter",
             "cores": os.cpu_count(), "Python": platform.python_version()}
    for package in ("numpy", "tensorflow", "ai-edge-litert", "tensorflowjs", "opencv-python-headless"):
        try:
            facts[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            facts[package] = "not installed"
    node = shutil.which("node")
    facts["node"] = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip() if node else "none"
    facts["@tensorflow/tfjs"] = "4.22.0 (package-lock.json)"
    facts["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return facts


def bench_decode(runs: int) -> Section:
    """Decoding the Solvay photo's tensors (29 people) at input 257, against inference in the same run."""
    from .decode import decode_multiple_poses, decode_single_pose
    from .estimator import PoseEstimator
    from .preprocess import load_image, preprocess
    from .samples import SOLVAY_1927

    estimator = PoseEstimator(input_size=257)
    rgb = load_image(SOLVAY_1927)
    batch, _ = preprocess(rgb, 257)
    outputs = estimator.infer(rgb)
    tensors = (outputs.scores, outputs.offsets, outputs.displacements_fwd, outputs.displacements_bwd)
    poses = decode_multiple_poses(*tensors, 16)
    section = Section("Pose decoding (Solvay 1927 photo, input 257, output stride 16)")
    section.timings = [
        measure("multi-pose decode (max 10 poses)", lambda: decode_multiple_poses(*tensors, 16), runs),
        measure("single-pose decode", lambda: decode_single_pose(tensors[0], tensors[1], 16), runs),
        measure("preprocess (2048x922 photo -> 257x257)", lambda: preprocess(rgb, 257), max(runs // 4, 20)),
        measure("baseline: TF graph inference at 257", lambda: estimator.runner(batch), max(runs // 4, 20)),
    ]
    multi, inference = section.timings[0].median_ms, section.timings[3].median_ms
    share = multi / inference
    section.notes = [
        f"{len(poses)} poses decoded in {multi:.3f} ms: {share:.1%} of one TF inference measured in the same run "
        f"(target <= 12.5%, the 1 ms of the benchmark issue against the 8 ms inference it was set beside: "
        f"{_met(share <= 0.125)}).",
    ]
    return section


def demo_video(path: Path, frames: int, size: tuple[int, int] = (640, 480)) -> Path:
    """A 640x480 mp4 panning over the sample photos: the demo benchmark's input."""
    import cv2

    from .samples import sample_photos

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, size)
    photos = [cv2.imread(str(p)) for p in sample_photos()]
    for index in range(frames):
        image = photos[index * len(photos) // frames]
        height, width = image.shape[:2]
        crop_w = min(width, height * size[0] // size[1])
        x0 = (width - crop_w) * (index % 30) // 30
        writer.write(cv2.resize(image[:, x0 : x0 + crop_w], size, interpolation=cv2.INTER_AREA))
    writer.release()
    return path


def bench_demo(runs: int, build_dir: Path = Path("build")) -> Section:
    """The demo loop without display (read, preprocess, infer, decode, draw, write video) on a 640x480 video."""
    import tempfile

    from .choice import choose_model
    from .errors import ModelFileError
    from .estimator import DecodeOptions, PoseEstimator
    from .live import CaptureSource, VideoSink, run_loop

    paths = _build_paths(build_dir)
    choice = choose_model(build_dir, threads=2)
    if choice is None:
        raise ModelFileError(f"{build_dir}: no TFLite model passed its checks; run `make rebuild`")
    chosen = f"{choice.name} (the demo's choice)"
    models = [(chosen, choice.path), ("baseline: TF frozen graph", paths["frozen-graph"])]
    frames = max(runs, 100)
    section = Section(f"Demo loop, no display: {frames} frames of 640x480 video, input 257, 2 threads")
    with tempfile.TemporaryDirectory() as work:
        video = demo_video(Path(work) / "pan.mp4", frames)
        fps = {}
        for label, model in models:
            estimator = PoseEstimator(model, 257, threads=2)
            per_run = []
            for repeat in range(3):
                sink = VideoSink(Path(work) / f"out{repeat}.mp4", 30)
                stats = run_loop(CaptureSource(video), estimator, DecodeOptions(), [sink])
                per_run.append(stats.fps)
            fps[label] = statistics.median(per_run)
            per_frame = 1000 / fps[label]
            section.timings.append(Timing(f"{label}: whole loop per frame ({fps[label]:.0f} fps)", per_frame,
                                          1000 / max(per_run), 1000 / min(per_run), 3))
            section.timings.append(measure_stats(f"{label}: preprocess + inference", stats.inference_ms))
            section.timings.append(measure_stats(f"{label}: decode", stats.decode_ms))
    section.notes = [
        f"{choice.name}, the checked model the demo picks on this CPU, runs the whole loop at {fps[chosen]:.0f} fps "
        f"(median of 3 runs), {fps[chosen] / fps['baseline: TF frozen graph']:.1f}x as fast as the TF frozen graph in "
        "the same run.",
    ]
    return section


def measure_stats(label: str, samples_ms: list[float]) -> Timing:
    p10, p90 = np.percentile(samples_ms, [10, 90])
    return Timing(label, statistics.median(samples_ms), float(p10), float(p90), len(samples_ms))


# --------------------------------------------------------------------------------------------------------------
# Latency of every artifact, each measured in its own process (so peak memory is its own)
# --------------------------------------------------------------------------------------------------------------

SIZES = (257, 353)
FASTEST_INT8 = "int8-gptq"  # the int8 recipe the notes compare; int8 runs as fast, with worse keypoints


@dataclass(frozen=True)
class LatencySpec:
    label: str  # e.g. "TFLite int8"
    kind: str  # frozen-graph, savedmodel, tflite
    path: str
    size: int
    threads: int | None
    runs: int


def worker(spec: LatencySpec) -> dict:
    """In a fresh process: network latency, end-to-end time per 640x480 frame, decode times, peak RSS."""
    import cv2

    from .decode import decode_multiple_poses, decode_single_pose
    from .estimator import network_outputs
    from .preprocess import load_image, preprocess
    from .samples import SOLVAY_1927

    keep_freed_memory()
    run = _runner(spec)
    frame = cv2.resize(load_image(SOLVAY_1927)[:, :1229], (640, 480), interpolation=cv2.INTER_AREA)
    batch, box = preprocess(frame, spec.size)
    network = measure("network", lambda: run(batch), spec.runs)
    outputs = network_outputs(run(batch), box, 16)
    tensors = (outputs.scores, outputs.offsets, outputs.displacements_fwd, outputs.displacements_bwd)

    def end_to_end():
        frame_batch, frame_box = preprocess(frame, spec.size)
        o = network_outputs(run(frame_batch), frame_box, 16)
        return [p.scaled(frame_box) for p in decode_multiple_poses(o.scores, o.offsets, o.displacements_fwd, o.displacements_bwd, 16)]

    return {
        "network": asdict(network),
        "end_to_end": asdict(measure("end to end", end_to_end, spec.runs)),
        "decode_multi": asdict(measure("multi", lambda: decode_multiple_poses(*tensors, 16), spec.runs)),
        "decode_single": asdict(measure("single", lambda: decode_single_pose(tensors[0], tensors[1], 16), spec.runs)),
        "peak_rss_bytes": peak_rss_bytes(),
    }


def peak_rss_bytes() -> int:
    """This process's own peak resident memory (VmHWM). Not getrusage: its ru_maxrss survives fork and exec, so
    a child would report its parent's peak."""
    with open("/proc/self/status") as status:
        kilobytes = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return kilobytes * 1024


def _runner(spec: LatencySpec):
    if spec.kind == "tflite":
        from .litert import LiteRTRunner

        return LiteRTRunner(spec.path, threads=spec.threads or 2)
    if spec.kind == "frozen-graph":
        from .runtime import FrozenGraphRunner

        return FrozenGraphRunner.for_model(spec.path)
    import tensorflow as tf

    from .untrusted import load_saved_model

    serving = load_saved_model(Path(spec.path)).signatures["serving_default"]
    return lambda batch: {k: v.numpy() for k, v in serving(image=tf.constant(batch)).items()}


def _run_worker(spec: LatencySpec) -> dict:
    import subprocess

    completed = subprocess.run(
        [sys.executable, "-m", "posenet_port.bench", "--worker", json.dumps(asdict(spec))],
        capture_output=True, text=True, timeout=900,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark worker for {spec.label} at {spec.size} failed: {completed.stderr[-800:]}")
    return json.loads(lines[-1])


def _build_paths(build_dir: Path) -> dict[str, Path]:
    from .artifacts import MANIFEST_NAME
    from .errors import ModelFileError

    manifest = build_dir / MANIFEST_NAME
    if not manifest.is_file():
        raise ModelFileError(f"{manifest} is missing: run `make rebuild` (or python -m posenet_port.rebuild) first")
    return {a["name"]: build_dir / a["path"] for a in json.loads(manifest.read_text())["artifacts"]}


def _tflite_at(size: int, paths: dict[str, Path], work: Path) -> dict[str, Path]:
    """Every TFLite recipe at `size`: rebuild's own file where it kept one at that size, else converted here
    from the build's (rounded) frozen graphs with the same code and calibration, so recipes the checks dropped
    are timed too. Recipes whose rounded graph the build lacks are left out."""
    from .export import TFLITE_RECIPES, source_graph_name
    from .export.tflite import calibration_photos, export_tflite, representative_inputs

    models, calibration = {}, None
    for recipe in TFLITE_RECIPES.values():
        kept = paths.get(f"tflite-{recipe.name}")
        source = paths.get(source_graph_name(recipe.grid))
        if kept is not None and f"_{size}_" in kept.name:
            models[recipe.name] = kept
        elif source is not None:
            if recipe.variant == "int8" and calibration is None:
                calibration = representative_inputs(calibration_photos(None), size)
            inputs = calibration if recipe.variant == "int8" else ()
            models[recipe.name] = export_tflite(source, work / f"{size}_{recipe.name}.tflite", recipe.variant, size, inputs)
    return models


def bench_latency(runs: int, build_dir: Path = Path("build")) -> Section:
    """Every artifact at 257 and 353: latency, ratio to the TF frozen graph of the same run, GFLOP/s, end to end,
    decoding, peak memory, size and the check report's drift."""
    import tempfile

    from .architecture import multiply_adds
    from .weights import load_weights

    paths = _build_paths(build_dir)
    runs = max(runs, 50)
    weights = load_weights()
    drift = _check_drifts(build_dir)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for size in SIZES:
            print(f"  input {size} ...", flush=True)
            macs = multiply_adds(weights.widths, size, 16, weights.multiplier)
            specs = [LatencySpec("TF frozen graph", "frozen-graph", str(paths["frozen-graph"]), size, None, runs),
                     LatencySpec("SavedModel", "savedmodel", str(paths["savedmodel"]), size, None, runs)]
            for variant, path in _tflite_at(size, paths, Path(work)).items():
                specs += [LatencySpec(f"TFLite {variant}", "tflite", str(path), size, t, runs) for t in (1, 2)]
            for spec in specs:
                result = _run_worker(spec)
                rows.append({**asdict(spec), **result, "macs": macs, "size_bytes": path_size(Path(spec.path)),
                             "drift": drift.get(_artifact_name(spec.label))})
            rows += _tfjs_rows(paths, size, runs, macs, drift)
    section = Section("Latency of every format (network only, then end to end per 640x480 frame)")
    section.rows = rows
    section.notes = _latency_notes(rows)
    return section


def _artifact_name(label: str) -> str:
    kind, _, variant = label.partition(" ")
    return f"{kind.lower()}-{variant}"


def _check_drifts(build_dir: Path) -> dict[str, dict]:
    report = build_dir / "checks" / "checks.json"
    if not report.is_file():
        return {}
    return {r["name"]: {"median_px": r["same_detection_median_px"], "max_px": r["same_detection_max_px"],
                        "status": r["status"]}
            for r in json.loads(report.read_text())["results"]}


def _tfjs_rows(paths: dict[str, Path], size: int, runs: int, macs: int, drift: dict) -> list[dict]:
    from .preprocess import load_image, preprocess
    from .runtime import TfjsNodeRunner
    from .samples import SOLVAY_1927

    batch, _ = preprocess(load_image(SOLVAY_1927), size)
    rows = []
    for name, path in paths.items():
        if not name.startswith("tfjs-"):
            continue
        runner = TfjsNodeRunner(path, backend="wasm", dynamic_input=False)
        runner.run_many([batch] * (runs + 5))
        samples = runner.milliseconds[5:]
        label = f"tfjs {name[5:]} (node, wasm)"
        rows.append({"label": label, "kind": "tfjs", "path": str(path), "size": size, "threads": None, "runs": len(samples),
                     "network": asdict(measure_stats("network", samples)), "macs": macs,
                     "size_bytes": path_size(path.parent), "peak_rss_bytes": runner.max_rss_bytes,
                     "drift": drift.get(name)})
    return rows


def _latency_notes(rows: list[dict]) -> list[str]:
    def find(label: str, size: int, threads: int | None = None) -> dict:
        return next(r for r in rows if r["label"] == label and r["size"] == size and r["threads"] == threads)

    baseline, float32 = find("TF frozen graph", 257), find("TFLite float32", 257, 2)
    int8 = find(f"TFLite {FASTEST_INT8}", 257, 2)
    int8_ms = int8["network"]["median_ms"]
    vs_graph = baseline["network"]["median_ms"] / int8_ms
    vs_float32 = float32["network"]["median_ms"] / int8_ms
    end_to_end_ms = int8["end_to_end"]["median_ms"]
    if has_vnni():
        int8_note = (f"TFLite {FASTEST_INT8} at 257 (2 threads, {int8_ms:.2f} ms) is {vs_graph:.1f}x as fast as the TF frozen graph "
                     f"(target >= 4x: {_met(vs_graph >= 4)}) and {vs_float32:.2f}x as fast as TFLite float32 "
                     f"(target >= 1.5x: {_met(vs_float32 >= 1.5)}), in this run.")
    else:
        int8_note = (f"TFLite {FASTEST_INT8} at 257 (2 threads, {int8_ms:.2f} ms) is {vs_graph:.1f}x as fast as the TF frozen graph "
                     f"and {vs_float32:.2f}x as fast as TFLite float32 in this run. No target applies: this CPU has no "
                     "VNNI, and XNNPACK's int8 kernels are only faster than float32 with VNNI's int8 dot products.")
    status = (int8.get("drift") or {}).get("status", "not checked")
    return [
        int8_note + f" Its keypoint checks: {status} (see the check report: int8 activations cost keypoints).",
        f"End to end with {FASTEST_INT8} at 257 (640x480 frame: preprocess, infer, decode): {end_to_end_ms:.2f} ms "
        f"({1000 / end_to_end_ms:.0f} photos/s), {end_to_end_ms / int8_ms:.1f}x the network alone.",
        f"Multi-pose decode of {FASTEST_INT8} outputs at 257: {int8['decode_multi']['median_ms']:.3f} ms median.",
        "GFLOP/s counts 2 FLOPs per multiply-add of the network (conv0, 13 separable blocks, 4 heads) over the median "
        "latency; it stays far below this 2-core CPU's peak: small depthwise layers and memory traffic, not "
        "arithmetic, bound PoseNet at these sizes.",
    ]


def bench_rebuild(runs: int) -> Section:
    """`python -m posenet_port.rebuild` with every format and the checks, in a fresh process, per step."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        code = (
            "import json, sys, time; from pathlib import Path\n"
            "from posenet_port.cli import StepTimer; from posenet_port.rebuild import RebuildOptions, plan_steps, rebuild\n"
            f"options = RebuildOptions(out_dir=Path({work!r}))\n"
            "timer = StepTimer(plan_steps(options), stream=sys.stderr)\n"
            "rebuild(options, timer)\n"
            "print(json.dumps(timer.durations))\n"
        )
        start = time.perf_counter()
        completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
        wall = time.perf_counter() - start
    if completed.returncode != 0:
        raise RuntimeError(f"rebuild failed: {completed.stderr[-800:]}")
    steps = json.loads(completed.stdout.strip().splitlines()[-1])
    section = Section("rebuild: every format and the checks, in a fresh process")
    section.timings = [Timing(label, seconds * 1000, seconds * 1000, seconds * 1000, 1) for label, seconds in steps.items()]
    section.timings.append(Timing("whole command, wall (Python and TensorFlow start-up included)", wall * 1000, wall * 1000, wall * 1000, 1))
    section.notes = [f"Target: rebuild with all formats and checks <= 60 s wall: {_met(wall <= 60)} "
                     f"({wall:.1f} s; one run)."]
    return section


SECTIONS: dict[str, Callable[[int], Section]] = {
    "latency": bench_latency, "decode": bench_decode, "demo": bench_demo, "rebuild": bench_rebuild,
}


def render_markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `python -m posenet_port.bench`; every figure was measured by that command on the machine below.",
        "Times in milliseconds: median over the stated runs after warm-up, p10 and p90 for spread; ratios compare",
        "figures measured in the same run. Kernels, and so figures, depend on the CPU's flags (avx2, avx512f,",
        "avx512_vnni / avx_vnni): compare figures from different CPUs by their ratios only.",
        "",
        "Machine: " + ", ".join(f"{key} {value}" for key, value in m.items()) + ".",
        "",
        f"![latency against input size, and drift per format]({CHART})",
    ]
    for name in SECTIONS:
        section = report["sections"].get(name)
        if section is None:
            continue
        lines += ["", f"## {section['title']}", "", f"CPU: {section.get('cpu', 'not recorded')}.", ""]
        if section.get("rows"):
            lines += _latency_table(section["rows"])
        if section["timings"]:
            lines += ["| what | median ms | p10 ms | p90 ms | runs |", "|---|---|---|---|---|"]
            lines += [
                f"| {t['label']} | {t['median_ms']:.3f} | {t['p10_ms']:.3f} | {t['p90_ms']:.3f} | {t['runs']} |"
                for t in section["timings"]
            ]
        lines += [""] + [f"- {note}" for note in section["notes"]]
    return "\n".join(lines) + "\n"


def _latency_table(rows: list[dict]) -> list[str]:
    lines = [
        "| input | format | threads | file | network median ms (p10-p90) | vs TF graph | GFLOP/s | end to end ms | "
        "decode multi / single ms | peak RSS | drift median / max px |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        network = row["network"]
        baseline = next(r for r in rows if r["size"] == row["size"] and r["kind"] == "frozen-graph")["network"]["median_ms"]
        gflops = 2 * row["macs"] / (network["median_ms"] / 1000) / 1e9
        e2e = f"{row['end_to_end']['median_ms']:.2f}" if "end_to_end" in row else "-"
        decode = f"{row['decode_multi']['median_ms']:.2f} / {row['decode_single']['median_ms']:.3f}" if "decode_multi" in row else "-"
        drift = row.get("drift") or {}
        drift_text = f"{drift['median_px']:.2f} / {drift['max_px']:.2f}" if drift.get("max_px") is not None else "-"
        lines.append(
            f"| {row['size']} | {row['label']} | {row['threads'] or '-'} | {row['size_bytes'] / 1e6:.2f} MB | "
            f"{network['median_ms']:.2f} ({network['p10_ms']:.2f}-{network['p90_ms']:.2f}) | "
            f"{baseline / network['median_ms']:.2f}x | {gflops:.1f} | "
            f"{e2e} | "
            f"{decode} | {row['peak_rss_bytes'] / 1e6:.0f} MB | {drift_text} |"
        )
    return lines


def write_chart(report: dict, path: Path) -> None:
    """Latency against input size per format (2 threads for TFLite), and the check drift per format."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["sections"].get("latency", {}).get("rows", [])
    if not rows:
        return
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for label in dict.fromkeys(r["label"] for r in rows):
        points = sorted((r["size"], r["network"]["median_ms"]) for r in rows if r["label"] == label and r["threads"] in (None, 2))
        left.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    left.set(xlabel="input size (px)", ylabel="median network latency (ms, log scale)", title="Latency (TFLite: 2 threads)",
             yscale="log")
    left.legend(fontsize=7)
    drifts = {r["label"]: r["drift"] for r in rows if r.get("drift") and r["size"] == SIZES[0]}
    names = list(drifts)
    right.bar(range(len(names)), [drifts[n]["max_px"] for n in names], color="#e9a", label="max")
    right.bar(range(len(names)), [drifts[n]["median_px"] for n in names], color="#a34", label="median")
    right.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=7)
    right.set(ylabel="keypoint drift vs float graph (input px)", title="Drift at 257 (check report)")
    right.legend()
    figure.tight_layout()
    with atomic_path(path) as temp:
        figure.savefig(temp, dpi=90)
    plt.close(figure)


def run(sections: Sequence[str], runs: int, out_dir: Path) -> dict:
    json_path = out_dir / REPORT_JSON
    previous = json.loads(json_path.read_text()) if json_path.is_file() else {"sections": {}}
    report = {"machine": machine(), "sections": previous.get("sections", {})}
    for name in sections:
        print(f"benchmarking {name} ...", flush=True)
        section = SECTIONS[name](runs)
        report["sections"][name] = {"title": section.title, "timings": [asdict(t) for t in section.timings],
                                    "notes": section.notes, "rows": section.rows, "cpu": section.cpu}
        for timing in section.timings:
            print(f"  {timing.label}: median {timing.median_ms:.3f} ms (p10 {timing.p10_ms:.3f}, p90 {timing.p90_ms:.3f})")
        for note in section.notes:
            print(f"  {note}")
    write_bytes_atomic(json_path, (json.dumps(report, indent=2) + "\n").encode())
    write_bytes_atomic(out_dir / REPORT_MD, render_markdown(report).encode())
    write_chart(report, out_dir / CHART)
    print(f"wrote {out_dir / REPORT_MD} and {json_path}")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m posenet_port.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}")
    parser.add_argument("--runs", type=int, default=200, help="timed runs per measurement (default: 200)")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for BENCHMARKS.md and benchmarks.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one latency measurement in its own process
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(LatencySpec(**json.loads(args.worker)))))
        return 0
    keep_freed_memory()
    names = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = [name for name in names if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    run(names, args.runs, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
