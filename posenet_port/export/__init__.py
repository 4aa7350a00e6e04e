"""Exporters from a frozen PoseNet graph, one module per target format (tflite, tfjs), and the recipes rebuild
offers for each: a converter setting, applied to the float weights or to weights first rounded onto the
format's grid (`rounding.py`)."""
from __future__ import annotations

from dataclasses import dataclass


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


def source_graph_name(grid: str | None) -> str:
    """The manifest name of the frozen graph a recipe converts: the float one, or the one rounded onto `grid`."""
    return "frozen-graph" if grid is None else f"frozen-graph-{grid}-grid"


def recipes(*entries: Recipe) -> dict[str, Recipe]:
    return {recipe.name: recipe for recipe in entries}


GPTQ = "placed on the grid by GPTQ, not rounded to nearest"
TFLITE_RECIPES = recipes(
    Recipe("float32", "float32", None, "float32", "float32 weights and activations"),
    Recipe("float16", "float16", None, "2-byte", "float16 weights, rounded to nearest"),
    Recipe("float16-gptq", "float16", "float16", "2-byte", f"float16 weights {GPTQ}"),
    Recipe("dynamic-range", "dynamic-range", None, "1-byte", "int8 weights (nearest), float activations"),
    Recipe("dynamic-range-gptq", "dynamic-range", "int8", "1-byte", f"int8 weights {GPTQ}, float activations"),
    Recipe("int8", "int8", None, "1-byte", "int8 weights (nearest) and activations, calibrated on real photos"),
    Recipe("int8-gptq", "int8", "int8", "1-byte", f"int8 weights {GPTQ}, int8 activations"),
)
TFJS_RECIPES = recipes(
    Recipe("float32", "float32", None, "float32", "float32 weights"),
    Recipe("float16", "float16", None, "2-byte", "float16 weights, rounded to nearest"),
    Recipe("float16-gptq", "float16", "float16", "2-byte", f"float16 weights {GPTQ}"),
    Recipe("uint16", "uint16", None, "2-byte", "uint16 affine-quantized weights"),
    Recipe("uint8-mixed", "uint8-mixed", None, "1-byte",
           "per-channel-normalised uint8 1x1 kernels (nearest), float16 depthwise kernels and conv0"),
    Recipe("uint8-mixed-gptq", "uint8-mixed", "uint8-mixed", "1-byte",
           f"per-channel-normalised uint8 1x1 kernels and float16 depthwise kernels and conv0, {GPTQ}"),
)
RECIPES = {"tflite": TFLITE_RECIPES, "tfjs": TFJS_RECIPES}
