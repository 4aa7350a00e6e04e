"""`python -m posenet_port.rebuild` end to end, its errors, and atomic outputs."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from posenet_port._util.fileio import TEMP_MARK, atomic_path
from posenet_port.formats.tf.runner import FrozenGraphRunner

REPO = Path(__file__).resolve().parents[2]


def run_rebuild(*args, cwd=REPO):
    return subprocess.run(
        [sys.executable, "-m", "posenet_port.rebuild", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


@pytest.mark.slow
def test_rebuild_writes_frozen_graph_and_saved_model(model, tmp_path):
    result = run_rebuild("--out", str(tmp_path), "--formats", "none")
    assert result.returncode == 0, result.stderr
    frozen = tmp_path / "posenet_mobilenet_v1_075_stride16.pb"
    saved = tmp_path / "posenet_mobilenet_v1_075_stride16_savedmodel"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", frozen.name, saved.name]
    for line in ("[4/4] writing the SavedModel", "frozen-graph", "savedmodel", "done in", "manifest:"):
        assert line in result.stdout
    image = np.random.default_rng(3).uniform(-1, 1, (1, 257, 257, 3)).astype(np.float32)
    expected = model(image)
    np.testing.assert_array_equal(FrozenGraphRunner(frozen)(image)["offset_2"], expected["offset_2"])
    serving = tf.saved_model.load(str(saved)).signatures["serving_default"]
    np.testing.assert_array_equal(serving(image=tf.constant(image))["heatmap"].numpy(), expected["heatmap"])


@pytest.mark.slow
def test_rebuild_output_stride_8_names_its_artifacts(tmp_path):
    result = run_rebuild("--output-stride", "8", "--out", str(tmp_path), "--formats", "none")
    assert result.returncode == 0, result.stderr
    outputs = FrozenGraphRunner(tmp_path / "posenet_mobilenet_v1_075_stride8.pb")(np.zeros((1, 129, 129, 3), np.float32))
    assert outputs["heatmap"].shape == (1, 17, 17, 17)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--output-stride", "32"], "error: output stride 32 is impossible with multiplier 0.75"),
        (["--weights", "no/such/weights"], "error: no/such/weights: no such file or directory"),
    ],
)
def test_rebuild_errors_are_one_line_and_leave_nothing(tmp_path, args, message):
    out = tmp_path / "out"
    result = run_rebuild(*args, "--out", str(out))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_atomic_path_leaves_nothing_when_writing_fails(tmp_path):
    target = tmp_path / "model.pb"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temp:
            temp.write_bytes(b"half a model")
            raise RuntimeError("killed half way")
    assert list(tmp_path.iterdir()) == []


def test_atomic_directory_replaces_a_previous_one_whole(tmp_path):
    target = tmp_path / "saved"
    for generation in ("old", "new"):
        with atomic_path(target, directory=True) as temp:
            (temp / generation).write_text(generation)
    assert [p.name for p in target.iterdir()] == ["new"]
    assert not [p for p in tmp_path.iterdir() if TEMP_MARK in p.name]
