"""`rebuild` end to end with every export format: files that load in their runtimes, manifest, checks, errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from posenet_port.posenet_js import DecodeSettings, PosenetJs
from posenet_port.preprocess import load_image, preprocess
from posenet_port.litert import LiteRTRunner
from posenet_port.weights import sha256_file

from conftest import photo_paths, run_module, tfjs_pipeline_poses
from parity import assert_outputs_close

REPO = Path(__file__).resolve().parent.parent
STEM = "posenet_mobilenet_v1_075_stride16"
TFLITE = ("float32", "dynamic-range", "float16", "int8")
TFJS = ("float32", "float16", "uint16", "uint8-mixed")
HEADS = ("heatmap_2", "offset_2", "displacement_fwd_2", "displacement_bwd_2")


def run_rebuild(*args, env=None):
    return run_module("rebuild", *args, env=env)


@pytest.fixture(scope="module")
def build(rebuilt) -> Path:
    return rebuilt


@pytest.mark.slow
def test_manifest_lists_every_artifact_with_checksums_and_checks(build):
    manifest = json.loads((build / "manifest.json").read_text())
    names = [a["name"] for a in manifest["artifacts"]]
    assert names == ["frozen-graph", "savedmodel", *(f"tflite-{v}" for v in TFLITE), *(f"tfjs-{v}" for v in TFJS)]
    for artifact in manifest["artifacts"]:
        assert artifact["size_bytes"] == sum((build / f).stat().st_size for f in artifact["sha256"])
        for file, digest in artifact["sha256"].items():
            assert sha256_file(build / file) == digest
        if artifact["format"] in ("tflite", "tfjs"):
            check = artifact["check"]
            assert check["status"] == "PASS", (artifact["name"], check)
            assert check["max_drift_px"] <= check["tolerance_px"]
            assert check["pose_counts"] == check["reference_counts"]
    sizes = {a["name"]: a["size_bytes"] for a in manifest["artifacts"]}
    assert sizes["tfjs-uint8-mixed"] <= 1.7e6 and sizes["tflite-int8"] < 2e6
    assert not [p for p in build.rglob("*") if ".tmp-" in p.name]


@pytest.mark.slow
def test_check_report_and_grid_images(build):
    report = json.loads((build / "checks" / "checks.json").read_text())
    assert len(report["results"]) == 8 and all(r["status"] == "PASS" for r in report["results"])
    assert len(report["photos"]) == 5
    for grid in report["grids"]:
        image = cv2.imread(grid)
        assert image is not None and image.shape[1] >= 3 * 560
    markdown = (build / "checks" / "checks.md").read_text()
    assert markdown.count("| PASS |") == 8


@pytest.mark.slow
def test_tflite_models_run_in_ai_edge_litert(build, model):
    from posenet_port.litert import interpreter_class

    assert interpreter_class().__module__.startswith("ai_edge_litert")
    image = preprocess(load_image(photo_paths()[0]), 257)[0]
    expected = {name: values for name, values in model(image).items() if name in HEADS}
    for variant in TFLITE:
        outputs = LiteRTRunner(build / f"{STEM}_257_{variant}.tflite")(image)
        assert outputs["offset_2"].shape == (1, 17, 17, 34)
        if variant == "float32":
            assert_outputs_close(outputs, expected, "rebuilt TFLite float32 (LiteRT) vs TF graph at 257")


@pytest.mark.parity
def test_tflite_float32_matches_the_graph_on_real_photos(frozen_pb, model, tmp_path):
    """XNNPACK's float32 kernels against TensorFlow's: within float32 rounding on every CPU."""
    from posenet_port.export.tflite import export_tflite

    runner = LiteRTRunner(export_tflite(frozen_pb, tmp_path / "float32.tflite", "float32", 257), threads=2)
    for photo in photo_paths():
        image = preprocess(load_image(photo), 257)[0]
        expected = {name: values for name, values in model(image).items() if name in HEADS}
        assert_outputs_close(runner(image), expected, f"TFLite float32 (LiteRT) vs TF graph, {photo.stem} at 257")


@pytest.mark.slow
@pytest.mark.node
def test_tfjs_models_load_in_posenet_and_estimate_as_our_pipeline(build):
    """posenet 2.2.2's own load + estimateMultiplePoses (wasm) on each exported model, as shipped (no fix-ups),
    against our Python pipeline on the same model's outputs in the same TensorFlow.js backend."""
    photos = [load_image(p) for p in photo_paths()]
    models = [build / f"{STEM}_tfjs_{v}" / "model.json" for v in TFJS]
    theirs = PosenetJs().estimate_many(models, photos, DecodeSettings(), 257, 0.75, backend="wasm", fix_model=False)
    for model_json, per_photo in zip(models, theirs):
        document = json.loads(model_json.read_text())
        outputs = [key.split(":")[0] for key in document["signature"]["outputs"]]
        assert outputs == ["offset_2", "heatmap_2", "displacement_fwd_2", "displacement_bwd_2"]
        for ours, poses in zip(tfjs_pipeline_poses(model_json, photos), per_photo):
            assert len(ours) == len(poses), model_json
            for a, b in zip(ours, poses):
                assert abs(a.score - b.score) < 1e-4
                for k, j in zip(a.keypoints, b.keypoints):
                    assert abs(k.x - j.x) < 0.5 and abs(k.y - j.y) < 0.5, (model_json, k, j)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--formats", "tflite,onnx"], "unknown format(s) onnx; choose from tflite, tfjs"),
        (["--input-size", "300"], "input size 300 is not valid for output stride 16"),
        (["--calibration-images", "{empty}"], "no readable images"),
    ],
)
def test_bad_settings_fail_before_any_work(tmp_path, args, message):
    empty = tmp_path / "photos"
    empty.mkdir()
    (empty / "notes.jpg").write_text("not a photo")
    out = tmp_path / "out"
    result = run_rebuild(*[a.format(empty=empty) for a in args], "--out", out)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_missing_tensorflowjs_is_reported_before_any_work(tmp_path):
    # A Python that cannot import tensorflowjs, as on a machine without it.
    code = (
        "import sys; sys.modules['tensorflowjs'] = None; "
        "from posenet_port.cli import run_cli; from posenet_port.rebuild import main; "
        f"sys.exit(run_cli(main, ['--out', {str(tmp_path / 'out')!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 2
    assert "tensorflowjs is not installed" in result.stderr and "--formats tflite" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_tfjs_checks_without_node_packages_are_not_run_loudly_or_fail_on_request(tmp_path):
    missing = {"POSENET_PORT_NODE_MODULES": str(tmp_path / "no_node_modules")}
    out = tmp_path / "out"
    result = run_rebuild("--formats", "tfjs", "--out", out, env=missing)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "NOT RUN" in result.stderr
    report = json.loads((out / "checks" / "checks.json").read_text())
    assert {r["status"] for r in report["results"]} == {"NOT RUN"}
    assert "NOT RUN" in (out / "checks" / "checks.md").read_text()
    strict = run_rebuild("--formats", "tfjs", "--out", tmp_path / "strict", "--require-node", env=missing)
    assert strict.returncode == 2 and "@tensorflow/tfjs is not installed" in strict.stderr
    assert not (tmp_path / "strict" / "manifest.json").exists()


@pytest.mark.slow
def test_our_tfjs_exports_load_back_as_posenet_weights(build, shipped_weights):
    """The loader reads every model we export, the one-byte model's per-channel Mul folded back into its kernels."""
    from posenet_port.weights import load_weights

    expected = shipped_weights.variables()
    for variant, relative in (("float32", 0.0), ("float16", 2.0**-11), ("uint16", 1 / 65535), ("uint8-mixed", 1 / 255)):
        loaded = load_weights(build / f"{STEM}_tfjs_{variant}").variables()
        for name, values in expected.items():
            bound = relative * float(np.abs(values).max()) * 1.01 + 1e-6
            assert float(np.abs(loaded[name] - values).max()) <= bound, (variant, name)
