"""The format registry: every registered format is exported, run in its real runtime and compared with the TF
graph by the same tests (a new format needs no new test code), and a format registered here, from two modules
of the test suite, goes through rebuild, the checks, the estimator, the demo's choice and the benchmark."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import export_float32, in_process_formats, photo_paths, toy_npz
from helpers.parity import assert_outputs_close

from posenet_port.formats.artifacts import spec_from_manifest
from posenet_port.formats.listing import read_model
from posenet_port.formats.registry import FORMATS, detect_format, register
from posenet_port.formats.roles import identify_roles
from posenet_port.inference.preprocess import load_image, preprocess
from posenet_port.model.architecture import HEAD_NAMES
from posenet_port.model.spec import POSENET_HEAD_ORDER, ModelSpec, canonical_output_name

HEADS = HEAD_NAMES
IN_PROCESS = in_process_formats()


@pytest.mark.parity
@pytest.mark.parametrize("name", IN_PROCESS)
def test_every_format_exports_float32_that_its_runtime_runs_as_the_graph_computes(name, shipped_weights, model, frozen_pb, tmp_path):
    """Through the registry only: export, detect the file's format, open it in its runtime, compare on real
    photos (and, where the input is dynamic, at a second, non-square size)."""
    fmt = FORMATS[name]
    path, spec = export_float32(fmt, shipped_weights, frozen_pb, tmp_path, 257)
    assert detect_format(path) is fmt
    runner = fmt.open(path, 2, spec)
    shapes = [(257, 257)] if fmt.fixed_input else [(257, 257), (353, 241)]
    for photo in photo_paths()[:3]:
        rgb = load_image(photo)
        for height, width in shapes:
            image = preprocess(rgb, height)[0] if height == width else preprocess(rgb[:, : rgb.shape[1] * 2 // 3], 353)[0][:, :, :width]
            expected = {k: v for k, v in model(image).items() if k in HEADS}
            assert_outputs_close({k: v for k, v in runner(image).items() if k in HEADS}, expected,
                                 f"{fmt.title} float32 vs TF graph, {photo.stem} at {height}x{width}")


@pytest.mark.parity
@pytest.mark.parametrize("name", [n for n in IN_PROCESS if not FORMATS[n].fixed_input])
def test_atrous_output_stride_8_is_exact_in_every_dynamic_format(name, shipped_weights, tmp_path):
    from posenet_port.model.freeze import write_frozen_graph
    from posenet_port.model.tf_graph import build_model

    graph = build_model(shipped_weights, 8)
    frozen = write_frozen_graph(graph, tmp_path / "stride8.pb")
    path, spec = export_float32(FORMATS[name], shipped_weights, frozen, tmp_path, 257, stride=8)
    image = preprocess(load_image(photo_paths()[1]), 257)[0]
    outputs = FORMATS[name].open(path, 2, spec)(image)
    assert outputs["offset_2"].shape == (1, 33, 33, 34)
    assert_roles_found(path, spec)
    assert_outputs_close({k: outputs[k] for k in HEADS}, {k: v for k, v in graph(image).items() if k in HEADS},
                         f"{FORMATS[name].title} float32, output stride 8 (dilated convolutions) vs TF graph")


def assert_roles_found(path: Path, spec: ModelSpec) -> None:
    """list_nodes' role finder, which knows no names, finds the heads the spec names and the spec's stride."""
    roles = identify_roles(read_model(path))
    assert [canonical_output_name(node) for node in roles.output_names()] == list(POSENET_HEAD_ORDER), roles
    assert roles.output_stride == spec.output_stride and not roles.displacements_ambiguous, roles
    if roles.heatmap_sigmoid is not None:  # TFLite keeps only the four raw heads
        assert canonical_output_name(roles.heatmap_sigmoid) == "heatmap", roles


@pytest.mark.parametrize("name", IN_PROCESS)
def test_list_nodes_finds_the_roles_in_every_format(name, shipped_weights, frozen_pb, tmp_path):
    assert_roles_found(*export_float32(FORMATS[name], shipped_weights, frozen_pb, tmp_path, 257))


def test_onnx_graph_is_posenet_itself_with_native_dilations(shipped_weights, frozen_pb, tmp_path):
    """The ONNX writer's graph: 1 + 27 convolutions + 4 heads, dilations as attributes (no SpaceToBatchND),
    dynamic height and width."""
    import onnx

    path, _ = export_float32(FORMATS["onnx"], shipped_weights, frozen_pb, tmp_path, 257, stride=8)
    graph = onnx.load(path).graph
    ops = [node.op_type for node in graph.node]
    assert ops.count("Conv") == 1 + 2 * 13 + 4 and "SpaceToDepth" not in ops
    dilations = {tuple(a.ints) for n in graph.node if n.op_type == "Conv" for a in n.attribute if a.name == "dilations"}
    assert dilations == {(1, 1), (2, 2)}  # multiplier 0.75 gives up one stride 2 for output stride 8
    assert [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim] == [1, "height", "width", 3]


# ----------------------------------------------------------------------------------------------------------------
# A format that only the tests know
# ----------------------------------------------------------------------------------------------------------------

TOY = toy_npz.FORMAT


@pytest.fixture
def toy_format():
    register(TOY)
    yield TOY
    del FORMATS[TOY.name]


@pytest.mark.slow
def test_a_format_registered_by_a_test_is_exported_run_checked_chosen_and_benchmarked(toy_format, tmp_path):
    """A folder of the test suite (tests/helpers/toy_npz/) and one `register` line: rebuild exports and checks it, the
    manifest carries its spec, the estimator runs it by its file name, list_nodes reads it through its lister and
    finds its roles, the demo's choice times it, and the benchmark's worker measures it."""
    from posenet_port.benchmark.measure import LatencySpec, worker
    from posenet_port.inference.choice import choose_model
    from posenet_port.inference.estimator import PoseEstimator
    from posenet_port.pipeline.run import RebuildOptions, rebuild

    out = tmp_path / "build"
    entries = rebuild(RebuildOptions(out_dir=out, formats=(TOY.name,), input_size=129))
    toy = next(e for e in entries if e.artifact.format == TOY.name)
    assert toy.check.status == "PASS", toy.check
    assert all(a.within == a.keypoints for a in toy.check.agreements)  # float64 vs float32: same poses
    manifest = {a["name"]: a for a in json.loads((out / "manifest.json").read_text())["artifacts"]}
    assert manifest["toy-npz-float32"]["spec"]["format"] == TOY.name
    assert spec_from_manifest(toy.artifact.path) == toy.artifact.spec

    rgb = load_image(photo_paths()[0])
    ours = PoseEstimator(toy.artifact.path, 257).estimate_poses(rgb)
    graph = PoseEstimator(out / "posenet_mobilenet_v1_075_stride16.pb", 257).estimate_poses(rgb)
    assert len(ours) == len(graph) > 0
    assert max(abs(a.x - b.x) + abs(a.y - b.y) for p, q in zip(ours, graph)
               for a, b in zip(p.keypoints, q.keypoints)) < 0.05

    listing = read_model(toy.artifact.path)
    roles = identify_roles(listing)
    assert listing.format_name == TOY.name and roles.output_stride == 16 and not roles.displacements_ambiguous
    assert (roles.heatmap.node, roles.offsets.node) == ("heatmap_2", "offset_2")

    choice = choose_model(out, threads=1, runs=3)
    assert choice is not None and "toy-npz-float32" in choice.median_ms
    figures = worker(LatencySpec("toy", "toy", TOY.name, str(toy.artifact.path), 129, 1, 5, toy.artifact.spec.to_dict()))
    assert figures["network"]["median_ms"] > 0 and figures["end_to_end"]["median_ms"] > figures["network"]["median_ms"] * 0.5
    print(f"toy format: network {figures['network']['median_ms']:.1f} ms, choice {choice.describe()}")


def test_a_models_spec_travels_in_the_manifest_and_a_foreign_file_has_none(tmp_path):
    spec = ModelSpec(0.75, 8, 257, "tflite", "float16")
    assert ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    model = tmp_path / "model.tflite"
    model.write_bytes(b"")
    assert spec_from_manifest(model) is None
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": [{"path": "model.tflite", "spec": spec.to_dict()}]}))
    assert spec_from_manifest(model) == spec
    (tmp_path / "manifest.json").write_text("[" * 10000)
    assert spec_from_manifest(model) is None  # an unreadable manifest vouches for nothing


def test_a_spec_refuses_an_impossible_model():
    from posenet_port.errors import ConfigError

    with pytest.raises(ConfigError, match="output stride 32 is impossible with multiplier 0.75"):
        ModelSpec(0.75, 32)
    with pytest.raises(ConfigError, match="input size 300 is not valid"):
        ModelSpec(0.75, 16, 300)


@pytest.mark.parametrize("name", IN_PROCESS)
def test_every_format_refuses_a_file_that_is_not_a_model(name, tmp_path):
    from posenet_port.errors import ModelFileError

    fmt = FORMATS[name]
    path = fmt.target(tmp_path, "junk", "float32", 257)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelFileError) as refused:
        fmt.open(path)
    print(f"{fmt.title}: {refused.value}")


def test_a_savedmodel_listed_with_its_spec_runs_as_the_graph(shipped_weights, model, tmp_path):
    """The SavedModel's spec names its signature's outputs; the runner still finds the nodes inside it."""
    from posenet_port.formats.registry import open_model
    from posenet_port.model.freeze import write_saved_model

    saved = write_saved_model(model, tmp_path / "saved")
    spec = ModelSpec(0.75, 16).exported("savedmodel", "float32", None)
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": [{"path": "saved", "spec": spec.to_dict()}]}))
    image = preprocess(load_image(photo_paths()[0]), 257)[0]
    outputs = open_model(saved, spec=spec_from_manifest(saved))(image)
    assert_outputs_close({k: outputs[k] for k in HEADS}, {k: v for k, v in model(image).items() if k in HEADS},
                         "SavedModel through the registry vs TF graph")
