"""A library before code of our own: norfair (tryolabs; its maintained fork norfair-enough, which installs beside
numpy 2) tracks the keypoints of pose estimators with a Kalman filter per point. It meets the project's
PoseStream (OKS tracker + One Euro filter) on the same raw poses: still photos shaken by one pixel (jitter),
vtest.avi's walkers (lag, identity) and the cost per frame, measured as the benchmark measures the stream
(posenet_port/benchmark/video.py). Identity is judged against the people of vtest.avi labelled by hand
(videos/vtest_people.json). Beside norfair: the grids PoseStream's defaults were chosen from (the tracker's
per-keypoint filter and thresholds on identity, the One Euro settings on jitter and lag), and the bound PoseNet's
own poses set on any tracker (how often a person in view has no pose of their own for longer than its memory).

    pip install -r research/requirements.txt
    python research/trackers.py --out research/trackers.md
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

import numpy as np
from study import publish, report_path

from posenet_port._util.machine import describe_cpu
from posenet_port.benchmark import video
from posenet_port.inference import tracking
from posenet_port.inference.decode import Keypoint, Pose
from posenet_port.inference.estimator import PoseEstimator
from posenet_port.inference.stream import CaptureSource
from posenet_port.inference.tracking import (
    PoseSmoother,
    PoseStream,
    PoseTracker,
    SmoothingOptions,
    TrackedPose,
    TrackerOptions,
)
from posenet_port.pipeline.photos import PEOPLE, TUNING_PEOPLE, VALIDATION_PEOPLE, VTEST, VTEST_PEOPLE, video_frames

# norfair's own pose demo (demos/openpose): its settings, with the keypoint distance scaled to the frame's height
# as it does (height / 40).
DEMO = {"detection_threshold": 0.01, "distance_threshold": 0.4, "hit_counter_max": 30, "initialization_delay": 4,
        "pointwise_hit_counter_max": 10}


class NorfairStream:
    """norfair's Tracker behind PoseStream's interface: `update(poses, timestamp)` gives TrackedPose for the
    poses it reports this frame (a new object only after `initialization_delay` frames), the Kalman estimate as the
    smoothed pose."""

    def __init__(self, frame_height: int, **settings) -> None:
        from norfair import Tracker
        from norfair.distances import create_keypoints_voting_distance

        settings = {**DEMO, **settings}
        self.detection_threshold = settings.pop("detection_threshold")
        distance = create_keypoints_voting_distance(keypoint_distance_threshold=frame_height / 40,
                                                    detection_threshold=self.detection_threshold)
        self.tracker = Tracker(distance_function=distance, detection_threshold=self.detection_threshold, **settings)

    def update(self, poses: list[Pose], timestamp: float) -> list[TrackedPose]:
        from norfair import Detection

        detections = [Detection(points=np.array([(k.x, k.y) for k in pose.keypoints]),
                                scores=np.array([k.score for k in pose.keypoints]), data=index)
                      for index, pose in enumerate(poses)]
        tracked = []
        for thing in self.tracker.update(detections=detections):
            if thing.last_detection.age == thing.age:  # matched in this frame (norfair keeps a copy of it)
                raw = poses[thing.last_detection.data]
                keypoints = tuple(Keypoint(k.part, float(x), float(y), k.score)
                                  for k, (x, y) in zip(raw.keypoints, thing.estimate))
                tracked.append(TrackedPose(thing.id, Pose(raw.score, keypoints), raw))
        return tracked


# The tracker's filter gains (tracking.POSITION_GAIN, tracking.VELOCITY_GAIN) and min_similarity: the grid the
# defaults were chosen from, by identity errors on the video's first half at the memory the goals set (max_age_s
# 1 s), ties kept at the former min_similarity (0.1). Longer memories are shown beside. Gain 1 takes each pose
# as it comes, as the tracker did before the filter.
ASSOCIATION_GRID = [(position, velocity, similarity, age) for position in (1.0, 0.6, 0.5, 0.4, 0.3)
                    for velocity in (0.5, 0.15, 0.1, 0.07) for similarity in (0.1, 0.2) for age in (1.0, 1.5, 2.0)]


def association_rows(walk: video.Clip, truth: video.PeopleTruth, fps: float) -> list[dict]:
    """Each setting of ASSOCIATION_GRID on the whole video (smoothing off: it does not touch ids), identity on
    each half; the settings at max_age_s 1 s first, each group sorted by the first half's errors, then by keeping
    min_similarity at 0.1."""
    first, second = range(0, len(walk.poses) // 2), range(len(walk.poses) // 2, len(walk.poses))
    gains = tracking.POSITION_GAIN, tracking.VELOCITY_GAIN
    rows = []
    try:
        for position, velocity, similarity, age in ASSOCIATION_GRID:
            tracking.POSITION_GAIN, tracking.VELOCITY_GAIN = position, velocity
            tracker = PoseTracker(TrackerOptions(min_similarity=similarity, max_age_s=age))
            frames, _ = video.run_stream(walk, PoseStream(tracker, PoseSmoother(SmoothingOptions(enabled=False))))
            halves = [video.people_identity(frames, truth, fps, part) for part in (first, second)]
            rows.append({"knobs": (position, velocity, similarity, age), "first": halves[0], "second": halves[1]})
    finally:
        tracking.POSITION_GAIN, tracking.VELOCITY_GAIN = gains
    return sorted(rows, key=lambda row: (row["knobs"][3], errors(row["first"]), row["knobs"][2] != 0.1))


# One Euro settings (min_cutoff Hz, beta, derivative_cutoff Hz): the defaults are the steadiest on the tuning
# photos' shake clips whose walkers on the video's first half trail by at most SMOOTHING_LAG_MARGIN frames: 0.3
# frames below the goal of 1, more than the halves of the video differ by at any setting of the grid (0.2).
SMOOTHING_GRID = [(cutoff, beta, derivative) for cutoff in (0.1, 0.2, 0.3, 0.5) for beta in (0.5, 0.75, 1.0, 1.5, 2.0)
                  for derivative in (0.5, 1.0)]
SMOOTHING_LAG_MARGIN = 0.7


def smoothing_rows(walk: video.Clip, shake: dict[str, video.Clip], fps: float) -> list[dict]:
    """Each setting of SMOOTHING_GRID: jitter (smoothed / raw RMS) at 30 fps on the tuning and the validation
    photos' shake clips, lag on each half of the video; sorted by the tuning jitter."""
    halves = video.split(walk, len(walk.poses) // 2)
    rows = []
    for cutoff, beta, derivative in SMOOTHING_GRID:
        options = SmoothingOptions(min_cutoff=cutoff, beta=beta, derivative_cutoff=derivative)
        make = lambda: PoseStream(PoseTracker(), PoseSmoother(options))  # noqa: E731
        jitters = [video.jitter([shake[name] for name in names], make).ratio for names in (TUNING_PEOPLE, VALIDATION_PEOPLE)]
        lags = [video.lag(video.run_stream(half, make())[0], fps).frames for half in halves]
        rows.append({"knobs": (cutoff, beta, derivative), "jitter": jitters, "lag": lags})
    return sorted(rows, key=lambda row: row["jitter"][0])


def errors(identity: video.PeopleIdentity) -> int:
    return identity.id_changes + identity.ids_on_two_people


# A tracklet that keeps one person for sure: OKS 0.3 against the pose of the frame before, nothing older.
STRICT = TrackerOptions(min_similarity=0.3, max_age_s=0.15, max_tracks=40)


def presence(walk: video.Clip, truth: video.PeopleTruth) -> dict[str, list[int]]:
    """The frames where each labelled person has a pose a tracker can follow. Strict tracklets (STRICT) are
    matched to the people at the labelled frames; a frame of a tracklet goes to the person labelled at the nearest
    labelled frames before and after it when they agree, so a tracklet that carries a person through a stretch of
    poses left out (two people decoded as one) carries that person. A tracklet with two people's labels gives the
    frames between them to no one."""
    frames, _ = video.run_stream(walk, PoseStream(PoseTracker(STRICT), PoseSmoother(SmoothingOptions(enabled=False))))
    marks: dict[int, dict[int, str]] = {}  # tracklet -> labelled frame -> person
    for name, ids in video.ids_of_people(frames, truth).items():
        for index, track_id in ids:
            marks.setdefault(track_id, {})[index] = name
    seen: dict[str, list[int]] = {name: [] for name in truth.people}
    for index, frame in enumerate(frames):
        for tracked in frame:
            labelled = marks.get(tracked.track_id, {})
            before = [labelled[i] for i in sorted(labelled) if i <= index][-1:]
            after = [labelled[i] for i in sorted(labelled) if i >= index][:1]
            names = set(before + after)
            if len(names) == 1:
                seen[names.pop()].append(index)
    return seen


def bound(present: dict[str, list[int]], truth: video.PeopleTruth, fps: float, memory_s: float) -> float:
    """Tracks per person (people labelled for more than MIN_TRACK_S) of a tracker that links every pose to its
    person without error but forgets a person unseen for `memory_s`: one track, plus one per longer gap."""
    counts = [1 + sum((b - a) / fps >= memory_s for a, b in zip(frames, frames[1:]))
              for name, frames in present.items() if frames
              and (truth.people[name][-1][0] - truth.people[name][0][0]) / fps > video.MIN_TRACK_S]
    return sum(counts) / len(counts)


def measure(name: str, make: Callable[[], object], walk: video.Clip, shake: list[video.Clip], fps: float,
            truth: video.PeopleTruth) -> dict:
    frames, milliseconds = video.run_stream(walk, make())
    halves = video.split(walk, len(walk.poses) // 2)
    reported = sum(len(f) for f in frames) / max(sum(len(p) for p in walk.poses), 1)
    return {"name": name, "jitter": video.jitter(shake, make), "lag": video.lag(video.run_stream(halves[1], make())[0], fps),
            "identity": video.identity(frames, fps), "switches": video.suspected_switches(frames, fps),
            "people": video.people_identity(frames, truth, fps),
            "ms": statistics.median(milliseconds), "p90_ms": float(np.percentile(milliseconds, 90)),
            "reported": reported}


def _people(identity: video.PeopleIdentity) -> str:
    return (f"{identity.tracks_per_person:.2f} | {identity.kept_one_id} of {identity.people} | {identity.id_changes} | "
            f"{identity.ids_on_two_people}")


def report(rows: list[dict], associations: list[dict], smoothings: list[dict], bounds: dict[float, float],
           walk: video.Clip, truth: video.PeopleTruth, seconds: float) -> str:
    lines = [
        "# Tracking on vtest.avi: norfair against PoseStream, PoseStream's settings, and what PoseNet's poses allow",
        "",
        f"Written by `python research/trackers.py` on {describe_cpu()} in {seconds:.0f} s. Raw poses: PoseNet at "
        f"{video.VTEST_INPUT_SIZE} on every frame of {walk.name} ({len(walk.poses)} frames), and at 257 on "
        f"{len(VALIDATION_PEOPLE)} validation photos shaken by one pixel ({video.SHAKE_FRAMES} frames each at "
        f"{video.SHAKE_FPS:.0f} fps). Definitions as in the benchmark (posenet_port/benchmark/video.py).",
        "",
        "",
        f"Identity against the {len(truth.people)} people of {walk.name} labelled by hand (videos/vtest_people.json), "
        f"over the {rows[0]['people'].people} seen for more than {video.MIN_TRACK_S:.0f} s: track ids per person "
        "(1.00: each kept one id; the goal is <= 1.2), people who kept one id, id changes along people, and ids "
        "that went over to another person.",
        "",
        "| tracker | jitter RMS smoothed / raw | lag, second half (frames) | tracks | tracks >= 2 s | longest (s) | suspected switches | ids per person | kept one id | id changes | ids on two people | poses reported | ms per frame (p90) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        identity, lag = row["identity"], row["lag"]
        lagged = f"{lag.frames:.2f} ({lag.tracks} walkers)" if lag.tracks else "none: no walker tracked 2 s without a gap"
        lines.append(f"| {row['name']} | {row['jitter'].ratio:.3f} | {lagged} | "
                     f"{identity.tracks} | {identity.long_tracks} | {identity.longest_s:.1f} | {row['switches']} | "
                     f"{_people(row['people'])} | {row['reported']:.1%} | {row['ms']:.2f} ({row['p90_ms']:.2f}) |")
    lines += [
        "",
        "## The tracker's association: a filter per keypoint",
        "",
        f"{len(associations)} settings of the filter's position and speed gains, min_similarity and max_age_s, on "
        "the same poses, smoothing off. At the 1 s memory the goals set, ranked by identity errors (id changes plus "
        "ids on two people) on the first half, ties to min_similarity 0.1 (the former default); the second half was "
        "not used to choose. The first row is the chosen setting, the defaults; then the best at longer memories.",
        "",
        "| position gain, speed gain, min_similarity, max_age_s | first half: ids per person | kept one id | id changes | ids on two people | second half: ids per person | kept one id | id changes | ids on two people |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    longer = [next(row for row in associations if row["knobs"][3] == age)
              for age in sorted({row["knobs"][3] for row in associations}) if age > 1.0]
    for row in associations[:6] + longer:
        lines.append(f"| {', '.join(f'{k:g}' for k in row['knobs'])} | {_people(row['first'])} | {_people(row['second'])} |")
    chosen = next(row for row in smoothings if row["lag"][0] <= SMOOTHING_LAG_MARGIN)
    lines += [
        "",
        "## The One Euro filter's settings",
        "",
        f"{len(smoothings)} settings, each with the chosen tracker: jitter (smoothed / raw RMS frame-to-frame motion "
        f"at {video.SHAKE_FPS:.0f} fps) on the shake clips of the tuning and the validation photos, and the walkers' "
        "lag (frames, each walker counting once) on each half of the video. The defaults are the steadiest on the "
        f"tuning photos whose first-half walkers trail by at most {SMOOTHING_LAG_MARGIN} frames: "
        f"{', '.join(f'{k:g}' for k in chosen['knobs'])}. The steadiest rows first:",
        "",
        "| min_cutoff, beta, derivative_cutoff | jitter, tuning photos | lag, first half | jitter, validation photos | lag, second half |",
        "|---|---|---|---|---|",
        *(f"| {', '.join(f'{k:g}' for k in row['knobs'])}{' (chosen)' if row is chosen else ''} | {row['jitter'][0]:.3f} | "
          f"{row['lag'][0]:.2f} | {row['jitter'][1]:.3f} | {row['lag'][1]:.2f} |" for row in smoothings[:10]),
    ]
    lines += [
        "",
        "## What PoseNet's poses allow",
        "",
        "A tracker that linked every pose to its person without a single error, but forgot a person unseen for its "
        "memory, would still give each person a new id after every gap longer than that memory in which the person "
        "has no pose a tracker can follow (missed, or decoded with a neighbour into a pose that follows the "
        "neighbour). The frames where each labelled person has such a pose come from strict tracklets (OKS >= 0.3 "
        "against the frame before) labelled at the labelled frames around them.",
        "",
        "| memory (s) | ids per person of an error-free tracker |",
        "|---|---|",
        *(f"| {memory:g} | {value:.2f} |" for memory, value in bounds.items()),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    out = report_path(__doc__, __file__)
    start = time.perf_counter()
    fps = CaptureSource(VTEST).fps
    walker_estimator, estimator = PoseEstimator(input_size=video.VTEST_INPUT_SIZE), PoseEstimator()
    walk = video.clip_poses(VTEST.name, video_frames(VTEST), fps,
                            lambda image: walker_estimator.estimate_poses(image, color_order="bgr"))
    shakes = {name: video.shake_clip(PEOPLE / f"{name}.jpg", lambda image: estimator.estimate_poses(image, color_order="bgr"))
              for name in TUNING_PEOPLE + VALIDATION_PEOPLE}
    shake = [shakes[name] for name in VALIDATION_PEOPLE]
    height = next(CaptureSource(VTEST).frames()).image.shape[0]
    truth = video.PeopleTruth.load(VTEST_PEOPLE)
    rows = [measure("PoseStream (OKS + One Euro, defaults)", PoseStream, walk, shake, fps, truth),
            measure("norfair, its pose demo's settings", lambda: NorfairStream(height), walk, shake, fps, truth),
            measure("norfair, no initialization delay, 1 s memory", lambda: NorfairStream(
                height, initialization_delay=0, hit_counter_max=int(fps)), walk, shake, fps, truth)]
    present = presence(walk, truth)
    bounds = {memory: bound(present, truth, fps, memory) for memory in (1.0, 2.0, 3.0, 5.0)}
    text = report(rows, association_rows(walk, truth, fps), smoothing_rows(walk, shakes, fps), bounds, walk, truth,
                  time.perf_counter() - start)
    publish(out, text)


if __name__ == "__main__":
    main()
