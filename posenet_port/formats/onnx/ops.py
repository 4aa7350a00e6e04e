"""What an ONNX model may use: ops of ONNX's own domain from an allow-list, every tensor inside the file."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from posenet_port.errors import ModelFileError, first_line
from posenet_port.formats.safety import UnsafeModelError, refuse_unknown_ops

# Convolutions with their activation and layout changes, and QDQ quantization, as posenet_port and converters
# write PoseNet in ONNX, plus the plain arithmetic of the TF list.
ONNX_OPS = frozenset({
    "Conv", "Clip", "Relu", "Sigmoid", "Transpose", "Cast", "QuantizeLinear", "DequantizeLinear", "Identity",
    "Constant", "Add", "Sub", "Mul", "Div", "Max", "Min", "Pad", "Reshape", "Squeeze", "Unsqueeze", "Concat",
    "Split", "Slice", "Resize", "Shape", "Gather", "BatchNormalization",
})

# The ops of the allow-list that can make a tensor larger than their input: bounded before ONNX Runtime allocates.
# PoseNet pads by a few pixels ('SAME' convolutions) and never resizes by much.
MAX_PAD = 64
MAX_RESIZE_SCALE = 16.0
MAX_RESIZE_SIZE = 8192


def check_onnx_model(content: bytes, source: str | Path):
    """Refuse an ONNX model that uses other domains or ops than ONNX_OPS, or keeps tensors outside the file;
    returns the parsed ModelProto."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load_from_string(content)
    except (DecodeError, RuntimeWarning, ValueError) as error:
        raise ModelFileError(f"{source}: not an ONNX model ({first_line(error)})") from None
    graph = model.graph
    names = [text for node in graph.node for text in (node.name, node.op_type, node.domain, *node.input, *node.output)]
    names += [value.name for value in (*graph.initializer, *graph.input, *graph.output, *graph.value_info)]
    if not all(isinstance(name, str) for name in names):  # protobuf hands invalid UTF-8 back as bytes
        raise ModelFileError(f"{source}: node or tensor names that are not UTF-8 text: not an ONNX model this tool reads")
    if model.functions or any(node.domain not in ("", "ai.onnx") for node in model.graph.node):
        raise UnsafeModelError(f"{source}: ops from another domain than ONNX's own (custom ops or functions): refused")
    external = [t.name or "(unnamed)" for t in _tensors(model.graph)
                if t.data_location == onnx.TensorProto.EXTERNAL or t.external_data]
    if external:
        raise UnsafeModelError(f"{source}: tensor(s) {', '.join(external[:3])} point to data outside the file: refused; "
                               "save the model with its weights inside it")
    refuse_unknown_ops(((node.op_type, node.name) for node in model.graph.node), ONNX_OPS, source)
    _check_growth(model.graph, source)
    return model


def _tensors(graph) -> Iterator:
    """Every TensorProto a graph holds, wherever ONNX lets one stand: initializers, sparse initializers, and the
    attributes of every node (a `Constant`'s value, any tensor or sparse tensor attribute), subgraphs included.
    Each of them could name an external file."""
    for tensor in graph.initializer:
        yield tensor
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    for node in graph.node:
        for attribute in node.attribute:
            yield from _attribute_tensors(attribute)


def _attribute_tensors(attribute) -> Iterator:
    if attribute.HasField("t"):
        yield attribute.t
    yield from attribute.tensors
    for sparse in (*([attribute.sparse_tensor] if attribute.HasField("sparse_tensor") else []), *attribute.sparse_tensors):
        yield from (sparse.values, sparse.indices)
    for subgraph in (*([attribute.g] if attribute.HasField("g") else []), *attribute.graphs):
        yield from _tensors(subgraph)


def _check_growth(graph, source: str | Path) -> None:
    """Pads and Resize scales or sizes must be constants within PoseNet's bounds: a crafted `Pad` of 50,000 makes
    ONNX Runtime allocate tens of gigabytes."""
    constants = _constants(graph)
    for node in graph.node:
        if node.op_type == "Pad":
            pads = _bound_input(node, 1, constants, source) if len(node.input) > 1 else _attribute_ints(node, "pads")
            _within(node, "pads", pads, MAX_PAD, source)
        elif node.op_type == "Resize":
            for index, (what, limit) in ((2, ("scales", MAX_RESIZE_SCALE)), (3, ("sizes", MAX_RESIZE_SIZE))):
                if len(node.input) > index and node.input[index]:
                    _within(node, what, _bound_input(node, index, constants, source), limit, source)


def _constants(graph) -> dict:
    """Tensors known before the model runs, by name: initializers and `Constant` outputs."""
    from onnx import numpy_helper

    found = {tensor.name: tensor for tensor in graph.initializer}
    found.update({node.output[0]: attribute.t for node in graph.node if node.op_type == "Constant" and node.output
                  for attribute in node.attribute if attribute.name == "value"})
    return {name: numpy_helper.to_array(tensor) for name, tensor in found.items()}


def _bound_input(node, index: int, constants: dict, source: str | Path):
    name = node.input[index]
    if name not in constants:
        raise UnsafeModelError(f"{source}: {node.op_type} {node.name!r} takes its {name!r} from the running graph; "
                               "PoseNet's are constants: refused")
    return constants[name]


def _attribute_ints(node, name: str) -> list[int]:
    return next((list(attribute.ints) for attribute in node.attribute if attribute.name == name), [])


def _within(node, what: str, values, limit: float, source: str | Path) -> None:
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    if values.size and not (np.all(np.isfinite(values)) and np.abs(values).max() <= limit):
        raise UnsafeModelError(f"{source}: {node.op_type} {node.name!r} has {what} up to {np.abs(values).max():g} "
                               f"(PoseNet needs at most {limit:g}): refused before ONNX Runtime allocates for it")

