"""What a model file from elsewhere may make us run: the arithmetic of PoseNet's data path, nothing else.

A frozen graph or a SavedModel is a program. TensorFlow runs every op the requested outputs depend on, control
dependencies included, and it has ops that read and write files, run Python or call functions. So before a
foreign graph runs it is cut to the nodes the four heads need, and each of them must be tensor arithmetic from
TF_GRAPH_OPS; a control input, a function call or any other op is refused with the op and node named. A
SavedModel is checked whole before TensorFlow loads it (loading runs its initializers). A TFLite model may only
use the builtin kernels in TFLITE_OPS (custom and Flex ops could reach TensorFlow's kernels). An ONNX model may
only use ONNX_OPS of the standard domain, with every tensor inside the file (external data could name any file);
an OpenVINO IR only OPENVINO_OPS (no extension library is ever loaded).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from .errors import ModelFileError, first_line

# PoseNet graphs as TF1 tools, Google's 2.x exports and posenet_port write them, and the plain arithmetic such
# graphs are made of (unfolded batch norm, input scaling, padding, resizing). None touches anything but tensors.
TF_GRAPH_OPS = frozenset({
    "Placeholder", "PlaceholderWithDefault", "Const", "Identity",
    "Conv2D", "DepthwiseConv2dNative", "_FusedConv2D", "BiasAdd", "FusedBatchNorm", "FusedBatchNormV3",
    "Relu", "Relu6", "Sigmoid", "Tanh",
    "Add", "AddV2", "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "Neg", "Rsqrt", "Sqrt", "Square",
    "Pad", "PadV2", "Reshape", "Squeeze", "ExpandDims", "ConcatV2", "Split", "Slice", "StridedSlice",
    "ResizeBilinear", "Cast",
    # Atrous (dilated) depthwise convolution, as TensorFlow writes it for output stride 8: shape arithmetic.
    "SpaceToBatchND", "BatchToSpaceND", "Shape", "Pack", "FloorMod", "FloorDiv",
})
# A SavedModel also holds its variables, the calls between its functions, and its checkpoint ops.
_SAVED_MODEL_CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall", "NoOp",
                                   "VarHandleOp", "ReadVariableOp"})
# Only the functions that the SavedModel's saver_def names may hold these (they read or write checkpoint files).
_CHECKPOINT_OPS = frozenset({"SaveV2", "RestoreV2", "MergeV2Checkpoints", "ShardedFilename", "StringJoin",
                             "StaticRegexFullMatch", "Select", "Pack", "AssignVariableOp", "IdentityN"})
TFLITE_OPS = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "LOGISTIC", "QUANTIZE", "DEQUANTIZE", "ADD", "SUB", "MUL", "DIV",
    "MAXIMUM", "MINIMUM", "RELU", "RELU6", "PAD", "PADV2", "RESHAPE", "SQUEEZE", "EXPAND_DIMS",
    "CONCATENATION", "SPLIT", "SLICE", "STRIDED_SLICE", "RESIZE_BILINEAR", "CAST",
})

# Convolutions with their activation and layout changes, and QDQ quantization, as posenet_port and converters
# write PoseNet in ONNX, plus the plain arithmetic of the TF list.
ONNX_OPS = frozenset({
    "Conv", "Clip", "Relu", "Sigmoid", "Transpose", "Cast", "QuantizeLinear", "DequantizeLinear", "Identity",
    "Constant", "Add", "Sub", "Mul", "Div", "Max", "Min", "Pad", "Reshape", "Squeeze", "Unsqueeze", "Concat",
    "Split", "Slice", "Resize", "Shape", "Gather", "BatchNormalization",
})
OPENVINO_OPS = frozenset({
    "Parameter", "Result", "Constant", "Convolution", "GroupConvolution", "Add", "Subtract", "Multiply", "Divide",
    "Maximum", "Minimum", "Clamp", "Relu", "Sigmoid", "Transpose", "Convert", "FakeQuantize", "Reshape", "Pad",
    "Squeeze", "Unsqueeze", "Concat", "Split", "StridedSlice", "Interpolate", "ShapeOf", "Gather",
})


class UnsafeModelError(ModelFileError):
    """A model that would make TensorFlow or LiteRT do more than compute PoseNet's outputs."""


def data_path(graph_def, input_name: str, output_names: Iterable[str], source: str | Path):
    """The GraphDef cut to the nodes `output_names` need (no function library), every one of them checked."""
    import tensorflow as tf

    by_name = {node.name: node for node in graph_def.node}
    if input_name not in by_name:
        raise ModelFileError(f"{source}: graph has no input node {input_name!r}; run `python tools/list_nodes.py MODEL`")
    needed: set[str] = set()
    pending = list(output_names)
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        node = by_name.get(name)
        if node is None:
            raise ModelFileError(f"{source}: graph has no node {name!r}; run `python tools/list_nodes.py MODEL` to see its nodes")
        needed.add(name)
        for inp in node.input:
            if inp.startswith("^"):
                raise UnsafeModelError(
                    f"{source}: node {node.name!r} ({node.op}) waits on {inp[1:]!r} by a control input; PoseNet's "
                    "outputs need none, and it could make TensorFlow run anything: refused"
                )
            pending.append(inp.split(":")[0])
    path = [node for node in graph_def.node if node.name in needed]
    _refuse_unknown_ops(((node.op, node.name) for node in path), TF_GRAPH_OPS, source)
    if input_name not in needed:
        raise ModelFileError(f"{source}: the outputs do not depend on the input {input_name!r}")
    pruned = tf.compat.v1.GraphDef()
    pruned.versions.CopyFrom(graph_def.versions)
    pruned.node.extend(path)
    return pruned


