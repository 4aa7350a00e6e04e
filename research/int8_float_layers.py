"""Which layers' int8 activations cost keypoints: ONNX Runtime int8 with chosen layers kept in float.

    python research/int8_float_layers.py --out research/int8_float_layers.md

Rounds the weights onto the int8 grid as rebuild's int8-gptq does, then quantizes them with ONNX Runtime's
static quantizer (the ONNX int8 recipe) keeping a set of layers in float: none, each layer alone, and only a few
pointwise layers in int8. Each model is judged as the gate judges (posenet_port/pipeline/gate.py): its decoded poses against the float
model's, on the tuning photos and on the validation photos, against the 1-byte floor.

The models run with ONNX Runtime's graph optimizations off, so they compute the QDQ model's own arithmetic
(quantize, dequantize, float convolution): what the int8 kernels approximate. With the optimizations on,
ONNX Runtime 1.32 gives wrong outputs when a float depthwise convolution sits between quantized layers.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from study import publish, study_parser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from posenet_port.cli.common import run_cli  # noqa: E402
from posenet_port.pipeline.gate import Agreement


@dataclass(frozen=True)
class Layout:
    """The layers kept in float (MobileNet scopes); every other convolution has int8 weights and activations."""

    label: str
    float_layers: tuple[str, ...]


@dataclass(frozen=True)
class LayoutResult:
    layout: Layout
    tuning: Agreement
    validation: Agreement
    kernels_validation: Agreement | None = None  # the same model in ONNX Runtime's int8 kernels


def layouts(scopes: Sequence[str]) -> list[Layout]:
    """All int8; each layer alone in float; then int8 kept only in the last pointwise layers."""
    pointwise = [s for s in scopes if s.endswith("_pointwise")]
    found = [Layout("all int8", ())] + [Layout(f"{scope} float", (scope,)) for scope in scopes]
    for kept in (7, 2, 1):
        int8 = pointwise[-kept:]
        found.append(Layout(f"only {', '.join(int8) if kept < 3 else f'the last {kept} pointwise layers'} int8",
                            tuple(s for s in scopes if s not in int8)))
    return found


class PhotoSet:
    """Preprocessed photos and the float model's poses on them."""

    def __init__(self, photos: Sequence[np.ndarray], float_model: bytes, size: int, stride: int) -> None:
        from posenet_port.inference.preprocess import preprocess

        self.prepared, self.stride = [preprocess(rgb, size) for rgb in photos], stride
        self.reference = self.poses(float_model)

    def poses(self, model: bytes, kernels: bool = False) -> list:
        """Decoded poses per photo: the QDQ arithmetic, or with `kernels` ONNX Runtime's fused int8 kernels."""
        import onnxruntime as ort

        from posenet_port.inference.estimator import network_outputs
        from posenet_port.pipeline.gate import decode_input_poses

        options = ort.SessionOptions()
        if not kernels:
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        names = [output.name for output in session.get_outputs()]
        found = []
        for batch, box in self.prepared:
            outputs = dict(zip(names, session.run(None, {session.get_inputs()[0].name: batch})))
            found.append(decode_input_poses(network_outputs(outputs, box, self.stride), self.stride))
        return found

    def agreement(self, model: bytes, split: str, size: int, kernels: bool = False) -> Agreement:
        from posenet_port.pipeline.gate import agreement, compare_poses

        poses = self.poses(model, kernels)
        return agreement(split, size, [compare_poses(r, p) for r, p in zip(self.reference, poses)])


def study(weights, output_stride: int, size: int, calibration: Sequence[np.ndarray], tuning: PhotoSet,
          validation: PhotoSet, candidates: Sequence[Layout], progress=print) -> list[LayoutResult]:
    """Each layout of `weights` quantized on `calibration`, judged on both photo sets; all-int8 layouts also in
    ONNX Runtime's int8 kernels (a float layer between quantized ones runs wrong there)."""
    from posenet_port.formats.onnx.export import posenet_onnx, quantize_qdq
    from posenet_port.pipeline.gate import TUNING, VALIDATION

    model, results = posenet_onnx(weights, output_stride), []
    for layout in candidates:
        quantized = quantize_qdq(model, calibration, float_layers=layout.float_layers)
        kernels = validation.agreement(quantized, VALIDATION, size, kernels=True) if not layout.float_layers else None
        result = LayoutResult(layout, tuning.agreement(quantized, TUNING, size),
                              validation.agreement(quantized, VALIDATION, size), kernels)
        progress(f"{layout.label}: tuning {result.tuning.summary()}; validation {result.validation.summary()}"
                 + (f"; validation in the int8 kernels {kernels.summary()}" if kernels else ""))
        results.append(result)
    return results


