"""A quiet console: native log lines are dropped from stderr unless --verbose; our lines and crashes get through."""
from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import REPO, run_module

from posenet_port.cli.console import COMMANDS
from posenet_port.cli.quiet import NOISE

NATIVE_NOISE = [
    "E0000 00:00:1795451273.465103   23160 cuda_dnn.cc:8579] Unable to register cuDNN factory",
    "2026-11-23 16:28:50.734144: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:467] Unable to register cuFFT",
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
]
SCRIPT = """
import os, sys
from posenet_port.cli.quiet import native_noise_filtered
with native_noise_filtered(verbose=sys.argv[1] == "verbose"):
    for line in sys.argv[2:]:
        os.write(2, (line + "\\n").encode())  # as C++ writes: straight to the file descriptor
        print("ours: " + line[:5], file=sys.stderr)
    if sys.argv[1] == "crash":
        import ctypes
        ctypes.string_at(0)
"""


def run_script(mode: str) -> subprocess.CompletedProcess:
    lines = [*NATIVE_NOISE, "error: a native line we do not know"]
    return subprocess.run([sys.executable, "-c", SCRIPT, mode, *lines], capture_output=True, text=True, cwd=REPO,
                          timeout=60)


def test_native_noise_is_dropped_and_everything_else_passes_in_order():
    quiet = run_script("quiet").stderr.splitlines()
    assert quiet == [f"ours: {line[:5]}" for line in NATIVE_NOISE] + ["error: a native line we do not know", "ours: error"]
    verbose = run_script("verbose").stderr.splitlines()
    assert [line for line in verbose if line not in NATIVE_NOISE] == quiet and len(verbose) == len(quiet) + len(NATIVE_NOISE)


def test_a_crash_inside_the_filter_is_still_reported():
    result = run_script("crash")
    assert result.returncode != 0 and "Segmentation fault" in result.stderr, result.stderr[-2000:]


def test_a_cli_that_loads_tensorflow_prints_no_native_lines_unless_verbose(frozen_pb):
    quiet = run_module("list_nodes", frozen_pb, "--ops")
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    verbose = run_module("list_nodes", frozen_pb, "--ops", "--verbose")
    native = [line for line in verbose.stderr.splitlines() if NOISE.match(line.encode())]
    print(f"--verbose shows {len(native)} native log lines")
    assert verbose.returncode == 0 and native and verbose.stdout == quiet.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_commands_help_is_all_a_user_sees(command):
    # finetune loads TensorFlow when its module is imported: that import must happen inside the filter too.
    result = run_module(command, "--help")
    assert result.returncode == 0 and result.stdout.startswith("usage:") and result.stderr == "", result.stderr
