"""Whose rounding costs int8 its keypoints, the weights' or the activations'? TFLite's 16x8 mode answers it.

The same GPTQ int8 weights converted twice by TensorFlow's post-training quantizer, calibrated on the same photos:
int8 activations (rebuild's int8-gptq) and int16 activations (int16x8-gptq, LiteRT's full-integer 16x8 mode).
Judged as the gate judges, against the float32 TFLite model on the tuning and the validation photos, and timed
with one thread, back to back, against float32 in the same run.

    python research/int8_int16x8.py --out research/int8_int16x8.md
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from study import publish, study_parser

from posenet_port._util.machine import describe_cpu
from posenet_port.formats.base import ExportSource
from posenet_port.formats.registry import FORMATS
from posenet_port.formats.tflite.runner import LiteRTRunner
from posenet_port.inference.estimator import network_outputs
from posenet_port.inference.preprocess import preprocess
from posenet_port.model.freeze import write_frozen_graph
from posenet_port.model.rounding import GRIDS, round_weights
from posenet_port.model.spec import ModelSpec
from posenet_port.model.tf_graph import build_model
from posenet_port.model.weights import PosenetWeights, load_weights
from posenet_port.pipeline.calibration import Calibration, calibration_batches, calibration_photos
from posenet_port.pipeline.checks import scored_agreement
from posenet_port.pipeline.gate import FLOORS, compare_poses, decode_input_poses
from posenet_port.pipeline.photos import tuning_photos, validation_photos

RECIPES = ("float32", "int8-gptq", "int16x8-gptq")
WEIGHTS_ONLY = "float activations"  # the frozen graph with the same int8 weights: what the weights alone cost
TIMED_RUNS = 15


def export_recipes(work: Path, size: int, calibration: Calibration, weights: PosenetWeights, float_graph: Path,
                   spec: ModelSpec) -> tuple[dict[str, Path], Path]:
    """The three TFLite models at `size`, through the format registry as rebuild writes them, and the frozen
    graph of the int8 weights."""
    tflite = FORMATS["tflite"]
    graphs = {None: (weights, float_graph)}
    rounded = round_weights(weights, 16, calibration_batches(calibration.photos, size), GRIDS["int8"])
    graphs["int8"] = (rounded, write_frozen_graph(build_model(rounded, 16), work / "int8-grid.pb"))
    paths = {}
    for name in RECIPES:
        recipe = tflite.recipes[name]
        network, frozen = graphs[recipe.grid]
        source = ExportSource(spec=spec.exported("tflite", recipe.variant, size), weights=network,
                              frozen_graph=frozen, calibration=calibration, input_size=size)
        started = time.perf_counter()
        paths[name] = tflite.export(source, recipe, tflite.target(work, "posenet", name, size))
        print(f"  {name} at {size}: exported in {time.perf_counter() - started:.0f} s", flush=True)
    return paths, graphs["int8"][1]


def judged(litert: dict[str, LiteRTRunner], int8_grid: Path, spec: ModelSpec, size: int) -> dict[str, dict[str, object]]:
    """Per model and split: its agreement with float32's poses."""
    runners = {**litert, WEIGHTS_ONLY: FORMATS["frozen-graph"].open(int8_grid, spec=spec, trusted=True)}
    figures: dict[str, dict[str, object]] = {name: {} for name in runners if name != "float32"}
    for split, photos in (("tuning", tuning_photos()), ("validation", validation_photos())):
        prepared = [preprocess(rgb, size) for _, rgb in photos]
        poses = {name: [decode_input_poses(network_outputs(runner.run(batch), box, 16), 16) for batch, box in prepared]
                 for name, runner in runners.items()}
        for name in figures:
            comparisons = [compare_poses(a, b) for a, b in zip(poses["float32"], poses[name])]
            figures[name][split] = scored_agreement(split, size, comparisons, poses["float32"], poses[name])
    return figures


