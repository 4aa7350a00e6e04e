"""tfjs PoseNet weights in every format users have -> one canonical structure (canonical.py).

Formats: tfjs graph models (tfjs_graph.py), tfjs-models 0.x/1.x checkpoints (checkpoint.py), and the weights
shipped in `weights/`, verified against their sha256 (shipped.py). `load_weights` takes any of them.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from posenet_port.errors import WeightsError, reading
from posenet_port.model.weights.canonical import (
    SCOPE,
    BlockWeights,
    ConvWeights,
    PosenetWeights,
    check_finite,
    conv_scopes,
    variable_names,
)
from posenet_port.model.weights.checkpoint import load_checkpoint_manifest, looks_like_checkpoint_manifest
from posenet_port.model.weights.files import read_json
from posenet_port.model.weights.shipped import SHIPPED_WEIGHTS, ShippedWeights, sha256_file, verify_shipped_weights
from posenet_port.model.weights.tfjs_graph import load_graph_model, read_weight_manifest

__all__ = [
    "SCOPE",
    "SHIPPED_WEIGHTS",
    "BlockWeights",
    "ConvWeights",
    "PosenetWeights",
    "ShippedWeights",
    "check_finite",
    "conv_scopes",
    "load_checkpoint_manifest",
    "load_graph_model",
    "load_weights",
    "read_weight_manifest",
    "sha256_file",
    "variable_names",
    "verify_shipped_weights",
]


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
    document = read_json(json_path)
    with reading(json_path, "not PoseNet weights this tool reads", WeightsError):
        weights = _load_document(json_path, document)
    if checksums:
        weights = replace(weights, checksums=checksums, format="shipped tfjs graph model")
    if not allow_non_finite:
        check_finite(weights)
    return weights


def _load_document(json_path: Path, document: object) -> PosenetWeights:
    if isinstance(document, dict) and "weightsManifest" in document:
        return load_graph_model(json_path, document=document)
    if looks_like_checkpoint_manifest(document):
        return load_checkpoint_manifest(json_path, document=document)
    raise WeightsError(
        f"{json_path}: not PoseNet weights: expected a tfjs graph model (with 'weightsManifest') or a "
        "tfjs-models checkpoint manifest.json (variable name -> {filename, shape})"
    )


def _resolve_json(path: Path) -> Path:
    if not path.exists():
        raise WeightsError(f"{path}: no such file or directory")
    if path.is_file():
        return path
    if not path.is_dir():
        raise WeightsError(f"{path}: not a regular file or a folder (a device or a FIFO); give the weights' json file "
                           "or its folder")
    if (path / "manifest.json").is_file():
        return path / "manifest.json"
    candidates = []
    for candidate in sorted(path.glob("*.json")):
        try:
            if "weightsManifest" in read_json(candidate):
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
