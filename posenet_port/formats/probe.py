"""A model file from outside is first opened in a child process. Native readers trust the files they parse: a
.tflite with one damaged byte makes LiteRT's interpreter die of a segmentation fault (found by atheris), and a
reader that crashes on a crafted file may be made to do worse. The child lists the model, opens it in its
runtime and runs it once; only a file that survives that is read in this process. A crash costs the child, and
the user gets one line saying what happened.

Formats whose runtime is native declare `Format.probe`; a model rebuild has just written and checked is opened
with `trusted=True`. The verdict is kept per file (path, size, time, inode), so listing then opening probes once.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from posenet_port.errors import ModelFileError, first_line

IN_CHILD = "POSENET_PORT_PROBE_CHILD"  # set in the child: it reads the file itself, in-process
PROBE_SECONDS = 300
_verdicts: dict[tuple, str | None] = {}


def probe(path: Path, format_name: str, title: str) -> None:
    """Refuse `path` (a ModelFileError naming it) if reading, opening or running it kills or fails a child."""
    if os.environ.get(IN_CHILD):
        return
    key = _file_key(path)
    if key not in _verdicts:
        _verdicts[key] = _run_child(path, format_name, title)
    if _verdicts[key] is not None:
        raise ModelFileError(_verdicts[key])


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
