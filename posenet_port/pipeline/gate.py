"""The gate: a model's decoded poses matched against the float graph's, and judged by its class's floor.

A model is judged by the poses a user gets. Both the model and the float TF graph decode multi-pose with
posenet 2.2.2's settings (the port in decode.py, identical to posenet's own, see tests); each float pose scoring
> 0.3 is matched with the model's nearest pose (not exclusively: a pose the model missed costs its own
keypoints only), and for every keypoint the float graph scores > 0.5 the model's keypoint must lie within 2
network-input pixels (when the model finds no pose at all, every keypoint is a miss). The gate is on the **validation photos** (samples.validation_photos: no
recipe, setting or floor was tuned on them) and needs, per model class (FLOORS): a share of keypoints within
2 px, equal pose counts on a share of photos, and a size limit. The tuning photos' figures are reported beside
them. Fixed-input models (TFLite) are checked at their input size; the others, whose input is dynamic, at every
size of `dynamic_check_sizes`.

Same-detection drift (the model's keypoint from the same heatmap cell as the float graph's) is kept as a
diagnostic column: it measures the network's outputs without the decoder's discontinuities.
"""
from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from posenet_port.inference.decode import Pose, decode_multiple_poses
from posenet_port.inference.estimator import NetworkOutputs
from posenet_port.model.keypoints import NUM_KEYPOINTS

KEYPOINT_MIN_SCORE = 0.5


POSE_MIN_SCORE = 0.3


AGREEMENT_PX = 2.0


CELL_SEARCH_RADIUS = 3  # offsets reach about two cells; the refining cell is found within this radius


TUNING, VALIDATION = "tuning", "validation"


PASS, FAIL, NOT_RUN = "PASS", "FAIL", "NOT RUN"


@dataclass(frozen=True)
class Floor:
    """What a user of one class of model needs, on the validation photos."""

    weight_class: str
    min_within: float  # share of confident keypoints within AGREEMENT_PX of the float graph's
    min_equal_counts: float  # share of photos with as many poses (> 0.3) as the float graph
    max_size_bytes: int | None
    reason: str


FLOORS = {
    "float32": Floor("float32", 1.0, 1.0, None,
                     "the same arithmetic up to float rounding: every keypoint and every pose count must agree"),
    "2-byte": Floor("2-byte", 0.99, 0.9, None,
                    "chosen to replace the float model unseen: at most 1 keypoint in 100 visibly elsewhere "
                    "(2 px at 257 is about 1 % of the photo's width)"),
    "1-byte": Floor("1-byte", 0.97, 0.9, 1_600_000,
                    "small and fast, for phones and boards: at most 3 keypoints in 100 elsewhere (about one "
                    "keypoint every other frame of a single person), pose counts mostly right, and <= 1.6 MB, "
                    "a third of float32"),
}


def floors_table() -> list[str]:
    """The floors as a markdown table (the check report and docs/cli.md show it)."""
    lines = ["| class | within 2 px | equal pose counts | size | why |", "|---|---|---|---|---|"]
    for floor in FLOORS.values():
        size = "-" if floor.max_size_bytes is None else f"<= {floor.max_size_bytes / 1e6:g} MB"
        lines.append(f"| {floor.weight_class} | >= {100 * floor.min_within:g} % | >= {100 * floor.min_equal_counts:g} % "
                     f"of photos | {size} | {floor.reason} |")
    return lines


@dataclass
class Agreement:
    """Decoded-pose agreement with the float graph over a set of photos at one input size."""

    split: str
    input_size: int
    photos: int = 0
    keypoints: int = 0
    within: int = 0
    equal_counts: int = 0
    worst_px: float = 0.0
    moved_median_px: float | None = None
    ap: float | None = None  # COCO keypoint AP against the float graph's poses (keypoint_ap.py)
    mean_oks: float | None = None

    @property
    def within_share(self) -> float:
        return self.within / self.keypoints if self.keypoints else 1.0

    @property
    def equal_count_share(self) -> float:
        return self.equal_counts / self.photos if self.photos else 1.0

    def summary(self) -> str:
        keypoint_ap = "" if self.ap is None else f", AP {self.ap:.3f}, mean OKS {self.mean_oks:.3f}"
        return (f"{100 * self.within_share:.1f} % of {self.keypoints} within {AGREEMENT_PX:g} px, pose counts equal on "
                f"{self.equal_counts}/{self.photos}, worst {self.worst_px:.1f} px{keypoint_ap}")


