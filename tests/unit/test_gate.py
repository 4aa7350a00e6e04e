"""The decoded-pose gate: a model that drifts fails it, the exact model passes, and the agreement figure counts
what a user sees (moved keypoints, missed poses) and nothing else."""
from __future__ import annotations

import json

import pytest
from helpers import nearest_rounding

from posenet_port.formats.artifacts import Artifact
from posenet_port.formats.tflite.export import export_tflite
from posenet_port.inference.decode import Keypoint, Pose
from posenet_port.model.freeze import write_frozen_graph
from posenet_port.model.keypoints import PART_NAMES
from posenet_port.model.spec import ModelSpec
from posenet_port.model.tf_graph import build_model
from posenet_port.pipeline.checks import run_checks
from posenet_port.pipeline.gate import (
    AGREEMENT_PX,
    FAIL,
    PASS,
    VALIDATION,
    Agreement,
    CheckPhoto,
    CheckResult,
    agreement,
    compare_poses,
    mark_pareto_front,
)
from posenet_port.pipeline.photos import NOISE_CHANGES, validation_photos


def person(x: float, y: float, score: float = 0.9) -> Pose:
    return Pose(score, tuple(Keypoint(part, x + 3 * i, y + 5 * i, 0.9) for i, part in enumerate(PART_NAMES)))


def moved(pose: Pose, parts: dict[int, float]) -> Pose:
    keypoints = tuple(k._replace(x=k.x + parts.get(i, 0.0)) for i, k in enumerate(pose.keypoints))
    return Pose(pose.score, keypoints)


def test_agreement_counts_moved_keypoints_and_missed_poses_only():
    a, b = person(10, 10), person(150, 20)
    same = compare_poses([a, b], [b, a])  # order does not matter
    assert same.distances == [0.0] * 34 and same.moved == []
    shifted = compare_poses([a, b], [a, moved(b, {3: AGREEMENT_PX + 0.5, 4: AGREEMENT_PX - 0.5})])
    assert sum(d > AGREEMENT_PX for d in shifted.distances) == 1 and shifted.moved == [(1, 3)]
    missing = compare_poses([a, b], [b])  # a pose the model missed costs its own 17 keypoints, not b's
    assert sum(d <= AGREEMENT_PX for d in missing.distances) == 17 and missing.candidate_count == 1
    figures = agreement(VALIDATION, 257, [same, shifted, missing])
    assert (figures.keypoints, figures.within, figures.equal_counts) == (102, 101 - 17, 2)


def checked(name: str, megabytes: float, milliseconds: float, within: int, integer_only: bool = False) -> CheckResult:
    """A passing result whose validation photos had 100 confident keypoints."""
    return CheckResult(name, "tflite", int(megabytes * 1e6), "1-byte", PASS, [Agreement(VALIDATION, 257, 9, 100, within, 9)],
                       latency_ms={2: milliseconds}, integer_only=integer_only)


def test_only_an_integer_only_model_pushes_an_integer_only_one_off_the_pareto_front():
    """A float-activation model that is smaller, faster and closer still leaves an integer-only model on the front
    (an NPU cannot run it); another integer-only one that is all three does not."""
    float_activations = checked("dynamic-range", 1.3, 10.0, 99)
    slow_integer, fast_integer = checked("int16x8", 1.4, 300.0, 97, True), checked("int8", 1.4, 12.0, 97, True)
    mark_pareto_front([float_activations, slow_integer])
    assert float_activations.pareto and slow_integer.pareto
    mark_pareto_front([float_activations, slow_integer, fast_integer])
    assert [r.pareto for r in (float_activations, slow_integer, fast_integer)] == [True, False, True]
    alone = checked("int16x8", 1.4, 300.0, 97)  # the same figures without the flag: dominated, as before
    mark_pareto_front([float_activations, alone])
    assert not alone.pareto


@pytest.mark.slow
def test_the_gate_fails_a_coarse_model_and_passes_the_exact_one(shipped_weights, frozen_pb, tmp_path):
    exact = export_tflite(frozen_pb, tmp_path / "exact.tflite", "float32", 257)
    coarse_pb = write_frozen_graph(build_model(nearest_rounding(shipped_weights, bits=5)), tmp_path / "coarse.pb")
    drifting = export_tflite(coarse_pb, tmp_path / "coarse.tflite", "float32", 257)
    artifacts = [Artifact(name="exact", format="tflite", recipe="float32", path=exact, input_size=257),
                 Artifact(name="coarse", format="tflite", recipe="float32", path=drifting, input_size=257)]
    photos = [CheckPhoto(name, VALIDATION, rgb) for name, rgb in validation_photos()]
    # The coarse model is judged by the most lenient floor, the exact one by the strictest.
    reference = Artifact(name="frozen-graph", format="frozen-graph", recipe="float32", path=frozen_pb,
                         spec=ModelSpec(0.75, 16))
    report = run_checks(artifacts, {"exact": "float32", "coarse": "1-byte"}, reference, photos, 257, tmp_path / "checks")
    results = {r.name: r for r in report.results}
    for result in results.values():
        print(result.name, result.status, result.agreement(VALIDATION).summary(), result.note)
    assert results["exact"].status == PASS and results["exact"].agreement(VALIDATION).worst_px < 0.01
    assert results["coarse"].status == FAIL and "within 2 px" in results["coarse"].note
    exact, coarse = (results[name].agreement(VALIDATION) for name in ("exact", "coarse"))
    assert exact.ap == 1.0 and exact.mean_oks > 0.999 and coarse.ap < 0.9  # AP sees what "within 2 px" sees
    floors = {floor.change: floor.agreements for floor in report.noise_floors}
    assert list(floors) == list(NOISE_CHANGES) and all(len(a) == 1 and a[0].input_size == 257 for a in floors.values())
    shifted = floors["photos shifted by one pixel"][0]
    print("noise floors:", {change: a[0].summary() for change, a in floors.items()})
    assert shifted.within_share < 0.9 and shifted.ap < 0.9  # the float graph's own instability (issue 27)
    assert "## Noise floors" in (tmp_path / "checks" / "checks.md").read_text()
    document = json.loads((tmp_path / "checks" / "checks.json").read_text())
    assert [r["status"] for r in document["results"]] == [PASS, FAIL]
    assert len(report.grids) == len(photos)
