"""Exporters, one module per target format, each with `export(source, recipe, path) -> Path` (see `formats.py`).

A recipe is a converter setting applied to the float weights or to weights first rounded onto the format's grid
(`rounding.py`); an `ExportSource` is what every exporter may read: the model's spec, its weights, the same
weights frozen, and the calibration photos.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..calibration import Calibration
    from ..spec import ModelSpec
    from ..weights import PosenetWeights


@dataclass(frozen=True)
class ExportVariant:
    """One converter setting of one target format, e.g. TFLite `int8` or tfjs `uint8-mixed`."""

    name: str
    description: str


def variants(*entries: tuple[str, str]) -> dict[str, ExportVariant]:
    return {name: ExportVariant(name, description) for name, description in entries}


@dataclass(frozen=True)
class Recipe:
    """What rebuild can emit for a format: a converter variant, on the float weights or on weights rounded onto
    `grid` first; `weight_class` names the floor its checks must clear (checks.FLOORS)."""

    name: str
    variant: str
    grid: str | None
    weight_class: str
    description: str


@dataclass(frozen=True)
class ExportSource:
    """The network one recipe converts: float, or with its weights on the recipe's grid.

    `input_size` is the size fixed-input formats are exported at; `int8_io` asks int8 models for int8 inputs
    and outputs where the format has them."""

    spec: ModelSpec
    weights: PosenetWeights
    frozen_graph: Path
    calibration: Calibration
    input_size: int
    int8_io: bool = False
