"""The TensorFlow graph against an independent NumPy float64 forward pass, and its node names."""
import numpy as np
import pytest
import tensorflow as tf
from helpers import EXPECTED_LAYERS
from helpers.parity import assert_outputs_close
from helpers.reference_forward import forward

from posenet_port.formats.tf.runner import FrozenGraphRunner
from posenet_port.model.freeze import frozen_graph_def, write_saved_model
from posenet_port.model.tf_graph import build_model
from posenet_port.model.weights import ConvWeights, PosenetWeights

# Output channels of conv0 and the 13 blocks used for random-weight networks of the other multipliers.
WIDTHS = {
    0.50: [16, 32, 64, 64, 128, 128, 256, 256, 256, 256, 256, 256, 256, 256],
    1.00: [32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024],
}
HEAD_CHANNELS = {"heatmap_2": 17, "offset_2": 34, "displacement_fwd_2": 32, "displacement_bwd_2": 32}


def random_weights(widths, seed=0) -> PosenetWeights:
    rng = np.random.default_rng(seed)

    def conv(shape):
        fan_in = shape[0] * shape[1] * (shape[2] if shape[3] != 1 else 1)
        kernel = rng.normal(0, np.sqrt(2.0 / fan_in), shape).astype(np.float32)
        bias = rng.normal(0, 0.1, shape[2] if shape[3] == 1 else shape[3]).astype(np.float32)
        return ConvWeights(kernel, bias)

    convs = [conv((3, 3, 3, widths[0]))]
    for inner, outer in zip(widths, widths[1:]):
        convs += [conv((3, 3, inner, 1)), conv((1, 1, inner, outer))]
    convs += [conv((1, 1, widths[-1], channels)) for channels in HEAD_CHANNELS.values()]
    return PosenetWeights.from_convs(convs, source="random")


def random_image(size, seed=1):
    return np.random.default_rng(seed).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)


def assert_matches_reference(weights, output_stride, image):
    ours = build_model(weights, output_stride)(image)
    reference = forward(image, weights.variables(), EXPECTED_LAYERS[weights.multiplier, output_stride])
    expected_cells = (image.shape[1] - 1) // output_stride + 1
    for head in reference:
        assert ours[head].shape == (1, expected_cells, expected_cells, HEAD_CHANNELS[head])
    reference["heatmap"] = 1 / (1 + np.exp(-reference["heatmap_2"]))
    kind = "random" if weights.source == "random" else "shipped"
    label = f"TF graph vs NumPy float64, {kind} weights {weights.multiplier:.2f}, stride {output_stride}"
    assert_outputs_close(ours, reference, label)


@pytest.mark.parity
@pytest.mark.parametrize("output_stride", [16, 8])
def test_shipped_weights_match_numpy_reference(shipped_weights, output_stride):
    assert_matches_reference(shipped_weights, output_stride, random_image(129))


@pytest.mark.parity
@pytest.mark.parametrize("multiplier, output_stride", [(0.50, 8), (0.50, 16), (1.00, 8), (1.00, 16), (1.00, 32)])
def test_other_multipliers_match_numpy_reference(multiplier, output_stride):
    weights = random_weights(WIDTHS[multiplier])
    assert weights.multiplier == multiplier
    assert_matches_reference(weights, output_stride, random_image(129))


def test_any_input_size_runs(model):
    outputs = model(random_image(1)[:, :1, :1].repeat(193, 1).repeat(161, 2))
    assert outputs["offset_2"].shape == (1, 13, 11, 34)


def test_frozen_graph_has_the_canonical_node_names(model):
    nodes = {node.name: node for node in frozen_graph_def(model).node}
    assert nodes["image"].op == "Placeholder"
    assert [d.size for d in nodes["image"].attr["shape"].shape.dim] == [1, -1, -1, 3]
    assert nodes["heatmap"].op == "Sigmoid"
    for name in ("heatmap_2", "offset_2", "displacement_fwd_2", "displacement_bwd_2"):
        assert name in nodes
    assert nodes["MobilenetV1/Conv2d_13_pointwise/weights"].op == "Const"
    assert not [n for n in nodes.values() if n.op in ("VarHandleOp", "ReadVariableOp", "VariableV2")]


def test_frozen_graph_and_saved_model_compute_the_model(model, frozen_pb, tmp_path):
    image = random_image(257)
    expected = model(image)
    from_pb = FrozenGraphRunner(frozen_pb)(image)
    saved = tf.saved_model.load(str(write_saved_model(model, tmp_path / "saved")))
    serving = saved.signatures["serving_default"]
    assert serving.structured_input_signature[1]["image"].shape.as_list() == [1, None, None, 3]
    from_saved = {k: v.numpy() for k, v in serving(image=tf.constant(image)).items()}
    # One engine, one CPU, the same ops: freezing and saving must not change a single bit.
    for name, values in expected.items():
        np.testing.assert_array_equal(from_pb[name], values)
        np.testing.assert_array_equal(from_saved[name], values)
