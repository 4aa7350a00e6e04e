"""tfjs graph models written directly from the weights (no tensorflowjs converter), ready for
@tensorflow-models/posenet 2.2.2.

`model.json` holds the graph as TensorFlow.js reads it: an input Placeholder `[1, -1, -1, 3]`, the ops tfjs runs
fastest (`_FusedConv2D` with `BiasAdd, Relu6`, `FusedDepthwiseConv2dNative`; atrous layers with native
`dilations`), `Identity` heads named `offset_2`, `heatmap_2`, `displacement_fwd_2`, `displacement_bwd_2`, and a
`signature` listing them in the order posenet reads outputs by position (posenet applies the sigmoid itself). The
weights go into 4 MB shards, with tfjs' own `quantization` entries. Variants:

- `float32`, `float16`: every weight stored so.
- `uint16`: every weight affine-quantized to uint16, one scale per tensor (tensorflowjs' arithmetic, zero nudged
  onto a level).
- `uint8-mixed`, the one-byte model. Plain uint8 ruins PoseNet: one affine scale per tensor wipes out the small
  output channels of the BN-folded kernels. So each pointwise and head kernel is stored normalised per output
  channel (each channel's largest |weight| on level 127 or -128), its bias divided likewise (float32: b / s can
  exceed float16 for nearly dead channels), and a per-channel `Mul` after the convolution restores the
  magnitudes (conv(x, K / s) + b / s, times s). On the uint8-mixed grid (rounding.py) the normalised kernels are
  whole levels, so uint8 stores them exactly. The small depthwise kernels and conv0, where uint8 hurts most per
  byte saved, stay float16 with their biases. About 1.3 MB, against 5 MB float32 and 2.5 MB float16.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posenet_port._util.fileio import atomic_path
from posenet_port.errors import ConfigError
from posenet_port.formats.base import ExportSource, Recipe
from posenet_port.model.architecture import ArchitectureConfig, ConvStep, conv_steps
from posenet_port.model.rounding import GRIDS
from posenet_port.model.spec import INPUT_NAME, POSENET_HEAD_ORDER
from posenet_port.model.weights import SCOPE, ConvWeights, PosenetWeights

CHANNEL_SCALE_SUFFIX = "/channel_scale"
UINT8_MIXED_1X1 = GRIDS["uint8-mixed"].pointwise  # the levels its 1x1 kernels are normalised onto
SHARD_BYTES = 4 * 1024 * 1024  # tensorflowjs' shard size: browsers fetch and cache each shard on its own
PRODUCER = 2129  # the GraphDef version TensorFlow 2.19 writes (tfjs does not read it)

VARIANTS = ("float32", "float16", "uint16", "uint8-mixed")


def export(source: ExportSource, recipe: Recipe, path: Path) -> Path:
    """The registry's entry point: `path` is the model.json to write, in a folder of its own."""
    return export_tfjs(source.weights, source.spec.output_stride, path.parent, recipe.variant)


