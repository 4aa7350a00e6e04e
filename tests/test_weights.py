"""All three weight formats load to the same arrays; quantized ones within their quantization error."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import json_format

from posenet_port.weights import SHIPPED_WEIGHTS, load_weights, variable_names

# Variables real tfjs-models manifests list but PoseNet does not use: the loader must ignore them.
UNUSED_CHECKPOINT_HEADS = {
    "MobilenetV1/heatmap_1/weights": [1, 1, 384, 17],
    "MobilenetV1/offset_1/biases": [34],
    "MobilenetV1/partheat_2/weights": [1, 1, 384, 24],
    "MobilenetV1/partoff_1/biases": [48],
}


def assert_same_weights(loaded, expected, atol=0.0, rtol=0.0):
    loaded_vars, expected_vars = loaded.variables(), expected.variables()
    assert list(loaded_vars) == list(expected_vars) == variable_names()
    for name, values in expected_vars.items():
        np.testing.assert_allclose(loaded_vars[name], values, atol=atol, rtol=rtol, err_msg=name)


def write_checkpoint(weights, directory: Path, gzip_every: int = 3) -> Path:
    """A tfjs-models 0.x/1.x checkpoint: manifest.json + one raw float32 file per variable, some gzip-encoded."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = dict(weights.variables())
    arrays.update({name: rng.normal(size=shape).astype(np.float32) for name, shape in UNUSED_CHECKPOINT_HEADS.items()})
    manifest = {}
    for index, (name, array) in enumerate(arrays.items()):
        filename = name.replace("/", "_")
        data = array.astype("<f4").tobytes()
        (directory / filename).write_bytes(gzip.compress(data) if index % gzip_every == 0 else data)
        manifest[name] = {"filename": filename, "shape": list(array.shape)}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return directory / "manifest.json"


def test_shipped_weights_are_verified_and_detected(shipped_weights):
    assert shipped_weights.multiplier == 0.75
    assert shipped_weights.widths == (24, 48, 96, 96, 192, 192) + (384,) * 8
    assert shipped_weights.checksums == SHIPPED_WEIGHTS.sha256
    assert shipped_weights.variables()["MobilenetV1/heatmap_2/weights"].shape == (1, 1, 384, 17)


def test_shipped_weights_load_from_folder_or_json(shipped_weights):
    assert_same_weights(load_weights(SHIPPED_WEIGHTS.directory), shipped_weights)
    assert_same_weights(load_weights(SHIPPED_WEIGHTS.model_path), shipped_weights)


def test_checkpoint_manifest_loads_identically(shipped_weights, tmp_path):
    manifest = write_checkpoint(shipped_weights, tmp_path / "checkpoint")
    assert any((tmp_path / "checkpoint" / n).read_bytes()[:2] == b"\x1f\x8b" for n in ("MobilenetV1_Conv2d_0_weights",))
    for path in (manifest, manifest.parent):
        loaded = load_weights(path)
        assert loaded.format == "tfjs-models checkpoint"
        assert_same_weights(loaded, shipped_weights)


def unfused_graph_model(frozen_pb: Path, directory: Path) -> Path:
    """A Google 2.x style graph model written from our frozen graph without the converter: unfused Conv2D +
    BiasAdd + Relu6, TF1 `/read` Identity nodes in front of every weight, the input renamed `sub_2`."""
    from posenet_port.nodes import read_graph_def

    graph_def = read_graph_def(frozen_pb)
    rename = {"image": "sub_2"}
    nodes, weights, blobs = [], [], []
    for node in graph_def.node:
        entry = json_format.MessageToDict(node)
        entry["name"] = rename.get(node.name, node.name)
        entry["input"] = [rename.get(i, i) for i in node.input]
        if node.op == "Const":
            array = tf_const_value(node)
            weights.append({"name": node.name, "shape": list(array.shape), "dtype": "float32"})
            blobs.append(array.astype("<f4").tobytes())
            entry["attr"] = {"dtype": entry["attr"]["dtype"]}
            nodes.append(entry)
            nodes.append({"name": f"{node.name}/read", "op": "Identity", "input": [node.name]})
            continue
        entry["input"] = [f"{i}/read" if i in {w["name"] for w in weights} else i for i in entry["input"]]
        nodes.append(entry)
    directory.mkdir(parents=True)
    (directory / "weights.bin").write_bytes(b"".join(blobs))
    document = {
        "format": "graph-model",
        "modelTopology": {"node": nodes},
        "weightsManifest": [{"paths": ["weights.bin"], "weights": weights}],
    }
    (directory / "model-stride16.json").write_text(json.dumps(document))
    return directory / "model-stride16.json"


