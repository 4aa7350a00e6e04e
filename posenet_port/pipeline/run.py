"""The build behind `rebuild`: tfjs PoseNet weights -> TF graph -> frozen graph and SavedModel -> weights rounded
onto each grid the recipes need -> every recipe of every registered format -> checks on real photos against the
float graph -> the models worth keeping -> manifest.json (written last).

    from posenet_port.pipeline.run import RebuildOptions, rebuild
    entries = rebuild(RebuildOptions(out_dir=Path("build"), formats=("onnx",)))

One `ModelSpec` is made from the weights and carried by every artifact into the manifest.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from posenet_port._util.fileio import exclusive_folder, same_file
from posenet_port.errors import ConfigError, PosenetPortError, finishing
from posenet_port.formats.artifacts import MANIFEST_NAME, Artifact, ManifestEntry, is_build_folder, write_manifest
from posenet_port.formats.base import ExportSource, Format, Recipe
from posenet_port.formats.registry import FORMATS, export_formats
from posenet_port.model.architecture import DEFAULT_OUTPUT_STRIDE, check_input_size
from posenet_port.model.spec import DEFAULT_INPUT_SIZE, ModelSpec
from posenet_port.model.weights import SHIPPED_WEIGHTS, PosenetWeights, load_weights
from posenet_port.pipeline.calibration import Calibration, calibration_photos
from posenet_port.pipeline.progress import StepTimer

if TYPE_CHECKING:
    from posenet_port.pipeline.gate import CheckResult

DEFAULT_OUT = Path("build")


class ChecksFailed(PosenetPortError):
    """A float32 model disagreed with the float graph (a broken export, not a quantization trade-off), or the
    checks could not run when that is required."""


def default_formats() -> tuple[str, ...]:
    return tuple(export_formats())


@dataclass(frozen=True, kw_only=True)
class RebuildOptions:
    weights: str | Path | None = None
    output_stride: int = DEFAULT_OUTPUT_STRIDE
    out_dir: Path = DEFAULT_OUT
    formats: tuple[str, ...] = field(default_factory=default_formats)
    input_size: int = DEFAULT_INPUT_SIZE
    int8_io: bool = False
    calibration_images: Path | None = None
    checks: bool = True
    require_node: bool = False
    allow_non_finite: bool = False
    # Recipes asked for by name, per format: all of them are written, failing ones with a warning. A format
    # without names tries every recipe and keeps those that clear their floor and sit on the Pareto front.
    named_recipes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def validate(self) -> None:
        known = export_formats()
        unknown = [f for f in (*self.formats, *self.named_recipes) if f not in known]
        if unknown:
            raise ConfigError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(known)}")
        for fmt, names in self.named_recipes.items():
            wrong = [n for n in names if n not in known[fmt].recipes]
            if wrong:
                raise ConfigError(f"unknown {fmt} recipe(s) {', '.join(wrong)}; "
                                  f"choose from {', '.join(known[fmt].recipes)}")
        check_input_size(self.input_size, self.output_stride)

    def recipes(self) -> list[tuple[Format, Recipe]]:
        """(format, recipe) for everything this run exports."""
        return [(FORMATS[fmt], FORMATS[fmt].recipes[name]) for fmt in self.formats
                for name in self.named_recipes.get(fmt) or FORMATS[fmt].recipes]


def plan_steps(options: RebuildOptions) -> int:
    recipes = options.recipes()
    grids = {recipe.grid for _, recipe in recipes if recipe.grid}
    return 4 + len(grids) + len(recipes) + (options.checks and bool(recipes))


def rebuild(options: RebuildOptions, timer: StepTimer | None = None) -> list[ManifestEntry]:
    """Everything `make rebuild` writes. Bad settings fail before any long work; the manifest is written last."""
    options.validate()
    _check_out_apart_from_inputs(options)
    calibration = Calibration(calibration_photos(options.calibration_images) if options.recipes() else [])
    timer = timer or StepTimer(total=plan_steps(options))
    # One rebuild per folder: two would replace each other's files under a manifest that vouches for one of them.
    with exclusive_folder(Path(options.out_dir), "rebuild"):
        return _rebuild(options, calibration, timer)


def _check_out_apart_from_inputs(options: RebuildOptions) -> None:
    """Refuse, before anything is written or removed, an --out folder that holds an input (the weights, the
    calibration photos) or a manifest.json that rebuild did not write (a tfjs-models checkpoint's)."""
    out = Path(options.out_dir)
    weights = Path(options.weights) if options.weights is not None else SHIPPED_WEIGHTS.directory
    inputs = {"--weights": weights if weights.is_dir() else weights.parent,
              "--calibration-images": options.calibration_images}
    for flag, folder in inputs.items():
        if folder is not None and out.exists() and same_file(out, folder):
            raise ConfigError(f"--out {out} is the {flag} folder: rebuild would write over its files; choose another --out")
    if (out / MANIFEST_NAME).exists() and not is_build_folder(out):
        raise ConfigError(f"{out / MANIFEST_NAME} is not a manifest rebuild wrote (a tfjs-models checkpoint's?): "
                          "rebuild would replace it; choose another --out")


@dataclass(frozen=True)
class _Network:
    """The network at one weight grid (None: the float weights), in memory and frozen."""

    weights: PosenetWeights
    frozen: Artifact


def _rebuild(options: RebuildOptions, calibration: Calibration, timer: StepTimer) -> list[ManifestEntry]:
    out = Path(options.out_dir)
    (out / MANIFEST_NAME).unlink(missing_ok=True)  # an old manifest would vouch for files this run replaces
    # (_check_out_apart_from_inputs made sure it is one rebuild wrote, not a user's)
    with timer.step(f"loading weights from {options.weights or 'the shipped weights (sha256 verified)'}"):
        weights = load_weights(options.weights, allow_non_finite=options.allow_non_finite)
        spec = ModelSpec(weights.multiplier, options.output_stride)
    with timer.step(f"building the TF graph (multiplier {spec.multiplier:.2f}, output stride {spec.output_stride})"):
        from posenet_port.model.tf_graph import build_model

        model = build_model(weights, spec.output_stride)
    from posenet_port.model.freeze import write_frozen_graph, write_saved_model

    frozen = out / f"{spec.name}.pb"
    with timer.step(f"freezing to {frozen}"):
        write_frozen_graph(model, frozen)
    saved = out / f"{spec.name}_savedmodel"
    with timer.step(f"writing the SavedModel {saved}"):
        write_saved_model(model, saved)
    float_graph = Artifact(name="frozen-graph", format="frozen-graph", recipe="float32", path=frozen, spec=spec)
    networks = {None: _Network(weights, float_graph)}
    networks.update(_rounded_networks(options, spec, weights, calibration, timer))
    exports = _export_all(options, spec, networks, calibration, timer)
    results = {}
    if options.checks and exports:
        with timer.step(f"checking {len(exports)} models on real photos against the float graph"):
            results = _check(options, exports, networks[None].frozen)
    kept = _keep(options, exports, results)
    entries = [ManifestEntry(networks[None].frozen),
               ManifestEntry(Artifact(name="savedmodel", format="savedmodel", recipe="float32", path=saved,
                                      spec=spec.exported("savedmodel", "float32", None)))]
    entries += [ManifestEntry(network.frozen) for grid, network in networks.items() if grid]
    entries += [ManifestEntry(a, results.get(a.name)) for a in kept]
    finishing()  # every model is written and checked: a stop signal now would only lose the manifest
    write_manifest(out, entries, {"weights": weights.source, "sha256": dict(weights.checksums),
                                  "multiplier": spec.multiplier, "output_stride": spec.output_stride})
    return entries


def rounded_graph_name(grid: str | None) -> str:
    """The manifest name of the frozen graph a recipe converts: the float one, or the one rounded onto `grid`."""
    return "frozen-graph" if grid is None else f"frozen-graph-{grid}-grid"


def _rounded_networks(options: RebuildOptions, spec: ModelSpec, weights: PosenetWeights, calibration: Calibration,
                      timer: StepTimer) -> dict[str, _Network]:
    """The network per weight grid the recipes need, its weights rounded onto that grid (rounding.py)."""
    from posenet_port.model.freeze import write_frozen_graph
    from posenet_port.model.rounding import GRIDS, round_weights
    from posenet_port.model.tf_graph import build_model
    from posenet_port.pipeline.calibration import calibration_batches

    networks = {}
    grids = dict.fromkeys(recipe.grid for _, recipe in options.recipes() if recipe.grid)
    batches = calibration_batches(calibration.photos, options.input_size) if grids else []
    for grid in grids:
        path = Path(options.out_dir) / f"{spec.name}_{grid}-grid.pb"
        with timer.step(f"rounding the weights onto the {grid} grid (GPTQ, {len(batches)} calibration views) -> {path.name}"):
            rounded = round_weights(weights, spec.output_stride, batches, GRIDS[grid])
            write_frozen_graph(build_model(rounded, spec.output_stride), path)
        frozen = Artifact(name=rounded_graph_name(grid), format="frozen-graph", recipe=f"float32 on the {grid} grid",
                          path=path, spec=spec)
        networks[grid] = _Network(rounded, frozen)
    return networks


def _export_all(options: RebuildOptions, spec: ModelSpec, networks: dict[str | None, _Network],
                calibration: Calibration, timer: StepTimer) -> list[Artifact]:
    out, size = Path(options.out_dir), options.input_size
    artifacts = []
    for fmt, recipe in options.recipes():
        fixed_size = size if fmt.fixed_input else None
        model_spec = spec.exported(fmt.name, recipe.variant, fixed_size)
        network = networks[recipe.grid]
        source = ExportSource(spec=model_spec, weights=network.weights, frozen_graph=network.frozen.path,
                              calibration=calibration, input_size=size, int8_io=options.int8_io)
        path = fmt.target(out, spec.name, recipe.name, size)
        where = f" at {size}x{size}" if fixed_size else ""
        with timer.step(f"{fmt.title} {recipe.name}{where} -> {path.relative_to(out)}"):
            written = fmt.export(source, recipe, path)
        artifacts.append(Artifact(name=f"{fmt.name}-{recipe.name}", format=fmt.name, recipe=recipe.name, path=written,
                                  input_size=fixed_size, bundle=fmt.bundle, spec=model_spec))
    return artifacts


def _check(options: RebuildOptions, exports: list[Artifact], reference: Artifact) -> dict[str, CheckResult]:
    from posenet_port.pipeline.checks import run_checks
    from posenet_port.pipeline.gate import TUNING, VALIDATION, CheckPhoto
    from posenet_port.pipeline.photos import tuning_photos, validation_photos

    photos = [CheckPhoto(name, TUNING, rgb) for name, rgb in tuning_photos()]
    photos += [CheckPhoto(name, VALIDATION, rgb) for name, rgb in validation_photos()]
    recipes = {a.name: FORMATS[a.format].recipes[a.recipe] for a in exports}
    report = run_checks(exports, {name: r.weight_class for name, r in recipes.items()}, reference, photos,
                        options.input_size, Path(options.out_dir) / "checks", options.require_node,
                        integer_only={name for name, r in recipes.items() if r.integer_only})
    for result in report.not_run:
        print(f"\n*** {result.name}: {result.note} ***", file=sys.stderr)
    return {result.name: result for result in report.results}


def _keep(options: RebuildOptions, exports: list[Artifact], results: dict[str, CheckResult]) -> list[Artifact]:
    """Which exports stay: with checks, a recipe not asked for by name stays only if it passed and is on its
    format's Pareto front (the report keeps the figures of all); the others' files are removed. A float32
    model that fails is a broken export: an error."""
    from posenet_port.pipeline.gate import FAIL, PASS

    broken = [a.name for a in exports if a.recipe == "float32" and a.name in results and results[a.name].status == FAIL]
    if broken:
        raise ChecksFailed(f"{', '.join(broken)} disagree with the float graph; see {Path(options.out_dir) / 'checks'}")
    kept = []
    for artifact in exports:
        check = results.get(artifact.name)
        named = artifact.format in options.named_recipes
        if named or check is None or check.status not in (PASS, FAIL):
            kept.append(artifact)
            if check is not None and check.status == FAIL:
                print(f"\n*** {artifact.name} FAILS its floor ({check.note}); written because it was asked for "
                      "by name ***", file=sys.stderr)
        elif check.status == PASS and check.pareto:
            kept.append(artifact)
        else:
            why = check.note if check.status == FAIL else "another recipe is smaller, faster or closer"
            print(f"  not kept: {artifact.name} ({check.status}: {why}); figures in the check report")
            artifact.remove()
    return kept
