import pytest
from helpers import EXPECTED_LAYERS

from posenet_port.errors import ConfigError
from posenet_port.model.architecture import (
    ArchitectureConfig,
    check_input_size,
    is_valid_input_size,
    layer_specs,
    snap_input_size,
)


@pytest.mark.parametrize("multiplier, output_stride", sorted(EXPECTED_LAYERS))
def test_layer_strides_and_dilations_follow_tfjs(multiplier, output_stride):
    specs = layer_specs(multiplier, output_stride)
    assert [(s.stride, s.dilation) for s in specs] == EXPECTED_LAYERS[multiplier, output_stride]
    assert [s.name for s in specs] == [f"Conv2d_{i}" for i in range(14)]


def test_output_stride_32_is_impossible_for_075_and_050():
    for multiplier in (0.75, 0.50):
        with pytest.raises(ConfigError, match=rf"output stride 32 is impossible with multiplier {multiplier:.2f}"):
            ArchitectureConfig(multiplier, 32)
    assert ArchitectureConfig(1.00, 32).name == "posenet_mobilenet_v1_100_stride32"


def test_unknown_multiplier_and_stride_are_refused():
    with pytest.raises(ConfigError, match="multiplier 0.6 is not supported"):
        ArchitectureConfig(0.6, 16)
    with pytest.raises(ConfigError, match="output stride 4 is not supported"):
        ArchitectureConfig(0.75, 4)


def test_artifact_name_follows_multiplier_and_stride():
    assert ArchitectureConfig(0.75, 16).name == "posenet_mobilenet_v1_075_stride16"
    assert ArchitectureConfig(0.50, 8).name == "posenet_mobilenet_v1_050_stride8"


def test_valid_input_sizes():
    assert [s for s in range(240, 400) if is_valid_input_size(s, 16)] == [241, 257, 273, 289, 305, 321, 337, 353, 369, 385]
    assert is_valid_input_size(513, 32) and not is_valid_input_size(513 + 16, 32)
    assert not is_valid_input_size(1, 16) and not is_valid_input_size(16, 16)


def test_snap_input_size_rounds_down_like_tfjs():
    assert snap_input_size(257, 16) == 257
    assert snap_input_size(300, 16) == 289
    assert snap_input_size(640, 8) == 641  # 640 // 8 * 8 + 1
    assert snap_input_size(5, 16) == 17
    with pytest.raises(ConfigError, match="input size 0 must be a positive"):
        snap_input_size(0, 16)


def test_invalid_input_size_error_names_the_value_and_nearest_sizes():
    assert check_input_size(353, 16) == 353
    with pytest.raises(ConfigError, match=r"input size 300 is not valid for output stride 16.*nearest: 289 or 305"):
        check_input_size(300, 16)
