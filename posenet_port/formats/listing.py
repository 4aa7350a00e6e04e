"""Any PoseNet model as a list of nodes with output shapes, read by the lister of its format (`Format.lister`).

A lister module has `claims(path, head) -> bool` (is this file or folder mine? `head` is the file's first bytes)
and `read(path, probe_size) -> ModelListing`; it may add `converters(listing, roles, size)`, the commands that
convert such a model (`roles.converter_commands`). Dynamic inputs are fixed to `probe_size` so that every node
gets a concrete shape.
"""
from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Sequence

from posenet_port._util.fileio import check_regular_file
from posenet_port.errors import ModelFileError, reading
from posenet_port.formats.probe import probe
from posenet_port.model.spec import DEFAULT_INPUT_SIZE

HEAD_BYTES = 64  # enough for every format's magic number


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


@dataclass
class ModelListing:
    path: Path
    format: str  # the format's title, e.g. "frozen graph", "TFLite"
    nodes: list[Node]
    probe_size: int | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what will stop the model from loading or running
    format_name: str = ""  # the registry's name of the format that read it

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.op] = counts.get(node.op, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "format": self.format,
            "probe_size": self.probe_size,
            "warnings": self.warnings,
            "nodes": [
                {"index": n.index, "name": n.name, "op": n.op, "inputs": list(n.inputs),
                 "outputs": [asdict(o) for o in n.outputs]}
                for n in self.nodes
            ],
        }


def read_model(path: str | Path, probe_size: int = DEFAULT_INPUT_SIZE) -> ModelListing:
    """Any model file or folder of a registered format -> its nodes in order, with output shapes."""
    from posenet_port.formats.registry import FORMATS

    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such file or directory")
    head = b"" if path.is_dir() else _read_head(path)
    listers = [(fmt, lister_module(fmt.lister)) for fmt in FORMATS.values() if fmt.lister]
    claimed = [(fmt, lister) for fmt, lister in listers if lister.claims(path, head)]
    if not claimed and not path.is_dir():
        claimed = [(fmt, lister) for fmt, lister in listers if fmt.lists_unclaimed_files]
    if not claimed:
        raise ModelFileError(f"{path}: folder holds no model this tool reads "
                             f"({', '.join(fmt.title for fmt, _ in listers)})")
    fmt, lister = claimed[0]
    if fmt.probe:
        probe(path, fmt)
    with reading(path, f"not a readable {fmt.title} model", ModelFileError):
        listing = lister.read(path, probe_size)
    listing.format_name = fmt.name
    return listing


def lister_module(name: str) -> ModuleType:
    return importlib.import_module(name)


def _read_head(path: Path) -> bytes:
    check_regular_file(path, ModelFileError, "model file")  # a FIFO would block the read forever
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError as error:
        raise ModelFileError(f"{path}: cannot read ({error.strerror or error})") from None
    if not head:
        raise ModelFileError(f"{path}: file is empty")
    return head


def channel_axis(sources: Sequence[str], axes: dict[str, int], perm: list[int] | None) -> int:
    """A node's channel axis: its first input's (the image comes in NHWC), moved by a Transpose's `perm`."""
    axis = axes.get(sources[0], 3) if sources else 3
    return perm.index(axis) if perm is not None and axis in perm else axis
