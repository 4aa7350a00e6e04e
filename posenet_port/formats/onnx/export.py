"""PoseNet weights -> an ONNX model written node by node (no tf2onnx), run by ONNX Runtime and read by OpenVINO.

The graph is the network itself: one Transpose to NCHW, conv0, 13 depthwise (grouped) + pointwise convolutions
with Clip(0, 6), the four 1x1 heads, a Sigmoid for `heatmap`, and Transposes back to NHWC so every output has
the layout and name of the TF graph's. Height and width are dynamic. Atrous layers (output stride 8) are native
dilated convolutions; SAME padding is `SAME_UPPER` on strided layers (TF's extra pixel goes at the end) and
explicit on the others. Variants:

- `float32`: the weights as they are.
- `float16`: every kernel and bias stored as float16 and cast to float32 on load (ONNX Runtime folds the casts,
  so it runs at float32 speed with half the file).
- `int8`: QDQ (QuantizeLinear / DequantizeLinear pairs), int8 per-channel weights and uint8 activations
  calibrated on real photos by ONNX Runtime's static quantizer, run in ONNX Runtime's integer kernels. conv0's,
  the pointwise layers' and the heads' weights use 7-bit levels (the quantizer's `reduce_range`; rounding.py's
  int8-x86 grid), so that x86 CPUs without VNNI compute what the model says instead of overflowing.
- `int16x8`: the same with int16 activations (opset 21's 16-bit QDQ): the layout accelerators such as ONNX
  Runtime's QNN execution provider run as w8a16; the CPU computes it in float between the QDQ pairs.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from posenet_port._util.fileio import write_bytes_atomic
from posenet_port.formats.base import ExportSource, Recipe
from posenet_port.model.architecture import ArchitectureConfig, ConvStep, conv_steps
from posenet_port.model.rounding import GRIDS, INT8_REDUCED, WeightGrid
from posenet_port.model.spec import INPUT_NAME
from posenet_port.model.weights import ConvWeights, PosenetWeights

OPSET = 17
QDQ_16BIT_OPSET = 21  # the first whose QuantizeLinear / DequantizeLinear take int16 (our ops mean the same there)
VARIANTS = ("float32", "float16", "int8", "int16x8")
ACTIVATION_TYPES = {"int8": "QUInt8", "int16x8": "QInt16"}  # per quantized variant: ONNX Runtime's QuantType
OUTPUT_ORDER = ("heatmap", "heatmap_2", "offset_2", "displacement_fwd_2", "displacement_bwd_2")
NCHW, NHWC = (0, 3, 1, 2), (0, 2, 3, 1)


def posenet_onnx(weights: PosenetWeights, output_stride: int, variant: str = "float32"):
    """The ONNX ModelProto of PoseNet on `weights` (float32 or float16 storage)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if variant not in ("float32", "float16"):
        raise ValueError(f"ONNX graph storage {variant!r}: choose float32 or float16 (int8 is quantized from float32)")
    config = ArchitectureConfig(weights.multiplier, output_stride)
    nodes, initializers = [helper.make_node("Transpose", [INPUT_NAME], ["image_nchw"], perm=NCHW, name="to_nchw")], []

    def constant(name: str, array: np.ndarray) -> str:
        if variant == "float16":
            initializers.append(numpy_helper.from_array(array.astype(np.float16), f"{name}_float16"))
            nodes.append(helper.make_node("Cast", [f"{name}_float16"], [name], to=TensorProto.FLOAT, name=f"{name}_cast"))
        else:
            initializers.append(numpy_helper.from_array(np.ascontiguousarray(array, np.float32), name))
        return name

    initializers += [numpy_helper.from_array(np.float32(0), "relu6_min"), numpy_helper.from_array(np.float32(6), "relu6_max")]
    features, heads = "image_nchw", {}
    for conv, step in zip(weights.convs(), conv_steps(config)):
        output = _conv_nodes(nodes, constant, features, conv, step)
        if step.is_head:
            heads[step.scope] = output
        else:
            features = output
    nodes.append(helper.make_node("Sigmoid", [heads["heatmap_2"]], ["heatmap_nchw"], name="heatmap_sigmoid"))
    heads["heatmap"] = "heatmap_nchw"
    for name in OUTPUT_ORDER:
        nodes.append(helper.make_node("Transpose", [heads[name]], [name], perm=NHWC, name=f"{name}_to_nhwc"))
    image = helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [1, "height", "width", 3])
    outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, None, None, None]) for name in OUTPUT_ORDER]
    graph = helper.make_graph(nodes, config.name, [image], outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="posenet_port")
    model.ir_version = 8  # readable by every ONNX Runtime and OpenVINO release of the last years
    onnx.checker.check_model(model, full_check=True)
    return model


