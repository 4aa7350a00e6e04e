"""Our own tfjs writer (posenet_port/export/tfjs.py) against the tensorflowjs converter it replaces: the same
weights after tfjs' dequantisation, and the same outputs in real TensorFlow.js, for every variant."""
from __future__ import annotations

import json

import numpy as np
import pytest

from posenet_port.export.tfjs import TFJS_VARIANTS, export_tfjs, quantize
from posenet_port.freeze import write_frozen_graph
from posenet_port.graph import build_model
from posenet_port.preprocess import load_image, preprocess
from posenet_port.runners.tfjs import open_runner
from posenet_port.spec import POSENET_HEAD_ORDER
from posenet_port.weights import load_weights

from conftest import photo_paths
from parity import assert_outputs_close

# A uint16 / uint8 level is 1/65535 / 1/255 of a tensor's range: the two writers may round a value sitting on a
# half level differently only through float rounding, so weights agree to float32 precision of that range.
WEIGHT_RELATIVE = 1e-6


@pytest.fixture(scope="module")
def converter():
    pytest.importorskip("tensorflowjs", reason="the tensorflowjs converter (pip install .[tfjs-converter])")
    import tfjs_converter

    return tfjs_converter


@pytest.mark.parity
# Stride 8 once, in float32: there the atrous layers differ between the writers, not the storage.
@pytest.mark.parametrize("variant, output_stride", [*((v, 16) for v in TFJS_VARIANTS), ("float32", 8)])
def test_our_tfjs_models_equal_the_converters_in_tensorflowjs(converter, node_oracle, shipped_weights, tmp_path,
                                                             variant, output_stride):
    frozen = write_frozen_graph(build_model(shipped_weights, output_stride), tmp_path / "graph.pb")
    theirs = converter.convert_with_tensorflowjs(frozen, tmp_path / "converter", variant, list(POSENET_HEAD_ORDER))
    ours = export_tfjs(shipped_weights, output_stride, tmp_path / "ours", variant)
    assert json.loads(ours.read_text())["signature"]["outputs"].keys() == \
        json.loads(theirs.read_text())["signature"]["outputs"].keys()  # posenet reads them by position
    if output_stride == 16:  # the converter writes stride 8's atrous layers as SpaceToBatchND pairs, ours are native
        our_weights, their_weights = load_weights(ours.parent).variables(), load_weights(theirs.parent).variables()
        for name, values in their_weights.items():
            difference = float(np.abs(our_weights[name] - values).max())
            assert difference <= WEIGHT_RELATIVE * float(np.abs(values).max()) + 1e-12, (name, difference)
    images = [preprocess(load_image(photo), 257)[0] for photo in photo_paths()[:2]]
    for image, mine, reference in zip(images, open_runner(ours).run_many(images), open_runner(theirs).run_many(images)):
        assert_outputs_close({k: mine[k] for k in POSENET_HEAD_ORDER}, {k: reference[k] for k in POSENET_HEAD_ORDER},
                             f"tfjs {variant} stride {output_stride}: our writer vs the tensorflowjs converter")
    sizes = {path.name: path.stat().st_size for path in ours.parent.glob("*.bin")}
    assert max(sizes.values()) <= 4 * 1024 * 1024, sizes


def test_uint8_mixed_is_lossless_on_its_grid(tmp_path):
    """Kernels already on the uint8-mixed grid come back from tfjs' dequantisation as they went in."""
    from posenet_port.export.tfjs import normalise_channels

    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(1, 1, 64, 32)).astype(np.float32)
    normalised, bias, scale = normalise_channels(kernel, np.zeros(32, np.float32))
    on_grid = np.round(normalised).astype(np.float32)  # whole levels, as GPTQ's uint8-mixed grid leaves them
    stored, entry = quantize(on_grid, "uint8")
    assert entry["scale"] == 1.0 and entry["min"] == -128.0 and stored.dtype == np.uint8
    np.testing.assert_array_equal(stored * entry["scale"] + entry["min"], on_grid)