def tf_const_value(node) -> np.ndarray:
    import tensorflow as tf

    return tf.make_ndarray(node.attr["value"].tensor)


def test_unfused_graph_model_with_other_names_loads_identically(shipped_weights, frozen_pb, tmp_path):
    path = unfused_graph_model(frozen_pb, tmp_path / "google")
    ops = {node["op"] for node in json.loads(path.read_text())["modelTopology"]["node"]}
    assert {"Conv2D", "BiasAdd", "Relu6", "DepthwiseConv2dNative", "Identity"} <= ops
    assert_same_weights(load_weights(tmp_path / "google"), shipped_weights)


@pytest.fixture(scope="module")
def converted_models(frozen_pb, tmp_path_factory) -> dict[str, Path]:
    """Graph models made by the real tensorflowjs converter from our frozen graph."""
    pytest.importorskip("tensorflowjs", reason="the tensorflowjs converter (pip install .[tfjs-converter])")
    from tensorflowjs.converters.tf_saved_model_conversion_v2 import convert_tf_frozen_model

    root = tmp_path_factory.mktemp("tfjs")
    outputs = "heatmap_2,offset_2,displacement_fwd_2,displacement_bwd_2"
    models = {}
    for quantization in ("float32", "float16", "uint16", "uint8"):
        dtype_map = None if quantization == "float32" else {quantization: "*"}
        convert_tf_frozen_model(str(frozen_pb), outputs, str(root / quantization), quantization_dtype_map=dtype_map)
        models[quantization] = root / quantization / "model.json"
    return models


def quantization_steps(model_json: Path) -> dict[str, float]:
    """Each weight's quantization step, read from the converter's own manifest."""
    specs = json.loads(model_json.read_text())["weightsManifest"][0]["weights"]
    return {spec["name"]: spec["quantization"]["scale"] for spec in specs}


@pytest.mark.slow
def test_converter_float32_graph_model_loads_identically(shipped_weights, converted_models):
    ops = {node["op"] for node in json.loads(converted_models["float32"].read_text())["modelTopology"]["node"]}
    assert "_FusedConv2D" in ops and "FusedDepthwiseConv2dNative" in ops
    assert_same_weights(load_weights(converted_models["float32"]), shipped_weights)


@pytest.mark.slow
@pytest.mark.parametrize("quantization", ["uint16", "uint8"])
def test_affine_quantized_graph_models_load_within_one_half_step(shipped_weights, converted_models, quantization):
    model_json = converted_models[quantization]
    steps = quantization_steps(model_json)
    loaded = load_weights(model_json.parent).variables()
    for name, values in shipped_weights.variables().items():
        error = np.abs(loaded[name] - values).max()
        float32_rounding = 4 * np.finfo(np.float32).eps * np.abs(values).max()
        assert error <= 0.5 * steps[name] + float32_rounding, (name, error, steps[name])


@pytest.mark.slow
def test_float16_graph_model_loads_within_half_precision(shipped_weights, converted_models):
    loaded = load_weights(converted_models["float16"])
    assert_same_weights(loaded, shipped_weights, rtol=2.0**-11, atol=6e-8)

