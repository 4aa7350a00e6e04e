"""Frozen GraphDef (`.pb`) and SavedModel from a PosenetModel, written atomically; a frozen graph read back."""
from __future__ import annotations

from pathlib import Path

import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from posenet_port._util.fileio import atomic_path, read_bounded, write_bytes_atomic
from posenet_port.errors import ModelFileError, OutputError, first_line
from posenet_port.model.tf_graph import PosenetModel
from posenet_port.model.weights import PosenetWeights

SERVING_SIGNATURE = "serving_default"


def frozen_graph_def(model: PosenetModel, height: int | None = None, width: int | None = None) -> tf.compat.v1.GraphDef:
    """A self-contained GraphDef: placeholder `image`, outputs named `heatmap`, `heatmap_2`, `offset_2`, ..."""
    frozen = convert_variables_to_constants_v2(model.concrete_function(height, width))
    return frozen.graph.as_graph_def()


def write_frozen_graph(model: PosenetModel, path: str | Path, height: int | None = None, width: int | None = None) -> Path:
    # Deterministic: protobuf writes map fields (node attributes) in any order otherwise, so the same graph got
    # another checksum on every run.
    return write_bytes_atomic(path, frozen_graph_def(model, height, width).SerializeToString(deterministic=True))


def write_saved_model(model: PosenetModel, directory: str | Path) -> Path:
    """SavedModel with a `serving_default` signature on a [1, -1, -1, 3] `image` input."""
    # An empty holder: saving the model's own tf.function beside the signature would store the 5 MB of
    # constant weights twice.
    with atomic_path(directory, directory=True) as temp:
        try:
            tf.saved_model.save(tf.Module(), str(temp), signatures={SERVING_SIGNATURE: model.concrete_function()})
        except tf.errors.OpError as error:  # TensorFlow's own file IO: a full disk is ResourceExhaustedError
            raise OutputError(f"{directory}: TensorFlow could not write the SavedModel ({first_line(error)})") from None
    return Path(directory)


def read_frozen_weights(path: str | Path) -> PosenetWeights:
    """The weights of a frozen graph this project wrote (its constants carry the checkpoint names), e.g. to
    export one of rebuild's rounded graphs again at another size."""
    constants = {node.name: tf.make_ndarray(node.attr["value"].tensor)
                 for node in read_graph_def(path).node if node.op == "Const"}
    return PosenetWeights.from_variables(constants, source=str(path), format="frozen graph")


def read_graph_def(path: str | Path) -> tf.compat.v1.GraphDef:
    """A frozen GraphDef from a .pb file, or a ModelFileError saying why not."""
    from google.protobuf.message import DecodeError

    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory, expected a frozen graph .pb file")
    data = read_bounded(path, ModelFileError, "frozen graph")
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except (DecodeError, RuntimeWarning, ValueError) as error:
        raise ModelFileError(f"{path}: not a TensorFlow GraphDef ({error})") from None
    if not data or not graph_def.node:
        raise ModelFileError(f"{path}: not a TensorFlow GraphDef (no nodes)")
    return graph_def
