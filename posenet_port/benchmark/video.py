"""Tracking and smoothing measured (issue 27): jitter on still photos shaken by one pixel, lag and identity on
people walking (vtest.avi), and what tracking and smoothing cost per frame.

PoseNet's raw poses are computed once per clip; every stream setting then runs over the same poses, so settings
are compared on equal footing and the network's time is measured apart from the stream's.
"""
from __future__ import annotations

import json
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from posenet_port.errors import ConfigError
from posenet_port.inference.decode import Pose
from posenet_port.inference.tracking import PoseStream, SmoothingOptions, TrackedPose, as_array
from posenet_port.pipeline.photos import video_frames

VTEST_INPUT_SIZE = 513  # people 90 px tall in a 768x576 frame: at 257 most walkers are missed
SHAKE_SIDE = 640  # shake clips are made at a webcam's size: one pixel of shake means what it means there
SHAKE_FPS = 30.0
SHAKE_FRAMES = 60
SHOWN_SCORE = 0.5  # keypoints the demo draws (its default --min-score): the ones whose shaking people see
WALKING_PX_PER_S = 5.0  # a track's centre moving faster than this is a walker (vtest's walk at 50-200 px/s)
MIN_TRACK_S = 2.0  # the goals speak of people in view for more than 2 s
WARMUP_FRAMES = 4  # a track's first frames, where its filter starts from the first pose, do not count for lag


@dataclass(frozen=True)
class Clip:
    """A video's raw poses: `poses[i]` decoded from the frame at `timestamps[i]` seconds."""

    name: str
    timestamps: tuple[float, ...]
    poses: tuple[tuple[Pose, ...], ...]
    fps: float


def shaken(image: np.ndarray, frames: int, seed: int) -> Iterator[np.ndarray]:
    """`frames` views of a still photo from a camera that shakes by up to one pixel each way, at random: each a
    crop of the photo with a one-pixel border, moved by (dx, dy) in {-1, 0, 1}. Nothing in the picture moves, so
    any keypoint motion beyond the shake itself is the network's jitter."""
    scale = SHAKE_SIDE / max(image.shape[:2])
    still = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    height, width = still.shape[:2]
    offsets = np.random.default_rng(seed).integers(-1, 2, size=(frames, 2))
    for dx, dy in offsets:
        yield np.ascontiguousarray(still[1 + dy : height - 1 + dy, 1 + dx : width - 1 + dx])


def shake_clip(photo: Path, estimate: Callable[[np.ndarray], list[Pose]]) -> Clip:
    """The raw poses of a shake clip of `photo` at SHAKE_FPS; the shake is drawn from the photo's name."""
    from posenet_port.inference.preprocess import read_bgr

    seed = zlib.crc32(photo.name.encode())
    return clip_poses(photo.name, shaken(read_bgr(photo), SHAKE_FRAMES, seed), SHAKE_FPS, estimate)


def clip_poses(name: str, frames: Iterable[np.ndarray], fps: float, estimate: Callable[[np.ndarray], list[Pose]],
               milliseconds: list[float] | None = None) -> Clip:
    """The raw poses of every frame (BGR) of a clip at `fps`; each frame's time to estimate goes to
    `milliseconds` if given."""
    poses = []
    for frame in frames:
        start = time.perf_counter()
        poses.append(tuple(estimate(frame)))
        if milliseconds is not None:
            milliseconds.append((time.perf_counter() - start) * 1000)
    return Clip(name, tuple(i / fps for i in range(len(poses))), tuple(poses), fps)


def split(clip: Clip, frame: int) -> tuple[Clip, Clip]:
    """The clip before `frame` and from it (timestamps kept)."""
    return tuple(Clip(f"{clip.name}[{part}]", clip.timestamps[part], clip.poses[part], clip.fps)
                 for part in (slice(0, frame), slice(frame, None)))


def run_stream(clip: Clip, stream: PoseStream) -> tuple[list[list[TrackedPose]], list[float]]:
    """Every frame's tracked poses, and the milliseconds each update took."""
    results, milliseconds = [], []
    for timestamp, poses in zip(clip.timestamps, clip.poses):
        start = time.perf_counter()
        results.append(stream.update(poses, timestamp))
        milliseconds.append((time.perf_counter() - start) * 1000)
    return results, milliseconds


