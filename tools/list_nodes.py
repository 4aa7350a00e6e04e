#!/usr/bin/env python3
"""python tools/list_nodes.py MODEL: every node of a PoseNet model, and which are the image, heatmap, offsets and
displacements. A thin wrapper over posenet_port.cli.list_nodes (also `python -m posenet_port.list_nodes`)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from posenet_port.cli.common import run_cli  # noqa: E402
from posenet_port.cli.list_nodes import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_cli(main))
