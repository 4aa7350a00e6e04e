"""Bad weights: each gets a WeightsError / ConfigError naming the file or value and what is wrong."""
from __future__ import annotations

import gzip
import json
import shutil
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from helpers import write_checkpoint

from posenet_port.errors import ConfigError, WeightsError
from posenet_port.model.weights import SHIPPED_WEIGHTS, load_weights, verify_shipped_weights


@pytest.fixture
def model_dir(tmp_path) -> Path:
    target = tmp_path / "posenet"
    shutil.copytree(SHIPPED_WEIGHTS.directory, target)
    return target


def edit_json(path: Path, edit) -> None:
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))


def weight_specs(document) -> list[dict]:
    return document["weightsManifest"][0]["weights"]


def byte_offset(document, name: str) -> int:
    offset = 0
    for spec in weight_specs(document):
        if spec["name"] == name:
            return offset
        offset += int(np.prod(spec["shape"])) * 4
    raise KeyError(name)


def test_truncated_shard(model_dir):
    shard = model_dir / "posenet.bin"
    shard.write_bytes(shard.read_bytes()[:-100])
    with pytest.raises(WeightsError, match=r"posenet\.json: shard\(s\) posenet\.bin hold 5032680 bytes.*truncated"):
        load_weights(model_dir)


def test_shard_longer_than_manifest(model_dir):
    with open(model_dir / "posenet.bin", "ab") as shard:
        shard.write(b"\0" * 8)
    with pytest.raises(WeightsError, match=r"posenet\.bin hold 5032788 bytes but the manifest describes 5032780.*longer"):
        load_weights(model_dir)


def test_missing_shard(model_dir):
    (model_dir / "posenet.bin").unlink()
    with pytest.raises(WeightsError, match=r"posenet\.bin: weight shard named in posenet\.json is missing"):
        load_weights(model_dir / "posenet.json")


def test_wrong_shape(model_dir):
    def transpose_depthwise_kernel(document):
        # Const_53 is Conv2d_1's depthwise kernel [3, 3, 24, 1]; same element count, wrong layout.
        spec = next(s for s in weight_specs(document) if s["name"] == "Const_53")
        assert spec["shape"] == [3, 3, 24, 1]
        spec["shape"] = [3, 3, 1, 24]

    edit_json(model_dir / "posenet.json", transpose_depthwise_kernel)
    with pytest.raises(WeightsError, match=r"Conv2d_1_depthwise kernel has shape \[3, 3, 1, 24\], expected \[3, 3, 24, 1\]"):
        load_weights(model_dir)


def test_unknown_dtype(model_dir):
    edit_json(model_dir / "posenet.json", lambda d: weight_specs(d)[0].update(dtype="complex64"))
    with pytest.raises(WeightsError, match=r"posenet\.json: weight Const_61 has unknown dtype 'complex64'"):
        load_weights(model_dir)


def test_unknown_quantization(model_dir):
    edit_json(model_dir / "posenet.json", lambda d: weight_specs(d)[0].update(quantization={"dtype": "int4"}))
    with pytest.raises(WeightsError, match=r"weight Const_61 has unknown quantization"):
        load_weights(model_dir)


def test_graph_model_that_is_not_posenet(model_dir):
    def drop_heads(document):
        nodes = document["modelTopology"]["node"]
        document["modelTopology"]["node"] = [n for n in nodes if not n["name"].endswith("_2/BiasAdd")]

    edit_json(model_dir / "posenet.json", drop_heads)
    with pytest.raises(WeightsError, match=r"found 27 chained convolutions and 0 heads.*not a PoseNet graph model"):
        load_weights(model_dir)


