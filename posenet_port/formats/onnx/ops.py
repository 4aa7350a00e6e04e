"""What an ONNX model may use: ops of ONNX's own domain from an allow-list, every tensor inside the file."""
from __future__ import annotations

from pathlib import Path

from posenet_port.errors import ModelFileError, first_line
from posenet_port.formats.safety import UnsafeModelError, refuse_unknown_ops

# Convolutions with their activation and layout changes, and QDQ quantization, as posenet_port and converters
# write PoseNet in ONNX, plus the plain arithmetic of the TF list.
ONNX_OPS = frozenset({
    "Conv", "Clip", "Relu", "Sigmoid", "Transpose", "Cast", "QuantizeLinear", "DequantizeLinear", "Identity",
    "Constant", "Add", "Sub", "Mul", "Div", "Max", "Min", "Pad", "Reshape", "Squeeze", "Unsqueeze", "Concat",
    "Split", "Slice", "Resize", "Shape", "Gather", "BatchNormalization",
})


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
    external = [t.name for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        raise UnsafeModelError(f"{source}: tensor(s) {', '.join(external[:3])} point to data outside the file: refused; "
                               "save the model with its weights inside it")
    refuse_unknown_ops(((node.op_type, node.name) for node in model.graph.node), ONNX_OPS, source)
    return model
