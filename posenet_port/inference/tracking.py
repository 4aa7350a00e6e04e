"""Poses across the frames of a video: each person keeps a track id, and each track's keypoints are smoothed.

PoseNet decodes every frame on its own: poses come in score order, with no identity, and a keypoint moves by a
pixel or two when the camera does (issue 27 measured 22 % of confident keypoints moving over 2 px for a one-pixel
shift). This is a layer on top of the exact per-frame poses, built as tfjs-models' pose-detection does for MoveNet:

- `PoseTracker` links each new pose to a track by greedy assignment on a similarity: Object Keypoint Similarity
  (COCO's per-keypoint falloff, keypoints from a score of 0.3, at least 4 of them) or the IoU of the keypoints'
  bounding boxes. A pose that matches no track starts one; a track unseen for `max_age_s` of the video's time ends.
- `PoseSmoother` runs a One Euro filter (Casiez et al. 2012) on every coordinate and score of
  each track: the cutoff rises with the filtered speed, so a still person stops shaking and a moving one is not
  dragged behind. Coordinates are filtered in units of the pose's size, so the settings do not depend on the
  picture's resolution, and the filter follows the frames' own timestamps.
- `PoseStream` is both, for frames with timestamps; `TrackedPose` is what it returns.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from posenet_port.errors import ConfigError
from posenet_port.inference.decode import Keypoint, Pose
from posenet_port.model.keypoints import OKS_SIGMAS

TRACKERS = ("keypoints", "boxes")


@dataclass(frozen=True, kw_only=True)
class TrackerOptions:
    """How poses are linked to tracks. `method`: "keypoints" (OKS) or "boxes" (IoU of the keypoints' boxes);
    `min_similarity`: below it a pose starts a new track (tfjs uses 0.2; on vtest.avi's first 300 frames 0.1 left
    32 tracks where 0.2 left 37); keypoints count from `keypoint_score`,
    and OKS needs `min_keypoints` of them in both; tracks end after `max_age_s` unseen, at most `max_tracks` kept."""

    method: str = "keypoints"
    min_similarity: float = 0.1
    keypoint_score: float = 0.3
    min_keypoints: int = 4
    max_age_s: float = 1.0
    max_tracks: int = 18

    def __post_init__(self) -> None:
        if self.method not in TRACKERS:
            raise ConfigError(f"tracker {self.method!r}: choose one of {', '.join(TRACKERS)}")
        if not (0 <= self.min_similarity <= 1 and 0 <= self.keypoint_score <= 1 and self.min_keypoints >= 1
                and self.max_age_s > 0 and self.max_tracks >= 1):
            raise ConfigError(f"tracker options out of range: {self}")


@dataclass(frozen=True, kw_only=True)
class SmoothingOptions:
    """The One Euro filter: `min_cutoff` (Hz) is how much a still keypoint is smoothed (lower: steadier),
    `beta` how fast the cutoff rises with speed (in pose sizes per second: higher, less lag), `derivative_cutoff`
    (Hz) smooths the speed estimate itself. The defaults, measured on still photos of people with one-pixel camera
    shake and on vtest.avi's walkers at 10 fps: the median frame-to-frame motion of a still keypoint falls to a
    third (8.9 to 2.7 px), and smoothed keypoints trail walking people by under half a frame (a first
    measurement; issue 27)."""

    enabled: bool = True
    min_cutoff: float = 0.3
    beta: float = 2.0
    derivative_cutoff: float = 1.0

    def __post_init__(self) -> None:
        if not (self.min_cutoff > 0 and self.beta >= 0 and self.derivative_cutoff > 0):
            raise ConfigError(f"smoothing options out of range: {self}")


@dataclass(frozen=True)
class TrackedPose:
    """A pose with the id of the person's track; `raw` is the frame's own pose (posenet's), `pose` the smoothed
    one (the same when smoothing is off)."""

    track_id: int
    pose: Pose
    raw: Pose

    def to_dict(self) -> dict:
        return {"id": self.track_id, **self.pose.to_dict()}


def confident_points(pose: Pose, min_score: float) -> np.ndarray:
    """[N, 2] (x, y) of the keypoints scoring at least `min_score`."""
    return np.array([(k.x, k.y) for k in pose.keypoints if k.score >= min_score], np.float64).reshape(-1, 2)


def box_area(points: np.ndarray) -> float:
    if len(points) == 0:
        return 0.0
    width, height = points.max(axis=0) - points.min(axis=0)
    return float(width * height)


def keypoint_similarity(pose: Pose, track: Pose, options: TrackerOptions) -> float:
    """OKS between a new pose and a track's (predicted) pose, over keypoints confident in both; 0 below
    `min_keypoints` shared keypoints. The scale is the square of the longer side of the track's box, not the box's
    area as in tfjs: a walker seen from the side is a thin box, and with the area its OKS fell under the threshold
    between two frames (vtest.avi, first 300 frames, similarity 0.2: 144 tracks with the area, 37 with the side). Pixels cancel:
    the same at any resolution."""
    points = confident_points(track, options.keypoint_score)
    area = float(np.ptp(points, axis=0).max()) ** 2 + 1e-6 if len(points) else 1e-6
    total, shared = 0.0, 0
    for new, old, sigma in zip(pose.keypoints, track.keypoints, OKS_SIGMAS):
        if new.score < options.keypoint_score or old.score < options.keypoint_score:
            continue
        shared += 1
        total += math.exp(-((new.x - old.x) ** 2 + (new.y - old.y) ** 2) / (2 * area * (2 * sigma) ** 2))
    return total / shared if shared >= options.min_keypoints else 0.0


def box_similarity(pose: Pose, track: Pose, options: TrackerOptions) -> float:
    """IoU of the boxes around the confident keypoints of each."""
    a, b = confident_points(pose, options.keypoint_score), confident_points(track, options.keypoint_score)
    if len(a) == 0 or len(b) == 0:
        return 0.0
    low, high = np.maximum(a.min(axis=0), b.min(axis=0)), np.minimum(a.max(axis=0), b.max(axis=0))
    overlap = float(np.prod(np.clip(high - low, 0, None)))
    union = box_area(a) + box_area(b) - overlap
    return overlap / union if union > 0 else 0.0


SIMILARITIES: dict[str, Callable[[Pose, Pose, TrackerOptions], float]] = {
    "keypoints": keypoint_similarity, "boxes": box_similarity}


@dataclass
class Track:
    """A person's last pose, when it was seen, and how fast its centre moved (px/s), to predict where it is now."""

    track_id: int
    pose: Pose
    last_seen: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))

    def predicted(self, timestamp: float) -> Pose:
        """The last pose moved on at the track's speed: a walker 90 px tall crosses 10 px between two frames at
        10 fps, enough to fall below the similarity threshold if compared where it was."""
        dx, dy = self.velocity * (timestamp - self.last_seen)
        return Pose(self.pose.score, tuple(Keypoint(k.part, k.x + dx, k.y + dy, k.score) for k in self.pose.keypoints))

    def follow(self, pose: Pose, timestamp: float, min_score: float) -> None:
        old, new = confident_points(self.pose, min_score), confident_points(pose, min_score)
        if len(old) and len(new) and timestamp > self.last_seen:
            measured = (new.mean(axis=0) - old.mean(axis=0)) / (timestamp - self.last_seen)
            self.velocity = VELOCITY_BLEND * measured + (1 - VELOCITY_BLEND) * self.velocity
        self.pose, self.last_seen = pose, timestamp


