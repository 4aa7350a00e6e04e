"""The exported tfjs models in the real page, in Debian's chromium (headless), served by `posenet_port.web.server`."""
from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import photo_paths, run_module, tfjs_pipeline_poses

from posenet_port._util.nodejs import run_node_script
from posenet_port.formats.artifacts import MANIFEST_NAME, spec_from_manifest
from posenet_port.inference.preprocess import load_image
from posenet_port.web.server import ServeError, make_server

CHROMIUM = "/usr/bin/chromium"
STEM = "posenet_mobilenet_v1_075_stride16_tfjs_"
TOLERANCE_PX = {"float16": 2.0, "uint8-mixed": 5.0}


@pytest.fixture(scope="module")
def browser(node_oracle):
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(f"NOT RUN: {message}")
    return CHROMIUM


def serve(build_dir: Path):
    server = make_server(build_dir, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def open_page(server, work: Path, model: str, photo: Path | None = None, screenshot: Path | None = None) -> dict:
    request = {
        "url": f"http://127.0.0.1:{server.server_address[1]}/?model={model}",
        "photo": str(photo) if photo else None,
        "screenshot": str(screenshot) if screenshot else None,
        "outFile": str(work / f"{model}.json"),
        "chromium": CHROMIUM,
        "timeoutMs": 120000,
    }
    return run_node_script("browser_check.js", request, work / f"{model}.json", 300, f"chromium on {model}")


def png_copies(work: Path) -> list[Path]:
    """The test photos as PNG: the browser and OpenCV then decode the very same pixels (JPEG decoders differ)."""
    paths = []
    for photo in photo_paths():
        path = work / f"{photo.stem}.png"
        cv2.imwrite(str(path), cv2.imread(str(photo)))
        paths.append(path)
    return paths


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["float16", "uint8-mixed"])
def test_page_finds_the_poses_our_pipeline_finds(browser, rebuilt, tmp_path, variant):
    server = serve(rebuilt)
    try:
        for index, photo in enumerate(png_copies(tmp_path)):
            shot = tmp_path / "page.png" if (variant == "float16" and index == 1) else None
            page = open_page(server, tmp_path, STEM + variant, photo, shot)
            assert page["modelReady"] and page["backend"] == "wasm", page
            ours = tfjs_pipeline_poses(rebuilt / (STEM + variant) / "model.json", [load_image(photo)])[0]
            theirs = page["poses"]
            assert len(theirs) == len(ours) >= 1
            for a, b in zip(ours, theirs):
                for k, j in zip(a.keypoints, b["keypoints"]):
                    if k.score > 0.5:
                        distance = np.hypot(k.x - j["position"]["x"], k.y - j["position"]["y"])
                        assert distance <= TOLERANCE_PX[variant], (photo.name, k.part, distance)
            assert f"{len(ours)} poses in" in page["statusText"]
            assert page["settings"] == {"architecture": "MobileNetV1", "multiplier": 0.75, "outputStride": 16,
                                        "inputResolution": 257}, page  # as the manifest's spec records
    finally:
        server.shutdown()
    if variant == "float16":
        screenshot = cv2.imread(str(tmp_path / "page.png"))  # the README's docs/browser.png is one of these
        assert screenshot is not None and screenshot.shape[0] > 500


@pytest.mark.slow
def test_page_reports_a_model_that_fails_to_load(browser, rebuilt, tmp_path):
    build = tmp_path / "broken_build"
    source = rebuilt / (STEM + "float16")
    missing_shard = build / "missing_shard"
    shutil.copytree(source, missing_shard)
    for shard in missing_shard.glob("*.bin"):
        shard.unlink()
    not_posenet = build / "not_posenet"
    shutil.copytree(source, not_posenet)
    document = json.loads((not_posenet / "model.json").read_text())
    document["signature"]["outputs"] = dict(list(document["signature"]["outputs"].items())[:1])
    (not_posenet / "model.json").write_text(json.dumps(document))
    shutil.copytree(source, build / "foreign")  # a model no manifest vouches for: its stride is unknown
    spec = spec_from_manifest(source / "model.json").to_dict()
    manifest = {"artifacts": [{"path": f"{name}/model.json", "spec": spec} for name in ("missing_shard", "not_posenet")]}
    (build / MANIFEST_NAME).write_text(json.dumps(manifest))
    server = serve(build)
    try:
        for name, why in (("missing_shard", ""), ("not_posenet", "not a PoseNet model"), ("foreign", "no model spec")):
            page = open_page(server, tmp_path, name)
            assert not page["modelReady"]
            # loads or not, posenet cannot use it: the page must say why, not decode garbage
            assert page["errorText"].startswith(f"Could not load model {name}") and why in page["errorText"], page
    finally:
        server.shutdown()


