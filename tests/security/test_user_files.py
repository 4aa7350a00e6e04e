"""No input is ever overwritten or deleted, every result is delivered or the command fails, no file name can fake
a line of output, and odd arguments end in one error line, not a traceback (each case once lost a user's file,
lied, or crashed)."""
from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import REPO, run_module, write_checkpoint

from posenet_port.errors import ConfigError, ModelFileError
from posenet_port.inference.estimator import PoseEstimator
from posenet_port.inference.preprocess import load_image
from posenet_port.model.weights import SHIPPED_WEIGHTS
from posenet_port.pipeline.run import RebuildOptions, rebuild

PHOTO = REPO / "posenet_port" / "data" / "people" / "person-lexi.jpg"


def one_error_line(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 2 and message in result.stderr, (result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("kind", ["checkpoint", "graph model"])
def test_rebuild_never_writes_into_the_weights_folder(shipped_weights, tmp_path, kind):
    if kind == "checkpoint":
        folder = write_checkpoint(shipped_weights, tmp_path / "ckpt").parent
    else:
        folder = tmp_path / "graph"
        shutil.copytree(SHIPPED_WEIGHTS.directory, folder)
    before = snapshot(folder)
    with pytest.raises(ConfigError, match="is the --weights folder"):
        rebuild(RebuildOptions(weights=folder, out_dir=folder, formats=()))
    assert snapshot(folder) == before


def test_rebuild_never_replaces_a_manifest_it_did_not_write(shipped_weights, tmp_path):
    checkpoint = write_checkpoint(shipped_weights, tmp_path / "ckpt")
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(checkpoint, out / "manifest.json")
    with pytest.raises(ConfigError, match="not a manifest rebuild wrote"):
        rebuild(RebuildOptions(out_dir=out, formats=()))
    assert (out / "manifest.json").read_bytes() == checkpoint.read_bytes()


def test_a_checkpoint_folder_is_weights_not_a_build(shipped_weights, tmp_path):
    folder = write_checkpoint(shipped_weights, tmp_path / "ckpt").parent
    estimator = PoseEstimator(folder)
    assert estimator.choice is None and estimator.estimate_poses(load_image(PHOTO))


def test_estimate_never_draws_over_a_photo_it_estimates(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(PHOTO, photos / "a.jpg")
    shutil.copy(PHOTO, photos / "a_poses.png")  # a photo whose name is a's drawing
    before = (photos / "a_poses.png").read_bytes()
    result = run_module("estimate", photos / "a.jpg", photos / "a_poses.png", "--draw", photos)
    assert result.returncode == 0, result.stderr
    assert (photos / "a_poses.png").read_bytes() == before
    assert (photos / "a-2_poses.png").is_file() and (photos / "a_poses_poses.png").is_file()


def test_demo_never_dumps_over_a_photo_of_its_folder(tmp_path):
    shutil.copy(PHOTO, tmp_path / "b.jpg")
    before = (tmp_path / "b.jpg").read_bytes()
    result = run_module("demo", "--images", tmp_path, "--no-display", "--dump", tmp_path / "b.jpg")
    one_error_line(result, "the same file as photo b.jpg")
    assert (tmp_path / "b.jpg").read_bytes() == before


def test_demo_refuses_a_video_name_as_the_folder_for_annotated_photos(tmp_path):
    shutil.copy(PHOTO, tmp_path / "b.jpg")
    result = run_module("demo", "--images", tmp_path, "--no-display", "--output", tmp_path / "x.mp4")
    one_error_line(result, "looks like a video file")
    assert not (tmp_path / "x.mp4").exists()


def test_a_photo_given_as_a_video_is_refused_before_it_is_decoded(tmp_path):
    result = run_module("demo", "--video", PHOTO, "--no-display")
    one_error_line(result, "is a photo, not a video")


@pytest.mark.parametrize("module, args", [
    ("estimate", [PHOTO]),
    ("list_nodes", [SHIPPED_WEIGHTS.model_path]),
])
def test_a_closed_stdout_is_an_error_not_lost_results(module, args):
    result = subprocess.run(f'"{sys.executable}" -m posenet_port.{module} ' + " ".join(f'"{a}"' for a in args) + " >&-",
                            shell=True, capture_output=True, text=True, cwd=REPO, timeout=600)
    one_error_line(result, "standard output is closed")


def test_a_file_name_cannot_fake_a_line_of_output(tmp_path):
    crafted = tmp_path / "x.jpg\n  pose 9: score 1.000, all 17 keypoints\ny.jpg"
    shutil.copy(PHOTO, crafted)
    result = run_module("estimate", crafted)
    assert result.returncode == 0, result.stderr
    assert "\n  pose 9:" not in result.stdout and "\\n  pose 9:" in result.stdout


def png(width: int, height: int, after_end: bytes = b"") -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + b"\x80" * (3 * width) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"") + after_end)


def test_bytes_after_a_pngs_end_are_ignored_not_called_a_cut(tmp_path):
    path = tmp_path / "tail.png"
    path.write_bytes(png(16, 12, after_end=b"appended by some tool"))
    assert load_image(path).shape == (12, 16, 3)


def test_the_pixel_limit_error_says_the_numbers(tmp_path):
    path = tmp_path / "small.png"
    path.write_bytes(png(16, 12))
    result = run_module("estimate", path, "--max-pixels", "1", "--strict")
    one_error_line(result, "16x12 is 192 pixels, over the limit of 1")


def test_weights_that_are_a_device_are_named_as_such():
    result = run_module("estimate", PHOTO, "--model", "/dev/null")
    one_error_line(result, "not a regular file or a folder")


def test_heatmaps_of_a_photo_of_extreme_shape_are_drawn(tmp_path):
    path = tmp_path / "strip.png"
    path.write_bytes(png(6000, 2))
    result = run_module("estimate", path, "--draw", tmp_path / "out", "--heatmaps")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert (tmp_path / "out" / "strip_heatmaps.png").stat().st_size > 0


@pytest.mark.parametrize("threads", [0, -1, 10**6, 2.5, True])
def test_thread_counts_a_runtime_cannot_take_are_refused(threads):
    with pytest.raises(ConfigError, match="threads"):
        PoseEstimator(threads=threads)


def test_an_input_size_that_is_not_a_whole_number_is_refused():
    with pytest.raises(ConfigError, match="not a whole number"):
        PoseEstimator(input_size=257.0)


@pytest.mark.parametrize("runs", ["0", "-5"])
def test_bench_refuses_run_counts_below_one(runs):
    one_error_line(run_module("bench", "--runs", runs, "--sections", "decode"), "out of range")


def test_an_onnx_model_whose_outputs_are_not_images_is_refused(tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    inputs = [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, None, None, 3])]
    heads = ["heatmap_2", "offset_2", "displacement_fwd_2", "displacement_bwd_2"]
    flat = numpy_helper.from_array(np.array([-1], np.int64), "flat")
    nodes = [helper.make_node("Reshape", ["image", "flat"], [name]) for name in heads]
    outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [None]) for name in heads]
    graph = helper.make_graph(nodes, "rank1", inputs, outputs, initializer=[flat])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "rank1.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelFileError, match="PoseNet's are"):
        PoseEstimator(path)


