"""Reading the files a model json names: bounded, regular files only, never outside the model's folder."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from posenet_port._util.fileio import check_regular_file, parse_json_bounded, read_bounded
from posenet_port.errors import WeightsError

MAX_JSON_BYTES = 64 << 20


MAX_TENSOR_BYTES = 64 << 20  # MobileNetV1 1.00's largest kernel is 4 MB


def read_json(path: Path) -> Any:
    check_regular_file(path, WeightsError)
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise WeightsError(f"{path}: {size} bytes is too large for a model json (limit {MAX_JSON_BYTES})")
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise WeightsError(f"{path}: cannot read ({error.strerror or error})") from None
    return parse_json_bounded(data, path, WeightsError)


def file_inside(directory: Path, relative: Any, origin: Path) -> Path:
    """Resolve a file named by a model json; refuse names that leave the model's folder."""
    if not isinstance(relative, str) or not relative:
        raise WeightsError(f"{origin}: file name {relative!r} is not a non-empty string")
    base = directory.resolve()
    target = (base / relative).resolve()
    if Path(relative).is_absolute() or not target.is_relative_to(base):
        raise WeightsError(f"{origin}: refusing file {relative!r}: it lies outside the model folder {base}")
    return target


def read_file(path: Path, origin: Path, what: str) -> bytes:
    """A file a model json names, refused before it is read if it is missing, not a regular file or larger than
    any PoseNet weights."""
    if not path.exists() and not path.is_symlink():
        raise WeightsError(f"{path}: {what} named in {origin.name} is missing")
    return read_bounded(path, WeightsError, what, MAX_TENSOR_BYTES)


def parse_shape(shape: Any, origin: Path, name: str) -> list[int]:
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise WeightsError(f"{origin}: {name} has shape {shape!r}, expected a list of integers")
    if any(d < 0 for d in shape):
        raise WeightsError(f"{origin}: {name} has negative dimension in shape {shape}")
    return shape