def _by_track(frames: Sequence[Sequence[TrackedPose]]) -> dict[int, list[tuple[int, TrackedPose]]]:
    tracks: dict[int, list[tuple[int, TrackedPose]]] = {}
    for index, frame in enumerate(frames):
        for tracked in frame:
            tracks.setdefault(tracked.track_id, []).append((index, tracked))
    return tracks


def frame_motion(frames: Sequence[Sequence[TrackedPose]]) -> tuple[np.ndarray, np.ndarray]:
    """Frame-to-frame motion (px) of every keypoint shown in two consecutive frames of one track (raw score >=
    SHOWN_SCORE in both), raw and smoothed: the same keypoints for both."""
    raw, smooth = [], []
    for track in _by_track(frames).values():
        for (i, a), (j, b) in zip(track, track[1:]):
            if j != i + 1:
                continue
            ra, rb, sa, sb = as_array(a.raw), as_array(b.raw), as_array(a.pose), as_array(b.pose)
            shown = (ra[:, 2] >= SHOWN_SCORE) & (rb[:, 2] >= SHOWN_SCORE)
            raw.append(np.hypot(*(rb[shown, :2] - ra[shown, :2]).T))
            smooth.append(np.hypot(*(sb[shown, :2] - sa[shown, :2]).T))
    return np.concatenate(raw or [np.zeros(0)]), np.concatenate(smooth or [np.zeros(0)])


def rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(values**2))) if len(values) else 0.0


def retimed(clip: Clip, fps: float) -> Clip:
    """The same frames as if filmed at `fps` (shake clips: the filter's smoothing per frame depends on the rate)."""
    return Clip(clip.name, tuple(i / fps for i in range(len(clip.poses))), clip.poses, fps)


@dataclass(frozen=True)
class Jitter:
    """Frame-to-frame motion of shown keypoints on shake clips, raw and smoothed (px): RMS and median."""

    raw_rms: float
    smooth_rms: float
    raw_median: float
    smooth_median: float
    motions: int

    @property
    def ratio(self) -> float:
        return self.smooth_rms / self.raw_rms if self.raw_rms else 0.0


def jitter(clips: Sequence[Clip], stream: Callable[[], PoseStream] = PoseStream) -> Jitter:
    """The jitter of `clips` (nothing in them moves) through a fresh stream each."""
    raw, smooth = zip(*(frame_motion(run_stream(clip, stream())[0]) for clip in clips))
    raw_all, smooth_all = np.concatenate(raw), np.concatenate(smooth)
    return Jitter(rms(raw_all), rms(smooth_all), float(np.median(raw_all)), float(np.median(smooth_all)), len(raw_all))


@dataclass(frozen=True)
class Lag:
    """How far smoothed keypoints trail the raw ones on walking tracks: `px`, the mean distance between the two;
    `frames`, the delay that best lines the smoothed centre up with the raw one; over `tracks` tracks."""

    px: float
    frames: float
    tracks: int


def _centres(track: list[tuple[int, TrackedPose]], which: str) -> np.ndarray:
    """The mean position of the keypoints shown in the raw pose, per frame of the track: [frames, 2]."""
    centres = []
    for _, tracked in track:
        raw, pose = as_array(tracked.raw), as_array(getattr(tracked, which))
        shown = raw[:, 2] >= SHOWN_SCORE
        centres.append(pose[shown, :2].mean(axis=0) if shown.any() else np.full(2, np.nan))
    return np.array(centres)


def _runs(track: list[tuple[int, TrackedPose]]) -> list[list[tuple[int, TrackedPose]]]:
    """A track cut where it skips frames: its stretches of consecutive frames."""
    runs: list[list[tuple[int, TrackedPose]]] = []
    for entry in track:
        if runs and entry[0] == runs[-1][-1][0] + 1:
            runs[-1].append(entry)
        else:
            runs.append([entry])
    return runs


