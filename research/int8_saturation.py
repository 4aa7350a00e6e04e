"""Why ONNX Runtime's and OpenVINO's int8 models lose most of PoseNet's keypoints on x86 CPUs without VNNI, and the
weight levels that stop it.

Without VNNI (AVX2, AVX-512F), x86 integer kernels multiply uint8 activations by int8 weights with VPMADDUBSW,
which adds each pair of products in a saturating 16-bit sum: 255 * 127 * 2 overflows it, 255 * 64 * 2 does not.
The same QDQ model is run three ways: in its own arithmetic (ONNX Runtime with graph optimizations off: float
between QuantizeLinear / DequantizeLinear, what a CPU with VNNI computes within a step), in ONNX Runtime's integer
kernels, and in OpenVINO; for several choices of which layers' weights use 7-bit levels (-64..64). Each layout
has its own GPTQ weights on its grid (model/rounding.py), calibrated as rebuild calibrates. Then each layer alone,
fed the same uint8 input, in the integer kernels against its arithmetic.

    python research/int8_saturation.py --out research/int8_saturation.md
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from study import publish, report_path

from posenet_port._util.fileio import write_bytes_atomic
from posenet_port._util.machine import describe_cpu
from posenet_port.formats.onnx.export import posenet_onnx, quantize_qdq, reduced_range_scopes
from posenet_port.inference.estimator import network_outputs
from posenet_port.inference.preprocess import preprocess
from posenet_port.model.rounding import GRIDS, INT8_REDUCED, WeightGrid, round_weights
from posenet_port.model.spec import INPUT_NAME
from posenet_port.model.weights import PosenetWeights, load_weights
from posenet_port.pipeline.calibration import Calibration, calibration_batches, calibration_photos
from posenet_port.pipeline.gate import TUNING, VALIDATION, agreement, compare_poses, decode_input_poses
from posenet_port.pipeline.photos import tuning_photos, validation_photos

STRIDE, CALIBRATION_SIZE, SIZES = 16, 257, (257, 353)
_INT8 = GRIDS["int8"].pointwise
LAYOUTS = {
    "8-bit everywhere (TFLite's int8 grid)": GRIDS["int8"],
    "conv0 7-bit (NNCF's default overflow fix)": WeightGrid("conv0-7-bit", "", _INT8, _INT8, first=INT8_REDUCED),
    "7-bit outside the depthwise layers (rebuild's int8-x86 grid)": GRIDS["int8-x86"],
    "7-bit everywhere (the quantizer's reduce_range)": WeightGrid("7-bit", "", INT8_REDUCED, INT8_REDUCED),
}
PER_LAYER = ("8-bit everywhere (TFLite's int8 grid)", "7-bit outside the depthwise layers (rebuild's int8-x86 grid)")
ENGINES = ("QDQ arithmetic", "ONNX Runtime integer kernels", "OpenVINO")
PER_LAYER_PHOTOS = 3

Outputs = dict[str, np.ndarray]


def qdq_model(weights: PosenetWeights, grid: WeightGrid, calibration: Calibration) -> bytes:
    """The int8 QDQ model of `weights` placed on `grid` by GPTQ, its 7-bit layers stored by reduce_range."""
    rounded = round_weights(weights, STRIDE, calibration_batches(calibration.photos, CALIBRATION_SIZE), grid)
    return quantize_qdq(posenet_onnx(rounded, STRIDE), calibration.batches(CALIBRATION_SIZE),
                        reduced_range=reduced_range_scopes(rounded, STRIDE, grid))


def onnx_session(path: Path, integer_kernels: bool):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if not integer_kernels:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def engine(name: str, path: Path) -> Callable[[np.ndarray], Outputs]:
    """batch -> outputs by name, in one of ENGINES."""
    if name == "OpenVINO":
        import openvino as ov

        compiled = ov.Core().compile_model(ov.convert_model(str(path)), "CPU")
        return lambda batch: {port.get_any_name(): value for port, value in compiled(batch).items()}
    session = onnx_session(path, integer_kernels=name != "QDQ arithmetic")
    names = [output.name for output in session.get_outputs()]
    return lambda batch: dict(zip(names, session.run(names, {INPUT_NAME: batch})))


class PhotoSets:
    """The tuning and validation photos at each size, and the float model's outputs and poses on them."""

    def __init__(self, float_model: Path) -> None:
        self.prepared = {(split, size): [preprocess(rgb, size) for _, rgb in photos()]
                         for split, photos in ((TUNING, tuning_photos), (VALIDATION, validation_photos))
                         for size in SIZES}
        run = engine("ONNX Runtime integer kernels", float_model)
        self.reference = {key: [run(batch) for batch, _ in prepared] for key, prepared in self.prepared.items()}
        self.poses = {key: self._poses(outputs, self.prepared[key]) for key, outputs in self.reference.items()}

    @staticmethod
    def _poses(outputs: Sequence[Outputs], prepared: Sequence) -> list:
        return [decode_input_poses(network_outputs(out, box, STRIDE), STRIDE) for out, (_, box) in zip(outputs, prepared)]

    def judge(self, run: Callable[[np.ndarray], Outputs]) -> dict[tuple[str, int], tuple[float, float]]:
        """Per (split, size): the mean distance of the heads to the float model's (the fine-tuning objective)
        and the share of confident keypoints within 2 px."""
        import tensorflow as tf

        from posenet_port.training.finetune import distance

        figures = {}
        for key, prepared in self.prepared.items():
            outputs = [run(batch) for batch, _ in prepared]
            distances = [float(distance({k: tf.constant(v) for k, v in out.items()},
                                        {k: tf.constant(v) for k, v in ref.items()}, STRIDE))
                         for out, ref in zip(outputs, self.reference[key])]
            comparisons = [compare_poses(a, b) for a, b in zip(self.poses[key], self._poses(outputs, prepared))]
            figures[key] = (float(np.mean(distances)), agreement(key[0], key[1], comparisons).within_share)
        return figures


