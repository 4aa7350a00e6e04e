"""The registry of formats. Everything that exports, runs, lists, checks, times or picks models goes through this
table, so a new format is a folder of its own (its `Format`, exporter, runner, lister, op allow-list) and one
`register(...)` line below.
"""
from __future__ import annotations

from pathlib import Path

from posenet_port.errors import ModelFileError
from posenet_port.formats import onnx, openvino, tf, tfjs, tflite
from posenet_port.formats.base import Format
from posenet_port.formats.runner import Runner
from posenet_port.model.spec import ModelSpec

FORMATS: dict[str, Format] = {}


def register(*formats: Format) -> None:
    for fmt in formats:
        FORMATS[fmt.name] = fmt


def export_formats() -> dict[str, Format]:
    """The formats rebuild can write, in registry order."""
    return {name: fmt for name, fmt in FORMATS.items() if fmt.exporter}


def detect_format(path: str | Path) -> Format | None:
    """The format of a model file by its name (a folder by the file that marks it); None when no format claims it."""
    path = Path(path)
    if path.is_dir():
        return next((fmt for fmt in FORMATS.values() if fmt.folder_marker and (path / fmt.folder_marker).is_file()), None)
    return next((fmt for fmt in FORMATS.values() if path.suffix.lower() in fmt.suffixes), None)


def open_model(path: str | Path, threads: int = 2, spec: ModelSpec | None = None) -> Runner:
    """A runner for a model file of any registered format; `spec` (from the manifest) names its nodes."""
    fmt = FORMATS.get(spec.format) if spec is not None else detect_format(path)
    if fmt is None:
        known = ", ".join(s for f in FORMATS.values() for s in f.suffixes)
        raise ModelFileError(f"{path}: not a model file this tool runs ({known}, or a SavedModel folder)")
    return fmt.open(path, threads, spec)


register(*tf.FORMATS)
register(tflite.FORMAT)
register(tfjs.FORMAT)
register(onnx.FORMAT)
register(openvino.FORMAT)
