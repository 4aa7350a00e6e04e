"""Visual keypoint checks: every exported model on real photos against the float TF graph, drawn and measured.

TFLite models run in the LiteRT interpreter; tfjs models run in real TensorFlow.js (node, wasm backend). Their
outputs are decoded with the posenet 2.2.2 decoder port (identical to posenet's own, see tests) and compared
with the float frozen graph's:

* keypoint drift (the gate, against TOLERANCES_PX): for every keypoint the float graph scores > 0.5 in a pose
  scoring > 0.3, the distance between the float graph's position and the model's position *for the same
  detection*, i.e. from the same heatmap cell (cell * stride + offset). In network-input pixels.
* pose count (a gate): poses scoring > 0.3, per photo, must equal the float graph's.
* decoded-pose drift (reported, not a gate): the same keypoints after each model decodes its own poses. Greedy
  multi-pose decoding is discontinuous: a displacement off by a pixel can send the refinement to a neighbouring
  cell and move a keypoint by a whole cell (16 px) even for float16, so this figure measures decoding luck as
  much as the model.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from .artifacts import Artifact
from .constants import NUM_KEYPOINTS
from .decode import Pose, decode_multiple_poses
from .draw import draw_poses, write_image
from .estimator import NetworkOutputs, PoseEstimator, network_outputs
from .fileio import write_bytes_atomic
from .preprocess import preprocess
from .nodejs import NodeUnavailableError
from .runtime import TfjsNodeRunner

KEYPOINT_MIN_SCORE = 0.5
POSE_MIN_SCORE = 0.3
CELL_SEARCH_RADIUS = 3  # offsets reach about two cells; the refining cell is found within this radius
# Largest keypoint drift allowed against the float TF graph, in input pixels, per artifact name.
TOLERANCES_PX = {
    "tflite-float32": 0.5,
    "tfjs-float32": 0.5,
    "tflite-float16": 2.0,
    "tfjs-float16": 2.0,
    "tfjs-uint16": 2.0,
    "tflite-dynamic-range": 3.0,
    "tflite-int8": 5.0,
    "tfjs-uint8-mixed": 5.0,
}
PASS, FAIL, NOT_RUN = "PASS", "FAIL", "NOT RUN"


@dataclass
class CheckResult:
    name: str
    size_bytes: int
    tolerance_px: float
    status: str = NOT_RUN
    pose_counts: list[int] = field(default_factory=list)  # poses scoring > 0.3, per photo
    reference_counts: list[int] = field(default_factory=list)
    median_drift_px: float | None = None
    max_drift_px: float | None = None
    keypoints_compared: int = 0
    decoded_median_drift_px: float | None = None
    decoded_max_drift_px: float | None = None
    note: str = ""


@dataclass
class CheckReport:
    photos: list[str]
    input_size: int
    results: list[CheckResult]
    grids: list[str] = field(default_factory=list)

    @property
    def not_run(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == NOT_RUN]


def decode_input_poses(outputs: NetworkOutputs, output_stride: int) -> list[Pose]:
    """Multi-pose decoding with posenet's defaults, in network-input pixels."""
    return decode_multiple_poses(
        outputs.scores, outputs.offsets, outputs.displacements_fwd, outputs.displacements_bwd, output_stride
    )


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
    for pose in (p for p in poses if p.score > POSE_MIN_SCORE):
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


def match_poses(reference: Sequence[Pose], candidate: Sequence[Pose]) -> list[tuple[Pose, Pose]]:
    """Pair each reference pose scoring > 0.3, best first, with the closest unpaired candidate pose."""
    pairs, free = [], list(candidate)
    for pose in (p for p in reference if p.score > POSE_MIN_SCORE):
        if not free:
            break
        confident = [i for i, k in enumerate(pose.keypoints) if k.score > KEYPOINT_MIN_SCORE] or list(range(NUM_KEYPOINTS))

        def distance(other: Pose) -> float:
            return float(np.mean([np.hypot(pose.keypoints[i].x - other.keypoints[i].x,
                                           pose.keypoints[i].y - other.keypoints[i].y) for i in confident]))

        best = min(free, key=distance)
        free.remove(best)
        pairs.append((pose, best))
    return pairs


