"""Canonical weights -> a TF2 PoseNet model whose graph carries the canonical node names.

Input `image` ([1, H, W, 3] float32, already scaled to [-1, 1]); outputs `heatmap` (sigmoid scores),
`heatmap_2` (logits), `offset_2`, `displacement_fwd_2`, `displacement_bwd_2`. Weights are embedded as
constants named like the TF1 checkpoints (`MobilenetV1/Conv2d_0/weights`), so freezing needs no variables.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import tensorflow as tf

from posenet_port.model.architecture import DEFAULT_OUTPUT_STRIDE, ArchitectureConfig, ConvStep, LayerSpec, conv_steps
from posenet_port.model.spec import INPUT_NAME
from posenet_port.model.weights import SCOPE, ConvWeights, PosenetWeights


def image_spec(height: int | None = None, width: int | None = None) -> tf.TensorSpec:
    return tf.TensorSpec([1, height, width, 3], tf.float32, name=INPUT_NAME)


class PosenetModel:
    """PoseNet MobileNetV1 on any [1, H, W, 3] input (valid sizes: k * output_stride + 1)."""

    def __init__(self, weights: PosenetWeights, output_stride: int = DEFAULT_OUTPUT_STRIDE) -> None:
        self.weights = weights
        self.config = ArchitectureConfig(weights.multiplier, output_stride)
        self.serve = tf.function(self._forward, input_signature=[image_spec()], autograph=False)

    def concrete_function(self, height: int | None = None, width: int | None = None):
        """The traced graph, with a dynamic or a fixed input size (TFLite needs a fixed one)."""
        if height is None and width is None:
            return self.serve.get_concrete_function()
        return tf.function(self._forward, autograph=False).get_concrete_function(image_spec(height, width))

    def __call__(self, image: np.ndarray | tf.Tensor) -> dict[str, np.ndarray]:
        """Run eagerly on a preprocessed [1, H, W, 3] batch; returns numpy arrays by output name."""
        outputs = self.serve(tf.convert_to_tensor(image, tf.float32))
        return {name: tensor.numpy() for name, tensor in outputs.items()}

    def _forward(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        return posenet_forward(image, self.weights, self.config)


def apply_conv(x: tf.Tensor, conv: ConvWeights, step: ConvStep) -> tf.Tensor:
    if step.depthwise:
        return _depthwise(x, step.scope, conv, step.layer)
    return _conv(x, step.scope, conv, step.layer, step.relu6)


def posenet_forward(image: tf.Tensor, weights: PosenetWeights, config: ArchitectureConfig) -> dict[str, tf.Tensor]:
    steps = conv_steps(config)
    heads = {}
    with tf.name_scope(SCOPE):
        features = image
        for conv, step in zip(weights.convs(), steps):
            if step.is_head:
                heads[step.scope] = apply_conv(features, conv, step)
            else:
                features = apply_conv(features, conv, step)
    return name_outputs(heads)


def name_outputs(heads: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    outputs = {"heatmap": tf.sigmoid(heads["heatmap_2"], name="heatmap")}
    outputs.update({name: tf.identity(tensor, name=name) for name, tensor in heads.items()})
    return outputs


def _conv(x: tf.Tensor, scope: str, conv: ConvWeights, layer: LayerSpec, relu6: bool) -> tf.Tensor:
    with tf.name_scope(scope):
        kernel = tf.constant(conv.kernel, name="weights")
        x = tf.nn.conv2d(x, kernel, layer.stride, "SAME", dilations=layer.dilation, name="Conv2D")
        return _bias_and_activation(x, conv, relu6)


def _depthwise(x: tf.Tensor, scope: str, conv: ConvWeights, layer: LayerSpec) -> tf.Tensor:
    with tf.name_scope(scope):
        kernel = tf.constant(conv.kernel, name="depthwise_weights")
        strides = [1, layer.stride, layer.stride, 1]
        dilations = [layer.dilation, layer.dilation]
        x = tf.nn.depthwise_conv2d(x, kernel, strides, "SAME", dilations=dilations, name="depthwise")
        return _bias_and_activation(x, conv, relu6=True)


def _bias_and_activation(x: tf.Tensor, conv: ConvWeights, relu6: bool) -> tf.Tensor:
    x = tf.nn.bias_add(x, tf.constant(conv.bias, name="biases"), name="BiasAdd")
    return tf.nn.relu6(x, name="Relu6") if relu6 else x


def build_model(weights: PosenetWeights, output_stride: int = DEFAULT_OUTPUT_STRIDE) -> PosenetModel:
    return PosenetModel(weights, output_stride)
