"""Read any PoseNet model (frozen .pb, SavedModel, .tflite, tfjs model.json, .onnx, OpenVINO .xml) as a node list
and find its roles:
the image input, the heatmap (and whether a sigmoid follows), the offsets and the two displacements.

Roles are found from shapes and graph structure, never from hard-coded names: names only tell the forward and
backward displacements apart (and are reported as ambiguous when they say nothing).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from .constants import NUM_EDGES, NUM_KEYPOINTS
from .errors import ModelFileError, first_line
from .fileio import check_regular_file, parse_json_bounded
from .spec import DEFAULT_INPUT_SIZE

HEAD_CHANNELS = {"heatmap": NUM_KEYPOINTS, "offsets": 2 * NUM_KEYPOINTS, "displacement": 2 * NUM_EDGES}
CONV_OPS = {
    "Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative", "_FusedDepthwiseConv2dNative",
    "CONV_2D", "DEPTHWISE_CONV_2D", "Conv", "Convolution", "GroupConvolution",
}
SIGMOID_OPS = {"Sigmoid", "LOGISTIC"}
INPUT_OPS = {"Placeholder", "INPUT", "Parameter"}
FORWARD_WORDS, BACKWARD_WORDS = ("fwd", "forward"), ("bwd", "backward")


@dataclass(frozen=True)
class TensorInfo:
    shape: tuple[int | None, ...] | None
    dtype: str

    def describe(self) -> str:
        dims = ["?" if d is None else str(d) for d in self.shape or ()]
        shape = "?" if self.shape is None else "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
        return f"{shape} {self.dtype}"


@dataclass(frozen=True)
class Node:
    index: int
    name: str
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[TensorInfo, ...]
    channel_axis: int = 3  # 1 inside ONNX / OpenVINO graphs, which compute in NCHW between their Transposes

    @property
    def channels(self) -> int | None:
        shape = self.outputs[0].shape if self.outputs else None
        return shape[self.channel_axis] if shape is not None and len(shape) == 4 else None

    @property
    def height(self) -> int | None:
        shape = self.outputs[0].shape if self.outputs else None
        return shape[2 if self.channel_axis == 1 else 1] if shape is not None and len(shape) == 4 else None


@dataclass(frozen=True)
class Role:
    node: str
    reason: str


@dataclass
class Roles:
    image: Role
    heatmap: Role
    heatmap_sigmoid: str | None
    offsets: Role
    displacement_fwd: Role
    displacement_bwd: Role
    displacements_ambiguous: bool
    output_stride: int | None
    probe_size: int | None

    def output_names(self) -> list[str]:
        """Raw heads in posenet 2.x's order: offsets, heatmap, displacement fwd, bwd."""
        return [self.offsets.node, self.heatmap.node, self.displacement_fwd.node, self.displacement_bwd.node]


