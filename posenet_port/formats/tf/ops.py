"""What a TensorFlow graph from elsewhere may run. A frozen graph or a SavedModel is a program: TensorFlow runs
every op the requested outputs depend on, control dependencies included, and it has ops that read and write
files, run Python or call functions. So a foreign graph is cut to the nodes the four heads need, each of them
tensor arithmetic from TF_GRAPH_OPS; a SavedModel is checked whole before TensorFlow loads it (loading runs its
initializers)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from posenet_port._util.fileio import MAX_MODEL_FILE_BYTES, check_regular_file, read_bounded
from posenet_port.errors import ModelFileError, first_line
from posenet_port.formats.safety import UnsafeModelError, refuse_unknown_ops

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
    refuse_unknown_ops(((node.op, node.name) for node in path), TF_GRAPH_OPS, source)
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

    _check_saved_model_files(directory)
    saved_model = saved_model_pb2.SavedModel()
    try:
        saved_model.ParseFromString(read_bounded(directory / "saved_model.pb", ModelFileError, "SavedModel graph"))
    except (DecodeError, RuntimeWarning, ValueError) as error:
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


def _check_saved_model_files(directory: Path) -> None:
    """Every file TensorFlow could open in the folder is a regular file, and together they are no larger than a
    PoseNet model: a FIFO or a link to /dev/zero as `variables.data-*` would hang or fill memory in TF's reader."""
    total = 0
    for path in sorted(directory.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            continue
        check_regular_file(path, ModelFileError, "SavedModel file")
        total += path.stat().st_size
    if total > MAX_MODEL_FILE_BYTES:
        raise ModelFileError(f"{directory}: SavedModel of {total:,} bytes is larger than any PoseNet model "
                             f"({MAX_MODEL_FILE_BYTES:,} bytes at most)")


def load_saved_model(directory: Path):
    """tf.saved_model.load, after check_saved_model has found nothing but PoseNet's ops in it."""
    import tensorflow as tf

    check_saved_model(directory)
    try:
        return tf.saved_model.load(str(directory))
    except Exception as error:  # noqa: BLE001 - TF raises many unrelated types for a bad SavedModel
        raise ModelFileError(f"{directory}: not a loadable SavedModel ({first_line(error)})") from None


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
        refuse_unknown_ops([(node.op, node.name)], allowed, source)


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
