"""`python -m posenet_port.finetune`: fine-tune PoseNet under simulated int8 arithmetic, taught by the float graph,
and write the weights with their provenance (the library: posenet_port/training/finetune.py)."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Sequence

from posenet_port._util.fileio import check_outputs_distinct, write_bytes_atomic
from posenet_port.cli.common import add_verbose_argument, float_in, int_in
from posenet_port.model.architecture import MAX_INPUT_SIZE
from posenet_port.model.weights import load_weights
from posenet_port.model.weights.shipped import FINETUNED_INT8, SHIPPED_WEIGHTS
from posenet_port.pipeline.photos import VTEST
from posenet_port.training.finetune import FinetuneConfig, finetune, provenance

DEFAULTS = FinetuneConfig()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m posenet_port.finetune",
        description="Fine-tune PoseNet so that its full-integer int8 model keeps the float model's keypoints: the "
        "network with int8 arithmetic simulated learns to match the float graph's outputs on random views of the "
        "tuning photos and of vtest.avi's frames (never the validation photos). Writes the weights (.npz) and "
        "their provenance (.json). rebuild does not export from them yet: fine-tuned so far, the int8 model stays below "
        "the 1-byte floor (research/int8_finetune.md).",
    )
    parser.add_argument("--weights", help="PoseNet weights to start from (default: the shipped ones)")
    parser.add_argument("--out", type=Path, default=FINETUNED_INT8,
                        help="the fine-tuned weights; the provenance goes beside it as .json (default: "
                        f"weights/{FINETUNED_INT8.parent.name}/{FINETUNED_INT8.name} in the checkout)")
    parser.add_argument("--steps", type=int_in(0), default=DEFAULTS.steps, help=f"training steps (default: {DEFAULTS.steps})")
    parser.add_argument("--batch", type=int_in(1, 64), default=DEFAULTS.batch, help=f"random views per step (default: {DEFAULTS.batch})")
    parser.add_argument("--learning-rate", type=float_in(0, 1, low_inclusive=False), default=DEFAULTS.learning_rate,
                        help=f"Adam's (default: {DEFAULTS.learning_rate})")
    parser.add_argument("--seed", type=int_in(0), default=DEFAULTS.seed, help=f"of the views and the calibration: the same seed gives the same run (default: {DEFAULTS.seed})")
    parser.add_argument("--input-size", type=int_in(33, MAX_INPUT_SIZE), default=DEFAULTS.input_size,
                        help=f"training and judging input size (default: {DEFAULTS.input_size})")
    parser.add_argument("--video-every", type=int_in(0), default=DEFAULTS.video_every,
                        help="train on every n-th frame of vtest.avi besides the tuning photos; 0: on the photos alone "
                        f"(default: {DEFAULTS.video_every})")
    parser.add_argument("--start", choices=("gptq", "float"), default=DEFAULTS.start,
                        help="the first weights: on the int8 grid GPTQ chooses, or the float ones "
                        f"(default: {DEFAULTS.start})")
    parser.add_argument("--train", choices=("all", "biases"), default=DEFAULTS.train,
                        help="what moves: kernels, biases and activation ranges, or only biases and ranges "
                        f"(default: {DEFAULTS.train})")
    add_verbose_argument(parser)
    return parser


def check_outputs_apart(args: argparse.Namespace) -> None:
    """Before any work: neither written file may replace the other, a weight file or the training video."""
    given = Path(args.weights) if args.weights else SHIPPED_WEIGHTS.directory
    folder = given if given.is_dir() else given.parent
    inputs = {f"the weight file {path.name}:": path for path in folder.iterdir() if path.is_file()} if folder.is_dir() else {}
    check_outputs_distinct({**inputs, "training video": VTEST},
                           {"--out": args.out, "its provenance": args.out.with_suffix(".json")})


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_outputs_apart(args)
    config = FinetuneConfig(steps=args.steps, batch=args.batch, learning_rate=args.learning_rate, seed=args.seed,
                            input_size=args.input_size, video_every=args.video_every, start=args.start,
                            train=args.train)
    weights = load_weights(args.weights)
    result = finetune(weights, config, progress=lambda line: print(line, flush=True))
    data = result.model.to_bytes()
    command = "python -m posenet_port.finetune " + shlex.join(sys.argv[1:] if argv is None else argv)
    record = provenance(result, weights, command, data)
    write_bytes_atomic(args.out, data)
    write_bytes_atomic(args.out.with_suffix(".json"), (json.dumps(record, indent=2) + "\n").encode())
    print(f"wrote {args.out} and its provenance {args.out.with_suffix('.json')}")
    return 0
