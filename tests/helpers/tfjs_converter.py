"""The tensorflowjs converter as the oracle for our own tfjs writer (posenet_port/export/tfjs.py).

This is how posenet_port wrote tfjs models until it wrote them itself: `convert_tf_frozen_model` on the frozen
graph, with, for `uint8-mixed`, the 1x1 kernels normalised per output channel in the GraphDef first and a
per-channel Mul after each convolution. Tests compare the two writers' models in real TensorFlow.js where the
converter is installed (`pip install .[tfjs-converter]`); it is not a dependency of posenet_port.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

# tensorflowjs imports tensorflow_decision_forests, whose welcome banner imports IPython when output is captured.
os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")

from posenet_port.formats.tfjs.export import CHANNEL_SCALE_SUFFIX, UINT8_MIXED_1X1
from posenet_port.model.freeze import read_graph_def


def convert_with_tensorflowjs(frozen_pb: Path, directory: Path, variant: str, outputs: list[str]) -> Path:
    """The frozen graph as a tfjs graph model in `directory`, written by the tensorflowjs converter."""
    directory.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as scratch:
        source, dtype_map = Path(frozen_pb), None if variant == "float32" else {variant: "*"}
        if variant == "uint8-mixed":
            graph_def, normalised, kept_float32 = rescale_pointwise_kernels(read_graph_def(frozen_pb))
            source = Path(scratch) / "rescaled.pb"
            source.write_bytes(graph_def.SerializeToString())
            dtype_map = _mixed_map(graph_def, normalised, kept_float32)
        _convert(source, outputs, directory, dtype_map)
        fix_for_posenet(directory / "model.json", outputs)
    return directory / "model.json"


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


def _convert(frozen_pb: Path, outputs: list[str], directory: Path, dtype_map: dict | None) -> None:
    from tensorflowjs.converters.tf_saved_model_conversion_v2 import convert_tf_frozen_model

    convert_tf_frozen_model(str(frozen_pb), ",".join(outputs), str(directory), quantization_dtype_map=dtype_map)


def fix_for_posenet(model_json: Path, output_order: list[str]) -> None:
    """posenet 2.2.2 reads outputs by position and needs a dynamic input: rewrite the signature accordingly."""
    document = json.loads(model_json.read_text())
    signature = document.setdefault("signature", {})
    outputs = signature.get("outputs", {})
    by_node = {key.split(":")[0]: (key, value) for key, value in outputs.items()}
    assert all(name in by_node for name in output_order), f"the converter left out outputs: {list(by_node)}"
    signature["outputs"] = dict(by_node[name] for name in output_order)
    dynamic = [{"size": "1"}, {"size": "-1"}, {"size": "-1"}, {"size": "3"}]
    for node in document["modelTopology"]["node"]:
        if node["op"] == "Placeholder":
            node.setdefault("attr", {}).setdefault("shape", {})["shape"] = {"dim": dynamic}
    for tensor in signature.get("inputs", {}).values():
        tensor["tensorShape"] = {"dim": dynamic}
    model_json.write_text(json.dumps(document))


# What tests/data/tfjs-converter holds: the converter's fully uint8 model (every weight on its own affine uint8
# grid) and its uint8-mixed model (uint8 1x1 kernels, float16 elsewhere, float32 rescaled biases). Its float32
# model is the shipped weights themselves (weights/README.md).
FIXTURE_VARIANTS = ("uint8", "uint8-mixed")
FIXTURES = Path(__file__).resolve().parents[1] / "data" / "tfjs-converter"


def fixture_model(variant: str) -> Path:
    """The committed converter-written model.json of `variant` (one of FIXTURE_VARIANTS)."""
    return FIXTURES / variant / "model.json"


def write_fixtures(root: Path) -> list[Path]:
    """The committed converter-written fixtures, made again from the shipped weights at output stride 16."""
    from posenet_port.model.freeze import write_frozen_graph
    from posenet_port.model.spec import POSENET_HEAD_ORDER
    from posenet_port.model.tf_graph import build_model
    from posenet_port.model.weights import load_weights

    with tempfile.TemporaryDirectory() as scratch:
        frozen = write_frozen_graph(build_model(load_weights(), 16), Path(scratch) / "posenet.pb")
        return [convert_with_tensorflowjs(frozen, root / variant, variant, list(POSENET_HEAD_ORDER))
                for variant in FIXTURE_VARIANTS]


if __name__ == "__main__":
    import sys

    # python tests/helpers/tfjs_converter.py tests/data/tfjs-converter  (needs pip install .[tfjs-converter])
    for written in write_fixtures(Path(sys.argv[1])):
        print(written, sum(p.stat().st_size for p in written.parent.iterdir()), "bytes")