def test_calibration_holds_a_bounded_number_of_bounded_photos(tmp_path, capsys):
    """10,000 tiny photos used to build 15.5 GB of batches; 64 photos of 50 MP would hold 9.6 GB decoded."""
    import cv2
    import numpy as np

    from posenet_port.pipeline.calibration import MAX_CALIBRATION_PHOTOS, MAX_CALIBRATION_SIDE, calibration_photos

    tiny = cv2.imencode(".png", np.full((8, 8, 3), 128, np.uint8))[1].tobytes()
    for index in range(MAX_CALIBRATION_PHOTOS + 5):
        (tmp_path / f"p{index:03d}.png").write_bytes(tiny)
    large = np.random.default_rng(0).integers(0, 255, (2400, 3000, 3), np.uint8)
    cv2.imwrite(str(tmp_path / "a-large.png"), large)  # sorts first
    photos = calibration_photos(tmp_path)
    assert len(photos) == MAX_CALIBRATION_PHOTOS
    assert photos[0].shape == (1638, MAX_CALIBRATION_SIDE, 3)  # 2400 * 2048 / 3000, rounded
    assert all(p.shape == (8, 8, 3) for p in photos[1:])
    assert f"the first {MAX_CALIBRATION_PHOTOS} readable photos" in capsys.readouterr().out


def test_a_video_stating_an_absurd_frame_rate_is_read_at_30_fps(tmp_path):
    """A container may state any rate: 4.7e-10 fps once ended in "OpenCV cannot write this video"."""
    video, output = tmp_path / "slow.avi", tmp_path / "out.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for _ in range(3):
        writer.write(cv2.resize(load_image(PHOTO), (160, 120)))
    writer.release()
    data = bytearray(video.read_bytes())
    header = data.find(b"strh") + 8  # AVI stream header: the rate is dwRate / dwScale, at bytes 20 and 24
    struct.pack_into("<II", data, header + 20, 2_127_659_574, 1)
    video.write_bytes(data)
    assert cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FPS) < 1e-9
    result = run_module("demo", "--video", video, "--no-display", "--output", output)
    assert result.returncode == 0, result.stderr[-2000:]
    written = cv2.VideoCapture(str(output))
    assert written.get(cv2.CAP_PROP_FPS) == 30 and written.get(cv2.CAP_PROP_FRAME_COUNT) == 3
