"""COCO's keypoint measures with the float graph's poses as the ground truth: Object Keypoint Similarity and
average precision over OKS thresholds .50:.05:.95 (as pycocotools' COCOeval computes them for keypoints).

"Within 2 px" counts keypoints; AP also sees poses a model adds, drops or merges, and weighs each keypoint by how
precisely people can place it (COCO's per-keypoint sigmas). A model that gives the float graph's poses scores 1.
The ground truth is each float pose scoring > POSE_MIN_SCORE, its keypoints scoring > KEYPOINT_MIN_SCORE visible;
its area (COCO's segment area, which keypoints alone do not give) is the area of the box around those keypoints.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from posenet_port.inference.decode import Pose
from posenet_port.inference.tracking import as_array, as_arrays
from posenet_port.model.keypoints import OKS_SIGMAS
from posenet_port.pipeline.gate import KEYPOINT_MIN_SCORE, POSE_MIN_SCORE

OKS_THRESHOLDS = np.round(np.arange(0.5, 0.951, 0.05), 2)
RECALL_POINTS = np.linspace(0, 1, 101)  # COCO's 101-point interpolated precision
MAX_DETECTIONS = 20  # COCO's limit per image for keypoints


@dataclass(frozen=True)
class KeypointAP:
    """AP averaged over OKS_THRESHOLDS, and the mean OKS of each ground-truth pose with its best candidate."""

    ap: float
    mean_oks: float
    poses: int


def ground_truth(reference: Sequence[Pose]) -> list[Pose]:
    """The reference poses that count: scoring > POSE_MIN_SCORE with a keypoint > KEYPOINT_MIN_SCORE (COCO ignores
    a person without visible keypoints)."""
    return [p for p in reference if p.score > POSE_MIN_SCORE and any(k.score > KEYPOINT_MIN_SCORE for k in p.keypoints)]


def similarities(reference: Sequence[Pose], candidate: Sequence[Pose]) -> np.ndarray:
    """[G, D] OKS of each ground-truth pose (the reference's confident ones, in order) with each candidate pose."""
    truth = [as_array(p) for p in ground_truth(reference)]
    found = as_arrays(candidate)[..., :2]
    if not len(found):
        return np.zeros((len(truth), 0))
    rows = []
    for points in truth:
        visible = points[:, 2] > KEYPOINT_MIN_SCORE
        xy = points[visible, :2]
        area = float(np.prod(xy.max(axis=0) - xy.min(axis=0))) + np.spacing(1)
        falloff = 2 * area * (2 * np.asarray(OKS_SIGMAS)[visible]) ** 2
        distance2 = ((found[:, visible] - xy[None]) ** 2).sum(axis=-1)
        rows.append(np.exp(-distance2 / falloff).mean(axis=1))
    return np.array(rows).reshape(len(truth), len(found))


def keypoint_ap(references: Sequence[Sequence[Pose]], candidates: Sequence[Sequence[Pose]]) -> KeypointAP:
    """COCO keypoint AP of `candidates` (per photo, scored poses) against `references` (the ground truth)."""
    detections, best = [], []  # (score, photo, detection index); best OKS per ground-truth pose
    tables, truths = [], 0
    for photo, (reference, candidate) in enumerate(zip(references, candidates)):
        kept = sorted(range(len(candidate)), key=lambda i: -candidate[i].score)[:MAX_DETECTIONS]
        table = similarities(reference, [candidate[i] for i in kept])
        tables.append(table)
        truths += table.shape[0]
        best += list(table.max(axis=1, initial=0.0))
        detections += [(candidate[i].score, photo, rank) for rank, i in enumerate(kept)]
    if not truths:
        return KeypointAP(1.0 if not detections else 0.0, 1.0, 0)
    detections.sort(key=lambda d: -d[0])
    precisions = [_average_precision(detections, tables, truths, threshold) for threshold in OKS_THRESHOLDS]
    return KeypointAP(float(np.mean(precisions)), float(np.mean(best)), truths)


def _average_precision(detections: list[tuple[float, int, int]], tables: list[np.ndarray], truths: int,
                       threshold: float) -> float:
    """COCOeval at one OKS threshold: each detection, best score first, takes the still unmatched ground-truth
    pose it is most similar to, if at least `threshold`; precision interpolated at 101 recall points."""
    if not detections:
        return 0.0
    taken = [np.zeros(t.shape[0], bool) for t in tables]
    hits = []
    for _, photo, index in detections:
        column = np.where(taken[photo], -1.0, tables[photo][:, index])
        match = int(np.argmax(column)) if column.size else -1
        hit = match >= 0 and column[match] >= threshold
        if hit:
            taken[photo][match] = True
        hits.append(hit)
    true_positives = np.cumsum(hits)
    recall = true_positives / truths
    precision = true_positives / np.arange(1, len(hits) + 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]  # precision never rises as recall grows
    at = np.searchsorted(recall, RECALL_POINTS, side="left")
    return float(np.mean(np.where(at < len(envelope), envelope[np.minimum(at, len(envelope) - 1)], 0.0)))