def decoded_drifts(reference: Sequence[Pose], candidate: Sequence[Pose]) -> list[float]:
    return [
        float(np.hypot(a.x - b.x, a.y - b.y))
        for pose, other in match_poses(reference, candidate)
        for a, b in zip(pose.keypoints, other.keypoints)
        if a.score > KEYPOINT_MIN_SCORE
    ]


def confident_count(poses: Sequence[Pose]) -> int:
    return sum(p.score > POSE_MIN_SCORE for p in poses)


def run_checks(
    artifacts: Sequence[Artifact],
    reference_model: Path,
    photos: Sequence[tuple[str, np.ndarray]],
    input_size: int,
    out_dir: Path,
    require_node: bool = False,
) -> CheckReport:
    """Run every artifact on every photo, compare with `reference_model` (the float frozen graph), write the grid
    images and the summary (checks.md, checks.json) into `out_dir`."""
    reference = PoseEstimator(reference_model, input_size)
    stride = reference.output_stride
    reference_outputs = [reference.infer(rgb) for _, rgb in photos]
    outputs: dict[str, list[NetworkOutputs]] = {}
    for artifact in artifacts:
        if artifact.format == "tflite":
            estimator = PoseEstimator(artifact.path)
            outputs[artifact.name] = [estimator.infer(rgb) for _, rgb in photos]
    node_problem = _run_tfjs([a for a in artifacts if a.format == "tfjs"], photos, input_size, stride, outputs, require_node)
    reference_poses = [decode_input_poses(o, stride) for o in reference_outputs]
    poses = {name: [decode_input_poses(o, stride) for o in per_photo] for name, per_photo in outputs.items()}
    results = []
    for artifact in artifacts:
        result = CheckResult(artifact.name, artifact.size, TOLERANCES_PX.get(artifact.name, 0.5))
        if artifact.name in outputs:
            _score(result, reference_outputs, reference_poses, outputs[artifact.name], poses[artifact.name], stride)
        else:
            result.note = node_problem or "no runner for this format"
        results.append(result)
    report = CheckReport([name for name, _ in photos], input_size, results)
    out_dir.mkdir(parents=True, exist_ok=True)
    for index, ((name, rgb), box_outputs) in enumerate(zip(photos, reference_outputs)):
        box = box_outputs.letterbox
        panels = [("TF frozen graph (float32 reference)", [p.scaled(box) for p in reference_poses[index]], None)]
        panels += [(r.name, [p.scaled(box) for p in poses[r.name][index]], r) for r in results if r.name in poses]
        report.grids.append(str(write_image(out_dir / f"check_{Path(name).stem}.jpg", grid_image(rgb, panels))))
    write_summary(report, out_dir)
    return report


def _run_tfjs(artifacts, photos, input_size, stride, outputs, require_node) -> str | None:
    """Real TensorFlow.js (wasm) for the tfjs artifacts; returns why they were not run, if they were not."""
    if not artifacts:
        return None
    batches = [preprocess(rgb, input_size) for _, rgb in photos]
    try:
        for artifact in artifacts:
            raw = TfjsNodeRunner(artifact.path, backend="wasm", dynamic_input=False).run_many([b for b, _ in batches])
            outputs[artifact.name] = [network_outputs(r, box, stride) for r, (_, box) in zip(raw, batches)]
    except NodeUnavailableError as error:
        if require_node:
            raise
        return f"NOT RUN: TensorFlow.js unavailable ({error})"
    return None


