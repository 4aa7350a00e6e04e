"""Our NumPy decoders against @tensorflow-models/posenet 2.2.2's own decoders, on the same tensors."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import photo_paths, require_compiled

from posenet_port.inference.decode import (
    DECODER,
    DecodeError,
    check_stride,
    check_tensors,
    decode_multiple_poses,
    decode_multiple_poses_python,
    decode_single_pose,
    max_heap_order,
    squared_nms_radius,
)
from posenet_port.inference.preprocess import load_image, preprocess
from posenet_port.oracle.posenet_js import DecodeSettings, PosenetJs

POSITION_TOLERANCE = 1e-3  # px
SCORE_TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def tensor_sets(model) -> dict[str, dict[str, np.ndarray]]:
    """Our model's outputs on real photos: Grace Hopper at 257, the 29-person Solvay photo at 257 and 513."""
    sets = {}
    for path, size in [(photo_paths()[0], 257), (photo_paths()[1], 257), (photo_paths()[1], 513)]:
        outputs = model(preprocess(load_image(path), size)[0])
        sets[f"{path.stem}@{size}"] = {
            "scores": outputs["heatmap"][0],
            "offsets": outputs["offset_2"][0],
            "fwd": outputs["displacement_fwd_2"][0],
            "bwd": outputs["displacement_bwd_2"][0],
        }
    # Scores snapped to 1/8 steps: many exact ties, so the max-heap's dequeue order decides (replayed exactly).
    tied = dict(sets["solvay1927@513"])
    tied["scores"] = (np.round(tied["scores"] * 8) / 8).astype(np.float32)
    sets["solvay1927@513-tied"] = tied
    return sets


def assert_same_poses(ours, theirs, label):
    assert len(ours) == len(theirs), label
    for index, (a, b) in enumerate(zip(ours, theirs)):
        assert abs(a.score - b.score) <= SCORE_TOLERANCE, (label, index)
        for k, j in zip(a.keypoints, b.keypoints):
            assert k.part == j.part
            assert abs(k.x - j.x) <= POSITION_TOLERANCE and abs(k.y - j.y) <= POSITION_TOLERANCE, (label, index, k, j)
            assert abs(k.score - j.score) <= SCORE_TOLERANCE, (label, index, k.part)


def decode_ours(tensors, settings: DecodeSettings):
    if settings.single:
        return [decode_single_pose(tensors["scores"], tensors["offsets"], settings.output_stride)]
    return decode_multiple_poses(
        tensors["scores"], tensors["offsets"], tensors["fwd"], tensors["bwd"], settings.output_stride,
        settings.max_detections, settings.score_threshold, settings.nms_radius,
    )


SETTINGS = {
    "multi-default": DecodeSettings(),
    "multi-loose": DecodeSettings(max_detections=20, score_threshold=0.3, nms_radius=10),
    "multi-strict": DecodeSettings(max_detections=3, score_threshold=0.8, nms_radius=40),
    "single": DecodeSettings(single=True),
}


@pytest.mark.node
@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_decoders_match_posenet_2_2_2(node_oracle, tensor_sets, name):
    settings = SETTINGS[name]
    reference = PosenetJs().decode(list(tensor_sets.values()), settings)
    for (label, tensors), theirs in zip(tensor_sets.items(), reference):
        assert_same_poses(decode_ours(tensors, settings), theirs, f"{label} {name}")
    if name == "multi-default":
        assert len(reference[2]) == 10, "the Solvay photo at 513 should fill max_detections"


def test_tied_scores_exist_in_the_tied_set(tensor_sets):
    scores = tensor_sets["solvay1927@513-tied"]["scores"]
    assert np.unique(scores[scores >= 0.5]).size < (scores >= 0.5).sum() / 10


def test_max_heap_order_is_descending_for_distinct_values():
    values = np.random.default_rng(0).permutation(200).astype(float).tolist()
    assert [values[i] for i in max_heap_order(values)] == sorted(values, reverse=True)


def test_shapes_that_disagree_are_refused(tensor_sets):
    t = tensor_sets["grace_hopper@257"]
    with pytest.raises(DecodeError, match=r"offsets cover a 16x17 grid but the heatmap is 17x17"):
        decode_multiple_poses(t["scores"], t["offsets"][:16], t["fwd"], t["bwd"], 16)
    with pytest.raises(DecodeError, match=r"forward displacements has shape \[17, 17, 34\], expected \[height, width, 32\]"):
        decode_multiple_poses(t["scores"], t["offsets"], t["offsets"], t["bwd"], 16)
    with pytest.raises(DecodeError, match=r"heatmap scores has shape \[17, 17\]"):
        decode_single_pose(t["scores"][:, :, 0], t["offsets"], 16)


def test_stride_that_does_not_match_the_tensors_is_refused(tensor_sets):
    with pytest.raises(DecodeError, match=r"output stride 8 does not match the tensors: a 257x257 input gives a 33x33 grid"):
        check_stride((17, 17), (257, 257), 8)
    with pytest.raises(DecodeError, match=r"output stride 12: PoseNet uses 8, 16, 32"):
        t = tensor_sets["grace_hopper@257"]
        decode_single_pose(t["scores"], t["offsets"], 12)


def test_bad_decoding_parameters_are_refused(tensor_sets):
    t = tensor_sets["grace_hopper@257"]
    for kwargs, message in [
        ({"max_detections": 0}, "max detections 0"),
        ({"score_threshold": 1.5}, "score threshold 1.5"),
        ({"nms_radius": 0}, "NMS radius 0"),
    ]:
        with pytest.raises(DecodeError, match=message):
            decode_multiple_poses(t["scores"], t["offsets"], t["fwd"], t["bwd"], 16, **kwargs)


@pytest.fixture(scope="module")
def compiled_decoder():
    require_compiled(DECODER, "_decoder.c")


def random_tensors(seed: int, height: int = 17, width: int = 23) -> dict[str, np.ndarray]:
    """Outputs of no network: scores with many local maxima, displacements that leave the grid (clamping)."""
    rng = np.random.default_rng(seed)
    return {
        "scores": rng.uniform(0, 1, (height, width, 17)).astype(np.float32),
        "offsets": rng.normal(0, 12, (height, width, 34)).astype(np.float32),
        "fwd": rng.normal(0, 60, (height, width, 32)).astype(np.float32),
        "bwd": rng.normal(0, 60, (height, width, 32)).astype(np.float32),
    }


@pytest.mark.parametrize("name", [n for n in sorted(SETTINGS) if n != "single"])
def test_compiled_decoder_gives_the_python_decoders_poses_exactly(compiled_decoder, tensor_sets, name):
    """Same poses to the last bit on real outputs, exact ties, and random tensors (where every root is
    unlike a real network's), so either decoder is posenet's."""
    settings = SETTINGS[name]
    cases = {**tensor_sets, **{f"random-{seed}": random_tensors(seed) for seed in range(20)}}
    for label, t in cases.items():
        compiled = decode_ours(t, settings)
        checked = check_tensors(t["scores"], t["offsets"], (t["fwd"], t["bwd"]), settings.output_stride)
        python = decode_multiple_poses_python(*checked, settings.output_stride, settings.max_detections,
                                              settings.score_threshold, squared_nms_radius(settings.nms_radius))
        assert compiled == python, f"{label} {name}"
    assert len(decode_ours(cases["random-0"], settings)) == settings.max_detections  # many roots: the loop is full
