"""tfjs graph models from a frozen PoseNet graph, ready for @tensorflow-models/posenet 2.2.2.

Variants: float32, float16, uint16 and `uint8-mixed`, the one-byte model. Plain `--quantize_uint8` ruins PoseNet:
tfjs quantizes each weight tensor with one affine scale, and the BN-folded kernels mix output channels of very
different magnitudes, so the small channels are wiped out. `uint8-mixed` rescales instead: every pointwise and
head kernel is stored normalised per output channel (each channel's largest |weight| becomes 1), which one uint8
scale represents well, and a per-channel `Mul` after the convolution restores the magnitudes (conv(x, K / s) * s
= conv(x, K)). The small depthwise kernels and conv0, where uint8 hurts most per byte saved, stay float16 with their
biases. About 1.3 MB, against 5 MB float32 and 2.5 MB float16.

Every model is fixed up for posenet 2.2.2: `signature.outputs` in the order it reads them by position (offsets,
heatmap, displacement fwd, bwd; the converter writes them in random order), input `[1, -1, -1, 3]`, and the raw
`heatmap_2` logits (posenet applies the sigmoid itself).
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from ..errors import ConfigError, ModelFileError, PosenetPortError, raised_by_interrupt
from ..fileio import atomic_path
from ..nodes import identify_roles, read_graph_def, read_model
from ..rounding import GRIDS
from ..spec import ModelSpec
from . import ExportSource, Recipe, variants

CHANNEL_SCALE_SUFFIX = "/channel_scale"
UINT8_MIXED_1X1 = GRIDS["uint8-mixed"].pointwise  # the levels its 1x1 kernels are normalised onto


class TensorflowjsMissingError(PosenetPortError):
    """The tensorflowjs converter is not installed."""


TFJS_VARIANTS = variants(
    ("float32", "float32 weights"),
    ("float16", "float16 weights"),
    ("uint16", "uint16 affine-quantized weights"),
    ("uint8-mixed", "per-channel-normalised uint8 pointwise kernels, float16 elsewhere"),
)


def require_tensorflowjs() -> None:
    """Fail fast, before any long work, when the converter is missing."""
    try:
        import tensorflowjs  # noqa: F401
    except ImportError:
        raise TensorflowjsMissingError(
            "tensorflowjs is not installed, so tfjs formats cannot be written: `pip install tensorflowjs==4.22.0` "
            "(see requirements.txt), or pick other formats with --formats tflite"
        ) from None


def rescale_pointwise_kernels(graph_def):
    """Rewrite every 1x1 Conv2D + bias on constants as Conv2D(x, K / s) + b / s followed by Mul(., s), where s puts
    each output channel's largest |K| on level 127 or -128: the same function, with kernels one uint8 scale
    represents well.
    b / s can exceed float16's range for nearly dead channels, so those biases stay float32.

    The Mul goes after the bias: grappler folds a Mul straight after a Conv2D back into its kernel
    (constant folding's MulConvPushDown), which would undo the rescaling. Returns the new GraphDef and the
    names of the normalised kernels and of the rescaled biases."""
    import tensorflow as tf

    rewritten = tf.compat.v1.GraphDef()
    rewritten.CopyFrom(graph_def)
    nodes = {node.name: node for node in rewritten.node}
    consumers: dict[str, list] = {}
    for node in rewritten.node:
        for source in node.input:
            consumers.setdefault(source.split(":")[0], []).append(node)
    normalised, kept_float32, renames = [], [], {}
    for conv in list(rewritten.node):
        kernel_node = nodes.get(conv.input[1].split(":")[0]) if conv.op == "Conv2D" and len(conv.input) > 1 else None
        after = consumers.get(conv.name, [])
        bias = after[0] if len(after) == 1 and after[0].op in ("BiasAdd", "Add", "AddV2") else None
        bias_node = nodes.get(bias.input[1].split(":")[0]) if bias is not None and len(bias.input) > 1 else None
        if kernel_node is None or kernel_node.op != "Const" or bias_node is None or bias_node.op != "Const":
            continue
        kernel = tf.make_ndarray(kernel_node.attr["value"].tensor)
        if kernel.shape[:2] != (1, 1):
            continue  # conv0 (3x3) stays float16 with the depthwise kernels
        rows = kernel.reshape(-1, kernel.shape[-1]).T
        scale = UINT8_MIXED_1X1.scales(rows)
        scale = np.where(np.abs(rows).max(axis=1) > 1e-6, scale, 1).astype(np.float32)  # dead channels stay as they are
        kernel_node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(kernel / scale))
        bias_value = tf.make_ndarray(bias_node.attr["value"].tensor)
        bias_node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto((bias_value / scale).astype(np.float32)))
        scale_node = rewritten.node.add(name=conv.name + CHANNEL_SCALE_SUFFIX, op="Const")
        scale_node.attr["dtype"].type = tf.float32.as_datatype_enum
        scale_node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(scale))
        mul = rewritten.node.add(name=conv.name + "/rescaled", op="Mul", input=[bias.name, scale_node.name])
        mul.attr["T"].type = tf.float32.as_datatype_enum
        renames[bias.name] = mul.name
        normalised.append(kernel_node.name)
        kept_float32.append(bias_node.name)
    for node in rewritten.node:
        if not node.name.endswith("/rescaled"):
            node.input[:] = [i if i.startswith("^") else renames.get(i.split(":")[0], i) for i in node.input]
    return rewritten, normalised, kept_float32


def _mixed_map(graph_def, normalised: list[str], kept_float32: list[str]) -> dict[str, list[str]]:
    """uint8 for the normalised kernels, float16 for the other float weights; rescaled biases and channel
    scales stay float32 (a few kilobytes)."""
    import tensorflow as tf

    others = [
        node.name for node in graph_def.node
        if node.op == "Const" and node.attr["dtype"].type == tf.float32.as_datatype_enum
        and node.name not in normalised and node.name not in kept_float32
        and not node.name.endswith(CHANNEL_SCALE_SUFFIX)
    ]
    return {"uint8": normalised, "float16": others}


def export(source: ExportSource, recipe: Recipe, path: Path) -> Path:
    """The registry's entry point: `path` is the model.json to write, in a folder of its own."""
    return export_tfjs(source.frozen_graph, path.parent, recipe.variant, source.spec)


def export_tfjs(frozen_pb: str | Path, directory: str | Path, variant: str, spec: ModelSpec | None = None) -> Path:
    """Convert to a tfjs graph model in `directory` (written whole, then renamed); returns its model.json. The
    heads are the nodes `spec` names, or (for a graph from elsewhere) found by their role."""
    if variant not in TFJS_VARIANTS:
        raise ConfigError(f"tfjs variant {variant!r}: choose one of {', '.join(TFJS_VARIANTS)}")
    require_tensorflowjs()
    outputs = spec.head_nodes() if spec is not None else identify_roles(read_model(frozen_pb)).output_names()
    with atomic_path(directory, directory=True) as temp, tempfile.TemporaryDirectory() as scratch:
        source, dtype_map = Path(frozen_pb), None if variant == "float32" else {variant: "*"}
        if variant == "uint8-mixed":
            graph_def, normalised, kept_float32 = rescale_pointwise_kernels(read_graph_def(frozen_pb))
            source = Path(scratch) / "rescaled.pb"
            source.write_bytes(graph_def.SerializeToString())
            dtype_map = _mixed_map(graph_def, normalised, kept_float32)
        _convert(source, outputs, temp, dtype_map, f"{frozen_pb}: tfjs {variant}")
        fix_for_posenet(temp / "model.json", outputs)
    return Path(directory) / "model.json"


def _convert(frozen_pb: Path, outputs: list[str], directory: Path, dtype_map: dict | None, label: str) -> None:
    from tensorflowjs.converters.tf_saved_model_conversion_v2 import convert_tf_frozen_model

    try:
        convert_tf_frozen_model(str(frozen_pb), ",".join(outputs), str(directory), quantization_dtype_map=dtype_map)
    except Exception as error:  # noqa: BLE001 - the converter raises whatever TF raises
        if raised_by_interrupt(error):
            raise KeyboardInterrupt from None
        raise ModelFileError(f"{label} conversion failed: {str(error).strip()[:300]}") from None


def fix_for_posenet(model_json: Path, output_order: list[str]) -> None:
    """posenet 2.2.2 reads outputs by position and needs a dynamic input: rewrite the signature accordingly."""
    document = json.loads(model_json.read_text())
    signature = document.setdefault("signature", {})
    outputs = signature.get("outputs", {})
    by_node = {key.split(":")[0]: (key, value) for key, value in outputs.items()}
    missing = [name for name in output_order if name not in by_node]
    if missing:
        raise ModelFileError(f"{model_json}: the converter wrote no signature output for {', '.join(missing)}")
    signature["outputs"] = dict(by_node[name] for name in output_order)
    dynamic = [{"size": "1"}, {"size": "-1"}, {"size": "-1"}, {"size": "3"}]
    for node in document["modelTopology"]["node"]:
        if node["op"] == "Placeholder":
            node.setdefault("attr", {}).setdefault("shape", {})["shape"] = {"dim": dynamic}
    for tensor in signature.get("inputs", {}).values():
        tensor["tensorShape"] = {"dim": dynamic}
    model_json.write_text(json.dumps(document))


def weights_size(model_json: Path) -> int:
    """Bytes of all weight shards of a tfjs model."""
    document = json.loads(model_json.read_text())
    return sum((model_json.parent / p).stat().st_size for group in document["weightsManifest"] for p in group["paths"])