VELOCITY_BLEND = 0.5  # each new measurement's share in the track's speed: steady, yet turns within a few frames


@dataclass
class PoseTracker:
    """Track ids for the poses of successive frames (see the module's docstring)."""

    options: TrackerOptions = field(default_factory=TrackerOptions)
    tracks: list[Track] = field(default_factory=list)
    next_id: int = 1

    def update(self, poses: Sequence[Pose], timestamp: float) -> list[int]:
        """The track id of each pose of the frame at `timestamp` (seconds), in the poses' order."""
        similarity, score = SIMILARITIES[self.options.method], self.options.keypoint_score
        self._drop_stale(timestamp)  # a person away longer than max_age_s is not matched again
        predicted = [track.predicted(timestamp) for track in self.tracks]
        pairs = sorted(((similarity(pose, guess, self.options), p, t)
                        for p, pose in enumerate(poses) for t, guess in enumerate(predicted)), reverse=True)
        ids: list[int | None] = [None] * len(poses)
        taken: set[int] = set()
        for similar, p, t in pairs:  # greedy: the most similar pair first
            if similar < self.options.min_similarity:
                break
            if ids[p] is None and t not in taken:
                ids[p], taken = self.tracks[t].track_id, taken | {t}
                self.tracks[t].follow(poses[p], timestamp, score)
        for p, pose in enumerate(poses):
            if ids[p] is None:
                ids[p] = self.next_id
                self.tracks.append(Track(self.next_id, pose, timestamp))
                self.next_id += 1
        self._drop_stale(timestamp)
        return [int(i) for i in ids]

    def _drop_stale(self, timestamp: float) -> None:
        """Tracks unseen for max_age_s end; the freshest max_tracks are kept."""
        self.tracks = [t for t in self.tracks if timestamp - t.last_seen < self.options.max_age_s]
        self.tracks = sorted(self.tracks, key=lambda t: -t.last_seen)[: self.options.max_tracks]