def lag(frames: Sequence[Sequence[TrackedPose]], fps: float) -> Lag:
    """The lag of smoothed keypoints on walkers: stretches of a track seen for at least MIN_TRACK_S without a gap,
    whose centre moves faster than WALKING_PX_PER_S. Each stretch's delay is the shift of its raw centre path, in
    fractions of a frame, that lies closest to its smoothed path; `frames` is their mean, each walker counting once."""
    shifts = np.arange(0, 4.01, 0.05)
    distances, delays = [], []
    for track in (run for whole in _by_track(frames).values() for run in _runs(whole)):
        if len(track) < MIN_TRACK_S * fps:
            continue
        raw, smooth = _centres(track, "raw"), _centres(track, "pose")
        valid = ~np.isnan(raw).any(axis=1)
        speed = np.nanmedian(np.hypot(*np.diff(raw, axis=0).T)) * fps
        if valid.sum() < MIN_TRACK_S * fps or not speed > WALKING_PX_PER_S:
            continue
        for _, tracked in track:
            r, s = as_array(tracked.raw), as_array(tracked.pose)
            shown = r[:, 2] >= SHOWN_SCORE
            distances.append(np.hypot(*(s[shown, :2] - r[shown, :2]).T))
        times = np.arange(len(track), dtype=np.float64)[valid]
        counted = times >= times[0] + WARMUP_FRAMES
        errors = []
        for shift in shifts:  # the raw centre `shift` frames ago, interpolated, against the smoothed one
            delayed = np.stack([np.interp(times - shift, times, raw[valid, axis]) for axis in (0, 1)], axis=1)
            errors.append(np.sum(np.hypot(*(delayed - smooth[valid]).T)[counted]))
        delays.append(shifts[int(np.argmin(errors))])
    if not delays:
        return Lag(0.0, 0.0, 0)
    return Lag(float(np.mean(np.concatenate(distances))), float(np.mean(delays)), len(delays))


@dataclass(frozen=True)
class Identity:
    """Tracks on a video: all of them, those seen for at least MIN_TRACK_S, the longest (s), and how many poses got
    an id another pose of the same frame has (must be 0)."""

    tracks: int
    long_tracks: int
    longest_s: float
    shared_ids: int


def identity(frames: Sequence[Sequence[TrackedPose]], fps: float) -> Identity:
    tracks = _by_track(frames)
    spans = [(track[-1][0] - track[0][0] + 1) / fps for track in tracks.values()]
    shared = sum(len(frame) - len({t.track_id for t in frame}) for frame in frames)
    return Identity(len(tracks), sum(span >= MIN_TRACK_S for span in spans), max(spans, default=0.0), shared)


def long_tracks(frames: Sequence[Sequence[TrackedPose]], fps: float) -> dict[int, list[tuple[int, TrackedPose]]]:
    """The tracks seen for at least MIN_TRACK_S, by id."""
    return {i: t for i, t in _by_track(frames).items() if (t[-1][0] - t[0][0] + 1) / fps >= MIN_TRACK_S}


def contact_sheet(video: Path, frames: Sequence[Sequence[TrackedPose]], fps: float, columns: int = 10) -> np.ndarray:
    """One row per long track: its id and span, then crops around the person at `columns` evenly spaced frames of
    the track, so a person can see whether a track ever jumps to someone else (an id switch)."""
    rows = {}
    for track_id, track in long_tracks(frames, fps).items():
        picked = evenly_spaced(track, columns)
        rows[f"id {track_id}"] = (f"{track[0][0] / fps:.1f}-{track[-1][0] / fps:.1f}s",
                                  [(index, keypoint_box(as_array(tracked.raw))) for index, tracked in picked])
    return crop_sheet(video, rows, columns)


def evenly_spaced(items: Sequence, count: int) -> list:
    """`count` items spread evenly from the first to the last (all of them if there are fewer)."""
    return [items[i] for i in np.linspace(0, len(items) - 1, min(count, len(items))).round().astype(int)]


