"""PoseNet with the arithmetic of a full-integer int8 model simulated in TensorFlow, to fine-tune it (issue 26).

The forward pass is the float graph's (tf_graph.py) with every rounding of an int8 TFLite model made visible:
fake-quantization nodes that round values to the int8 grid and pass gradients straight through, so training can
teach the network to tolerate them. The conventions are the ones LiteRT's integer kernels use, so that a model
converted from this graph computes what training saw (tests/e2e/test_int8_simulation.py measures it: each layer
fed LiteRT's own int8 input gives LiteRT's output within one step):

- **input**: range [-128/127, 1], scale 1/127 and zero point 0. Pixels arrive as k / 127.5 - 1; with posenet's
  natural scale (2/255) every one of them falls exactly halfway between two int8 values, where TensorFlow's
  fake-quantization rounds up and TFLite's quantize op away from zero, so the two disagreed on half the pixels.
- **weights**: symmetric int8 per output channel, narrow range [-127, 127] (TFLite's int8 convolutions), scale
  max|w| / 127; `FakeQuantWithMinMaxVarsPerChannel`, which the converter reads.
- **biases**: on the int32 grid of input scale x weight scale, as TFLite stores them.
- **dead channels**: 17 output channels of the shipped weights have a kernel under 1e-4 and a negative bias, so
  ReLU6 makes them 0. Over so small a weight scale the bias overflows int32, and LiteRT then computed another
  value; they are made exactly 0 (kernel and bias 0), which changes no float output.
- **activations**: one range per tensor after ReLU6 (and after each head), trainable: `FakeQuantWithMinMaxVars`,
  whose gradients also move the range.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Container, Iterable, Sequence

import numpy as np
import tensorflow as tf

from posenet_port._util.fileio import read_bounded, write_bytes_atomic
from posenet_port.errors import WeightsError
from posenet_port.model.architecture import DEFAULT_OUTPUT_STRIDE, ArchitectureConfig, ConvStep, conv_steps
from posenet_port.model.tf_graph import PosenetModel, name_outputs
from posenet_port.model.weights import SCOPE, ConvWeights, PosenetWeights

INPUT_RANGE = (-128 / 127, 1.0)  # scale 1/127, zero point 0: no pixel value on a rounding tie
WEIGHT_BITS = 8
DEAD_KERNEL = 1e-4  # a channel whose kernel is below this everywhere computes its bias alone
INT32 = 2.0**31 - 1


def fake_quantized_kernel(kernel: tf.Tensor, depthwise: bool) -> tf.Tensor:
    """The kernel rounded to symmetric int8 per output channel (narrow range), gradients straight through."""
    if depthwise:  # [3, 3, C, 1]: the channel is the third axis; the per-channel op wants it last
        kernel = tf.transpose(kernel, [0, 1, 3, 2])
    bound = tf.stop_gradient(tf.reduce_max(tf.abs(kernel), axis=[0, 1, 2]) + 1e-12)
    rounded = tf.quantization.fake_quant_with_min_max_vars_per_channel(kernel, -bound, bound, WEIGHT_BITS,
                                                                         narrow_range=True)
    return tf.transpose(rounded, [0, 1, 3, 2]) if depthwise else rounded


def kernel_scales(kernel: tf.Tensor, depthwise: bool) -> tf.Tensor:
    """Per output channel: the int8 weight scale max|w| / 127."""
    axis = [0, 1, 3] if depthwise else [0, 1, 2]
    return tf.reduce_max(tf.abs(kernel), axis=axis) / 127 + 1e-30


def quantized_bias(bias: tf.Tensor, input_scale: tf.Tensor, weight_scales: tf.Tensor) -> tf.Tensor:
    """The bias on TFLite's int32 grid (input scale x weight scale), gradients straight through."""
    grid = tf.stop_gradient(input_scale * weight_scales)
    steps = tf.clip_by_value(tf.round(bias / grid), -INT32, INT32)
    return bias + tf.stop_gradient(steps * grid - bias)