def _score(result: CheckResult, reference_outputs, reference_poses, candidate_outputs, candidate_poses, stride: int) -> None:
    drifts: list[float] = []
    decoded: list[float] = []
    for ref_out, ref_poses, out, got in zip(reference_outputs, reference_poses, candidate_outputs, candidate_poses):
        drifts += same_detection_drifts(ref_out, ref_poses, out, stride)
        decoded += decoded_drifts(ref_poses, got)
        result.reference_counts.append(confident_count(ref_poses))
        result.pose_counts.append(confident_count(got))
    result.keypoints_compared = len(drifts)
    if drifts:
        result.median_drift_px, result.max_drift_px = statistics.median(drifts), max(drifts)
    if decoded:
        result.decoded_median_drift_px, result.decoded_max_drift_px = statistics.median(decoded), max(decoded)
    same_counts = result.pose_counts == result.reference_counts
    within = result.max_drift_px is not None and result.max_drift_px <= result.tolerance_px
    result.status = PASS if same_counts and within else FAIL
    if not same_counts:
        result.note = f"poses scoring > {POSE_MIN_SCORE}: {result.pose_counts}, float graph: {result.reference_counts}"
    elif not within:
        result.note = f"max drift {result.max_drift_px:.2f} px exceeds {result.tolerance_px} px"


def grid_image(rgb: np.ndarray, panels: Sequence[tuple[str, list[Pose], CheckResult | None]], width: int = 560) -> np.ndarray:
    """One panel per model, poses drawn, captioned with its name and measured drift; three panels a row."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    height = round(width * rgb.shape[0] / rgb.shape[1])
    tiles = []
    for title, poses, result in panels:
        tile = cv2.resize(draw_poses(bgr, poses), (width, height), interpolation=cv2.INTER_AREA)
        caption = np.full((44, width, 3), 255, np.uint8)
        cv2.putText(caption, title, (8, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        if result is not None:
            drift = "-" if result.max_drift_px is None else f"{result.max_drift_px:.2f}"
            line = f"{result.status}  max drift {drift} px (<= {result.tolerance_px})  {result.size_bytes / 1e6:.2f} MB"
            color = (0, 140, 0) if result.status == PASS else (0, 0, 200)
            cv2.putText(caption, line, (8, 38), cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 1, cv2.LINE_AA)
        else:
            cv2.putText(caption, f"{len(poses)} poses", (8, 38), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(np.vstack([caption, tile]))
    columns = 3
    blank = np.full_like(tiles[0], 255)
    tiles += [blank] * (-len(tiles) % columns)
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)


def write_summary(report: CheckReport, out_dir: Path) -> None:
    lines = [
        "# Keypoint checks",
        "",
        f"Photos: {', '.join(Path(p).name for p in report.photos)}; input {report.input_size}. Drift in network-input "
        f"pixels over keypoints the float TF graph scores > {KEYPOINT_MIN_SCORE} in poses scoring > {POSE_MIN_SCORE}: "
        "*same detection* = the model's position from the same heatmap cell (the gate); *decoded* = after each model "
        "decodes its own poses (reported only: multi-pose decoding can jump a whole cell). Pose counts are poses "
        f"scoring > {POSE_MIN_SCORE}, per photo, with the float graph's in brackets.",
        "",
        "| format | size | poses (float graph) | drift median / max px | tolerance px | decoded drift median / max px | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report.results:
        counts = f"{r.pose_counts} ({r.reference_counts})" if r.pose_counts else "-"
        status = r.status + (f": {r.note}" if r.note else "")
        lines.append(
            f"| {r.name} | {r.size_bytes / 1e6:.2f} MB | {counts} | {_pair(r.median_drift_px, r.max_drift_px)} | "
            f"{r.tolerance_px} | {_pair(r.decoded_median_drift_px, r.decoded_max_drift_px)} | {status} |"
        )
    lines += [""] + [f"![{Path(g).name}]({Path(g).name})" for g in report.grids]
    write_bytes_atomic(out_dir / "checks.md", ("\n".join(lines) + "\n").encode())
    document = {"photos": report.photos, "input_size": report.input_size, "results": [asdict(r) for r in report.results],
                "grids": report.grids}
    write_bytes_atomic(out_dir / "checks.json", (json.dumps(document, indent=2) + "\n").encode())


def _pair(median: float | None, largest: float | None) -> str:
    return "-" if median is None or largest is None else f"{median:.3f} / {largest:.3f}"
