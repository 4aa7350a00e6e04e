"""The tracking benchmark's measures (benchmark/video.py) on poses whose answer is known: a shake clip is the photo
moved by at most one pixel, lag is what a steady walker's trail says, a jump is a switch, and a still person has
no jitter."""
from __future__ import annotations

import numpy as np
import pytest
from helpers.people import person

from posenet_port.benchmark import video
from posenet_port.errors import ConfigError
from posenet_port.inference.tracking import PoseStream, TrackedPose, as_array


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


def labelled(poses_by_name: dict[str, dict[int, object]], ignored: dict[int, object]) -> video.PeopleTruth:
    """A hand labelling of synthetic poses: each person's box at the given frames, as vtest_people.json holds."""
    box = lambda pose: video.keypoint_box(as_array(pose))  # noqa: E731
    return video.PeopleTruth({name: [(i, box(p)) for i, p in frames.items()] for name, frames in poses_by_name.items()},
                             [(i, box(p)) for i, p in ignored.items()])


def test_people_identity_counts_the_ids_each_person_got_and_the_ids_that_went_over_to_someone_else():
    a, b, c = person(100, 200), person(400, 200), person(650, 200)
    # a keeps id 1 until frame 19, then gets id 3; b keeps id 2 until frame 29, then takes id 1, a's old one;
    # c (labelled "cannot tell") wears id 2 throughout, which must count for no one.
    frames = [[TrackedPose(1 if i < 20 else 3, a, a), TrackedPose(2 if i < 30 else 1, b, b), TrackedPose(2, c, c)]
              for i in range(41)]
    labels = range(0, 41, 10)
    truth = labelled({"a": {i: a for i in labels}, "b": {i: b for i in labels}}, {i: c for i in labels})
    assert video.ids_of_people(frames, truth)["b"] == [(0, 2), (10, 2), (20, 2), (30, 1), (40, 1)]
    identity = video.people_identity(frames, truth, fps=10.0)
    assert identity == video.PeopleIdentity(people=2, tracks_per_person=2.0, kept_one_id=0, id_changes=2,
                                            ids_on_two_people=1)
    # Over the first two seconds only, nobody has been seen for more than 2 s.
    assert video.people_identity(frames, truth, fps=10.0, frame_range=range(0, 21)).people == 0


def test_a_pose_is_a_labelled_persons_only_when_their_boxes_overlap():
    a = person(100, 200)
    moved_half_a_body = person(100, 250)  # overlaps a's box by a third: someone else
    truth = labelled({"a": {0: a}}, {})
    assert video.ids_of_people([[TrackedPose(1, a, a)]], truth) == {"a": [(0, 1)]}
    assert video.ids_of_people([[TrackedPose(1, moved_half_a_body, moved_half_a_body)]], truth) == {"a": []}


def test_the_hand_labelling_of_vtest_is_well_formed():
    from posenet_port.pipeline.photos import VTEST_PEOPLE

    truth = video.PeopleTruth.load(VTEST_PEOPLE)
    assert len(truth.people) >= 20
    for name, boxes in [*truth.people.items(), ("ignored", truth.ignored)]:
        frames = [index for index, _ in boxes]
        assert all(index % 10 == 0 and 0 <= index < 795 for index in frames), name
        assert all((box[2:] > box[:2]).all() for _, box in boxes), name
        if name != "ignored":
            assert frames == sorted(set(frames)), name  # a person once per labelled frame


@pytest.mark.parametrize("text", ['{"people": {"a": [[0, 1, 2, 3]]}, "ignored": []}',
                                  '{"people": {"a": [[0, 5, 2, 3, 4]]}, "ignored": []}',
                                  '{"people": {"a": [[-10, 1, 2, 3, 4]]}, "ignored": []}',
                                  '{"people": {"a": [[0.5, 1, 2, 3, 4]]}, "ignored": []}',
                                  '{"people": {"a": [[0, "x", 2, 3, 4]]}, "ignored": []}',
                                  '{"people": []}', '[1, 2]', 'not json', ''])
def test_a_file_that_is_not_a_labelling_is_refused_with_a_clear_error(tmp_path, text):
    path = tmp_path / "people.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match="not a labelling of people"):
        video.PeopleTruth.load(path)
