"""`python -m posenet_port.demo`: live poses from a camera, a video file or a folder of photos (posenet_port/cli/demo.py)."""
from posenet_port.cli.console import run_module

run_module(__name__, "demo")
