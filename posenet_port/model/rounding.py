"""Weights placed on a target format's grid so that the rounded network still gives the float network's poses.

Rounding each weight to its nearest grid value (what every converter does) is what moves PoseNet's keypoints:
simulated alone, nearest int8 rounding of the weights leaves 82 % of confident keypoints within 2 px. Here the
rounding is chosen instead, once, in NumPy, layer by layer in network order (GPTQ, Frantar et al. 2022, with the
layer re-fitted first):

1. Re-fit: the layer's float weights and bias are refitted by ridge regression so that, fed the *rounded*
   network's activations so far, it reproduces the *float* network's output (earlier layers' error is absorbed).
2. Round: the weights are rounded one input position at a time; each rounding error is spread over the weights
   not yet rounded (and the float bias) through the inverse of the layer's input second-moment matrix, so the
   layer's output on the calibration photos changes as little as possible.

The result is ordinary float32 weights that lie exactly on the grid the converter will use: per output channel
symmetric int8 (scale = max |w| / 127, which TFLite's per-channel quantization recomputes to the same value) or
float16. Converting them loses nothing more, so every format that shares a grid shares one rounding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from posenet_port.errors import check_interrupted
from posenet_port.model.architecture import ArchitectureConfig, ConvStep, conv_steps
from posenet_port.model.weights import ConvWeights, PosenetWeights

# Chosen on the tuning photos only (samples.tuning_photos): refit ridge 0.1 and rounding damping 0.01, both
# relative to the mean diagonal of the layer's input second moments.
REFIT_RIDGE = 0.1
ROUNDING_DAMPING = 0.01
# Output channels whose weights are all below this fraction of the layer's largest are dead (17 in the shipped
# weights, |w| from 7e-7 down to 1e-12): the smallest have grid steps as small as float64's rounding noise in the
# refit, so GPTQ would place them differently on every CPU. They are rounded to nearest instead, which cannot
# matter for the outputs.
NEGLIGIBLE_CHANNEL = 1e-6


def level_scales(rows: np.ndarray, low: int, high: int) -> np.ndarray:
    """Per row, the smallest scale that fits it into the integer levels low..high: its largest weight lands on
    `high` or its most negative one on `low`. TFLite's int8 uses -127..127 (scale max |w| / 127, which TFLite
    recomputes); the tfjs one-byte model uses -128..127, so a kernel holding both extremes is stored by tfjs' own
    per-tensor affine uint8 (step (127 + 128) / 255 = 1, zero point 128) without loss. All-zero rows get 1."""
    scale = np.maximum(rows.max(axis=1) / high, rows.min(axis=1) / low)
    return np.where(scale > 0, scale, 1.0)


@dataclass(frozen=True)
class LayerGrid:
    """The values one layer can store: integer levels low..high times a per-output-channel scale, or (low None)
    float16 values; `rounds_biases` when the format stores the biases on the grid too (float16)."""

    low: int | None
    high: int | None
    rounds_biases: bool
    # tfjs quantizes the whole tensor with one affine range: its levels stay integers only if some weight of
    # the layer sits on `low` and some on `high`.
    spans_both_extremes: bool = False

    def scales(self, rows: np.ndarray) -> np.ndarray:
        return np.ones(len(rows)) if self.low is None else level_scales(rows, self.low, self.high)

    def round(self, column: np.ndarray, scale: np.ndarray) -> np.ndarray:
        if self.low is None:
            return column.astype(np.float16).astype(np.float64)
        return np.clip(np.round(column / scale), self.low, self.high) * scale


@dataclass(frozen=True)
class WeightGrid:
    """What a format stores, for its 1x1 convolutions (pointwise layers, heads) and its 3x3 ones (depthwise, and
    conv0 unless `first` says otherwise)."""

    name: str
    description: str
    pointwise: LayerGrid
    spatial: LayerGrid
    first: LayerGrid | None = None

    def layer(self, step: ConvStep) -> LayerGrid:
        if step.is_first and self.first is not None:
            return self.first
        return self.spatial if step.depthwise or step.is_first else self.pointwise


_INT8 = LayerGrid(-127, 127, rounds_biases=False)  # biases are int32 at the accumulator's scale
# x86 integer kernels without VNNI (AVX2, AVX-512) multiply uint8 activations by int8 weights with VPMADDUBSW,
# which adds each pair of products in 16 bits: 255 * 127 * 2 overflows, 255 * 64 * 2 does not. ONNX Runtime and
# OpenVINO run conv0, the pointwise layers and the heads so (their depthwise kernels widen first and are exact):
# with 8-bit kernels there, up to 2 % of a layer's outputs came out up to 255 steps off on an AVX2 EPYC
# (research/int8_saturation.md). Their `reduce_range` stores such kernels on these levels.
INT8_REDUCED = LayerGrid(-64, 64, rounds_biases=False)
_FLOAT16 = LayerGrid(None, None, rounds_biases=True)
GRIDS = {
    "int8": WeightGrid("int8", "per-output-channel symmetric int8, as TFLite's int8 and dynamic-range models store it",
                       _INT8, _INT8),
    "int8-x86": WeightGrid("int8-x86", "per-output-channel symmetric int8 with conv0's, the pointwise layers' and the "
                           "heads' kernels on 7-bit levels -64..64, which x86 CPUs without VNNI compute without "
                           "overflow (ONNX Runtime and OpenVINO int8)", INT8_REDUCED, _INT8,
                           first=INT8_REDUCED),
    "float16": WeightGrid("float16", "IEEE float16 weights and biases, as float16 TFLite and tfjs models store them",
                          _FLOAT16, _FLOAT16),
    "uint8-mixed": WeightGrid("uint8-mixed", "tfjs uint8-mixed: 1x1 kernels on per-channel levels -128..127 (biases "
                              "float32), conv0 and depthwise kernels float16",
                              LayerGrid(-128, 127, False, spans_both_extremes=True), _FLOAT16),
}


def round_weights(
    weights: PosenetWeights,
    output_stride: int,
    calibration: Sequence[np.ndarray],
    grid: WeightGrid,
) -> PosenetWeights:
    """`weights` with every kernel on `grid`, chosen to keep the network's outputs on `calibration` (preprocessed
    [1, H, W, 3] batches). Biases stay float32 unless the grid's format stores them on the grid too.

    Everything runs in float64 NumPy, the layers' outputs included, so the rounding is the same on every CPU.
    GPTQ is chaotic: one decision flipped by a float32 difference in the last bit (TensorFlow's kernels differ
    with the CPU's instructions) changes every later one, and rebuilds on an AVX2-only and an AVX-512 CPU gave
    different models. In float64 such a flip needs a weight within about 1e-16 of a rounding tie."""
    float_inputs = [np.asarray(batch[0], np.float64).transpose(2, 0, 1) for batch in calibration]  # [C, H, W]
    rounded_inputs = list(float_inputs)
    rounded = []
    for conv, step in zip(weights.convs(), conv_steps(ArchitectureConfig(weights.multiplier, output_stride))):
        check_interrupted()  # a step of seconds: answer a Ctrl-C that was swallowed (see errors.py) between layers
        kernel, rows = conv.kernel.shape[0], _rows(conv, step.depthwise)
        placed = _round_layer(rows, step, _moments(step, kernel, float_inputs, rounded_inputs), grid)
        rounded.append(_from_rows(placed, conv, step.depthwise))
        if not step.is_head:
            _advance(float_inputs, rows, step, kernel)
            _advance(rounded_inputs, placed, step, kernel)
    return PosenetWeights.from_convs(rounded, source=f"{weights.source} (weights on the {grid.name} grid)",
                                     format=weights.format, checksums=weights.checksums)


def _round_layer(rows: np.ndarray, step, moments: tuple[np.ndarray, np.ndarray], weight_grid: WeightGrid) -> np.ndarray:
    gram, cross = moments
    grid = weight_grid.layer(step)
    scales = grid.scales(rows[:, :-1])
    fitted = _refit(rows, gram, cross)
    placed = _round_rows(fitted, gram, scales, grid)
    placed = _dead_channels_to_nearest(placed, rows, scales, grid)
    if grid.low is not None:
        placed = _keep_scale(placed, rows, scales, grid)
    if grid.spans_both_extremes:
        placed = _reach_both_extremes(placed, scales, grid)
    if grid.rounds_biases:  # what the format will store; the next layers' refits see the difference
        placed[:, -1] = grid.round(placed[:, -1], scales)
    return placed


def _moments(step, kernel: int, float_inputs, rounded_inputs) -> tuple[np.ndarray, np.ndarray]:
    """Second moments of the layer's inputs (each patch plus a constant 1 for the bias): rounded x rounded and
    rounded x float. Shape [groups, n, n]: one group per channel for depthwise layers, one for the rest."""
    gram = cross = 0.0
    for x_float, x_rounded in zip(float_inputs, rounded_inputs):
        p_float, p_rounded = _patches(x_float, step, kernel)[0], _patches(x_rounded, step, kernel)[0]
        if step.depthwise:  # one small product per channel: BLAS, where einsum's own loop took 7x longer
            gram = gram + p_rounded @ np.swapaxes(p_rounded, 1, 2)
            cross = cross + p_rounded @ np.swapaxes(p_float, 1, 2)
        else:
            gram = gram + (p_rounded @ p_rounded.T)[None]
            cross = cross + (p_rounded @ p_float.T)[None]
    return gram, cross


def _patches(x: np.ndarray, step, kernel: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The layer's input `x` [C, H, W] as patches in columns, each with a trailing 1 for the bias: [k*k*C + 1,
    positions] in the kernel's (row, column, channel) order, or for a depthwise layer [C, k*k + 1, positions];
    and the output's (height, width). Padded as TensorFlow's SAME convolutions pad."""
    layer, channels = step.layer, x.shape[0]
    (height, top, bottom), (width, left, right) = (_same_padding(size, kernel, layer) for size in x.shape[1:])
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right)))
    patches = np.empty((channels, kernel * kernel + 1, height * width) if step.depthwise
                       else (kernel * kernel * channels + 1, height * width))
    patches[..., -1, :] = 1.0
    for offset in range(kernel * kernel):
        row, column = (offset // kernel) * layer.dilation, (offset % kernel) * layer.dilation
        window = padded[:, row : row + layer.stride * (height - 1) + 1 : layer.stride,
                        column : column + layer.stride * (width - 1) + 1 : layer.stride].reshape(channels, -1)
        if step.depthwise:
            patches[:, offset] = window
        else:
            patches[offset * channels : (offset + 1) * channels] = window
    return patches, (height, width)


def _same_padding(size: int, kernel: int, layer) -> tuple[int, int, int]:
    """Output size and the padding before and after, as TensorFlow's SAME padding computes them."""
    output = -(-size // layer.stride)
    total = max((output - 1) * layer.stride + (kernel - 1) * layer.dilation + 1 - size, 0)
    return output, total // 2, total - total // 2


def _advance(inputs: list[np.ndarray], rows: np.ndarray, step, kernel: int) -> None:
    """Each view's input replaced by the layer's output, one view at a time: the patches are made again, since
    kept for every view they would take gigabytes, and only one view is held twice."""
    for index, x in enumerate(inputs):
        inputs[index] = _layer_output(x, rows, step, kernel)


def _layer_output(x: np.ndarray, rows: np.ndarray, step, kernel: int) -> np.ndarray:
    """The layer with kernel and bias `rows` applied to its input `x` [C, H, W]: [output channels, H', W']."""
    patches, grid = _patches(x, step, kernel)
    output = (rows[:, None, :] @ patches)[:, 0, :] if step.depthwise else rows @ patches
    output = output.reshape(len(rows), *grid)
    return np.clip(output, 0.0, 6.0) if step.relu6 else output


def _rows(conv: ConvWeights, depthwise: bool) -> np.ndarray:
    """Kernel and bias as [output channels, fan-in + 1], in the patches' order."""
    kernel = conv.kernel[:, :, :, 0] if depthwise else conv.kernel
    flat = kernel.reshape(-1, kernel.shape[-1]).T
    return np.concatenate([flat, conv.bias[:, None]], axis=1).astype(np.float64)


def _from_rows(rows: np.ndarray, conv: ConvWeights, depthwise: bool) -> ConvWeights:
    kernel = rows[:, :-1].T.reshape(conv.kernel.shape[:3] if depthwise else conv.kernel.shape)
    if depthwise:
        kernel = kernel[..., None]
    return ConvWeights(kernel.astype(np.float32), rows[:, -1].astype(np.float32))


def _regularised(matrix: np.ndarray, relative: float) -> np.ndarray:
    """`matrix` [G, n, n] plus `relative` times its mean diagonal (1 for an all-zero, dead input)."""
    diagonal = np.mean(np.diagonal(matrix, axis1=1, axis2=2), axis=1)
    diagonal = np.where(diagonal > 0, diagonal, 1.0)
    return matrix + relative * diagonal[:, None, None] * np.eye(matrix.shape[-1])


def _refit(rows: np.ndarray, gram: np.ndarray, cross: np.ndarray) -> np.ndarray:
    """Ridge regression towards the original weights: fed the rounded network's inputs, reproduce the float
    network's output: min |X_r w' - X_f w|^2 + ridge |w' - w|^2."""
    regularised = _regularised(gram, REFIT_RIDGE)
    ridge = regularised - gram
    if len(gram) == 1:  # one input matrix shared by every output channel
        return np.linalg.solve(regularised[0], (cross[0] + ridge[0]) @ rows.T).T
    right = np.einsum("gij,gj->gi", cross + ridge, rows)
    return np.linalg.solve(regularised, right[..., None])[..., 0]


def _round_rows(rows: np.ndarray, gram: np.ndarray, scales: np.ndarray, grid: LayerGrid) -> np.ndarray:
    """GPTQ: round the weight columns in order, pushing each rounding error onto the columns after it (the
    last column, the bias, is never rounded and takes what is left)."""
    inverse = np.linalg.inv(_regularised(gram, ROUNDING_DAMPING))
    inverse = (inverse + np.swapaxes(inverse, 1, 2)) / 2
    upper = np.swapaxes(np.linalg.cholesky(inverse), 1, 2)  # U with U^T U = H^-1
    rows = rows.copy()
    for column in range(rows.shape[1] - 1):
        placed = grid.round(rows[:, column], scales)
        error = (rows[:, column] - placed) / upper[:, column, column]
        rows[:, column] = placed
        rows[:, column + 1 :] -= error[:, None] * upper[:, column, column + 1 :]
    return rows


def _dead_channels_to_nearest(placed: np.ndarray, rows: np.ndarray, scales: np.ndarray, grid: LayerGrid) -> np.ndarray:
    """The negligible output channels (NEGLIGIBLE_CHANNEL) with their original bias and their weights rounded to
    nearest, the same on every CPU."""
    magnitudes = np.abs(rows[:, :-1]).max(axis=1)
    dead = magnitudes <= NEGLIGIBLE_CHANNEL * magnitudes.max()
    placed[dead] = rows[dead]
    placed[dead, :-1] = grid.round(rows[dead, :-1], scales[dead, None])
    return placed


def _keep_scale(placed: np.ndarray, original: np.ndarray, scales: np.ndarray, grid: LayerGrid) -> np.ndarray:
    """The converter recomputes each channel's scale from its weights (level_scales): where rounding left no
    weight on an extreme level, put the original largest weight back on its extreme, so the scale and every
    other grid value come out unchanged."""
    recomputed = level_scales(placed[:, :-1], grid.low, grid.high)
    for row in np.flatnonzero(recomputed < scales * (1 - 1e-9)):
        column = int(np.argmax(np.abs(original[row, :-1])))
        placed[row, column] = (grid.high if original[row, column] >= 0 else grid.low) * scales[row]
    return placed


def _reach_both_extremes(placed: np.ndarray, scales: np.ndarray, grid: LayerGrid) -> np.ndarray:
    """If no weight of the layer sits on `low` (or `high`), move the one closest to it there: one weight of the
    layer changes by a few levels, and the whole kernel is then stored without loss (see spans_both_extremes).
    Each row's scale is unchanged: the moved weight still fits its row's levels."""
    levels = np.round(placed[:, :-1] / scales[:, None])
    for extreme, pick in ((grid.low, np.argmin), (grid.high, np.argmax)):
        if not np.any(levels == extreme):
            row, column = np.unravel_index(pick(levels), levels.shape)
            placed[row, column] = extreme * scales[row]
    return placed
