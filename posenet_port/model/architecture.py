"""PoseNet MobileNetV1: multiplier tables, output stride, per-layer stride and dilation, input sizes.

Mirrors tfjs-models posenet 1.x `mobilenet.ts` (`mobileNet{50,75,100}Architecture`, `toOutputStridedLayers`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from posenet_port.errors import ConfigError
from posenet_port.model.keypoints import NUM_EDGES, NUM_KEYPOINTS

# Stride of conv0 followed by the depthwise stride of each of the 13 separable blocks.
_STRIDES_050_075 = (2, 1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 1, 1)
_STRIDES_100 = (2, 1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)
LAYER_STRIDES: dict[float, tuple[int, ...]] = {
    0.50: _STRIDES_050_075,
    0.75: _STRIDES_050_075,
    1.00: _STRIDES_100,
}
# conv0's output channels identify the multiplier (MobileNetV1's 32 channels times the multiplier).
CONV0_CHANNELS_TO_MULTIPLIER: dict[int, float] = {16: 0.50, 24: 0.75, 32: 1.00}
OUTPUT_STRIDES = (8, 16, 32)
DEFAULT_OUTPUT_STRIDE = 16  # posenet 2.x's default for MobileNetV1
MAX_INPUT_SIZE = 2049  # 128 cells at stride 16: far beyond PoseNet's use, and its activations still fit in memory
NUM_BLOCKS = 13

HEAD_NAMES = ("heatmap_2", "offset_2", "displacement_fwd_2", "displacement_bwd_2")
HEAD_CHANNELS: dict[str, int] = {
    "heatmap_2": NUM_KEYPOINTS,
    "offset_2": 2 * NUM_KEYPOINTS,
    "displacement_fwd_2": 2 * NUM_EDGES,
    "displacement_bwd_2": 2 * NUM_EDGES,
}


@dataclass(frozen=True)
class LayerSpec:
    """How one backbone layer is applied: conv0 or the depthwise half of a separable block."""

    name: str  # MobilenetV1 scope name: Conv2d_0, Conv2d_1 ... Conv2d_13
    stride: int
    dilation: int


@dataclass(frozen=True)
class ArchitectureConfig:
    """A PoseNet MobileNetV1 variant: width multiplier and output stride."""

    multiplier: float = 0.75
    output_stride: int = 16

    def __post_init__(self) -> None:
        if self.multiplier not in LAYER_STRIDES:
            raise ConfigError(
                f"multiplier {self.multiplier} is not supported; choose one of "
                f"{', '.join(f'{m:.2f}' for m in LAYER_STRIDES)}"
            )
        if self.output_stride not in OUTPUT_STRIDES:
            raise ConfigError(
                f"output stride {self.output_stride} is not supported; choose one of "
                f"{', '.join(map(str, OUTPUT_STRIDES))}"
            )
        native = native_output_stride(self.multiplier)
        if self.output_stride > native:
            raise ConfigError(
                f"output stride {self.output_stride} is impossible with multiplier {self.multiplier:.2f}: "
                f"its backbone only downsamples by {native}; use output stride 8 or 16"
            )

    @property
    def name(self) -> str:
        """Stable artifact stem, e.g. posenet_mobilenet_v1_075_stride16."""
        return f"posenet_mobilenet_v1_{round(self.multiplier * 100):03d}_stride{self.output_stride}"

    def layers(self) -> tuple[LayerSpec, ...]:
        return layer_specs(self.multiplier, self.output_stride)


@dataclass(frozen=True)
class ConvStep:
    """One convolution of the network in order: its scope, how it is applied, and whether ReLU6 follows."""

    scope: str
    layer: LayerSpec
    depthwise: bool
    relu6: bool

    @property
    def is_head(self) -> bool:
        return self.scope in HEAD_NAMES

    @property
    def is_first(self) -> bool:
        return self.scope == FIRST_SCOPE


FIRST_SCOPE = "Conv2d_0"  # conv0: the layer that reads the picture
_POINTWISE = LayerSpec("pointwise", stride=1, dilation=1)


def conv_steps(config: ArchitectureConfig) -> list[ConvStep]:
    """Every convolution in network order, matching `PosenetWeights.convs()`: conv0, 13 x (depthwise,
    pointwise), then the four heads (all reading the last block's features)."""
    layers = config.layers()
    steps = [ConvStep(FIRST_SCOPE, layers[0], depthwise=False, relu6=True)]
    for index, layer in enumerate(layers[1:], start=1):
        steps.append(ConvStep(f"Conv2d_{index}_depthwise", layer, depthwise=True, relu6=True))
        steps.append(ConvStep(f"Conv2d_{index}_pointwise", _POINTWISE, depthwise=False, relu6=True))
    return steps + [ConvStep(name, _POINTWISE, depthwise=False, relu6=False) for name in HEAD_NAMES]


def native_output_stride(multiplier: float) -> int:
    """The total downsampling of the backbone without atrous convolution."""
    total = 1
    for stride in LAYER_STRIDES[multiplier]:
        total *= stride
    return total


def layer_specs(multiplier: float, output_stride: int) -> tuple[LayerSpec, ...]:
    """Per-layer stride and dilation, as tfjs `toOutputStridedLayers`.

    Once the running stride reaches the output stride, later layers keep stride 1 and dilate by the
    stride they gave up instead, so the feature map stays at the output stride.
    """
    current_stride = 1
    rate = 1
    specs = []
    for index, stride in enumerate(LAYER_STRIDES[multiplier]):
        if current_stride == output_stride:
            specs.append(LayerSpec(f"Conv2d_{index}", stride=1, dilation=rate))
            rate *= stride
        else:
            specs.append(LayerSpec(f"Conv2d_{index}", stride=stride, dilation=1))
            current_stride *= stride
    return tuple(specs)


def is_valid_input_size(size: int, output_stride: int) -> bool:
    """Valid sizes are k * output_stride + 1: the heatmap cells then sit on exact input pixels."""
    return size > output_stride and (size - 1) % output_stride == 0


def snap_input_size(size: int, output_stride: int) -> int:
    """The valid size at or below `size` (tfjs posenet 2.x `toValidInputResolution`), at least stride + 1."""
    if size < 1:
        raise ConfigError(f"input size {size} must be a positive number of pixels")
    if is_valid_input_size(size, output_stride):
        return size
    return max(size // output_stride, 1) * output_stride + 1


def check_input_size(size: int, output_stride: int) -> int:
    """Return `size` if valid, else raise a ConfigError that names the nearest valid sizes."""
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool):
        raise ConfigError(f"input size {size!r} is not a whole number: use k * {output_stride} + 1, e.g. 257")
    size = int(size)
    if size > MAX_INPUT_SIZE:
        raise ConfigError(f"input size {size} is larger than PoseNet is run at here; use at most {MAX_INPUT_SIZE}")
    if is_valid_input_size(size, output_stride):
        return size
    below = snap_input_size(size, output_stride)
    raise ConfigError(
        f"input size {size} is not valid for output stride {output_stride}: valid sizes are "
        f"k * {output_stride} + 1 (nearest: {below} or {below + output_stride})"
    )


def multiply_adds(widths: Sequence[int], input_size: int, output_stride: int, multiplier: float) -> int:
    """Multiply-accumulates of one forward pass: conv0, 13 depthwise + pointwise pairs and the four heads."""
    specs = layer_specs(multiplier, output_stride)
    size = math.ceil(input_size / specs[0].stride)
    total = size * size * 9 * 3 * widths[0]
    channels = widths[0]
    for spec, width in zip(specs[1:], widths[1:]):
        size = math.ceil(size / spec.stride)
        total += size * size * 9 * channels + size * size * channels * width
        channels = width
    return total + size * size * channels * sum(HEAD_CHANNELS.values())
