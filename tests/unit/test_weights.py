"""All three weight formats load to the same arrays; quantized ones within their quantization error."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from google.protobuf import json_format
from helpers import assert_same_weights, write_checkpoint
from helpers.tfjs_converter import fixture_model

from posenet_port.model.weights import SHIPPED_WEIGHTS, load_weights


# Variables real tfjs-models manifests list but PoseNet does not use: the loader must ignore them.
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
    from posenet_port.model.freeze import read_graph_def

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


def manifest_entries(model_json: Path) -> dict[str, dict]:
    """Each weight's manifest entry (dtype, and for quantized weights the converter's scale), by name."""
    return {spec["name"]: spec for group in json.loads(model_json.read_text())["weightsManifest"]
            for spec in group["weights"]}


def float32_rounding(values: np.ndarray) -> float:
    return float(4 * np.finfo(np.float32).eps * np.abs(values).max())


def test_converter_uint8_graph_model_loads_within_one_half_step(shipped_weights):
    """The converter's own affine uint8 model (tests/data/tfjs-converter): every weight within half of the step
    its manifest entry states."""
    model_json = fixture_model("uint8")
    entries = manifest_entries(model_json)
    loaded = load_weights(model_json.parent).variables()
    for name, values in shipped_weights.variables().items():
        quantization = entries[name]["quantization"]
        assert quantization["dtype"] == "uint8", name
        error = np.abs(loaded[name] - values).max()
        assert error <= 0.5 * quantization["scale"] + float32_rounding(values), (name, error, quantization)


def test_converter_mixed_graph_model_loads_its_float16_weights_within_half_precision(shipped_weights):
    """The converter's uint8-mixed model keeps the depthwise and first kernels in float16: they load within
    float16's half step of the float32 weights, and the channel scales fold back into the 1x1 layers."""
    model_json = fixture_model("uint8-mixed")
    entries = manifest_entries(model_json)
    loaded, expected = load_weights(model_json.parent).variables(), shipped_weights.variables()
    float16 = [name for name in expected if entries.get(name, {}).get("quantization", {}).get("dtype") == "float16"]
    assert any("depthwise" in name for name in float16) and any("Conv2d_0" in name for name in float16), float16
    for name in float16:
        np.testing.assert_allclose(loaded[name], expected[name], rtol=2.0**-11, atol=6e-8, err_msg=name)
    # Everything else: at most half a uint8 level of a kernel normalised to [-128, 127], times its channel's scale
    # (at most the channel's largest |weight| / 127); the rescaled biases stay float32.
    for name in expected:
        largest = np.abs(expected[name]).max()
        error = np.abs(loaded[name] - expected[name]).max()
        assert error <= 0.5 * largest / 127 + float32_rounding(expected[name]), (name, error)


