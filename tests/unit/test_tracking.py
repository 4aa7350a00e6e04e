"""Track ids and One Euro smoothing (inference/tracking.py) on poses made to move as people do: two people who
cross, one who leaves and comes back, frames with nobody, timestamps that jump; and smoothing off gives posenet's
own poses back, to the bit."""
from __future__ import annotations

import math

import numpy as np
import pytest
from helpers.people import person

from posenet_port.errors import ConfigError
from posenet_port.inference.decode import Pose
from posenet_port.inference.tracking import (
    OneEuroFilter,
    PoseStream,
    PoseTracker,
    SmoothingOptions,
    TrackerOptions,
    expected,
    keypoint_similarity,
)


def test_the_same_pose_is_fully_similar_and_a_distant_one_not_at_all():
    options = TrackerOptions()
    assert keypoint_similarity(person(100, 100), person(100, 100), options) == pytest.approx(1.0)
    assert keypoint_similarity(person(100, 100), person(400, 100), options) < 1e-6
    # Similarity does not depend on the picture's resolution: the same motion, twice as large, twice as far.
    assert keypoint_similarity(person(100, 100), person(104, 100), options) == pytest.approx(
        keypoint_similarity(person(200, 200, 2.0), person(208, 200, 2.0), options))


@pytest.mark.parametrize("method", ["keypoints", "boxes"])
def test_two_people_who_cross_keep_their_ids(method):
    """A walks right, B walks left a little lower (nearer the camera), both at 6 px a frame; they pass each other."""
    tracker = PoseTracker(TrackerOptions(method=method))
    seen_a, seen_b = set(), set()
    for frame in range(60):
        a, b = person(100 + 6 * frame, 100), person(460 - 6 * frame, 130, 1.1)
        ids = tracker.update([a, b] if frame % 2 else [b, a], frame / 10)  # poses come in any order
        id_a, id_b = (ids[0], ids[1]) if frame % 2 else (ids[1], ids[0])
        assert id_a != id_b  # never two people with one id in one frame
        seen_a.add(id_a)
        seen_b.add(id_b)
    assert len(seen_a) == 1 and len(seen_b) == 1 and seen_a != seen_b


def test_two_people_decoded_as_one_pose_for_a_frame_keep_their_ids():
    """A and B walk side by side, half a body apart; for one frame the network decodes them as one pose between
    them and misses B. Taking that pose as A's whole new place (the tracker before its filter) handed A's id to B
    in the next frame; the filter moves A's track only part of the way, and B's track waits where B is going."""
    tracker = PoseTracker()
    seen_a, seen_b = set(), set()
    for frame in range(30):
        x = 100 + 6 * frame
        if frame == 15:
            tracker.update([person(x + 25, 200)], frame / 10)
            continue
        id_a, id_b = tracker.update([person(x, 200), person(x + 50, 200)], frame / 10)
        seen_a.add(id_a)
        seen_b.add(id_b)
    assert len(seen_a) == 1 and len(seen_b) == 1 and seen_a != seen_b, (seen_a, seen_b)


def test_a_keypoint_the_network_misses_moves_on_with_its_person():
    tracker = PoseTracker()
    for frame in range(30):
        tracker.update([person(100 + 6 * frame, 200)], frame / 10)
    missing_wrist = person(280, 200)
    keypoints = list(missing_wrist.keypoints)
    keypoints[9] = keypoints[9]._replace(x=0.0, y=0.0, score=0.05)  # left wrist: not seen, its place meaningless
    tracker.update([Pose(missing_wrist.score, tuple(keypoints))], 3.0)
    # Where the track expects the wrist a frame later: on with the walk (6 px a frame), not where it was last seen.
    wrist = expected(tracker.tracks, 3.1)[0, 9, 0]
    assert abs(wrist - person(286, 200).keypoints[9].x) < 2.0, wrist