@dataclass
class CheckResult:
    name: str
    format: str
    size_bytes: int
    weight_class: str
    status: str = NOT_RUN
    agreements: list[Agreement] = field(default_factory=list)
    same_detection_median_px: float | None = None
    same_detection_max_px: float | None = None
    latency_ms: dict[int, float] = field(default_factory=dict)  # network median by thread count, same run
    pareto: bool = False
    integer_only: bool = False  # activations too are integers: a model for NPUs, not to be replaced by a float one
    note: str = ""

    def agreement(self, split: str, input_size: int | None = None) -> Agreement | None:
        return next((a for a in self.agreements if a.split == split and input_size in (None, a.input_size)), None)

    def verdict(self) -> str:
        """`PASS (100.0 % within 2 px at 257 on validation photos)`: the status and the gate's figures."""
        validation = [a for a in self.agreements if a.split == VALIDATION]
        figures = ", ".join(f"{100 * a.within_share:.1f} % within {AGREEMENT_PX:g} px at {a.input_size}" for a in validation)
        return f"{self.status} ({figures} on validation photos)" if figures else self.status

    def to_dict(self) -> dict:
        document = asdict(self)
        document["agreements"] = [dict(asdict(a), within_share=a.within_share, equal_count_share=a.equal_count_share)
                                  for a in self.agreements]
        return document


@dataclass
class NoiseFloor:
    """The float graph against itself on the validation photos changed in a way no person would notice (re-saved
    as a good JPEG, the camera moved by one pixel): where a model's figures stop meaning anything."""

    change: str
    agreements: list[Agreement] = field(default_factory=list)


@dataclass
class CheckReport:
    photos: dict[str, list[str]]  # split -> photo names
    input_size: int
    results: list[CheckResult]
    grids: list[str] = field(default_factory=list)
    noise_floors: list[NoiseFloor] = field(default_factory=list)

    @property
    def not_run(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == NOT_RUN]


@dataclass(frozen=True)
class CheckPhoto:
    name: str
    split: str
    rgb: np.ndarray


def decode_input_poses(outputs: NetworkOutputs, output_stride: int) -> list[Pose]:
    """Multi-pose decoding with posenet's defaults, in network-input pixels."""
    return decode_multiple_poses(
        outputs.scores, outputs.offsets, outputs.displacements_fwd, outputs.displacements_bwd, output_stride
    )


def confident_poses(poses: Sequence[Pose]) -> list[Pose]:
    return [p for p in poses if p.score > POSE_MIN_SCORE]


def match_poses(reference: Sequence[Pose], candidate: Sequence[Pose]) -> list[tuple[int, int]]:
    """(reference index, candidate index): each reference pose scoring > 0.3 with the nearest candidate pose, by
    mean distance over the reference's confident keypoints. Not exclusive: a pose the candidate missed costs
    its own keypoints only, instead of pushing every later match one person along."""
    pairs = []
    for index, pose in enumerate(reference):
        if pose.score <= POSE_MIN_SCORE or not candidate:
            continue
        confident = [i for i, k in enumerate(pose.keypoints) if k.score > KEYPOINT_MIN_SCORE] or list(range(NUM_KEYPOINTS))

        def distance(other: int) -> float:
            keypoints = candidate[other].keypoints
            return float(np.mean([np.hypot(pose.keypoints[i].x - keypoints[i].x, pose.keypoints[i].y - keypoints[i].y)
                                  for i in confident]))

        pairs.append((index, min(range(len(candidate)), key=distance)))
    return pairs