@dataclass
class ModelListing:
    path: Path
    format: str
    nodes: list[Node]
    probe_size: int | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what will stop the model from loading or running

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.op] = counts.get(node.op, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


# --------------------------------------------------------------------------------------------------------------
# Reading each format
# --------------------------------------------------------------------------------------------------------------


def read_model(path: str | Path, probe_size: int = DEFAULT_INPUT_SIZE) -> ModelListing:
    """Any supported model file or folder -> its nodes in order, with output shapes (dynamic inputs probed)."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such file or directory")
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return _read_saved_model(path, probe_size)
        if (path / "model.json").is_file():
            return _read_tfjs(path / "model.json", probe_size)
        raise ModelFileError(f"{path}: folder holds neither a SavedModel (saved_model.pb) nor a tfjs model.json")
    if path.name == "saved_model.pb":
        return _read_saved_model(path.parent, probe_size)
    check_regular_file(path, ModelFileError, "model file")  # a FIFO would block the read forever
    head = _read_head(path)
    if not head:
        raise ModelFileError(f"{path}: file is empty")
    if head[4:8] == b"TFL3":
        return _read_tflite(path)
    if path.suffix == ".onnx":
        return _read_onnx(path, probe_size)
    if path.suffix == ".xml":
        return _read_openvino(path, probe_size)
    if head.lstrip()[:1] in (b"{", b"[") or path.suffix == ".json":
        return _read_tfjs(path, probe_size)
    return _read_graph_def(path, probe_size)


def _read_head(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(64)
    except OSError as error:
        raise ModelFileError(f"{path}: cannot read ({error.strerror or error})") from None


def _tf_shape(shape) -> tuple[int | None, ...] | None:
    return None if shape.rank is None else tuple(shape.as_list())


def read_graph_def(path: str | Path):
    """A frozen GraphDef from a .pb file, or a ModelFileError saying why not."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    path = Path(path)
    if path.exists() and not path.is_dir():
        check_regular_file(path, ModelFileError, "frozen graph")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, expected a frozen graph .pb file") from None
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except (DecodeError, RuntimeWarning, ValueError) as error:
        raise ModelFileError(f"{path}: not a TensorFlow GraphDef ({error})") from None
    if not data or not graph_def.node:
        raise ModelFileError(f"{path}: not a TensorFlow GraphDef (no nodes)")
    return graph_def


def _read_graph_def(path: Path, probe_size: int) -> ModelListing:
    return _listing_from_graph_def(path, "frozen graph", read_graph_def(path), probe_size)


def _listing_from_graph_def(path: Path, kind: str, graph_def, probe_size: int) -> ModelListing:
    """Import the graph with every dynamic float image input fixed to the probe size, so TF's shape inference
    gives each node a concrete output shape."""
    import tensorflow as tf

    input_map, probed = {}, None
    graph = tf.Graph()
    with graph.as_default():
        for node in graph_def.node:
            if node.op == "Placeholder" and node.attr["dtype"].type == tf.float32.as_datatype_enum:
                dims = [d.size for d in node.attr["shape"].shape.dim]
                if len(dims) == 4 and dims[3] == 3 and (dims[1] < 0 or dims[2] < 0):
                    input_map[f"{node.name}:0"] = tf.compat.v1.placeholder(tf.float32, [1, probe_size, probe_size, 3])
                    probed = probe_size
        try:
            tf.graph_util.import_graph_def(graph_def, input_map=input_map, name="")
        except (ValueError, TypeError, tf.errors.OpError) as error:
            raise ModelFileError(f"{path}: TensorFlow cannot import this graph ({first_line(error)})") from None
    by_name = {op.name: op for op in graph.get_operations()}
    nodes = []
    for index, node_def in enumerate(graph_def.node):
        op = by_name.get(node_def.name)
        outputs = tuple(TensorInfo(_tf_shape(t.shape), t.dtype.name) for t in op.outputs) if op is not None else ()
        inputs = tuple(i.split(":")[0] for i in node_def.input if not i.startswith("^"))
        nodes.append(Node(index, node_def.name, node_def.op, inputs, outputs))
    if not nodes:
        raise ModelFileError(f"{path}: the graph has no nodes")
    return ModelListing(path, kind, nodes, probed)


def saved_model_graph_def(directory: Path):
    """A SavedModel's serving signature (or its first) as a frozen GraphDef, its ops checked before loading;
    returns the GraphDef and the signature's name."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from .untrusted import load_saved_model

    signatures = dict(load_saved_model(directory).signatures)
    if not signatures:
        raise ModelFileError(f"{directory}: SavedModel has no signatures to inspect")
    name = "serving_default" if "serving_default" in signatures else sorted(signatures)[0]
    return convert_variables_to_constants_v2(signatures[name]).graph.as_graph_def(), name


def _read_saved_model(directory: Path, probe_size: int) -> ModelListing:
    graph_def, name = saved_model_graph_def(directory)
    listing = _listing_from_graph_def(directory, "SavedModel", graph_def, probe_size)
    listing.notes.append(f"signature {name!r}")
    return listing


def _read_tflite(path: Path) -> ModelListing:
    from .runners.tflite import interpreter_class, op_resolver_without_delegates

    try:
        interpreter = interpreter_class()(
            model_path=str(path), experimental_op_resolver_type=op_resolver_without_delegates()
        )
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        raise ModelFileError(f"{path}: not a loadable TFLite model ({first_line(error)})") from None
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}

    def info(index: int) -> TensorInfo:
        tensor = tensors[index]
        return TensorInfo(tuple(int(d) for d in tensor["shape"]), tensor["dtype"].__name__)

    nodes = [
        Node(i, tensors[d["index"]]["name"], "INPUT", (), (info(d["index"]),))
        for i, d in enumerate(interpreter.get_input_details())
    ]
    for op in interpreter._get_ops_details():  # noqa: SLF001 - the only listing of ops the interpreter offers
        outputs = [int(o) for o in op["outputs"]]
        inputs = tuple(tensors[int(i)]["name"] for i in op["inputs"] if int(i) >= 0)
        nodes.append(Node(len(nodes), tensors[outputs[0]]["name"], op["op_name"], inputs, tuple(map(info, outputs))))
    return ModelListing(path, "TFLite", nodes, None)


def _read_onnx(path: Path, probe_size: int) -> ModelListing:
    """Checked like the runner checks it, then shapes inferred by ONNX with the dynamic input dims at the probe."""
    import onnx

    from .runners.onnx import read_checked_model

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
    shapes = {value.name: _onnx_info(value) for value in (*graph.input, *graph.value_info, *graph.output)}
    nodes = [Node(i, value.name, "INPUT", (), (shapes[value.name],)) for i, value in enumerate(inputs)]
    axes = {node.name: node.channel_axis for node in nodes}
    for node in graph.node:
        infos = tuple(shapes.get(name, TensorInfo(None, "?")) for name in node.output)
        sources = tuple(name for name in node.input if name and name not in initializers)
        perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
        axes[node.output[0]] = _channel_axis(sources, axes, perm)
        nodes.append(Node(len(nodes), node.output[0], node.op_type, sources, infos, axes[node.output[0]]))
    return ModelListing(path, "ONNX", nodes, probed)


def _onnx_info(value) -> TensorInfo:
    from onnx import helper

    tensor = value.type.tensor_type
    shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim) \
        if tensor.HasField("shape") else None
    return TensorInfo(shape, helper.tensor_dtype_to_np_dtype(tensor.elem_type).name if tensor.elem_type else "?")


def _read_openvino(path: Path, probe_size: int) -> ModelListing:
    """Checked like the runner checks it, then reshaped so a dynamic input has the probe size."""
    import openvino as ov

    from .runners.openvino import read_checked_model

    model, probed = read_checked_model(path, ov.Core()), None
    if model.inputs and model.inputs[0].get_partial_shape().is_dynamic:
        try:
            model.reshape([1, probe_size, probe_size, 3])
        except RuntimeError as error:
            raise ModelFileError(f"{path}: cannot be reshaped to a {probe_size}x{probe_size} image "
                                 f"({first_line(error)})") from None
        probed = probe_size
    names: dict[str, str] = {}
    axes: dict[str, int] = {}
    nodes: list[Node] = []
    for op in model.get_ordered_ops():  # producers before consumers
        names[op.get_friendly_name()] = name = _openvino_name(op)
        if op.get_type_name() == "Result":
            continue  # the output's name is already its producer's tensor name
        infos = tuple(TensorInfo(tuple(op.get_output_partial_shape(i).to_shape()),
                                 op.get_output_element_type(i).to_dtype().name) for i in range(op.get_output_size()))
        sources = tuple(names[value.get_node().get_friendly_name()] for value in op.input_values()
                        if value.get_node().get_type_name() != "Constant")
        perm = None
        if op.get_type_name() == "Transpose":
            perm = [int(v) for v in op.input_value(1).get_node().get_vector()]
        axes[name] = _channel_axis(sources, axes, perm)
        nodes.append(Node(len(nodes), name, op.get_type_name(), sources, infos, axes[name]))
    return ModelListing(path, "OpenVINO IR", nodes, probed)


def _openvino_name(op) -> str:
    """An op's output tensor name (what the runner asks for), or its own name when the tensor has none."""
    tensor_names = sorted(op.output(0).get_names()) if op.get_output_size() else []
    return tensor_names[0] if tensor_names else op.get_friendly_name()


def _channel_axis(sources: Sequence[str], axes: dict[str, int], perm: list[int] | None) -> int:
    """A node's channel axis: its first input's (the image comes in NHWC), moved by a Transpose's `perm`."""
    axis = axes.get(sources[0], 3) if sources else 3
    return perm.index(axis) if perm is not None and axis in perm else axis


def _read_tfjs(path: Path, probe_size: int) -> ModelListing:
    """tfjs topologies carry no output shapes: propagate them from the weight shapes and the conv strides."""
    try:
        return _tfjs_listing(path, probe_size)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise ModelFileError(f"{path}: malformed tfjs model.json ({type(error).__name__}: {first_line(error)})") from None


def _tfjs_listing(path: Path, probe_size: int) -> ModelListing:
    check_regular_file(path, ModelFileError, "model json")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelFileError(f"{path}: cannot read ({error.strerror or error})") from None
    document = parse_json_bounded(data, path, ModelFileError)
    try:
        topology = document["modelTopology"]["node"]
        specs = {w["name"]: w for group in document["weightsManifest"] for w in group["weights"]}
    except (ValueError, KeyError, TypeError) as error:
        raise ModelFileError(f"{path}: not a tfjs graph model ({first_line(error)})") from None
    shapes: dict[str, tuple[int | None, ...] | None] = {}
    nodes = []
    probed = None
    for index, entry in enumerate(topology):
        try:
            name, op = entry["name"], entry["op"]
            inputs = tuple(i.split(":")[0] for i in entry.get("input", []) if not i.startswith("^"))
        except (KeyError, TypeError, AttributeError):
            raise ModelFileError(f"{path}: node {index} lacks a name, op or input list") from None
        if op == "Placeholder":
            shape, probed = _tfjs_placeholder_shape(entry, probe_size)
        elif op == "Const":
            shape = _spec_shape(specs.get(name))
        elif op in CONV_OPS and len(inputs) >= 2:
            shape = _conv_shape(shapes.get(inputs[0]), shapes.get(inputs[1]), _tfjs_strides(entry), "Depthwise" in op)
        else:
            shape = shapes.get(inputs[0]) if inputs else None
        shapes[name] = shape
        dtype = specs.get(name, {}).get("dtype", "float32")
        nodes.append(Node(index, name, op, inputs, (TensorInfo(shape, dtype),)))
    listing = ModelListing(path, "tfjs graph model", nodes, probed)
    listing.warnings += _missing_shards(path, document)
    return listing


def _missing_shards(path: Path, document: dict) -> list[str]:
    """Warnings for weight shards the manifest names that are not regular files inside the model's folder."""
    folder, warnings = path.parent.resolve(), []
    for group in document["weightsManifest"]:
        for shard in group.get("paths", []) if isinstance(group, dict) else []:
            target = (folder / shard).resolve() if isinstance(shard, str) and shard else None
            if target is None or not target.is_relative_to(folder) or not target.is_file():
                warnings.append(f"weight shard {shard!r} named in {path.name} is missing or not inside its folder: "
                                "the model will not load")
    return warnings


def _spec_shape(spec: Any) -> tuple[int, ...] | None:
    shape = spec.get("shape") if isinstance(spec, dict) else None
    if isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        return tuple(shape)
    return None  # a malformed shape is simply unknown here; the weights loader names it


def _tfjs_placeholder_shape(entry: dict, probe_size: int) -> tuple[tuple[int | None, ...] | None, int | None]:
    dims = [int(d.get("size", -1)) for d in entry.get("attr", {}).get("shape", {}).get("shape", {}).get("dim", [])]
    if len(dims) == 4 and (dims[1] < 0 or dims[2] < 0):
        return (1, probe_size, probe_size, dims[3]), probe_size
    return (tuple(None if d < 0 else d for d in dims) if dims else None), None


def _tfjs_strides(entry: dict) -> int:
    strides = entry.get("attr", {}).get("strides", {}).get("list", {}).get("i", ["1", "1", "1", "1"])
    return int(strides[1])


def _conv_shape(source, kernel, stride: int, depthwise: bool):
    if source is None or kernel is None or len(source) != 4 or source[1] is None or source[2] is None:
        return None
    channels = source[3] * kernel[3] if depthwise else kernel[3]
    return (source[0], math.ceil(source[1] / stride), math.ceil(source[2] / stride), channels)


# --------------------------------------------------------------------------------------------------------------
# Finding the roles
# --------------------------------------------------------------------------------------------------------------


def identify_roles(listing: ModelListing) -> Roles:
    """Find the image input and the four heads; ModelFileError if this is not a PoseNet model."""
    by_name = {node.name: node for node in listing.nodes}
    consumers: dict[str, list[Node]] = {}
    for node in listing.nodes:
        for source in node.inputs:
            consumers.setdefault(source, []).append(node)
    image = _find_image(listing)
    chains = _head_chains(listing, by_name, consumers)
    heatmaps = [c for c in chains if c.channels == HEAD_CHANNELS["heatmap"]]
    offsets = [c for c in chains if c.channels == HEAD_CHANNELS["offsets"]]
    displacements = [c for c in chains if c.channels == HEAD_CHANNELS["displacement"]]
    if len(heatmaps) != 1 or len(offsets) != 1 or len(displacements) != 2:
        raise ModelFileError(
            f"{listing.path}: no PoseNet heads: expected one 17-channel heatmap, one 34-channel offset and two "
            f"32-channel displacement outputs at the end of the graph, found {len(heatmaps)}, {len(offsets)} "
            f"and {len(displacements)}"
        )
    heatmap, offset = heatmaps[0], offsets[0]
    forward, backward, ambiguous = _tell_displacements_apart(displacements)
    sigmoid_note = f"; Sigmoid {heatmap.sigmoid!r} follows" if heatmap.sigmoid else "; no Sigmoid follows (logits)"
    grid = heatmap.grid
    size = image_size(by_name[image.node]) or listing.probe_size
    stride = (size - 1) // (grid - 1) if size and grid and grid > 1 else None
    return Roles(
        image=image,
        heatmap=Role(heatmap.raw, f"17-channel conv output (heatmap logits){sigmoid_note}"),
        heatmap_sigmoid=heatmap.sigmoid,
        offsets=Role(offset.raw, "34-channel conv output: offsets (17 y, then 17 x)"),
        displacement_fwd=forward,
        displacement_bwd=backward,
        displacements_ambiguous=ambiguous,
        output_stride=stride,
        probe_size=listing.probe_size,
    )


def image_size(node: Node) -> int | None:
    shape = node.outputs[0].shape if node.outputs else None
    return shape[1] if shape and len(shape) == 4 else None


def _find_image(listing: ModelListing) -> Role:
    candidates = [
        node for node in listing.nodes
        if node.op in INPUT_OPS and node.outputs and node.outputs[0].dtype.startswith(("float", "int8", "uint8"))
        and node.outputs[0].shape is not None and len(node.outputs[0].shape) == 4 and node.outputs[0].shape[3] == 3
    ]
    if len(candidates) != 1:
        names = ", ".join(n.name for n in candidates) or "none"
        raise ModelFileError(
            f"{listing.path}: expected one image input (a 4-D float Placeholder with 3 channels), found {names}"
        )
    node = candidates[0]
    return Role(node.name, f"{node.op} {node.outputs[0].describe()} with 3 channels: the image")


@dataclass
class _Chain:
    nodes: list[Node]
    raw: str
    sigmoid: str | None

    @property
    def channels(self) -> int:
        return self.nodes[0].channels  # type: ignore[return-value]

    @property
    def grid(self) -> int | None:
        return self.nodes[0].height

    def names(self) -> str:
        return " ".join(node.name.lower() for node in self.nodes)


def _head_chains(listing: ModelListing, by_name: dict[str, Node], consumers: dict[str, list[Node]]) -> list[_Chain]:
    """Each head: a convolution whose output, with the same channel count, reaches no further convolution;
    followed by its bias / identity / sigmoid nodes."""
    chains = []
    for node in listing.nodes:
        if node.op not in CONV_OPS or node.channels not in HEAD_CHANNELS.values():
            continue
        members = _same_channel_descendants(node, consumers)
        if any(member.op in CONV_OPS for member in members[1:]) or _feeds_conv(members, consumers):
            continue
        chains.append(_chain(members))
    return chains


def _same_channel_descendants(start: Node, consumers: dict[str, list[Node]]) -> list[Node]:
    members, frontier = [start], [start]
    while frontier:
        node = frontier.pop(0)
        for consumer in consumers.get(node.name, []):
            if consumer.channels == start.channels and consumer not in members:
                members.append(consumer)
                frontier.append(consumer)
    return members


def _feeds_conv(members: Sequence[Node], consumers: dict[str, list[Node]]) -> bool:
    return any(c.op in CONV_OPS and c not in members for m in members for c in consumers.get(m.name, []))


def _chain(members: list[Node]) -> _Chain:
    """The raw output is the last node before any sigmoid, preferring one named like a PoseNet head; the sigmoid
    output likewise prefers a node named `heatmap`."""
    sigmoids = [m for m in members if m.op in SIGMOID_OPS]
    downstream = [m for m in members if m.op in SIGMOID_OPS or _after(m, sigmoids, members)]
    before = [m for m in members if m not in downstream]
    named = [m for m in before if any(w in m.name for w in ("heatmap", "offset", "displacement"))]
    raw = (named or before)[-1].name
    named_after = [m for m in downstream if "heatmap" in m.name]
    sigmoid = (named_after or sigmoids)[-1].name if sigmoids else None
    return _Chain(members, raw, sigmoid)


def _after(node: Node, sigmoids: Iterable[Node], members: Sequence[Node]) -> bool:
    """Whether `node` is downstream of one of the sigmoids (within the chain)."""
    names = {s.name for s in sigmoids}
    frontier, seen = list(node.inputs), set()
    member_names = {m.name for m in members}
    while frontier:
        name = frontier.pop()
        if name in names:
            return True
        if name in seen or name not in member_names:
            continue
        seen.add(name)
        frontier.extend(next(m for m in members if m.name == name).inputs)
    return False


def _tell_displacements_apart(chains: list[_Chain]) -> tuple[Role, Role, bool]:
    says = [(any(w in c.names() for w in FORWARD_WORDS), any(w in c.names() for w in BACKWARD_WORDS)) for c in chains]
    if says[0] == (True, False) and says[1] == (False, True):
        forward, backward = chains
    elif says[0] == (False, True) and says[1] == (True, False):
        backward, forward = chains
    else:
        reason = "32-channel conv output: displacement; AMBIGUOUS: the names do not say forward or backward"
        return Role(chains[0].raw, reason), Role(chains[1].raw, reason), True
    return (
        Role(forward.raw, "32-channel conv output named forward: displacement fwd (16 y, then 16 x)"),
        Role(backward.raw, "32-channel conv output named backward: displacement bwd (16 y, then 16 x)"),
        False,
    )


# --------------------------------------------------------------------------------------------------------------
# What converts this model
# --------------------------------------------------------------------------------------------------------------


def converter_commands(listing: ModelListing, roles: Roles, input_size: int | None = None) -> dict[str, str]:
    """The TFLite converter call and tensorflowjs_converter command line that convert this model."""
    size = input_size or image_size_from(listing, roles) or listing.probe_size or DEFAULT_INPUT_SIZE
    outputs = roles.output_names()
    quoted = ", ".join(f"'{name}'" for name in outputs)
    if listing.format == "frozen graph":
        tflite = (
            f"tf.compat.v1.lite.TFLiteConverter.from_frozen_graph('{listing.path}', input_arrays=['{roles.image.node}'], "
            f"output_arrays=[{quoted}], input_shapes={{'{roles.image.node}': [1, {size}, {size}, 3]}}).convert()"
        )
        tfjs = (
            f"tensorflowjs_converter --input_format=tf_frozen_model --output_node_names='{','.join(outputs)}' "
            f"{listing.path} OUTPUT_DIR"
        )
    elif listing.format == "SavedModel":
        tflite = f"tf.lite.TFLiteConverter.from_saved_model('{listing.path}').convert()"
        tfjs = (
            "tensorflowjs_converter --input_format=tf_saved_model --signature_name=serving_default "
            f"{listing.path} OUTPUT_DIR"
        )
    else:
        tflite = "already TFLite" if listing.format == "TFLite" else "convert the TensorFlow model it came from"
        tfjs = "already a tfjs graph model" if listing.format == "tfjs graph model" else "convert the TensorFlow model"
    return {"tflite": tflite, "tensorflowjs": tfjs}


def image_size_from(listing: ModelListing, roles: Roles) -> int | None:
    return image_size(next(node for node in listing.nodes if node.name == roles.image.node))


def listing_to_dict(listing: ModelListing, roles: Roles | None) -> dict:
    return {
        "path": str(listing.path),
        "format": listing.format,
        "probe_size": listing.probe_size,
        "warnings": listing.warnings,
        "nodes": [
            {"index": n.index, "name": n.name, "op": n.op, "inputs": list(n.inputs), "outputs": [asdict(o) for o in n.outputs]}
            for n in listing.nodes
        ],
        "roles": asdict(roles) if roles else None,
        "converters": converter_commands(listing, roles) if roles else None,
    }

