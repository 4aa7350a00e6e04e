"""research/reidentification.py: the appearance cue it measures, on vtest.avi's labelled people."""
from __future__ import annotations

import sys

import numpy as np
from helpers import REPO

sys.path.insert(0, str(REPO / "research"))

import reidentification  # noqa: E402


def test_a_persons_look_matches_itself_and_differs_from_the_lawn():
    from posenet_port.benchmark.video import PeopleTruth
    from posenet_port.pipeline.photos import VTEST, VTEST_PEOPLE, video_frames

    truth = PeopleTruth.load(VTEST_PEOPLE)
    index, box = truth.people["A"][0]
    frame = next(frame for i, frame in enumerate(video_frames(VTEST)) if i == index)
    look = reidentification.appearance(frame, box)
    assert len(look) == 2 and all(abs(half.sum() - 1) < 1e-5 for half in look)  # two normalised histograms
    assert reidentification.difference(look, look) < 1e-6
    lawn = reidentification.appearance(frame, np.array([100.0, 450.0, 130.0, 540.0]))  # grass, bottom left
    print(f"A against the lawn: {reidentification.difference(look, lawn):.3f}")
    assert reidentification.difference(look, lawn) > 0.7
