"""GPTQ's int8 rounding as the rounding tests compute it: two tuning photos at a small input (the tests are about
the method, not the figures). Run as a script, it writes the weights to the .npz file named, so that another
process (other kernels of NumPy and OpenBLAS) computes them too:

    python tests/helpers/gptq_rounding.py weights.npz
"""
from __future__ import annotations

import sys

import numpy as np

from posenet_port.inference.preprocess import load_image
from posenet_port.model.rounding import GRIDS, round_weights
from posenet_port.model.weights import PosenetWeights, load_weights
from posenet_port.pipeline.calibration import calibration_batches
from posenet_port.pipeline.photos import PEOPLE, TUNING_PEOPLE

PHOTOS = TUNING_PEOPLE[:2]
INPUT_SIZE = 129


def calibration() -> list[np.ndarray]:
    return calibration_batches([load_image(PEOPLE / f"{name}.jpg") for name in PHOTOS], INPUT_SIZE)


def int8_rounding(batches: list[np.ndarray] | None = None) -> PosenetWeights:
    return round_weights(load_weights(), 16, calibration() if batches is None else batches, GRIDS["int8"])


if __name__ == "__main__":
    np.savez(sys.argv[1], *[a for conv in int8_rounding().convs() for a in (conv.kernel, conv.bias)])
