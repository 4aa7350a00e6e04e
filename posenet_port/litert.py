"""The TFLite interpreter: ai-edge-litert (XNNPACK for quantized models, numpy 2), else tflite-runtime, else TF's."""
from __future__ import annotations

from typing import Any


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
