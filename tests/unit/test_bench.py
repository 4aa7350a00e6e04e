"""The arithmetic the benchmark reports, checked against TensorFlow's own FLOP count of the frozen graph."""
import pytest
import tensorflow as tf

from posenet_port.model.architecture import multiply_adds
from posenet_port.model.freeze import frozen_graph_def


@pytest.mark.parametrize("size", [257, 353])
def test_multiply_adds_match_tensorflow_flop_count(model, shipped_weights, size):
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(frozen_graph_def(model, size, size), name="")
        options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        options["output"] = "none"
        profile = tf.compat.v1.profiler.profile(graph, options=options)
    conv_flops = sum(
        child.total_float_ops for child in profile.children
        if graph.get_operation_by_name(child.name).type in ("Conv2D", "DepthwiseConv2dNative")
    )
    assert conv_flops == 2 * multiply_adds(shipped_weights.widths, size, 16, shipped_weights.multiplier)
