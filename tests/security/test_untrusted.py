"""A model file cannot make the tool act: graphs that write or read files, run Python or call ops by a side door are
refused before anything runs, and nothing is written. Our own models, and foreign PoseNet graphs, still run."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from helpers import REPO, run_module

from posenet_port.formats.listing import read_model
from posenet_port.formats.safety import UnsafeModelError
from posenet_port.formats.tf.runner import FrozenGraphRunner
from posenet_port.model.architecture import HEAD_NAMES
from posenet_port.model.freeze import frozen_graph_def

HEADS = HEAD_NAMES


def _graph_with(model, extra) -> tf.compat.v1.GraphDef:
    """Our frozen graph at 257 with `extra(graph, heatmap_2 tensor) -> new heatmap_2 tensor` spliced in."""
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(frozen_graph_def(model, 257, 257), name="")
        heads = {name: graph.get_tensor_by_name(f"{name}:0") for name in HEADS}
        heatmap = extra(graph, heads["heatmap_2"])
        tf.identity(heatmap, name="evil_heatmap_2")
    return graph.as_graph_def()


def write_file_by_control_input(target: Path):
    def extra(graph, heatmap):
        write = tf.io.write_file(str(target), "pwned")
        with tf.control_dependencies([write]):
            return tf.identity(heatmap)
    return extra


def read_file_into_the_heatmap(target: Path):
    def extra(graph, heatmap):
        secret = tf.strings.length(tf.io.read_file(str(target)))
        return heatmap + 0.0 * tf.cast(secret, tf.float32)
    return extra


def python_in_the_heatmap(target: Path):
    def extra(graph, heatmap):
        def act(x):
            target.write_text("pwned")
            return x
        return tf.compat.v1.py_func(act, [heatmap], tf.float32)
    return extra


EVIL = {
    "WriteFile by a control input": (write_file_by_control_input, "control input"),
    "ReadFile on the data path": (read_file_into_the_heatmap, "'ReadFile'"),
    "PyFunc on the data path": (python_in_the_heatmap, "'PyFunc'"),
}


def evil_pb(model, tmp_path: Path, case: str) -> tuple[Path, Path]:
    """The graph file and the file it would write (or read)."""
    make, _ = EVIL[case]
    target = tmp_path / "target.txt"
    if "ReadFile" in case:
        target.write_text("a secret")
    graph_def = _graph_with(model, make(target))
    for node in graph_def.node:  # the evil head takes the canonical name, the real one steps aside
        if node.name == "heatmap_2":
            node.name = "real_heatmap_2"
        node.input[:] = ["real_heatmap_2" if i == "heatmap_2" else i for i in node.input]
        if node.name == "evil_heatmap_2":
            node.name = "heatmap_2"
    path = tmp_path / "evil.pb"
    path.write_bytes(graph_def.SerializeToString())
    return path, target


@pytest.mark.parametrize("case", sorted(EVIL))
def test_foreign_graph_that_would_act_is_refused_before_it_runs(model, tmp_path, case):
    path, target = evil_pb(model, tmp_path, case)
    before = target.read_text() if target.exists() else None
    with pytest.raises(UnsafeModelError, match=EVIL[case][1]) as refused:
        FrozenGraphRunner(path)
    print(refused.value)
    assert (target.read_text() if target.exists() else None) == before


@pytest.mark.slow
def test_estimate_refuses_a_graph_that_writes_a_file(model, tmp_path):
    path, target = evil_pb(model, tmp_path, "WriteFile by a control input")
    photo = REPO / "posenet_port" / "data" / "solvay1927.jpg"
    result = run_module("estimate", photo, "--model", path)
    assert result.returncode == 2, result.stdout
    assert "control input" in result.stderr and "refused" in result.stderr and "Traceback" not in result.stderr
    assert not target.exists()


@pytest.mark.parametrize("multiplier, output_stride", [(0.50, 8), (0.75, 8), (0.75, 16), (1.00, 8), (1.00, 32)])
@pytest.mark.parametrize("size", [None, 257])
def test_every_graph_we_build_passes_the_check(shipped_weights, multiplier, output_stride, size):
    """Atrous convolution (output stride 8) brings shape arithmetic; fixed sizes fold it: all must stay allowed."""
    from test_graph import WIDTHS, random_weights

    from posenet_port.formats.tf.ops import data_path
    from posenet_port.model.tf_graph import build_model

    weights = shipped_weights if multiplier == 0.75 else random_weights(WIDTHS[multiplier])
    graph_def = frozen_graph_def(build_model(weights, output_stride), size, size)
    assert len(data_path(graph_def, "image", HEADS, "ours").node) > 50


def test_the_graph_is_cut_to_the_data_path(model, tmp_path):
    """Nodes the heads do not need (here a WriteFile nothing depends on) are never imported, so never run."""
    target = tmp_path / "target.txt"

    def extra(graph, heatmap):
        tf.io.write_file(str(target), "pwned")
        return heatmap
    path = tmp_path / "side.pb"
    path.write_bytes(_graph_with(model, extra).SerializeToString())
    outputs = FrozenGraphRunner(path)(np.zeros((1, 257, 257, 3), np.float32))
    assert outputs["offset_2"].shape == (1, 17, 17, 34)
    assert not target.exists()


def test_function_call_on_the_data_path_is_refused(model, tmp_path):
    """A call runs a function, or any registered op named in its `f` (WriteFile here): never on the data path."""
    graph_def = frozen_graph_def(model, 257, 257)
    call = graph_def.node.add(name="call", op="PartitionedCall")
    call.attr["f"].func.name = "WriteFile"
    next(node for node in graph_def.node if node.name == "heatmap_2").input.append("call")
    path = tmp_path / "call.pb"
    path.write_bytes(graph_def.SerializeToString())
    with pytest.raises(UnsafeModelError, match="'PartitionedCall'"):
        FrozenGraphRunner(path)


class _EvilModule(tf.Module):
    def __init__(self, target: Path):
        super().__init__()
        self.target = str(target)

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name="image")])
    def serve(self, image):
        tf.io.write_file(self.target, "pwned")
        return {"heatmap_2": tf.nn.conv2d(image, tf.ones([1, 1, 3, 17]), 16, "SAME")}


def test_saved_model_that_writes_a_file_is_refused_before_tensorflow_loads_it(tmp_path):
    target = tmp_path / "target.txt"
    module = _EvilModule(target)
    tf.saved_model.save(module, str(tmp_path / "evil_saved"), signatures=module.serve)
    assert not target.exists()
    with pytest.raises(UnsafeModelError, match="'WriteFile'"):
        read_model(tmp_path / "evil_saved")
    result = run_module("list_nodes", tmp_path / "evil_saved")
    assert result.returncode == 2 and "'WriteFile'" in result.stderr and "Traceback" not in result.stderr
    assert not target.exists()


def test_our_saved_model_passes_the_check(model, tmp_path):
    from posenet_port.formats.tf.ops import check_saved_model
    from posenet_port.model.freeze import write_saved_model

    check_saved_model(write_saved_model(model, tmp_path / "saved"))


def test_tflite_with_an_op_posenet_does_not_use_is_refused(tmp_path):
    from posenet_port.formats.tflite.runner import LiteRTRunner

    @tf.function(input_signature=[tf.TensorSpec([1, 33, 33, 3], tf.float32)])
    def odd(image):
        return {"heatmap_2": tf.math.cos(image)}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([odd.get_concrete_function()], odd)
    path = tmp_path / "odd.tflite"
    path.write_bytes(converter.convert())
    with pytest.raises(UnsafeModelError, match="'COS'"):
        LiteRTRunner(path)


def _onnx_posenet_with(tmp_path, extra_node, domain: str = "", as_output: bool = False):
    """The ONNX PoseNet with one more node feeding nothing the heads need (a file could carry anything)."""
    import onnx
    from onnx import TensorProto, helper

    from posenet_port.formats.onnx.export import posenet_onnx
    from posenet_port.model.weights import load_weights

    model = posenet_onnx(load_weights(), 16)
    model.graph.node.append(extra_node)
    if domain:
        model.opset_import.append(helper.make_opsetid(domain, 1))
    if as_output:
        model.graph.output.append(helper.make_tensor_value_info(extra_node.output[0], TensorProto.FLOAT, None))
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("node, domain, message", [
    (("Sin", ["image"], ["sine"]), "", "'Sin'"),
    (("Inverse", ["image"], ["inverse"], "com.microsoft"), "com.microsoft", "another domain"),
])
def test_onnx_models_run_only_posenet_arithmetic(tmp_path, node, domain, message):
    from onnx import helper

    from posenet_port.formats.registry import open_model
    from posenet_port.formats.safety import UnsafeModelError

    op, inputs, outputs, *node_domain = node
    path = _onnx_posenet_with(tmp_path, helper.make_node(op, inputs, outputs, name="extra", domain=(node_domain or [""])[0]), domain)
    with pytest.raises(UnsafeModelError, match=message):
        open_model(path)


def test_onnx_tensors_may_not_point_outside_the_file(tmp_path):
    import onnx

    from posenet_port.formats.onnx.export import posenet_onnx
    from posenet_port.formats.registry import open_model
    from posenet_port.formats.safety import UnsafeModelError
    from posenet_port.model.weights import load_weights

    model = posenet_onnx(load_weights(), 16)
    onnx.save(model, tmp_path / "model.onnx", save_as_external_data=True, location="weights.bin", size_threshold=0)
    with pytest.raises(UnsafeModelError, match="point to data outside the file"):
        open_model(tmp_path / "model.onnx")


def test_openvino_ir_runs_only_posenet_arithmetic(tmp_path):
    import openvino as ov
    from onnx import helper

    from posenet_port.formats.registry import open_model
    from posenet_port.formats.safety import UnsafeModelError

    onnx_path = _onnx_posenet_with(tmp_path, helper.make_node("Sin", ["image"], ["sine"], name="extra"), as_output=True)
    ov.save_model(ov.convert_model(onnx_path), tmp_path / "model.xml")
    with pytest.raises(UnsafeModelError, match="'Sin'"):
        open_model(tmp_path / "model.xml")


def test_onnx_names_that_are_not_utf8_are_refused_by_the_runner_and_list_nodes(tmp_path):
    """Found by fuzzing on Python 3.13: protobuf 7 hands a name with invalid UTF-8 back as bytes."""
    from posenet_port.errors import ModelFileError
    from posenet_port.formats.listing import read_model
    from posenet_port.formats.onnx.export import export_onnx
    from posenet_port.formats.registry import open_model
    from posenet_port.formats.roles import identify_roles
    from posenet_port.model.weights import load_weights

    path = export_onnx(load_weights(), 16, tmp_path / "model.onnx", "float32")
    data = path.read_bytes()
    assert data.count(b"heatmap_sigmoid") == 1
    path.write_bytes(data.replace(b"heatmap_sigmoid", b"heatmap_sigmoi\xff"))  # same length: the file still parses
    for read in (open_model, lambda p: identify_roles(read_model(p))):
        with pytest.raises(ModelFileError, match="model.onnx: "):
            read(path)
