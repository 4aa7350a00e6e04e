"""Pictures to fine-tune on, without labels (the float graph is the teacher), and random views of them.

Only pictures no gate figure is judged on: the tuning photos and frames of vtest.avi; never the validation photos.
A view is what a camera could have seen instead: a crop at another scale, a mirror image, a small rotation, other
light, JPEG's rounding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from posenet_port.inference.preprocess import preprocess
from posenet_port.pipeline.photos import VTEST, tuning_photos, video_frames


@dataclass(frozen=True)
class ViewOptions:
    """How far a view may stray from its picture."""

    smallest_crop: float = 0.3  # of the picture's side
    mirror: float = 0.5  # the share of views mirrored
    degrees: float = 10.0  # rotations within +-degrees
    brightness: float = 20.0  # added, within +-, to 0-255 pixels
    contrast: float = 0.2  # a factor within 1 +- contrast
    jpeg: float = 0.3  # the share of views re-encoded as JPEG at quality 60-95


def training_pictures(video_every: int = 10) -> list[np.ndarray]:
    """RGB pictures: the tuning photos and every `video_every`-th frame of vtest.avi (0: no frame)."""
    pictures = [rgb for _, rgb in tuning_photos()]
    if video_every:
        pictures += [frame[:, :, ::-1] for index, frame in enumerate(video_frames(VTEST)) if index % video_every == 0]
    return pictures


def random_view(rgb: np.ndarray, size: int, rng: np.random.Generator, options: ViewOptions = ViewOptions()) -> np.ndarray:
    """One view of an RGB picture, as the network's [size, size, 3] input."""
    height, width = rgb.shape[:2]
    side = rng.uniform(options.smallest_crop, 1.0)
    crop_height, crop_width = max(32, int(height * side)), max(32, int(width * side * rng.uniform(0.8, 1.25)))
    crop_width = min(crop_width, width)
    top, left = rng.integers(0, height - crop_height + 1), rng.integers(0, width - crop_width + 1)
    view = rgb[top:top + crop_height, left:left + crop_width]
    if rng.random() < options.mirror:
        view = view[:, ::-1]
    angle = rng.uniform(-options.degrees, options.degrees)
    turn = cv2.getRotationMatrix2D((crop_width / 2, crop_height / 2), angle, 1.0)
    view = cv2.warpAffine(np.ascontiguousarray(view), turn, (crop_width, crop_height), borderMode=cv2.BORDER_REFLECT)
    light = view.astype(np.float32) * rng.uniform(1 - options.contrast, 1 + options.contrast)
    view = np.clip(light + rng.uniform(-options.brightness, options.brightness), 0, 255).astype(np.uint8)
    if rng.random() < options.jpeg:
        quality = int(rng.integers(60, 96))
        _, data = cv2.imencode(".jpg", view[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        view = cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1]
    return preprocess(np.ascontiguousarray(view), size)[0][0]


def random_batch(pictures: Sequence[np.ndarray], count: int, size: int, rng: np.random.Generator,
                 options: ViewOptions = ViewOptions()) -> np.ndarray:
    """`count` views of pictures drawn at random, as one [count, size, size, 3] batch."""
    return np.stack([random_view(pictures[rng.integers(len(pictures))], size, rng, options) for _ in range(count)])
