"""COCO's keypoint AP against the float graph's poses: our measure equals pycocotools' COCOeval (the reference
implementation, an independent oracle) on real decoded poses, and it falls when poses move, vanish or appear."""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from posenet_port.inference.decode import Pose
from posenet_port.inference.estimator import PoseEstimator
from posenet_port.model.keypoints import OKS_SIGMAS
from posenet_port.pipeline.gate import KEYPOINT_MIN_SCORE, decode_input_poses
from posenet_port.pipeline.keypoint_ap import ground_truth, keypoint_ap
from posenet_port.pipeline.photos import NOISE_CHANGES, validation_photos


def cocoeval_ap(references: list[list[Pose]], candidates: list[list[Pose]]) -> float:
    """stats[0] of COCOeval('keypoints') with our sigmas and each ground-truth pose's keypoint-box area."""
    images, annotations, results = [], [], []
    for image, (reference, candidate) in enumerate(zip(references, candidates)):
        images.append({"id": image})
        for pose in ground_truth(reference):
            points = np.array([(k.x, k.y, 2 if k.score > KEYPOINT_MIN_SCORE else 0) for k in pose.keypoints])
            xy = points[points[:, 2] > 0, :2]
            (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
            annotations.append({"id": len(annotations) + 1, "image_id": image, "category_id": 1, "iscrowd": 0,
                                "keypoints": points.ravel().tolist(), "num_keypoints": len(xy),
                                "area": float((x1 - x0) * (y1 - y0)), "bbox": [x0, y0, x1 - x0, y1 - y0]})
        results += [{"image_id": image, "category_id": 1, "score": pose.score,
                     "keypoints": [v for k in pose.keypoints for v in (k.x, k.y, 1)]} for pose in candidate]
    truth = COCO()
    truth.dataset = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}
    with contextlib.redirect_stdout(io.StringIO()):
        truth.createIndex()
        evaluation = COCOeval(truth, truth.loadRes(results), "keypoints")
        evaluation.params.kpt_oks_sigmas = np.array(OKS_SIGMAS)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return float(evaluation.stats[0])


@pytest.fixture(scope="module")
def float_poses() -> dict[str, list[list[Pose]]]:
    """The float graph's poses on the validation photos at 257, as they are and after each noise change."""
    estimator = PoseEstimator(input_size=257, threads=1)
    photos = validation_photos()
    changes = {"as they are": lambda rgb: rgb, **NOISE_CHANGES}
    return {name: [decode_input_poses(estimator.infer(change(rgb)), estimator.output_stride) for _, rgb in photos]
            for name, change in changes.items()}


def test_equal_poses_score_one(float_poses):
    poses = float_poses["as they are"]
    measured = keypoint_ap(poses, poses)
    assert measured.ap == 1.0 and measured.mean_oks == 1.0 and measured.poses > 10


@pytest.mark.parametrize("change", list(NOISE_CHANGES))
def test_our_ap_equals_cocoeval_on_real_poses(float_poses, change):
    references, candidates = float_poses["as they are"], float_poses[change]
    ours, theirs = keypoint_ap(references, candidates).ap, cocoeval_ap(references, candidates)
    print(f"{change}: AP {ours:.6f}, COCOeval {theirs:.6f}")
    assert abs(ours - theirs) < 1e-9


def test_missed_and_extra_poses_lower_ap_as_cocoeval_does(float_poses):
    references = float_poses["as they are"]
    missed = [poses[1:] for poses in references]  # every photo loses its best pose
    extra = [poses + [Pose(0.99, tuple(k._replace(x=k.x + 40) for k in poses[0].keypoints))] if poses else poses
             for poses in references]  # a confident pose where there is nobody
    for candidates in (missed, extra):
        ours = keypoint_ap(references, candidates).ap
        assert ours < 0.95 and abs(ours - cocoeval_ap(references, candidates)) < 1e-9