def layer_steps(path: Path, batches: Sequence[np.ndarray], work: Path) -> list[tuple[str, int, float]]:
    """Each convolution alone, fed the uint8 input its QDQ arithmetic gives it: per layer, the most quantization
    steps by which ONNX Runtime's integer kernels miss that arithmetic's uint8 output, and the share of outputs
    missed by more than one step (one is requantization rounding)."""
    import onnx
    import onnx.utils

    model = onnx.load(path)
    producer = {output: node for node in model.graph.node for output in node.output}
    consumer = {node.input[0]: node for node in model.graph.node if node.op_type == "QuantizeLinear"}
    layers = []
    for node in model.graph.node:
        if node.op_type == "Conv":
            source = producer[node.input[0]].input[0]  # the uint8 tensor its DequantizeLinear reads
            result = node.output[0] if node.output[0] in consumer else next(  # after the ReLU6 when there is one
                n.output[0] for n in model.graph.node if n.op_type == "Clip" and n.input[0] == node.output[0])
            layers.append((node.name.split("/")[0], source, consumer[result].output[0]))
    del model.graph.output[:]
    model.graph.output.extend(onnx.helper.make_tensor_value_info(source, onnx.TensorProto.UINT8, None)
                              for _, source, _ in layers)
    probe = work / "inputs.onnx"
    onnx.save(model, probe)
    session = onnx_session(probe, integer_kernels=False)
    names = [output.name for output in session.get_outputs()]
    inputs = [dict(zip(names, session.run(names, {INPUT_NAME: batch}))) for batch in batches]
    rows = []
    for scope, source, target in layers:
        alone = work / "layer.onnx"
        onnx.utils.extract_model(str(path), str(alone), [source], [target])
        arithmetic, kernels = onnx_session(alone, False), onnx_session(alone, True)
        misses = np.concatenate([np.abs(arithmetic.run(None, {source: x[source]})[0].astype(int)
                                        - kernels.run(None, {source: x[source]})[0].astype(int)).ravel() for x in inputs])
        rows.append((scope, int(misses.max()), float(np.mean(misses > 1))))
    return rows


def report(figures: dict[str, dict[str, dict]], steps: dict[str, list], seconds: float) -> str:
    def cells(judged: dict) -> str:
        tuning = np.mean([judged[(TUNING, size)][0] for size in SIZES])
        validation = np.mean([judged[(VALIDATION, size)][0] for size in SIZES])
        shares = " / ".join(f"{judged[(VALIDATION, size)][1]:.1%}" for size in SIZES)
        return f"{tuning:.3f} | {validation:.3f} | {shares}"

    rows = [f"| {layout} | {name} | {cells(judged)} |" for layout, engines in figures.items()
            for name, judged in engines.items()]
    by_layout = {layout: {scope: (most, share) for scope, most, share in layers} for layout, layers in steps.items()}
    scopes = list(next(iter(by_layout.values())))
    layer_rows = ["| " + " | ".join([scope, *(f"{layers[scope][0]} ({layers[scope][1]:.2%})" for layers in
                                               by_layout.values())]) + " |" for scope in scopes]
    return "\n".join([
        "# int8 on x86 CPUs without VNNI: 16-bit overflow, and the 7-bit weights that stop it",
        "",
        f"Written by `python research/int8_saturation.py` on {describe_cpu()} in {seconds:.0f} s. " + " ".join(
            __doc__.split("\n\n")[1].split()),
        "",
        "Distance of the four heads to the float model's, where the decoder reads them (the fine-tuning objective, "
        f"mean over photos and sizes {' and '.join(map(str, SIZES))}), and the validation photos' confident "
        "keypoints within 2 px of the float model's poses (the gate's count; the 1-byte floor is 97 %):",
        "",
        "| weights | run by | distance, tuning | distance, validation | validation within 2 px at "
        f"{' / '.join(map(str, SIZES))} |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"Each layer alone on {PER_LAYER_PHOTOS} validation photos at {SIZES[0]}, fed the uint8 input its arithmetic "
        "gives it: the most quantization steps by which ONNX Runtime's integer kernels miss its arithmetic's output "
        "(one is requantization rounding), and in brackets the share of outputs missed by more than one step:",
        "",
        "| layer | " + " | ".join(steps) + " |",
        "|---|" + "---|" * len(steps),
        *layer_rows,
        "",
    ])


def main() -> None:
    out = report_path(__doc__, __file__)
    started = time.perf_counter()
    weights, calibration = load_weights(), Calibration(calibration_photos(None))
    figures, steps = {}, {}
    with tempfile.TemporaryDirectory(prefix="posenet-saturation-") as folder:
        work = Path(folder)
        write_bytes_atomic(work / "float.onnx", posenet_onnx(weights, STRIDE).SerializeToString())
        photos = PhotoSets(work / "float.onnx")
        for layout, grid in LAYOUTS.items():
            path = write_bytes_atomic(work / "int8.onnx", qdq_model(weights, grid, calibration))
            figures[layout] = {name: photos.judge(engine(name, path)) for name in ENGINES}
            print(layout, {name: cells for name, cells in figures[layout].items()}, flush=True)
            if layout in PER_LAYER:
                batches = [batch for batch, _ in photos.prepared[(VALIDATION, SIZES[0])][:PER_LAYER_PHOTOS]]
                steps[layout] = layer_steps(path, batches, work)
    publish(out, report(figures, steps, time.perf_counter() - started))


if __name__ == "__main__":
    main()
