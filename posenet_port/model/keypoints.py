"""PoseNet's keypoints, pose chain and skeleton, as in tfjs-models posenet 2.2.2 `keypoints.ts`."""
from __future__ import annotations

PART_NAMES: tuple[str, ...] = (
    "nose", "leftEye", "rightEye", "leftEar", "rightEar", "leftShoulder", "rightShoulder", "leftElbow",
    "rightElbow", "leftWrist", "rightWrist", "leftHip", "rightHip", "leftKnee", "rightKnee", "leftAnkle",
    "rightAnkle",
)
NUM_KEYPOINTS = len(PART_NAMES)
PART_IDS: dict[str, int] = {name: index for index, name in enumerate(PART_NAMES)}

# The tree the multi-pose decoder walks (parent, child): edge i owns displacement channels i (y) and 16 + i (x).
POSE_CHAIN: tuple[tuple[str, str], ...] = (
    ("nose", "leftEye"), ("leftEye", "leftEar"), ("nose", "rightEye"), ("rightEye", "rightEar"),
    ("nose", "leftShoulder"), ("leftShoulder", "leftElbow"), ("leftElbow", "leftWrist"),
    ("leftShoulder", "leftHip"), ("leftHip", "leftKnee"), ("leftKnee", "leftAnkle"),
    ("nose", "rightShoulder"), ("rightShoulder", "rightElbow"), ("rightElbow", "rightWrist"),
    ("rightShoulder", "rightHip"), ("rightHip", "rightKnee"), ("rightKnee", "rightAnkle"),
)
NUM_EDGES = len(POSE_CHAIN)
POSE_CHAIN_IDS: tuple[tuple[int, int], ...] = tuple((PART_IDS[a], PART_IDS[b]) for a, b in POSE_CHAIN)

# What a drawing connects (`connectedPartNames`): limbs and torso, no face.
SKELETON: tuple[tuple[str, str], ...] = (
    ("leftHip", "leftShoulder"), ("leftElbow", "leftShoulder"), ("leftElbow", "leftWrist"),
    ("leftHip", "leftKnee"), ("leftKnee", "leftAnkle"), ("rightHip", "rightShoulder"),
    ("rightElbow", "rightShoulder"), ("rightElbow", "rightWrist"), ("rightHip", "rightKnee"),
    ("rightKnee", "rightAnkle"), ("leftShoulder", "rightShoulder"), ("leftHip", "rightHip"),
)
SKELETON_IDS: tuple[tuple[int, int], ...] = tuple((PART_IDS[a], PART_IDS[b]) for a, b in SKELETON)

# COCO's per-keypoint falloff (the standard deviations of its annotators' clicks, relative to the person's size),
# which Object Keypoint Similarity weighs distances by: the pose tracker's similarity (inference/tracking.py).
OKS_SIGMAS: tuple[float, ...] = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087,
    0.089, 0.089,
)
