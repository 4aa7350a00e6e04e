"""What an OpenVINO IR may use: the ops of PoseNet's arithmetic (no extension library is ever loaded)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from posenet_port.formats.safety import refuse_unknown_ops

OPENVINO_OPS = frozenset({
    "Parameter", "Result", "Constant", "Convolution", "GroupConvolution", "Add", "Subtract", "Multiply", "Divide",
    "Maximum", "Minimum", "Clamp", "Relu", "Sigmoid", "Transpose", "Convert", "FakeQuantize", "Reshape", "Pad",
    "Squeeze", "Unsqueeze", "Concat", "Split", "StridedSlice", "Interpolate", "ShapeOf", "Gather",
})


def check_openvino_ops(ops: Iterable[tuple[str, str]], source: str | Path) -> None:
    refuse_unknown_ops(ops, OPENVINO_OPS, source)