class OneEuroFilter:
    """The One Euro filter over an array of values sampled at given times (seconds)."""

    def __init__(self, options: SmoothingOptions) -> None:
        self.options = options
        self.value: np.ndarray | None = None
        self.speed: np.ndarray | None = None
        self.time = 0.0

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, interval: float) -> np.ndarray | float:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / interval)

    def __call__(self, value: np.ndarray, timestamp: float, scale: np.ndarray | float = 1.0) -> np.ndarray:
        """The filtered `value`; its speed is measured in units of `scale` (a pose's size) for the cutoff."""
        if self.value is None or timestamp <= self.time:
            # The first sample, or one that does not move time forward (a repeated or reordered timestamp):
            # nothing to filter it against, so the filter restarts from it.
            self.value, self.speed, self.time = value.copy(), np.zeros_like(value), timestamp
            return value
        interval = timestamp - self.time
        speed = (value - self.value) / interval
        self.speed = self.speed + self._alpha(self.options.derivative_cutoff, interval) * (speed - self.speed)
        cutoff = self.options.min_cutoff + self.options.beta * np.abs(self.speed) / scale
        self.value = self.value + self._alpha(cutoff, interval) * (value - self.value)
        self.time = timestamp
        return self.value


def pose_size(pose: Pose, min_score: float = 0.3) -> float:
    """The pose's size in pixels: the mean side of its confident keypoints' box (all keypoints if too few)."""
    points = confident_points(pose, min_score)
    if len(points) < 2:
        points = confident_points(pose, 0.0)
    extent = points.max(axis=0) - points.min(axis=0)
    return max(float(extent.mean()), 1.0)


@dataclass
class PoseSmoother:
    """A One Euro filter per track over its 17 (x, y, score); the speeds that open the filter are measured in
    the pose's sizes per second, so one setting suits a person 60 px tall and one filling a 4K frame."""

    options: SmoothingOptions = field(default_factory=SmoothingOptions)
    filters: dict[int, OneEuroFilter] = field(default_factory=dict)

    def smooth(self, track_id: int, pose: Pose, timestamp: float) -> Pose:
        if not self.options.enabled:
            return pose
        values = np.array([(k.x, k.y, k.score) for k in pose.keypoints], np.float64)
        scale = np.array([pose_size(pose), pose_size(pose), 1.0])
        smoothed = self.filters.setdefault(track_id, OneEuroFilter(self.options))(values, timestamp, scale)
        keypoints = tuple(Keypoint(k.part, float(x), float(y), float(score))
                          for k, (x, y, score) in zip(pose.keypoints, smoothed))
        return Pose(pose.score, keypoints)

    def keep_only(self, track_ids: set[int]) -> None:
        """Forget the filters of tracks that ended."""
        self.filters = {i: f for i, f in self.filters.items() if i in track_ids}


@dataclass
class PoseStream:
    """Track ids and smoothing for the poses of successive frames: `update(poses, timestamp)` with the frame's
    poses (from `PoseEstimator.estimate_poses`) and its time in seconds."""

    tracker: PoseTracker = field(default_factory=PoseTracker)
    smoother: PoseSmoother = field(default_factory=PoseSmoother)

    @classmethod
    def with_options(cls, tracking: TrackerOptions | None = None, smoothing: SmoothingOptions | None = None) -> PoseStream:
        return cls(PoseTracker(tracking or TrackerOptions()), PoseSmoother(smoothing or SmoothingOptions()))

    def update(self, poses: Sequence[Pose], timestamp: float) -> list[TrackedPose]:
        ids = self.tracker.update(poses, timestamp)
        self.smoother.keep_only({t.track_id for t in self.tracker.tracks})
        return [TrackedPose(i, self.smoother.smooth(i, pose, timestamp), pose) for i, pose in zip(ids, poses)]