def timed(runners: dict[str, LiteRTRunner], size: int) -> dict[str, float]:
    """Median ms of the network, the recipes interleaved run by run."""
    batch = preprocess(validation_photos()[0][1], size)[0]
    for runner in runners.values():
        runner.run(batch)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(TIMED_RUNS):
        for name, runner in runners.items():
            started = time.perf_counter()
            runner.run(batch)
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def _speed(milliseconds: float | None, float32_ms: float) -> str:
    return "-" if milliseconds is None else f"{milliseconds:.1f} ms, {float32_ms / milliseconds:.2f}x"


def main() -> None:
    parser = study_parser(__doc__, __file__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[257, 353], help="input sizes (default: 257 353)")
    args = parser.parse_args()
    started = time.perf_counter()
    calibration = Calibration(calibration_photos(None))
    weights = load_weights()
    spec = ModelSpec(weights.multiplier, 16)
    floor = FLOORS["1-byte"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="posenet-int16x8-") as work:
        float_graph = write_frozen_graph(build_model(weights, 16), Path(work) / "float.pb")
        for size in args.sizes:
            paths, int8_grid = export_recipes(Path(work), size, calibration, weights, float_graph, spec)
            runners = {name: LiteRTRunner(path, threads=1) for name, path in paths.items()}
            figures, milliseconds = judged(runners, int8_grid, spec, size), timed(runners, size)
            for name in (WEIGHTS_ONLY, *RECIPES[1:]):
                tuning, validation = figures[name]["tuning"], figures[name]["validation"]
                passes = validation.within_share >= floor.min_within and validation.equal_count_share >= floor.min_equal_counts
                rows.append(f"| {name} | {size} | {tuning.within_share:.1%} | {validation.within_share:.1%} | "
                            f"{validation.equal_count_share:.0%} | {validation.ap:.3f} | {'yes' if passes else 'no'} | "
                            f"{_speed(milliseconds.get(name), milliseconds['float32'])} |")
                print(rows[-1], flush=True)
    text = "\n".join([
        "# int8 or int16 activations, on the same int8 weights",
        "",
        f"Written by `python research/int8_int16x8.py` on {describe_cpu()} in {time.perf_counter() - started:.0f} s. "
        "The GPTQ int8 weights converted by TensorFlow's post-training quantizer with int8 activations (rebuild's "
        "int8-gptq) and with int16 activations (int16x8-gptq: LiteRT's full-integer 16x8 mode), calibrated on the "
        f"same photos, and the TensorFlow graph of the same int8 weights with float activations ({WEIGHTS_ONLY}: "
        "what the weights' rounding alone costs; not timed). Confident keypoints within 2 px of the float32 TFLite model's, pose counts equal and COCO "
        f"keypoint AP against its poses; the 1-byte floor is {floor.min_within:.0%} within 2 px and pose counts equal "
        f"on {floor.min_equal_counts:.0%} of the validation photos. Speed: LiteRT, 1 thread, median of {TIMED_RUNS} "
        "runs back to back, and float32's time over the model's in the same run.",
        "",
        "| model | input | tuning: within 2 px | validation: within 2 px | validation: pose counts equal | "
        "validation: AP | passes the 1-byte floor | network, 1 thread (vs float32) |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "int16 activations keep what the int8 weights keep, to the keypoint: the rounding that costs int8 its "
        "keypoints beyond the weights' is the activations' 256 levels. What int16x8 still loses is the weights' "
        "rounding, GPTQ's already, so a finer grid or fine-tuning of the weights alone would raise it. LiteRT "
        "runs 16x8 models in its reference kernels (XNNPACK has none), so on a CPU it is many times slower than "
        "float32: the model is for accelerators that compute with 16-bit activations and 8-bit weights (Qualcomm's "
        "w8a16), not for CPUs.",
        "",
    ])
    publish(args.out, text)


if __name__ == "__main__":
    main()
