"""TensorFlow runners: a frozen graph (`.pb`) or a SavedModel folder, pruned to PoseNet's data path."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import tensorflow as tf

from posenet_port.errors import ModelFileError
from posenet_port.formats.listing import read_model
from posenet_port.formats.roles import identify_roles
from posenet_port.formats.runner import Runner
from posenet_port.formats.tf.listing import saved_model_graph_def
from posenet_port.formats.tf.ops import data_path
from posenet_port.model.freeze import read_graph_def
from posenet_port.model.spec import INPUT_NAME, OUTPUT_NAMES, ModelSpec
from posenet_port.model.weights import PosenetWeights


class FrozenGraphRunner(Runner):
    """A frozen GraphDef pruned to its input and output tensors, run as a TF2 function.

    `outputs` maps the canonical names (heatmap_2, offset_2, ...) to this graph's nodes; `for_model` finds them
    with `nodes.identify_roles`, so graphs with any naming work.
    """

    def __init__(
        self,
        graph: str | Path | tf.compat.v1.GraphDef,
        input_name: str = INPUT_NAME,
        outputs: Mapping[str, str] | None = None,
    ) -> None:
        graph_def = graph if isinstance(graph, tf.compat.v1.GraphDef) else read_graph_def(graph)
        outputs = dict(outputs or {name: name for name in OUTPUT_NAMES})
        source = self.source = "graph" if isinstance(graph, tf.compat.v1.GraphDef) else graph
        # Only the checked data path is imported: nothing else in the file can run.
        graph_def = data_path(graph_def, input_name, outputs.values(), source)
        wrapped = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(graph_def, name=""), [])
        self.output_names = tuple(outputs)
        self._function = wrapped.prune(
            wrapped.graph.as_graph_element(f"{input_name}:0"),
            [wrapped.graph.as_graph_element(f"{node}:0") for node in outputs.values()],
        )

    @classmethod
    def for_model(cls, path: str | Path) -> FrozenGraphRunner:
        """A runner for any PoseNet frozen graph, its nodes found by their role rather than their names."""
        roles = identify_roles(read_model(path))
        if roles.displacements_ambiguous:
            raise ModelFileError(
                f"{path}: the two displacement outputs ({roles.displacement_fwd.node}, {roles.displacement_bwd.node}) "
                "have names that do not say which is forward; decoding would be a guess. Rename them "
                "(…fwd… / …bwd…) or export the model with posenet_port"
            )
        outputs = roles.output_nodes()
        source = saved_model_graph_def(Path(path))[0] if Path(path).is_dir() else path
        return cls(source, roles.image.node, outputs)

    def run(self, image: np.ndarray) -> dict[str, np.ndarray]:
        results = self._function(tf.convert_to_tensor(image, tf.float32))
        return {name: tensor.numpy() for name, tensor in zip(self.output_names, results)}


def open_runner(path: Path, threads: int = 2, spec: ModelSpec | None = None) -> FrozenGraphRunner:
    """A frozen graph or SavedModel folder: by the spec's names when posenet_port wrote it, else by role."""
    del threads  # TensorFlow sizes its own thread pools
    # A SavedModel's spec names its signature's outputs; inside the frozen function TF names the nodes itself,
    # so there they are found by role.
    if spec is None or Path(path).is_dir():
        return FrozenGraphRunner.for_model(path)
    return FrozenGraphRunner(path, spec.input_name, spec.outputs)


class ModelRunner(Runner):
    """The TF2 model built from weights (model/tf_graph.py), run in this process: the reference every export is
    checked against."""

    source = "the float model"

    def __init__(self, model) -> None:
        self.model = model
        self.milliseconds: list[float] = []

    def run(self, image: np.ndarray) -> dict[str, np.ndarray]:
        return self.model(image)


def weights_runner(weights: PosenetWeights, spec: ModelSpec, threads: int = 2) -> ModelRunner:
    """PoseNet on `weights` at `spec`'s output stride in TensorFlow (which sizes its own thread pools)."""
    del threads
    from posenet_port.model.tf_graph import build_model

    return ModelRunner(build_model(weights, spec.output_stride))
