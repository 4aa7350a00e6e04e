"""Pose estimation on a stream of frames: camera, video file or folder of photos, drawn with live timings.

The library behind `python -m posenet_port.demo`: frame sources, the per-frame loop, and the sinks (annotated
video or photos, a JSON-lines dump, an OpenCV window).
"""
from __future__ import annotations

import json
import queue
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Protocol, Sequence

import cv2
import numpy as np

from posenet_port._util.fileio import AtomicOutput, check_not_sparse, check_regular_file, unique_name
from posenet_port.errors import (
    OutputError,
    PosenetPortError,
    check_interrupted,
    deferred_interrupts,
    finishing,
    reading,
)
from posenet_port.inference.decode import Keypoint, Pose
from posenet_port.inference.draw import draw_poses
from posenet_port.inference.estimator import DecodeOptions, PoseEstimator, network_outputs
from posenet_port.inference.preprocess import (
    IMAGE_SUFFIXES,
    MAX_PIXELS,
    ImageError,
    folder_photos,
    preprocess,
    read_bgr,
)
from posenet_port.inference.tracking import PoseStream, TrackedPose

VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG"}


MIN_FPS, MAX_FPS, DEFAULT_FPS = 1.0, 1000.0, 30.0


def is_photo(path: Path) -> bool:
    """A still image (by its name or its header), which a video reader must not be handed."""
    from PIL import Image, UnidentifiedImageError

    if Path(path).suffix.lower() in IMAGE_SUFFIXES:
        return True
    try:
        with Image.open(path) as image:
            return getattr(image, "n_frames", 1) == 1 and image.format not in ("GIF", "MPO")
    except Image.DecompressionBombError:  # a still image's header claiming billions of pixels (a 21-byte JPEG)
        return True
    except (UnidentifiedImageError, OSError, ValueError, EOFError, SyntaxError, struct.error):
        return False


class SourceError(PosenetPortError):
    """A camera that will not open, a video that cannot be read, a folder with no photos."""


@dataclass(frozen=True)
class Frame:
    index: int
    timestamp: float  # seconds: the video's own clock, or time since the camera opened
    image: np.ndarray  # BGR, as OpenCV reads it
    name: str  # file name for photos, else frame_000123