def export_tfjs(weights: PosenetWeights, output_stride: int, directory: str | Path, variant: str) -> Path:
    """Write PoseNet on `weights` as a tfjs graph model in `directory` (whole, then renamed); returns its
    model.json."""
    if variant not in VARIANTS:
        raise ConfigError(f"tfjs variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    graph = _Graph(variant)
    features = graph.placeholder()
    for conv, step in zip(weights.convs(), conv_steps(ArchitectureConfig(weights.multiplier, output_stride))):
        output = graph.convolution(features, conv, step)
        if step.is_head:
            graph.node(step.scope, "Identity", [output])
        else:
            features = output
    with atomic_path(directory, directory=True) as folder:
        graph.write(folder)
    return Path(directory) / "model.json"


@dataclass
class _Weight:
    name: str
    values: np.ndarray  # float32
    storage: str  # float32, float16, uint16, uint8


class _Graph:
    """The nodes and weights of one model.json, in tfjs' JSON form of a GraphDef."""

    def __init__(self, variant: str) -> None:
        self.variant = variant
        self.nodes: list[dict[str, Any]] = []
        self.weights: list[_Weight] = []

    def node(self, name: str, op: str, inputs: list[str], attr: dict[str, Any] | None = None) -> str:
        entry: dict[str, Any] = {"name": name, "op": op}
        if inputs:
            entry["input"] = inputs
        entry["attr"] = attr if attr is not None else {"T": _type()}
        self.nodes.append(entry)
        return name

    def placeholder(self) -> str:
        return self.node(INPUT_NAME, "Placeholder", [], {"shape": {"shape": _dims([1, -1, -1, 3])}, "dtype": _type()})

    def constant(self, name: str, values: np.ndarray, storage: str) -> str:
        values = np.ascontiguousarray(values, np.float32)
        self.weights.append(_Weight(name, values, storage))
        tensor = {"dtype": "DT_FLOAT", "tensorShape": _dims(values.shape)}
        return self.node(name, "Const", [], {"value": {"tensor": tensor}, "dtype": _type()})

    def storage(self, one_by_one: bool) -> str:
        """How a weight is stored: uint8-mixed puts only the normalised 1x1 kernels in uint8."""
        if self.variant != "uint8-mixed":
            return self.variant
        return "uint8" if one_by_one else "float16"

    def convolution(self, features: str, conv: ConvWeights, step: ConvStep) -> str:
        """One fused convolution (+ bias, + ReLU6 unless a head); returns its output's name."""
        scope = f"{SCOPE}/{step.scope}"
        kernel_name = "depthwise_weights" if step.depthwise else "weights"
        kernel, bias, scale = conv.kernel, conv.bias, None
        one_by_one = kernel.shape[:2] == (1, 1)
        if self.variant == "uint8-mixed" and one_by_one:
            kernel, bias, scale = normalise_channels(kernel, bias)
        inputs = [features, self.constant(f"{scope}/{kernel_name}", kernel, self.storage(one_by_one)),
                  self.constant(f"{scope}/biases", bias, "float32" if scale is not None else self.storage(False))]
        fuse_relu6 = step.relu6 and scale is None
        stride, dilation = step.layer.stride, step.layer.dilation
        attr = {
            "T": _type(), "data_format": _string("NHWC"), "padding": _string("SAME"),
            "strides": _ints([1, stride, stride, 1]), "dilations": _ints([1, dilation, dilation, 1]),
            "explicit_paddings": {"list": {}}, "num_args": {"i": "1"},
            "fused_ops": {"list": {"s": [_bytes("BiasAdd")] + ([_bytes("Relu6")] if fuse_relu6 else [])}},
        }
        if not step.depthwise:
            attr.update({"epsilon": {"f": 0.0}, "leakyrelu_alpha": {"f": 0.2}, "use_cudnn_on_gpu": {"b": True},
                         "TArgs": {"list": {"type": ["DT_FLOAT"]}}})
        output = f"{scope}/Relu6" if fuse_relu6 else f"{scope}/BiasAdd"
        op = "FusedDepthwiseConv2dNative" if step.depthwise else "_FusedConv2D"
        self.node(output, op, inputs, attr)
        if scale is not None:
            scale_name = self.constant(f"{scope}/Conv2D{CHANNEL_SCALE_SUFFIX}", scale, "float32")
            output = self.node(f"{scope}/Conv2D/rescaled", "Mul", [output, scale_name])
            if step.relu6:
                output = self.node(f"{scope}/Relu6", "Relu6", [output])
        return output

    def write(self, folder: Path) -> None:
        entries, data = [], bytearray()
        for weight in self.weights:
            stored, quantization = quantize(weight.values, weight.storage)
            entry = {"name": weight.name, "shape": list(weight.values.shape), "dtype": "float32"}
            if quantization:
                entry["quantization"] = quantization
            entries.append(entry)
            data += stored.astype(stored.dtype.newbyteorder("<")).tobytes()
        shards = [bytes(data[i:i + SHARD_BYTES]) for i in range(0, len(data), SHARD_BYTES)]
        paths = [f"group1-shard{index}of{len(shards)}.bin" for index in range(1, len(shards) + 1)]
        for path, shard in zip(paths, shards):
            (folder / path).write_bytes(shard)
        signature_outputs = {name: {"name": f"{name}:0", "dtype": "DT_FLOAT"} for name in POSENET_HEAD_ORDER}
        document = {
            "format": "graph-model",
            "generatedBy": "posenet_port",
            "convertedBy": "posenet_port tfjs writer (no tensorflowjs converter)",
            "signature": {
                "inputs": {f"{INPUT_NAME}:0": {"name": f"{INPUT_NAME}:0", "dtype": "DT_FLOAT",
                                               "tensorShape": _dims([1, -1, -1, 3])}},
                "outputs": signature_outputs,
            },
            "modelTopology": {"node": self.nodes, "library": {}, "versions": {"producer": PRODUCER}},
            "weightsManifest": [{"paths": paths, "weights": entries}],
        }
        (folder / "model.json").write_text(json.dumps(document))


def normalise_channels(kernel: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 1x1 kernel with each output channel's largest |weight| on level 127 or -128, its bias divided alike,
    and the per-channel scales that restore them; dead channels keep scale 1."""
    rows = kernel.reshape(-1, kernel.shape[-1]).T
    scale = UINT8_MIXED_1X1.scales(rows)
    scale = np.where(np.abs(rows).max(axis=1) > 1e-6, scale, 1).astype(np.float32)
    return (kernel / scale).astype(np.float32), (bias / scale).astype(np.float32), scale


def quantize(values: np.ndarray, storage: str) -> tuple[np.ndarray, dict]:
    """A float32 weight as tfjs stores it, with its manifest `quantization` entry: tensorflowjs' arithmetic
    (affine, one min and scale per tensor, 0 nudged onto a level), so tfjs dequantizes it as it always has."""
    if storage == "float32":
        return values, {}
    if storage == "float16":
        return values.astype(np.float16), {"dtype": "float16"}
    dtype = {"uint8": np.uint8, "uint16": np.uint16}[storage]
    low, high = values.min().astype(np.float64), values.max().astype(np.float64)
    if low == high:
        return np.zeros_like(values, dtype), {"dtype": storage, "min": float(low), "scale": 1.0,
                                              "original_dtype": "float32"}
    levels = np.iinfo(dtype).max
    scale = (high - low) / levels
    if low <= 0 <= high:  # nudge so that 0 is exactly a level (zero padding must stay zero)
        low = -np.round(-low / scale) * scale
        high = levels * scale + low
    stored = np.round((values.clip(low, high) - low) / scale).astype(dtype)
    return stored, {"dtype": storage, "min": float(low), "scale": float(scale), "original_dtype": "float32"}


def _type() -> dict:
    return {"type": "DT_FLOAT"}


def _bytes(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _string(text: str) -> dict:
    return {"s": _bytes(text)}


def _ints(values: list[int]) -> dict:
    return {"list": {"i": [str(v) for v in values]}}


def _dims(shape) -> dict:
    return {"dim": [{"size": str(int(d))} for d in shape]}

