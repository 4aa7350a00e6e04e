"""python -m posenet_port.estimate PHOTO [PHOTO ...]: poses on photos, as JSON or drawn."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence, TypeVar

from posenet_port._util.fileio import same_file, unique_name
from posenet_port.cli.common import (
    add_pose_arguments,
    add_strict_argument,
    add_verbose_argument,
    decode_options,
    model_files_help,
    printable,
    refused_summary,
    report_refused,
    run_cli,
)
from posenet_port.errors import check_interrupted
from posenet_port.inference.estimator import DEFAULT_ENGINE, WEIGHT_ENGINES, PoseEstimator
from posenet_port.inference.preprocess import ImageError, check_image_file, load_image
from posenet_port.model.architecture import DEFAULT_OUTPUT_STRIDE, OUTPUT_STRIDES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m posenet_port.estimate",
        description="Estimate PoseNet poses on photos, exactly as @tensorflow-models/posenet 2.2.2 does.",
    )
    parser.add_argument("photos", nargs="+", type=Path, help="photo files (jpg, png, ...)")
    parser.add_argument(
        "--model", type=Path, default=None,
        help="tfjs weights (model.json, checkpoint manifest.json or their folder), a rebuild folder (its fastest "
        f"checked model) or a model file: {model_files_help()}; default: the shipped weights",
    )
    parser.add_argument("--engine", choices=WEIGHT_ENGINES, default=None,
                        help=f"what runs weights (default {DEFAULT_ENGINE}: light and quick to start; tensorflow: the "
                             "TF graph exports are checked against, 700 MB more memory); a model file runs in its own runtime")
    add_pose_arguments(parser)
    parser.add_argument("--output-stride", type=int, choices=OUTPUT_STRIDES, default=None,
                        help=f"output stride (weights: default {DEFAULT_OUTPUT_STRIDE}; a model: from its manifest or the model)")
    parser.add_argument("--stretch", action="store_true", help="stretch photos to the input instead of padding them")
    parser.add_argument("--json", action="store_true", help="print one JSON object per photo")
    parser.add_argument("--draw", type=Path, metavar="DIR", help="write pose overlays (and with --heatmaps, figures) here")
    parser.add_argument("--heatmaps", action="store_true", help="with --draw: also write a heatmap / offset figure")
    add_strict_argument(parser)
    add_verbose_argument(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.heatmaps and args.draw is None:
        raise ImageError("--heatmaps writes figures into the --draw folder: give --draw DIR too")
    # Every photo's header is checked before the model loads (a typo fails in a second, not after the load);
    # photos are decoded one at a time. A refused photo costs only itself unless --strict.
    photos = [path for path in args.photos if _readable(args, path, check_image_file)]
    refused = len(args.photos) - len(photos)
    estimator = PoseEstimator(args.model, args.input_size, args.output_stride, args.stretch,
                              engine=args.engine) if photos else None
    options = decode_options(args)
    taken: set[str] = set()
    for path in photos:
        check_interrupted()
        rgb = _readable(args, path, load_image)
        if rgb is None:
            refused += 1
            continue
        outputs = estimator.infer(rgb)
        poses = estimator.decode(outputs, options)
        if args.json:
            record = {"path": str(path), "width": rgb.shape[1], "height": rgb.shape[0], "poses": [p.to_dict() for p in poses]}
            print(json.dumps(record))
        else:
            print(f"{printable(path)} ({rgb.shape[1]}x{rgb.shape[0]}): {len(poses)} pose(s)")
            for index, pose in enumerate(poses):
                confident = sum(k.score >= args.min_keypoint_score for k in pose.keypoints)
                print(f"  pose {index}: score {pose.score:.3f}, {confident}/17 keypoints >= {args.min_keypoint_score}")
        if args.draw is not None:
            _draw(args, _drawing_stem(args, path, taken), rgb, poses, outputs, estimator.output_stride)
    return refused_summary(refused, len(args.photos))


def _readable(args: argparse.Namespace, path: Path, read: Callable[[Path, int], T]) -> T | None:
    """`read(path, max_pixels)`, or None for a photo it refuses (reported), or the error itself with --strict."""
    try:
        return read(path, args.max_pixels)
    except ImageError as error:
        if args.strict:
            raise
        report_refused(error)
        return None


DRAWINGS = ("poses", "heatmaps")
T = TypeVar("T")


def _drawing_stem(args: argparse.Namespace, photo: Path, taken: set[str]) -> str:
    """The stem of a photo's drawings: two photos with one stem (a/x.jpg, b/x.png) get x_poses.png and
    x-2_poses.png, never one file, and no drawing replaces one of the photos being estimated (a_poses.png)."""
    while True:
        stem = unique_name(photo.stem, taken)
        targets = [args.draw / f"{stem}_{kind}.png" for kind in DRAWINGS]
        if not any(same_file(target, other) for target in targets for other in args.photos):
            return stem


def _draw(args: argparse.Namespace, stem: str, rgb, poses, outputs, output_stride: int) -> None:
    import cv2

    from posenet_port.inference.draw import draw_poses, heatmap_figure, write_image

    overlay = draw_poses(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), poses, args.min_keypoint_score)
    written = [write_image(args.draw / f"{stem}_poses.png", overlay)]
    if args.heatmaps:
        written.append(heatmap_figure(rgb, outputs, output_stride, args.draw / f"{stem}_heatmaps.png"))
    if not args.json:
        print("  wrote " + ", ".join(map(printable, written)))


if __name__ == "__main__":
    sys.exit(run_cli(main))
