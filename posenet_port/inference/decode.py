"""Single- and multi-pose decoding with exactly tfjs-models posenet 2.2.2's behaviour.

Tensors are [H, W, C] (a leading batch of 1 is accepted): heatmap *scores* (after the sigmoid), offsets
(17 y then 17 x), forward and backward displacements (16 y then 16 x). Positions are in network-input pixels;
`Pose.scaled` maps them to the photo.

Exactness notes: JavaScript reads float32 buffers into doubles and computes in double, so the decoder does the
same (Python floats / float64, C doubles); `Math.round` rounds halves up; root candidates leave posenet's binary
max-heap in an order that only matters for equal scores, so the heap is replayed (the Python decoder replays it
only when scores tie). Multi-pose decoding runs in C (`_decoder.c`, the same steps) where pip could build it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, NamedTuple, Sequence

import numpy as np

from posenet_port.errors import PosenetPortError
from posenet_port.inference.preprocess import Letterbox
from posenet_port.model.architecture import DEFAULT_OUTPUT_STRIDE, OUTPUT_STRIDES
from posenet_port.model.keypoints import NUM_EDGES, NUM_KEYPOINTS, PART_NAMES, POSE_CHAIN_IDS

LOCAL_MAXIMUM_RADIUS = 1  # the compiled decoder (_decoder.c) has the same two constants
OFFSET_REFINE_STEPS = 2

try:  # built by pip from _decoder.c where a C compiler exists; the Python decoder below otherwise
    from posenet_port.inference import _decoder
except ImportError:
    _decoder = None
DECODER = "compiled (C)" if _decoder is not None else "Python"
_CHAIN = np.asarray(POSE_CHAIN_IDS, np.intc).tobytes()


@dataclass(frozen=True)
class DecodeOptions:
    """How poses are decoded: posenet 2.x's settings, with its defaults (every caller's defaults come from here)."""

    single: bool = False
    max_poses: int = 10
    score_threshold: float = 0.5
    nms_radius: float = 20


DEFAULT_DECODE = DecodeOptions()


class DecodeError(PosenetPortError, ValueError):
    """Tensors that cannot be decoded together: shapes disagree or do not match the stride."""


class Keypoint(NamedTuple):
    part: str
    x: float
    y: float
    score: float


@dataclass(frozen=True)
class Pose:
    score: float
    keypoints: tuple[Keypoint, ...]

    def scaled(self, letterbox: Letterbox) -> Pose:
        """Network-input coordinates -> photo coordinates."""
        ys, xs = letterbox.to_image(np.array([k.y for k in self.keypoints]), np.array([k.x for k in self.keypoints]))
        keypoints = tuple(Keypoint(k.part, float(x), float(y), k.score) for k, x, y in zip(self.keypoints, xs, ys))
        return Pose(self.score, keypoints)

    def to_dict(self) -> dict:
        return {
            "score": self.score,
            "keypoints": [{"part": k.part, "x": k.x, "y": k.y, "score": k.score} for k in self.keypoints],
        }


def _pose(score: float, positions: np.ndarray, scores: np.ndarray) -> Pose:
    """positions: [17, 2] (y, x); scores: [17]."""
    keypoints = tuple(map(Keypoint, PART_NAMES, positions[:, 1].tolist(), positions[:, 0].tolist(), scores.tolist()))
    return Pose(float(score), keypoints)


def _as_hwc(name: str, tensor: np.ndarray, channels: int) -> np.ndarray:
    tensor = np.asarray(tensor)
    if tensor.ndim == 4 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.ndim != 3 or tensor.shape[2] != channels:
        raise DecodeError(f"{name} has shape {list(tensor.shape)}, expected [height, width, {channels}]")
    return np.ascontiguousarray(tensor, dtype=np.float32)


def check_tensors(
    heatmap_scores: np.ndarray,
    offsets: np.ndarray,
    displacements: Sequence[np.ndarray] = (),
    output_stride: int = DEFAULT_OUTPUT_STRIDE,
) -> list[np.ndarray]:
    """Validate and squeeze the tensors: same grid for all, channel counts as PoseNet's, a known stride."""
    if output_stride not in OUTPUT_STRIDES:
        raise DecodeError(f"output stride {output_stride}: PoseNet uses {', '.join(map(str, OUTPUT_STRIDES))}")
    tensors = [_as_hwc("heatmap scores", heatmap_scores, NUM_KEYPOINTS), _as_hwc("offsets", offsets, 2 * NUM_KEYPOINTS)]
    names = ("forward displacements", "backward displacements")
    tensors += [_as_hwc(name, d, 2 * NUM_EDGES) for name, d in zip(names, displacements)]
    grid = tensors[0].shape[:2]
    for tensor, name in zip(tensors[1:], ("offsets", *names)):
        if tensor.shape[:2] != grid:
            raise DecodeError(
                f"{name} cover a {tensor.shape[0]}x{tensor.shape[1]} grid but the heatmap is {grid[0]}x{grid[1]}"
            )
    return tensors


