"""The TFLite interpreter (ai-edge-litert: XNNPACK for quantized models, numpy 2; else tflite-runtime; else TF's) and
a PoseNet runner on it. Importing this module does not import TensorFlow."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from posenet_port._util.fileio import read_bounded
from posenet_port.errors import ModelFileError
from posenet_port.formats.runner import Runner, check_outputs
from posenet_port.formats.tflite.verify import verify_tflite
from posenet_port.model.spec import ModelSpec, canonical_output_name


def interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            import tensorflow as tf

            Interpreter = tf.lite.Interpreter
    return Interpreter


class LiteRTRunner(Runner):
    """A .tflite PoseNet in the LiteRT interpreter; int8 inputs and outputs are (de)quantized here."""

    def __init__(self, path: str | Path, threads: int = 2) -> None:
        self.path = self.source = Path(path)
        if not self.path.is_file():
            raise ModelFileError(f"{path}: no such TFLite file")
        # Read by Python (any file name), handed over as bytes; its structure and ops are checked before an
        # interpreter sees it. The interpreter's own errors reach the user through Format.open.
        content = self._content = read_bounded(self.path, ModelFileError, "TFLite model")  # kept: the interpreter reads it
        verify_tflite(content, self.path)
        self.interpreter = interpreter_class()(model_content=content, num_threads=threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.outputs = {canonical_output_name(d["name"]): d for d in self.interpreter.get_output_details()}
        self.outputs.pop(None, None)
        check_outputs(self.outputs, path)
        self.input_size = int(self.input["shape"][1])

    def run(self, image: np.ndarray) -> dict[str, np.ndarray]:
        self.interpreter.set_tensor(self.input["index"], _quantize(np.asarray(image, np.float32), self.input))
        self.interpreter.invoke()
        return {name: _dequantize(self.interpreter.get_tensor(d["index"]), d) for name, d in self.outputs.items()}


def open_runner(path: Path, threads: int = 2, spec: ModelSpec | None = None) -> LiteRTRunner:
    del spec  # a .tflite states its input size, and its output names say their roles
    return LiteRTRunner(path, threads)


def _quantize(values: np.ndarray, detail: dict) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return values
    scale, zero_point = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(detail["dtype"])


def _dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return values.copy()
    scale, zero_point = detail["quantization"]
    return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)
