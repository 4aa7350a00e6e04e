"""Run PoseNet artifacts: frozen TF graphs in Python, tfjs graph models in real TensorFlow.js (node).

Every runner maps a preprocessed [1, H, W, 3] float32 batch to a dict of raw outputs keyed by the canonical
names (`heatmap_2`, `offset_2`, `displacement_fwd_2`, `displacement_bwd_2`, and `heatmap` where the model has it).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from .errors import ModelFileError
from .graph import INPUT_NAME, OUTPUT_NAMES
from .nodejs import run_node_script, write_float32
from .nodes import canonical_output_name, identify_roles, read_graph_def, read_model
from .untrusted import data_path


class FrozenGraphRunner:
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
        source = "graph" if isinstance(graph, tf.compat.v1.GraphDef) else graph
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
        outputs = {
            "heatmap_2": roles.heatmap.node,
            "offset_2": roles.offsets.node,
            "displacement_fwd_2": roles.displacement_fwd.node,
            "displacement_bwd_2": roles.displacement_bwd.node,
        }
        if roles.heatmap_sigmoid:
            outputs["heatmap"] = roles.heatmap_sigmoid
        return cls(path, roles.image.node, outputs)

    def __call__(self, image: np.ndarray) -> dict[str, np.ndarray]:
        results = self._function(tf.convert_to_tensor(image, tf.float32))
        return {name: tensor.numpy() for name, tensor in zip(self.output_names, results)}


class TfjsNodeRunner:
    """A tfjs graph model run by @tensorflow/tfjs in a node subprocess (cpu backend is bit-exact, wasm is fast)."""

    def __init__(
        self, model_json: str | Path, backend: str = "cpu", dynamic_input: bool = True, timeout: float = 600
    ) -> None:
        self.model_json = Path(model_json).resolve()
        if not self.model_json.is_file():
            raise ModelFileError(f"{model_json}: no such tfjs model.json")
        if backend not in ("cpu", "wasm"):
            raise ValueError(f"backend {backend!r}: choose cpu or wasm")
        self.backend = backend
        self.dynamic_input = dynamic_input
        self.timeout = timeout
        self.milliseconds: list[float] = []
        self.max_rss_bytes = 0

    def __call__(self, image: np.ndarray) -> dict[str, np.ndarray]:
        return self.run_many([image])[0]

    def run_many(self, images: Sequence[np.ndarray]) -> list[dict[str, np.ndarray]]:
        """Run several inputs in one node process (tfjs start-up costs about a second)."""
        with tempfile.TemporaryDirectory(prefix="posenet-tfjs-") as work:
            inputs = [write_float32(Path(work) / f"input_{i}.bin", image) for i, image in enumerate(images)]
            request = {
                "model": str(self.model_json),
                "backend": self.backend,
                "dynamicInput": self.dynamic_input,
                "outDir": work,
                "inputs": inputs,
            }
            label = f"{self.model_json} ({self.backend} backend)"
            result = run_node_script("run_graph_model.js", request, Path(work) / "result.json", self.timeout, label)
            self.milliseconds = result["milliseconds"]
            self.max_rss_bytes = int(result.get("maxRssKb", 0)) * 1024
            return [self._read_outputs(record) for record in result["outputs"]]

    @staticmethod
    def _read_outputs(record: dict) -> dict[str, np.ndarray]:
        outputs = {}
        for name, tensor in record.items():
            canonical = canonical_output_name(name)
            if canonical is not None:
                outputs[canonical] = np.fromfile(tensor["path"], dtype="<f4").reshape(tensor["shape"])
        return outputs