def check_stride(grid: tuple[int, int], input_size: tuple[int, int], output_stride: int) -> None:
    """The grid a model produced must be the one `output_stride` gives for this input size."""
    expected = tuple((size - 1) // output_stride + 1 for size in input_size)
    if tuple(grid) != expected:
        raise DecodeError(
            f"output stride {output_stride} does not match the tensors: a {input_size[0]}x{input_size[1]} input "
            f"gives a {expected[0]}x{expected[1]} grid at that stride, the model produced {grid[0]}x{grid[1]}"
        )


# --------------------------------------------------------------------------------------------------------------
# Single pose
# --------------------------------------------------------------------------------------------------------------


def decode_single_pose(heatmap_scores: np.ndarray, offsets: np.ndarray, output_stride: int) -> Pose:
    """Each keypoint at its heatmap argmax cell (first maximum), refined by its offset; score = mean."""
    scores, offsets = check_tensors(heatmap_scores, offsets, output_stride=output_stride)
    height, width, _ = scores.shape
    flat = np.argmax(scores.reshape(height * width, NUM_KEYPOINTS), axis=0)
    ys, xs = flat // width, flat % width
    parts = np.arange(NUM_KEYPOINTS)
    # tfjs adds the offsets in float32 tensors here (unlike the multi-pose decoder, which works in doubles).
    pos_y = (ys * output_stride).astype(np.float32) + offsets[ys, xs, parts]
    pos_x = (xs * output_stride).astype(np.float32) + offsets[ys, xs, parts + NUM_KEYPOINTS]
    keypoint_scores = scores[ys, xs, parts].astype(np.float64)
    positions = np.stack([pos_y, pos_x], axis=1).astype(np.float64)
    return _pose(sum(keypoint_scores.tolist()) / NUM_KEYPOINTS, positions, keypoint_scores)


# --------------------------------------------------------------------------------------------------------------
# Multiple poses
# --------------------------------------------------------------------------------------------------------------


def _root_candidates(scores: np.ndarray, score_threshold: float) -> tuple[np.ndarray, ...]:
    """Cells whose score reaches the threshold and no neighbour within the radius beats, in posenet's
    enqueue order (y, then x, then keypoint)."""
    height, width, _ = scores.shape
    r = LOCAL_MAXIMUM_RADIUS
    padded = np.pad(scores, ((r, r), (r, r), (0, 0)), constant_values=-np.inf)
    neighbourhood = padded[: height, : width].copy()
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            np.maximum(neighbourhood, padded[dy : dy + height, dx : dx + width], out=neighbourhood)
    # In double, as JavaScript compares (NumPy would round the threshold to float32).
    ys, xs, ks = np.nonzero((scores.astype(np.float64) >= score_threshold) & (scores >= neighbourhood))
    return ys, xs, ks, scores[ys, xs, ks]


def max_heap_order(values: Sequence[float]) -> Iterator[int]:
    """The order posenet's MaxHeap dequeues items enqueued in index order (replayed exactly, lazily: decoding
    usually stops long before the heap is empty)."""
    heap: list[int] = []
    for index in range(len(values)):
        heap.append(index)
        k = len(heap) - 1
        while k > 0 and values[heap[k // 2]] < values[heap[k]]:
            heap[k // 2], heap[k] = heap[k], heap[k // 2]
            k //= 2
    while heap:
        yield heap[0]
        last = len(heap) - 1
        heap[0], heap[last] = heap[last], heap[0]
        heap.pop()
        k, n = 0, len(heap) - 1
        while 2 * k <= n:
            j = 2 * k
            if j < n and values[heap[j]] < values[heap[j + 1]]:
                j += 1
            if not values[heap[k]] < values[heap[j]]:
                break
            heap[k], heap[j] = heap[j], heap[k]
            k = j


def _dequeue_order(root_scores: np.ndarray) -> Iterator[int]:
    if np.unique(root_scores).size == root_scores.size:
        return iter(np.argsort(-root_scores, kind="stable").tolist())  # distinct scores: any max-heap gives this
    return max_heap_order(root_scores.tolist())


class _PoseTracer:
    """Follows displacements along the pose chain from a root keypoint (posenet `decodePose`).

    Scalar Python on purpose: at most `max_detections` poses of 16 edges each, where numpy's per-call overhead
    would cost more than the arithmetic.
    """

    def __init__(self, scores: np.ndarray, offsets: np.ndarray, fwd: np.ndarray, bwd: np.ndarray, stride: int) -> None:
        self.height, self.width, _ = scores.shape
        self.stride = stride
        # Flat float32 memoryviews: indexing one yields a Python float (a double), as JS reads a Float32Array.
        self.scores, self.offsets, self.fwd, self.bwd = (memoryview(t.reshape(-1)) for t in (scores, offsets, fwd, bwd))

    def _traverse(self, edge: int, source_y: float, source_x: float, target: int, displacements: memoryview):
        stride, last_row, last_col, width = self.stride, self.height - 1, self.width - 1, self.width
        offsets = self.offsets
        y, x = source_y, source_x
        for step in range(OFFSET_REFINE_STEPS + 2):
            # getStridedIndexNearPoint: Math.round(v / stride) (halves up), clamped to the grid.
            row, col = y / stride, x / stride
            row_floor, col_floor = math.floor(row), math.floor(col)
            row = row_floor + 1 if row - row_floor >= 0.5 else row_floor
            col = col_floor + 1 if col - col_floor >= 0.5 else col_floor
            row = 0 if row < 0 else last_row if row > last_row else row
            col = 0 if col < 0 else last_col if col > last_col else col
            cell = row * width + col
            if step == 0:  # displace from the source keypoint
                base = cell * 2 * NUM_EDGES
                y, x = y + displacements[base + edge], x + displacements[base + NUM_EDGES + edge]
            elif step <= OFFSET_REFINE_STEPS:  # snap to the nearest cell and refine with its offset
                base = cell * 2 * NUM_KEYPOINTS
                y = row * stride + offsets[base + target]
                x = col * stride + offsets[base + NUM_KEYPOINTS + target]
        return y, x, self.scores[cell * NUM_KEYPOINTS + target]

    def trace(self, root_part: int, root_y: float, root_x: float, root_score: float) -> tuple[np.ndarray, np.ndarray]:
        ys: list[float | None] = [None] * NUM_KEYPOINTS
        xs: list[float | None] = [None] * NUM_KEYPOINTS
        scores = [0.0] * NUM_KEYPOINTS
        ys[root_part], xs[root_part], scores[root_part] = root_y, root_x, root_score
        for edge in range(NUM_EDGES - 1, -1, -1):  # up the tree along backward displacements
            parent, child = POSE_CHAIN_IDS[edge]
            if ys[child] is not None and ys[parent] is None:
                ys[parent], xs[parent], scores[parent] = self._traverse(edge, ys[child], xs[child], parent, self.bwd)
        for edge in range(NUM_EDGES):  # then down along forward displacements
            parent, child = POSE_CHAIN_IDS[edge]
            if ys[parent] is not None and ys[child] is None:
                ys[child], xs[child], scores[child] = self._traverse(edge, ys[parent], xs[parent], child, self.fwd)
        return np.array([ys, xs], dtype=np.float64).T, np.array(scores, dtype=np.float64)


def decode_multiple_poses(
    heatmap_scores: np.ndarray,
    offsets: np.ndarray,
    displacements_fwd: np.ndarray,
    displacements_bwd: np.ndarray,
    output_stride: int,
    max_detections: int = DEFAULT_DECODE.max_poses,
    score_threshold: float = DEFAULT_DECODE.score_threshold,
    nms_radius: float = DEFAULT_DECODE.nms_radius,
) -> list[Pose]:
    """Greedy multi-person decoding: up to `max_detections` poses in decreasing root score order, by the
    compiled decoder where it was built (`DECODER` says which), else in Python; both give the same poses."""
    if max_detections <= 0:
        raise DecodeError(f"max detections {max_detections}: must be at least 1")
    if not 0.0 <= score_threshold <= 1.0:
        raise DecodeError(f"score threshold {score_threshold}: must be within [0, 1]")
    if not (nms_radius > 0 and math.isfinite(nms_radius)):  # NaN fails every comparison: test it is inside
        raise DecodeError(f"NMS radius {nms_radius}: must be a positive number of pixels")
    tensors = check_tensors(heatmap_scores, offsets, (displacements_fwd, displacements_bwd), output_stride)
    decode = _decode_compiled if _decoder is not None else decode_multiple_poses_python
    return decode(*tensors, output_stride, max_detections, float(score_threshold), squared_nms_radius(nms_radius))


def squared_nms_radius(nms_radius: float) -> float:
    """What both decoders compare squared distances with: the radius times itself in double, as posenet squares it."""
    return float(nms_radius) * float(nms_radius)


def _decode_compiled(scores, offsets, fwd, bwd, stride: int, max_detections: int, score_threshold: float,
                     squared_radius: float) -> list[Pose]:
    height, width, _ = scores.shape
    rows = _decoder.decode_multiple_poses(scores, offsets, fwd, bwd, _CHAIN, height, width, float(stride),
                                          min(max_detections, height * width * NUM_KEYPOINTS), score_threshold,
                                          squared_radius)
    poses = []
    k = NUM_KEYPOINTS
    for row in np.frombuffer(rows, np.float64).reshape(-1, 1 + 3 * k).tolist():  # score, k ys, k xs, k scores
        poses.append(Pose(row[0], tuple(map(Keypoint, PART_NAMES, row[1 + k:1 + 2 * k], row[1:1 + k], row[1 + 2 * k:]))))
    return poses


def decode_multiple_poses_python(scores, offsets, fwd, bwd, stride: int, max_detections: int,
                                 score_threshold: float, squared_radius: float) -> list[Pose]:
    """The decoder in Python on checked tensors: the compiled one's reference, and where it was not built."""
    ys, xs, ks, root_scores = _root_candidates(scores, score_threshold)
    roots = np.stack(
        [ys * stride + offsets[ys, xs, ks].astype(np.float64),
         xs * stride + offsets[ys, xs, ks + NUM_KEYPOINTS].astype(np.float64)],
        axis=1,
    )
    tracer = _PoseTracer(scores, offsets, fwd, bwd, stride)
    suppressed = np.zeros(len(roots), dtype=bool)
    found = np.empty((min(max_detections, len(roots)), NUM_KEYPOINTS, 2))  # never more poses than roots
    poses: list[Pose] = []
    for candidate in _dequeue_order(root_scores):
        if len(poses) == max_detections:
            break
        if suppressed[candidate]:
            continue
        root_y, root_x = roots[candidate].tolist()
        positions, keypoint_scores = tracer.trace(int(ks[candidate]), root_y, root_x, float(root_scores[candidate]))
        # Pose score: keypoints not within the radius of the same keypoint of an earlier pose, averaged over 17.
        overlapped = (_squared_distances(found[: len(poses)], positions) <= squared_radius).any(axis=0)
        score = sum(keypoint_scores[~overlapped].tolist()) / NUM_KEYPOINTS
        found[len(poses)] = positions
        poses.append(_pose(score, positions, keypoint_scores))
        # Part-based NMS: later roots near this pose's keypoint of the same part are never decoded.
        suppressed |= _squared_distances(positions[ks], roots) <= squared_radius
    return poses


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    difference = a - b
    return difference[..., 0] * difference[..., 0] + difference[..., 1] * difference[..., 1]
