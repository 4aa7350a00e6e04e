"""tfjs graph models (`model.json` + shards): float32, or quantized uint8 / uint16 / float16, fused or unfused
ops. Weights are found by walking the graph from its input, never by node names."""
from __future__ import annotations

import base64
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, NoReturn, Sequence

import numpy as np

from posenet_port.errors import WeightsError
from posenet_port.model.architecture import HEAD_CHANNELS, HEAD_NAMES, NUM_BLOCKS
from posenet_port.model.weights.canonical import ConvWeights, PosenetWeights
from posenet_port.model.weights.files import file_inside, parse_shape, read_file, read_json

_DTYPES = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4"), "bool": np.dtype("bool")}


_QUANTIZED = {"uint8": np.dtype("u1"), "uint16": np.dtype("<u2"), "float16": np.dtype("<f2")}


_CONV_OPS = {"Conv2D", "_FusedConv2D"}


_DEPTHWISE_OPS = {"DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"}


_BIAS_OPS = {"BiasAdd", "Add", "AddV2"}


# Ops that may stand between two convolutions of the backbone without changing which weights apply.
_PASS_THROUGH_OPS = _BIAS_OPS | {"Identity", "Relu6", "Relu"}


def load_graph_model(model_json: Path, document: Any = None) -> PosenetWeights:
    model_json = Path(model_json)
    document = read_json(model_json) if document is None else document
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
        shard_paths = [file_inside(model_json.parent, p, model_json) for p in group["paths"]]
        buffer = b"".join(read_file(p, model_json, "weight shard") for p in shard_paths)
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
    shape = parse_shape(spec.get("shape"), origin, name)
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
