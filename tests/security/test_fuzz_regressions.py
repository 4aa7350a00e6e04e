"""Every case a fuzzer found, kept as a file in tests/data/fuzz-regressions/<harness>/ (its README says who found
what): each is replayed through its atheris harness's reader as users meet it (native readers behind the child
probe), and must be read or refused with the project's own error, within bounded memory; `list_nodes` on the
model files prints one error line, never a traceback."""
from __future__ import annotations

import resource
import subprocess
import sys

import pytest
from helpers import REPO

sys.path.insert(0, str(REPO / "tests" / "fuzz"))
from harness import HARNESSES, replay  # noqa: E402 - tests/fuzz is no package

REGRESSIONS = REPO / "tests" / "data" / "fuzz-regressions"
COMPANIONS = {".bin"}  # an OpenVINO IR's weights: read with its .xml
CASES = sorted(p for folder in REGRESSIONS.iterdir() if folder.is_dir() for p in folder.iterdir()
               if p.suffix not in COMPANIONS)
MODEL_SUFFIXES = {".tflite", ".xml", ".json", ".onnx", ".pb"}


def test_every_regression_folder_is_a_harness():
    assert {folder.name for folder in REGRESSIONS.iterdir() if folder.is_dir()} <= set(HARNESSES)


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_found_case_is_read_or_refused_cleanly_in_bounded_memory(path, tmp_path):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    replay(path.parent.name, path.read_bytes(), tmp_path)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before) >> 20
    print(f"{path.name}: peak grew by {grown} MB (limit {HARNESSES[path.parent.name].megabytes} MB)")
    assert grown < HARNESSES[path.parent.name].megabytes


@pytest.mark.parametrize("path", [p for p in CASES if p.suffix in MODEL_SUFFIXES], ids=lambda p: p.name)
def test_list_nodes_prints_one_line_and_no_traceback(path):
    result = subprocess.run([sys.executable, str(REPO / "tools" / "list_nodes.py"), str(path)],
                            capture_output=True, text=True, timeout=300)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(path) in errors[0]
