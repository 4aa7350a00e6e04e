"""A model file from outside is first opened in a child process. Native readers trust the files they parse: a
.tflite with one damaged byte makes LiteRT's interpreter die of a segmentation fault (found by atheris), and a
reader that crashes on a crafted file may be made to do worse. The child lists the model, opens it in its
runtime and runs it once; only a file that survives that is read in this process. A crash costs the child, and
the user gets one line saying what happened.

Formats whose runtime is native declare `Format.probe`; a model rebuild has just written and checked is opened
with `trusted=True`. The verdict is kept per file (path, size, time, inode), so listing then opening probes once.
A pass is also remembered across runs, by content: the sha256 of the model's files, the runtimes' versions and
this folder's code name a record in the user's cache (POSENET_PORT_CACHE, else $XDG_CACHE_HOME/posenet_port or
~/.cache/posenet_port). The same bytes meet the same readers the same way, so a model is probed once, not at every
start of the demo (a child that imports TensorFlow costs seconds); one changed byte, an upgraded runtime or an
edited reader probes it again. Crashes are never remembered: such a file is probed, and refused, every time.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Protocol

from posenet_port._util.fileio import read_bounded, write_bytes_atomic
from posenet_port.errors import ModelFileError, PosenetPortError, first_line

IN_CHILD = "POSENET_PORT_PROBE_CHILD"  # set in the child: it reads the file itself, in-process
CACHE_ENV = "POSENET_PORT_CACHE"
PROBE_SECONDS = 300
RUNTIMES = ("tensorflow", "ai-edge-litert", "onnxruntime", "openvino", "posenet_port")
MAX_PARTS = 1000  # files of a folder model worth hashing; a folder of more is probed every time
_verdicts: dict[tuple, str | None] = {}


class Format(Protocol):
    """What the probe needs of a format (formats/base.py's Format, which imports this module)."""

    name: str
    title: str
    companions: tuple[str, ...]


def probe(path: Path, fmt: Format) -> None:
    """Refuse `path` (a ModelFileError naming it) if reading, opening or running it kills or fails a child."""
    if os.environ.get(IN_CHILD):
        return
    key = _file_key(path)
    if key not in _verdicts:
        _verdicts[key] = _verdict(path, fmt)
    if _verdicts[key] is not None:
        raise ModelFileError(_verdicts[key])


def cache_dir() -> Path:
    """The user's cache of this tool (POSENET_PORT_CACHE, else $XDG_CACHE_HOME/posenet_port or ~/.cache/...)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "posenet_port"


def pass_record(path: Path, fmt: Format) -> Path | None:
    """Where a pass of these exact files, read by these runtimes and this code, is recorded; None when the model's
    files cannot all be read as regular files (the child meets them, and refuses them, as before)."""
    digest = hashlib.sha256(_environment_digest())
    try:
        for part in _model_parts(path, fmt):
            data = read_bounded(part, ModelFileError, "model file")
            digest.update(f"{part.relative_to(path) if path.is_dir() else part.suffix} {len(data)}\n".encode())
            digest.update(data)
    except (PosenetPortError, OSError, ValueError):
        return None
    return cache_dir() / "probed" / digest.hexdigest()


def _verdict(path: Path, fmt: Format) -> str | None:
    record = pass_record(path, fmt)
    if record is not None and record.is_file():
        return None
    verdict = _run_child(path, fmt.name, fmt.title)
    if verdict is None and record is not None:
        _remember(record, path, fmt)
    return verdict


def _remember(record: Path, path: Path, fmt: Format) -> None:
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(record, json.dumps({"format": fmt.name, "first_path": str(path.resolve()),
                                               "probed": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())
    except OSError:
        pass  # a cache that cannot be written (read-only home, full disk) only means probing again next time


def _model_parts(path: Path, fmt: Format) -> list[Path]:
    """The files a runtime reads for this model: the file and its companions, or every file of a folder model."""
    if not path.is_dir():
        return [path, *(path.with_suffix(suffix) for suffix in fmt.companions)]
    parts = []
    for folder, folders, names in os.walk(path):
        if any(os.path.islink(os.path.join(folder, name)) for name in folders):
            raise ValueError(f"{path}: a linked folder inside (its files could change unseen)")
        parts += (Path(folder) / name for name in names)  # read_bounded refuses any that is not a regular file
        if len(parts) > MAX_PARTS:
            raise ValueError(f"{path}: more than {MAX_PARTS} files")
    return sorted(parts)


@functools.lru_cache(maxsize=1)
def _environment_digest() -> bytes:
    """The runtimes' versions, Python's, and the code of the formats' readers (an edited reader probes again)."""
    digest = hashlib.sha256(sys.version.encode())
    for name in RUNTIMES:
        try:
            digest.update(f"{name} {metadata.version(name)}\n".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name} absent\n".encode())
    for source in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(source.read_bytes())
    return digest.digest()


def vouch(path: Path) -> None:
    """A file rebuild has just written and checked: read in this process without a test run, also where its
    runner lists it first (a SavedModel's runner finds its nodes through read_model)."""
    _verdicts[_file_key(path)] = None


def _file_key(path: Path) -> tuple:
    target = path / "saved_model.pb" if path.is_dir() else path
    try:
        status = target.stat()
    except OSError:
        return (str(path.resolve()),)
    return (str(path.resolve()), status.st_size, status.st_mtime_ns, status.st_ino)


def _run_child(path: Path, format_name: str, title: str) -> str | None:
    """None if the child read, opened and ran the model or refused it cleanly (the parent refuses it the same way
    when it reads it), else what to tell the user."""
    command = [sys.executable, "-m", "posenet_port.formats.probe_child", format_name, str(path)]
    try:
        child = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=PROBE_SECONDS,
                               env={**os.environ, IN_CHILD: "1", "TF_CPP_MIN_LOG_LEVEL": "3"})
    except subprocess.TimeoutExpired:
        return f"{path}: reading this {title} model took over {PROBE_SECONDS} s in a test run; refused"
    if child.returncode < 0:
        name = signal.Signals(-child.returncode).name
        return (f"{path}: {title} crashed reading this model ({name}): the file is damaged or crafted; refused "
                "(nothing of it was read in this process)")
    if child.returncode not in (0, 2):
        return f"{path}: reading this {title} model failed in a test run ({first_line(child.stderr)})"
    return None