def crop_sheet(video: Path, rows: dict[str, tuple[str, list[tuple[int, np.ndarray]]]], columns: int,
               crop: tuple[int, int] = (64, 96)) -> np.ndarray:
    """One row per entry of `rows` (label: (caption, [(frame index, box x0 y0 x1 y1)])): the label and caption, then
    a crop around each box, the box drawn in it, so that a reader sees whom each row follows."""
    width, height = crop
    label = 120
    sheet = np.full((max(len(rows), 1) * height, label + columns * width, 3), 255, np.uint8)
    wanted: dict[int, list[tuple[int, int, np.ndarray]]] = {}
    for row, (_, samples) in enumerate(rows.values()):
        for column, (index, box) in enumerate(samples[:columns]):
            wanted.setdefault(index, []).append((row, column, box))
    for index, image in enumerate(video_frames(video, max(wanted, default=-1) + 1)):
        for row, column, box in wanted.get(index, []):
            x0, y0, x1, y1 = _crop_box((box[:2] + box[2:]) / 2, float(box[3] - box[1]), image.shape, crop)
            piece = image[y0:y1, x0:x1].copy()
            scale = np.array([width / piece.shape[1], height / piece.shape[0]] * 2)
            corners = ((box - [x0, y0, x0, y0]) * scale).round().astype(int)
            piece = cv2.resize(piece, crop, interpolation=cv2.INTER_AREA)
            cv2.rectangle(piece, tuple(corners[:2] - 1), tuple(corners[2:] + 1), (0, 220, 255), 1)
            sheet[row * height : (row + 1) * height, label + column * width : label + (column + 1) * width] = piece
    for row, (name, (caption, _)) in enumerate(rows.items()):
        cv2.putText(sheet, name, (6, row * height + 30), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(sheet, caption, (6, row * height + 60), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (60, 60, 60), 1,
                    cv2.LINE_AA)
        cv2.line(sheet, (0, (row + 1) * height - 1), (sheet.shape[1], (row + 1) * height - 1), (200, 200, 200), 1)
    return sheet


def keypoint_box(points: np.ndarray, min_score: float = 0.3) -> np.ndarray:
    """x0, y0, x1, y1 around a pose's keypoints ([17, 3] x, y, score) scoring at least `min_score` (all of them if
    fewer than two do): the box the people of vtest.avi were labelled by."""
    confident = points[points[:, 2] >= min_score, :2]
    if len(confident) < 2:
        confident = points[:, :2]
    return np.concatenate([confident.min(axis=0), confident.max(axis=0)])


def _crop_box(centre: np.ndarray, height: float, shape: tuple[int, ...], crop: tuple[int, int]) -> tuple[int, ...]:
    """A box of the crop's aspect around the person, 1.4x their height, inside the frame."""
    box_h = max(height * 1.4, 48.0)
    box_w = box_h * crop[0] / crop[1]
    x0 = int(np.clip(centre[0] - box_w / 2, 0, max(shape[1] - box_w, 0)))
    y0 = int(np.clip(centre[1] - box_h / 2, 0, max(shape[0] - box_h, 0)))
    return x0, y0, min(x0 + int(box_w), shape[1]), min(y0 + int(box_h), shape[0])


def pose_height(points: np.ndarray) -> float:
    shown = points[points[:, 2] >= SHOWN_SCORE, :2]
    return float(np.ptp(shown[:, 1])) if len(shown) >= 2 else 60.0


@dataclass(frozen=True)
class PeopleTruth:
    """Who is who in a video, labelled by hand at some of its frames (videos/vtest_people.json, how it was made in
    videos/README.md): each person's boxes by frame index, and the boxes of poses left out (two people in one
    pose, a person's second pose, or nobody could tell)."""

    people: dict[str, list[tuple[int, np.ndarray]]]
    ignored: list[tuple[int, np.ndarray]]

    @classmethod
    def load(cls, path: Path) -> PeopleTruth:
        """Read a labelling; ConfigError names what is wrong in a file that is not one."""
        try:
            data = json.loads(path.read_text())
            truth = cls({str(name): _boxes(rows) for name, rows in data["people"].items()}, _boxes(data["ignored"]))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError,
                ValueError) as error:
            raise ConfigError(f"{path}: not a labelling of people ({type(error).__name__}: {error}); "
                              "videos/README.md describes the format") from error
        return truth

    def by_frame(self) -> dict[int, list[tuple[str | None, np.ndarray]]]:
        """Frame index -> the labelled boxes in it, with their person (None: ignored)."""
        frames: dict[int, list[tuple[str | None, np.ndarray]]] = {}
        for name, rows in [*self.people.items(), (None, self.ignored)]:
            for index, box in rows:
                frames.setdefault(index, []).append((name, box))
        return frames

    def sheet(self, video: Path, fps: float, columns: int = 20) -> np.ndarray:
        """A row per person, crops at up to `columns` of their labelled frames: the labels, for a reader to check."""
        rows = {}
        for name, boxes in self.people.items():
            rows[name] = (f"{boxes[0][0] / fps:.0f}-{boxes[-1][0] / fps:.0f}s", evenly_spaced(boxes, columns))
        return crop_sheet(video, rows, columns)


