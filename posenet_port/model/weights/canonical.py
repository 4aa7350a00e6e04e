"""The canonical weights: conv0, 13 depthwise-separable blocks and the four `_2` heads, shapes checked.

Variable names follow the tfjs-models checkpoints (`MobilenetV1/Conv2d_1_depthwise/depthwise_weights`), so the
reconstructed graph names its constants as the TF1 frozen graphs users know.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, NoReturn, Sequence

import numpy as np

from posenet_port.errors import WeightsError
from posenet_port.model.architecture import CONV0_CHANNELS_TO_MULTIPLIER, HEAD_CHANNELS, HEAD_NAMES, NUM_BLOCKS

SCOPE = "MobilenetV1"


@dataclass(frozen=True)
class ConvWeights:
    kernel: np.ndarray  # HWIO; depthwise kernels are [3, 3, C, 1]
    bias: np.ndarray


@dataclass(frozen=True)
class BlockWeights:
    depthwise: ConvWeights
    pointwise: ConvWeights


@dataclass(frozen=True)
class PosenetWeights:
    """conv0, 13 depthwise-separable blocks and the four `_2` heads, all float32, shapes checked."""

    conv0: ConvWeights
    blocks: tuple[BlockWeights, ...]
    heads: Mapping[str, ConvWeights]
    source: str = "<memory>"
    format: str = "arrays"
    checksums: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_structure(self)

    @property
    def multiplier(self) -> float:
        return CONV0_CHANNELS_TO_MULTIPLIER[self.conv0.kernel.shape[-1]]

    @property
    def widths(self) -> tuple[int, ...]:
        """Output channels of conv0 and of each block."""
        return (self.conv0.kernel.shape[-1],) + tuple(b.pointwise.kernel.shape[-1] for b in self.blocks)

    def convs(self) -> list[ConvWeights]:
        """Every convolution in network order, matching `conv_scopes()`."""
        inner = [conv for block in self.blocks for conv in (block.depthwise, block.pointwise)]
        return [self.conv0, *inner, *(self.heads[head] for head in HEAD_NAMES)]

    def named_convs(self) -> Iterable[tuple[str, str, ConvWeights]]:
        """(variable scope, kernel variable name, weights) for every convolution, in network order."""
        return ((scope, kernel, conv) for (scope, kernel), conv in zip(conv_scopes(), self.convs()))

    def variables(self) -> dict[str, np.ndarray]:
        """The weights under their tfjs-models checkpoint variable names, in network order."""
        named: dict[str, np.ndarray] = {}
        for scope, kernel_name, conv in self.named_convs():
            named[f"{SCOPE}/{scope}/{kernel_name}"] = conv.kernel
            named[f"{SCOPE}/{scope}/biases"] = conv.bias
        return named

    @classmethod
    def from_convs(cls, convs: Sequence[ConvWeights], **info: Any) -> PosenetWeights:
        """Build from convolutions in network order (conv0, 13 x depthwise + pointwise, the 4 heads)."""
        if len(convs) != len(conv_scopes()):
            raise WeightsError(f"{info.get('source', 'weights')}: {len(convs)} convolutions, PoseNet has {len(conv_scopes())}")
        blocks = tuple(BlockWeights(convs[i], convs[i + 1]) for i in range(1, 1 + 2 * NUM_BLOCKS, 2))
        heads = dict(zip(HEAD_NAMES, convs[1 + 2 * NUM_BLOCKS :]))
        return cls(convs[0], blocks, heads, **info)

    @classmethod
    def from_variables(cls, variables: Mapping[str, np.ndarray], **info: Any) -> PosenetWeights:
        """Build from checkpoint variable names (see `variable_names()`); extra variables are ignored."""
        missing = [name for name in variable_names() if name not in variables]
        if missing:
            raise WeightsError(
                f"{info.get('source', 'weights')}: missing {len(missing)} PoseNet variable(s), "
                f"first {', '.join(missing[:3])}"
            )
        convs = [
            ConvWeights(variables[f"{SCOPE}/{scope}/{kernel}"], variables[f"{SCOPE}/{scope}/biases"])
            for scope, kernel in conv_scopes()
        ]
        return cls.from_convs(convs, **info)


def conv_scopes() -> list[tuple[str, str]]:
    """(variable scope, kernel variable name) of every convolution, in network order."""
    scopes = [("Conv2d_0", "weights")]
    for index in range(1, NUM_BLOCKS + 1):
        scopes += [(f"Conv2d_{index}_depthwise", "depthwise_weights"), (f"Conv2d_{index}_pointwise", "weights")]
    return scopes + [(head, "weights") for head in HEAD_NAMES]


def variable_names() -> list[str]:
    """Every variable PoseNet uses, with its tfjs-models checkpoint name, in network order."""
    return [f"{SCOPE}/{scope}/{name}" for scope, kernel in conv_scopes() for name in (kernel, "biases")]


def _check_structure(weights: PosenetWeights) -> None:
    """Shapes must chain into a PoseNet MobileNetV1; a wrong shape names the layer and both shapes."""

    def fail(what: str) -> NoReturn:
        raise WeightsError(f"{weights.source}: {what}")

    def expect(label: str, array: np.ndarray, shape: tuple[int, ...]) -> None:
        if tuple(array.shape) != shape:
            fail(f"{label} has shape {list(array.shape)}, expected {list(shape)}")
        if array.dtype != np.float32:
            fail(f"{label} has dtype {array.dtype}, expected float32")

    if len(weights.blocks) != NUM_BLOCKS:
        fail(f"{len(weights.blocks)} separable blocks, PoseNet MobileNetV1 has {NUM_BLOCKS}")
    kernel = weights.conv0.kernel
    if kernel.ndim != 4 or kernel.shape[-1] not in CONV0_CHANNELS_TO_MULTIPLIER:
        known = ", ".join(f"{c} (multiplier {m:.2f})" for c, m in CONV0_CHANNELS_TO_MULTIPLIER.items())
        fail(f"Conv2d_0 kernel has shape {list(kernel.shape)}: its output channels must be one of {known}")
    channels = kernel.shape[-1]
    expect("Conv2d_0 kernel", kernel, (3, 3, 3, channels))
    expect("Conv2d_0 bias", weights.conv0.bias, (channels,))
    for index, block in enumerate(weights.blocks, start=1):
        expect(f"Conv2d_{index}_depthwise kernel", block.depthwise.kernel, (3, 3, channels, 1))
        expect(f"Conv2d_{index}_depthwise bias", block.depthwise.bias, (channels,))
        out = block.pointwise.kernel.shape[-1] if block.pointwise.kernel.ndim == 4 else -1
        expect(f"Conv2d_{index}_pointwise kernel", block.pointwise.kernel, (1, 1, channels, out))
        expect(f"Conv2d_{index}_pointwise bias", block.pointwise.bias, (out,))
        channels = out
    for head, head_channels in HEAD_CHANNELS.items():
        if head not in weights.heads:
            fail(f"head {head} is missing")
        expect(f"{head} kernel", weights.heads[head].kernel, (1, 1, channels, head_channels))
        expect(f"{head} bias", weights.heads[head].bias, (head_channels,))


def check_finite(weights: PosenetWeights) -> None:
    """NaN or Inf weights make every output NaN: refuse them, naming the first bad tensor."""
    for name, array in weights.variables().items():
        if not np.isfinite(array).all():
            bad = int(np.size(array) - np.isfinite(array).sum())
            raise WeightsError(
                f"{weights.source}: {name} holds {bad} NaN or Inf value(s); "
                "pass allow_non_finite=True (--allow-non-finite) to load it anyway"
            )