def without_dead_channels(weights: PosenetWeights) -> PosenetWeights:
    """The weights with every dead channel (kernel < DEAD_KERNEL, negative bias, ReLU6 after) set exactly to 0."""
    convs = []
    for conv, step in zip(weights.convs(), conv_steps(ArchitectureConfig(weights.multiplier, DEFAULT_OUTPUT_STRIDE))):
        kernel, bias = conv.kernel.copy(), conv.bias.copy()
        channels = np.moveaxis(kernel, 2 if step.depthwise else 3, 0)  # a view: writing it writes the kernel
        dead = (np.abs(channels).reshape(len(channels), -1).max(axis=1) < DEAD_KERNEL) & (bias < 0) & step.relu6
        channels[dead], bias[dead] = 0, 0
        convs.append(ConvWeights(kernel, bias))
    return PosenetWeights.from_convs(convs, source=weights.source, format=weights.format)


class SimulatedInt8(PosenetModel):
    """PoseNet whose every rounding is that of a full-integer int8 model; kernels, biases and activation ranges
    are tf.Variables (`trainable_variables`). Freezing it (freeze.py) gives a graph with the fake-quantization
    nodes TFLite's converter reads as the int8 model's scales."""

    def __init__(self, weights: PosenetWeights, output_stride: int = DEFAULT_OUTPUT_STRIDE) -> None:
        super().__init__(without_dead_channels(weights), output_stride)
        self.steps = conv_steps(self.config)
        self.kernels = [tf.Variable(c.kernel, name="kernel") for c in self.weights.convs()]
        self.biases = [tf.Variable(c.bias, name="bias") for c in self.weights.convs()]
        self.low = [tf.Variable(0.0, name="low") for _ in self.steps]
        self.high = [tf.Variable(6.0, name="high") for _ in self.steps]

    @property
    def trainable_variables(self) -> list[tf.Variable]:
        return [*self.kernels, *self.biases, *self.low, *self.high]

    def heads(self, image: tf.Tensor, quantize: bool = True, activations: list | None = None,
              rounded: Container[int] | None = None) -> dict[str, tf.Tensor]:
        """The four raw heads; with `quantize=False` the float network on the same variables, and `activations`
        (a list) receives each layer's output before its rounding. `rounded`: the layers whose weights and output
        are rounded (None: all), to find which rounding costs what; layer 0's rounding includes the input's."""
        rounds_input = quantize and (rounded is None or 0 in rounded)
        x = tf.quantization.fake_quant_with_min_max_args(image, *INPUT_RANGE) if rounds_input else image
        input_scale = tf.constant((INPUT_RANGE[1] - INPUT_RANGE[0]) / 255)
        heads = {}
        for index, step in enumerate(self.steps):
            rounding = quantize and (rounded is None or index in rounded)
            y = self._layer(x, index, step, input_scale if rounding else None)
            if activations is not None:
                activations.append(y)
            if rounding:
                y = tf.quantization.fake_quant_with_min_max_vars(y, self.low[index], self.high[index], 8)
            if step.is_head:
                heads[step.scope] = y
            else:
                x, input_scale = y, (self.high[index] - self.low[index]) / 255
        return heads

    def _layer(self, x: tf.Tensor, index: int, step: ConvStep, input_scale: tf.Tensor | None) -> tf.Tensor:
        kernel, bias = self.kernels[index], self.biases[index]
        if input_scale is not None:
            bias = quantized_bias(bias, input_scale, tf.stop_gradient(kernel_scales(kernel, step.depthwise)))
            kernel = fake_quantized_kernel(kernel, step.depthwise)
        layer = step.layer
        if step.depthwise:
            y = tf.nn.depthwise_conv2d(x, kernel, [1, layer.stride, layer.stride, 1], "SAME",
                                       dilations=[layer.dilation] * 2)
        else:
            y = tf.nn.conv2d(x, kernel, layer.stride, "SAME", dilations=layer.dilation)
        y = tf.nn.bias_add(y, bias)
        return tf.nn.relu6(y) if step.relu6 else y

    def _forward(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        with tf.name_scope(SCOPE):
            heads = self.heads(image)
        return name_outputs(heads)

    def calibrate(self, batches: Iterable[np.ndarray]) -> None:
        """Each range as post-training quantization sets it: min and max over the batches (0 always inside)."""
        lows, highs = np.full(len(self.steps), np.inf), np.full(len(self.steps), -np.inf)
        for batch in batches:
            activations: list = []
            self.heads(tf.constant(batch), quantize=False, activations=activations)
            lows = np.minimum(lows, [float(tf.reduce_min(a)) for a in activations])
            highs = np.maximum(highs, [float(tf.reduce_max(a)) for a in activations])
        for variable, value in zip(self.low, np.minimum(lows, 0.0)):
            variable.assign(value)
        for variable, value in zip(self.high, np.maximum(highs, 0.0)):
            variable.assign(value)

    def float_weights(self) -> PosenetWeights:
        """The (fine-tuned) kernels and biases as canonical weights, in float."""
        convs = [ConvWeights(k.numpy(), b.numpy()) for k, b in zip(self.kernels, self.biases)]
        return PosenetWeights.from_convs(convs, source=self.weights.source, format=self.weights.format)

    def ranges(self) -> Sequence[tuple[float, float]]:
        return [(float(low.numpy()), float(high.numpy())) for low, high in zip(self.low, self.high)]

    def to_bytes(self) -> bytes:
        """Kernels, biases and activation ranges as an .npz (numpy arrays only: read without pickle)."""
        arrays = {f"kernel_{i:02d}": k.numpy() for i, k in enumerate(self.kernels)}
        arrays |= {f"bias_{i:02d}": b.numpy() for i, b in enumerate(self.biases)}
        arrays |= {"low": np.array([v.numpy() for v in self.low], np.float32),
                   "high": np.array([v.numpy() for v in self.high], np.float32)}
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    def save(self, path: str | Path) -> Path:
        return write_bytes_atomic(path, self.to_bytes())

    @classmethod
    def load(cls, path: str | Path, output_stride: int = DEFAULT_OUTPUT_STRIDE) -> SimulatedInt8:
        """A simulation saved by `save`; its kernels' shapes must be PoseNet's, its ranges one per layer."""
        data = read_bounded(Path(path), WeightsError, "fine-tuned int8 weights")
        try:
            _check_stored_members(data, path)
            with np.load(io.BytesIO(data), allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            raise WeightsError(f"{path}: not fine-tuned int8 weights ({error}); write them with "
                               "`python -m posenet_port.finetune`") from None
        count = sum(name.startswith("kernel_") for name in arrays)
        expected = {f"{kind}_{i:02d}" for kind in ("kernel", "bias") for i in range(count)} | {"low", "high"}
        if set(arrays) != expected:
            raise WeightsError(f"{path}: holds {sorted(set(arrays) ^ expected)[:4]} where fine-tuned int8 weights "
                               "hold kernel_NN, bias_NN, low and high")
        convs = [ConvWeights(arrays[f"kernel_{i:02d}"].astype(np.float32), arrays[f"bias_{i:02d}"].astype(np.float32))
                 for i in range(count)]
        model = cls(PosenetWeights.from_convs(convs, source=str(path), format="fine-tuned int8"), output_stride)
        for name, variables in (("low", model.low), ("high", model.high)):
            values = arrays[name]
            if values.shape != (len(variables),) or not np.all(np.isfinite(values)):
                raise WeightsError(f"{path}: {name} holds {values.shape} values, where {len(variables)} finite ones "
                                   "(one per layer) belong")
            for variable, value in zip(variables, values):
                variable.assign(float(value))
        return model


def _check_stored_members(data: bytes, path: str | Path) -> None:
    """`save` stores every array uncompressed: a compressed member (a zip bomb states gigabytes in a few bytes)
    or one larger than the file is refused before numpy allocates what its header claims."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.infolist():
            if member.compress_type != zipfile.ZIP_STORED or member.file_size > len(data):
                raise WeightsError(f"{path}: member {member.filename!r} is compressed or larger than the file; "
                                   "fine-tuned int8 weights are stored uncompressed (`python -m posenet_port.finetune`)")
