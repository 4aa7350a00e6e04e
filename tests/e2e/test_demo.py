"""The OpenCV demo, headless, on a video made from real photos (no camera exists on these machines)."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import photo_paths

from posenet_port.inference.estimator import PoseEstimator

REPO = Path(__file__).resolve().parents[2]
SIZE = (640, 480)


def pan_and_zoom_video(path: Path, frames_per_photo: int = 10, fps: float = 12) -> list[np.ndarray]:
    """A short video panning and zooming over the test photos; returns the frames as written."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, SIZE)
    written = []
    for photo in photo_paths():
        image = cv2.imread(str(photo))
        height, width = image.shape[:2]
        for step in range(frames_per_photo):
            t = step / (frames_per_photo - 1)
            crop_h = int(height * (1.0 - 0.4 * t))
            crop_w = min(width, int(crop_h * SIZE[0] / SIZE[1]))
            x0, y0 = int((width - crop_w) * t), (height - crop_h) // 2
            frame = cv2.resize(image[y0 : y0 + crop_h, x0 : x0 + crop_w], SIZE, interpolation=cv2.INTER_AREA)
            writer.write(frame)
            written.append(frame)
    writer.release()
    return written


def read_frames(path: Path) -> list[np.ndarray]:
    capture, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(frame)


def run_demo(*args):
    return subprocess.run(
        [sys.executable, "-m", "posenet_port.demo", *map(str, args)], capture_output=True, text=True, cwd=REPO,
        timeout=600,
    )


@pytest.mark.slow
def test_demo_on_a_video_writes_annotated_frames_and_poses(tmp_path, frozen_pb):
    video = tmp_path / "pan.mp4"
    pan_and_zoom_video(video)
    source_frames = read_frames(video)  # what the demo will decode, compression included
    out, dump = tmp_path / "annotated.mp4", tmp_path / "poses.jsonl"
    result = run_demo("--video", video, "--model", frozen_pb, "--no-display", "--output", out, "--dump", dump,
                      "--no-smooth")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "fps" in result.stdout
    annotated = read_frames(out)
    assert len(annotated) == len(source_frames) == 20
    assert annotated[0].shape == source_frames[0].shape == (SIZE[1], SIZE[0], 3)
    records = [json.loads(line) for line in dump.read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(20))
    estimator = PoseEstimator(frozen_pb)
    for record, frame in zip(records, source_frames):
        expected = estimator.estimate_poses(frame, color_order="bgr")
        assert len(record["poses"]) == len(expected)
        ids = [pose["id"] for pose in record["poses"]]
        assert len(set(ids)) == len(ids)  # tracked: one id per person in a frame
        for pose, other in zip(record["poses"], expected):
            for k, j in zip(pose["keypoints"], other.keypoints):
                assert abs(k["x"] - j.x) < 1e-3 and abs(k["y"] - j.y) < 1e-3
    # The banner with fps and timings: a dark box in the top-left corner with light text in it.
    for frame in annotated:
        banner = frame[:14, :300].astype(int)
        assert banner.mean() < 80 and (banner > 180).any()


