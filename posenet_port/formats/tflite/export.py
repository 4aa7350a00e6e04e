"""TFLite models from a frozen PoseNet graph: float32, dynamic-range, float16, full int8 and full integer 16x8
(int16 activations, int8 weights; post-training), and full int8 from a graph that carries its own int8 scales
(`int8-simulated`: model/int8_simulation.py's fake quantization, e.g. after fine-tuning).

The graph's roles come from `nodes.identify_roles`, so any PoseNet frozen graph converts, whatever its names.
The models output the four raw heads (`heatmap_2` logits, `offset_2`, displacements); int8 calibration uses real
photos passed through the same `preprocess` as inference.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from posenet_port._util.fileio import write_bytes_atomic
from posenet_port.errors import ConfigError, ModelFileError, raised_by_interrupt
from posenet_port.formats.base import ExportSource, Recipe
from posenet_port.formats.listing import read_model
from posenet_port.formats.roles import identify_roles
from posenet_port.model.spec import ModelSpec

VARIANTS = ("float32", "dynamic-range", "float16", "int8", "int16x8", "int8-simulated")
CALIBRATED_VARIANTS = ("int8", "int16x8")  # their activation ranges come from the calibration photos


def export_tflite(
    frozen_pb: str | Path,
    path: str | Path,
    variant: str,
    input_size: int,
    calibration: Sequence[np.ndarray] = (),
    int8_io: bool = False,
    spec: ModelSpec | None = None,
) -> Path:
    """Convert `frozen_pb` at a fixed [1, input_size, input_size, 3] input; written atomically to `path`. Its
    nodes are the ones `spec` names, or (for a graph from elsewhere) found by their role."""
    import tensorflow as tf

    if variant not in VARIANTS:
        raise ConfigError(f"TFLite variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    if variant in CALIBRATED_VARIANTS and not calibration:
        raise ConfigError(f"{variant} TFLite needs calibration inputs (representative_inputs)")
    input_name, output_names = _node_names(frozen_pb, input_size, spec)
    if variant == "int8-simulated":
        converter = tf.lite.TFLiteConverter.from_concrete_functions([_pruned(frozen_pb, input_name, output_names, input_size)])
    else:
        converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
            str(frozen_pb), [input_name], output_names, input_shapes={input_name: [1, input_size, input_size, 3]},
        )
    _configure(converter, variant, calibration, int8_io)
    try:
        data = converter.convert()
    except Exception as error:  # noqa: BLE001 - the converter raises ConverterError, ValueError, RuntimeError ...
        if raised_by_interrupt(error):
            raise KeyboardInterrupt from None
        raise ModelFileError(f"{frozen_pb}: TFLite {variant} conversion failed: {str(error).strip()[:300]}") from None
    return write_bytes_atomic(path, data)


def export(source: ExportSource, recipe: Recipe, path: Path) -> Path:
    """The registry's entry point: `recipe` at the rebuild's input size (TFLite inputs are fixed)."""
    size = source.input_size
    calibration = source.calibration.batches(size) if recipe.calibrated else ()
    return export_tflite(source.frozen_graph, path, recipe.variant, size, calibration, source.int8_io, source.spec)


def _node_names(frozen_pb: str | Path, input_size: int, spec: ModelSpec | None) -> tuple[str, list[str]]:
    """The input and the four heads (the raw logits, not `heatmap`: TFLite users apply the sigmoid themselves)."""
    if spec is not None:
        return spec.input_name, spec.head_nodes()
    roles = identify_roles(read_model(frozen_pb, probe_size=input_size))
    return roles.image.node, roles.output_names()


def _pruned(frozen_pb: str | Path, input_name: str, output_names: Sequence[str], input_size: int):
    """The frozen graph as a TF2 concrete function at a fixed input size. TF 2.19's v1 converter turns the
    fake-quantization nodes of an "int8-simulated" graph into float convolutions between uint8 quantize and
    dequantize pairs; the v2 converter makes them int8 convolutions."""
    import tensorflow as tf

    from posenet_port.model.freeze import read_graph_def

    graph_def = read_graph_def(frozen_pb)
    for node in graph_def.node:
        if node.name == input_name:  # fix the placeholder's shape: TFLite wants a static input
            node.attr["shape"].shape.CopyFrom(tf.TensorShape([1, input_size, input_size, 3]).as_proto())
    wrapped = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(graph_def, name=""), [])
    return wrapped.prune(wrapped.graph.get_tensor_by_name(f"{input_name}:0"),
                         {name: wrapped.graph.get_tensor_by_name(f"{name}:0") for name in output_names})


def _configure(converter, variant: str, calibration: Sequence[np.ndarray], int8_io: bool) -> None:
    import tensorflow as tf

    if variant == "float32":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "int16x8":  # LiteRT's 16x8 mode; its inputs and outputs stay float32
        converter.representative_dataset = _dataset(calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    elif variant.startswith("int8"):
        if variant == "int8":
            converter.representative_dataset = _dataset(calibration)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # "int8-simulated" reads its scales from the graph's fake-quantization nodes (the test checks that every
        # convolution comes out int8).
        io_type = tf.int8 if int8_io else tf.float32
        converter.inference_input_type = io_type
        converter.inference_output_type = io_type


def _dataset(calibration: Iterable[np.ndarray]) -> Callable[[], Iterable[list[np.ndarray]]]:
    def generate():
        for batch in calibration:
            yield [batch.astype(np.float32)]

    return generate
