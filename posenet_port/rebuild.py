"""python -m posenet_port.rebuild: tfjs PoseNet weights -> frozen graph, SavedModel, TFLite and tfjs models,
each checked on real photos against the float graph, listed in manifest.json.

Library API: `rebuild(RebuildOptions(...))` returns the manifest entries (artifacts with their check results).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from .architecture import OUTPUT_STRIDES, ArchitectureConfig, check_input_size
from .artifacts import MANIFEST_NAME, Artifact, ManifestEntry, write_manifest
from .cli import StepTimer, human_size, run_cli
from .errors import ConfigError, PosenetPortError
from .export.tflite import TFLITE_VARIANTS, calibration_photos
from .export.tfjs import TFJS_VARIANTS, require_tensorflowjs
from .fileio import exclusive_folder
from .weights import load_weights

DEFAULT_OUT = Path("build")
FORMATS = ("tflite", "tfjs")


class ChecksFailed(PosenetPortError):
    """At least one exported model drifted beyond its tolerance (or could not be checked when that is required)."""


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

    def validate(self) -> None:
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown:
            raise ConfigError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
        check_input_size(self.input_size, self.output_stride)
        if "tfjs" in self.formats:
            require_tensorflowjs()


def plan_steps(options: RebuildOptions) -> int:
    exports = len(TFLITE_VARIANTS) * ("tflite" in options.formats) + len(TFJS_VARIANTS) * ("tfjs" in options.formats)
    return 4 + exports + (options.checks and exports > 0)


def rebuild(options: RebuildOptions, timer: StepTimer | None = None) -> list[ManifestEntry]:
    """Everything `make rebuild` writes. Bad settings fail before any long work; the manifest is written last."""
    options.validate()
    calibration = calibration_photos(options.calibration_images) if "tflite" in options.formats else []
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
    exports = _export_all(options, config, frozen, calibration, timer)
    results = {}
    if options.checks and exports:
        with timer.step(f"checking {len(exports)} models on real photos against the float graph"):
            results = _check(options, exports, frozen)
    entries = [ManifestEntry(Artifact("frozen-graph", "frozen graph", "float32", frozen)),
               ManifestEntry(Artifact("savedmodel", "SavedModel", "float32", saved))]
    entries += [ManifestEntry(a, results.get(a.name, {})) for a in exports]
    write_manifest(out, entries, {"weights": weights.source, "sha256": dict(weights.checksums),
                                  "multiplier": weights.multiplier, "output_stride": config.output_stride})
    return entries


def _export_all(options: RebuildOptions, config: ArchitectureConfig, frozen: Path, calibration, timer: StepTimer) -> list[Artifact]:
    from .export.tflite import export_tflite, representative_inputs
    from .export.tfjs import export_tfjs

    out, size = Path(options.out_dir), options.input_size
    artifacts = []
    if "tflite" in options.formats:
        for variant in TFLITE_VARIANTS:
            path = out / f"{config.name}_{size}_{variant}.tflite"
            with timer.step(f"TFLite {variant} at {size}x{size} -> {path.name}"):
                inputs = representative_inputs(calibration, size) if variant == "int8" else ()
                export_tflite(frozen, path, variant, size, inputs, options.int8_io)
            artifacts.append(Artifact(f"tflite-{variant}", "tflite", variant, path, size))
    if "tfjs" in options.formats:
        for variant in TFJS_VARIANTS:
            directory = out / f"{config.name}_tfjs_{variant}"
            with timer.step(f"tfjs {variant} -> {directory.name}/"):
                model_json = export_tfjs(frozen, directory, variant)
            artifacts.append(Artifact(f"tfjs-{variant}", "tfjs", variant, model_json, None))
    return artifacts


def _check(options: RebuildOptions, exports: list[Artifact], frozen: Path) -> dict[str, dict]:
    from .checks import run_checks
    from .samples import check_photos

    report = run_checks(exports, frozen, check_photos(), options.input_size, Path(options.out_dir) / "checks",
                        options.require_node)
    for result in report.not_run:
        print(f"\n*** {result.name}: {result.note} ***", file=sys.stderr)
    return {result.name: asdict(result) for result in report.results}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m posenet_port.rebuild",
        description="Rebuild tfjs PoseNet (MobileNetV1) as a TensorFlow graph (frozen .pb and SavedModel, nodes "
        "image, heatmap, heatmap_2, offset_2, displacement_fwd_2, displacement_bwd_2), export TFLite and tfjs "
        "models, and check every one on real photos against the float graph.",
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
    parser.add_argument("--input-size", type=int, default=257,
                        help="TFLite input size and check resolution, k * stride + 1 (default: 257)")
    parser.add_argument("--int8-io", action="store_true", help="int8 TFLite with int8 input/output (default: float)")
    parser.add_argument("--calibration-images", type=Path, default=None,
                        help="folder of photos for int8 calibration (default: the public-domain sample photos)")
    parser.add_argument("--no-checks", action="store_true", help="skip the keypoint checks")
    parser.add_argument("--require-node", action="store_true",
                        help="fail when the tfjs checks cannot run (node missing); CI uses this")
    parser.add_argument("--allow-non-finite", action="store_true", help="load weights holding NaN or Inf")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    formats = () if args.formats.strip() == "none" else tuple(f.strip() for f in args.formats.split(",") if f.strip())
    options = RebuildOptions(
        args.weights, args.output_stride, args.out, formats, args.input_size, args.int8_io,
        args.calibration_images, not args.no_checks, args.require_node, args.allow_non_finite,
    )
    entries = rebuild(options)
    print("\nartifacts:")
    for entry in entries:
        check = entry.check
        verdict = check.get("status", "")
        if check.get("max_drift_px") is not None:
            verdict += f" (max drift {check['max_drift_px']:.2f} px, tolerance {check['tolerance_px']})"
        print(f"  {entry.artifact.name:<22} {human_size(entry.artifact.size):>10}  {entry.artifact.path}  {verdict}")
    print(f"  manifest: {Path(options.out_dir) / MANIFEST_NAME}")
    failed = [e.artifact.name for e in entries if e.check.get("status") == "FAIL"]
    if options.checks and any(e.check for e in entries):
        print(f"  check report: {Path(options.out_dir) / 'checks' / 'checks.md'}")
    if failed:
        raise ChecksFailed(f"keypoint checks failed for {', '.join(failed)}; see {Path(options.out_dir) / 'checks'}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
