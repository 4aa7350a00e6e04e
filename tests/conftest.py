"""Shared fixtures: the shipped weights, the rebuilt model, real photos, and the node oracle."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def pytest_report_header(config) -> str:
    """Float results depend on the CPU's kernels: name them at the top of every report."""
    from posenet_port._util.machine import describe_cpu

    return f"CPU: {describe_cpu()}"


def pytest_terminal_summary(terminalreporter) -> None:
    """What the float parity tests measured, identical or within the bound (tests/parity.py)."""
    from parity import MEASURED, RELATIVE

    if MEASURED:
        terminalreporter.section(f"float parity measured (bound: {RELATIVE:g} * (1 + max |value|), tests/parity.py)")
        for difference in MEASURED:
            terminalreporter.write_line(str(difference))


def pytest_sessionfinish(session) -> None:
    """For a run nested in another (tests/test_other_cpus.py): hand the measured differences back as JSON."""
    from dataclasses import asdict

    from parity import MEASURED

    report = os.environ.get("POSENET_PORT_PARITY_REPORT")
    if report:
        Path(report).write_text(json.dumps([asdict(d) for d in MEASURED]))


def photo_paths() -> list[Path]:
    """Real public-domain photos: Grace Hopper (shipped by matplotlib) and the 1927 Solvay group."""
    from posenet_port.pipeline.photos import sample_photos

    return sample_photos()


@pytest.fixture(scope="session")
def shipped_weights():
    from posenet_port.model.weights import load_weights

    return load_weights()


@pytest.fixture(scope="session")
def model(shipped_weights):
    from posenet_port.model.tf_graph import build_model

    return build_model(shipped_weights)


@pytest.fixture(scope="session")
def frozen_pb(model, tmp_path_factory) -> Path:
    from posenet_port.model.freeze import write_frozen_graph

    return write_frozen_graph(model, tmp_path_factory.mktemp("frozen") / "posenet.pb")


@pytest.fixture(scope="session")
def node_oracle():
    """Real TensorFlow.js needs node and `npm ci`; in CI their absence is a failure, never a skip."""
    from posenet_port._util.nodejs import NodeUnavailableError, node_executable, node_modules_dir

    try:
        node_executable()
        node_modules_dir()
    except NodeUnavailableError as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the TensorFlow.js parity tests: {error}")
        pytest.skip(f"NOT RUN (TensorFlow.js oracle unavailable): {error}")


def require_compiled(implementation: str, source: str) -> None:
    """The C parts pip builds (setup.py): CI must test them, a C compiler being part of its setup; elsewhere an
    install without a compiler runs the Python versions, and these tests say they did not run."""
    if implementation.startswith("compiled"):
        return
    message = f"posenet_port/{source} was not built (pip install -e . needs a C compiler)"
    if os.environ.get("CI"):
        pytest.fail(f"CI must test the compiled code: {message}")
    pytest.skip(f"NOT RUN: {message}")


def run_module(module: str, *args, env=None) -> subprocess.CompletedProcess:
    """`python -m posenet_port.<module> args...` from the repo, captured."""
    return subprocess.run(
        [sys.executable, "-m", f"posenet_port.{module}", *map(str, args)],
        capture_output=True, text=True, cwd=REPO, timeout=900, env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session")
def rebuilt(tmp_path_factory, node_oracle) -> Path:
    """One real `python -m posenet_port.rebuild` with every recipe of every format asked for by name (so the
    failing ones are written too) and the checks, shared by the tests."""
    from posenet_port.formats.registry import export_formats

    out = tmp_path_factory.mktemp("build")
    named = [arg for name, fmt in export_formats().items() for arg in (f"--{name}", ",".join(fmt.recipes))]
    result = run_module("rebuild", "--out", out, "--require-node", *named)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # A quiet console: none of TensorFlow's, LiteRT's or the quantizers' own lines (seen before quiet.py).
    native = re.compile(r"^[IWE]\d{4} |cuda|cuDNN|absl::|XNNPACK|fully_quantize|^WARNING:root", re.I | re.M)
    assert not native.search(result.stdout + result.stderr), native.findall(result.stdout + result.stderr)[:5]
    return out


def nearest_rounding(weights, bits: int):
    """`weights` with every kernel rounded to the nearest value of a per-output-channel symmetric `bits`-bit grid
    (what converters do): the baseline GPTQ must beat, and with few bits a deliberately coarse model."""
    import numpy as np

    from posenet_port.model.weights import ConvWeights, PosenetWeights

    levels = 2 ** (bits - 1) - 1

    def nearest(conv):
        axes = (0, 1, 3) if conv.kernel.shape[-1] == 1 else (0, 1, 2)  # depthwise kernels are [3, 3, C, 1]
        scale = np.abs(conv.kernel).max(axis=axes, keepdims=True) / levels
        scale[scale == 0] = 1
        return ConvWeights((np.round(conv.kernel / scale) * scale).astype(np.float32), conv.bias)

    return PosenetWeights.from_convs([nearest(c) for c in weights.convs()])


def tfjs_pipeline_poses(model_json: Path, photos, input_size: int = 257):
    """Our Python pipeline on a tfjs model: its outputs from real TensorFlow.js (wasm), our decoder, photo
    coordinates. What posenet 2.2.2 in node or a browser must reproduce for the same model."""
    from posenet_port.formats.tfjs.runner import TfjsNodeRunner
    from posenet_port.inference.estimator import network_outputs
    from posenet_port.inference.preprocess import preprocess
    from posenet_port.pipeline.checks import decode_input_poses

    batches = [preprocess(rgb, input_size) for rgb in photos]
    raw = TfjsNodeRunner(model_json, backend="wasm", dynamic_input=False).run_many([b for b, _ in batches])
    return [
        [pose.scaled(box) for pose in decode_input_poses(network_outputs(outputs, box, 16), 16)]
        for (_, box), outputs in zip(batches, raw)
    ]