def _conv_nodes(nodes: list, constant, features: str, conv: ConvWeights, step: ConvStep) -> str:
    """Append one convolution (+ Clip for ReLU6) reading `features`; returns its output's name."""
    from onnx import helper

    kernel = np.transpose(conv.kernel, (2, 3, 0, 1) if step.depthwise else (3, 2, 0, 1))  # -> [C_out, C_in/group, kh, kw]
    size, (stride, dilation) = kernel.shape[2], (step.layer.stride, step.layer.dilation)
    padding = {"auto_pad": "SAME_UPPER"} if stride > 1 else {"pads": [(size - 1) * dilation // 2] * 4}
    name = f"{step.scope}/Conv2D"
    inputs = [features, constant(f"{step.scope}/weights", kernel), constant(f"{step.scope}/biases", conv.bias)]
    nodes.append(helper.make_node(
        "Conv", inputs, [name], name=name, kernel_shape=[size, size], strides=[stride, stride],
        dilations=[dilation, dilation], group=kernel.shape[0] if step.depthwise else 1, **padding,
    ))
    if not step.relu6:
        return name
    nodes.append(helper.make_node("Clip", [name, "relu6_min", "relu6_max"], [f"{step.scope}/Relu6"], name=f"{step.scope}/Relu6"))
    return f"{step.scope}/Relu6"


def export_onnx(
    weights: PosenetWeights, output_stride: int, path: str | Path, variant: str,
    calibration: Sequence[np.ndarray] = (),
) -> Path:
    """Write PoseNet as `variant` to `path` (atomically); the quantized variants need `calibration` batches
    ([1, H, W, 3] float32)."""
    if variant not in VARIANTS:
        raise ValueError(f"ONNX variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    if variant not in ACTIVATION_TYPES:
        return write_bytes_atomic(Path(path), posenet_onnx(weights, output_stride, variant).SerializeToString())
    if not calibration:
        raise ValueError(f"{variant} ONNX needs calibration batches")
    reduced = reduced_range_scopes(weights, output_stride) if variant == "int8" else ()
    quantized = quantize_qdq(posenet_onnx(weights, output_stride), calibration, ACTIVATION_TYPES[variant],
                             reduced_range=reduced)
    return write_bytes_atomic(Path(path), quantized)


def reduced_range_scopes(weights: PosenetWeights, output_stride: int, grid: WeightGrid = GRIDS["int8-x86"]) -> list[str]:
    """The layers whose int8 weights `grid` puts on 7-bit levels, as the quantizer's reduce_range stores them
    (-64..64, scale max |w| / 64): GPTQ's weights on that grid go through unchanged."""
    steps = conv_steps(ArchitectureConfig(weights.multiplier, output_stride))
    return [step.scope for step in steps if grid.layer(step) == INT8_REDUCED]


def export(source: ExportSource, recipe: Recipe, path: Path) -> Path:
    """The registry's entry point: dynamic height and width; calibrated at the rebuild's input size."""
    calibration = source.calibration.batches(source.input_size) if recipe.calibrated else ()
    return export_onnx(source.weights, source.spec.output_stride, path, recipe.variant, calibration)


def quantize_qdq(model, calibration: Sequence[np.ndarray], activation_type: str = "QUInt8",
                 float_layers: Sequence[str] = (), tensor_overrides: dict | None = None,
                 reduced_range: Sequence[str] = ()) -> bytes:
    """QDQ of a float ModelProto with ONNX Runtime's static quantizer: per-channel int8 weights, activations of
    `activation_type` (QUInt8, or QInt16) with min-max ranges from `calibration`. The convolutions of
    `float_layers` (MobileNet scopes such as `Conv2d_3_depthwise`) stay float, and `tensor_overrides` (the
    quantizer's TensorQuantOverrides) give chosen tensors other types: research/int8_float_layers.py and
    research/int8_mixed_activations.py study which layers int8 costs keypoints in. The weights of the layers in
    `reduced_range` go on 7-bit levels. For QInt16 the model's opset is raised to 21 in place."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches: Iterator[np.ndarray] = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    if activation_type == "QInt16":  # raised here, or the quantizer raises it with a warning on the console
        model.opset_import[0].version = max(model.opset_import[0].version, QDQ_16BIT_OPSET)
    with tempfile.TemporaryDirectory(prefix="posenet-onnx-") as work:
        source, target = Path(work) / "float.onnx", Path(work) / "quantized.onnx"
        onnx.save(model, source)
        quantize_static(
            str(source), str(target), Batches(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType[activation_type], weight_type=QuantType.QInt8,
            nodes_to_exclude=_layer_nodes(model, float_layers),
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True,
                           "TensorQuantOverrides": {**_reduced_weights(model, reduced_range), **(tensor_overrides or {})}},
        )
        return target.read_bytes()


def _reduced_weights(model, scopes: Sequence[str]) -> dict[str, list[dict]]:
    """Per-channel (axis 0: an override without it would quantize the whole kernel with one scale) reduce_range
    overrides for the kernels of these layers' convolutions."""
    return {node.input[1]: [{"reduce_range": True, "axis": 0}] for node in model.graph.node
            if node.op_type == "Conv" and node.name.split("/")[0] in scopes}


def _layer_nodes(model, scopes: Sequence[str]) -> list[str]:
    """The nodes of these layers: the convolution and its ReLU6, and for a head everything after it to the
    output (else the quantizer would still round a float head's output at its Sigmoid or Transpose)."""
    owners = {"heatmap_sigmoid": "heatmap_2", "heatmap_to_nhwc": "heatmap_2"}
    return [node.name for node in model.graph.node
            if owners.get(node.name, node.name.split("/")[0].removesuffix("_to_nhwc")) in scopes]