def opencv_video_path(path: Path) -> str:
    """The name for OpenCV's video reader and writer, which take UTF-8 and crash on anything else."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise SourceError(f"{path}: OpenCV's video functions cannot use a file name that is not valid UTF-8; "
                          "rename the file") from None
    return str(path)


class FrameSource(Protocol):
    fps: float

    def frames(self) -> Iterator[Frame]: ...


class CaptureSource:
    """A camera (`int`) or a video file (`Path`) through cv2.VideoCapture."""

    def __init__(self, device: int | Path, max_pixels: int = MAX_PIXELS) -> None:
        self.device = device
        if not isinstance(device, int):
            opencv_video_path(device)  # a name OpenCV cannot take is said first: renaming is the fix either way
            check_regular_file(Path(device), SourceError, "video")  # a FIFO would block the reader for ever
            check_not_sparse(Path(device), SourceError, "video")
            if is_photo(device):
                # OpenCV would open it as a one-frame "video", decoding it whole before any size check.
                raise SourceError(f"{device}: is a photo, not a video; use `estimate` or --images for photos")
        with reading(device, "cannot read this video", SourceError):
            self.capture = cv2.VideoCapture(device if isinstance(device, int) else opencv_video_path(device))
        if not self.capture.isOpened():
            if isinstance(device, int):
                raise SourceError(
                    f"camera {device} did not open: is one connected and free? Try another --camera index, "
                    "or --video FILE / --images DIR"
                )
            raise SourceError(f"{device}: cannot read this video (missing, empty or a codec OpenCV lacks)")
        width, height = (int(self.capture.get(p)) for p in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT))
        if width * height > max_pixels:
            self.capture.release()
            raise SourceError(f"{device}: frames of {width}x{height} are over the limit of {max_pixels:,} pixels; "
                              "raise it with --max-pixels if this video is meant")
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        # A container can state any rate (0, 1e-9, NaN): outside what cameras and videos use it is taken as 30.
        self.fps = fps if MIN_FPS <= fps <= MAX_FPS else DEFAULT_FPS
        self.is_camera = isinstance(device, int)

    def frames(self) -> Iterator[Frame]:
        start, index = time.perf_counter(), 0
        try:
            while True:
                with reading(self.device, f"frame {index} cannot be decoded", SourceError):
                    ok, image = self.capture.read()
                if not ok:
                    if index == 0:
                        raise SourceError(f"{self.device}: no frame could be read")
                    return
                stamp = time.perf_counter() - start if self.is_camera else index / self.fps
                yield Frame(index, stamp, image, f"frame_{index:06d}")
                index += 1
        finally:
            self.capture.release()


class ImageFolderSource:
    """Every readable photo in a folder, in name order. A photo it cannot read is handed to `on_refused` and
    skipped (one broken download must not cost the rest of the folder); with `strict` it ends the run."""

    fps = 1.0

    def __init__(self, directory: Path, max_pixels: int = MAX_PIXELS, strict: bool = False,
                 on_refused: Callable[[ImageError], None] = lambda error: None) -> None:
        self.max_pixels, self.strict, self.on_refused = max_pixels, strict, on_refused
        self.refused: list[ImageError] = []
        if not directory.is_dir():
            raise SourceError(f"{directory}: not a folder of photos")
        self.paths = folder_photos(directory)
        if not self.paths:
            raise SourceError(f"{directory}: no photos ({', '.join(IMAGE_SUFFIXES)}) in this folder")

    def frames(self) -> Iterator[Frame]:
        index = 0
        for path in self.paths:
            try:
                image = read_bgr(path, self.max_pixels)
            except ImageError as error:
                if self.strict:
                    raise
                self.refused.append(error)
                self.on_refused(error)
                continue
            yield Frame(index, float(index), image, path.name)
            index += 1
        if index == 0:
            raise SourceError(f"{self.paths[0].parent}: none of its photos could be read")


@dataclass
class FrameResult:
    """A frame's poses as posenet decodes them, and (with a PoseStream) the same poses with track ids, smoothed;
    `track_ms` is what tracking and smoothing took."""

    frame: Frame
    poses: list[Pose]
    inference_ms: float  # preprocessing and the network
    decode_ms: float
    tracked: list[TrackedPose] | None = None
    track_ms: float = 0.0

    def records(self) -> list[dict]:
        """The poses as written to a dump: with their track id and smoothed where tracked."""
        return [p.to_dict() for p in (self.tracked if self.tracked is not None else self.poses)]


@dataclass
class LoopStats:
    frames: int = 0
    seconds: float = 0.0
    inference_ms: list[float] = field(default_factory=list)
    decode_ms: list[float] = field(default_factory=list)
    track_ms: list[float] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def estimate_frame(estimator: PoseEstimator, frame: Frame, options: DecodeOptions,
                   stream: PoseStream | None = None) -> FrameResult:
    start = time.perf_counter()
    batch, box = preprocess(frame.image, estimator.input_size, estimator.stretch, color_order="bgr")
    outputs = network_outputs(estimator.runner(batch), box, estimator.output_stride)
    middle = time.perf_counter()
    poses = estimator.decode(outputs, options)
    decoded = time.perf_counter()
    tracked = stream.update(poses, frame.timestamp) if stream is not None else None
    return FrameResult(frame, poses, (middle - start) * 1000, (decoded - middle) * 1000, tracked,
                       (time.perf_counter() - decoded) * 1000)


def mirrored(pose: Pose, width: int) -> Pose:
    """The pose in the picture flipped left to right, its keypoints keeping their names."""
    return Pose(pose.score, tuple(Keypoint(k.part, width - 1 - k.x, k.y, k.score) for k in pose.keypoints))


def annotate(result: FrameResult, fps: float, min_score: float, mirror: bool = False) -> np.ndarray:
    """Poses (coloured and labelled by track id when tracked), then a banner with frames per second and the time
    spent in inference and decoding. `mirror`: the picture flipped left to right (a selfie view); the keypoints'
    names stay the person's own, since the network saw the frame as the camera took it."""
    image, poses, ids = result.frame.image, result.poses, None
    if result.tracked is not None:
        poses, ids = [t.pose for t in result.tracked], [t.track_id for t in result.tracked]
    if mirror:
        image, poses = image[:, ::-1], [mirrored(pose, image.shape[1]) for pose in poses]
    canvas = draw_poses(image, poses, min_score, ids=ids)
    text = (f"{fps:5.1f} fps  inference {result.inference_ms:5.1f} ms  decode {result.decode_ms:4.1f} ms  "
            f"{len(result.poses)} poses")
    scale = max(canvas.shape[1] / 1280, 0.45)
    (width, height), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(canvas, (0, 0), (width + 12, height + 14), (0, 0, 0), -1)
    cv2.putText(canvas, text, (6, height + 6), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return canvas


class Sink(Protocol):
    draws: bool  # whether write() reads the annotated frame; the loop draws only for sinks that do

    def write(self, result: FrameResult, annotated: np.ndarray | None) -> None: ...

    def close(self, completed: bool = True) -> None: ...


class VideoSink:
    """Annotated frames to .mp4 (mp4v) or .avi (MJPG), under a temporary name until the stream ends.

    Encoding runs on a worker thread (OpenCV releases the GIL while it encodes), overlapping the next frame's
    inference; a short queue bounds the frames in flight.
    """

    draws = True

    def __init__(self, path: Path, fps: float) -> None:
        if path.suffix.lower() not in VIDEO_CODECS:
            raise SourceError(f"{path}: write video as {' or '.join(VIDEO_CODECS)} (mp4v / MJPG)")
        opencv_video_path(path)
        self.path, self.fps, self.writer, self.frames = path, fps, None, 0
        self.output = AtomicOutput(path)
        self.queue: queue.Queue = queue.Queue(maxsize=4)
        self.worker = threading.Thread(target=self._encode, daemon=True)
        self.worker.start()

    def _encode(self) -> None:
        while (annotated := self.queue.get()) is not None:
            self.writer.write(annotated)
            self.frames += 1  # counted as written, not as queued: a Ctrl-C may land between the two

    def write(self, result: FrameResult, annotated: np.ndarray) -> None:
        if self.writer is None:
            height, width = annotated.shape[:2]
            codec = cv2.VideoWriter_fourcc(*VIDEO_CODECS[self.path.suffix.lower()])
            self.writer = cv2.VideoWriter(str(self.output.temp), codec, self.fps, (width, height))
            if not self.writer.isOpened():
                raise SourceError(f"{self.path}: OpenCV cannot write this video")
        self.queue.put(annotated)

    def close(self, completed: bool = True) -> None:
        self.queue.put(None)
        self.worker.join()
        try:
            if self.writer is not None:
                self.writer.release()
                if completed:
                    self._check_complete()
                    self.output.commit()
        finally:
            self.output.discard()

    def _check_complete(self) -> None:
        """OpenCV's writer never reports a failed write (a full disk): read the video back before it is published."""
        capture = cv2.VideoCapture(opencv_video_path(self.output.temp))
        readable = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
        capture.release()
        if readable != self.frames:
            raise OutputError(f"{self.path}: the video could not be written whole ({readable} of {self.frames} "
                              "frames read back; is the disk full?); nothing was written")


class PhotoSink:
    """Annotated photos into a folder, one per input frame, named after it."""

    draws = True

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.taken: set[str] = set()  # x.jpg and x.png get x_poses.png and x-2_poses.png

    def write(self, result: FrameResult, annotated: np.ndarray) -> None:
        from posenet_port.inference.draw import write_image

        write_image(self.directory / f"{unique_name(Path(result.frame.name).stem, self.taken)}_poses.png", annotated)

    def close(self, completed: bool = True) -> None:
        pass


class DumpSink:
    """One JSON line per frame: index, timestamp, poses in frame coordinates."""

    draws = False  # poses only: no frame is drawn for it

    def __init__(self, path: Path) -> None:
        self.path = path
        self.output = AtomicOutput(path)
        self.handle = open(self.output.temp, "w")

    def write(self, result: FrameResult, annotated: np.ndarray | None) -> None:
        record = {
            "frame": result.frame.index,
            "timestamp": round(result.frame.timestamp, 6),
            "name": result.frame.name,
            "poses": result.records(),
        }
        try:
            self.handle.write(json.dumps(record) + "\n")
        except OSError as error:
            raise OutputError(f"{self.path}: cannot write ({error.strerror}); nothing was written") from None

    def close(self, completed: bool = True) -> None:
        try:
            self.handle.close()  # the last buffered lines are written here
            if completed:
                self.output.commit()
        except OSError as error:
            raise OutputError(f"{self.path}: cannot write ({error.strerror}); nothing was written") from None
        finally:
            self.output.discard()


class WindowSink:
    """An OpenCV window: q or Esc quits, space pauses."""

    draws = True

    TITLE = "posenet_port"

    def __init__(self) -> None:
        try:
            cv2.namedWindow(self.TITLE, cv2.WINDOW_NORMAL)
        except cv2.error:
            raise SourceError(
                "this OpenCV has no GUI (it is the headless wheel): `pip uninstall opencv-python-headless && "
                "pip install opencv-python` for a window, or run with --no-display --output FILE"
            ) from None
        self.quit = False

    def write(self, result: FrameResult, annotated: np.ndarray) -> None:
        cv2.imshow(self.TITLE, annotated)
        key = cv2.waitKey(1) & 0xFF
        while key == ord(" "):  # paused until space again (or quit)
            key = cv2.waitKey(0) & 0xFF
            if key == ord(" "):
                break
        self.quit = key in (ord("q"), 27)

    def close(self, completed: bool = True) -> None:
        cv2.destroyAllWindows()


def _close_all(sinks: Sequence[Sink], completed: bool) -> None:
    """Close every sink even if one fails (each discards its own partial output), then report the first failure."""
    failures = []
    for sink in sinks:
        try:
            sink.close(completed)
        except PosenetPortError as error:
            failures.append(error)
    if failures:
        raise failures[0]


def run_loop(
    source: FrameSource,
    estimator: PoseEstimator,
    options: DecodeOptions,
    sinks: Sequence[Sink],
    min_score: float = 0.5,
    max_frames: int | None = None,
    *,
    stream: PoseStream | None = None,
    mirror: bool = False,
) -> LoopStats:
    """Estimate every frame (tracked and smoothed by `stream` if given), annotate it when a sink shows or saves
    pictures (flipped if `mirror`), and hand it to the sinks; the fps shown is a running average. Without such a
    sink nothing is drawn: beyond estimating, the loop then costs reading the frame."""
    if max_frames is not None and max_frames < 1:
        raise SourceError(f"max frames {max_frames}: must be at least 1 (None for no limit)")
    stats = LoopStats()
    start = time.perf_counter()
    completed, draws = False, any(sink.draws for sink in sinks)
    try:
        for frame in source.frames():
            check_interrupted()  # a camera never ends: a swallowed Ctrl-C must still stop it
            result = estimate_frame(estimator, frame, options, stream)
            stats.frames += 1
            stats.seconds = time.perf_counter() - start
            stats.inference_ms.append(result.inference_ms)
            stats.decode_ms.append(result.decode_ms)
            stats.track_ms.append(result.track_ms)
            annotated = annotate(result, stats.fps, min_score, mirror) if draws else None
            with deferred_interrupts():  # never inside a sink's queue or file write
                for sink in sinks:
                    sink.write(result, annotated)
            if any(getattr(sink, "quit", False) for sink in sinks) or stats.frames == max_frames:
                break
        completed = True
    except KeyboardInterrupt:
        completed = True  # Ctrl-C (or SIGTERM, SIGHUP) ends a camera session: keep what was recorded, playable
    finally:
        try:
            if completed:
                finishing()  # a second Ctrl-C must not cut the recording's publishing short
        finally:
            _close_all(sinks, completed)
    stats.seconds = time.perf_counter() - start
    return stats
