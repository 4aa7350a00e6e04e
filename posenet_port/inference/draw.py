"""Pictures a person checks a model with: pose overlays (OpenCV) and heatmap / offset figures (matplotlib)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from posenet_port._util.fileio import atomic_path, write_bytes_atomic
from posenet_port.inference.decode import Pose
from posenet_port.inference.tracking import pose_size
from posenet_port.model.keypoints import NUM_KEYPOINTS, PART_NAMES, SKELETON_IDS

POSE_SIZE_PER_UNIT = 100  # px of pose size (mean side of its box) per unit of line width: 2 px lines, 4 px discs

# BGR colours, one per pose, cycled: distinct on photos, readable on grey.
POSE_COLORS = (
    (255, 128, 0), (0, 200, 255), (60, 220, 60), (255, 0, 200), (0, 90, 255),
    (200, 200, 0), (160, 80, 255), (0, 255, 160), (255, 255, 255), (80, 160, 255),
)


def draw_poses(
    image_bgr: np.ndarray,
    poses: Sequence[Pose],
    min_score: float = 0.5,
    colors: Sequence[tuple[int, int, int]] | None = None,
    weight: float = 1.0,
    ids: Sequence[int] | None = None,
) -> np.ndarray:
    """A copy of the photo with each pose's skeleton and keypoints whose score reaches `min_score`, in
    `colors[i]` (default: one colour per pose, by its track id when `ids` are given, which are also written
    beside it), lines `weight` times the usual width. Lines and discs scale with the pose's size (capped by the
    frame's): readable on a person 60 px tall and on one filling a 4K frame."""
    canvas = np.ascontiguousarray(image_bgr).copy()
    frame_scale = max(canvas.shape[:2]) / 640
    for index, pose in enumerate(poses):
        key = ids[index] if ids is not None else index
        color = colors[index] if colors is not None else POSE_COLORS[key % len(POSE_COLORS)]
        scale = min(pose_size(pose, min_score) / POSE_SIZE_PER_UNIT, frame_scale)
        thickness, radius = max(1, round(2 * scale * weight)), max(2, round(4 * scale * weight))
        points = [(round(k.x), round(k.y)) for k in pose.keypoints]
        visible = [k.score >= min_score for k in pose.keypoints]
        for a, b in SKELETON_IDS:
            if visible[a] and visible[b]:
                cv2.line(canvas, points[a], points[b], color, thickness, cv2.LINE_AA)
        for point, shown in zip(points, visible):
            if shown:
                cv2.circle(canvas, point, radius, color, -1, cv2.LINE_AA)
        shown = [point for point, is_shown in zip(points, visible) if is_shown]
        if ids is not None and shown:  # the id above the pose's top-left corner
            left, top = min(x for x, _ in shown), min(y for _, y in shown)
            cv2.putText(canvas, str(ids[index]), (left, max(top - 2 * radius, 10)), cv2.FONT_HERSHEY_SIMPLEX,
                        max(0.4, scale * 0.6), color, max(1, thickness // 2), cv2.LINE_AA)
    return canvas


MAX_PANEL_ASPECT = 4.0
REFERENCE_GREY = (150, 150, 150)
MOVED_RED = (0, 0, 230)


def draw_comparison(
    image_bgr: np.ndarray,
    reference: Sequence[Pose],
    candidate: Sequence[Pose],
    matched_reference: Sequence[int | None],
    moved: Sequence[tuple[float, float]],
    min_score: float = 0.5,
) -> np.ndarray:
    """The reference poses thin and grey, the candidate's on top coloured like the reference pose each one
    matches (grey-blue when it matches none), and a red ring around every keypoint that moved."""
    canvas = draw_poses(image_bgr, reference, min_score, [REFERENCE_GREY] * len(reference), weight=0.6)
    colors = [POSE_COLORS[i % len(POSE_COLORS)] if i is not None else (120, 90, 60) for i in matched_reference]
    canvas = draw_poses(canvas, candidate, min_score, colors)
    radius = max(6, round(12 * max(canvas.shape[:2]) / 640))
    for x, y in moved:
        cv2.circle(canvas, (round(x), round(y)), radius, MOVED_RED, max(2, radius // 4), cv2.LINE_AA)
    return canvas


def write_image(path: str | Path, image_bgr: np.ndarray) -> Path:
    """Encode by the file's suffix and write atomically (through Python: OpenCV's own file functions crash on
    names that are not valid UTF-8), with an error if OpenCV cannot encode that file type."""
    try:
        ok, encoded = cv2.imencode(Path(path).suffix or ".png", image_bgr)
    except cv2.error:
        ok = False
    if not ok:
        raise ValueError(f"{path}: OpenCV cannot write this image type; use .png or .jpg")
    return write_bytes_atomic(path, encoded.tobytes())


def heatmap_figure(image_rgb: np.ndarray, outputs, output_stride: int, path: str | Path, min_score: float = 0.5) -> Path:
    """17 heatmap panels over the photo and one panel of offset vectors from each keypoint's best cell.

    `outputs` is an estimator.NetworkOutputs (scores, offsets and the letterbox that maps cells to the photo).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    box = outputs.letterbox
    rows, cols = outputs.scores.shape[:2]
    # Cell (i, j) sits on input pixel (i * stride, j * stride); its square spans half a stride each way.
    top, left = box.to_image(np.array(-output_stride / 2), np.array(-output_stride / 2))
    bottom, right = box.to_image(np.array((rows - 0.5) * output_stride), np.array((cols - 0.5) * output_stride))
    extent = (float(left), float(right), float(bottom), float(top))
    panel = 3.0  # inches per panel width; height follows the photo's aspect ratio, within bounds (a 1x100000
    # photo would ask for a figure of 900,000 inches, which matplotlib cannot allocate)
    aspect = min(max(image_rgb.shape[0] / image_rgb.shape[1], 1 / MAX_PANEL_ASPECT), MAX_PANEL_ASPECT)
    figure, axes = plt.subplots(3, 6, figsize=(6 * panel, 3 * (panel * aspect + 0.4)))
    for part, axis in enumerate(axes.flat[:NUM_KEYPOINTS]):
        axis.imshow(image_rgb)
        axis.imshow(outputs.scores[:, :, part], extent=extent, cmap="magma", alpha=0.6, vmin=0, vmax=1)
        axis.set_title(f"{PART_NAMES[part]} (max {outputs.scores[:, :, part].max():.2f})", fontsize=9)
    _offset_panel(axes.flat[NUM_KEYPOINTS], image_rgb, outputs, output_stride, min_score)
    for axis in axes.flat:
        axis.set_xlim(0, image_rgb.shape[1])
        axis.set_ylim(image_rgb.shape[0], 0)
        axis.axis("off")
    figure.suptitle("PoseNet heatmaps (sigmoid scores) and offset vectors", fontsize=12)
    figure.tight_layout()
    with atomic_path(path) as temp:
        figure.savefig(temp, dpi=80)
    plt.close(figure)
    return Path(path)


def _offset_panel(axis, image_rgb: np.ndarray, outputs, output_stride: int, min_score: float) -> None:
    """Arrows from every confident cell's centre to where its offset puts the keypoint."""
    import matplotlib

    box = outputs.letterbox
    ys, xs, parts = np.nonzero(outputs.scores >= min_score)
    cell_y, cell_x = box.to_image(ys * float(output_stride), xs * float(output_stride))
    tip_y, tip_x = box.to_image(
        ys * float(output_stride) + outputs.offsets[ys, xs, parts],
        xs * float(output_stride) + outputs.offsets[ys, xs, parts + NUM_KEYPOINTS],
    )
    axis.imshow(image_rgb)
    colors = matplotlib.colormaps["tab20"](parts % 20)
    axis.quiver(
        cell_x, cell_y, tip_x - cell_x, tip_y - cell_y, color=colors, angles="xy", scale_units="xy", scale=1, width=0.004
    )
    axis.set_title(f"offsets of {len(ys)} cells with score >= {min_score}", fontsize=9)

