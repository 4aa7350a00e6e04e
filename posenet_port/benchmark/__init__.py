"""The benchmark behind `python -m posenet_port.bench`: measure.py (timings, the machine, one model in its own
process), sections.py (what is measured), report.py (BENCHMARKS.md, benchmarks.json, the chart)."""