def check_saved_model(directory: Path) -> None:
    """Refuse, before TensorFlow loads it, a SavedModel with an op outside PoseNet's arithmetic and plumbing."""
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    try:
        saved_model.ParseFromString((directory / "saved_model.pb").read_bytes())
    except (DecodeError, OSError, RuntimeWarning, ValueError) as error:
        raise ModelFileError(f"{directory}: not a readable SavedModel ({error})") from None
    for meta_graph in saved_model.meta_graphs:
        graph = meta_graph.graph_def
        functions = {function.signature.name: function for function in graph.library.function}
        saver = meta_graph.saver_def
        saver_nodes = {saver.save_tensor_name.split(":")[0], saver.restore_op_name.split(":")[0]} - {""}
        checkpoint_functions = _reachable(
            [called for node in graph.node if node.name in saver_nodes for called in _called(node, functions)], functions
        )
        plumbing = TF_GRAPH_OPS | _SAVED_MODEL_CALL_OPS
        for node in graph.node:
            _check_node(node, functions, checkpoint_functions, plumbing, directory, allowed_calls=node.name in saver_nodes)
        for name, function in functions.items():
            saver_side = name in checkpoint_functions
            allowed = plumbing | _CHECKPOINT_OPS if saver_side else plumbing
            for node in function.node_def:
                _check_node(node, functions, checkpoint_functions, allowed, directory, allowed_calls=saver_side)


def load_saved_model(directory: Path):
    """tf.saved_model.load, after check_saved_model has found nothing but PoseNet's ops in it."""
    import tensorflow as tf

    check_saved_model(directory)
    try:
        return tf.saved_model.load(str(directory))
    except Exception as error:  # noqa: BLE001 - TF raises many unrelated types for a bad SavedModel
        raise ModelFileError(f"{directory}: not a loadable SavedModel ({first_line(error)})") from None


def check_tflite_ops(op_names: Iterable[str], source: str | Path) -> None:
    _refuse_unknown_ops(((op, f"op {index}") for index, op in enumerate(op_names)), TFLITE_OPS, source)


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
    _refuse_unknown_ops(((node.op_type, node.name) for node in model.graph.node), ONNX_OPS, source)
    return model


def check_openvino_ops(ops: Iterable[tuple[str, str]], source: str | Path) -> None:
    _refuse_unknown_ops(ops, OPENVINO_OPS, source)


def _check_node(node, functions, checkpoint_functions, allowed, source, allowed_calls: bool) -> None:
    """A node may call library functions (their bodies are checked too), but only the saver's side may call the
    checkpoint functions."""
    for name in _called(node, functions):
        if name not in functions:  # TensorFlow would run a plain op of that name as a function
            raise UnsafeModelError(f"{source}: node {node.name!r} calls {name!r}, which is not one of the model's "
                                   "functions: refused")
        if name in checkpoint_functions and not allowed_calls:
            raise UnsafeModelError(f"{source}: node {node.name!r} calls the checkpoint function {name!r}: refused")
    if node.op not in functions:
        _refuse_unknown_ops([(node.op, node.name)], allowed, source)


def _reachable(roots: list[str], functions) -> set[str]:
    """The functions `roots` call, directly or through others, themselves included."""
    found: set[str] = set()
    while roots:
        name = roots.pop()
        if name in found or name not in functions:
            continue
        found.add(name)
        roots.extend(called for node in functions[name].node_def for called in _called(node, functions))
    return found


def _called(node, functions) -> Iterator[str]:
    """Library functions a node calls: its op itself, or function-valued attributes (PartitionedCall's `f`)."""
    if node.op in functions:
        yield node.op
    for value in node.attr.values():
        if value.HasField("func"):
            yield value.func.name
        yield from (func.name for func in value.list.func)


def _refuse_unknown_ops(ops: Iterable[tuple[str, str]], allowed: frozenset[str], source: str | Path) -> None:
    """(op, node) pairs: refuse them all at once, naming each op that is not allowed and where it is."""
    unknown: dict[str, list[str]] = {}
    for op, node in ops:
        if op not in allowed:
            unknown.setdefault(op, []).append(node)
    if unknown:
        found = "; ".join(f"{op!r} (node {', '.join(map(repr, nodes[:3]))}{' ...' if len(nodes) > 3 else ''})"
                          for op, nodes in unknown.items())
        raise UnsafeModelError(
            f"{source}: op(s) PoseNet does not use, which could make the runtime do more than compute poses: {found}; "
            "refused. Export the model again from its weights (`python -m posenet_port.rebuild --weights ...`)"
        )
