"""The benchmark's sections: network latency of every format, decoding, the demo loop, and rebuild."""
from __future__ import annotations

import itertools
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from posenet_port._util.fileio import path_size
from posenet_port._util.machine import describe_cpu, has_vnni
from posenet_port._util.timing import time_calls
from posenet_port.benchmark.measure import (
    LatencySpec,
    Timing,
    gflops,
    measure,
    measure_stats,
    peak_throughput,
    run_worker,
)


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


def bench_decode(runs: int) -> Section:
    """Decoding the Solvay photo's tensors (29 people) at input 257: our decoders against posenet 2.2.2's own
    decodeMultiplePoses in node on the same tensors, and beside inference, in the same run."""
    from posenet_port.inference.decode import (
        DECODER,
        decode_multiple_poses,
        decode_multiple_poses_python,
        decode_single_pose,
        squared_nms_radius,
    )
    from posenet_port.inference.estimator import DecodeOptions, PoseEstimator
    from posenet_port.inference.preprocess import load_image, preprocess
    from posenet_port.oracle.posenet_js import DecodeSettings, PosenetJs
    from posenet_port.pipeline.photos import SOLVAY_1927

    estimator = PoseEstimator(input_size=257, engine="tensorflow")  # the TF graph: the baseline the notes name
    rgb = load_image(SOLVAY_1927)
    batch, _ = preprocess(rgb, 257)
    outputs = estimator.infer(rgb)
    tensors = (outputs.scores, outputs.offsets, outputs.displacements_fwd, outputs.displacements_bwd)
    stride = estimator.output_stride
    poses = decode_multiple_poses(*tensors, stride)
    defaults = DecodeOptions()  # the Python decoder takes what decode_multiple_poses derives from them
    python_settings = (defaults.max_poses, defaults.score_threshold, squared_nms_radius(defaults.nms_radius))
    reference = PosenetJs()
    reference.decode([dict(zip(("scores", "offsets", "fwd", "bwd"), tensors))], DecodeSettings(output_stride=stride),
                     repeat=runs, warmup=100)  # V8 compiles the decoder while it warms up
    section = Section(f"Pose decoding (Solvay 1927 photo, input 257, output stride {stride})")
    section.timings = [
        measure(f"multi-pose decode (max 10 poses), {DECODER}", lambda: decode_multiple_poses(*tensors, stride), runs),
        measure_stats("posenet 2.2.2 decodeMultiplePoses in node (same tensors)", reference.milliseconds[0]),
        measure("multi-pose decode, Python decoder", lambda: decode_multiple_poses_python(*tensors, stride, *python_settings), runs),
        measure("single-pose decode", lambda: decode_single_pose(tensors[0], tensors[1], stride), runs),
        measure("preprocess (2048x922 photo -> 257x257)", lambda: preprocess(rgb, 257), max(runs // 4, 20)),
        measure("baseline: TF graph inference at 257", lambda: estimator.runner(batch), max(runs // 4, 20)),
    ]
    ours, javascript, inference = (section.timings[i].median_ms for i in (0, 1, 5))
    share, speedup = ours / inference, javascript / ours
    section.notes = [
        f"{len(poses)} poses decoded in {ours:.3f} ms by the {DECODER} decoder: {speedup:.1f}x as fast as posenet "
        f"2.2.2's decodeMultiplePoses on the same tensors in node in this run (target >= 4x: {_met(speedup >= 4)}), "
        f"{share:.1%} of one TF inference (target <= 12.5%: {_met(share <= 0.125)}).",
        "Both decoders give posenet 2.2.2's poses (tests/unit/test_decode.py: to 1e-3 px against node, and the C decoder "
        "equals the Python one to the last bit).",
    ]
    return section


def demo_video(path: Path, frames: int, size: tuple[int, int] = (640, 480)) -> Path:
    """A 640x480 mp4 panning over the sample photos: the demo benchmark's input."""
    import cv2

    from posenet_port.pipeline.photos import sample_photos

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


WHOLE_LOOP = "whole loop, writing an mp4"
DUMP_LOOP = "loop writing poses only (--dump: read, estimate, JSON)"
BARE_LOOP = "loop without output (read, estimate)"
MEMORY_LOOP = "loop without output over frames already in memory (estimate only)"


class _FramesInMemory:
    """A video's frames, read once: the loop without reading, to show what the loop itself costs."""

    def __init__(self, frames: list, fps: float = 30.0) -> None:
        self.fps, self.list = fps, frames

    def frames(self):
        yield from self.list


def bench_demo(runs: int, build_dir: Path = Path("build")) -> Section:
    """The demo loop without display on a 640x480 video: writing an annotated mp4, writing poses only, with no
    output at all, and over frames already in memory; and reading the video alone."""
    import tempfile

    from posenet_port.errors import ModelFileError
    from posenet_port.inference.choice import choose_model
    from posenet_port.inference.estimator import DecodeOptions, PoseEstimator
    from posenet_port.inference.stream import CaptureSource, DumpSink, VideoSink, run_loop

    frozen_graph = _build_artifacts(build_dir)["frozen-graph"]["path"]
    choice = choose_model(build_dir, threads=2)
    if choice is None:
        raise ModelFileError(f"{build_dir}: no model that runs here passed its checks; run `make rebuild`")
    chosen = f"{choice.name} (the demo's choice)"
    models = [(chosen, choice.path), ("baseline: TF frozen graph", frozen_graph)]
    frames = max(runs, 100)
    section = Section(f"Demo loop, no display: {frames} frames of 640x480 video, input 257, 2 threads")
    with tempfile.TemporaryDirectory() as work:
        video = demo_video(Path(work) / "pan.mp4", frames)
        in_memory = _FramesInMemory(list(CaptureSource(video).frames()))
        read_ms = [ms / len(in_memory.list) for ms in  # reading and decoding the whole video, per frame
                   time_calls(lambda: sum(1 for _ in CaptureSource(video).frames()), runs=3, warmup=0)]
        section.timings.append(Timing("reading the 640x480 mp4 alone, per frame", statistics.median(read_ms),
                                      min(read_ms), max(read_ms), len(read_ms)))
        workloads = (
            (WHOLE_LOOP, lambda: CaptureSource(video), lambda repeat: [VideoSink(Path(work) / f"out{repeat}.mp4", 30)]),
            (DUMP_LOOP, lambda: CaptureSource(video), lambda repeat: [DumpSink(Path(work) / f"poses{repeat}.jsonl")]),
            (BARE_LOOP, lambda: CaptureSource(video), lambda repeat: []),
            (MEMORY_LOOP, lambda: in_memory, lambda repeat: []),
        )
        fps, pipeline_ms = {}, {}
        for label, model in models:
            estimator = PoseEstimator(model, 257, threads=2)
            for what, source, sinks in workloads:
                per_run = []
                for repeat in range(3):
                    stats = run_loop(source(), estimator, DecodeOptions(), sinks(repeat))
                    per_run.append(stats.fps)
                fps[label, what] = statistics.median(per_run)
                section.timings.append(Timing(f"{label}: {what}, per frame ({fps[label, what]:.0f} fps)",
                                              1000 / fps[label, what], 1000 / max(per_run), 1000 / min(per_run), 3))
                if what == BARE_LOOP:  # the pipeline's own figures, from the loop the goal is about
                    section.timings.append(measure_stats(f"{label}: preprocess + inference", stats.inference_ms))
                    section.timings.append(measure_stats(f"{label}: decode", stats.decode_ms))
                    pipeline_ms[label] = statistics.median(stats.inference_ms) + statistics.median(stats.decode_ms)
    whole, bare, memory = (fps[chosen, what] for what in (WHOLE_LOOP, BARE_LOOP, MEMORY_LOOP))
    share, memory_share = (rate * pipeline_ms[chosen] / 1000 for rate in (bare, memory))  # against 1 / pipeline
    baseline = fps["baseline: TF frozen graph", WHOLE_LOOP]
    section.notes = [
        f"{choice.name}, the checked model the demo picks on this CPU, runs the whole loop (writing an mp4) at "
        f"{whole:.0f} fps (median of 3 runs), {whole / baseline:.1f}x as fast as the TF frozen graph in the same run.",
        f"Without an output the loop runs at {bare:.0f} fps: {share:.3f}x the {1000 / pipeline_ms[chosen]:.0f} "
        f"frames/s that preprocess + inference + decode alone allow ({pipeline_ms[chosen]:.2f} ms; target >= 0.9x: "
        f"{_met(share >= 0.9)}). The rest is reading the frame: decoding the mp4 alone takes "
        f"{statistics.median(read_ms):.2f} ms per frame, and over the same frames already in memory the loop runs at "
        f"{memory_share:.3f}x. Without a sink that shows or saves pictures the loop draws nothing; writing an mp4 "
        "adds drawing on the loop's thread, and encoding runs on a worker thread while inference uses both cores.",
    ]
    return section


SIZES = (257, 353)
FASTEST_INT8 = "int8-gptq"  # the int8 recipe the notes compare; int8 runs as fast, with worse keypoints


def _build_artifacts(build_dir: Path) -> dict[str, dict]:
    """The manifest's entries by name, each with its absolute path."""
    from posenet_port.errors import ModelFileError
    from posenet_port.formats.artifacts import MANIFEST_NAME, read_manifest

    manifest = build_dir / MANIFEST_NAME
    if not manifest.is_file():
        raise ModelFileError(f"{manifest} is missing: run `make rebuild` (or python -m posenet_port.rebuild) first")
    entries = read_manifest(build_dir, ModelFileError)["artifacts"]
    return {a["name"]: {**a, "path": build_dir / a["path"]} for a in entries}


def _models_at(size: int, artifacts: dict[str, dict], work: Path) -> list[tuple[str, str, str, Path, dict]]:
    """(label, artifact name, format, path, spec) of every recipe of every in-process format at `size`: the build's own model
    where it kept one that takes that size, else exported here from the build's (rounded) frozen graph with the
    same code and calibration, so recipes the checks dropped are timed too. Recipes whose rounded graph the
    build lacks are left out."""
    from posenet_port.formats.base import ExportSource
    from posenet_port.formats.registry import export_formats
    from posenet_port.model.freeze import read_frozen_weights
    from posenet_port.model.spec import ModelSpec
    from posenet_port.pipeline.calibration import Calibration, calibration_photos
    from posenet_port.pipeline.run import rounded_graph_name

    reference = ModelSpec.from_dict(artifacts["frozen-graph"]["spec"])
    calibration = Calibration([])
    models = []
    for fmt in (f for f in export_formats().values() if f.in_process):
        for recipe in fmt.recipes.values():
            name = f"{fmt.name}-{recipe.name}"
            kept = artifacts.get(name)
            graph = artifacts.get(rounded_graph_name(recipe.grid))
            label = f"{fmt.title} {recipe.name}"
            if kept is not None and kept.get("input_size") in (None, size):
                models.append((label, name, fmt.name, kept["path"], kept["spec"]))
            elif graph is not None:
                if recipe.calibrated and not calibration.photos:
                    calibration = Calibration(calibration_photos(None))
                spec = reference.exported(fmt.name, recipe.variant, size if fmt.fixed_input else None)
                source = ExportSource(spec=spec, weights=read_frozen_weights(graph["path"]), frozen_graph=graph["path"],
                                      calibration=calibration, input_size=size)
                path = fmt.export(source, recipe, fmt.target(work, f"{size}", recipe.name, size))
                models.append((label, name, fmt.name, path, spec.to_dict()))
    return models


def bench_latency(runs: int, build_dir: Path = Path("build")) -> Section:
    """Every model of every format at 257 and 353: latency, ratio to the TF frozen graph of the same run,
    GFLOP/s, end to end, decoding, peak memory, size and the check report's drift."""
    import tempfile

    from posenet_port.model.architecture import multiply_adds
    from posenet_port.model.weights import load_weights

    artifacts = _build_artifacts(build_dir)
    runs = max(runs, 50)
    weights = load_weights()
    stride = artifacts["frozen-graph"]["spec"]["output_stride"]
    drift = _check_drifts(build_dir)
    print("  this CPU's peak (ONNX Runtime MatMul / MatMulInteger) ...", flush=True)
    peaks = {threads: peak_throughput(threads) for threads in (1, 2)}
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for size in SIZES:
            print(f"  input {size} ...", flush=True)
            macs = multiply_adds(weights.widths, size, stride, weights.multiplier)
            graphs = [(title, name, artifacts[name]["path"], artifacts[name]["spec"])
                      for title, name in (("TF frozen graph", "frozen-graph"), ("SavedModel", "savedmodel"))]
            latencies = [LatencySpec(label, fmt, fmt, str(path), size, None, runs, spec) for label, fmt, path, spec in graphs]
            for label, name, fmt, path, spec in _models_at(size, artifacts, Path(work)):
                latencies += [LatencySpec(label, name, fmt, str(path), size, threads, runs, spec) for threads in (1, 2)]
            for latency in latencies:
                print(f"    {latency.label}, {latency.threads or 'default'} threads", flush=True)
                result = run_worker(latency)
                rows.append({**asdict(latency), **result, "macs": macs, "size_bytes": _model_bytes(Path(latency.path)),
                             "drift": drift.get(latency.name)})
            rows += _node_rows(artifacts, size, runs, macs, drift)
    section = Section("Latency of every format (network only, then end to end per 640x480 frame)")
    section.rows = rows
    section.notes = _latency_notes(rows) + [_limit_note(rows, peaks)]
    return section


def _model_bytes(path: Path) -> int:
    """A model's bytes: the file, or a bundle's folder (tfjs, OpenVINO), or a SavedModel folder."""
    return path_size(path.parent if path.suffix in (".xml", ".json") else path)


def _check_drifts(build_dir: Path) -> dict[str, dict]:
    report = build_dir / "checks" / "checks.json"
    if not report.is_file():
        return {}
    return {r["name"]: {"median_px": r["same_detection_median_px"], "max_px": r["same_detection_max_px"],
                        "status": r["status"]}
            for r in json.loads(report.read_text())["results"]}


def _node_rows(artifacts: dict[str, dict], size: int, runs: int, macs: int, drift: dict) -> list[dict]:
    """The kept models of formats that run in another process (tfjs in node), timed by that runtime itself."""
    from posenet_port.formats.registry import FORMATS
    from posenet_port.inference.preprocess import load_image, preprocess
    from posenet_port.model.spec import ModelSpec
    from posenet_port.pipeline.photos import SOLVAY_1927

    batch, _ = preprocess(load_image(SOLVAY_1927), size)
    rows = []
    for name, artifact in artifacts.items():
        fmt = FORMATS.get(artifact["format"])
        if fmt is None or fmt.in_process or artifact.get("input_size") not in (None, size):
            continue
        runner = fmt.open(artifact["path"], spec=ModelSpec.from_dict(artifact["spec"]))
        runner.run_many([batch] * (runs + 5))
        samples = runner.milliseconds[5:]
        rows.append({"label": f"{fmt.title} {artifact['quantization']} (node, wasm)", "format": fmt.name,
                     "path": str(artifact["path"]), "size": size, "threads": None, "runs": len(samples),
                     "network": asdict(measure_stats("network", samples)), "macs": macs,
                     "size_bytes": _model_bytes(artifact["path"]),
                     "peak_rss_bytes": getattr(runner, "max_rss_bytes", 0), "drift": drift.get(name)})
    return rows


def _latency_notes(rows: list[dict]) -> list[str]:
    def find(label: str, size: int = 257, threads: int | None = 2) -> dict | None:
        return next((r for r in rows if r["label"] == label and r["size"] == size and r["threads"] == threads), None)

    notes = []
    baseline, float32, int8 = find("TF frozen graph", threads=None), find("TFLite float32"), find(f"TFLite {FASTEST_INT8}")
    if baseline and float32 and int8:
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
        notes += [
            int8_note + f" Its keypoint checks: {status} (see the check report: int8 activations cost keypoints).",
            f"End to end with {FASTEST_INT8} at 257 (640x480 frame: preprocess, infer, decode): {end_to_end_ms:.2f} ms "
            f"({1000 / end_to_end_ms:.0f} photos/s), {end_to_end_ms / int8_ms:.1f}x the network alone.",
            f"Multi-pose decode of {FASTEST_INT8} outputs at 257: {int8['decode_multi']['median_ms']:.3f} ms median.",
        ]
    if float32:
        passing = [r for r in rows if r["size"] == 257 and r["threads"] == 2 and (r.get("drift") or {}).get("status") == "PASS"]
        ranked = sorted(passing, key=lambda r: r["network"]["median_ms"])
        notes.append("Checked models at 257 with 2 threads, against TFLite float32 in this run: " + ", ".join(
            f"{r['label']} {float32['network']['median_ms'] / r['network']['median_ms']:.2f}x" for r in ranked) + ".")
        notes += [_workload_note(ranked, float32, workload) for workload in ("", "_paced") if ranked]
    return notes


def _limit_note(rows: list[dict], peaks: dict[int, dict[str, float]]) -> str:
    """How far the network runs from this CPU's measured limit, float32 and int8, with 1 and 2 threads."""
    parts = []
    for threads in (1, 2):
        at = [r for r in rows if r["size"] == 257 and r["threads"] == threads]
        for kind in ("float32", "int8"):  # by the label's recipe: "TFLite int8-gptq" is int8
            candidates = [r for r in at if r["label"].split()[-1].split("-")[0] == kind]
            if not candidates:
                continue
            best = max(candidates, key=gflops)
            parts.append(f"{threads} thread{'s' if threads > 1 else ''}, {kind}: peak {peaks[threads][kind]:.0f}, "
                         f"{best['label']} {gflops(best):.0f} ({gflops(best) / peaks[threads][kind]:.0%})")
    return ("GFLOP/s counts 2 FLOPs per multiply-add of the network (conv0, 13 separable blocks, 4 heads) over the "
            "median latency. This CPU's measured limit (ONNX Runtime's MatMul and u8 x s8 MatMulInteger on 1024x1024 "
            "matrices, GFLOP/s and GOP/s) against the fastest model of each kind at 257: " + "; ".join(parts) + ". "
            "At 257 the pointwise and head convolutions are 94 % of the multiply-adds, matrix products that can reach "
            "a large share of that limit; the 13 depthwise layers (4 %), conv0 (2 %) and the memory traffic between "
            "layers, which small feature maps (129x129 down to 17x17 cells) give a matrix kernel little to hide "
            "behind, hold the rest back, more so for int8, whose arithmetic is cheaper and whose requantisation and "
            "layout steps are not.")


def _workload_note(checked: list[dict], float32: dict, workload: str) -> str:
    """The checked models at 257 (2 threads) in one workload ("" back to back, "_paced" at 30 fps): the fastest
    network against TFLite float32's, and the fastest whole frame against its own network. (Two picks, since a
    runtime whose 2-thread speed switches between modes can have the fastest network median and a slower frame.)"""
    if f"network{workload}" not in float32:
        return "Paced figures: not measured in this run."
    network, frame = f"network{workload}", f"end_to_end{workload}"
    fastest = min(checked, key=lambda r: r[network]["median_ms"])
    whole = min(checked, key=lambda r: r[frame]["median_ms"])
    speedup = float32[network]["median_ms"] / fastest[network]["median_ms"]
    overhead = whole[frame]["median_ms"] / whole[network]["median_ms"]
    name = "paced like a 30 fps camera" if workload else "back to back"
    cost = (f" {fastest['label']} uses {fastest['cpu_ms_per_paced_frame']:.1f} ms of CPU time per frame, TFLite "
            f"float32 {float32['cpu_ms_per_paced_frame']:.1f} (threads that spin after a call count).") if workload else ""
    return (f"{name.capitalize()}, among checked models at 257 (2 threads): the fastest network is {fastest['label']}, "
            f"{fastest[network]['median_ms']:.2f} ms, {speedup:.2f}x TFLite float32 (target >= 1.5x: "
            f"{_met(speedup >= 1.5)}); the fastest whole 640x480 frame (preprocess, infer, decode) is {whole['label']}'s, "
            f"{whole[frame]['median_ms']:.2f} ms, {overhead:.2f}x its network (target <= 1.25x: "
            f"{_met(overhead <= 1.25)}).{cost}")


def bench_rebuild(runs: int) -> Section:
    """`python -m posenet_port.rebuild` with every format and the checks, in a fresh process, per step."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        code = (
            "import json, sys, time; from pathlib import Path\n"
            "from posenet_port.pipeline.progress import StepTimer; from posenet_port.pipeline.run import RebuildOptions, plan_steps, rebuild\n"
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


def bench_video(runs: int) -> Section:
    """Tracking and smoothing at the default settings (issue 27): jitter on still photos of people shaken by one
    pixel, lag and identity on vtest.avi's walkers, and what they cost per frame. The smoothing defaults were
    chosen on the tuning photos and vtest.avi's first half; the headline figures are on the validation photos and
    its second half. Identity is judged against the people labelled by hand (videos/vtest_people.json). The contact
    sheets of vtest.avi's tracks and of its labelled people go to docs/tracks_vtest.jpg and docs/people_vtest.jpg."""
    from posenet_port._util.resources import resource
    from posenet_port.benchmark import video
    from posenet_port.inference.decode import DecodeOptions
    from posenet_port.inference.draw import write_image
    from posenet_port.inference.estimator import PoseEstimator
    from posenet_port.inference.stream import CaptureSource, run_loop
    from posenet_port.inference.tracking import PoseStream, SmoothingOptions
    from posenet_port.pipeline.photos import PEOPLE, TUNING_PEOPLE, VALIDATION_PEOPLE, VTEST, VTEST_PEOPLE, video_frames

    if not VTEST.is_file():
        raise FileNotFoundError(f"{VTEST} is missing: the video benchmark runs in a checkout of the repository, "
                                "which holds it (videos/README.md)")
    smoothing = SmoothingOptions()
    walk_fps = CaptureSource(VTEST).fps
    print(f"  {VTEST.name} at {video.VTEST_INPUT_SIZE} ...", flush=True)
    walker_estimator = PoseEstimator(input_size=video.VTEST_INPUT_SIZE)
    frame_ms: list[float] = []
    walk = video.clip_poses(VTEST.name, video_frames(VTEST), walk_fps,
                            lambda image: walker_estimator.estimate_poses(image, color_order="bgr"), frame_ms)
    tracked, stream_ms = video.run_stream(walk, PoseStream())
    print(f"  shake clips of {len(TUNING_PEOPLE) + len(VALIDATION_PEOPLE)} photos ...", flush=True)
    estimator = PoseEstimator()
    shake = {name: video.shake_clip(PEOPLE / f"{name}.jpg", lambda image: estimator.estimate_poses(image, color_order="bgr"))
             for name in TUNING_PEOPLE + VALIDATION_PEOPLE}
    jitter = {(photos, fps): video.jitter([video.retimed(shake[name], fps) for name in names])
              for photos, names in (("validation", VALIDATION_PEOPLE), ("tuning", TUNING_PEOPLE))
              for fps in (video.SHAKE_FPS, walk_fps)}
    halves = video.split(walk, len(walk.poses) // 2)
    lags = [video.lag(video.run_stream(part, PoseStream())[0], walk_fps) for part in halves]
    identity = video.identity(tracked, walk_fps)
    switches = video.suspected_switches(tracked, walk_fps)
    truth = video.PeopleTruth.load(VTEST_PEOPLE)
    people = [video.people_identity(tracked, truth, walk_fps, part)
              for part in (range(0, len(halves[0].poses)), range(len(halves[0].poses), len(walk.poses)), None)]
    sheets = [write_image(resource("docs") / "tracks_vtest.jpg", video.contact_sheet(VTEST, tracked, walk_fps)),
              write_image(resource("docs") / "people_vtest.jpg", truth.sheet(VTEST, walk_fps))]
    print("  the demo loop with and without tracking ...", flush=True)
    loop_frames = _FramesInMemory(list(itertools.islice(CaptureSource(VTEST).frames(), max(runs // 2, 50))),
                                  walk_fps)
    streams = {"without tracking": lambda: None, "tracked and smoothed": PoseStream}
    rounds = {label: [] for label in streams}
    for _ in range(5):  # interleaved, so that a machine that speeds up or slows down weighs on both alike
        for label, make in streams.items():
            rounds[label].append(run_loop(loop_frames, walker_estimator, DecodeOptions(), [], stream=make()).fps)
    loop_fps = {label: statistics.median(fps) for label, fps in rounds.items()}

    section = Section(f"Tracking and smoothing: {walk.name} ({len(walk.poses)} frames, {walk_fps:.0f} fps, input "
                      f"{video.VTEST_INPUT_SIZE}) and still photos of people shaken by one pixel (input 257)")
    section.timings = [
        measure_stats(f"estimating a frame of {walk.name} (preprocess, network, decode)", frame_ms),
        measure_stats("tracking and smoothing a frame (PoseStream.update)", stream_ms),
        *(Timing(f"demo loop over frames in memory, {label}, per frame ({loop_fps[label]:.1f} fps)",
                 1000 / loop_fps[label], 1000 / max(fps), 1000 / min(fps), len(fps)) for label, fps in rounds.items()),
    ]
    cost = statistics.median(stream_ms) / (statistics.median(frame_ms) + statistics.median(stream_ms))
    section.notes = video.notes(jitter, lags, identity, switches, people, cost, loop_fps, smoothing, sheets)
    return section


SECTIONS: dict[str, Callable[[int], Section]] = {
    "latency": bench_latency, "decode": bench_decode, "demo": bench_demo, "rebuild": bench_rebuild,
    "video": bench_video,
}


