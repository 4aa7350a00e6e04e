"""A format only the tests know, in a folder of its own as every format is: the network's weights and spec in one
.npz file (export.py), run by the independent NumPy float64 forward pass (runner.py), listed as convolutions
(listing.py). Registering `FORMAT` is the one line it takes to reach rebuild, the checks, the estimator, the
demo's choice, the benchmark and list_nodes."""
from posenet_port.formats.base import Format, Recipe

ALLOWED_OPS = frozenset({"Placeholder", "Conv2D", "DepthwiseConv2dNative"})
FORMAT = Format(
    name="toy-npz", title="toy .npz", runner="helpers.toy_npz.runner", exporter="helpers.toy_npz.export", lister="helpers.toy_npz.listing",
    recipes={"float32": Recipe(name="float32", variant="float64", weight_class="float32",
                               description="weights in a .npz, run in NumPy float64")},
    allowed_ops=ALLOWED_OPS, file_name="{stem}_{recipe}.toy.npz", suffixes=(".npz",),
)
