"""Shared plumbing for the command-line layers: clean errors, step timing, sizes."""
from __future__ import annotations

import argparse
import math
import os
import sys
import threading
from typing import Callable, Sequence

from posenet_port.cli.quiet import VERBOSE_FLAG, native_noise_filtered, verbose_requested
from posenet_port.errors import (
    PosenetPortError,
    check_interrupted,
    finishing,
    handle_interrupts,
    stop_signal,
)
from posenet_port.formats.registry import FORMATS
from posenet_port.inference.decode import DEFAULT_DECODE, DecodeOptions
from posenet_port.inference.preprocess import MAX_PIXELS
from posenet_port.model.architecture import MAX_INPUT_SIZE
from posenet_port.model.spec import DEFAULT_INPUT_SIZE

EXIT_REFUSED = 1  # the batch ran, but some of its photos were refused (each said why on stderr)
EXIT_ERROR = 2


def run_cli(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run a CLI body: our own errors become one `error:` line and a non-zero exit, not a traceback; the native
    libraries' log lines are left out unless `--verbose` is given (quiet.py)."""
    if sys.stdout is None:  # started with stdout closed (`>&-`): every result would be lost without a word
        if sys.stderr is not None:
            print("error: standard output is closed: the results would be lost; run it with an open stdout "
                  "(a file or a pipe)", file=sys.stderr)
        return EXIT_ERROR
    for stream in (sys.stdout, sys.stderr):
        # A file name that is not valid UTF-8 prints with escapes instead of raising mid-output.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    with native_noise_filtered(verbose_requested(argv)):
        return _run_cli(main, argv)


def add_verbose_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(VERBOSE_FLAG, action="store_true",
                        help="also show TensorFlow's, LiteRT's and the converters' own log lines (hidden by default)")


def _run_cli(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None) -> int:
    if threading.current_thread() is threading.main_thread():
        handle_interrupts()
    try:
        status = main(argv)
        check_interrupted()
        return status
    except PosenetPortError as error:
        print(f"error: {printable(error)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        stopped_by = stop_signal()
        print(f"interrupted ({stopped_by.name}): no partial artifact was left under its final name", file=sys.stderr)
        return 128 + stopped_by  # what a shell reports for a command a signal ended
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly; Python's own flush at exit must not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except OSError as error:  # an output that cannot be written: read-only, a file where a folder goes, disk full
        where = f"{error.filename}: " if error.filename else ""
        print(f"error: {where}{error.strerror or error}; nothing was written under its final name", file=sys.stderr)
        return EXIT_ERROR
    finally:
        # However it ended, what it wrote is settled and reported. Python puts its signal handlers back to the
        # default as it exits, so a late Ctrl-C (TensorFlow tears down for seconds after the last line) would
        # end the process by the signal instead of the status just reported.
        finishing()


def add_strict_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first photo that cannot be read (default: say which and why on stderr, go "
                        "on with the others, and exit with status 1 at the end)")


def report_refused(error: PosenetPortError) -> None:
    """One line on stderr for a photo a batch goes on without."""
    print(f"refused: {printable(error)}", file=sys.stderr, flush=True)


def refused_summary(refused: int, total: int) -> int:
    """The exit status of a batch, with a last line when photos were refused."""
    if not refused:
        return 0
    print(f"{refused} of {total} photos refused (listed above); the others got their poses", file=sys.stderr)
    return EXIT_REFUSED


def int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer within [low, high] (no upper bound if None)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            within = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: use a whole number {within}")
        return value
    return parse


def float_in(low: float, high: float | None = None, low_inclusive: bool = True) -> Callable[[str], float]:
    """An argparse type: a finite number within [low, high] ((low, high] if not low_inclusive)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        above_low = value >= low if low_inclusive else value > low
        if not (math.isfinite(value) and above_low and (high is None or value <= high)):
            bound = "of at least" if low_inclusive else "above"
            within = f"{bound} {low:g}" + (f" and at most {high:g}" if high is not None else "")
            raise argparse.ArgumentTypeError(f"{text} is out of range: use a finite number {within}")
        return value
    return parse


def printable(value: object) -> str:
    """A file name as one line of text: control characters (a newline in a name could fake a result line) are
    written as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(value))


def model_files_help() -> str:
    """The model files the commands run, from the format registry: `frozen graph (.pb), TFLite (.tflite), ...`."""
    kinds = [f"{fmt.title} ({', '.join(fmt.suffixes) or 'folder'})" for fmt in FORMATS.values()
             if fmt.in_process and (fmt.suffixes or fmt.folder_marker)]
    return ", ".join(kinds)


def decode_options(args: argparse.Namespace) -> DecodeOptions:
    """The decoding settings `add_pose_arguments` parsed."""
    return DecodeOptions(single=args.single, max_poses=args.max_poses, score_threshold=args.score_threshold,
                         nms_radius=args.nms_radius)


def add_pose_arguments(parser: argparse.ArgumentParser) -> None:
    """The input size and decoding settings that `estimate` and `demo` share, each checked as it is parsed."""
    parser.add_argument("--input-size", type=int_in(1, MAX_INPUT_SIZE), default=None,
                        help=f"network input size, k * stride + 1 (default: {DEFAULT_INPUT_SIZE}, or the size a .tflite model takes)")
    parser.add_argument("--single", action="store_true", help="single-pose decoding (one person, argmax per keypoint)")
    parser.add_argument("--max-poses", type=int_in(1, 1000), default=DEFAULT_DECODE.max_poses,
                        help=f"most poses per photo (default: {DEFAULT_DECODE.max_poses})")
    parser.add_argument("--score-threshold", type=float_in(0.0, 1.0), default=DEFAULT_DECODE.score_threshold,
                        help=f"root keypoint score threshold (default: {DEFAULT_DECODE.score_threshold})")
    parser.add_argument("--nms-radius", type=float_in(0.0, None, low_inclusive=False), default=DEFAULT_DECODE.nms_radius,
                        help=f"NMS radius in input pixels (default: {DEFAULT_DECODE.nms_radius})")
    parser.add_argument("--min-keypoint-score", type=float_in(0.0, 1.0), default=0.5,
                        help="keypoints drawn from this score (default: 0.5)")
    parser.add_argument("--max-pixels", type=int_in(1), default=MAX_PIXELS,
                        help=f"largest photo decoded, in pixels (default: {MAX_PIXELS:,}): a bound on memory")
