"""tfjs graph models (`model.json`) as node listings. tfjs topologies carry no output shapes: they are
propagated from the weight shapes and the convolution strides."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from posenet_port._util.fileio import parse_json_bounded, read_bounded
from posenet_port.errors import ModelFileError, first_line
from posenet_port.formats.listing import ModelListing, Node, TensorInfo
from posenet_port.formats.roles import CONV_OPS

TITLE = "tfjs graph model"
MODEL_JSON = "model.json"


def claims(path: Path, head: bytes) -> bool:
    """A folder with a model.json, a .json file, or any file that starts like JSON."""
    if path.is_dir():
        return (path / MODEL_JSON).is_file()
    return path.suffix == ".json" or head.lstrip()[:1] in (b"{", b"[")


def converters(listing: ModelListing, outputs: list[str], image: str, size: int) -> dict[str, str]:
    return {"tflite": "convert the TensorFlow model it came from", "tensorflowjs": "already a tfjs graph model"}


def read(path: Path, probe_size: int) -> ModelListing:
    if path.is_dir():
        path = path / MODEL_JSON
    data = read_bounded(path, ModelFileError, "model json")
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
            shape = _conv_shape(shapes.get(inputs[0]), shapes.get(inputs[1]), _tfjs_strides(entry, path), "Depthwise" in op)
        else:
            shape = shapes.get(inputs[0]) if inputs else None
        shapes[name] = shape
        dtype = specs.get(name, {}).get("dtype", "float32")
        nodes.append(Node(index, name, op, inputs, (TensorInfo(shape, dtype),)))
    listing = ModelListing(path, TITLE, nodes, probed)
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


MAX_STRIDE = 64  # PoseNet's largest is 2; a stride is a divisor, so 0 or a negative one is a damaged file


def _tfjs_strides(entry: dict, path: Path) -> int:
    strides = entry.get("attr", {}).get("strides", {}).get("list", {}).get("i", ["1", "1", "1", "1"])
    stride = int(strides[1])
    if not 1 <= stride <= MAX_STRIDE:
        raise ModelFileError(f"{path}: node {entry.get('name')!r} has a stride of {stride}: a convolution's stride is from 1 "
                             f"to {MAX_STRIDE}")
    return stride


def _conv_shape(source, kernel, stride: int, depthwise: bool):
    if source is None or kernel is None or len(source) != 4 or source[1] is None or source[2] is None:
        return None
    channels = source[3] * kernel[3] if depthwise else kernel[3]
    return (source[0], math.ceil(source[1] / stride), math.ceil(source[2] / stride), channels)
