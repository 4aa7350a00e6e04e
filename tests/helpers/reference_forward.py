"""An independent NumPy float64 PoseNet forward pass, for checking the TensorFlow graph.

It shares nothing with posenet_port's graph code: SAME padding, dilation and strides are spelled out here.
"""
from __future__ import annotations

from typing import Iterator, Mapping, Sequence

import numpy as np

HEADS = ("heatmap_2", "offset_2", "displacement_fwd_2", "displacement_bwd_2")


def _taps(
    x: np.ndarray, size: int, stride: int, dilation: int, pad_value: float = 0.0
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Each kernel tap's view of the input, with TensorFlow's SAME padding (extra padding at the end)."""
    _, height, width, _ = x.shape
    out_h, out_w = -(-height // stride), -(-width // stride)
    span = (size - 1) * dilation + 1
    pad_h = max((out_h - 1) * stride + span - height, 0)
    pad_w = max((out_w - 1) * stride + span - width, 0)
    padding = ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0))
    padded = np.pad(x, padding, constant_values=pad_value)
    for i in range(size):
        for j in range(size):
            rows = slice(i * dilation, i * dilation + (out_h - 1) * stride + 1, stride)
            cols = slice(j * dilation, j * dilation + (out_w - 1) * stride + 1, stride)
            yield i, j, padded[:, rows, cols, :]


def conv2d(x, kernel, bias, stride=1, dilation=1, pad_value=0.0):
    return sum(tap @ kernel[i, j] for i, j, tap in _taps(x, kernel.shape[0], stride, dilation, pad_value)) + bias


def depthwise(x, kernel, bias, stride=1, dilation=1):
    return sum(tap * kernel[i, j, :, 0] for i, j, tap in _taps(x, kernel.shape[0], stride, dilation)) + bias


def relu6(x):
    return np.clip(x, 0.0, 6.0)


def forward(
    image: np.ndarray,
    variables: Mapping[str, np.ndarray],
    layers: Sequence[tuple[int, int]],
    image_pad_value: float = 0.0,
) -> dict[str, np.ndarray]:
    """`layers`: (stride, dilation) of conv0 and of each block's depthwise conv. `image_pad_value`: what conv0's
    SAME padding adds around the scaled image (0; -1 is the mistake of padding in pixel space, with black)."""
    v = {name: value.astype(np.float64) for name, value in variables.items()}
    scope = "MobilenetV1"
    stride, dilation = layers[0]
    conv0 = v[f"{scope}/Conv2d_0/weights"], v[f"{scope}/Conv2d_0/biases"]
    x = relu6(conv2d(image.astype(np.float64), *conv0, stride, dilation, image_pad_value))
    for index, (stride, dilation) in enumerate(layers[1:], start=1):
        dw, pw = f"{scope}/Conv2d_{index}_depthwise", f"{scope}/Conv2d_{index}_pointwise"
        x = relu6(depthwise(x, v[f"{dw}/depthwise_weights"], v[f"{dw}/biases"], stride, dilation))
        x = relu6(conv2d(x, v[f"{pw}/weights"], v[f"{pw}/biases"]))
    return {head: conv2d(x, v[f"{scope}/{head}/weights"], v[f"{scope}/{head}/biases"]) for head in HEADS}
