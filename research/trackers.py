"""A library before code of our own: norfair (tryolabs; its maintained fork norfair-enough, which installs beside
numpy 2) tracks the keypoints of pose estimators with a Kalman filter per point. It meets the project's
PoseStream (OKS tracker + One Euro filter) on the same raw poses: still photos shaken by one pixel (jitter),
vtest.avi's walkers (lag, identity) and the cost per frame, measured as the benchmark measures the stream
(posenet_port/benchmark/video.py).

    pip install -r research/requirements.txt
    python research/trackers.py --out research/trackers.md
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

from posenet_port._util.fileio import write_bytes_atomic
from posenet_port._util.machine import describe_cpu
from posenet_port.benchmark import video
from posenet_port.inference.decode import Keypoint, Pose
from posenet_port.inference.estimator import PoseEstimator
from posenet_port.inference.stream import CaptureSource
from posenet_port.inference.tracking import PoseStream, TrackedPose
from posenet_port.pipeline.photos import PEOPLE, VALIDATION_PEOPLE, VTEST, video_frames

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


def measure(name: str, make: Callable[[], object], walk: video.Clip, shake: list[video.Clip], fps: float) -> dict:
    frames, milliseconds = video.run_stream(walk, make())
    halves = video.split(walk, len(walk.poses) // 2)
    reported = sum(len(f) for f in frames) / max(sum(len(p) for p in walk.poses), 1)
    return {"name": name, "jitter": video.jitter(shake, make), "lag": video.lag(video.run_stream(halves[1], make())[0], fps),
            "identity": video.identity(frames, fps), "switches": video.suspected_switches(frames, fps),
            "ms": statistics.median(milliseconds), "p90_ms": float(np.percentile(milliseconds, 90)),
            "reported": reported}


def report(rows: list[dict], walk: video.Clip, seconds: float) -> str:
    lines = [
        "# norfair against the project's PoseStream, on the same raw poses",
        "",
        f"Written by `python research/trackers.py` on {describe_cpu()} in {seconds:.0f} s. Raw poses: PoseNet at "
        f"{video.VTEST_INPUT_SIZE} on every frame of {walk.name} ({len(walk.poses)} frames), and at 257 on "
        f"{len(VALIDATION_PEOPLE)} validation photos shaken by one pixel ({video.SHAKE_FRAMES} frames each at "
        f"{video.SHAKE_FPS:.0f} fps). Definitions as in the benchmark (posenet_port/benchmark/video.py).",
        "",
        "| tracker | jitter RMS smoothed / raw | lag, second half (frames) | tracks | tracks >= 2 s | longest (s) | suspected switches | poses reported | ms per frame (p90) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        identity, lag = row["identity"], row["lag"]
        lagged = f"{lag.frames:.2f} ({lag.tracks} walkers)" if lag.tracks else "none: no walker tracked 2 s without a gap"
        lines.append(f"| {row['name']} | {row['jitter'].ratio:.3f} | {lagged} | "
                     f"{identity.tracks} | {identity.long_tracks} | {identity.longest_s:.1f} | {row['switches']} | "
                     f"{row['reported']:.1%} | {row['ms']:.2f} ({row['p90_ms']:.2f}) |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_suffix(".md"))
    args = parser.parse_args()
    start = time.perf_counter()
    fps = CaptureSource(VTEST).fps
    walker_estimator, estimator = PoseEstimator(input_size=video.VTEST_INPUT_SIZE), PoseEstimator()
    walk = video.clip_poses(VTEST.name, video_frames(VTEST), fps,
                            lambda image: walker_estimator.estimate_poses(image, color_order="bgr"))
    shake = [video.shake_clip(PEOPLE / f"{name}.jpg", lambda image: estimator.estimate_poses(image, color_order="bgr"))
             for name in VALIDATION_PEOPLE]
    height = next(CaptureSource(VTEST).frames()).image.shape[0]
    rows = [measure("PoseStream (OKS + One Euro, defaults)", PoseStream, walk, shake, fps),
            measure("norfair, its pose demo's settings", lambda: NorfairStream(height), walk, shake, fps),
            measure("norfair, no initialization delay, 1 s memory", lambda: NorfairStream(
                height, initialization_delay=0, hit_counter_max=int(fps)), walk, shake, fps)]
    text = report(rows, walk, time.perf_counter() - start)
    write_bytes_atomic(args.out, text.encode())
    print(text)


if __name__ == "__main__":
    main()
