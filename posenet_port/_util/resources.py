"""Where the files the tool ships live: the checkout beside the package, or `<prefix>/share/posenet_port` after a
plain `pip install .` (setup.cfg's data_files put the weights and photos there)."""
from __future__ import annotations

import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
INSTALLED = Path(sys.prefix) / "share" / "posenet_port"


def resource(relative: str) -> Path:
    """`relative` in the checkout, else where pip installed it; a missing file is named in the checkout."""
    for root in (CHECKOUT, INSTALLED):
        if (root / relative).exists():
            return root / relative
    return CHECKOUT / relative


def default_build_dir() -> Path:
    """The folder `rebuild` writes by default: ./build where it exists (an installed tool run from anywhere),
    else the checkout's."""
    return Path("build") if Path("build").is_dir() else CHECKOUT / "build"