@dataclass(frozen=True)
class PhotoComparison:
    """One photo: each confident reference keypoint's distance to the matched candidate keypoint (inf when the
    candidate has no pose at all), which reference pose each candidate pose matched, and the pose counts."""

    distances: list[float]
    moved: list[tuple[int, int]]  # (candidate pose, part) of keypoints beyond AGREEMENT_PX
    matched_reference: list[int | None]  # per candidate pose
    reference_count: int
    candidate_count: int


def compare_poses(reference: Sequence[Pose], candidate: Sequence[Pose]) -> PhotoComparison:
    pairs = dict(match_poses(reference, candidate))
    distances, moved = [], []
    for index, pose in enumerate(reference):
        if pose.score <= POSE_MIN_SCORE:
            continue
        for part, keypoint in enumerate(pose.keypoints):
            if keypoint.score <= KEYPOINT_MIN_SCORE:
                continue
            if index not in pairs:
                distances.append(float("inf"))
                continue
            other = candidate[pairs[index]].keypoints[part]
            distances.append(float(np.hypot(keypoint.x - other.x, keypoint.y - other.y)))
            if distances[-1] > AGREEMENT_PX:
                moved.append((pairs[index], part))
    by_candidate: dict[int, int] = {}
    for r, c in pairs.items():
        by_candidate.setdefault(c, r)  # the best reference pose that chose it
    return PhotoComparison(distances, moved, [by_candidate.get(i) for i in range(len(candidate))],
                           len(confident_poses(reference)), len(confident_poses(candidate)))


def agreement(split: str, input_size: int, comparisons: Sequence[PhotoComparison]) -> Agreement:
    result = Agreement(split, input_size, photos=len(comparisons))
    distances = [d for c in comparisons for d in c.distances]
    result.keypoints = len(distances)
    result.within = sum(d <= AGREEMENT_PX for d in distances)
    result.equal_counts = sum(c.reference_count == c.candidate_count for c in comparisons)
    result.worst_px = max((d for d in distances if d != float("inf")), default=0.0)  # missed poses: counted, not measured
    moved = [d for d in distances if d > AGREEMENT_PX]
    result.moved_median_px = statistics.median(moved) if moved else None
    return result


def judge(result: CheckResult) -> None:
    """PASS when every validation figure clears the model class's floor; the note says what failed."""
    floor = FLOORS[result.weight_class]
    problems = []
    for a in (a for a in result.agreements if a.split == VALIDATION):
        if a.within_share < floor.min_within:
            problems.append(f"{100 * a.within_share:.1f} % within {AGREEMENT_PX:g} px at {a.input_size} "
                            f"(floor {100 * floor.min_within:g} %)")
        if a.equal_count_share < floor.min_equal_counts:
            problems.append(f"pose counts equal on {a.equal_counts}/{a.photos} photos at {a.input_size} "
                            f"(floor {100 * floor.min_equal_counts:g} %)")
    if floor.max_size_bytes is not None and result.size_bytes > floor.max_size_bytes:
        problems.append(f"{result.size_bytes / 1e6:.2f} MB (limit {floor.max_size_bytes / 1e6:g} MB)")
    result.status = FAIL if problems else PASS
    result.note = "; ".join(problems)


def refining_cell(y: float, x: float, part: int, offsets: np.ndarray, output_stride: int) -> tuple[int, int] | None:
    """The heatmap cell whose offset placed this decoded keypoint (position == cell * stride + offset)."""
    rows, cols = offsets.shape[:2]
    row0, col0 = round(y / output_stride), round(x / output_stride)
    for row in range(max(row0 - CELL_SEARCH_RADIUS, 0), min(row0 + CELL_SEARCH_RADIUS + 1, rows)):
        for col in range(max(col0 - CELL_SEARCH_RADIUS, 0), min(col0 + CELL_SEARCH_RADIUS + 1, cols)):
            if (row * output_stride + float(offsets[row, col, part]) == y
                    and col * output_stride + float(offsets[row, col, part + NUM_KEYPOINTS]) == x):
                return row, col
    return None


