"""python -m posenet_port.rebuild: tfjs PoseNet weights -> frozen graph, SavedModel, TFLite and tfjs models,
each checked on real photos against the float graph, listed in manifest.json.

Library API: `rebuild(RebuildOptions(...))` returns the manifest entries (artifacts with their check results).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from .architecture import OUTPUT_STRIDES, ArchitectureConfig, check_input_size
from .artifacts import MANIFEST_NAME, Artifact, ManifestEntry, write_manifest
from .cli import StepTimer, human_size, run_cli
from .errors import ConfigError, PosenetPortError
from .export import RECIPES, Recipe, source_graph_name
from .export.tflite import calibration_photos
from .export.tfjs import require_tensorflowjs
from .fileio import exclusive_folder
from .weights import load_weights

DEFAULT_OUT = Path("build")
FORMATS = tuple(RECIPES)


class ChecksFailed(PosenetPortError):
    """A float32 model disagreed with the float graph (a broken export, not a quantization trade-off), or the
    checks could not run when that is required."""


@dataclass(frozen=True)
class RebuildOptions:
    weights: str | Path | None = None
    output_stride: int = 16
    out_dir: Path = DEFAULT_OUT
    formats: tuple[str, ...] = FORMATS
    input_size: int = 257
    int8_io: bool = False
    calibration_images: Path | None = None
    checks: bool = True
    require_node: bool = False
    allow_non_finite: bool = False
    # Recipes asked for by name, per format: all of them are written, failing ones with a warning. A format
    # without names tries every recipe and keeps those that clear their floor and sit on the Pareto front.
    named_recipes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def validate(self) -> None:
        unknown = [f for f in (*self.formats, *self.named_recipes) if f not in FORMATS]
        if unknown:
            raise ConfigError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
        for fmt, names in self.named_recipes.items():
            wrong = [n for n in names if n not in RECIPES[fmt]]
            if wrong:
                raise ConfigError(f"unknown {fmt} recipe(s) {', '.join(wrong)}; choose from {', '.join(RECIPES[fmt])}")
        check_input_size(self.input_size, self.output_stride)
        if "tfjs" in self.formats:
            require_tensorflowjs()

    def recipes(self) -> list[tuple[str, Recipe]]:
        """(format, recipe) for everything this run exports."""
        return [(fmt, RECIPES[fmt][name]) for fmt in self.formats
                for name in self.named_recipes.get(fmt) or RECIPES[fmt]]


def plan_steps(options: RebuildOptions) -> int:
    recipes = options.recipes()
    grids = {recipe.grid for _, recipe in recipes if recipe.grid}
    return 4 + len(grids) + len(recipes) + (options.checks and bool(recipes))


def rebuild(options: RebuildOptions, timer: StepTimer | None = None) -> list[ManifestEntry]:
    """Everything `make rebuild` writes. Bad settings fail before any long work; the manifest is written last."""
    options.validate()
    calibration = calibration_photos(options.calibration_images) if options.recipes() else []
    timer = timer or StepTimer(total=plan_steps(options))
    # One rebuild per folder: two would replace each other's files under a manifest that vouches for one of them.
    with exclusive_folder(Path(options.out_dir), "rebuild"):
        return _rebuild(options, calibration, timer)


def _rebuild(options: RebuildOptions, calibration, timer: StepTimer) -> list[ManifestEntry]:
    out = Path(options.out_dir)
    (out / MANIFEST_NAME).unlink(missing_ok=True)  # an old manifest would vouch for files this run replaces
    with timer.step(f"loading weights from {options.weights or 'the shipped weights (sha256 verified)'}"):
        weights = load_weights(options.weights, allow_non_finite=options.allow_non_finite)
        config = ArchitectureConfig(weights.multiplier, options.output_stride)
    with timer.step(f"building the TF graph (multiplier {config.multiplier:.2f}, output stride {config.output_stride})"):
        from .graph import build_model

        model = build_model(weights, config.output_stride)
    from .freeze import write_frozen_graph, write_saved_model

    frozen = out / f"{config.name}.pb"
    with timer.step(f"freezing to {frozen}"):
        write_frozen_graph(model, frozen)
    saved = out / f"{config.name}_savedmodel"
    with timer.step(f"writing the SavedModel {saved}"):
        write_saved_model(model, saved)
    graphs = _rounded_graphs(options, config, weights, calibration, timer)
    exports = _export_all(options, config, {None: frozen, **{g: a.path for g, a in graphs.items()}}, calibration, timer)
    results = {}
    if options.checks and exports:
        with timer.step(f"checking {len(exports)} models on real photos against the float graph"):
            results = _check(options, exports, frozen)
    kept = _keep(options, exports, results)
    entries = [ManifestEntry(Artifact("frozen-graph", "frozen graph", "float32", frozen)),
               ManifestEntry(Artifact("savedmodel", "SavedModel", "float32", saved))]
    entries += [ManifestEntry(artifact) for artifact in graphs.values()]
    entries += [ManifestEntry(a, results.get(a.name, {})) for a in kept]
    write_manifest(out, entries, {"weights": weights.source, "sha256": dict(weights.checksums),
                                  "multiplier": weights.multiplier, "output_stride": config.output_stride})
    return entries


def _rounded_graphs(options: RebuildOptions, config: ArchitectureConfig, weights, calibration, timer: StepTimer) -> dict[str, Artifact]:
    """A frozen graph per weight grid the recipes need, its weights rounded onto that grid (rounding.py)."""
    from .freeze import write_frozen_graph
    from .graph import build_model
    from .rounding import GRIDS, calibration_batches, round_weights

    graphs = {}
    grids = dict.fromkeys(recipe.grid for _, recipe in options.recipes() if recipe.grid)
    batches = calibration_batches(calibration, options.input_size) if grids else []
    for grid in grids:
        path = Path(options.out_dir) / f"{config.name}_{grid}-grid.pb"
        with timer.step(f"rounding the weights onto the {grid} grid (GPTQ, {len(batches)} calibration views) -> {path.name}"):
            rounded = round_weights(weights, config.output_stride, batches, GRIDS[grid])
            write_frozen_graph(build_model(rounded, config.output_stride), path)
        graphs[grid] = Artifact(source_graph_name(grid), "frozen graph", f"float32 on the {grid} grid", path)
    return graphs


def _export_all(options: RebuildOptions, config: ArchitectureConfig, graphs: dict, calibration, timer: StepTimer) -> list[Artifact]:
    from .export.tflite import export_tflite, representative_inputs
    from .export.tfjs import export_tfjs

    out, size = Path(options.out_dir), options.input_size
    artifacts = []
    int8_inputs = None  # the int8 recipes share one calibration set
    for fmt, recipe in options.recipes():
        source = graphs[recipe.grid]
        if fmt == "tflite":
            path = out / f"{config.name}_{size}_{recipe.name}.tflite"
            with timer.step(f"TFLite {recipe.name} at {size}x{size} -> {path.name}"):
                if recipe.variant == "int8" and int8_inputs is None:
                    int8_inputs = representative_inputs(calibration, size)
                inputs = int8_inputs if recipe.variant == "int8" else ()
                export_tflite(source, path, recipe.variant, size, inputs, options.int8_io)
            artifacts.append(Artifact(f"tflite-{recipe.name}", "tflite", recipe.name, path, size))
        else:
            directory = out / f"{config.name}_tfjs_{recipe.name}"
            with timer.step(f"tfjs {recipe.name} -> {directory.name}/"):
                model_json = export_tfjs(source, directory, recipe.variant)
            artifacts.append(Artifact(f"tfjs-{recipe.name}", "tfjs", recipe.name, model_json, None))
    return artifacts


def _check(options: RebuildOptions, exports: list[Artifact], frozen: Path) -> dict[str, dict]:
    from .checks import VALIDATION, TUNING, CheckPhoto, run_checks
    from .samples import tuning_photos, validation_photos

    photos = [CheckPhoto(name, TUNING, rgb) for name, rgb in tuning_photos()]
    photos += [CheckPhoto(name, VALIDATION, rgb) for name, rgb in validation_photos()]
    classes = {a.name: RECIPES[a.format][a.quantization].weight_class for a in exports}
    report = run_checks(exports, classes, frozen, photos, options.input_size, Path(options.out_dir) / "checks",
                        options.require_node)
    for result in report.not_run:
        print(f"\n*** {result.name}: {result.note} ***", file=sys.stderr)
    return {result.name: result.to_dict() for result in report.results}


def _keep(options: RebuildOptions, exports: list[Artifact], results: dict[str, dict]) -> list[Artifact]:
    """Which exports stay: with checks, a recipe not asked for by name stays only if it passed and is on its
    format's Pareto front (the report keeps the figures of all); the others' files are removed. A float32
    model that fails is a broken export: an error."""
    from .checks import FAIL, PASS

    broken = [a.name for a in exports if a.quantization == "float32" and results.get(a.name, {}).get("status") == FAIL]
    if broken:
        raise ChecksFailed(f"{', '.join(broken)} disagree with the float graph; see {Path(options.out_dir) / 'checks'}")
    kept = []
    for artifact in exports:
        check = results.get(artifact.name, {})
        named = artifact.format in options.named_recipes
        if named or not check or check.get("status") not in (PASS, FAIL):
            kept.append(artifact)
            if check.get("status") == FAIL:
                print(f"\n*** {artifact.name} FAILS its floor ({check['note']}); written because it was asked for "
                      "by name ***", file=sys.stderr)
        elif check["status"] == PASS and check["pareto"]:
            kept.append(artifact)
        else:
            why = check["note"] if check["status"] == FAIL else "another recipe is smaller, faster or closer"
            print(f"  not kept: {artifact.name} ({check['status']}: {why}); figures in the check report")
            for file in artifact.files:
                file.unlink()
            if artifact.format == "tfjs":
                artifact.path.parent.rmdir()
    return kept


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    recipe_list = "\n".join(f"  {fmt:<6} {r.name:<20} {r.weight_class:<8} {r.description}"
                             for fmt, table in RECIPES.items() for r in table.values())
    parser = argparse.ArgumentParser(
        prog="python -m posenet_port.rebuild",
        description="Rebuild tfjs PoseNet (MobileNetV1) as a TensorFlow graph (frozen .pb and SavedModel, nodes "
        "image, heatmap, heatmap_2, offset_2, displacement_fwd_2, displacement_bwd_2), export TFLite and tfjs "
        "models, and check every one on real photos against the float graph. By default every recipe is tried and "
        "kept only if its decoded poses clear its class's floor and it sits on its format's Pareto front; name "
        "recipes with --tflite / --tfjs to write exactly those, failing ones with a warning.",
        epilog=f"recipes (format, name, class, what):\n{recipe_list}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--weights", type=Path, default=None,
        help="tfjs graph model (model.json or its folder) or tfjs-models checkpoint (manifest.json or its folder); "
        "default: the shipped MobileNetV1 0.75 weights",
    )
    parser.add_argument("--output-stride", type=int, choices=OUTPUT_STRIDES, default=16,
                        help="output stride; 8 uses atrous convolution, 32 needs multiplier 1.00 (default: 16)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: build/)")
    parser.add_argument("--formats", default=",".join(FORMATS),
                        help=f"comma-separated export formats: {', '.join(FORMATS)}, or 'none' (default: all)")
    for fmt in FORMATS:
        parser.add_argument(f"--{fmt}", metavar="RECIPES", default=None,
                            help=f"comma-separated {fmt} recipes to write whatever their checks say (see below)")
    parser.add_argument("--input-size", type=int, default=257,
                        help="TFLite input size and check resolution, k * stride + 1 (default: 257)")
    parser.add_argument("--int8-io", action="store_true", help="int8 TFLite with int8 input/output (default: float)")
    parser.add_argument("--calibration-images", type=Path, default=None,
                        help="folder of photos for int8 calibration and weight rounding (default: the tuning photos)")
    parser.add_argument("--no-checks", action="store_true", help="skip the keypoint checks (and keep every recipe)")
    parser.add_argument("--require-node", action="store_true",
                        help="fail when the tfjs checks cannot run (node missing); CI uses this")
    parser.add_argument("--allow-non-finite", action="store_true", help="load weights holding NaN or Inf")
    return parser.parse_args(argv)


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    formats = () if args.formats.strip() == "none" else _names(args.formats)
    named = {fmt: _names(getattr(args, fmt)) for fmt in FORMATS if getattr(args, fmt) is not None}
    formats += tuple(fmt for fmt in named if fmt not in formats)
    options = RebuildOptions(
        args.weights, args.output_stride, args.out, formats, args.input_size, args.int8_io,
        args.calibration_images, not args.no_checks, args.require_node, args.allow_non_finite, named,
    )
    entries = rebuild(options)
    print("\nartifacts:")
    for entry in entries:
        print(f"  {entry.artifact.name:<30} {human_size(entry.artifact.size):>10}  {entry.artifact.path}  "
              f"{_verdict(entry.check)}")
    print(f"  manifest: {Path(options.out_dir) / MANIFEST_NAME}")
    if options.checks and any(e.check for e in entries):
        print(f"  check report: {Path(options.out_dir) / 'checks' / 'checks.md'}")
    return 0


def _verdict(check: dict) -> str:
    validation = [a for a in check.get("agreements", []) if a["split"] == "validation"]
    figures = ", ".join(f"{100 * a['within_share']:.1f} % within 2 px at {a['input_size']}" for a in validation)
    verdict = check.get("status", "")
    return f"{verdict} ({figures} on validation photos)" if figures else verdict


if __name__ == "__main__":
    sys.exit(run_cli(main))
