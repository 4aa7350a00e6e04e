"""Calibration photos: what int8 activation ranges and GPTQ weight rounding are fitted on.

By default the tuning photos (samples.py), never the validation photos the checks judge on. Each photo is used
with its mirror and crops at two scales, preprocessed exactly as at inference.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from posenet_port.inference.preprocess import IMAGE_SUFFIXES, ImageError, folder_photos, load_image, preprocess

# Every photo is calibrated in several views; beyond this many, more photos cost memory and time, not accuracy
# (the tuning set has 14).
MAX_CALIBRATION_PHOTOS = 64
# Photos are kept decoded until every input size is calibrated: larger ones are shrunk to this longer side (the
# shipped photos are at most 2048 px, so they are used as they are), so 64 photos of 50 MP hold 0.8 GB, not 9.6.
MAX_CALIBRATION_SIDE = 2048


def shrunk(rgb: np.ndarray, max_side: int = MAX_CALIBRATION_SIDE) -> np.ndarray:
    """`rgb` with its longer side at most `max_side` (area-averaged, as a camera's downscale would be)."""
    import cv2

    scale = max_side / max(rgb.shape[:2])
    if scale >= 1:
        return rgb
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def augmented_views(rgb: np.ndarray) -> list[np.ndarray]:
    """A photo, its mirror, and crops on 2x2 and 3x3 grids of both: people at several scales and places."""
    views = []
    for image in (rgb, rgb[:, ::-1]):
        height, width = image.shape[:2]
        views.append(image)
        for grid in (2, 3):
            crop_h, crop_w = height * 2 // (grid + 1), width * 2 // (grid + 1)
            for row in range(grid):
                for col in range(grid):
                    top, left = row * (height - crop_h) // max(grid - 1, 1), col * (width - crop_w) // max(grid - 1, 1)
                    views.append(image[top : top + crop_h, left : left + crop_w])
    return views


def calibration_photos(directory: str | Path | None) -> list[np.ndarray]:
    """The photos in `directory` (every readable image), or by default the tuning photos (never the validation
    photos the checks judge on)."""
    if directory is None:
        from posenet_port.pipeline.photos import tuning_photos

        return [rgb for _, rgb in tuning_photos()]
    directory = Path(directory)
    if not directory.is_dir():
        raise ImageError(f"{directory}: calibration images must be a folder of photos")
    photos = []
    for path in folder_photos(directory):  # read one by one, and no more than calibration needs
        if len(photos) == MAX_CALIBRATION_PHOTOS:
            print(f"calibration: the first {MAX_CALIBRATION_PHOTOS} readable photos of {directory} are used")
            break
        try:
            photos.append(shrunk(load_image(path)))
        except ImageError:
            continue
    if not photos:
        raise ImageError(f"{directory}: no readable images ({', '.join(IMAGE_SUFFIXES)}) for int8 calibration")
    return photos


def representative_inputs(photos: Sequence[np.ndarray], input_size: int) -> list[np.ndarray]:
    """Calibration batches: every augmented view, preprocessed exactly as at inference."""
    return [preprocess(view, input_size)[0] for photo in photos for view in augmented_views(photo)]


class Calibration:
    """The photos of one rebuild and their batches per input size, made once and shared by every exporter."""

    def __init__(self, photos: Sequence[np.ndarray]) -> None:
        self.photos = list(photos)
        self._batches: dict[int, list[np.ndarray]] = {}

    def batches(self, input_size: int) -> list[np.ndarray]:
        if input_size not in self._batches:
            self._batches[input_size] = representative_inputs(self.photos, input_size)
        return self._batches[input_size]


def calibration_batches(photos: Sequence[np.ndarray], input_size: int) -> list[np.ndarray]:
    """Each calibration photo and its mirror, preprocessed as at inference. More views (crops at several scales)
    took 3x longer and agreed no better on the tuning photos (96.3 % vs 95.7-97.3 % within 2 px, simulated)."""
    return [preprocess(view, input_size)[0] for photo in photos for view in (photo, photo[:, ::-1])]
