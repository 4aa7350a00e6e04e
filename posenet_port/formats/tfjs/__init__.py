"""tfjs graph models: written by our own writer (export.py), run by real TensorFlow.js in node."""
from posenet_port.formats.base import FLOAT16_RECIPES, GPTQ, Format, Recipe, recipes

UINT8_MIXED = "per-channel-normalised uint8 1x1 kernels"
FORMAT = Format(
    name="tfjs", title="tfjs", runner="posenet_port.formats.tfjs.runner", exporter="posenet_port.formats.tfjs.export",
    lister="posenet_port.formats.tfjs.listing",
    recipes=recipes(
        Recipe(name="float32", variant="float32", weight_class="float32", description="float32 weights"),
        *FLOAT16_RECIPES,
        Recipe(name="uint16", variant="uint16", weight_class="2-byte", description="uint16 affine-quantized weights"),
        Recipe(name="uint8-mixed", variant="uint8-mixed", weight_class="1-byte",
               description=f"{UINT8_MIXED} (nearest), float16 depthwise kernels and conv0"),
        Recipe(name="uint8-mixed-gptq", variant="uint8-mixed", grid="uint8-mixed", weight_class="1-byte",
               description=f"{UINT8_MIXED} and float16 depthwise kernels and conv0, {GPTQ}"),
    ),
    file_name="{stem}_tfjs_{recipe}/model.json", in_process=False,
)