def _boxes(rows: list[list[float]]) -> list[tuple[int, np.ndarray]]:
    """[frame, x0, y0, x1, y1] rows as (frame index, box); ValueError for a row that is not one."""
    boxes = []
    for row in rows:
        if len(row) != 5 or int(row[0]) != row[0] or row[0] < 0:
            raise ValueError(f"a box is [frame, x0, y0, x1, y1], with a frame index >= 0: {row!r:.80}")
        box = np.array(row[1:], np.float64)
        if not (np.isfinite(box).all() and (box[2:] > box[:2]).all()):
            raise ValueError(f"a box needs x0 < x1 and y0 < y1: {row!r:.80}")
        boxes.append((int(row[0]), box))
    return boxes


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boxes x0, y0, x1, y1."""
    overlap = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - overlap
    return float(overlap / union) if union > 0 else 0.0


MATCH_IOU = 0.5  # a pose is a labelled box's when their boxes overlap this much (the same pose gives 1.0)


def ids_of_people(frames: Sequence[Sequence[TrackedPose]], truth: PeopleTruth) -> dict[str, list[tuple[int, int]]]:
    """Each labelled person's (frame index, track id) at the labelled frames where one of the frame's poses is
    theirs: poses and labelled boxes paired greedily, most overlapping first, from MATCH_IOU. A pose paired with an
    ignored box counts for no one."""
    seen: dict[str, list[tuple[int, int]]] = {name: [] for name in truth.people}
    for index, labelled in sorted(truth.by_frame().items()):
        if index >= len(frames):
            continue
        poses = frames[index]
        pairs = sorted(((box_iou(keypoint_box(as_array(tracked.raw)), box), p, b)
                        for p, tracked in enumerate(poses) for b, (_, box) in enumerate(labelled)), reverse=True)
        used_poses, used_boxes = set(), set()
        for overlap, p, b in pairs:
            if overlap < MATCH_IOU:
                break
            if p in used_poses or b in used_boxes:
                continue
            used_poses.add(p)
            used_boxes.add(b)
            if labelled[b][0] is not None:
                seen[labelled[b][0]].append((index, poses[p].track_id))
    return seen


@dataclass(frozen=True)
class PeopleIdentity:
    """Tracks against the people labelled by hand, over those seen for more than MIN_TRACK_S: how many, the track
    ids each got on average (fragmentation: 1.0 is every person keeping one id), how many kept one id, the id
    changes along people, and the ids that went over to another person (an id on two people)."""

    people: int
    tracks_per_person: float
    kept_one_id: int
    id_changes: int
    ids_on_two_people: int


def people_identity(frames: Sequence[Sequence[TrackedPose]], truth: PeopleTruth, fps: float,
                    frame_range: range | None = None) -> PeopleIdentity:
    """PeopleIdentity of a run's tracked poses (every frame of the video), over the labelled frames in
    `frame_range` (all of them if None)."""
    seen = ids_of_people(frames, truth)
    if frame_range is not None:
        seen = {name: [(i, t) for i, t in ids if i in frame_range] for name, ids in seen.items()}
    long = {name: ids for name, ids in seen.items() if ids and (ids[-1][0] - ids[0][0]) / fps > MIN_TRACK_S}
    owners: dict[int, set[str]] = {}
    for name, ids in seen.items():
        for _, track_id in ids:
            owners.setdefault(track_id, set()).add(name)
    return PeopleIdentity(
        people=len(long),
        tracks_per_person=sum(len({t for _, t in ids}) for ids in long.values()) / max(len(long), 1),
        kept_one_id=sum(len({t for _, t in ids}) == 1 for ids in long.values()),
        id_changes=sum(a[1] != b[1] for ids in long.values() for a, b in zip(ids, ids[1:])),
        ids_on_two_people=sum(len(names) - 1 for names in owners.values()),
    )


JUMP_HEIGHTS_PER_S = 5.0  # faster than any walker (about 1 body height per second): a track that jumps switched


def suspected_switches(frames: Sequence[Sequence[TrackedPose]], fps: float) -> int:
    """Times a track's raw centre moved faster than JUMP_HEIGHTS_PER_S body heights per second between two of its
    frames: a person does not, so the track went over to someone else. A lower bound on id switches (a switch
    between two people walking side by side is no jump); the contact sheet shows the rest."""
    switches = 0
    for track in _by_track(frames).values():
        for (i, a), (j, b) in zip(track, track[1:]):
            pa, pb = as_array(a.raw), as_array(b.raw)
            ca, cb = _centres([(i, a)], "raw")[0], _centres([(j, b)], "raw")[0]
            if np.isnan(ca).any() or np.isnan(cb).any():
                continue
            height = max(pose_height(pa), pose_height(pb), 1.0)
            switches += np.hypot(*(cb - ca)) / height > JUMP_HEIGHTS_PER_S * (j - i) / fps
    return int(switches)


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def notes(jitter: dict[tuple[str, float], Jitter], lags: Sequence[Lag], identity: Identity, switches: int,
          people: Sequence[PeopleIdentity], cost: float, loop_fps: dict[str, float], smoothing: SmoothingOptions,
          sheets: Sequence[Path]) -> list[str]:
    """The section's findings against issue 27's goals. `jitter` by ("validation" or "tuning" photos, fps), the
    first rate the headline's; `lags` and `people` for the video's first half (the defaults were chosen on it) and
    second, `people` then the whole video; `sheets`: the tracks' contact sheet, then the labelled people's."""
    rates = list(dict.fromkeys(fps for _, fps in jitter))
    headline = jitter["validation", rates[0]]
    lines = [
        f"Settings: One Euro min_cutoff {smoothing.min_cutoff} Hz, beta {smoothing.beta}, derivative_cutoff "
        f"{smoothing.derivative_cutoff} Hz (speeds in pose sizes per second); chosen on the tuning photos' shake "
        "clips and vtest.avi's first half, reported on the validation photos and its second half.",
        f"Jitter on still photos of people shaken by one pixel at random ({SHAKE_FRAMES} frames each, made "
        f"{SHAKE_SIDE} px wide, keypoints shown at score >= {SHOWN_SCORE}): at {rates[0]:.0f} fps (a webcam) RMS "
        f"frame-to-frame motion {headline.raw_rms:.2f} px raw, {headline.smooth_rms:.2f} px smoothed, "
        f"{headline.ratio:.3f} of raw on the validation photos (target <= 1/3: {_met(headline.ratio <= 1 / 3)}); "
        "median " + f"{headline.raw_median:.2f} -> {headline.smooth_median:.2f} px. " + "; ".join(
            f"{photos} photos at {fps:.0f} fps: {jitter[photos, fps].ratio:.3f}" for photos, fps in jitter
            if (photos, fps) != ("validation", rates[0]))
        + ". Raw RMS is dominated by keypoints that jump far between frames (a wrist taken for a neighbour's): "
        "the filter lets large moves through fast, as it must for a person who really moves.",
        f"Lag on vtest.avi's walkers (stretches of a track seen >= {MIN_TRACK_S:.0f} s without a gap, centre faster "
        f"than {WALKING_PX_PER_S:.0f} px/s; each walker's delay, then their mean): second half {lags[1].frames:.2f} "
        f"frames ({lags[1].px:.1f} px mean distance between smoothed and raw keypoints, {lags[1].tracks} walkers; "
        f"target <= 1 frame: {_met(lags[1].frames <= 1)}); first half {lags[0].frames:.2f} frames ({lags[0].tracks} "
        "walkers).",
        f"Identity against the people of vtest.avi labelled by hand (videos/vtest_people.json; {sheets[1].name} in "
        f"docs/ shows them), over the {people[2].people} in view for more than {MIN_TRACK_S:.0f} s: "
        f"{people[2].tracks_per_person:.2f} track ids per person (goal <= 1.2: {_met(people[2].tracks_per_person <= 1.2)}; "
        f"second half {people[1].tracks_per_person:.2f}, first half {people[0].tracks_per_person:.2f}), "
        f"{people[2].kept_one_id} of them kept one id, {people[2].id_changes} id changes along people, "
        f"{people[2].ids_on_two_people} ids went over to another person. The rest is mostly the network's: a person "
        "who has no pose a tracker can follow (missed, or decoded with a neighbour into one pose) for longer than "
        "the tracker's 1 s memory must get a new id, and research/trackers.md estimates how many ids an error-free "
        f"tracker would give. {identity.tracks} tracks in all, {identity.long_tracks} seen for >= "
        f"{MIN_TRACK_S:.0f} s, the longest {identity.longest_s:.1f} s; {identity.shared_ids} frames gave one id "
        f"twice (target 0: {_met(identity.shared_ids == 0)}); {switches} suspected id switches (a track's centre "
        f"moving faster than {JUMP_HEIGHTS_PER_S:.0f} body heights per second). {sheets[0].name} in docs/ shows each "
        "long track's person at 10 moments.",
        f"Cost: tracking and smoothing take {cost:.2%} of a frame's time at input {VTEST_INPUT_SIZE} (target < 2%: "
        f"{_met(cost < 0.02)}); the demo loop over frames in memory runs at "
        + ", ".join(f"{fps:.1f} fps {label}" for label, fps in loop_fps.items())
        + f" (median of 5 interleaved runs each: {min(loop_fps.values()) / max(loop_fps.values()):.3f}x).",
    ]
    return lines
