"""Node.js and the repo's npm packages: real TensorFlow.js for the parity checks, run as subprocesses.
Importing this module does not import TensorFlow."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from posenet_port.errors import ModelFileError, RuntimeUnavailableError

JS_DIR = Path(__file__).resolve().parents[1] / "js"
REPO_ROOT = Path(__file__).resolve().parents[2]


class NodeUnavailableError(RuntimeUnavailableError):
    """Node.js or the repo's npm packages are missing, so real TensorFlow.js cannot run."""


def node_modules_dir() -> Path:
    """The npm packages that hold @tensorflow/tfjs: $POSENET_PORT_NODE_MODULES or the repo's node_modules."""
    configured = os.environ.get("POSENET_PORT_NODE_MODULES")
    directory = Path(configured) if configured else REPO_ROOT / "node_modules"
    if not (directory / "@tensorflow" / "tfjs").is_dir():
        raise NodeUnavailableError(
            f"@tensorflow/tfjs is not installed in {directory}: run `npm ci` in {REPO_ROOT} "
            "(or set POSENET_PORT_NODE_MODULES)"
        )
    return directory


def node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        raise NodeUnavailableError("node (Node.js 18 or newer) is not on PATH: install it to run TensorFlow.js")
    return node


def write_float32(path: Path, array: np.ndarray) -> dict:
    """A tensor as raw little-endian float32 for the node scripts: returns its {path, shape}."""
    np.ascontiguousarray(array, dtype="<f4").tofile(path)
    return {"path": str(path), "shape": list(np.shape(array))}


def run_node_script(script: str, request: dict, result_path: Path, timeout: float, label: str) -> dict:
    """Run one of the package's node scripts on a JSON request; return the JSON it wrote to `result_path`.
    Failures raise ModelFileError starting with `label` (what was being run)."""
    node, modules = node_executable(), node_modules_dir()
    request_path = result_path.with_name(f"{result_path.stem}-request.json")
    request_path.write_text(json.dumps(request))
    completed = subprocess.run(
        [node, str(JS_DIR / script), str(request_path)],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, "NODE_PATH": str(modules)},
    )
    if completed.returncode != 0:
        errors = [line[7:] for line in completed.stderr.splitlines() if line.startswith("ERROR: ")]
        detail = errors[0] if errors else completed.stderr.strip()[-500:] or "no output"
        raise ModelFileError(f"{label}: TensorFlow.js failed: {detail}")
    return json.loads(result_path.read_text())
