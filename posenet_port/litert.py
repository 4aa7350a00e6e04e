"""The TFLite interpreter (ai-edge-litert: XNNPACK for quantized models, numpy 2; else tflite-runtime; else TF's) and
a PoseNet runner on it. Importing this module does not import TensorFlow."""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelFileError
from .nodes import canonical_output_name
from .untrusted import check_tflite_ops


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


def op_resolver_without_delegates() -> Any:
    """The resolver that keeps every op visible (XNNPACK would fold them into one DELEGATE op)."""
    module = __import__(interpreter_class().__module__, fromlist=["OpResolverType"])
    return module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES


class LiteRTRunner:
    """A .tflite PoseNet in the LiteRT interpreter; int8 inputs and outputs are (de)quantized here."""

    def __init__(self, path: str | Path, threads: int = 2) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelFileError(f"{path}: no such TFLite file")
        try:
            # Read by Python (any file name), handed over as bytes; its ops are listed without delegates (XNNPACK
            # would hide them in one DELEGATE op) and checked before the interpreter that runs it is made.
            content = self._content = self.path.read_bytes()  # kept: the interpreter reads from this buffer
            listing = interpreter_class()(model_content=content, experimental_op_resolver_type=op_resolver_without_delegates())
            check_tflite_ops((op["op_name"] for op in listing._get_ops_details()), self.path)  # noqa: SLF001
            self.interpreter = interpreter_class()(model_content=content, num_threads=threads)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise ModelFileError(f"{path}: not a loadable TFLite model ({str(error).strip()[:200]})") from None
        self.input = self.interpreter.get_input_details()[0]
        self.outputs = {canonical_output_name(d["name"]): d for d in self.interpreter.get_output_details()}
        self.outputs.pop(None, None)
        missing = {"heatmap_2", "offset_2", "displacement_fwd_2", "displacement_bwd_2"} - set(self.outputs)
        if missing:
            raise ModelFileError(f"{path}: TFLite outputs lack {', '.join(sorted(missing))}")
        self.input_size = int(self.input["shape"][1])

    def __call__(self, image: np.ndarray) -> dict[str, np.ndarray]:
        self.interpreter.set_tensor(self.input["index"], _quantize(np.asarray(image, np.float32), self.input))
        self.interpreter.invoke()
        return {name: _dequantize(self.interpreter.get_tensor(d["index"]), d) for name, d in self.outputs.items()}


def median_network_ms(path: Path, threads: int, runs: int, interval_s: float = 0.0, warmup: int = 5) -> float:
    """Median milliseconds of one call of a .tflite model on a random input of its size: back to back, or one
    call every `interval_s` seconds (a camera's pace)."""
    runner = LiteRTRunner(path, threads)
    batch = np.random.default_rng(0).uniform(-1, 1, (1, runner.input_size, runner.input_size, 3)).astype(np.float32)
    for _ in range(warmup):
        runner(batch)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        runner(batch)
        samples.append((time.perf_counter() - start) * 1000)
        if interval_s:
            time.sleep(max(interval_s - samples[-1] / 1000, 0))
    return statistics.median(samples)


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
