"""Our own tfjs writer (posenet_port/export/tfjs.py) against the tensorflowjs converter it replaces: the same
weights after tfjs' dequantisation, and the same outputs in real TensorFlow.js, for every variant."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import photo_paths, tfjs_converter
from helpers.parity import assert_outputs_close

from posenet_port.formats.tfjs.export import VARIANTS, export_tfjs, quantize
from posenet_port.formats.tfjs.runner import open_runner
from posenet_port.inference.preprocess import load_image, preprocess
from posenet_port.model.freeze import write_frozen_graph
from posenet_port.model.spec import POSENET_HEAD_ORDER
from posenet_port.model.tf_graph import build_model
from posenet_port.model.weights import load_weights

# A uint16 / uint8 level is 1/65535 / 1/255 of a tensor's range: the two writers may round a value sitting on a
# half level differently only through float rounding, so weights agree to float32 precision of that range.
WEIGHT_RELATIVE = 1e-6


@pytest.fixture(scope="module")
def converter():
    pytest.importorskip("tensorflowjs", reason="the tensorflowjs converter (pip install .[tfjs-converter])")
    return tfjs_converter


def assert_same_model(ours: Path, theirs: Path, label: str, compare_weights: bool = True) -> None:
    """Same output order, the same weights after tfjs' dequantisation and the same outputs in TensorFlow.js."""
    assert json.loads(ours.read_text())["signature"]["outputs"].keys() == \
        json.loads(theirs.read_text())["signature"]["outputs"].keys()  # posenet reads them by position
    if compare_weights:
        our_weights, their_weights = load_weights(ours.parent).variables(), load_weights(theirs.parent).variables()
        for name, values in their_weights.items():
            difference = float(np.abs(our_weights[name] - values).max())
            assert difference <= WEIGHT_RELATIVE * float(np.abs(values).max()) + 1e-12, (name, difference)
    images = [preprocess(load_image(photo), 257)[0] for photo in photo_paths()[:2]]
    for mine, reference in zip(open_runner(ours).run_many(images), open_runner(theirs).run_many(images)):
        assert_outputs_close({k: mine[k] for k in POSENET_HEAD_ORDER}, {k: reference[k] for k in POSENET_HEAD_ORDER},
                             f"{label}: our writer vs the tensorflowjs converter")
    sizes = {path.name: path.stat().st_size for path in ours.parent.glob("*.bin")}
    assert max(sizes.values()) <= 4 * 1024 * 1024, sizes


# The committed converter models that our writer also writes (plain uint8 ruins the model: only the loader reads it).
WRITTEN_FIXTURES = [v for v in tfjs_converter.FIXTURE_VARIANTS if v in VARIANTS]


@pytest.mark.parity
@pytest.mark.parametrize("variant", WRITTEN_FIXTURES)
def test_our_tfjs_models_equal_the_committed_converter_models(node_oracle, shipped_weights, tmp_path, variant):
    """Against the converter's models in tests/data/tfjs-converter: runs everywhere, tensorflowjs or not."""
    ours = export_tfjs(shipped_weights, 16, tmp_path / "ours", variant)
    assert_same_model(ours, tfjs_converter.fixture_model(variant), f"tfjs {variant} stride 16 (committed)")


@pytest.mark.parity
# The variants no fixture holds, and stride 8 once in float32: there the atrous layers differ between the
# writers (the converter wrote SpaceToBatchND pairs, ours are native), not the storage.
@pytest.mark.parametrize("variant, output_stride", [
    *((v, 16) for v in VARIANTS if v not in WRITTEN_FIXTURES), ("float32", 8)])
def test_our_tfjs_models_equal_the_converters_in_tensorflowjs(converter, node_oracle, shipped_weights, tmp_path,
                                                             variant, output_stride):
    frozen = write_frozen_graph(build_model(shipped_weights, output_stride), tmp_path / "graph.pb")
    theirs = converter.convert_with_tensorflowjs(frozen, tmp_path / "converter", variant, list(POSENET_HEAD_ORDER))
    ours = export_tfjs(shipped_weights, output_stride, tmp_path / "ours", variant)
    assert_same_model(ours, theirs, f"tfjs {variant} stride {output_stride}", compare_weights=output_stride == 16)


def test_committed_fixtures_are_what_the_converter_writes(converter, tmp_path):
    """tests/data/tfjs-converter made again: byte-identical shards, the same nodes and weight manifest."""
    for written in converter.write_fixtures(tmp_path):
        committed = converter.fixture_model(written.parent.name)
        for shard in committed.parent.glob("*.bin"):
            assert (written.parent / shard.name).read_bytes() == shard.read_bytes(), shard
        ours, theirs = json.loads(written.read_text()), json.loads(committed.read_text())
        nodes = [sorted(json.dumps(n, sort_keys=True) for n in d["modelTopology"]["node"]) for d in (ours, theirs)]
        assert nodes[0] == nodes[1], written
        assert ours["weightsManifest"] == theirs["weightsManifest"] and ours["signature"] == theirs["signature"]


def test_uint8_mixed_is_lossless_on_its_grid(tmp_path):
    """Kernels already on the uint8-mixed grid come back from tfjs' dequantisation as they went in."""
    from posenet_port.formats.tfjs.export import normalise_channels

    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(1, 1, 64, 32)).astype(np.float32)
    normalised, bias, scale = normalise_channels(kernel, np.zeros(32, np.float32))
    on_grid = np.round(normalised).astype(np.float32)  # whole levels, as GPTQ's uint8-mixed grid leaves them
    stored, entry = quantize(on_grid, "uint8")
    assert entry["scale"] == 1.0 and entry["min"] == -128.0 and stored.dtype == np.uint8
    np.testing.assert_array_equal(stored * entry["scale"] + entry["min"], on_grid)