def same_detection_drifts(reference: NetworkOutputs, poses: Sequence[Pose], candidate: NetworkOutputs, output_stride: int) -> list[float]:
    """For each confident reference keypoint: how far the candidate model puts it from the same cell."""
    drifts = []
    for pose in confident_poses(poses):
        for part, keypoint in enumerate(pose.keypoints):
            if keypoint.score <= KEYPOINT_MIN_SCORE:
                continue
            cell = refining_cell(keypoint.y, keypoint.x, part, reference.offsets, output_stride)
            if cell is None:
                raise AssertionError(f"no cell refines {keypoint}: the decoder and this check disagree")
            dy = candidate.offsets[cell[0], cell[1], part] - reference.offsets[cell[0], cell[1], part]
            dx = (candidate.offsets[cell[0], cell[1], part + NUM_KEYPOINTS]
                  - reference.offsets[cell[0], cell[1], part + NUM_KEYPOINTS])
            drifts.append(float(np.hypot(dy, dx)))
    return drifts


class CheckRuns:
    """Each model's outputs and decoded poses per (input size, photo), the float graph's under `reference`."""

    REFERENCE = "reference"

    def __init__(self, photos: Sequence[CheckPhoto], output_stride: int) -> None:
        self.photos, self.stride = photos, output_stride
        self.outputs: dict[tuple[str, int], list[NetworkOutputs]] = {}
        self.poses: dict[tuple[str, int], list[list[Pose]]] = {}
        self._comparisons: dict[tuple[str, int], list[PhotoComparison]] = {}

    def add(self, name: str, size: int, outputs: list[NetworkOutputs]) -> None:
        self.outputs[name, size] = outputs
        self.poses[name, size] = [decode_input_poses(o, self.stride) for o in outputs]

    def sizes(self, name: str) -> list[int]:
        return sorted(size for model, size in self.outputs if model == name)

    def comparisons(self, name: str, size: int) -> list[PhotoComparison]:
        """Per photo, the model's poses against the float graph's at `size` (computed once)."""
        if (name, size) not in self._comparisons:
            self._comparisons[name, size] = [compare_poses(reference, poses) for reference, poses
                                             in zip(self.poses[self.REFERENCE, size], self.poses[name, size])]
        return self._comparisons[name, size]


LATENCY_MARGIN = 0.9  # one model is faster than another only below 90 % of its time: closer is timing noise


def mark_pareto_front(results: Sequence[CheckResult]) -> None:
    """Per format, among passing models: on the front unless another is no larger, no slower and no less close
    to the float graph, and better in one of them. Closeness is the validation share within 2 px, ties broken by
    the same-detection drift (float32's 0 against float16's hundredths, where both keep every keypoint). Only an
    integer-only model can push an integer-only one off the front: a phone's NPU cannot run the other, however
    fast it runs on the CPU that measured it."""
    def closeness(r: CheckResult) -> tuple[float, float]:
        return validation_share(r), -(r.same_detection_max_px or 0.0)

    def dominates(a: CheckResult, b: CheckResult) -> bool:
        time_a, time_b = a.latency_ms.get(2), b.latency_ms.get(2)
        timed = time_a is not None and time_b is not None
        faster, slower = timed and time_a < LATENCY_MARGIN * time_b, timed and time_b < LATENCY_MARGIN * time_a
        if b.integer_only and not a.integer_only:
            return False  # an NPU that needs `b` cannot run `a` instead
        no_worse = a.size_bytes <= b.size_bytes and closeness(a) >= closeness(b) and not slower
        return no_worse and (a.size_bytes < b.size_bytes or closeness(a) > closeness(b) or faster)

    passing = [r for r in results if r.status == PASS]
    for result in passing:
        result.pareto = not any(dominates(r, result) for r in passing if r is not result and r.format == result.format)


def validation_share(result: CheckResult) -> float:
    return min((a.within_share for a in result.agreements if a.split == VALIDATION), default=0.0)
