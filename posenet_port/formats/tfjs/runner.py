"""tfjs graph models run by real TensorFlow.js (@tensorflow/tfjs 4.22) in a node subprocess."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from posenet_port._util.nodejs import run_node_script, write_float32
from posenet_port.errors import ModelFileError
from posenet_port.formats.runner import Runner
from posenet_port.model.spec import ModelSpec, canonical_output_name


class TfjsNodeRunner(Runner):
    """A tfjs graph model run by @tensorflow/tfjs in a node subprocess (cpu backend is bit-exact, wasm is fast)."""

    def __init__(
        self, model_json: str | Path, backend: str = "cpu", dynamic_input: bool = True, timeout: float = 600
    ) -> None:
        self.model_json = self.source = Path(model_json).resolve()
        if not self.model_json.is_file():
            raise ModelFileError(f"{model_json}: no such tfjs model.json")
        if backend not in ("cpu", "wasm"):
            raise ValueError(f"backend {backend!r}: choose cpu or wasm")
        self.backend = backend
        self.dynamic_input = dynamic_input
        self.timeout = timeout
        self.milliseconds: list[float] = []
        self.max_rss_bytes = 0

    def run(self, image: np.ndarray) -> dict[str, np.ndarray]:
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


def open_runner(path: Path, threads: int = 2, spec: ModelSpec | None = None) -> TfjsNodeRunner:
    """The wasm backend (XNNPACK, like a browser's fast path); the tests use the bit-exact cpu backend."""
    del threads, spec  # node sizes its own pool; tfjs reads the names from model.json's signature
    return TfjsNodeRunner(path, backend="wasm", dynamic_input=False)
