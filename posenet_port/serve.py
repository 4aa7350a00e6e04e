"""`python -m posenet_port.serve`: the browser page that runs the exported tfjs models (posenet_port/cli/serve.py)."""
from posenet_port.cli.console import run_module

run_module(__name__, "serve")
