"""research/int8_saturation.py, and the property it led to: ONNX Runtime's integer kernels compute rebuild's int8
ONNX model as its QDQ arithmetic says, layer by layer, on any x86 CPU (without VNNI, 8-bit kernels outside the
depthwise layers overflowed: up to 255 steps off on an AVX2 EPYC)."""
from __future__ import annotations

import sys

from helpers import REPO

sys.path.insert(0, str(REPO / "research"))

import int8_saturation  # noqa: E402


def test_every_int8_layer_runs_in_the_integer_kernels_as_its_arithmetic_says(shipped_weights, tmp_path):
    from posenet_port._util.machine import describe_cpu
    from posenet_port.formats.onnx.export import export_onnx
    from posenet_port.inference.preprocess import preprocess
    from posenet_port.pipeline.calibration import representative_inputs
    from posenet_port.pipeline.photos import check_photos

    photos = [rgb for _, rgb in check_photos()]
    calibration = representative_inputs(photos[:2], 129)[:6]
    model = export_onnx(shipped_weights, 16, tmp_path / "int8.onnx", "int8", calibration)
    batches = [preprocess(rgb, 129)[0] for rgb in photos[2:4]]
    rows = int8_saturation.layer_steps(model, batches, tmp_path)
    print(describe_cpu())
    for scope, most, share in rows:
        print(f"{scope}: at most {most} steps off, {share:.2%} by more than one")
    assert len(rows) == 1 + 13 + 13 + 4
    # One step is requantization rounding (the kernels' fixed-point scale against the arithmetic's float one).
    assert all(most <= 1 for _, most, _ in rows), rows
