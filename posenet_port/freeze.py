"""Frozen GraphDef (`.pb`) and SavedModel from a PosenetModel, written atomically."""
from __future__ import annotations

from pathlib import Path

import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from .errors import OutputError, first_line
from .fileio import atomic_path, write_bytes_atomic
from .graph import PosenetModel

SERVING_SIGNATURE = "serving_default"


def frozen_graph_def(model: PosenetModel, height: int | None = None, width: int | None = None) -> tf.compat.v1.GraphDef:
    """A self-contained GraphDef: placeholder `image`, outputs named `heatmap`, `heatmap_2`, `offset_2`, ..."""
    frozen = convert_variables_to_constants_v2(model.concrete_function(height, width))
    return frozen.graph.as_graph_def()


def write_frozen_graph(model: PosenetModel, path: str | Path, height: int | None = None, width: int | None = None) -> Path:
    return write_bytes_atomic(path, frozen_graph_def(model, height, width).SerializeToString())


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
