"""TFLite: exported by TensorFlow's converter at one input size, run by LiteRT."""
from posenet_port.formats.base import (
    FLOAT16_RECIPES,
    FLOAT32,
    GPTQ,
    INT8_RECIPES,
    INT16X8_GPTQ,
    Format,
    Recipe,
    recipes,
)
from posenet_port.formats.tflite.ops import TFLITE_OPS

DYNAMIC_RANGE_RECIPES = (
    Recipe(name="dynamic-range", variant="dynamic-range", weight_class="1-byte",
           description="int8 weights (nearest), float activations"),
    Recipe(name="dynamic-range-gptq", variant="dynamic-range", grid="int8", weight_class="1-byte",
           description=f"int8 weights {GPTQ}, float activations"),
)
FORMAT = Format(
    name="tflite", title="TFLite", runner="posenet_port.formats.tflite.runner",
    exporter="posenet_port.formats.tflite.export", lister="posenet_port.formats.tflite.listing",
    recipes=recipes(FLOAT32, *FLOAT16_RECIPES, *DYNAMIC_RANGE_RECIPES, *INT8_RECIPES, INT16X8_GPTQ),
    allowed_ops=TFLITE_OPS,
    file_name="{stem}_{size}_{recipe}.tflite", suffixes=(".tflite",), fixed_input=True, probe=True,
)
