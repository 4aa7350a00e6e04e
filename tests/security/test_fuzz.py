"""Hostile inputs: damaged models never crash the readers, paths never leave the model's folder, and an
interrupted rebuild never leaves an artifact that looks complete but is not."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import REPO, fuzzing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posenet_port.errors import WeightsError
from posenet_port.model.weights import SHIPPED_WEIGHTS, load_weights

CI_CASES = int(os.environ.get("POSENET_FUZZ_CASES", "60"))  # per reader; the long run is tests/helpers/fuzzing.py


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    return fuzzing.prepare_sources(tmp_path_factory.mktemp("fuzz-sources"))


@pytest.mark.parametrize("kind", sorted(fuzzing.READERS))
def test_damaged_models_load_or_are_refused_with_our_error(sources, tmp_path_factory, kind):
    work = tmp_path_factory.mktemp(f"fuzz-{kind}")

    @settings(max_examples=CI_CASES, deadline=timedelta(seconds=10), database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(seed=st.integers(min_value=0, max_value=2**32 - 1))
    def case(seed):
        outcome, what = fuzzing.fuzz_one(kind, sources, work, seed)
        assert not outcome.startswith("OTHER"), f"{kind} seed {seed} ({what}): {outcome}"

    case()


def copy_shipped(tmp_path: Path) -> Path:
    return fuzzing.fresh_copy(SHIPPED_WEIGHTS.directory, tmp_path / "model")


def set_shard_path(model: Path, path: str) -> None:
    document = json.loads((model / "posenet.json").read_text())
    document["weightsManifest"][0]["paths"] = [path]
    (model / "posenet.json").write_text(json.dumps(document))


@pytest.mark.parametrize("trick", ["relative", "absolute", "symlink"])
def test_shard_paths_that_leave_the_model_folder_are_refused(tmp_path, trick):
    model = copy_shipped(tmp_path)
    secret = tmp_path / "secret.bin"
    secret.write_bytes((model / "posenet.bin").read_bytes())  # a valid shard: reading it would load fine
    if trick == "relative":
        set_shard_path(model, "../secret.bin")
    elif trick == "absolute":
        set_shard_path(model, str(secret))
    else:
        (model / "posenet.bin").unlink()
        (model / "posenet.bin").symlink_to(secret)
    with pytest.raises(WeightsError, match="outside the model folder"):
        load_weights(model / "posenet.json")


def test_checkpoint_file_names_that_leave_the_folder_are_refused(tmp_path, sources):
    checkpoint = fuzzing.fresh_copy(sources["checkpoint"], tmp_path / "checkpoint")
    manifest = json.loads((checkpoint / "manifest.json").read_text())
    target = manifest["MobilenetV1/Conv2d_0/weights"]
    (tmp_path / "secret").write_bytes((checkpoint / target["filename"]).read_bytes())
    for name in ("../secret", str(tmp_path / "secret")):
        target["filename"] = name
        (checkpoint / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(WeightsError, match="outside the model folder"):
            load_weights(checkpoint)


def test_a_shape_claiming_more_than_the_file_holds_is_refused_before_allocating(tmp_path, sources):
    checkpoint = fuzzing.fresh_copy(sources["checkpoint"], tmp_path / "checkpoint")
    manifest = json.loads((checkpoint / "manifest.json").read_text())
    manifest["MobilenetV1/Conv2d_0/weights"]["shape"] = [100000, 100000, 100000]
    (checkpoint / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(WeightsError, match=r"claims shape \[100000, 100000, 100000\]"):
        load_weights(checkpoint)


def assert_every_final_artifact_is_whole(out: Path) -> None:
    """Final names only for finished artifacts: each loads; a manifest vouches for files whose sha256 match."""
    from posenet_port.formats.tflite.runner import LiteRTRunner
    from posenet_port.model.freeze import read_graph_def
    from posenet_port.model.weights import sha256_file

    for path in out.iterdir():
        if ".tmp-" in path.name or path.name == "checks":
            continue
        if path.suffix == ".pb":
            read_graph_def(path)
        elif path.suffix == ".tflite":
            LiteRTRunner(path)
        elif (path / "model.json").is_file():
            load_weights(path / "model.json")
        elif path.name.endswith("_savedmodel"):
            assert (path / "saved_model.pb").is_file() and (path / "variables").is_dir()
    manifest = out / "manifest.json"
    if manifest.exists():
        for artifact in json.loads(manifest.read_text())["artifacts"]:
            for file, digest in artifact["sha256"].items():
                assert sha256_file(out / file) == digest, file


@pytest.mark.slow
@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_interrupted_rebuild_leaves_nothing_that_looks_complete(tmp_path, signal_number, node_oracle):
    out = tmp_path / "build"
    # One recipe per kind of step (rounding weights, TFLite and tfjs conversion) keeps the reruns short; without
    # --formats, ONNX and OpenVINO would add every recipe of theirs (the rerun took 147 s instead of about 50).
    recipes = ["--formats", "tflite,tfjs", "--tflite", "float32,float16-gptq", "--tfjs", "float32"]
    for delay in (0.2, 2.0, 5.0, 8.0):  # seconds after the first step starts: loading, freezing, rounding, converting
        process = subprocess.Popen([sys.executable, "-m", "posenet_port.rebuild", "--out", str(out), *recipes], cwd=REPO,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Count from the first step, not from launch: a loaded machine can take seconds just to start Python.
        while not process.stdout.readline().startswith("[1/") and process.poll() is None:
            pass
        time.sleep(delay)
        process.send_signal(signal_number)
        stderr = process.communicate(timeout=120)[1]
        # Never finished first (GPTQ rounding alone takes 17 s): a Ctrl-C that a library swallowed used to let
        # the rebuild run to its end with exit 0.
        expected = 130 if signal_number == signal.SIGINT else -signal.SIGKILL
        assert process.returncode == expected and "Traceback" not in stderr, stderr[-2000:]
        if out.exists():
            assert_every_final_artifact_is_whole(out)
    if signal_number == signal.SIGINT:
        return  # the rerun over what was left behind (a minute) is the SIGKILL case's: it leaves the most
    rerun = subprocess.run([sys.executable, "-m", "posenet_port.rebuild", "--out", str(out), *recipes], cwd=REPO,
                           capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert_every_final_artifact_is_whole(out)
    assert (out / "manifest.json").is_file()


def send_stop_signals(process: subprocess.Popen, numbers: tuple[int, ...]) -> None:
    """The signals 1 ms apart: a second Ctrl-C in quick succession used to cut the clean-up short."""
    for number in numbers:
        process.send_signal(number)
        time.sleep(0.001)


STOP_SIGNALS = {"SIGTERM": (signal.SIGTERM,), "SIGHUP": (signal.SIGHUP,), "SIGINT-twice": (signal.SIGINT, signal.SIGINT),
                "SIGINT-then-SIGTERM": (signal.SIGINT, signal.SIGTERM)}


@pytest.mark.slow
@pytest.mark.parametrize("signals", STOP_SIGNALS.values(), ids=STOP_SIGNALS.keys())
def test_a_stopped_rebuild_leaves_no_temp_files_and_says_which_signal(tmp_path, signals):
    out = tmp_path / "build"
    process = subprocess.Popen([sys.executable, "-m", "posenet_port.rebuild", "--out", str(out), "--tflite",
                                "float32", "--tfjs", "float32"], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    while not process.stdout.readline().startswith("[2/") and process.poll() is None:
        pass
    send_stop_signals(process, signals)
    stderr = process.communicate(timeout=120)[1]
    first = signal.Signals(signals[0])
    assert process.returncode == 128 + first, stderr[-2000:]
    assert f"interrupted ({first.name}): no partial artifact" in stderr and "Traceback" not in stderr
    left = [p.name for p in out.rglob("*") if ".tmp-" in p.name]
    assert not left, left
    assert_every_final_artifact_is_whole(out)
