"""What a model file from elsewhere may make us run: the arithmetic of PoseNet's data path, nothing else.

Each format keeps its own op allow-list and checks in its folder (`formats/<format>/ops.py`), reached through the
registry as `Format.allowed_ops`: a frozen graph or SavedModel is cut to the heads' data path and checked op by
op (TensorFlow has ops that read files or run Python), a TFLite model may only use builtin kernels, an ONNX model
only the standard domain with every tensor inside the file, an OpenVINO IR no extension. This module holds what
they share: the error and the refusal that names every op that is not allowed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from posenet_port.errors import ModelFileError


class UnsafeModelError(ModelFileError):
    """A model that would make TensorFlow or LiteRT do more than compute PoseNet's outputs."""


def refuse_unknown_ops(ops: Iterable[tuple[str, str]], allowed: frozenset[str], source: str | Path) -> None:
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
