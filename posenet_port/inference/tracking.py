"""Poses across the frames of a video: each person keeps a track id, and each track's keypoints are smoothed.

PoseNet decodes every frame on its own: poses come in score order, with no identity, and a keypoint moves by a
pixel or two when the camera does (issue 27 measured 22 % of confident keypoints moving over 2 px for a one-pixel
shift). This is a layer on top of the exact per-frame poses, built as tfjs-models' pose-detection does for MoveNet:

- `PoseTracker` links each new pose to a track by greedy assignment on a similarity: Object Keypoint Similarity
  (COCO's per-keypoint falloff, keypoints from a score of 0.3, at least 4 of them) or the IoU of the keypoints'
  bounding boxes, against where each track expects its person now. A track follows its person's keypoints with a
  filter per keypoint (as norfair's Kalman filters do), so that one garbled pose does not carry it off. A pose
  that matches no track starts one; a track unseen for `max_age_s` of the video's time ends.
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
from posenet_port.model.keypoints import NUM_KEYPOINTS, OKS_SIGMAS

TRACKERS = ("keypoints", "boxes")


@dataclass(frozen=True, kw_only=True)
class TrackerOptions:
    """How poses are linked to tracks. `method`: "keypoints" (OKS) or "boxes" (IoU of the keypoints' boxes);
    `min_similarity`: below it a pose starts a new track (tfjs uses 0.2; 0.1 was chosen with the filter's gains
    against vtest.avi's people labelled by hand: research/trackers.md); keypoints count from `keypoint_score`,
    and OKS needs `min_keypoints` of them in both; tracks end after `max_age_s` unseen (a longer memory bridges
    more of the gaps where the network misses a person: research/trackers.md), at most `max_tracks` kept."""

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
    (Hz) smooths the speed estimate itself. The defaults are the steadiest setting on shake clips of the tuning
    photos whose walkers on vtest.avi's first half trail by at most 0.7 frames (0.3 below the goal of one frame:
    the two halves' walkers differ by up to 0.2); `python research/trackers.py` has the grid, and
    `python -m posenet_port.bench --sections video` measures them on the validation photos and the second half."""

    enabled: bool = True
    min_cutoff: float = 0.1
    beta: float = 0.75
    derivative_cutoff: float = 0.5

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


def as_array(pose: Pose) -> np.ndarray:
    """[17, 3]: x, y, score of each keypoint."""
    return np.array([(k.x, k.y, k.score) for k in pose.keypoints], np.float64)


def as_arrays(poses: Sequence[Pose]) -> np.ndarray:
    """[P, 17, 3]: as_array of each pose, in one step."""
    points = np.array([[(k.x, k.y, k.score) for k in pose.keypoints] for pose in poses], np.float64)
    return points.reshape(len(poses), NUM_KEYPOINTS, 3)


def confident_points(pose: Pose, min_score: float) -> np.ndarray:
    """[N, 2] (x, y) of the keypoints scoring at least `min_score`."""
    points = as_array(pose)
    return points[points[:, 2] >= min_score, :2]


def _extents(points: np.ndarray, confident: np.ndarray) -> np.ndarray:
    """[N, 2]: width and height of the box around each pose's confident keypoints (0 where it has none), and
    [N, 2, 2] the boxes' (min, max) corners. `points` [N, 17, 3], `confident` [N, 17]."""
    xy = points[..., :2]
    low = np.where(confident[..., None], xy, np.inf).min(axis=1)
    high = np.where(confident[..., None], xy, -np.inf).max(axis=1)
    some = confident.any(axis=1)[:, None]
    return np.where(some, high - low, 0.0), np.stack([np.where(some, low, 0.0), np.where(some, high, 0.0)], axis=1)


def keypoint_similarities(new: np.ndarray, old: np.ndarray, options: TrackerOptions) -> np.ndarray:
    """[P, T] OKS between new poses [P, 17, 3] and tracks' (predicted) poses [T, 17, 3], over keypoints confident in
    both; 0 below `min_keypoints` shared keypoints. The scale is the square of the longer side of the track's box,
    not the box's area as in tfjs: a walker seen from the side is a thin box, and with the area its OKS fell under
    the threshold between two frames (vtest.avi, first 300 frames, similarity 0.2: 144 tracks with the area, 37
    with the side). Pixels cancel: the same at any resolution."""
    score = options.keypoint_score
    area = _extents(old, old[..., 2] >= score)[0].max(axis=1) ** 2 + 1e-6  # [T]
    shared = (new[:, None, :, 2] >= score) & (old[None, :, :, 2] >= score)  # [P, T, 17]
    distance2 = ((new[:, None, :, :2] - old[None, :, :, :2]) ** 2).sum(axis=-1)
    falloff = 2 * area[None, :, None] * (2 * np.asarray(OKS_SIGMAS)) ** 2
    count = shared.sum(axis=-1)
    total = np.where(shared, np.exp(-distance2 / falloff), 0.0).sum(axis=-1)
    return np.where(count >= options.min_keypoints, total / np.maximum(count, 1), 0.0)


def box_similarities(new: np.ndarray, old: np.ndarray, options: TrackerOptions) -> np.ndarray:
    """[P, T] IoU of the boxes around the confident keypoints of each."""
    (new_size, new_box), (old_size, old_box) = (_extents(p, p[..., 2] >= options.keypoint_score) for p in (new, old))
    low = np.maximum(new_box[:, None, 0], old_box[None, :, 0])
    high = np.minimum(new_box[:, None, 1], old_box[None, :, 1])
    overlap = np.clip(high - low, 0, None).prod(axis=-1)
    union = new_size.prod(axis=-1)[:, None] + old_size.prod(axis=-1)[None, :] - overlap
    some = (new[..., 2] >= options.keypoint_score).any(axis=1)[:, None] & (old[..., 2] >= options.keypoint_score).any(axis=1)[None, :]
    return np.where(some & (union > 0), overlap / np.where(union > 0, union, 1.0), 0.0)


def keypoint_similarity(pose: Pose, track: Pose, options: TrackerOptions) -> float:
    """OKS between one pose and one track's pose (see keypoint_similarities)."""
    return float(keypoint_similarities(as_array(pose)[None], as_array(track)[None], options)[0, 0])


SIMILARITIES: dict[str, Callable[[np.ndarray, np.ndarray, TrackerOptions], np.ndarray]] = {
    "keypoints": keypoint_similarities, "boxes": box_similarities}


@dataclass
class Track:
    """Where a person's keypoints are expected: `points` [17, 3] x, y, score, each keypoint filtered over the frames
    it was seen in, `velocity` [17, 2] each keypoint's speed (px/s), and when the person was last seen. A keypoint
    seen once stays in the track and moves on at its own speed while the network misses it."""

    track_id: int
    points: np.ndarray
    last_seen: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros((NUM_KEYPOINTS, 2)))


def expected(tracks: Sequence[Track], timestamp: float) -> np.ndarray:
    """[T, 17, 3] where the tracks expect their people at `timestamp`: each keypoint moved on at its speed. A
    walker 90 px tall crosses 10 px between two frames at 10 fps, enough to fall below the similarity threshold if
    compared where it was."""
    moved = np.array([t.points for t in tracks]).reshape(len(tracks), NUM_KEYPOINTS, 3)
    velocity = np.array([t.velocity for t in tracks]).reshape(len(tracks), NUM_KEYPOINTS, 2)
    interval = timestamp - np.array([t.last_seen for t in tracks], np.float64)
    moved[..., :2] += velocity * interval[:, None, None]
    return moved


def follow(tracks: Sequence[Track], expectation: np.ndarray, points: np.ndarray, timestamp: float,
           min_score: float) -> None:
    """Take each track's matched pose in: `expectation` [M, 17, 3] where the tracks expected their people now,
    `points` [M, 17, 3] the poses seen there. An alpha-beta filter per keypoint (a constant-velocity Kalman filter
    at its steady state), so that one garbled pose (a limb taken for a neighbour's, two people decoded as one)
    moves a track part of the way instead of all of it. All of a frame's tracks in one step: it is most of the
    tracker's time."""
    if not tracks:
        return
    interval = timestamp - np.array([t.last_seen for t in tracks])[:, None, None]  # [M, 1, 1]
    velocity = np.array([t.velocity for t in tracks])
    seen = points[..., 2:] >= min_score  # [M, 17, 1]
    known = expectation[..., 2:] >= min_score
    both, fresh = seen & known, seen & ~known
    surprise = points[..., :2] - expectation[..., :2]
    timed = interval > 0  # a repeated or reordered timestamp: no time to measure a speed over, take the pose as is
    steps = np.where(timed, interval, 1.0)
    velocity = np.where(both & timed, velocity + (VELOCITY_GAIN / steps) * surprise, velocity)
    count = both.sum(axis=1, keepdims=True)  # a keypoint seen for the first time moves as the rest of the person
    moving = (velocity * both).sum(axis=1, keepdims=True) / np.maximum(count, 1)
    velocity = np.where(fresh & (count > 0) & timed, moving, velocity)
    position = np.where(both, expectation[..., :2] + POSITION_GAIN * surprise, np.where(seen, points[..., :2],
                                                                                      expectation[..., :2]))
    followed = np.concatenate([np.where(timed, position, points[..., :2]),
                               np.where(seen | ~timed, points[..., 2:], expectation[..., 2:])], axis=-1)
    for track, track_points, track_velocity in zip(tracks, followed, velocity):
        track.points, track.velocity, track.last_seen = track_points, track_velocity, timestamp


# The filter's gains: the share of a keypoint's surprise taken into its position, and (over the frame's interval)
# into its speed. Chosen with min_similarity on vtest.avi's first half, by identity errors against the people
# labelled by hand; research/trackers.md has the grid and the second half.
POSITION_GAIN = 0.3
VELOCITY_GAIN = 0.15


@dataclass
class PoseTracker:
    """Track ids for the poses of successive frames (see the module's docstring)."""

    options: TrackerOptions = field(default_factory=TrackerOptions)
    tracks: list[Track] = field(default_factory=list)
    next_id: int = 1

    def update(self, poses: Sequence[Pose], timestamp: float) -> list[int]:
        """The track id of each pose of the frame at `timestamp` (seconds), in the poses' order."""
        return self.update_points(as_arrays(poses), timestamp)

    def update_points(self, new: np.ndarray, timestamp: float) -> list[int]:
        """update() for the poses' keypoints as [P, 17, 3] x, y, score."""
        poses = range(len(new))
        self._drop_stale(timestamp)  # a person away longer than max_age_s is not matched again
        predicted = expected(self.tracks, timestamp)
        similarity = SIMILARITIES[self.options.method](new, predicted, self.options)
        # Greedy, the most similar pair first; ties go to the later pose, then the later track (as the page does).
        order = sorted(((float(similarity[p, t]), p, t) for p in poses for t in range(len(self.tracks))), reverse=True)
        ids: list[int | None] = [None] * len(poses)
        matched: dict[int, int] = {}  # track -> pose
        for similar, p, t in order:
            if similar < self.options.min_similarity:
                break
            if ids[p] is None and t not in matched:
                ids[p], matched[t] = self.tracks[t].track_id, p
        tracks, matched_poses = list(matched), list(matched.values())
        follow([self.tracks[t] for t in tracks], predicted[tracks], new[matched_poses], timestamp,
               self.options.keypoint_score)
        for p in poses:
            if ids[p] is None:
                ids[p] = self.next_id
                self.tracks.append(Track(self.next_id, new[p], timestamp))
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

    def restarts_at(self, timestamp: float) -> bool:
        """Whether a sample at `timestamp` starts the filter afresh: the first one, or one that does not move time
        forward (a repeated or reordered timestamp), which there is nothing to filter against."""
        return self.value is None or timestamp <= self.time

    def __call__(self, value: np.ndarray, timestamp: float, scale: np.ndarray | float = 1.0) -> np.ndarray:
        """The filtered `value`; its speed is measured in units of `scale` (a pose's size) for the cutoff."""
        return filter_all([self], value[None], timestamp, np.asarray(scale, np.float64)[None], self.options)[0]


def filter_all(filters: Sequence[OneEuroFilter], values: np.ndarray, timestamp: float, scales: np.ndarray,
               options: SmoothingOptions) -> np.ndarray:
    """Each filter's next value for its row of `values` at `timestamp`, speeds in units of its row of `scales`
    (broadcast to the values): a One Euro step for the filters that go on, a restart for the others, all rows in
    one step."""
    scales = np.broadcast_to(scales, values.shape)
    going = [k for k, f in enumerate(filters) if not f.restarts_at(timestamp)]
    smoothed, speeds = values.copy(), np.zeros_like(values)
    if going:
        interval = (timestamp - np.array([filters[k].time for k in going])).reshape(-1, *[1] * (values.ndim - 1))
        smoothed[going], speeds[going] = one_euro_step(
            np.array([filters[k].value for k in going]), np.array([filters[k].speed for k in going]), values[going],
            interval, scales[going], options)
    for f, value, speed in zip(filters, smoothed, speeds):
        f.value, f.speed, f.time = value, speed, timestamp
    return smoothed


def _alpha(cutoff: np.ndarray | float, interval: np.ndarray | float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / interval)


def one_euro_step(value: np.ndarray, speed: np.ndarray, sample: np.ndarray, interval: np.ndarray | float,
                  scale: np.ndarray | float, options: SmoothingOptions) -> tuple[np.ndarray, np.ndarray]:
    """One step of the One Euro filter from (`value`, `speed`) to `sample`, `interval` seconds later: the new value
    and speed. Elementwise, so one call filters many tracks at once (arrays stacked, intervals broadcast)."""
    measured = (sample - value) / interval
    speed = speed + _alpha(options.derivative_cutoff, interval) * (measured - speed)
    cutoff = options.min_cutoff + options.beta * np.abs(speed) / scale
    return value + _alpha(cutoff, interval) * (sample - value), speed


def pose_size(pose: Pose, min_score: float = 0.3) -> float:
    """The pose's size in pixels: the mean side of its confident keypoints' box (all keypoints if too few)."""
    return float(points_sizes(as_array(pose)[None], min_score)[0])


def points_sizes(points: np.ndarray, min_score: float = 0.3) -> np.ndarray:
    """pose_size of each pose of [P, 17, 3] x, y, score, at once: [P]."""
    confident = points[..., 2] >= min_score
    confident = np.where(confident.sum(axis=1, keepdims=True) >= 2, confident, True)
    extent = _extents(points, confident)[0]
    return np.maximum((extent[:, 0] + extent[:, 1]) / 2, 1.0)


@dataclass
class PoseSmoother:
    """A One Euro filter per track over its 17 (x, y, score); the speeds that open the filter are measured in
    the pose's sizes per second, so one setting suits a person 60 px tall and one filling a 4K frame."""

    options: SmoothingOptions = field(default_factory=SmoothingOptions)
    filters: dict[int, OneEuroFilter] = field(default_factory=dict)

    def smooth(self, track_ids: Sequence[int], poses: Sequence[Pose], timestamp: float,
               points: np.ndarray | None = None) -> list[Pose]:
        """The frame's poses at `timestamp`, each smoothed by its track's filter (`track_ids`: one per pose, no id
        twice); `points`: the poses' as_arrays, if already made. All of a frame's tracks in one step."""
        if not self.options.enabled:
            return list(poses)
        values = as_arrays(poses) if points is None else points
        sizes = points_sizes(values)
        scales = np.stack([sizes, sizes, np.ones_like(sizes)], axis=-1)[:, None, :]  # [P, 1, 3]
        filters = [self.filters.setdefault(i, OneEuroFilter(self.options)) for i in track_ids]
        smoothed = filter_all(filters, values, timestamp, scales, self.options)
        return [Pose(pose.score, tuple(map(Keypoint, (k.part for k in pose.keypoints), *rows.T.tolist())))
                for pose, rows in zip(poses, smoothed)]

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
        points = as_arrays(poses)
        ids = self.tracker.update_points(points, timestamp)
        self.smoother.keep_only({t.track_id for t in self.tracker.tracks})
        return [TrackedPose(i, smoothed, pose) for i, smoothed, pose in
                zip(ids, self.smoother.smooth(ids, poses, timestamp, points), poses)]
