"""Shared fixtures: the shipped weights, the rebuilt model, and the node oracle (helpers/ holds the functions tests share)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from helpers import REBUILD_TIMEOUT, BackgroundModule


@pytest.fixture(scope="session", autouse=True)
def probe_cache(tmp_path_factory):
    """The child probe's remembered passes (formats/probe.py) go to this session's folder, shared by the commands
    the tests start, not to the user's cache; a test about probing itself sets its own."""
    from posenet_port.formats.probe import CACHE_ENV

    folder = tmp_path_factory.mktemp("probe-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(folder))
        yield folder


def pytest_report_header(config) -> str:
    """Float results depend on the CPU's kernels: name them at the top of every report."""
    from posenet_port._util.machine import describe_cpu

    return f"CPU: {describe_cpu()}"


def pytest_terminal_summary(terminalreporter) -> None:
    """What the float parity tests measured, identical or within the bound (tests/helpers/parity.py)."""
    from helpers.parity import MEASURED, RELATIVE

    if MEASURED:
        terminalreporter.section(f"float parity measured (bound: {RELATIVE:g} * (1 + max |value|), tests/helpers/parity.py)")
        for difference in MEASURED:
            terminalreporter.write_line(str(difference))


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


def reads_the_rebuild(item: pytest.Item) -> bool:
    return "rebuilt" in item.fixturenames  # the closure: also through a fixture that asks for it


def pytest_collection_modifyitems(items) -> None:
    """The tests that read the shared rebuild run after the others: the rebuild runs beside them
    (rebuild_in_background), which leave the second core mostly idle, and is done, or nearly, when they need it.
    The tests marked both_cores come last, when the rebuild has ended: beside it the emulated CPU took half as long
    again (360 s against 238 s)."""
    items.sort(key=lambda item: 2 if item.get_closest_marker("both_cores") else int(reads_the_rebuild(item)))


@pytest.fixture(scope="session", autouse=True)
def rebuild_in_background(request, tmp_path_factory):
    """One real `python -m posenet_port.rebuild` with every recipe of every format asked for by name (so the
    failing ones are written too) and the checks, started as the session starts if any selected test reads it."""
    if not any(map(reads_the_rebuild, request.session.items)):
        yield None
        return
    from posenet_port.formats.registry import export_formats

    out = tmp_path_factory.mktemp("build")
    named = [arg for name, fmt in export_formats().items() for arg in (f"--{name}", ",".join(fmt.recipes))]
    rebuild = BackgroundModule("rebuild", "--out", out, "--require-node", *named, log_dir=out.parent)
    yield out, rebuild
    rebuild.stop()  # still running if the session ended first (-x, Ctrl-C, no node)


@pytest.fixture(scope="session")
def rebuilt(rebuild_in_background, node_oracle) -> Path:
    """The shared rebuild's folder, once it has finished and passed."""
    out, rebuild = rebuild_in_background
    result = rebuild.result(timeout=REBUILD_TIMEOUT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # A quiet console: none of TensorFlow's, LiteRT's or the quantizers' own lines (seen before quiet.py).
    native = re.compile(r"^[IWE]\d{4} |cuda|cuDNN|absl::|XNNPACK|fully_quantize|^WARNING:root", re.I | re.M)
    assert not native.search(result.stdout + result.stderr), native.findall(result.stdout + result.stderr)[:5]
    return out
