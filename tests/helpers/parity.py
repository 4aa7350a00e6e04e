"""Float outputs of two engines: the one tolerance they are held to, and a record of what was measured.

Two float32 engines computing the same network (TensorFlow with oneDNN, TensorFlow.js, LiteRT's XNNPACK) sum in
different orders, and the order depends on the CPU's instruction set. Measured against an exact (NumPy float64)
forward pass on the real test photos, as a share of (1 + max |value|) of each output: TensorFlow 2.1e-5 (AVX2)
to 2.2e-5 (AVX-512), tfjs (cpu) 2.2e-5, LiteRT's reference kernels 4.8e-5, XNNPACK float32 9.5e-5 (on both),
all on the Solvay photo's offsets, where large terms cancel. Between two engines that adds up to 2e-4 at worst
(measured: our graph vs tfjs 0 on an AVX-512 + VNNI EPYC, 1.7e-5 on an AVX2-only EPYC, real or emulated by qemu;
TFLite float32 vs our graph 7.5e-5 on both). So the bound scales with each output tensor's magnitude:

    max |ours - theirs| <= RELATIVE * (1 + max |theirs|),   RELATIVE = 5e-4   (about 4,200 float32 epsilons)

That is 2.5x the worst case above, and far below what a wrong graph does: one bias dropped, black padding or two
strides swapped miss it by 400x or more, and even one weight of 147,456 off by 1 % misses it
(tests/e2e/test_tfjs_parity.py::test_parity_check_fails_for_a_wrong_graph).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

RELATIVE = 5e-4

# Every comparison made in this test session, printed in pytest's terminal summary (conftest.py).
MEASURED: list["Difference"] = []


@dataclass(frozen=True)
class Difference:
    label: str
    output: str
    max_abs: float
    magnitude: float  # max |expected|

    @property
    def bound(self) -> float:
        return float32_bound(self.magnitude)

    @property
    def ok(self) -> bool:
        return self.max_abs <= self.bound

    def __str__(self) -> str:
        measured = "identical" if self.max_abs == 0 else f"{self.max_abs:.3g} ({self.max_abs / self.bound:.1%} of bound)"
        return f"{self.label} {self.output}: max |diff| {measured}, bound {self.bound:.3g}, max |value| {self.magnitude:.3g}"


def float32_bound(magnitude: float) -> float:
    return RELATIVE * (1.0 + magnitude)


def differences(actual: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray], label: str) -> list[Difference]:
    """One Difference per output of `expected`; shapes must agree (a wrong stride usually changes them)."""
    found = []
    for name, values in expected.items():
        ours = np.asarray(actual[name], np.float64)
        assert ours.shape == values.shape, f"{label} {name}: shape {ours.shape}, expected {values.shape}"
        found.append(Difference(label, name, float(np.abs(ours - values).max()), float(np.abs(values).max())))
    return found


def assert_outputs_close(actual: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray], label: str) -> None:
    """Every output within the float32 bound; the measured differences are recorded and printed either way."""
    found = differences(actual, expected, label)
    MEASURED.extend(found)
    for difference in found:
        print(difference)
    failed = [str(d) for d in found if not d.ok]
    assert not failed, "beyond float32 rounding: " + "; ".join(failed)
