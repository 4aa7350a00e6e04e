"""Frozen graphs (`.pb`) and SavedModel folders as node listings: TensorFlow imports the graph with every
dynamic image input fixed to the probe size, so its shape inference gives each node a concrete output shape."""
from __future__ import annotations

from pathlib import Path

from posenet_port.errors import ModelFileError, first_line
from posenet_port.formats.listing import ModelListing, Node, TensorInfo
from posenet_port.formats.tf.ops import load_saved_model

FROZEN_GRAPH = "frozen graph"
SAVED_MODEL = "SavedModel"
SAVED_MODEL_FILE = "saved_model.pb"


def is_saved_model(path: Path) -> bool:
    return (path.is_dir() and (path / SAVED_MODEL_FILE).is_file()) or path.name == SAVED_MODEL_FILE


def claims(path: Path, head: bytes) -> bool:
    """A frozen graph has no magic number: `.pb` files are claimed, and any file no other format claims."""
    return path.suffix == ".pb" and not is_saved_model(path)


def read(path: Path, probe_size: int) -> ModelListing:
    from posenet_port.model.freeze import read_graph_def  # TensorFlow loads only for TensorFlow's formats

    return listing_from_graph_def(path, FROZEN_GRAPH, read_graph_def(path), probe_size)


def listing_from_graph_def(path: Path, kind: str, graph_def, probe_size: int) -> ModelListing:
    import tensorflow as tf

    input_map, probed = {}, None
    graph = tf.Graph()
    with graph.as_default():
        for node in graph_def.node:
            if node.op == "Placeholder" and node.attr["dtype"].type == tf.float32.as_datatype_enum:
                dims = [d.size for d in node.attr["shape"].shape.dim]
                if len(dims) == 4 and dims[3] == 3 and (dims[1] < 0 or dims[2] < 0):
                    input_map[f"{node.name}:0"] = tf.compat.v1.placeholder(tf.float32, [1, probe_size, probe_size, 3])
                    probed = probe_size
        try:
            tf.graph_util.import_graph_def(graph_def, input_map=input_map, name="")
        except (ValueError, TypeError, tf.errors.OpError) as error:
            raise ModelFileError(f"{path}: TensorFlow cannot import this graph ({first_line(error)})") from None
    by_name = {op.name: op for op in graph.get_operations()}
    nodes = []
    for index, node_def in enumerate(graph_def.node):
        op = by_name.get(node_def.name)
        outputs = tuple(TensorInfo(_tf_shape(t.shape), t.dtype.name) for t in op.outputs) if op is not None else ()
        inputs = tuple(i.split(":")[0] for i in node_def.input if not i.startswith("^"))
        nodes.append(Node(index, node_def.name, node_def.op, inputs, outputs))
    if not nodes:
        raise ModelFileError(f"{path}: the graph has no nodes")
    return ModelListing(path, kind, nodes, probed)


def _tf_shape(shape) -> tuple[int | None, ...] | None:
    return None if shape.rank is None else tuple(shape.as_list())


def converters(listing: ModelListing, outputs: list[str], image: str, size: int) -> dict[str, str]:
    quoted = ", ".join(f"'{name}'" for name in outputs)
    return {
        "tflite": (
            f"tf.compat.v1.lite.TFLiteConverter.from_frozen_graph('{listing.path}', input_arrays=['{image}'], "
            f"output_arrays=[{quoted}], input_shapes={{'{image}': [1, {size}, {size}, 3]}}).convert()"
        ),
        "tensorflowjs": (
            f"tensorflowjs_converter --input_format=tf_frozen_model --output_node_names='{','.join(outputs)}' "
            f"{listing.path} OUTPUT_DIR"
        ),
    }


def saved_model_graph_def(directory: Path):
    """A SavedModel's serving signature (or its first) as a frozen GraphDef, its ops checked before loading;
    returns the GraphDef and the signature's name."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from posenet_port.model.freeze import SERVING_SIGNATURE

    signatures = dict(load_saved_model(directory).signatures)
    if not signatures:
        raise ModelFileError(f"{directory}: SavedModel has no signatures to inspect")
    name = SERVING_SIGNATURE if SERVING_SIGNATURE in signatures else sorted(signatures)[0]
    return convert_variables_to_constants_v2(signatures[name]).graph.as_graph_def(), name
