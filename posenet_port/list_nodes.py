"""`python -m posenet_port.list_nodes`: the nodes of any PoseNet model and which are its image, heatmap, offsets and displacements (posenet_port/cli/list_nodes.py)."""
from posenet_port.cli.console import run_module

run_module(__name__, "list_nodes")
