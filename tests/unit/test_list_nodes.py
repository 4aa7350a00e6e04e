"""tools/list_nodes.py and nodes.identify_roles on every format and naming users bring."""
from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from helpers import EXPECTED_LAYERS
from helpers.parity import assert_outputs_close

from posenet_port.cli.common import run_cli
from posenet_port.cli.list_nodes import main as list_nodes_main
from posenet_port.errors import ModelFileError
from posenet_port.formats.listing import read_model
from posenet_port.formats.roles import identify_roles
from posenet_port.formats.tf.runner import FrozenGraphRunner
from posenet_port.model.architecture import HEAD_NAMES
from posenet_port.model.freeze import write_saved_model
from posenet_port.model.weights import SHIPPED_WEIGHTS

REPO = Path(__file__).resolve().parents[2]
HEADS = HEAD_NAMES


def foreign_graph(weights, style: str, path: Path, input_size: int | None = None) -> Path:
    """A frozen PoseNet graph as other tools wrote them, built here with plain TF ops (not posenet_port.model.tf_graph).

    tf1:        Const + `/read` Identity weights named `MobilenetV1/Conv2d_0/weights`, unnamed Conv2D_N /
                BiasAdd_N / Relu6_N ops, conv0's bias as `add`, heads `heatmap_2` ... and a Sigmoid `heatmap`.
    google:     input `sub_2`, ops scoped `MobilenetV1/Conv2d_0/Conv2D`, heads `MobilenetV1/heatmap_2/BiasAdd`.
    anonymous:  like tf1, but the heads are named head_0 .. head_3: the displacements cannot be told apart.
    """
    layers = EXPECTED_LAYERS[0.75, 16]
    graph = tf.Graph()
    with graph.as_default():
        name = "sub_2" if style == "google" else "image"
        x = tf.compat.v1.placeholder(tf.float32, [1, input_size, input_size, 3], name=name)

        def weight(scope, kernel_name, value):
            constant = tf.constant(value, name=f"MobilenetV1/{scope}/{kernel_name}")
            return constant if style == "google" else tf.identity(constant, name=f"MobilenetV1/{scope}/{kernel_name}/read")

        def conv(x, scope, kernel_name, conv_weights, stride, dilation, depthwise, head=None):
            kernel = weight(scope, kernel_name, conv_weights.kernel)
            bias = weight(scope, "biases", conv_weights.bias)
            with tf.name_scope(f"MobilenetV1/{scope}/") if style == "google" else contextlib.nullcontext():
                if depthwise:
                    y = tf.nn.depthwise_conv2d(x, kernel, [1, stride, stride, 1], "SAME", dilations=[dilation] * 2)
                else:
                    y = tf.nn.conv2d(x, kernel, stride, "SAME", dilations=dilation)
                if head is not None and style != "google":
                    return tf.nn.bias_add(y, bias, name=head)
                y = tf.add(y, bias) if scope == "Conv2d_0" and style == "tf1" else tf.nn.bias_add(y, bias)
                return y if head is not None else tf.nn.relu6(y)

        x = conv(x, "Conv2d_0", "weights", weights.conv0, *layers[0], False)
        for index, (block, (stride, dilation)) in enumerate(zip(weights.blocks, layers[1:]), start=1):
            x = conv(x, f"Conv2d_{index}_depthwise", "depthwise_weights", block.depthwise, stride, dilation, True)
            x = conv(x, f"Conv2d_{index}_pointwise", "weights", block.pointwise, 1, 1, False)
        for index, head in enumerate(HEADS):
            out = conv(x, head, "weights", weights.heads[head], 1, 1, False, f"head_{index}" if style == "anonymous" else head)
            if head == "heatmap_2" and style != "google":
                tf.sigmoid(out, name="heatmap")
    path.write_bytes(graph.as_graph_def().SerializeToString())
    return path


EXPECTED_NODES = {
    "tf1": ("image", "heatmap_2", "heatmap", "offset_2", "displacement_fwd_2", "displacement_bwd_2"),
    "google": (
        "sub_2", "MobilenetV1/heatmap_2/BiasAdd", None, "MobilenetV1/offset_2/BiasAdd",
        "MobilenetV1/displacement_fwd_2/BiasAdd", "MobilenetV1/displacement_bwd_2/BiasAdd",
    ),
}


def role_nodes(roles):
    return (roles.image.node, roles.heatmap.node, roles.heatmap_sigmoid, roles.offsets.node,
            roles.displacement_fwd.node, roles.displacement_bwd.node)


def test_our_frozen_graph(frozen_pb):
    roles = identify_roles(read_model(frozen_pb))
    assert role_nodes(roles) == ("image", "heatmap_2", "heatmap", "offset_2", "displacement_fwd_2", "displacement_bwd_2")
    assert roles.output_stride == 16 and roles.probe_size == 257 and not roles.displacements_ambiguous


