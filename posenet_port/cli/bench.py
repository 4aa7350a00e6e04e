"""python -m posenet_port.bench (posenet-bench): measured speed on this machine, written to BENCHMARKS.md.
The figures also go to benchmarks.json and the chart to benchmarks.png.

Every figure is a median over repeated runs after warm-up, with p10 / p90 for spread, and ratios are taken
against a baseline measured in the same process. Sections can be run alone; the report keeps the others.
The measuring, the sections and the report live in `posenet_port.benchmark`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from posenet_port._util.machine import keep_freed_memory
from posenet_port.benchmark.measure import LatencySpec, worker
from posenet_port.benchmark.report import run
from posenet_port.benchmark.sections import SECTIONS
from posenet_port.cli.common import add_verbose_argument, int_in, run_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m posenet_port.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}")
    parser.add_argument("--runs", type=int_in(1, 100_000), default=200, help="timed runs per measurement (default: 200)")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for BENCHMARKS.md and benchmarks.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one latency measurement in its own process
    add_verbose_argument(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(LatencySpec(**json.loads(args.worker)))))
        return 0
    keep_freed_memory()
    names = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = [name for name in names if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    run(names, args.runs, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
