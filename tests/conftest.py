"""Shared fixtures: the shipped weights, the rebuilt model, real photos, and the node oracle."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


def photo_paths() -> list[Path]:
    """Real public-domain photos: Grace Hopper (shipped by matplotlib) and the 1927 Solvay group."""
    from posenet_port.samples import sample_photos

    return sample_photos()


@pytest.fixture(scope="session")
def shipped_weights():
    from posenet_port.weights import load_weights

    return load_weights()


@pytest.fixture(scope="session")
def model(shipped_weights):
    from posenet_port.graph import build_model

    return build_model(shipped_weights)


@pytest.fixture(scope="session")
def frozen_pb(model, tmp_path_factory) -> Path:
    from posenet_port.freeze import write_frozen_graph

    return write_frozen_graph(model, tmp_path_factory.mktemp("frozen") / "posenet.pb")


@pytest.fixture(scope="session")
def node_oracle():
    """Real TensorFlow.js needs node and `npm ci`; in CI their absence is a failure, never a skip."""
    from posenet_port.runtime import NodeUnavailableError, node_executable, node_modules_dir

    try:
        node_executable()
        node_modules_dir()
    except NodeUnavailableError as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the TensorFlow.js parity tests: {error}")
        pytest.skip(f"NOT RUN (TensorFlow.js oracle unavailable): {error}")
