"""OpenVINO IR (`.xml` graph + `.bin` weights) converted by `openvino.convert_model` from this project's ONNX
model, so both formats run the same graph: float32, float16 (weights compressed to float16, computed in float32)
and int8 (the ONNX QDQ model: OpenVINO turns its QuantizeLinear/DequantizeLinear pairs into FakeQuantize and
runs the convolutions in its integer kernels). Height and width stay dynamic."""
from __future__ import annotations

import tempfile
from pathlib import Path

from posenet_port._util.fileio import atomic_path
from posenet_port.formats.base import ExportSource, Recipe
from posenet_port.formats.onnx.export import export_onnx

VARIANTS = ("float32", "float16", "int8")


def export(source: ExportSource, recipe: Recipe, path: Path) -> Path:
    """Write the IR as `path` (.xml) and its .bin into a folder of their own, whole or not at all."""
    if recipe.variant not in VARIANTS:
        raise ValueError(f"OpenVINO variant {recipe.variant!r}: choose one of {', '.join(VARIANTS)}")
    import openvino as ov

    onnx_variant = "int8" if recipe.variant == "int8" else "float32"
    calibration = source.calibration.batches(source.input_size) if recipe.calibrated else ()
    with tempfile.TemporaryDirectory(prefix="posenet-openvino-") as work, \
            atomic_path(path.parent, directory=True) as folder:
        onnx_model = export_onnx(source.weights, source.spec.output_stride, Path(work) / "model.onnx",
                                 onnx_variant, calibration)
        ov.save_model(ov.convert_model(onnx_model), folder / path.name, compress_to_fp16=recipe.variant == "float16")
    return path