def test_someone_who_leaves_keeps_the_id_within_the_maximum_age_and_gets_a_new_one_after():
    tracker = PoseTracker(TrackerOptions(max_age_s=1.0))
    first = tracker.update([person(100, 100)], 0.0)[0]
    assert tracker.update([], 0.5) == []  # a frame with no poses
    assert tracker.update([person(100, 100)], 0.9)[0] == first  # back within a second of the video's time
    assert tracker.update([], 1.5) == []
    assert tracker.update([person(100, 100)], 2.0)[0] != first  # away 1.1 s: a new person as far as ids go


def test_tracks_are_capped_and_ids_are_never_reused():
    tracker = PoseTracker(TrackerOptions(max_tracks=3))
    ids = tracker.update([person(200 * i, 100) for i in range(5)], 0.0)
    assert ids == [1, 2, 3, 4, 5] and len(tracker.tracks) == 3
    assert max(tracker.update([person(2000, 100)], 0.1)) == 6


def test_options_out_of_range_are_refused():
    with pytest.raises(ConfigError, match="tracker 'kalman'"):
        TrackerOptions(method="kalman")
    with pytest.raises(ConfigError):
        SmoothingOptions(min_cutoff=0)


def shaky_still_person(frames: int, seed: int = 0) -> list[Pose]:
    rng = np.random.default_rng(seed)
    return [person(300 + rng.normal(0, 1.5), 200 + rng.normal(0, 1.5)) for _ in range(frames)]


def motion(poses: list[Pose]) -> np.ndarray:
    points = np.array([[(k.x, k.y) for k in pose.keypoints] for pose in poses])
    return np.linalg.norm(np.diff(points, axis=0), axis=2)


def test_smoothing_steadies_a_still_person_and_follows_a_walking_one():
    stream = PoseStream.with_options(smoothing=SmoothingOptions())
    raw = shaky_still_person(100)
    smoothed = [stream.update([pose], index / 30)[0].pose for index, pose in enumerate(raw)]
    still = math.sqrt(np.mean(motion(smoothed[10:]) ** 2)) / math.sqrt(np.mean(motion(raw[10:]) ** 2))
    # vtest.avi's walkers: 65 px tall, 6 px a frame at 10 fps (medians over its tracks). A body that glides
    # without moving its limbs is the filter's hardest case (real walkers swing theirs, which opens the filter:
    # they trail by 0.7 frames, BENCHMARKS.md); it may trail by at most 1.2 frames.
    walking = PoseStream.with_options(smoothing=SmoothingOptions())
    steps = [walking.update([person(100 + 6 * index, 200, 0.65)], index / 10)[0] for index in range(40)]
    lag_frames = np.mean([abs(t.pose.keypoints[0].x - t.raw.keypoints[0].x) for t in steps[10:]]) / 6
    print(f"still: RMS motion smoothed / raw {still:.2f}; gliding at 6 px a frame: {lag_frames:.2f} frames behind")
    assert still < 1 / 3 and lag_frames < 1.2


def test_smoothing_off_gives_posenets_poses_to_the_bit():
    stream = PoseStream.with_options(smoothing=SmoothingOptions(enabled=False))
    for index, pose in enumerate(shaky_still_person(10)):
        (tracked,) = stream.update([pose], index / 30)
        assert tracked.pose == tracked.raw == pose and tracked.to_dict()["id"] == 1


def test_timestamps_that_jump_back_or_repeat_restart_the_filter_and_never_give_nan():
    values = OneEuroFilter(SmoothingOptions())
    for timestamp, value in [(0.0, 1.0), (0.1, 2.0), (0.1, 5.0), (0.05, 7.0), (100.0, 9.0), (100.0 + 1e-9, 9.5)]:
        out = values(np.array([value]), timestamp)
        assert np.isfinite(out).all()
    assert values(np.array([3.0]), 50.0)[0] == 3.0  # back in time: taken as it is
