"""A quiet console: the native libraries' log lines are dropped from stderr unless `--verbose` is given.

TensorFlow, LiteRT and the converters write from C++ straight to file descriptor 2, before and regardless of
`TF_CPP_MIN_LOG_LEVEL` (TensorFlow 2.19 logs its CUDA plugin registration at import, through absl): lines a
user reads as failures on a CPU-only machine. So the CLIs route fd 2 through a pipe and a thread that drops the
lines matching NOISE and passes everything else on at once, our own messages and unknown lines included. A
crash trace (faulthandler) goes to the real stderr directly, so a crash is never hidden.
"""
from __future__ import annotations

import faulthandler
import os
import re
import sys
import threading
from contextlib import contextmanager
from typing import Iterator, Sequence

VERBOSE_FLAG = "--verbose"
NOISE = re.compile(
    rb"^(?:"
    rb"[IWEF]\d{4} [\d:.]+ +\d+ [\w.\-]+:\d+\] "  # absl / glog lines from TensorFlow's C++ (I, W, E, F + mmdd)
    rb"|\d{4}-\d\d-\d\d [\d:.]+: [IWEF] [\w./\-]+:\d+\] "  # TensorFlow's own (tsl) log lines
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\."
    rb"|fully_quantize: \d+, inference_type: "  # the TFLite converter's quantizer
    rb"|WARNING:root:Please consider (?:to run )?pre-processing before quantization"  # ONNX Runtime's quantizer
    rb"|To enable the following instructions: .* in other operations, rebuild TensorFlow"
    rb"|This TensorFlow binary is optimized to use available CPU instructions"
    rb")"
)
JOIN_TIMEOUT_S = 2.0  # a child process still holding the pipe must not hold up the exit


def verbose_requested(argv: Sequence[str] | None) -> bool:
    """Whether the command line asks for the native logs (read before parsing: the filter starts first)."""
    return VERBOSE_FLAG in (sys.argv[1:] if argv is None else argv)


@contextmanager
def native_noise_filtered(verbose: bool = False) -> Iterator[None]:
    """Within the block, lines on fd 2 that match NOISE are dropped (all pass when `verbose`)."""
    try:
        real_stderr = sys.stderr.fileno() == 2
    except (AttributeError, ValueError, OSError):  # a test's capture object: nothing native to filter
        real_stderr = False
    if verbose or not real_stderr:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    crash_stream, crash_handler_was_on = os.fdopen(os.dup(saved), "w"), faulthandler.is_enabled()
    faulthandler.enable(file=crash_stream)
    worker = threading.Thread(target=_pass_on, args=(read_end, saved), daemon=True, name="stderr-filter")
    worker.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes our copy of the pipe's write end: the worker sees its end
        worker.join(JOIN_TIMEOUT_S)
        faulthandler.disable()
        if crash_handler_was_on:
            faulthandler.enable(file=sys.stderr)
        crash_stream.close()
        os.close(saved)


def _pass_on(read_end: int, target: int) -> None:
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        for line in iter(pipe.readline, b""):
            if not NOISE.match(line):
                _write_all(target, line)


def _write_all(fd: int, data: bytes) -> None:
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        pass  # the reader of our stderr went away; nothing more to say
