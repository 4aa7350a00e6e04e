"""What a format is: a `Format` names the modules of its folder (exporter, runner, lister), the recipes rebuild
offers for it, its op allow-list and where its files go. Each format's folder declares its `Format` in its
`__init__.py`; `registry.py` registers them, one line each.

A recipe is a converter variant applied to the float weights or to weights first rounded onto the format's grid
(`model/rounding.py`); an `ExportSource` is what every exporter may read: the model's spec, its weights, the same
weights frozen, and the calibration photos.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Protocol

from posenet_port.errors import ModelFileError, reading
from posenet_port.formats.probe import probe, vouch

if TYPE_CHECKING:
    import numpy as np

    from posenet_port.formats.runner import Runner
    from posenet_port.model.spec import ModelSpec
    from posenet_port.model.weights import PosenetWeights


class CalibrationInputs(Protocol):
    """Photos preprocessed as at inference, for int8 calibration (`pipeline.calibration.Calibration` is one)."""

    def batches(self, input_size: int) -> list[np.ndarray]: ...


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """What rebuild can emit for a format: a converter `variant` (one of its exporter's VARIANTS), on the float
    weights or on weights rounded onto `grid` first; `weight_class` names the floor its checks must clear
    (pipeline.gate.FLOORS); a `calibrated` recipe fixes its activation ranges on the calibration photos."""

    name: str
    variant: str
    grid: str | None = None
    weight_class: str
    description: str
    calibrated: bool = False

    @property
    def integer_only(self) -> bool:
        """Activations as well as weights are integers: what NPUs and integer-only accelerators need. Every
        calibrated recipe is one (its activation ranges are what calibration fixes)."""
        return self.calibrated


def recipes(*entries: Recipe) -> dict[str, Recipe]:
    return {recipe.name: recipe for recipe in entries}


@dataclass(frozen=True, kw_only=True)
class ExportSource:
    """The network one recipe converts: float, or with its weights on the recipe's grid.

    `input_size` is the size fixed-input formats are exported at; `int8_io` asks int8 models for int8 inputs
    and outputs where the format has them."""

    spec: ModelSpec
    weights: PosenetWeights
    frozen_graph: Path
    calibration: CalibrationInputs
    input_size: int
    int8_io: bool = False


@dataclass(frozen=True, kw_only=True)
class Format:
    """One model format.

    `runner`, `exporter` and `lister` are module names: `open_runner(path, threads, spec) -> Runner`,
    `export(source, recipe, path) -> Path` (None: read, not written) and `claims(path, head)` / `read(path,
    probe_size)` for `list_nodes` (formats/listing.py). `allowed_ops` is what a model from elsewhere may use.
    `file_name` is where rebuild writes a recipe, relative to its folder, from `{stem}`, `{size}` and `{recipe}`;
    a `/` in it means the model is a folder of files (tfjs, OpenVINO). A fixed-input format is exported at one
    size; a folder model is known by its `folder_marker` file; a format that is not `in_process` runs in another process (tfjs in node), so it is neither timed beside
    the others nor picked by the demo. `lists_unclaimed_files`: the lister that reads files no other claims.
    `probe`: its reader is native code, so a file from outside is first read in a child process (probe.py).
    `companions`: suffixes of the files beside a model that its runtime reads too (OpenVINO's `.bin`)."""

    name: str
    title: str
    runner: str
    exporter: str | None = None
    lister: str | None = None
    recipes: Mapping[str, Recipe] = field(default_factory=dict)
    allowed_ops: frozenset[str] = frozenset()
    file_name: str = ""
    suffixes: tuple[str, ...] = ()
    folder_marker: str = ""
    fixed_input: bool = False
    in_process: bool = True
    lists_unclaimed_files: bool = False
    probe: bool = False
    companions: tuple[str, ...] = ()

    @property
    def bundle(self) -> bool:
        return "/" in self.file_name

    def target(self, out_dir: Path, stem: str, recipe: str, size: int) -> Path:
        return Path(out_dir) / self.file_name.format(stem=stem, recipe=recipe, size=size)

    def export(self, source: ExportSource, recipe: Recipe, path: Path) -> Path:
        if self.exporter is None:
            raise ValueError(f"{self.title} models are read, not written, by posenet_port")
        return importlib.import_module(self.exporter).export(source, recipe, path)

    def open(self, path: str | Path, threads: int = 2, spec: ModelSpec | None = None, trusted: bool = False) -> Runner:
        """A runner for the model file; one from outside (not `trusted`: rebuild's own, just checked) is first
        read in a child process where its format's native reader can crash (`probe`)."""
        if self.probe and trusted:
            vouch(Path(path))
        elif self.probe:
            probe(Path(path), self)
        with reading(path, f"not a loadable {self.title} model", ModelFileError):
            return importlib.import_module(self.runner).open_runner(Path(path), threads, spec)


GPTQ = "placed on the grid by GPTQ, not rounded to nearest"
FLOAT32 = Recipe(name="float32", variant="float32", weight_class="float32",
                 description="float32 weights and activations")
FLOAT16_RECIPES = (
    Recipe(name="float16", variant="float16", weight_class="2-byte", description="float16 weights, rounded to nearest"),
    Recipe(name="float16-gptq", variant="float16", grid="float16", weight_class="2-byte",
           description=f"float16 weights {GPTQ}"),
)


def int8_recipes(grid: str, note: str = "") -> tuple[Recipe, Recipe]:
    """int8 weights and activations, the weights rounded to nearest or placed on `grid` by GPTQ."""
    return (Recipe(name="int8", variant="int8", weight_class="1-byte", calibrated=True,
                   description=f"int8 weights (nearest) and activations, calibrated on real photos{note}"),
            Recipe(name="int8-gptq", variant="int8", grid=grid, weight_class="1-byte", calibrated=True,
                   description=f"int8 weights {GPTQ}, int8 activations{note}"))


INT8_RECIPES = int8_recipes("int8")
# ONNX Runtime and OpenVINO on x86 CPUs without VNNI overflow on 8-bit kernels outside the depthwise layers
# (model/rounding.py, the int8-x86 grid)
X86_INT8_RECIPES = int8_recipes("int8-x86", "; weights 7-bit outside the depthwise layers")
# int16 activations: the only post-training layout whose poses clear the 1-byte floor (research/int8_int16x8.md),
# for accelerators that compute with 16-bit activations and 8-bit weights (Qualcomm's w8a16); on a CPU, LiteRT
# runs it in reference kernels and ONNX Runtime in float between its QDQ pairs, both slower than float32.
INT16X8_GPTQ = Recipe(name="int16x8-gptq", variant="int16x8", grid="int8", weight_class="1-byte", calibrated=True,
                      description=f"int8 weights {GPTQ}, int16 activations")
