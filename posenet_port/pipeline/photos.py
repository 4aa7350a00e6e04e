"""Public-domain photos (and a video) this project can always reach offline: for checks, calibration, fine-tuning
and benchmarks."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Iterator

import numpy as np

from posenet_port._util.resources import resource

DATA = Path(__file__).resolve().parents[1] / "data"  # package data: installed with the package
SOLVAY_1927 = DATA / "solvay1927.jpg"  # 29 people: the multi-pose case
PEOPLE = DATA / "people"  # provenance and the split's rule: posenet_port/data/README.md
# Quantization recipes, their settings and calibration use only these (with the check photos below) ...
TUNING_PEOPLE = ("group-5", "stock-group-1", "group-7", "cgi-multiangle-9", "cgi-model-1", "person-celeste",
                 "person-lauren", "person-linda", "stock-models-7")
# ... and the gate judges quantized models on these, which nothing was tuned on.
VALIDATION_PEOPLE = ("group-1", "cgi-multiangle-2", "group-3", "ai-upper", "cgi-model-2", "person-christina",
                     "person-lexi", "stock-models-1", "stock-teen-1")


def grace_hopper() -> Path:
    """Grace Hopper's portrait (US Navy, public domain), shipped in matplotlib's sample data."""
    from matplotlib import cbook

    return Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def scikit_image_photo(name: str) -> Path:
    """A photo scikit-image ships in its wheel (astronaut: NASA, public domain; camera: CC0), read as a file so
    that scikit-image itself is never imported."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("scikit-image is not installed: pip install scikit-image (see requirements.txt)")
    return Path(spec.submodule_search_locations[0]) / "data" / f"{name}.png"


def sample_photos() -> list[Path]:
    return [grace_hopper(), SOLVAY_1927]


def people_photos(names: tuple[str, ...]) -> list[tuple[str, np.ndarray]]:
    from posenet_port.inference.preprocess import load_image

    return [(f"{name}.jpg", load_image(PEOPLE / f"{name}.jpg")) for name in names]


def tuning_photos() -> list[tuple[str, np.ndarray]]:
    """Calibration and tuning photos: the check photos and half of the people photos."""
    return check_photos() + people_photos(TUNING_PEOPLE)


def validation_photos() -> list[tuple[str, np.ndarray]]:
    """Photos no recipe, setting or floor was tuned on: the gate's evidence."""
    return people_photos(VALIDATION_PEOPLE)


def check_photos() -> list[tuple[str, np.ndarray]]:
    """The photos every exported model is checked on: three single-person photos and the Solvay photograph's
    left and right halves (10 people each). The whole Solvay photo at input 257 leaves three poses within 0.05 of
    the 0.3 pose threshold, so comparing pose counts there would measure threshold noise, not the model."""
    from posenet_port.inference.preprocess import load_image

    photos = [("grace_hopper.jpg", load_image(grace_hopper()))]
    photos += [(f"{n}.png", load_image(scikit_image_photo(n))) for n in ("astronaut", "camera")]
    solvay = load_image(SOLVAY_1927)
    half = solvay.shape[1] // 2
    photos += [("solvay1927_left.jpg", solvay[:, :half]), ("solvay1927_right.jpg", solvay[:, half:])]
    return photos


def resaved_as_jpeg(rgb: np.ndarray, quality: int = 95) -> np.ndarray:
    """The photo as a good JPEG gives it back: a change no person sees."""
    import cv2

    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]


def shifted_by_one_pixel(rgb: np.ndarray) -> np.ndarray:
    """The photo as a camera moved by one pixel sees it: everything one pixel to the left, the last column twice."""
    return np.concatenate([rgb[:, 1:], rgb[:, -1:]], axis=1)


# Changes no person would notice, whose effect on the float graph's own poses is the floor under every model's.
NOISE_CHANGES = {"photos re-saved as JPEG 95": resaved_as_jpeg, "photos shifted by one pixel": shifted_by_one_pixel}


VTEST = resource("videos/vtest.avi")  # people walking, seen from above: provenance in videos/README.md
VTEST_PEOPLE = resource("videos/vtest_people.json")  # who is who in it, labelled by hand (videos/README.md)


def video_frames(path: Path, limit: int | None = None) -> Iterator[np.ndarray]:
    """A video's frames, as BGR arrays (OpenCV's order), the first `limit` of them."""
    from posenet_port.inference.stream import CaptureSource

    for frame in CaptureSource(path).frames():
        if limit is not None and frame.index >= limit:
            return
        yield frame.image
