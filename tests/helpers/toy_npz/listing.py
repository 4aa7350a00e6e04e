"""The toy format's lister: the .npz's convolutions as nodes, shapes from the strides of its spec, every op
checked against the format's allow-list as a real lister does."""
from __future__ import annotations

import math
from pathlib import Path

from helpers.toy_npz import ALLOWED_OPS
from helpers.toy_npz.runner import read_npz
from posenet_port.formats.listing import ModelListing, Node, TensorInfo
from posenet_port.formats.safety import refuse_unknown_ops
from posenet_port.model.architecture import layer_specs
from posenet_port.model.weights import PosenetWeights


def claims(path: Path, head: bytes) -> bool:
    return path.name.endswith(".toy.npz")


def read(path: Path, probe_size: int) -> ModelListing:
    variables, spec = read_npz(path)
    weights = PosenetWeights.from_variables(variables)
    strides = iter(layer.stride for layer in layer_specs(spec.multiplier, spec.output_stride))  # conv0, depthwise
    size = spec.input_size or probe_size
    nodes = [Node(0, "image", "Placeholder", (), (TensorInfo((1, size, size, 3), "float32"),))]
    backbone = nodes[0]
    for scope, kernel_name, conv in weights.named_convs():
        depthwise = kernel_name == "depthwise_weights"
        stride = next(strides) if depthwise or scope == "Conv2d_0" else 1
        height = math.ceil(backbone.height / stride)
        channels = conv.kernel.shape[2] if depthwise else conv.kernel.shape[3]
        node = Node(len(nodes), scope, "DepthwiseConv2dNative" if depthwise else "Conv2D", (backbone.name,),
                    (TensorInfo((1, height, height, channels), "float32"),))
        nodes.append(node)
        if scope.startswith("Conv2d_"):
            backbone = node
    refuse_unknown_ops(((node.op, node.name) for node in nodes), ALLOWED_OPS, path)
    return ModelListing(path, "toy .npz", nodes, None if spec.input_size else probe_size)
