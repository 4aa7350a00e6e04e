"""python -m posenet_port.rebuild (posenet-rebuild): tfjs PoseNet weights -> frozen graph, SavedModel and a model
of every registered format, each checked on real photos against the float graph, listed in manifest.json.

The command line over `pipeline.rebuild(RebuildOptions(...))`, the library API.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from posenet_port._util.fileio import human_size
from posenet_port.cli.common import add_verbose_argument, printable, run_cli
from posenet_port.formats.artifacts import MANIFEST_NAME
from posenet_port.formats.registry import export_formats
from posenet_port.model.architecture import DEFAULT_OUTPUT_STRIDE, OUTPUT_STRIDES
from posenet_port.model.spec import DEFAULT_INPUT_SIZE
from posenet_port.pipeline.run import DEFAULT_OUT, RebuildOptions, rebuild

DEFAULT_FORMATS = "default"


def build_parser() -> argparse.ArgumentParser:
    formats = export_formats()
    recipe_list = "\n".join(f"  {name:<8} {r.name:<20} {r.weight_class:<8} {r.description}"
                             for name, fmt in formats.items() for r in fmt.recipes.values())
    parser = argparse.ArgumentParser(
        prog="python -m posenet_port.rebuild",
        description="Rebuild tfjs PoseNet (MobileNetV1) as a TensorFlow graph (frozen .pb and SavedModel, nodes "
        "image, heatmap, heatmap_2, offset_2, displacement_fwd_2, displacement_bwd_2), export "
        f"{', '.join(f.title for f in formats.values())} models, and check every one on real photos against the float graph. By default every recipe is tried and "
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
    parser.add_argument("--output-stride", type=int, choices=OUTPUT_STRIDES, default=DEFAULT_OUTPUT_STRIDE,
                        help=f"output stride; 8 uses atrous convolution, 32 needs multiplier 1.00 (default: {DEFAULT_OUTPUT_STRIDE})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: build/)")
    parser.add_argument("--formats", default=DEFAULT_FORMATS,
                        help=f"comma-separated export formats: {', '.join(formats)}, or 'none' (default: all)")
    for fmt in formats:
        parser.add_argument(f"--{fmt}", metavar="RECIPES", default=None,
                            help=f"comma-separated {fmt} recipes to write whatever their checks say (see below)")
    parser.add_argument("--input-size", type=int, default=DEFAULT_INPUT_SIZE,
                        help=f"TFLite input size and check resolution, k * stride + 1 (default: {DEFAULT_INPUT_SIZE})")
    parser.add_argument("--int8-io", action="store_true", help="int8 TFLite with int8 input/output (default: float)")
    parser.add_argument("--calibration-images", type=Path, default=None,
                        help="folder of photos for int8 calibration and weight rounding (default: the tuning photos)")
    parser.add_argument("--no-checks", action="store_true", help="skip the keypoint checks (and keep every recipe)")
    parser.add_argument("--require-node", action="store_true",
                        help="fail when the tfjs checks cannot run (node missing); CI uses this")
    parser.add_argument("--allow-non-finite", action="store_true", help="load weights holding NaN or Inf")
    add_verbose_argument(parser)
    return parser


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    chosen = args.formats.strip()
    if chosen == "none":
        formats: tuple[str, ...] = ()
    else:
        formats = tuple(export_formats()) if chosen == DEFAULT_FORMATS else _names(chosen)
    named = {fmt: _names(getattr(args, fmt)) for fmt in export_formats() if getattr(args, fmt) is not None}
    formats += tuple(fmt for fmt in named if fmt not in formats)
    options = RebuildOptions(
        weights=args.weights, output_stride=args.output_stride, out_dir=args.out, formats=formats,
        input_size=args.input_size, int8_io=args.int8_io, calibration_images=args.calibration_images,
        checks=not args.no_checks, require_node=args.require_node, allow_non_finite=args.allow_non_finite,
        named_recipes=named,
    )
    entries = rebuild(options)
    print("\nartifacts:")
    for entry in entries:
        print(f"  {entry.artifact.name:<30} {human_size(entry.artifact.size):>10}  {printable(entry.artifact.path)}  "
              f"{entry.check.verdict() if entry.check else ''}")
    print(f"  manifest: {printable(Path(options.out_dir) / MANIFEST_NAME)}")
    if options.checks and any(e.check for e in entries):
        print(f"  check report: {printable(Path(options.out_dir) / 'checks' / 'checks.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
