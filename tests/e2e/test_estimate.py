"""Photos -> poses end to end: against posenet 2.2.2's estimateMultiplePoses in node, and the CLI."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import photo_paths, run_module
from helpers.parity import float32_bound

from posenet_port.errors import ConfigError
from posenet_port.formats.artifacts import MANIFEST_NAME
from posenet_port.inference.decode import DecodeError
from posenet_port.inference.estimator import WEIGHT_ENGINES, DecodeOptions, PoseEstimator
from posenet_port.inference.preprocess import load_image
from posenet_port.model.spec import ModelSpec
from posenet_port.model.weights import SHIPPED_WEIGHTS
from posenet_port.oracle.posenet_js import DecodeSettings, PosenetJs

REPO = Path(__file__).resolve().parents[2]
KEYPOINT_TOLERANCE = 2.0  # px, keypoints with score > 0.5
# TF and tfjs agree within float32 rounding (tests/helpers/parity.py), exactly on some CPUs and not on others: heatmap
# logits (|logit| < 16 here) within the parity bound, so scores (sigmoids, slope <= 1/4) within a quarter of it.
SCORE_TOLERANCE = float32_bound(16.0) / 4


@pytest.fixture(scope="module")
def photos():
    return [load_image(path) for path in photo_paths()]


@pytest.fixture(scope="module", params=WEIGHT_ENGINES)
def estimator(request, shipped_weights):
    """The shipped weights run by each engine: ONNX Runtime (the default) and the TF graph."""
    return PoseEstimator(engine=request.param)


def max_keypoint_distance(ours, theirs, min_score=0.5) -> float:
    assert len(ours) == len(theirs)
    distances = [
        max(abs(a.x - b.x), abs(a.y - b.y))
        for p, q in zip(ours, theirs)
        for a, b in zip(p.keypoints, q.keypoints)
        if a.score > min_score
    ]
    return max(distances, default=0.0)


@pytest.mark.slow
@pytest.mark.node
@pytest.mark.parametrize("single", [False, True], ids=["multi", "single"])
def test_estimate_poses_matches_posenet_in_node(node_oracle, estimator, photos, single):
    reference = PosenetJs().estimate(SHIPPED_WEIGHTS.model_path, photos, DecodeSettings(single=single))
    for rgb, theirs in zip(photos, reference):
        ours = estimator.estimate_poses(rgb, DecodeOptions(single=single))
        assert len(ours) == len(theirs)
        score_difference = max((abs(p.score - q.score) for p, q in zip(ours, theirs)), default=0.0)
        distance = max_keypoint_distance(ours, theirs)
        print(f"{len(ours)} poses: scores within {score_difference:.2g}, keypoints within {distance:.3f} px")
        assert score_difference <= SCORE_TOLERANCE
        assert distance <= KEYPOINT_TOLERANCE
    assert len(reference[1]) == 1 if single else len(reference[1]) >= 5, "the Solvay photo: several poses"


@pytest.mark.slow
def test_frozen_graph_gives_the_same_poses_as_the_weights(frozen_pb, photos):
    from_weights, from_pb = PoseEstimator(engine="tensorflow"), PoseEstimator(frozen_pb)
    assert from_pb.output_stride == 16
    for rgb in photos:
        ours, theirs = from_weights.estimate_poses(rgb), from_pb.estimate_poses(rgb)
        assert max_keypoint_distance(ours, theirs, min_score=0.0) <= 1e-3


def test_the_default_engine_runs_weights_without_tensorflow():
    code = ("import sys; from posenet_port.inference.estimator import PoseEstimator; e = PoseEstimator(); "
            "print(type(e.runner).__name__, 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.stdout.split() == ["OnnxRunner", "False"], result.stderr[-2000:]


def test_an_engine_for_a_model_file_is_refused(frozen_pb):
    with pytest.raises(ConfigError, match="run by its own runtime: drop --engine"):
        PoseEstimator(frozen_pb, engine="onnxruntime")
    with pytest.raises(ConfigError, match="engine 'torch': choose one of onnxruntime, tensorflow"):
        PoseEstimator(engine="torch")


def test_stride_that_does_not_match_the_model_is_refused(frozen_pb, photos):
    with pytest.raises(DecodeError, match="output stride 8 does not match the tensors"):
        PoseEstimator(frozen_pb, input_size=257, output_stride=8).estimate_poses(photos[0])


def test_a_stride_that_contradicts_the_manifest_is_refused_before_running(frozen_pb, tmp_path):
    model = tmp_path / frozen_pb.name
    shutil.copy(frozen_pb, model)
    spec = ModelSpec(0.75, 16)
    (tmp_path / MANIFEST_NAME).write_text(json.dumps({"artifacts": [{"path": model.name, "spec": spec.to_dict()}]}))
    assert PoseEstimator(model).spec == spec
    with pytest.raises(ConfigError, match="has output stride 16 .*drop --output-stride 8"):
        PoseEstimator(model, output_stride=8)


@pytest.mark.slow
def test_cli_json_and_drawings(photos, tmp_path):
    estimator, paths = PoseEstimator(), photo_paths()  # the CLI's default engine
    result = run_module("estimate", *paths, "--json", "--draw", tmp_path, "--heatmaps")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in records] == [str(p) for p in paths]
    for record, rgb in zip(records, photos):
        assert (record["height"], record["width"]) == rgb.shape[:2]
        expected = estimator.estimate_poses(rgb)
        assert [p["score"] for p in record["poses"]] == [p.score for p in expected]
        overlay = cv2.imread(str(tmp_path / f"{Path(record['path']).stem}_poses.png"))
        assert overlay.shape == rgb.shape
        # Where a confident keypoint is, the overlay has drawn over the photo.
        keypoint = max(expected[0].keypoints, key=lambda k: k.score)
        y, x = round(keypoint.y), round(keypoint.x)
        assert np.abs(overlay[y, x].astype(int) - rgb[y, x, ::-1].astype(int)).sum() > 30
        figure = cv2.imread(str(tmp_path / f"{Path(record['path']).stem}_heatmaps.png"))
        assert figure is not None and figure.shape[1] > 1000


def empty_file(directory: Path) -> Path:
    (directory / "empty.png").write_bytes(b"")
    return directory / "empty.png"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d, "is a directory, expected a photo file"),
        (lambda d: d / "missing.jpg", "missing.jpg: no such file"),
        (empty_file, "empty.png: file is empty"),
    ],
)
def test_cli_bad_photos_give_one_line_errors(tmp_path, make, message):
    strict = run_module("estimate", make(tmp_path), "--strict")
    assert strict.returncode == 2 and "error:" in strict.stderr and message in strict.stderr
    batch = run_module("estimate", make(tmp_path))  # a batch of one: refused, named, status 1
    assert batch.returncode == 1 and f"refused: {make(tmp_path)}" in batch.stderr and message in batch.stderr
    assert "Traceback" not in strict.stderr + batch.stderr


def test_a_batch_goes_on_past_the_photos_it_refuses(tmp_path):
    good = photo_paths()[:2]
    broken, cut = tmp_path / "broken.jpg", tmp_path / "cut.png"
    broken.write_text("not a photo")
    cut.write_bytes(cv2.imencode(".png", cv2.imread(str(good[0])))[1].tobytes()[:-2000])
    result = run_module("estimate", broken, good[0], cut, good[1], "--json")
    assert result.returncode == 1, result.stderr[-2000:]
    assert [json.loads(line)["path"] for line in result.stdout.splitlines()] == [str(p) for p in good]
    refused = [line for line in result.stderr.splitlines() if line.startswith("refused:")]
    assert len(refused) == 2 and refused[0] == f"refused: {broken}: not a readable image"
    assert refused[1].startswith(f"refused: {cut}: ") and "cut short" in refused[1]
    assert "2 of 4 photos refused" in result.stderr and "Traceback" not in result.stderr
