"""The command lines as an unlucky or hostile user drives them: file names that are not UTF-8, numbers out of
range, NaN, a reader that goes away. Each ends in poses or in one error line, never a crash or a traceback."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, run_module

from posenet_port.inference.decode import DecodeError, decode_multiple_poses
from posenet_port.pipeline.calibration import calibration_photos

SOLVAY = REPO / "posenet_port" / "data" / "solvay1927.jpg"
NOT_UTF8 = os.fsdecode(b"caf\xe9")  # Latin-1 bytes: a valid file name, not valid UTF-8


@pytest.fixture()
def latin1_photo(tmp_path) -> Path:
    folder = tmp_path / NOT_UTF8
    folder.mkdir()
    photo = folder / f"{NOT_UTF8}.jpg"
    shutil.copy(SOLVAY, photo)
    return photo


@pytest.mark.slow
def test_a_photo_whose_name_is_not_utf8_gets_its_poses(latin1_photo, tmp_path):
    result = run_module("estimate", latin1_photo, "--draw", tmp_path / "drawn")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "caf\\udce9.jpg" in result.stdout and "pose(s)" in result.stdout
    assert (tmp_path / "drawn" / f"{NOT_UTF8}_poses.png").stat().st_size > 1000


@pytest.mark.slow
def test_a_folder_and_a_video_whose_names_are_not_utf8(latin1_photo, frozen_pb, tmp_path):
    out = tmp_path / "annotated"
    result = run_module("demo", "--images", latin1_photo.parent, "--model", frozen_pb, "--no-display", "--output", out)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (out / f"{NOT_UTF8}_poses.png").is_file()
    video = run_module("demo", "--video", latin1_photo.with_suffix(".mp4"), "--no-display")
    assert video.returncode == 2 and "not valid UTF-8; rename the file" in video.stderr
    assert "Traceback" not in video.stderr


def test_calibration_reads_photos_whose_names_are_not_utf8(latin1_photo):
    assert [photo.shape for photo in calibration_photos(latin1_photo.parent)] == [(922, 2048, 3)]


@pytest.mark.parametrize(
    "module, args, message",
    [
        ("demo", ["--camera", "-1"], "argument --camera: -1 is out of range"),
        ("demo", ["--threads", "100000"], "argument --threads: 100000 is out of range"),
        ("demo", ["--max-frames", "0"], "argument --max-frames: 0 is out of range"),
        ("estimate", [SOLVAY, "--nms-radius", "nan"], "argument --nms-radius: nan is out of range"),
        ("estimate", [SOLVAY, "--score-threshold", "inf"], "argument --score-threshold: inf is out of range"),
        ("estimate", [SOLVAY, "--input-size", "0"], "argument --input-size: 0 is out of range"),
        ("estimate", [SOLVAY, "--input-size", "100001"], "argument --input-size: 100001 is out of range"),
        ("estimate", [SOLVAY, "--max-poses", "100000000"], "argument --max-poses: 100000000 is out of range"),
        ("list_nodes", [SOLVAY, "--probe-size", "x"], "argument --probe-size: 'x' is not a whole number"),
        ("serve", ["--port", "-1"], "port -1 is not a port number"),
    ],
)
def test_numbers_out_of_range_are_one_error(module, args, message):
    result = run_module(module, *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_the_decoder_refuses_nan_and_never_allocates_for_absurd_pose_counts():
    scores = np.zeros((17, 17, 17), np.float32)
    scores[8, 8, 0] = 0.9
    tensors = (scores, np.zeros((17, 17, 34), np.float32), np.zeros((17, 17, 32), np.float32),
               np.zeros((17, 17, 32), np.float32))
    with pytest.raises(DecodeError, match="NMS radius nan"):
        decode_multiple_poses(*tensors, 16, nms_radius=float("nan"))
    assert len(decode_multiple_poses(*tensors, 16, max_detections=10**12)) == 1


@pytest.mark.slow
def test_output_into_a_closed_pipe_ends_quietly():
    """`estimate ... | head -1`: the reader leaves early; no BrokenPipeError traceback."""
    estimate = subprocess.Popen(
        [sys.executable, "-m", "posenet_port.estimate", *[SOLVAY] * 6, "--json"], cwd=REPO,  # > one pipe buffer
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    estimate.stdout.readline()
    estimate.stdout.close()  # the reader is gone
    _, stderr = estimate.communicate(timeout=600)
    assert "Traceback" not in stderr.decode() and "BrokenPipeError" not in stderr.decode()


@pytest.mark.slow
def test_a_model_whose_name_is_not_utf8_runs(frozen_pb, tmp_path):
    from posenet_port.formats.tflite.export import export_tflite

    model = export_tflite(frozen_pb, tmp_path / f"{NOT_UTF8}.tflite", "float32", 257)
    result = run_module("estimate", SOLVAY, "--model", model)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "pose(s)" in result.stdout


SWALLOWED_CTRL_C = """
import gc, os, signal, sys
from posenet_port.cli.common import run_cli
from posenet_port.pipeline.progress import StepTimer

fired = []

def callback(phase, info):  # what jax (imported by TensorFlow) registers: exceptions raised in it are dropped
    if phase == "start" and not fired:
        fired.append(True)
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10000):  # the SIGINT handler runs here, inside the callback
            pass
        fired.append("the callback ran to its end")

def main(argv):
    gc.callbacks.append(callback)
    gc.collect()
    print("the Ctrl-C stopped the callback" if fired == [True] else fired)
    timer = StepTimer(3)
    for index in range(3):
        with timer.step(f"step {index}"):
            pass
    print("finished every step")
    return 0

sys.exit(run_cli(main, []))
"""


def test_a_ctrl_c_swallowed_by_a_garbage_collector_callback_still_stops_the_command():
    result = subprocess.run([sys.executable, "-c", SWALLOWED_CTRL_C], capture_output=True, text=True, cwd=REPO,
                            timeout=120)
    assert "the Ctrl-C stopped the callback" in result.stdout  # ... and Python dropped its KeyboardInterrupt
    assert result.returncode == 130, result.stderr[-2000:]
    assert "interrupted" in result.stderr and "finished every step" not in result.stdout
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert "[1/3]" not in result.stdout  # stopped at the first step boundary
