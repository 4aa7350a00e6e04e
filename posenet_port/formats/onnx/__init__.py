"""ONNX: written node by node by our own writer (export.py), run by ONNX Runtime."""
from posenet_port.formats.base import FLOAT16_RECIPES, FLOAT32, INT16X8_GPTQ, X86_INT8_RECIPES, Format, recipes
from posenet_port.formats.onnx.ops import ONNX_OPS

FORMAT = Format(
    name="onnx", title="ONNX", runner="posenet_port.formats.onnx.runner", exporter="posenet_port.formats.onnx.export",
    lister="posenet_port.formats.onnx.listing", recipes=recipes(FLOAT32, *FLOAT16_RECIPES, *X86_INT8_RECIPES, INT16X8_GPTQ),
    allowed_ops=ONNX_OPS, file_name="{stem}_{recipe}.onnx", suffixes=(".onnx",), probe=True,
)
