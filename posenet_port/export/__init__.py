"""Exporters from a frozen PoseNet graph, one module per target format: tflite, tfjs."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportVariant:
    """One quantization of one target format, e.g. TFLite `int8` or tfjs `uint8-mixed`."""

    name: str
    description: str


def variants(*entries: tuple[str, str]) -> dict[str, ExportVariant]:
    return {name: ExportVariant(name, description) for name, description in entries}
