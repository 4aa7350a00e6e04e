"""Public-domain photos this project can always reach offline: for checks, calibration and benchmarks."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLVAY_1927 = REPO_ROOT / "tests" / "data" / "solvay1927.jpg"  # 29 people: the multi-pose case


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


def check_photos() -> list[tuple[str, np.ndarray]]:
    """The photos every exported model is checked on: three single-person photos and the Solvay photograph's
    left and right halves (10 people each). The whole Solvay photo at input 257 leaves three poses within 0.05 of
    the 0.3 pose threshold, so comparing pose counts there would measure threshold noise, not the model."""
    from .preprocess import load_image

    photos = [(str(grace_hopper()), load_image(grace_hopper()))]
    photos += [(str(scikit_image_photo(n)), load_image(scikit_image_photo(n))) for n in ("astronaut", "camera")]
    solvay = load_image(SOLVAY_1927)
    half = solvay.shape[1] // 2
    photos += [("solvay1927_left.jpg", solvay[:, :half]), ("solvay1927_right.jpg", solvay[:, half:])]
    return photos
