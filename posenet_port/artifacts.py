"""What `rebuild` writes: each artifact's identity, and the manifest that lists them (written last)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .fileio import write_bytes_atomic
from .weights import sha256_file

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class Artifact:
    """One exported model. `name` is unique per build, e.g. `tflite-int8`, `tfjs-float16`."""

    name: str
    format: str  # frozen graph, SavedModel, tflite, tfjs
    quantization: str
    path: Path  # the file, or a tfjs model.json, or a SavedModel folder
    input_size: int | None = None

    @property
    def files(self) -> list[Path]:
        """Every file that makes up the artifact."""
        if self.path.is_dir():
            return sorted(p for p in self.path.rglob("*") if p.is_file())
        if self.format == "tfjs":
            return sorted(p for p in self.path.parent.iterdir() if p.is_file())
        return [self.path]

    @property
    def size(self) -> int:
        return sum(p.stat().st_size for p in self.files)


@dataclass
class ManifestEntry:
    artifact: Artifact
    check: dict = field(default_factory=dict)

    def to_dict(self, root: Path) -> dict:
        a = self.artifact
        return {
            "name": a.name,
            "path": str(a.path.relative_to(root)) if a.path.is_relative_to(root) else str(a.path),
            "format": a.format,
            "quantization": a.quantization,
            "input_size": a.input_size,
            "size_bytes": a.size,
            "sha256": {str(p.relative_to(root)): sha256_file(p) for p in a.files},
            "check": self.check or {"status": "NOT RUN", "note": "checks were not run"},
        }


def write_manifest(root: Path, entries: list[ManifestEntry], source: dict) -> Path:
    """Written last, atomically: its presence says every artifact it lists is complete."""
    document = {"source": source, "artifacts": [entry.to_dict(root) for entry in entries]}
    return write_bytes_atomic(root / MANIFEST_NAME, (json.dumps(document, indent=2) + "\n").encode())
