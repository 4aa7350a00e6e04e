"""`python -m posenet_port.estimate`: poses on photos, with any model this tool reads or writes (posenet_port/cli/estimate.py)."""
from posenet_port.cli.console import run_module

run_module(__name__, "estimate")
