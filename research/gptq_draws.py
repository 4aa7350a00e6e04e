"""How far does a 1-byte model's gate figure move when GPTQ's inputs change by float32's last bit?

GPTQ decides roundings one after another, each depending on the ones before, so the smallest change of its inputs
can send it down another path: a different model, equally well founded. Before its arithmetic was float64 NumPy,
TensorFlow's float32 kernels, which differ with the CPU's instructions, made that change, and a rebuild on an
AVX2-only CPU and one on an AVX-512 CPU kept different models. This study makes such changes on purpose: each
draw multiplies every calibration value by (1 + 1e-7 g), g standard normal with the draw's seed (draw 0 changes
nothing: it is what `rebuild` writes on every CPU), rebuilds the 1-byte recipes that sit near their floor through
rebuild's own library call, and reads its check report. The spread is what a single build's verdict is worth.

    python research/gptq_draws.py --out research/gptq_draws.md [--draws 8]
"""
from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from study import publish, study_parser

import posenet_port.model.rounding as rounding
from posenet_port._util.machine import describe_cpu
from posenet_port.pipeline.gate import FLOORS
from posenet_port.pipeline.run import RebuildOptions, rebuild

RECIPES = {"tflite": ("int8-gptq", "dynamic-range-gptq", "int16x8-gptq"), "tfjs": ("uint8-mixed-gptq",),
           "onnx": ("int16x8-gptq",)}
RELATIVE_CHANGE = 1e-7  # float32's last bit is 6e-8 of a value
VALIDATION, TUNING = "validation", "tuning"


def perturbed_rounding(seed: int):
    """rounding.round_weights with its calibration batches changed by RELATIVE_CHANGE (seed 0: unchanged)."""
    original = rounding.round_weights

    def round_weights(weights, output_stride, calibration, grid):
        rng = np.random.default_rng(seed)
        if seed:
            calibration = [(batch * (1 + RELATIVE_CHANGE * rng.standard_normal(batch.shape))).astype(batch.dtype)
                           for batch in calibration]
        return original(weights, output_stride, calibration, grid)

    return original, round_weights


def one_draw(seed: int, work: Path) -> dict[str, dict]:
    """Each recipe's check result in the draw `seed`, by name."""
    original, rounding.round_weights = perturbed_rounding(seed)
    try:
        out = work / f"draw{seed}"
        rebuild(RebuildOptions(out_dir=out, formats=tuple(RECIPES), named_recipes=RECIPES, require_node=True))
    finally:
        rounding.round_weights = original
    return {r["name"]: r for r in json.loads((out / "checks" / "checks.json").read_text())["results"]}


def figure(result: dict, size: int, split: str = VALIDATION) -> float:
    return next(100 * a["within_share"] for a in result["agreements"]
                if a["split"] == split and a["input_size"] == size)


def correlation(first: list[float], second: list[float]) -> str:
    """Pearson's r, or "-" where one side never moves."""
    if len(set(first)) < 2 or len(set(second)) < 2:
        return "-"
    return f"{statistics.correlation(first, second):+.2f}"


def report(draws: list[dict[str, dict]], seconds: float) -> str:
    names = list(draws[0])
    lines = [
        "# GPTQ draws: how far a 1-byte model's gate figure moves when GPTQ's inputs change by float32's last bit",
        "",
        f"Written by `python research/gptq_draws.py` in {seconds:.0f} s on {describe_cpu()}. Each draw multiplies",
        f"every calibration value by (1 + {RELATIVE_CHANGE:g} g), g standard normal with the draw's seed, before GPTQ",
        "rounds the weights; draw 0 changes nothing and is what `rebuild` writes on every CPU. Figures: the share of",
        "the float graph's confident keypoints within 2 px on the 9 validation photos, as `rebuild`'s gate counts",
        "them; a draw passes when every checked size clears the class's floor and its pose counts do too. Beside",
        "them, the same figure on the 14 tuning photos GPTQ calibrates on, and how the two move together across the",
        "draws (Pearson's r): a draw chosen by its tuning figure is only better on photos nobody tuned on if r is",
        "clearly positive.",
        "",
        "| model | size | floor | draw 0 | every draw | min - max | mean | passes | tuning, every draw | r |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        results = [draw[name] for draw in draws]
        floor = 100 * FLOORS[results[0]["weight_class"]].min_within
        for size in sorted({a["input_size"] for a in results[0]["agreements"] if a["split"] == VALIDATION}):
            values = [figure(r, size) for r in results]
            tuning = [figure(r, size, TUNING) for r in results]
            passes = sum(r["status"] == "PASS" for r in results)
            lines.append(f"| {name} | {size} | {floor:.0f}% | {values[0]:.1f}% | "
                         + " ".join(f"{v:.1f}" for v in values)
                         + f" | {min(values):.1f} - {max(values):.1f}% | {statistics.mean(values):.1f}% | "
                         f"{passes} of {len(results)} | " + " ".join(f"{v:.1f}" for v in tuning)
                         + f" | {correlation(tuning, values)} |")
    lines += ["", "One keypoint is 0.3 points of the figure (301 confident keypoints). \"passes\" counts whole",
              "verdicts, so a model with two sizes passes a draw only when both clear the floor."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = study_parser(__doc__, __file__)
    parser.add_argument("--draws", type=int, default=8, help="draws, seed 0 (unchanged) first (default: 8)")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        draws = []
        for seed in range(args.draws):
            print(f"draw {seed} of {args.draws}", flush=True)
            draws.append(one_draw(seed, Path(work)))
    publish(args.out, report(draws, time.perf_counter() - started))


if __name__ == "__main__":
    main()
