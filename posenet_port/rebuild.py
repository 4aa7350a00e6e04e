"""`python -m posenet_port.rebuild`: weights -> TensorFlow graph -> every format, each checked on real photos (posenet_port/cli/rebuild.py)."""
from posenet_port.cli.console import run_module

run_module(__name__, "rebuild")
