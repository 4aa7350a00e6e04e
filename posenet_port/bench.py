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

from .cli import keep_freed_memory, run_cli
from .fileio import write_bytes_atomic

REPORT_MD = "BENCHMARKS.md"
REPORT_JSON = "benchmarks.json"


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


@dataclass
class Section:
    title: str
    timings: list[Timing] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def machine() -> dict:
    import tensorflow as tf

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tensorflow": tf.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


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
    verdict = "met" if multi <= 1.0 else "MISSED"
    section.notes = [
        f"{len(poses)} poses decoded. Target: multi-pose decode median <= 1 ms: {verdict} ({multi:.3f} ms).",
        f"Multi-pose decoding costs {multi / inference:.1%} of one TF inference measured in the same run.",
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

    from .artifacts import MANIFEST_NAME
    from .errors import ModelFileError
    from .estimator import DecodeOptions, PoseEstimator
    from .live import CaptureSource, VideoSink, run_loop

    manifest = build_dir / MANIFEST_NAME
    if not manifest.is_file():
        raise ModelFileError(f"{manifest} is missing: run `make rebuild` (or python -m posenet_port.rebuild) first")
    paths = {a["name"]: build_dir / a["path"] for a in json.loads(manifest.read_text())["artifacts"]}
    models = [("TFLite int8", paths["tflite-int8"]), ("baseline: TF frozen graph", paths["frozen-graph"])]
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
    int8 = fps["TFLite int8"]
    verdict = "met" if int8 >= 100 else "MISSED"
    section.notes = [
        f"Target: >= 100 frames per second with int8 TFLite: {verdict} ({int8:.0f} fps, median of 3 runs).",
        f"int8 TFLite runs the whole loop {int8 / fps['baseline: TF frozen graph']:.1f}x as fast as the TF frozen graph "
        "in the same run.",
    ]
    return section


def measure_stats(label: str, samples_ms: list[float]) -> Timing:
    p10, p90 = np.percentile(samples_ms, [10, 90])
    return Timing(label, statistics.median(samples_ms), float(p10), float(p90), len(samples_ms))


SECTIONS: dict[str, Callable[[int], Section]] = {"decode": bench_decode, "demo": bench_demo}


def render_markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `python -m posenet_port.bench`; every figure was measured by that command on the machine below.",
        "Times in milliseconds: median over the stated runs after warm-up, p10 and p90 for spread.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, numpy {m['numpy']}, "
        f"TensorFlow {m['tensorflow']}; measured {m['date']}.",
    ]
    for section in report["sections"].values():
        lines += ["", f"## {section['title']}", "", "| what | median ms | p10 ms | p90 ms | runs |", "|---|---|---|---|---|"]
        lines += [
            f"| {t['label']} | {t['median_ms']:.3f} | {t['p10_ms']:.3f} | {t['p90_ms']:.3f} | {t['runs']} |"
            for t in section["timings"]
        ]
        lines += [""] + [f"- {note}" for note in section["notes"]]
    return "\n".join(lines) + "\n"


def run(sections: Sequence[str], runs: int, out_dir: Path) -> dict:
    json_path = out_dir / REPORT_JSON
    previous = json.loads(json_path.read_text()) if json_path.is_file() else {"sections": {}}
    report = {"machine": machine(), "sections": previous.get("sections", {})}
    for name in sections:
        print(f"benchmarking {name} ...", flush=True)
        section = SECTIONS[name](runs)
        report["sections"][name] = {"title": section.title, "timings": [asdict(t) for t in section.timings], "notes": section.notes}
        for timing in section.timings:
            print(f"  {timing.label}: median {timing.median_ms:.3f} ms (p10 {timing.p10_ms:.3f}, p90 {timing.p90_ms:.3f})")
        for note in section.notes:
            print(f"  {note}")
    write_bytes_atomic(json_path, (json.dumps(report, indent=2) + "\n").encode())
    write_bytes_atomic(out_dir / REPORT_MD, render_markdown(report).encode())
    print(f"wrote {out_dir / REPORT_MD} and {json_path}")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m posenet_port.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}")
    parser.add_argument("--runs", type=int, default=200, help="timed runs per measurement (default: 200)")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for BENCHMARKS.md and benchmarks.json")
    args = parser.parse_args(argv)
    keep_freed_memory()
    names = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = [name for name in names if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    run(names, args.runs, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