def test_json_that_is_not_weights(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"format": "layers-model", "hello": 1}))
    with pytest.raises(WeightsError, match=r"model\.json: not PoseNet weights"):
        load_weights(tmp_path / "model.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(WeightsError, match=r"broken\.json: not valid JSON"):
        load_weights(tmp_path / "broken.json")


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(WeightsError, match=r"nowhere: no such file or directory"):
        load_weights(tmp_path / "nowhere")
    with pytest.raises(WeightsError, match=r"directory holds no tfjs graph model"):
        load_weights(tmp_path)


def test_checksum_mismatch_of_shipped_weights(model_dir):
    shard = model_dir / "posenet.bin"
    data = bytearray(shard.read_bytes())
    data[1000] ^= 0xFF
    shard.write_bytes(bytes(data))
    copy = replace(SHIPPED_WEIGHTS, directory=model_dir)
    with pytest.raises(WeightsError, match=r"posenet\.bin: sha256 [0-9a-f]{64} does not match the shipped checksum 15e9a22e"):
        verify_shipped_weights(copy)


def test_nan_weights_are_refused_unless_allowed(model_dir):
    document = json.loads((model_dir / "posenet.json").read_text())
    offset = byte_offset(document, "Const_55")  # Conv2d_0 kernel
    shard = model_dir / "posenet.bin"
    data = bytearray(shard.read_bytes())
    data[offset : offset + 4] = struct.pack("<f", float("nan"))
    shard.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"MobilenetV1/Conv2d_0/weights holds 1 NaN or Inf value.*allow_non_finite"):
        load_weights(model_dir)
    assert np.isnan(load_weights(model_dir, allow_non_finite=True).conv0.kernel).sum() == 1


def test_shard_path_outside_the_model_folder_is_refused(model_dir, tmp_path):
    (tmp_path / "secret.bin").write_bytes((model_dir / "posenet.bin").read_bytes())
    edit_json(model_dir / "posenet.json", lambda d: d["weightsManifest"][0].update(paths=["../secret.bin"]))
    with pytest.raises(WeightsError, match=r"refusing file '\.\./secret\.bin': it lies outside the model folder"):
        load_weights(model_dir)


def test_checkpoint_file_truncated(shipped_weights, tmp_path):
    manifest = write_checkpoint(shipped_weights, tmp_path / "ckpt", gzip_every=1000)
    target = tmp_path / "ckpt" / "MobilenetV1_Conv2d_3_pointwise_weights"
    target.write_bytes(target.read_bytes()[:-4])
    with pytest.raises(WeightsError, match=r"MobilenetV1_Conv2d_3_pointwise_weights: holds 36860 bytes but .* needs 36864"):
        load_weights(manifest)


def test_checkpoint_corrupt_gzip_and_missing_file(shipped_weights, tmp_path):
    manifest = write_checkpoint(shipped_weights, tmp_path / "ckpt", gzip_every=1)
    target = tmp_path / "ckpt" / "MobilenetV1_Conv2d_0_weights"
    target.write_bytes(gzip.compress(b"x" * 100)[:20])
    with pytest.raises(WeightsError, match=r"MobilenetV1_Conv2d_0_weights: corrupt gzip data"):
        load_weights(manifest)
    target.unlink()
    with pytest.raises(WeightsError, match=r"MobilenetV1_Conv2d_0_weights: weight file of MobilenetV1/Conv2d_0/weights .* is missing"):
        load_weights(manifest)


def test_checkpoint_missing_variable(shipped_weights, tmp_path):
    manifest = write_checkpoint(shipped_weights, tmp_path / "ckpt")
    edit_json(manifest, lambda d: d.pop("MobilenetV1/offset_2/biases"))
    with pytest.raises(WeightsError, match=r"variable MobilenetV1/offset_2/biases is missing"):
        load_weights(manifest)


def test_output_stride_32_with_075_is_a_config_error(shipped_weights):
    from posenet_port.model.architecture import ArchitectureConfig

    with pytest.raises(ConfigError, match="output stride 32 is impossible with multiplier 0.75"):
        ArchitectureConfig(shipped_weights.multiplier, 32)
