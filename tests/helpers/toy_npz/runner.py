"""A toy format's runner, for the registry test: the independent NumPy float64 forward pass on a .npz's weights."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from helpers.reference_forward import forward
from posenet_port.formats.runner import Runner
from posenet_port.model.architecture import layer_specs
from posenet_port.model.spec import ModelSpec


def read_npz(path: Path) -> tuple[dict[str, np.ndarray], ModelSpec]:
    """The weights by their checkpoint names, and the spec stored beside them."""
    with np.load(path, allow_pickle=False) as archive:
        variables = {name: archive[name] for name in archive.files if name != "spec"}
        return variables, ModelSpec.from_dict(json.loads(archive["spec"].tobytes()), path)


class NpzRunner(Runner):
    def __init__(self, path: Path, spec: ModelSpec | None) -> None:
        self.source = path
        self.variables, stored = read_npz(path)
        self.spec = spec or stored
        self.layers = [(layer.stride, layer.dilation) for layer in layer_specs(self.spec.multiplier, self.spec.output_stride)]
        self.milliseconds = []

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        return {name: values.astype(np.float32) for name, values in forward(batch, self.variables, self.layers).items()}


def open_runner(path: Path, threads: int = 2, spec: ModelSpec | None = None) -> NpzRunner:
    return NpzRunner(path, spec)
