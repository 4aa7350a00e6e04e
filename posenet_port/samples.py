"""Public-domain photos this project can always reach offline: for checks, calibration and benchmarks."""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLVAY_1927 = REPO_ROOT / "tests" / "data" / "solvay1927.jpg"  # 29 people: the multi-pose case


def grace_hopper() -> Path:
    """Grace Hopper's portrait (US Navy, public domain), shipped in matplotlib's sample data."""
    from matplotlib import cbook

    return Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def sample_photos() -> list[Path]:
    return [grace_hopper(), SOLVAY_1927]