def report(results: Sequence[LayoutResult], size: int, machine: str) -> str:
    from posenet_port.pipeline.gate import AGREEMENT_PX, FLOORS

    floor = FLOORS["1-byte"]
    lines = [
        "# Which layers' int8 activations cost keypoints",
        "",
        f"Written by `python research/int8_float_layers.py` on {machine}. ONNX Runtime's static int8 quantizer (QDQ: "
        "per-channel int8 weights, uint8 activations, min-max ranges on the calibration photos) on the weights "
        "rounded onto the int8 grid (GPTQ, as rebuild's int8-gptq), with the named layers kept in float. "
        f"Input {size}; share of confident keypoints within {AGREEMENT_PX:g} px of the float model's decoded "
        f"poses, as the gate counts them; the 1-byte floor is {100 * floor.min_within:g} % and pose counts equal "
        f"on {100 * floor.min_equal_counts:g} % of the validation photos. The models ran with ONNX Runtime's graph "
        "optimizations off: the QDQ model's own arithmetic, in float32. With them on, the all-int8 model runs in "
        "ONNX Runtime's integer kernels (last column), and a float depthwise convolution between quantized layers "
        "gives wrong outputs, so the mixed layouts are judged on their arithmetic only.",
        "",
        "| int8 layout | tuning: within | tuning: pose counts equal | validation: within | validation: pose counts "
        "equal | passes the 1-byte floor | validation in the int8 kernels |",
        "|---|---|---|---|---|---|---|",
    ]

    def clears(found: Agreement) -> bool:
        return found.within_share >= floor.min_within and found.equal_count_share >= floor.min_equal_counts

    for r in results:
        lines.append(f"| {r.layout.label} | {100 * r.tuning.within_share:.1f} % | {r.tuning.equal_counts}/"
                     f"{r.tuning.photos} | {100 * r.validation.within_share:.1f} % | {r.validation.equal_counts}/"
                     f"{r.validation.photos} | {'yes' if clears(r.validation) else 'no'} | {_kernels(r.kernels_validation)} |")
    chosen = [r for r in results if clears(r.tuning)]
    lucky = [r for r in results if clears(r.validation) and not clears(r.tuning)]
    lines += ["", "A recipe is chosen on the tuning photos, then judged on the validation photos. "
              + (f"Reaching the floor on the tuning photos: {_listing(chosen)}; on the validation photos "
                 f"{sum(clears(r.validation) for r in chosen)} of {len(chosen)} pass."
                 if chosen else "No layout reaches the floor on the tuning photos.")
              + (f" Passing on the validation photos only: {_listing(lucky)}, which the tuning photos rule out."
                 if lucky else "")]
    return "\n".join(lines) + "\n"


def _listing(results: Sequence[LayoutResult]) -> str:
    return "; ".join(f"{r.layout.label} ({100 * r.tuning.within_share:.1f} % tuning, "
                     f"{100 * r.validation.within_share:.1f} % validation)" for r in results)


def _kernels(found: Agreement | None) -> str:
    return "-" if found is None else (f"{100 * found.within_share:.1f} %, pose counts equal on "
                                      f"{found.equal_counts}/{found.photos}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = study_parser(__doc__, __file__)
    parser.add_argument("--size", type=int, default=257, help="input size (default: 257)")
    args = parser.parse_args(argv)

    from posenet_port._util.machine import describe_cpu
    from posenet_port.formats.onnx.export import posenet_onnx
    from posenet_port.model.architecture import ArchitectureConfig, conv_steps
    from posenet_port.model.rounding import GRIDS, round_weights
    from posenet_port.model.weights import load_weights
    from posenet_port.pipeline.calibration import Calibration, calibration_batches, calibration_photos
    from posenet_port.pipeline.photos import tuning_photos, validation_photos

    weights, stride = load_weights(), 16
    photos = calibration_photos(None)
    print(f"rounding the weights onto the int8 grid on {len(photos)} tuning photos ...", flush=True)
    rounded = round_weights(weights, stride, calibration_batches(photos, args.size), GRIDS["int8"])
    float_model = posenet_onnx(weights, stride).SerializeToString()
    tuning = PhotoSet([rgb for _, rgb in tuning_photos()], float_model, args.size, stride)
    validation = PhotoSet([rgb for _, rgb in validation_photos()], float_model, args.size, stride)
    scopes = [step.scope for step in conv_steps(ArchitectureConfig(weights.multiplier, stride))]
    results = study(rounded, stride, args.size, Calibration(photos).batches(args.size), tuning, validation,
                    layouts(scopes), progress=lambda line: print(line, flush=True))
    publish(args.out, report(results, args.size, describe_cpu()))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
