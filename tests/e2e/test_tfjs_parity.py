"""Our frozen graph against real TensorFlow.js 4.22 (cpu backend) running the shipped graph model in node, within
float32 rounding (tests/helpers/parity.py), and proof that the same comparison fails for a graph that is wrong."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from helpers import EXPECTED_LAYERS, photo_paths
from helpers.parity import assert_outputs_close, differences
from helpers.reference_forward import forward

from posenet_port.formats.tf.runner import FrozenGraphRunner
from posenet_port.formats.tfjs.runner import TfjsNodeRunner
from posenet_port.inference.preprocess import load_image, preprocess
from posenet_port.model.tf_graph import build_model
from posenet_port.model.weights import SHIPPED_WEIGHTS, PosenetWeights

HEADS = ["displacement_bwd_2", "displacement_fwd_2", "heatmap_2", "offset_2"]
LAYERS = EXPECTED_LAYERS[0.75, 16]  # (stride, dilation) of conv0 and the 13 blocks at output stride 16


@lru_cache(maxsize=None)
def tfjs_outputs(size: int) -> tuple[tuple[str, np.ndarray, dict], ...]:
    """(photo name, input batch, tfjs outputs) for each real photo at `size`: the shipped model in tfjs (cpu)."""
    images = [preprocess(load_image(path), size)[0] for path in photo_paths()]
    expected = TfjsNodeRunner(SHIPPED_WEIGHTS.model_path, backend="cpu").run_many(images)
    return tuple((path.stem, image, outputs) for path, image, outputs in zip(photo_paths(), images, expected))


@pytest.mark.slow
@pytest.mark.node
@pytest.mark.parity
@pytest.mark.parametrize("size", [257, 353])
def test_frozen_graph_matches_tfjs_on_real_photos(node_oracle, frozen_pb, size):
    ours = FrozenGraphRunner(frozen_pb)
    cells = (size - 1) // 16 + 1
    for photo, image, tfjs in tfjs_outputs(size):
        assert sorted(tfjs) == HEADS
        assert all(values.shape[:3] == (1, cells, cells) for values in tfjs.values())
        assert_outputs_close(ours(image), tfjs, f"TF frozen graph vs tfjs (cpu), {photo} at {size}")
        # A real photo of people, not a blank: the heatmap must find confident keypoints.
        assert (1 / (1 + np.exp(-tfjs["heatmap_2"]))).max() > 0.9


@pytest.mark.slow
@pytest.mark.node
@pytest.mark.parity
def test_numpy_float64_forward_matches_tfjs(node_oracle, shipped_weights):
    """A third, independent implementation (tests/helpers/reference_forward.py) lands within the same bound."""
    for photo, image, tfjs in tfjs_outputs(257):
        reference = forward(image, shipped_weights.variables(), LAYERS)
        assert_outputs_close(reference, tfjs, f"NumPy float64 forward vs tfjs (cpu), {photo} at 257")


def _with_variable(weights, name: str, change):
    variables = {key: value.copy() for key, value in weights.variables().items()}
    variables[name] = change(variables[name])
    return PosenetWeights.from_variables(variables)


def _drop_bias(bias):
    """A layer whose bias was lost in conversion."""
    return np.zeros_like(bias)


def _largest_weight_one_percent_off(kernel):
    flat = kernel.reshape(-1)
    flat[np.abs(flat).argmax()] *= 1.01
    return kernel


def _swap_strides(layers):
    """Blocks 2 and 3 with their strides swapped (2, 1 -> 1, 2): the output shape stays, the sampling does not."""
    swapped = list(layers)
    swapped[2], swapped[3] = layers[3], layers[2]
    return swapped


# mistake -> (outputs of the wrong graph for (image, weights), how many times the bound it must miss by at least)
WRONG_GRAPHS = {
    "Conv2d_5_depthwise without its bias": (lambda image, weights: build_model(
        _with_variable(weights, "MobilenetV1/Conv2d_5_depthwise/biases", _drop_bias))(image), 100),
    # At valid input sizes (k * 16 + 1) SAME padding is even on every layer, so only its value can be wrong.
    "image padded with black, not zeros": (lambda image, weights: forward(
        image, weights.variables(), LAYERS, image_pad_value=-1.0), 100),
    "two block strides swapped": (lambda image, weights: forward(
        image, weights.variables(), _swap_strides(LAYERS)), 100),
    # Not a structural mistake, and still caught: one weight of 147,456 changed by 1 %.
    "Conv2d_7_pointwise's largest weight 1% off": (lambda image, weights: build_model(
        _with_variable(weights, "MobilenetV1/Conv2d_7_pointwise/weights", _largest_weight_one_percent_off))(image), 2),
}


@pytest.mark.slow
@pytest.mark.node
@pytest.mark.parametrize("mistake", sorted(WRONG_GRAPHS))
def test_parity_check_fails_for_a_wrong_graph(node_oracle, shipped_weights, mistake):
    """The bound lets float32 rounding through, not mistakes: the structural ones miss it by orders of magnitude."""
    photo, image, tfjs = tfjs_outputs(257)[0]
    wrong_graph, minimum_ratio = WRONG_GRAPHS[mistake]
    found = differences(wrong_graph(image, shipped_weights), tfjs, f"wrong graph ({mistake}), {photo}")
    for difference in found:
        print(difference)
    worst = max(d.max_abs / d.bound for d in found)
    print(f"{mistake}: the worst output is {worst:.0f}x the bound")
    assert worst >= minimum_ratio
