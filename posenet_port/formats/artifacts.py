"""What `rebuild` writes: each artifact's identity, and the manifest that lists them (written last)."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from posenet_port._util.fileio import parse_json_bounded, read_bounded, write_bytes_atomic
from posenet_port.errors import PosenetPortError
from posenet_port.model.spec import ModelSpec
from posenet_port.model.weights import sha256_file

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True, kw_only=True)
class Artifact:
    """One exported model. `name` is unique per build, e.g. `tflite-int8`, `tfjs-float16`; `format` is its
    registry name (formats/registry.py); `recipe` the recipe that made it (the manifest's `quantization`), or what
    the weights are for the TF graphs; a `bundle` is a file in a folder of its own with the files it needs
    (tfjs's model.json and shards, OpenVINO's .xml and .bin)."""

    name: str
    format: str
    recipe: str
    path: Path  # the file, a SavedModel folder, or a bundle's main file
    input_size: int | None = None
    bundle: bool = False
    spec: ModelSpec | None = None

    @property
    def files(self) -> list[Path]:
        """Every file that makes up the artifact."""
        if self.path.is_dir():
            return sorted(p for p in self.path.rglob("*") if p.is_file())
        if self.bundle:
            return sorted(p for p in self.path.parent.iterdir() if p.is_file())
        return [self.path]

    def remove(self) -> None:
        """Delete the artifact's files (and a bundle's folder)."""
        if self.bundle or self.path.is_dir():
            shutil.rmtree(self.path.parent if self.bundle else self.path)
        else:
            self.path.unlink()

    @property
    def size(self) -> int:
        return sum(p.stat().st_size for p in self.files)


class CheckRecord(Protocol):
    """A model's check result as the manifest records it (`pipeline.gate.CheckResult` is one)."""

    def to_dict(self) -> dict: ...


@dataclass
class ManifestEntry:
    artifact: Artifact
    check: CheckRecord | None = None

    def to_dict(self, root: Path) -> dict:
        a = self.artifact
        return {
            "name": a.name,
            "path": str(a.path.relative_to(root)) if a.path.is_relative_to(root) else str(a.path),
            "format": a.format,
            "quantization": a.recipe,
            "input_size": a.input_size,
            "spec": a.spec.to_dict() if a.spec else None,
            "size_bytes": a.size,
            "sha256": {str(p.relative_to(root)): sha256_file(p) for p in a.files},
            "check": self.check.to_dict() if self.check else {"status": "NOT RUN", "note": "checks were not run"},
        }


def write_manifest(root: Path, entries: list[ManifestEntry], source: dict) -> Path:
    """Written last, atomically: its presence says every artifact it lists is complete."""
    document = {"source": source, "artifacts": [entry.to_dict(root) for entry in entries]}
    return write_bytes_atomic(root / MANIFEST_NAME, (json.dumps(document, indent=2) + "\n").encode())


MAX_MANIFEST_BYTES = 16 << 20  # a manifest lists a few dozen models; a larger one vouches for nothing


def read_manifest(folder: Path, error_type: type[Exception] = ValueError) -> Any:
    """The parsed manifest.json of `folder`, read as a bounded regular file; `error_type` for one that cannot be."""
    manifest = Path(folder) / MANIFEST_NAME
    return parse_json_bounded(read_bounded(manifest, error_type, "manifest", MAX_MANIFEST_BYTES), str(manifest),
                              error_type)


def is_build_folder(folder: Path) -> bool:
    """A folder `rebuild` wrote: its manifest.json lists artifacts (a tfjs-models checkpoint's manifest.json maps
    variable names to files instead)."""
    try:
        document = read_manifest(folder)
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and isinstance(document.get("artifacts"), list) and "source" in document


def manifest_specs(folder: Path) -> dict[Path, ModelSpec]:
    """The spec the manifest in `folder` records for each model, by the model's real path; empty when there is no
    readable manifest (a manifest that cannot be read vouches for nothing: its models are treated as foreign)."""
    manifest = Path(folder) / MANIFEST_NAME
    if not manifest.is_file():
        return {}
    try:
        document = read_manifest(folder)
        return {(Path(folder) / entry["path"]).resolve(): ModelSpec.from_dict(entry["spec"], manifest)
                for entry in document.get("artifacts", []) if entry.get("spec")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, PosenetPortError):
        return {}


def spec_from_manifest(model: Path) -> ModelSpec | None:
    """The spec that the manifest of `model`'s build folder records for it; None for a model from elsewhere."""
    model = Path(model).resolve()
    return next((spec for folder in (model.parent, model.parent.parent)
                 if (spec := manifest_specs(folder).get(model)) is not None), None)
