"""A toy format's exporter, for the registry test: the network's weights and spec in one .npz file."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from posenet_port._util.fileio import write_bytes_atomic


def export(source, recipe, path: Path) -> Path:
    if recipe.variant != "float64":
        raise ValueError(f"toy variant {recipe.variant!r}")
    temp = path.with_name(path.name + ".part.npz")
    np.savez(temp, spec=np.frombuffer(json.dumps(source.spec.to_dict()).encode(), np.uint8), **source.weights.variables())
    write_bytes_atomic(path, temp.read_bytes())
    temp.unlink()
    return path
