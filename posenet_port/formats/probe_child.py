"""The child process of probe.py: `python -m posenet_port.formats.probe_child FORMAT PATH` reads a model file as
the parent would (listing, runtime, one run) where a crash of a native reader costs only this process. Exit 0:
read; 2: refused with the project's own error (the parent refuses it the same way); a signal: it crashed."""
from __future__ import annotations

import sys
from pathlib import Path


def main(format_name: str, path: Path) -> int:
    """List the model, and (whether or not that refused it) open it and run it once on a blank image of its
    size: every native reader the parent may call has then met the file here first."""
    import numpy as np

    from posenet_port.errors import PosenetPortError
    from posenet_port.formats.listing import read_model
    from posenet_port.formats.registry import FORMATS

    refused = False
    try:
        read_model(path)
    except PosenetPortError:
        refused = True
    try:
        runner = FORMATS[format_name].open(path)
        size = runner.input_size or 33
        runner(np.zeros((1, size, size, 3), np.float32))
    except PosenetPortError:
        refused = True  # refused cleanly: the parent reads it and refuses it with the same words
    return 2 if refused else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2])))
