"""The registry of formats: each is an exporter module (`export(source, recipe, path) -> Path`) and a runner
module (`open_runner(path, threads, spec) -> runners.Runner`), the recipes rebuild offers for it, and where its
files go. Everything that exports, runs, checks, times or picks models goes through this table, so a new format
is two modules and one `register(Format(...))` line.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .errors import ModelFileError
from .export import ExportSource, Recipe
from .runners import Runner
from .spec import ModelSpec


def recipes(*entries: Recipe) -> dict[str, Recipe]:
    return {recipe.name: recipe for recipe in entries}


@dataclass(frozen=True)
class Format:
    """One model format. `file_name` is where rebuild writes a recipe, relative to its folder, from `{stem}`,
    `{size}` and `{recipe}`; a `/` in it means the model is a folder of files (tfjs, OpenVINO). A fixed-input
    format is exported at one size; a format that is not `in_process` runs in another process (tfjs in node),
    so it is neither timed beside the others nor picked by the demo."""

    name: str
    title: str
    runner: str
    exporter: str | None = None
    recipes: Mapping[str, Recipe] = field(default_factory=dict)
    file_name: str = ""
    suffixes: tuple[str, ...] = ()
    fixed_input: bool = False
    in_process: bool = True

    @property
    def bundle(self) -> bool:
        return "/" in self.file_name

    def target(self, out_dir: Path, stem: str, recipe: str, size: int) -> Path:
        return Path(out_dir) / self.file_name.format(stem=stem, recipe=recipe, size=size)

    def export(self, source: ExportSource, recipe: Recipe, path: Path) -> Path:
        if self.exporter is None:
            raise ValueError(f"{self.title} models are read, not written, by posenet_port")
        return importlib.import_module(self.exporter).export(source, recipe, path)

    def open(self, path: str | Path, threads: int = 2, spec: ModelSpec | None = None) -> Runner:
        return importlib.import_module(self.runner).open_runner(Path(path), threads, spec)


FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    FORMATS[fmt.name] = fmt
    return fmt


def export_formats() -> dict[str, Format]:
    """The formats rebuild can write, in registry order."""
    return {name: fmt for name, fmt in FORMATS.items() if fmt.exporter}


def detect_format(path: str | Path) -> Format | None:
    """The format of a model file by its name (a SavedModel by its folder); None when no format claims it."""
    path = Path(path)
    if path.is_dir():
        return FORMATS["savedmodel"] if (path / "saved_model.pb").is_file() else None
    return next((fmt for fmt in FORMATS.values() if path.suffix.lower() in fmt.suffixes), None)


def open_model(path: str | Path, threads: int = 2, spec: ModelSpec | None = None) -> Runner:
    """A runner for a model file of any registered format; `spec` (from the manifest) names its nodes."""
    fmt = FORMATS.get(spec.format) if spec is not None else detect_format(path)
    if fmt is None:
        known = ", ".join(s for f in FORMATS.values() for s in f.suffixes)
        raise ModelFileError(f"{path}: not a model file this tool runs ({known}, or a SavedModel folder)")
    return fmt.open(path, threads, spec)


GPTQ = "placed on the grid by GPTQ, not rounded to nearest"
FLOAT_RECIPES = (
    Recipe("float32", "float32", None, "float32", "float32 weights and activations"),
    Recipe("float16", "float16", None, "2-byte", "float16 weights, rounded to nearest"),
    Recipe("float16-gptq", "float16", "float16", "2-byte", f"float16 weights {GPTQ}"),
)
INT8_RECIPES = (
    Recipe("int8", "int8", None, "1-byte", "int8 weights (nearest) and activations, calibrated on real photos"),
    Recipe("int8-gptq", "int8", "int8", "1-byte", f"int8 weights {GPTQ}, int8 activations"),
)

register(Format("frozen-graph", "frozen graph", "posenet_port.runners.graph", suffixes=(".pb",)))
register(Format("savedmodel", "SavedModel", "posenet_port.runners.graph"))
register(Format(
    "tflite", "TFLite", "posenet_port.runners.tflite", "posenet_port.export.tflite",
    recipes(
        *FLOAT_RECIPES,
        Recipe("dynamic-range", "dynamic-range", None, "1-byte", "int8 weights (nearest), float activations"),
        Recipe("dynamic-range-gptq", "dynamic-range", "int8", "1-byte", f"int8 weights {GPTQ}, float activations"),
        *INT8_RECIPES,
    ),
    "{stem}_{size}_{recipe}.tflite", (".tflite",), fixed_input=True,
))
register(Format(
    "tfjs", "tfjs", "posenet_port.runners.tfjs", "posenet_port.export.tfjs",
    recipes(
        Recipe("float32", "float32", None, "float32", "float32 weights"),
        *FLOAT_RECIPES[1:],
        Recipe("uint16", "uint16", None, "2-byte", "uint16 affine-quantized weights"),
        Recipe("uint8-mixed", "uint8-mixed", None, "1-byte",
               "per-channel-normalised uint8 1x1 kernels (nearest), float16 depthwise kernels and conv0"),
        Recipe("uint8-mixed-gptq", "uint8-mixed", "uint8-mixed", "1-byte",
               f"per-channel-normalised uint8 1x1 kernels and float16 depthwise kernels and conv0, {GPTQ}"),
    ),
    "{stem}_tfjs_{recipe}/model.json", in_process=False,
))
register(Format(
    "onnx", "ONNX", "posenet_port.runners.onnx", "posenet_port.export.onnx",
    recipes(*FLOAT_RECIPES, *INT8_RECIPES), "{stem}_{recipe}.onnx", (".onnx",),
))
register(Format(
    "openvino", "OpenVINO", "posenet_port.runners.openvino", "posenet_port.export.openvino",
    recipes(*FLOAT_RECIPES, *INT8_RECIPES), "{stem}_openvino_{recipe}/{stem}.xml", (".xml",),
))