@pytest.mark.parity
@pytest.mark.parametrize("style, input_size", [("tf1", 337), ("google", None)])
def test_foreign_graphs_roles_are_found_and_compute_posenet(shipped_weights, model, tmp_path, style, input_size):
    path = foreign_graph(shipped_weights, style, tmp_path / f"{style}.pb", input_size)
    listing = read_model(path)
    ops = {node.op for node in listing.nodes}
    assert {"Conv2D", "BiasAdd", "Relu6", "DepthwiseConv2dNative"} <= ops
    if style == "tf1":
        assert {"Identity", "AddV2"} <= ops and "Conv2D_13" in {n.name for n in listing.nodes}
    roles = identify_roles(listing)
    assert role_nodes(roles) == EXPECTED_NODES[style]
    assert roles.output_stride == 16
    # The identified nodes are the right ones: the graph run through them computes what our model computes.
    image = np.random.default_rng(5).uniform(-1, 1, (1, 337, 337, 3)).astype(np.float32)
    ours, theirs = model(image), FrozenGraphRunner.for_model(path)(image)
    # Unfused Conv2D / BiasAdd / Relu6 ops take other kernels than our fused graph: float32 rounding apart.
    assert_outputs_close(theirs, {head: ours[head] for head in HEADS}, f"{style} graph vs our graph at 337")


def test_displacements_without_telling_names_are_reported_ambiguous(shipped_weights, tmp_path):
    path = foreign_graph(shipped_weights, "anonymous", tmp_path / "anonymous.pb")
    roles = identify_roles(read_model(path))
    assert roles.displacements_ambiguous
    assert "AMBIGUOUS" in roles.displacement_fwd.reason
    assert {roles.displacement_fwd.node, roles.displacement_bwd.node} == {"head_2", "head_3"}
    assert (roles.heatmap.node, roles.offsets.node) == ("head_0", "head_1")
    with pytest.raises(ModelFileError, match="do not say which is forward"):
        FrozenGraphRunner.for_model(path)


def test_saved_model(model, tmp_path):
    roles = identify_roles(read_model(write_saved_model(model, tmp_path / "saved")))
    assert roles.image.node == "image" and roles.output_stride == 16
    assert [n.split("/")[-1] for n in roles.output_names()] == ["offset_2", "heatmap_2", "displacement_fwd_2", "displacement_bwd_2"]


def test_tflite_file(frozen_pb, tmp_path):
    converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
        str(frozen_pb), ["image"], ["heatmap", *HEADS], input_shapes={"image": [1, 257, 257, 3]}
    )
    path = tmp_path / "posenet.tflite"
    path.write_bytes(converter.convert())
    listing = read_model(path)
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "LOGISTIC"} <= set(listing.op_counts())
    roles = identify_roles(listing)
    assert role_nodes(roles) == ("image", "heatmap_2", "heatmap", "offset_2", "displacement_fwd_2", "displacement_bwd_2")
    assert roles.output_stride == 16


def test_tfjs_model_json():
    roles = identify_roles(read_model(SHIPPED_WEIGHTS.model_path))
    assert role_nodes(roles)[1:] == EXPECTED_NODES["google"][1:]
    assert roles.image.node == "image" and roles.output_stride == 16  # fixed 385 input, 25x25 grid


def run_list_nodes(*args):
    return subprocess.run(
        [sys.executable, "tools/list_nodes.py", *map(str, args)], capture_output=True, text=True, cwd=REPO, timeout=300
    )


def test_cli_table_and_summary(frozen_pb):
    result = run_list_nodes(frozen_pb)
    assert result.returncode == 0, result.stderr
    assert "MobilenetV1/Conv2d_13_pointwise/Conv2D" in result.stdout
    for line in ("input             image", "heatmap           heatmap_2", "output stride     16",
                 "from_frozen_graph(", "tensorflowjs_converter --input_format=tf_frozen_model"):
        assert line in result.stdout


def test_json_and_op_counts(frozen_pb, capsys):
    assert run_cli(list_nodes_main, [str(frozen_pb), "--json"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["roles"]["offsets"]["node"] == "offset_2" and len(parsed["nodes"]) > 150
    assert run_cli(list_nodes_main, [str(frozen_pb), "--ops", "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["Conv2D"] == 18 and counts["DepthwiseConv2dNative"] == 13


def write_no_heads_graph(path: Path) -> Path:
    graph = tf.Graph()
    with graph.as_default():
        image = tf.compat.v1.placeholder(tf.float32, [1, None, None, 3], name="image")
        tf.nn.conv2d(image, tf.zeros([3, 3, 3, 8]), 2, "SAME", name="features")
    path.write_bytes(graph.as_graph_def().SerializeToString())
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: (d / "empty.pb", (d / "empty.pb").write_bytes(b""))[0], "file is empty"),
        (lambda d: (d / "random.pb", (d / "random.pb").write_bytes(np.random.default_rng(1).bytes(4096)))[0], "random.pb"),
        (lambda d: (d / "notes.txt", (d / "notes.txt").write_text("just some text\n" * 20))[0], "notes.txt"),
        (lambda d: write_no_heads_graph(d / "features.pb"), "no PoseNet heads"),
        (lambda d: d / "missing.pb", "missing.pb: no such file or directory"),
        (lambda d: (d / "random.onnx", (d / "random.onnx").write_bytes(np.random.default_rng(2).bytes(4096)))[0],
         "random.onnx: not an ONNX model"),
        (lambda d: (d / "model.xml", (d / "model.xml").write_text("<net/>"))[0], "model.bin: no such OpenVINO weights (.bin)"),
    ],
    ids=["empty", "random", "text", "no-heads", "missing", "random-onnx", "ir-without-weights"],
)
def test_bad_models_give_one_line_errors(tmp_path, capsys, make, message):
    # In process (the subprocess test above covers the script itself): run_cli is what turns errors into lines.
    assert run_cli(list_nodes_main, [str(make(tmp_path))]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], captured.err
