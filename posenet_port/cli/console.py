"""The console scripts `pip install .` puts on PATH; each runs one command-line module of this folder, which
`python -m posenet_port.<command>` reaches too (the one-line modules at the package's top)."""
from __future__ import annotations

import importlib
import sys

from posenet_port.cli.common import run_cli

# Every command: its module in this folder, and what it does (docs/cli.md is written from their parsers).
COMMANDS = {
    "rebuild": "weights -> TF graph -> every format, each checked on real photos",
    "estimate": "poses on photos",
    "demo": "live poses from a camera, a video or a folder of photos",
    "serve": "the browser page for the exported tfjs models",
    "bench": "speed of every model and step on this CPU",
    "list_nodes": "the nodes of any PoseNet model and their roles",
    "finetune": "fine-tune PoseNet so its int8 model keeps the float model's keypoints",
}


def _run(command: str) -> int:
    # Imported inside run_cli: a module that loads TensorFlow at import (finetune) logs then, and the filter of
    # native log lines must already be in place.
    return run_cli(lambda argv: importlib.import_module(f"posenet_port.cli.{command}").main(argv))


def run_module(caller: str, command: str) -> None:
    """`python -m posenet_port.<command>`: run the command when the caller is the main module, else nothing."""
    if caller == "__main__":
        sys.exit(_run(command))


def rebuild() -> int:
    return _run("rebuild")


def estimate() -> int:
    return _run("estimate")


def demo() -> int:
    return _run("demo")


def bench() -> int:
    return _run("bench")


def serve() -> int:
    return _run("serve")


def list_nodes() -> int:
    return _run("list_nodes")


def finetune() -> int:
    return _run("finetune")
