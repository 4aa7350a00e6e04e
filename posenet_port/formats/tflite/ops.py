"""What a TFLite model may use: builtin kernels only (custom and Flex ops could reach TensorFlow's kernels)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from posenet_port.formats.safety import refuse_unknown_ops

TFLITE_OPS = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "LOGISTIC", "QUANTIZE", "DEQUANTIZE", "ADD", "SUB", "MUL", "DIV",
    "MAXIMUM", "MINIMUM", "RELU", "RELU6", "PAD", "PADV2", "RESHAPE", "SQUEEZE", "EXPAND_DIMS",
    "CONCATENATION", "SPLIT", "SLICE", "STRIDED_SLICE", "RESIZE_BILINEAR", "CAST",
})


def check_tflite_ops(op_names: Iterable[str], source: str | Path) -> None:
    refuse_unknown_ops(((op, f"op {index}") for index, op in enumerate(op_names)), TFLITE_OPS, source)
