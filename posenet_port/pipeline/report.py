"""The check report: one comparison grid per photo and checks.md / checks.json."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from posenet_port._util.fileio import write_bytes_atomic
from posenet_port.inference.draw import draw_comparison, draw_poses
from posenet_port.pipeline.gate import (
    AGREEMENT_PX,
    FLOORS,
    KEYPOINT_MIN_SCORE,
    LATENCY_MARGIN,
    PASS,
    POSE_MIN_SCORE,
    TUNING,
    VALIDATION,
    CheckReport,
    CheckResult,
    CheckRuns,
    confident_poses,
    floors_table,
    validation_share,
)


def grid_image(rgb: np.ndarray, runs: CheckRuns, index: int, results: Sequence[CheckResult], width: int = 420) -> np.ndarray:
    """One panel per model at its first checked size: the float graph's poses in thin grey beneath the model's,
    each model pose coloured like the float pose it matches, red rings on keypoints that moved > 2 px."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    height = round(width * rgb.shape[0] / rgb.shape[1])
    first = runs.sizes(CheckRuns.REFERENCE)[0]
    box = runs.outputs[CheckRuns.REFERENCE, first][index].letterbox
    reference = [p.scaled(box) for p in confident_poses(runs.poses[CheckRuns.REFERENCE, first][index])]
    panels = [(f"float TF graph at {first}: {len(reference)} poses", None, draw_poses(bgr, reference))]
    for result in results:
        size = runs.sizes(result.name)[0]
        box = runs.outputs[CheckRuns.REFERENCE, size][index].letterbox
        reference_poses = runs.poses[CheckRuns.REFERENCE, size][index]
        poses = runs.poses[result.name, size][index]
        comparison = runs.comparisons(result.name, size)[index]
        shown = [i for i, p in enumerate(poses) if p.score > POSE_MIN_SCORE]
        moved = [poses[pose].scaled(box).keypoints[part] for pose, part in comparison.moved]
        picture = draw_comparison(
            bgr, [p.scaled(box) for p in confident_poses(reference_poses)], [poses[i].scaled(box) for i in shown],
            [comparison.matched_reference[i] for i in shown], [(k.x, k.y) for k in moved],
        )
        within = sum(d <= AGREEMENT_PX for d in comparison.distances)
        line = (f"{result.status}  {within}/{len(comparison.distances)} within {AGREEMENT_PX:g} px  "
                f"{len(moved)} moved  {result.size_bytes / 1e6:.2f} MB")
        panels.append((f"{result.name} at {size}", (line, result.status == PASS), picture))
    tiles = []
    for title, line, picture in panels:
        tile = cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
        caption = np.full((44, width, 3), 255, np.uint8)
        cv2.putText(caption, title, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        if line is not None:
            color = (0, 140, 0) if line[1] else (0, 0, 200)
            cv2.putText(caption, line[0], (6, 37), cv2.FONT_HERSHEY_SIMPLEX, 0.42, color, 1, cv2.LINE_AA)
        tiles.append(np.vstack([caption, tile]))
    columns = 4
    tiles += [np.full_like(tiles[0], 255)] * (-len(tiles) % columns)
    return np.vstack([np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)])


def write_summary(report: CheckReport, out_dir: Path) -> None:
    lines = [
        "# Keypoint checks",
        "",
        f"Each model's decoded poses against the float TF graph's: the share of keypoints the float graph scores > "
        f"{KEYPOINT_MIN_SCORE} (in poses > {POSE_MIN_SCORE}) that the model puts within {AGREEMENT_PX:g} network-input "
        "pixels, on the **validation** photos (the gate: nothing was tuned on them) and on the **tuning** photos "
        "(calibration and recipe choices were made on them). TFLite models are checked at their input size, the "
        "formats with a dynamic input at each listed size. Same-detection drift (the model's keypoint from the float graph's heatmap "
        "cell, median / max px) is a diagnostic without the decoder's jumps. AP is COCO's keypoint average "
        "precision (OKS .50:.05:.95) with the float graph's poses as the ground truth, mean OKS that of each float "
        "pose with its best match (pipeline/keypoint_ap.py): 1.000 for a model that gives the float graph's poses.",
        "",
        f"Validation photos: {', '.join(report.photos[VALIDATION])}.  ",
        f"Tuning photos: {', '.join(report.photos[TUNING])}.",
        "",
        "## Floors",
        "",
        *floors_table(),
    ]
    lines += ["", "## Agreement", "",
              "| model | class | size | input | validation | tuning | same-detection drift px | result |",
              "|---|---|---|---|---|---|---|---|"]
    for r in report.results:
        for a in (a for a in r.agreements if a.split == VALIDATION) if r.agreements else [None]:
            tuning = r.agreement(TUNING, a.input_size) if a else None
            lines.append(
                f"| {r.name} | {r.weight_class} | {r.size_bytes / 1e6:.2f} MB | {a.input_size if a else '-'} | "
                f"{a.summary() if a else '-'} | {tuning.summary() if tuning else '-'} | "
                f"{_pair(r.same_detection_median_px, r.same_detection_max_px)} | {r.status}{': ' + r.note if r.note else ''} |"
            )
    if report.noise_floors:
        lines += ["", "## Noise floors", "",
                  "The float graph against itself on the validation photos changed in ways no person would notice: a "
                  "model closer to the float graph than these is as close as the figures can tell.", "",
                  "| change | input | validation |", "|---|---|---|"]
        lines += [f"| {floor.change} | {a.input_size} | {a.summary()} |" for floor in report.noise_floors for a in floor.agreements]
    for fmt in dict.fromkeys(r.format for r in report.results):
        lines += ["", f"## Pareto table: {fmt}", "",
                  "| recipe | size | 1 thread | 2 threads | validation within 2 px | integer only | result | on the front |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in sorted((r for r in report.results if r.format == fmt), key=lambda r: r.size_bytes):
            lines.append(f"| {r.name} | {r.size_bytes / 1e6:.2f} MB | {_ms(r.latency_ms.get(1))} | {_ms(r.latency_ms.get(2))} | "
                         f"{100 * validation_share(r):.1f} % | {'yes' if r.integer_only else 'no'} | {r.status} | "
                         f"{'yes' if r.pareto else 'no'} |")
    lines += ["", "Latency: the network alone in its format's runtime (tfjs runs in node: not timed here), median of "
              "30 back-to-back runs in the check process at the model's first checked size (the benchmark "
              "command measures properly). A recipe is on the front when no other passing recipe of its format is "
              f"no larger, no slower (below {LATENCY_MARGIN:g}x its time counts as faster) and no less close (share "
              "within 2 px, then same-detection drift), and better in one; an integer-only recipe (int8 or int16 "
              "activations, what NPUs run) only gives way to another integer-only one.", "",
              "Why the 1-byte models miss their floor (int8 activations, layer by layer): docs/quantization.md, "
              "section 'Why no int8 model keeps the poses yet', and the studies in research/.", ""]
    lines += [f"![{Path(g).name}]({Path(g).name})" for g in report.grids]
    write_bytes_atomic(out_dir / "checks.md", ("\n".join(lines) + "\n").encode())
    document = {"photos": report.photos, "input_size": report.input_size, "floors": [asdict(f) for f in FLOORS.values()],
                "noise_floors": [asdict(f) for f in report.noise_floors],
                "results": [r.to_dict() for r in report.results], "grids": report.grids}
    write_bytes_atomic(out_dir / "checks.json", (json.dumps(document, indent=2) + "\n").encode())


def _pair(median: float | None, largest: float | None) -> str:
    return "-" if median is None or largest is None else f"{median:.2f} / {largest:.2f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"
