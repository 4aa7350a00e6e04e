"""`python -m posenet_port.bench`: speed of every model and step on this CPU, written to BENCHMARKS.md (posenet_port/cli/bench.py)."""
from posenet_port.cli.console import run_module

run_module(__name__, "bench")
