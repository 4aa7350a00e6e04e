"""A PoseNet model's roles in its node listing: the image input, the heatmap (and whether a sigmoid follows), the
offsets and the two displacements.

Roles are found from shapes and graph structure, never from hard-coded names: names only tell the forward and
backward displacements apart (and are reported as ambiguous when they say nothing).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

from posenet_port.errors import ModelFileError
from posenet_port.formats.listing import ModelListing, Node, lister_module
from posenet_port.model.architecture import HEAD_NAMES
from posenet_port.model.keypoints import NUM_EDGES, NUM_KEYPOINTS
from posenet_port.model.spec import DEFAULT_INPUT_SIZE

HEAD_CHANNELS = {"heatmap": NUM_KEYPOINTS, "offsets": 2 * NUM_KEYPOINTS, "displacement": 2 * NUM_EDGES}
CONV_OPS = {
    "Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative", "_FusedDepthwiseConv2dNative",
    "CONV_2D", "DEPTHWISE_CONV_2D", "Conv", "Convolution", "GroupConvolution",
}
SIGMOID_OPS = {"Sigmoid", "LOGISTIC"}
INPUT_OPS = {"Placeholder", "INPUT", "Parameter"}
FORWARD_WORDS, BACKWARD_WORDS = ("fwd", "forward"), ("bwd", "backward")
NO_CONVERTERS = {"tflite": "convert the TensorFlow model it came from", "tensorflowjs": "convert the TensorFlow model"}


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

    def output_nodes(self) -> dict[str, str]:
        """The model's nodes by canonical output name: the four raw heads, and `heatmap` where a sigmoid follows."""
        heads = (self.heatmap, self.offsets, self.displacement_fwd, self.displacement_bwd)
        nodes = {name: role.node for name, role in zip(HEAD_NAMES, heads)}
        return {**nodes, "heatmap": self.heatmap_sigmoid} if self.heatmap_sigmoid else nodes

    def output_names(self) -> list[str]:
        """Raw heads in posenet 2.x's order: offsets, heatmap, displacement fwd, bwd."""
        return [self.offsets.node, self.heatmap.node, self.displacement_fwd.node, self.displacement_bwd.node]


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


def converter_commands(listing: ModelListing, roles: Roles, input_size: int | None = None) -> dict[str, str]:
    """The TFLite converter call and tensorflowjs_converter command line that convert this model, as its format's
    lister words them."""
    from posenet_port.formats.registry import FORMATS

    size = input_size or image_size_from(listing, roles) or listing.probe_size or DEFAULT_INPUT_SIZE
    fmt = FORMATS.get(listing.format_name)
    words = getattr(lister_module(fmt.lister), "converters", None) if fmt and fmt.lister else None
    return words(listing, roles.output_names(), roles.image.node, size) if words else dict(NO_CONVERTERS)


def image_size_from(listing: ModelListing, roles: Roles) -> int | None:
    return image_size(next(node for node in listing.nodes if node.name == roles.image.node))


def listing_to_dict(listing: ModelListing, roles: Roles | None) -> dict:
    return {
        **listing.to_dict(),
        "roles": asdict(roles) if roles else None,
        "converters": converter_commands(listing, roles) if roles else None,
    }
