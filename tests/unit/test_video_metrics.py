"""The tracking benchmark's measures (benchmark/video.py) on poses whose answer is known: a shake clip is the photo
moved by at most one pixel, lag is what a steady walker's trail says, a jump is a switch, and a still person has
no jitter."""
from __future__ import annotations

import numpy as np
from helpers.people import person

from posenet_port.benchmark import video
from posenet_port.inference.tracking import PoseStream, TrackedPose


def test_a_shake_clip_is_the_photo_moved_by_at_most_one_pixel():
    photo = np.random.default_rng(0).integers(0, 255, (480, 640, 3), np.uint8)
    frames = list(video.shaken(photo, 30, seed=1))
    inner = photo[1:-1, 1:-1]
    shifts = set()
    for frame in frames:
        assert frame.shape == inner.shape
        match = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)
                 if np.array_equal(frame, photo[1 + dy : 479 + dy, 1 + dx : 639 + dx])]
        assert len(match) == 1
        shifts.add(match[0])
    assert len(shifts) > 3  # it does shake


def clip(poses_per_frame, fps: float = 10.0) -> video.Clip:
    return video.Clip("synthetic", tuple(i / fps for i in range(len(poses_per_frame))),
                      tuple(tuple(p) for p in poses_per_frame), fps)


def test_lag_is_the_trail_of_a_steady_walker_over_its_speed():
    speed = 12.0  # px a frame
    frames, _ = video.run_stream(clip([[person(100 + speed * i, 200)] for i in range(60)]), PoseStream())
    trail = np.mean([frame[0].raw.keypoints[0].x - frame[0].pose.keypoints[0].x for frame in frames[10:]])
    lag = video.lag(frames, 10.0)
    assert lag.tracks == 1 and abs(lag.frames - trail / speed) <= 0.1, (lag, trail / speed)


def test_a_still_person_has_no_jitter_and_a_shaking_one_is_steadied():
    assert video.jitter([clip([[person(300, 200)]] * 30)]).raw_rms == 0.0
    rng = np.random.default_rng(3)
    shaky = clip([[person(300 + rng.normal(0, 2), 200 + rng.normal(0, 2))] for _ in range(60)], fps=30.0)
    measured = video.jitter([shaky])
    assert measured.raw_rms > 1.0 and measured.ratio < 0.5 and measured.motions == 59 * 17


def test_a_track_that_jumps_to_someone_else_is_a_suspected_switch():
    a, b = person(100, 200), person(400, 200)
    frames = [[TrackedPose(1, a, a)], [TrackedPose(1, a, a)], [TrackedPose(1, b, b)]]
    assert video.suspected_switches(frames, 10.0) == 1
    identity = video.identity(frames + [[TrackedPose(2, a, a), TrackedPose(2, b, b)]], 10.0)
    assert identity.tracks == 2 and identity.shared_ids == 1
