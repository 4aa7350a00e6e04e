"""OpenVINO IR (`.xml` + `.bin`): converted from our ONNX model, run on OpenVINO's CPU plugin."""
from posenet_port.formats.base import FLOAT16_RECIPES, FLOAT32, X86_INT8_RECIPES, Format, recipes
from posenet_port.formats.openvino.ops import OPENVINO_OPS

FORMAT = Format(
    name="openvino", title="OpenVINO", runner="posenet_port.formats.openvino.runner",
    exporter="posenet_port.formats.openvino.export", lister="posenet_port.formats.openvino.listing",
    recipes=recipes(FLOAT32, *FLOAT16_RECIPES, *X86_INT8_RECIPES), allowed_ops=OPENVINO_OPS,
    file_name="{stem}_openvino_{recipe}/{stem}.xml", suffixes=(".xml",), probe=True,
    companions=(".bin",),
)
