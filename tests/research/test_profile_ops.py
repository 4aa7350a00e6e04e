"""tools/profile_ops.py: ONNX Runtime's profile of our ONNX model, summed per op type and layer kind."""
from __future__ import annotations

import sys

from helpers import REPO

sys.path.insert(0, str(REPO / "tools"))

import profile_ops  # noqa: E402


def test_profile_names_every_layer_kind(shipped_weights, tmp_path):
    from posenet_port.formats.onnx.export import export_onnx

    model = export_onnx(shipped_weights, 16, tmp_path / "posenet.onnx", "float32")
    times = profile_ops.op_times(model, 129, threads=1, runs=20)
    assert {"Conv (pointwise)", "Conv (depthwise)", "Conv (conv0)", "Conv (head)", "Transpose", "Sigmoid"} <= set(times)
    assert all(milliseconds > 0 for milliseconds in times.values())
    # 91 % of the multiply-adds: by far the largest share on any CPU (80 % measured with AVX-512).
    assert times["Conv (pointwise)"] > 0.5 * sum(times.values()), times
