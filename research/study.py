"""What every study's command shares: where its report goes (`--out`, by default beside the script) and writing it."""
from __future__ import annotations

import argparse
from pathlib import Path

from posenet_port._util.fileio import write_bytes_atomic


def study_parser(doc: str, script: str) -> argparse.ArgumentParser:
    """A study's command line with its `--out`; `doc` (the study's docstring) gives --help its first line."""
    parser = argparse.ArgumentParser(prog=f"python research/{Path(script).name}", description=doc.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(script).with_suffix(".md"),
                        help="the report (default: the script's name with .md, beside it)")
    return parser


def report_path(doc: str, script: str) -> Path:
    """The report's path, for a study whose command takes nothing else."""
    return study_parser(doc, script).parse_args().out


def publish(path: Path, text: str) -> None:
    """Write the report whole or not at all, and show it."""
    write_bytes_atomic(path, text.encode())
    print(text)
