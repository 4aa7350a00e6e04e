"""The model to run is chosen by timing the build's checked models on this CPU, not by a fixed ranking, and the
choice is cached with the CPU and the files it was measured for."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from posenet_port._util.machine import describe_cpu
from posenet_port.inference.choice import CHOICE_NAME, choose_model
from posenet_port.inference.estimator import PoseEstimator


@pytest.fixture()
def build(rebuilt, tmp_path) -> Path:
    """The manifest and TFLite models of one real rebuild, in a folder of the test's own."""
    copy = tmp_path / "build"
    copy.mkdir()
    shutil.copy(rebuilt / "manifest.json", copy)
    for model in rebuilt.glob("*.tflite"):
        shutil.copy(model, copy)
    return copy


@pytest.mark.slow
def test_the_fastest_checked_model_is_chosen_and_cached(build):
    choice = choose_model(build, threads=2, runs=5)
    manifest = {a["name"]: a for a in json.loads((build / "manifest.json").read_text())["artifacts"]}
    assert set(choice.median_ms) == {n for n, a in manifest.items() if a["format"] == "tflite" and a["check"]["status"] == "PASS"}
    assert list(choice.median_ms) == sorted(choice.median_ms, key=choice.median_ms.get)  # fastest first
    assert choice.name == next(iter(choice.median_ms)) and choice.path == build / manifest[choice.name]["path"]
    assert not choice.cached and "measured now" in choice.describe() and describe_cpu() in choice.describe()
    print(choice.describe())

    again = choose_model(build, threads=2, runs=5)
    assert again.cached and (again.name, again.median_ms, again.path) == (choice.name, choice.median_ms, choice.path)

    record = json.loads((build / CHOICE_NAME).read_text())
    record["cpu"] = "another CPU, flags: avx2 fma"
    (build / CHOICE_NAME).write_text(json.dumps(record))
    assert not choose_model(build, threads=2, runs=5).cached  # measured again on this CPU
    assert not choose_model(build, threads=1, runs=5).cached  # and for another thread count


@pytest.mark.slow
def test_a_build_folder_given_as_the_model_runs_its_choice(build):
    estimator = PoseEstimator(build)
    assert estimator.choice is not None and estimator.input_size == 257
    assert estimator.choice.path.suffix == ".tflite"


def test_a_build_without_checked_tflite_models_has_no_choice(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": [
        {"name": "tflite-int8", "format": "tflite", "path": "missing.tflite", "check": {"status": "PASS"}},
        {"name": "frozen-graph", "format": "frozen graph", "path": "posenet.pb", "check": {}},
    ]}))
    assert choose_model(tmp_path) is None
