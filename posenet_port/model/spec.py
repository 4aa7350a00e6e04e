"""What a model is, decided once: `rebuild` makes a `ModelSpec`, passes it to every exporter and check and writes
it into each manifest entry; the estimator, demo, benchmark and web page read it back instead of re-deriving
the output stride, input size or node names. Role detection (`formats/roles.py`) is for foreign models only."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from posenet_port.errors import ModelFileError
from posenet_port.model.architecture import HEAD_NAMES, ArchitectureConfig, check_input_size

INPUT_NAME = "image"
OUTPUT_NAMES = ("heatmap", *HEAD_NAMES)
# The raw heads in the order posenet 2.x reads a graph model's outputs (by position).
POSENET_HEAD_ORDER = ("offset_2", "heatmap_2", "displacement_fwd_2", "displacement_bwd_2")
# posenet 2.x MobileNetV1's input: RGB scaled to [-1, 1] (preprocess.py does it with tfjs' arithmetic).
NORMALISATION = "rgb / 127.5 - 1"
# posenet 2.x's default inputResolution: the size a dynamic-input model is run at unless told otherwise.
DEFAULT_INPUT_SIZE = 257


@dataclass(frozen=True)
class ModelSpec:
    """A PoseNet model: architecture, input and the names of its nodes, and what file holds it.

    `input_size` is the one size a fixed-input model takes (TFLite), None when height and width are dynamic.
    `outputs` maps the canonical output names to the model's own tensor names.
    """

    multiplier: float
    output_stride: int
    input_size: int | None = None
    format: str = "frozen-graph"
    variant: str = "float32"
    input_name: str = INPUT_NAME
    outputs: Mapping[str, str] = field(default_factory=lambda: {name: name for name in OUTPUT_NAMES})
    normalisation: str = NORMALISATION

    def __post_init__(self) -> None:
        ArchitectureConfig(self.multiplier, self.output_stride)  # raises ConfigError naming what is wrong
        if self.input_size is not None:
            check_input_size(self.input_size, self.output_stride)

    @property
    def config(self) -> ArchitectureConfig:
        return ArchitectureConfig(self.multiplier, self.output_stride)

    @property
    def name(self) -> str:
        return self.config.name

    def head_nodes(self) -> list[str]:
        """The model's own names of the four raw heads, in posenet 2.x's order."""
        return [self.outputs[name] for name in POSENET_HEAD_ORDER]

    def exported(self, format: str, variant: str, input_size: int | None) -> ModelSpec:
        """This model as written by one exporter: the same network, its format, variant and input size."""
        return replace(self, format=format, variant=variant, input_size=input_size)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "outputs": dict(self.outputs)}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any], source: str | Path = "manifest") -> ModelSpec:
        try:
            return cls(**{**record, "outputs": dict(record["outputs"])})
        except (TypeError, KeyError, ValueError) as error:
            raise ModelFileError(f"{source}: not a model spec posenet_port wrote ({error})") from None


def canonical_output_name(name: str) -> str | None:
    """`MobilenetV1/offset_2/BiasAdd:0` -> `offset_2`; None for tensors that are not PoseNet outputs."""
    node = name.split(":")[0]
    for head in HEAD_NAMES:
        if head in node.split("/"):
            return head
    return "heatmap" if node.split("/")[-1] == "heatmap" else None