def test_serve_refuses_a_missing_build_and_a_busy_port(tmp_path):
    result = run_module("serve", "--build", tmp_path / "nowhere")
    assert result.returncode == 2 and "no build folder; run `make rebuild` first" in result.stderr
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.json").write_text("{}")
    busy = make_server(tmp_path, 0)
    try:
        with pytest.raises(ServeError, match=f"port {busy.server_address[1]} is already in use"):
            make_server(tmp_path, busy.server_address[1])
    finally:
        busy.server_close()


CLIP_FRAMES, CLIP_FPS = 30, 10.0
CLIP_BOX = (384, 120, 768, 408)  # x0, y0, x1, y1 of vtest.avi where people walk: 60 px tall at the page's 257


def clip_frames(work: Path) -> list[dict]:
    """The first 3 s of vtest.avi (videos/README.md), cropped to where people walk, as PNG frames with their
    timestamps."""
    from posenet_port.pipeline.photos import VTEST, video_frames

    x0, y0, x1, y1 = CLIP_BOX
    frames = []
    for index, image in enumerate(video_frames(VTEST, CLIP_FRAMES)):
        path = work / f"frame_{index:03d}.png"
        cv2.imwrite(str(path), image[y0:y1, x0:x1])
        frames.append({"path": str(path), "timestamp": index / CLIP_FPS})
    return frames


def page_pose(pose: dict):
    from posenet_port.inference.decode import Keypoint, Pose

    return Pose(pose["score"], tuple(Keypoint(k["part"], k["position"]["x"], k["position"]["y"], k["score"])
                                     for k in pose["keypoints"]))


@pytest.mark.slow
def test_page_tracks_and_smooths_a_clip_as_the_python_stream_does(browser, rebuilt, tmp_path):
    from posenet_port.inference.tracking import PoseStream, SmoothingOptions, TrackerOptions

    frames = clip_frames(tmp_path)
    request = {"url": "", "frames": frames, "outFile": str(tmp_path / "clip.json"), "chromium": CHROMIUM,
               "timeoutMs": 300000}
    server = serve(rebuilt)
    try:
        request["url"] = f"http://127.0.0.1:{server.server_address[1]}/?model={STEM}float16"
        page = run_node_script("browser_check.js", request, tmp_path / "clip.json", 600, "chromium on a clip")
    finally:
        server.shutdown()
    assert page["modelReady"] and page["tracking"]["trackOption"], page  # tracking is on by default
    # The page's defaults are the Python options' defaults, field by field.
    assert page["tracking"]["tracker"] == {"method": "keypoints", **{_camel(k): v for k, v in vars(TrackerOptions()).items()
                                                                  if k != "method"}}
    assert page["tracking"]["smoothing"] == {_camel(k): v for k, v in vars(SmoothingOptions()).items()}
    # The Python stream on the page's own poses, frame by frame: the same ids, the same smoothed keypoints.
    stream, worst, worst_score, tracked_poses = PoseStream(), 0.0, 0.0, 0
    for frame, result in zip(frames, page["clip"]):
        ours = stream.update([page_pose(p) for p in result["poses"]], frame["timestamp"])
        theirs = result["tracked"]
        assert [t.track_id for t in ours] == [t["id"] for t in theirs], frame
        for a, b in zip(ours, theirs):
            for k, j in zip(a.pose.keypoints, b["pose"]["keypoints"]):
                worst = max(worst, abs(k.x - j["position"]["x"]), abs(k.y - j["position"]["y"]))
                worst_score = max(worst_score, abs(k.score - j["score"]))
            tracked_poses += 1
    print(f"page vs Python stream on {len(frames)} frames, {tracked_poses} tracked poses: ids equal, largest "
          f"difference of a smoothed coordinate {worst:.2e} px (bound 0.5 px), of a smoothed score {worst_score:.2e}")
    # Both compute in float64 with the same steps: a score differs by float64 rounding at most (1e-9 is ample).
    assert worst <= 0.5 and worst_score <= 1e-9
    assert tracked_poses >= 2 * len(frames) and len({t["id"] for r in page["clip"] for t in r["tracked"]}) >= 2


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
