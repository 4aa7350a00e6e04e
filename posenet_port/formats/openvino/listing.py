"""OpenVINO IRs as node listings: checked as the runner checks them, then reshaped so that a dynamic input has
the probe size; channel axes followed through the Transposes (NCHW inside)."""
from __future__ import annotations

from pathlib import Path

from posenet_port.errors import ModelFileError, first_line
from posenet_port.formats.listing import ModelListing, Node, TensorInfo, channel_axis
from posenet_port.formats.openvino.runner import read_checked_model

TITLE = "OpenVINO IR"


def claims(path: Path, head: bytes) -> bool:
    return path.suffix == ".xml"


def read(path: Path, probe_size: int) -> ModelListing:
    import openvino as ov

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
        names[op.get_friendly_name()] = name = _name(op)
        if op.get_type_name() == "Result":
            continue  # the output's name is already its producer's tensor name
        infos = tuple(TensorInfo(tuple(op.get_output_partial_shape(i).to_shape()),
                                 op.get_output_element_type(i).to_dtype().name) for i in range(op.get_output_size()))
        sources = tuple(names[value.get_node().get_friendly_name()] for value in op.input_values()
                        if value.get_node().get_type_name() != "Constant")
        perm = None
        if op.get_type_name() == "Transpose":
            perm = [int(v) for v in op.input_value(1).get_node().get_vector()]
        axes[name] = channel_axis(sources, axes, perm)
        nodes.append(Node(len(nodes), name, op.get_type_name(), sources, infos, axes[name]))
    return ModelListing(path, TITLE, nodes, probed)


def _name(op) -> str:
    """An op's output tensor name (what the runner asks for), or its own name when the tensor has none."""
    tensor_names = sorted(op.output(0).get_names()) if op.get_output_size() else []
    return tensor_names[0] if tensor_names else op.get_friendly_name()
