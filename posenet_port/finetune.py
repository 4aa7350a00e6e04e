"""`python -m posenet_port.finetune`: fine-tune PoseNet under simulated int8 arithmetic (posenet_port/cli/finetune.py)."""
from posenet_port.cli.console import run_module

run_module(__name__, "finetune")
