"""ONNX models in ONNX Runtime (CPU). The file is checked before a session is made: ops of the standard domain
from an allow-list only, no external data (a tensor could name any file), no custom-op domains."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from posenet_port._util.fileio import read_bounded
from posenet_port.errors import ModelFileError
from posenet_port.formats.onnx.ops import check_onnx_model
from posenet_port.formats.runner import Runner, check_outputs, output_role
from posenet_port.model.spec import ModelSpec
from posenet_port.model.weights import PosenetWeights


class OnnxRunner(Runner):
    """An ONNX model in ONNX Runtime's CPU provider; `source` names it in errors."""

    def __init__(self, content: bytes, source: str | Path, threads: int = 2, spec: ModelSpec | None = None) -> None:
        import onnxruntime as ort

        self.source = source
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: ORT's warnings about unused initializers are not ours
        # ORT raises its own exception types for every kind of bad file: Format.open turns them into ours.
        self.session = ort.InferenceSession(content, options, providers=["CPUExecutionProvider"])
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ModelFileError(f"{source}: PoseNet takes one [1, H, W, 3] image; this model's inputs differ")
        self.input_name = inputs[0].name
        self.outputs = {o.name: output_role([o.name], spec) for o in self.session.get_outputs()}
        check_outputs(self.outputs.values(), source)
        height = inputs[0].shape[1]
        self.input_size = height if isinstance(height, int) else None

    def run(self, image: np.ndarray) -> dict[str, np.ndarray]:
        names = [name for name, canonical in self.outputs.items() if canonical]
        results = self.session.run(names, {self.input_name: np.asarray(image, np.float32)})
        return {self.outputs[name]: result for name, result in zip(names, results)}


def read_checked_model(path: Path):
    """The model file's bytes and its parsed ModelProto, once `check_onnx_model` found only PoseNet arithmetic."""
    content = read_bounded(path, ModelFileError, "ONNX model")
    return content, check_onnx_model(content, path)


def open_runner(path: Path, threads: int = 2, spec: ModelSpec | None = None) -> OnnxRunner:
    content, _ = read_checked_model(Path(path))
    return OnnxRunner(content, path, threads, spec)


def weights_runner(weights: PosenetWeights, spec: ModelSpec, threads: int = 2) -> OnnxRunner:
    """PoseNet on `weights` (at `spec`'s output stride) in ONNX Runtime, its float32 model written in memory by our
    ONNX writer: no TensorFlow import, so a process running it stays small (250 MB with 12 MP photos; importing
    TensorFlow alone takes 700 MB)."""
    from posenet_port.formats.onnx.export import posenet_onnx

    model = posenet_onnx(weights, spec.output_stride)
    return OnnxRunner(model.SerializeToString(), weights.source, threads, spec)
