"""python -m posenet_port.demo: live pose estimation from a camera, a video file or a folder of photos."""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Sequence

from posenet_port._util.fileio import check_outputs_distinct
from posenet_port._util.machine import keep_freed_memory
from posenet_port._util.resources import default_build_dir
from posenet_port.cli.common import (
    add_pose_arguments,
    add_strict_argument,
    add_verbose_argument,
    decode_options,
    float_in,
    int_in,
    model_files_help,
    printable,
    refused_summary,
    report_refused,
    run_cli,
)
from posenet_port.errors import OutputError
from posenet_port.inference.choice import choose_model
from posenet_port.inference.estimator import MAX_THREADS
from posenet_port.inference.preprocess import folder_photos
from posenet_port.inference.stream import VIDEO_CODECS
from posenet_port.inference.tracking import TRACKERS, PoseStream, SmoothingOptions, TrackerOptions


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m posenet_port.demo",
        description="Live PoseNet: skeletons, keypoints, frames per second and inference / decoding times on "
        "every frame. Window keys: q or Esc quits, space pauses.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--camera", type=int_in(0, 1023), default=None, metavar="N", help="camera index (default: 0)")
    source.add_argument("--video", type=Path, help="a video file")
    source.add_argument("--images", type=Path, metavar="DIR", help="a folder of photos")
    parser.add_argument("--model", type=Path, default=None,
                        help=f"tfjs weights, a rebuild folder or a model file: {model_files_help()}; default: the model "
                        "of build/ that passed its checks and runs fastest on this CPU, timed once and cached (see "
                        "`make rebuild`), else the shipped weights")
    add_pose_arguments(parser)
    parser.add_argument("--threads", type=int_in(1, MAX_THREADS), default=2,
                        help="threads the runtime computes with, whatever the format (default: 2)")
    parser.add_argument("--output", type=Path,
                        help="annotated video (.mp4 or .avi) for --camera / --video; a folder for --images")
    parser.add_argument("--dump", type=Path, help="JSON lines: frame index, timestamp, poses in frame coordinates")
    parser.add_argument("--no-display", action="store_true", help="no window (headless machines, benchmarks)")
    parser.add_argument("--max-frames", type=int_in(1), default=None, help="stop after this many frames")
    parser.add_argument("--tracker", choices=(*TRACKERS, "off"), default=TrackerOptions().method,
                        help="how poses keep a person's id from frame to frame (camera and video; ids are in --dump and "
                        "drawn): keypoints (OKS, default), boxes (IoU of the keypoints' boxes) or off (poses coloured by "
                        "their order in each frame)")
    parser.add_argument("--track-memory", type=float_in(0.0, 3600, low_inclusive=False), default=TrackerOptions().max_age_s,
                        metavar="SECONDS", help="how long of the video's time a person unseen keeps their id: longer "
                        "bridges more frames where the network misses someone, at the risk of giving the id to someone "
                        "else (default: %(default)s)")
    parser.add_argument("--no-smooth", action="store_true",
                        help="no One Euro smoothing of tracked keypoints: each frame's poses exactly as posenet decodes them")
    parser.add_argument("--smooth-min-cutoff", type=float_in(1e-3, 100), default=SmoothingOptions().min_cutoff,
                        metavar="HZ", help="how much a still keypoint is smoothed: lower is steadier (default: %(default)s)")
    parser.add_argument("--smooth-beta", type=float_in(0, 1000), default=SmoothingOptions().beta,
                        help="how fast smoothing lets go as a person moves: higher lags less (default: %(default)s)")
    parser.add_argument("--mirror", action="store_true",
                        help="show and record the picture flipped left to right (a selfie view); keypoint names stay "
                        "the person's own: leftWrist is the person's left wrist, drawn on the right")
    add_strict_argument(parser)
    add_verbose_argument(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    photos = {f"photo {p.name}": p for p in folder_photos(args.images)} if args.images is not None else {}
    check_outputs_distinct({"--video": args.video, "--images": args.images, "--model": args.model, **photos},
                           {"--output": args.output, "--dump": args.dump})
    if args.images is not None and args.output is not None and args.output.suffix.lower() in VIDEO_CODECS:
        raise OutputError(f"--output {args.output} looks like a video file, but with --images it is the folder the "
                          "annotated photos go to; give a folder")
    keep_freed_memory()
    from posenet_port.inference.estimator import PoseEstimator
    from posenet_port.inference.stream import (
        CaptureSource,
        DumpSink,
        ImageFolderSource,
        PhotoSink,
        VideoSink,
        WindowSink,
        run_loop,
    )

    if args.images is not None:
        source = ImageFolderSource(args.images, args.max_pixels, args.strict, report_refused)
    else:
        source = CaptureSource(args.video if args.video is not None else (args.camera or 0), args.max_pixels)
    model = args.model
    if model is None:
        choice = choose_model(default_build_dir(), args.threads, args.input_size)
        model = choice.path if choice else None
        print(f"chose {choice.describe()}" if choice else "no checked model in build/ (`make rebuild`): "
              "running the shipped weights in ONNX Runtime", flush=True)
    estimator = PoseEstimator(model, args.input_size, threads=args.threads)
    print(f"model: {printable(model or 'the shipped weights')}, input {estimator.input_size}, output stride "
          f"{estimator.output_stride}", flush=True)
    sinks = [] if args.no_display else [WindowSink()]
    if args.output is not None:
        sinks.append(PhotoSink(args.output) if args.images is not None else VideoSink(args.output, source.fps))
    if args.dump is not None:
        sinks.append(DumpSink(args.dump))
    options = decode_options(args)
    # Photos of a folder are not frames of one scene: they are neither tracked nor smoothed together.
    stream = None if args.tracker == "off" or args.images is not None else PoseStream.with_options(
        TrackerOptions(method=args.tracker, max_age_s=args.track_memory),
        SmoothingOptions(enabled=not args.no_smooth, min_cutoff=args.smooth_min_cutoff, beta=args.smooth_beta))
    stats = run_loop(source, estimator, options, sinks, args.min_keypoint_score, args.max_frames, stream=stream,
                     mirror=args.mirror)
    if stats.frames:
        print(f"{stats.frames} frames in {stats.seconds:.2f} s: {stats.fps:.1f} fps; median inference "
              f"{statistics.median(stats.inference_ms):.2f} ms, decode {statistics.median(stats.decode_ms):.2f} ms")
    for path in (args.output, args.dump):
        if path is not None:
            print(f"wrote {printable(path)}")
    return refused_summary(len(source.refused), len(source.paths)) if args.images is not None else 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
