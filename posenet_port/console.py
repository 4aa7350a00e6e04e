"""The console scripts `pip install .` puts on PATH; each runs one command-line module (also `python -m`)."""
from __future__ import annotations

import importlib

from .cli import run_cli


def _run(module: str) -> int:
    return run_cli(importlib.import_module(f"posenet_port.{module}").main)


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
