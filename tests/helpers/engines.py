"""Float32 models run in their own runtimes on given inputs, as a script, so that another process (an emulated CPU)
runs them: the models were exported, and the inputs made, by the test's own process.

    python tests/helpers/engines.py runs.json outputs.npz

runs.json: {"inputs": "inputs.npz", "models": [{"path": "...", "spec": ModelSpec.to_dict(), "inputs":
["solvay1927_257", ...]}, ...]}. outputs.npz: each model's outputs on each of its inputs, keyed
"format/input/output".
"""
from __future__ import annotations

import json
import sys

import numpy as np

from posenet_port.formats.registry import FORMATS
from posenet_port.model.spec import ModelSpec


def run_models(runs: dict) -> dict[str, np.ndarray]:
    inputs = np.load(runs["inputs"])
    outputs = {}
    for model in runs["models"]:
        spec = ModelSpec.from_dict(model["spec"])
        # The test exported these models itself: no child probe, which would fork this process, TensorFlow's
        # threads and all, under qemu-user, where such a fork once hung for good (the child waiting on a futex).
        runner = FORMATS[spec.format].open(model["path"], 2, spec, trusted=True)
        for key in model["inputs"]:
            for name, values in runner(inputs[key]).items():
                outputs[f"{spec.format}/{key}/{name}"] = values
    return outputs


if __name__ == "__main__":
    with open(sys.argv[1]) as runs:
        np.savez(sys.argv[2], **run_models(json.load(runs)))
