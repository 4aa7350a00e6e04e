"""Which layers need 16-bit activations? int8 and int16 activations mixed layer by layer, on the GPTQ int8 weights.

ONNX Runtime's static QDQ quantizer with tensor overrides (its mixed-precision fixer inserts the conversions
between 8- and 16-bit regions, as for Qualcomm's QNN execution provider): every layer's activations int16 but
one, to price each layer's int8 activations; then the layers whose int8 activations cost least on the tuning
photos are made int8 one by one, each kept if the tuning photos stay on the 1-byte floor, and that layout is judged
on the validation photos. Judged in the QDQ arithmetic itself (ONNX Runtime's graph optimizations off: what an
accelerator computes, not the CPU's int8 kernels).

    python research/int8_mixed_activations.py --out research/int8_mixed_activations.md
"""
from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from study import publish, report_path

from posenet_port._util.fileio import write_bytes_atomic
from posenet_port._util.machine import describe_cpu
from posenet_port.formats.onnx.export import QDQ_16BIT_OPSET, posenet_onnx, quantize_qdq
from posenet_port.inference.estimator import network_outputs
from posenet_port.inference.preprocess import preprocess
from posenet_port.model.architecture import ArchitectureConfig, ConvStep, conv_steps
from posenet_port.model.rounding import GRIDS, round_weights
from posenet_port.model.spec import INPUT_NAME
from posenet_port.model.weights import PosenetWeights, load_weights
from posenet_port.pipeline.calibration import Calibration, calibration_batches, calibration_photos
from posenet_port.pipeline.gate import FLOORS, TUNING, VALIDATION, agreement, compare_poses, decode_input_poses
from posenet_port.pipeline.photos import tuning_photos, validation_photos

SIZE, STRIDE = 257, 16
HEAD_TENSORS = {"heatmap_2": ["heatmap_2", "heatmap_nchw", "heatmap"]}  # a head's transposes and sigmoid follow it


def layer_tensors(step: ConvStep) -> list[str]:
    """The activations a layer's choice covers in posenet_onnx's graph (the input goes with conv0)."""
    if step.is_first:
        return [INPUT_NAME, "image_nchw", "Conv2d_0/Relu6"]
    if step.is_head:
        return [f"{step.scope}/Conv2D", *HEAD_TENSORS.get(step.scope, [step.scope])]
    return [f"{step.scope}/Relu6"]


def layer_macs(weights: PosenetWeights, steps: Sequence[ConvStep]) -> list[int]:
    """Multiply-adds of each layer at SIZE."""
    size, macs = SIZE, []
    for conv, step in zip(weights.convs(), steps):
        if not step.is_head:
            size = math.ceil(size / step.layer.stride)
        macs.append(size * size * int(np.prod(conv.kernel.shape)))
    return macs


class MixedQuantizer:
    """QDQ models of the rounded weights' graph with chosen layers' activations int16 (the rest uint8), judged as
    the gate judges: against the float graph of the original weights."""

    def __init__(self, weights: PosenetWeights, original: PosenetWeights, calibration: Calibration, work: Path) -> None:
        import onnx
        import onnxruntime as ort

        self.steps = conv_steps(ArchitectureConfig(weights.multiplier, STRIDE))
        self.model = posenet_onnx(weights, STRIDE)
        self.model.opset_import[0].version = QDQ_16BIT_OPSET
        self.target, reference = work / "mixed.onnx", work / "float.onnx"
        onnx.save(posenet_onnx(original, STRIDE), reference)
        self.calibration = calibration
        self.photos = {TUNING: [preprocess(rgb, SIZE) for _, rgb in tuning_photos()],
                       VALIDATION: [preprocess(rgb, SIZE) for _, rgb in validation_photos()]}
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        self.options = options
        self.references = {split: self._poses(reference, prepared) for split, prepared in self.photos.items()}

    def _poses(self, path: Path, prepared: list) -> list:
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), self.options, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        return [decode_input_poses(network_outputs(dict(zip(names, session.run(names, {INPUT_NAME: batch}))), box,
                                                   STRIDE), STRIDE) for batch, box in prepared]

    def judge(self, wide: set[int]) -> dict[str, float]:
        """Share within 2 px per split with the layers `wide` at int16 activations."""
        self._quantize(wide)
        shares = {}
        for split, prepared in self.photos.items():
            comparisons = [compare_poses(a, b) for a, b in zip(self.references[split], self._poses(self.target, prepared))]
            shares[split] = agreement(split, SIZE, comparisons).within_share
        return shares

    def _quantize(self, wide: set[int]) -> None:
        import copy

        from onnxruntime.quantization import QuantType
        from onnxruntime.quantization.execution_providers.qnn.mixed_precision_overrides_utils import (
            MixedPrecisionTensorQuantOverridesFixer,
        )
        from onnxruntime.quantization.tensor_quant_overrides import TensorQuantOverridesHelper

        overrides = TensorQuantOverridesHelper({tensor: [{"quant_type": QuantType.QUInt16}]
                                                for index in wide for tensor in layer_tensors(self.steps[index])})
        if wide:
            fixer = MixedPrecisionTensorQuantOverridesFixer.create_from_model(overrides, copy.deepcopy(self.model),
                                                                              QuantType.QUInt8)
            fixer.apply(QuantType.QUInt8, False)
        quantized = quantize_qdq(self.model, self.calibration.batches(SIZE), tensor_overrides=overrides.get_dict())
        write_bytes_atomic(self.target, quantized)


