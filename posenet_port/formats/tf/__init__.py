"""TensorFlow's own formats: the frozen graph (`.pb`) and the SavedModel folder that rebuild writes first
(model/freeze.py), read and run by TensorFlow, cut to PoseNet's data path."""
from posenet_port.formats.base import Format
from posenet_port.formats.tf.ops import TF_GRAPH_OPS

FROZEN_GRAPH = Format(name="frozen-graph", title="frozen graph", runner="posenet_port.formats.tf.runner",
                      lister="posenet_port.formats.tf.listing", allowed_ops=TF_GRAPH_OPS, suffixes=(".pb",),
                      lists_unclaimed_files=True, probe=True)
SAVED_MODEL = Format(name="savedmodel", title="SavedModel", runner="posenet_port.formats.tf.runner",
                     lister="posenet_port.formats.tf.saved_model_listing", allowed_ops=TF_GRAPH_OPS,
                     folder_marker="saved_model.pb", probe=True)
FORMATS = (FROZEN_GRAPH, SAVED_MODEL)
