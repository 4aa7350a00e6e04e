"""tfjs-models 0.x/1.x checkpoints: `manifest.json` mapping variable names to raw float32 files, plain or gzip."""
from __future__ import annotations

import gzip
import io
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from posenet_port.errors import WeightsError
from posenet_port.model.weights.canonical import PosenetWeights, variable_names
from posenet_port.model.weights.files import MAX_TENSOR_BYTES, file_inside, parse_shape, read_file, read_json

_GZIP_MAGIC = b"\x1f\x8b"


def looks_like_checkpoint_manifest(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and bool(document)
        and all(isinstance(entry, dict) and "filename" in entry for entry in document.values())
    )


def load_checkpoint_manifest(manifest_path: Path, document: Any = None) -> PosenetWeights:
    """Read a tfjs-models checkpoint; files may be gzip-encoded (as the web server sent them)."""
    manifest_path = Path(manifest_path)
    document = read_json(manifest_path) if document is None else document
    if not looks_like_checkpoint_manifest(document):
        raise WeightsError(f"{manifest_path}: not a tfjs-models checkpoint manifest (name -> {{filename, shape}})")
    variables = {}
    for name in variable_names():
        entry = document.get(name)
        if entry is None:
            raise WeightsError(f"{manifest_path}: variable {name} is missing; this is not a PoseNet checkpoint")
        shape = parse_shape(entry.get("shape"), manifest_path, name)
        expected = math.prod(shape) * 4
        if expected > MAX_TENSOR_BYTES:  # refused before any buffer is made: a gzip file could inflate to it
            raise WeightsError(
                f"{manifest_path}: {name} claims shape {shape} ({expected} bytes); no PoseNet tensor exceeds "
                f"{MAX_TENSOR_BYTES} bytes"
            )
        path = file_inside(manifest_path.parent, entry.get("filename"), manifest_path)
        data = _maybe_gunzip(read_file(path, manifest_path, f"weight file of {name}"), path, expected)
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
