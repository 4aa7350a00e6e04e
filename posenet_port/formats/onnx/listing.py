"""ONNX models as node listings: checked as the runner checks them, then shapes inferred by ONNX with the
dynamic input dimensions at the probe size; channel axes followed through the Transposes (NCHW inside)."""
from __future__ import annotations

from pathlib import Path

from posenet_port.errors import ModelFileError, first_line
from posenet_port.formats.listing import ModelListing, Node, TensorInfo, channel_axis
from posenet_port.formats.onnx.runner import read_checked_model

TITLE = "ONNX"


def claims(path: Path, head: bytes) -> bool:
    return path.suffix == ".onnx"


def read(path: Path, probe_size: int) -> ModelListing:
    import onnx

    _, model = read_checked_model(path)
    initializers = {tensor.name for tensor in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in initializers]
    probed = None
    for value in inputs:
        for dim in value.type.tensor_type.shape.dim:
            if not dim.HasField("dim_value"):
                dim.dim_value, probed = probe_size, probe_size
    try:
        graph = onnx.shape_inference.infer_shapes(model).graph
    except (onnx.shape_inference.InferenceError, ValueError) as error:
        raise ModelFileError(f"{path}: ONNX cannot infer this model's shapes ({first_line(error)})") from None
    shapes = {value.name: _info(value) for value in (*graph.input, *graph.value_info, *graph.output)}
    nodes = [Node(i, value.name, "INPUT", (), (shapes[value.name],)) for i, value in enumerate(inputs)]
    axes = {node.name: node.channel_axis for node in nodes}
    for node in graph.node:
        infos = tuple(shapes.get(name, TensorInfo(None, "?")) for name in node.output)
        sources = tuple(name for name in node.input if name and name not in initializers)
        perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
        axes[node.output[0]] = channel_axis(sources, axes, perm)
        nodes.append(Node(len(nodes), node.output[0], node.op_type, sources, infos, axes[node.output[0]]))
    return ModelListing(path, TITLE, nodes, probed)


def _info(value) -> TensorInfo:
    from onnx import helper

    tensor = value.type.tensor_type
    shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim) \
        if tensor.HasField("shape") else None
    return TensorInfo(shape, helper.tensor_dtype_to_np_dtype(tensor.elem_type).name if tensor.elem_type else "?")