def main() -> None:
    out = report_path(__doc__, __file__)
    started = time.perf_counter()
    floor = FLOORS["1-byte"].min_within
    calibration = Calibration(calibration_photos(None))
    original = load_weights()
    weights = round_weights(original, STRIDE, calibration_batches(calibration.photos, SIZE), GRIDS["int8"])
    with tempfile.TemporaryDirectory(prefix="posenet-mixed-") as work:
        quantizer = MixedQuantizer(weights, original, calibration, Path(work))
        steps, every = quantizer.steps, set(range(len(quantizer.steps)))
        macs = layer_macs(weights, steps)
        narrow, wide = quantizer.judge(set()), quantizer.judge(every)
        print(f"all int8: {narrow}; all int16: {wide}", flush=True)
        alone = {}
        for index, step in enumerate(steps):
            alone[index] = quantizer.judge(every - {index})
            print(f"{step.scope} int8: {alone[index]}", flush=True)
        chosen: set[int] = set()
        layout = wide
        for index in sorted(every, key=lambda i: -alone[i][TUNING]):  # the cheapest on the tuning photos first
            trial = quantizer.judge(every - chosen - {index})
            if trial[TUNING] < floor:
                continue
            chosen, layout = chosen | {index}, trial
            print(f"+ {steps[index].scope}: {trial}", flush=True)
    share = sum(macs[i] for i in chosen) / sum(macs)
    rows = [f"| {steps[i].scope} | {macs[i] / 1e6:.1f} | {alone[i][TUNING]:.1%} | {alone[i][VALIDATION]:.1%} |"
            for i in range(len(steps))]
    text = "\n".join([
        "# Which layers need 16-bit activations",
        "",
        f"Written by `python research/int8_mixed_activations.py` on {describe_cpu()} in "
        f"{time.perf_counter() - started:.0f} s. The GPTQ int8 weights as an ONNX QDQ model (ONNX Runtime's static "
        "quantizer, per-channel int8 weights, min-max ranges on the calibration photos) with each layer's activations "
        "uint8 or uint16 (its mixed-precision fixer converts between the regions; conv0's choice covers the input "
        "too), run in its QDQ arithmetic at input 257. Share of the float graph's confident keypoints within 2 px; "
        f"the 1-byte floor is {floor:.0%}.",
        "",
        "| layout | tuning: within 2 px | validation: within 2 px |",
        "|---|---|---|",
        f"| every activation int8 | {narrow[TUNING]:.1%} | {narrow[VALIDATION]:.1%} |",
        f"| every activation int16 | {wide[TUNING]:.1%} | {wide[VALIDATION]:.1%} |",
        f"| int8 where the tuning photos allow ({len(chosen)} of {len(steps)} layers, {share:.0%} of the "
        f"multiply-adds) | {layout[TUNING]:.1%} | {layout[VALIDATION]:.1%} |",
        "",
        "Int8 layers of the last row, cheapest first: " + (", ".join(steps[i].scope for i in sorted(
            chosen, key=lambda i: -alone[i][TUNING])) or "none") + ".",
        "",
        "Each layer's activations int8, every other layer's int16:",
        "",
        "| layer | million multiply-adds | tuning: within 2 px | validation: within 2 px |",
        "|---|---|---|---|",
        *rows,
        "",
    ])
    publish(out, text)


if __name__ == "__main__":
    main()
