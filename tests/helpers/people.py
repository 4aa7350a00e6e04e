"""Synthetic people for the tracking tests: a standing person whose keypoints are known exactly."""
from __future__ import annotations

import numpy as np

from posenet_port.inference.decode import Keypoint, Pose
from posenet_port.model.keypoints import PART_NAMES

# A standing person 100 px tall, keypoints relative to the nose (x right, y down), COCO order.
BODY = np.array([(0, 0), (-3, -3), (3, -3), (-7, -1), (7, -1), (-15, 15), (15, 15), (-20, 35), (20, 35),
                 (-22, 55), (22, 55), (-10, 55), (10, 55), (-10, 78), (10, 78), (-10, 100), (10, 100)], float)


def person(x: float, y: float, scale: float = 1.0, score: float = 0.9) -> Pose:
    points = BODY * scale + (x, y)
    return Pose(score, tuple(Keypoint(part, float(px), float(py), score) for part, (px, py) in zip(PART_NAMES, points)))