def test_demo_on_a_photo_folder(tmp_path, frozen_pb):
    photos = tmp_path / "photos"
    photos.mkdir()
    for path in photo_paths():
        (photos / path.name).write_bytes(path.read_bytes())
    (photos / "broken.jpg").write_text("not a photo")
    out = tmp_path / "annotated"
    result = run_demo("--images", photos, "--model", frozen_pb, "--no-display", "--output", out)
    # The broken photo is named once on stderr, the others are all annotated, and the exit status says so.
    assert result.returncode == 1, result.stderr[-2000:]
    assert [line for line in result.stderr.splitlines() if line.startswith("refused:")] == [
        f"refused: {photos / 'broken.jpg'}: not a readable image"]
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(f"{p.stem}_poses.png" for p in photo_paths())
    strict = run_demo("--images", photos, "--model", frozen_pb, "--no-display", "--strict")
    assert strict.returncode == 2 and f"error: {photos / 'broken.jpg'}: not a readable image" in strict.stderr


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda d: ["--camera", "7", "--no-display"], "camera 7 did not open"),
        (lambda d: ["--video", d / "missing.mp4", "--no-display"], "missing.mp4: no such video"),
        (lambda d: ["--images", d, "--no-display"], "no photos"),
        (lambda d: ["--video", d / "x.mp4"], "x.mp4: no such video"),
    ],
)
def test_sources_that_cannot_be_read_give_clear_errors(tmp_path, make_args, message):
    result = run_demo(*make_args(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_headless_opencv_says_how_to_get_a_window(tmp_path):
    video = tmp_path / "pan.mp4"
    pan_and_zoom_video(video, frames_per_photo=2)
    if "GUI:                           NONE" not in cv2.getBuildInformation():
        pytest.skip("this OpenCV has a GUI (opencv-python on a desktop): the headless message does not apply")
    result = run_demo("--video", video, "--max-frames", "1")
    assert result.returncode == 2
    assert "pip install opencv-python" in result.stderr and "--no-display" in result.stderr


class RecordingSink:
    """Keeps what the loop hands it; `draws` says whether it asks for annotated frames."""

    def __init__(self, draws: bool) -> None:
        self.draws, self.poses, self.pictures = draws, [], []

    def write(self, result, annotated) -> None:
        self.poses.append(result.poses)
        self.pictures.append(annotated)

    def close(self, completed: bool = True) -> None:
        pass


@pytest.mark.parametrize("with_picture_sink", [False, True])
def test_the_loop_draws_only_when_a_sink_shows_or_saves_pictures(tmp_path, with_picture_sink):
    from posenet_port.inference.estimator import DecodeOptions
    from posenet_port.inference.stream import ImageFolderSource, run_loop

    for path in photo_paths()[:2]:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    estimator = PoseEstimator()
    poses_only, pictures = RecordingSink(draws=False), RecordingSink(draws=True)
    sinks = [poses_only, pictures] if with_picture_sink else [poses_only]
    stats = run_loop(ImageFolderSource(tmp_path), estimator, DecodeOptions(), sinks)
    assert stats.frames == 2
    frames = [cv2.imread(str(tmp_path / name)) for name in sorted(p.name for p in tmp_path.iterdir())]
    for poses, frame in zip(poses_only.poses, frames):  # the same poses whether or not anything is drawn
        expected = estimator.estimate_poses(frame, color_order="bgr")
        assert [[(k.x, k.y) for k in p.keypoints] for p in poses] == [[(k.x, k.y) for k in p.keypoints] for p in expected]
    if with_picture_sink:
        assert all(picture.shape == frame.shape and (picture != frame).any()
                   for picture, frame in zip(pictures.pictures, frames))
    else:
        assert poses_only.pictures == [None, None]  # nothing drew a frame no sink would show


STOPS = {"Ctrl-C": (signal.SIGINT,), "Ctrl-C-twice": (signal.SIGINT, signal.SIGINT), "SIGTERM": (signal.SIGTERM,),
         "SIGHUP": (signal.SIGHUP,), "Ctrl-C-then-SIGTERM": (signal.SIGINT, signal.SIGTERM)}


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    video = tmp_path_factory.mktemp("long") / "long.mp4"
    return video, len(pan_and_zoom_video(video, frames_per_photo=200))


@pytest.mark.parametrize("signals", STOPS.values(), ids=STOPS.keys())
def test_a_stop_signal_ends_the_demo_and_keeps_what_was_recorded(tmp_path, long_video, signals):
    from posenet_port.model.weights import SHIPPED_WEIGHTS

    video, length = long_video
    out, dump = tmp_path / "annotated.mp4", tmp_path / "poses.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "posenet_port.demo", "--video", str(video), "--model", str(SHIPPED_WEIGHTS.model_path),
         "--no-display", "--output", str(out), "--dump", str(dump)], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    while not process.stdout.readline().startswith("model:") and process.poll() is None:
        pass
    time.sleep(1.0)  # some frames in, far from the end
    for number in signals:  # 1 ms apart: a second Ctrl-C used to lose the recording and leave temp folders
        process.send_signal(number)
        time.sleep(0.001)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0 and "Traceback" not in stderr and "interrupted" not in stderr, stderr[-2000:]
    recorded, lines = read_frames(out), dump.read_text().splitlines()
    print(f"{len(recorded)} of {length} frames recorded, {len(lines)} dumped before {signals}")
    # The signal may land between the two sinks' writes of one frame: the video may hold that one frame more.
    assert 0 < len(recorded) < length and len(recorded) - len(lines) in (0, 1)
    assert f"wrote {out}" in stdout and f"wrote {dump}" in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotated.mp4", "poses.jsonl"]  # no temp folder left
