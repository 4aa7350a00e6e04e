"""posenet_port: TensorFlow.js PoseNet rebuilt in Python TensorFlow and exported to every runtime.

The public API, each name loaded when first used (so `import posenet_port` stays cheap and never imports
TensorFlow):

    import posenet_port as pp
    poses = pp.PoseEstimator().estimate_poses(pp.load_image("photo.jpg"))

The package by stage (docs/architecture.md): `model/` (weights, architecture, spec, TF graph), `formats/` (one
folder per format, reached through `formats.registry`), `inference/` (preprocess, decode, estimator, stream,
drawing), `pipeline/` (rebuild and its checks), `oracle/`, `benchmark/`, `web/`, and `cli/`, the commands.
"""
from __future__ import annotations

import importlib
import os
from typing import Any

# TensorFlow's C++ start-up chatter (CUDA probing on a CPU machine) hides our own output; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

_EXPORTS = {
    "PoseEstimator": "posenet_port.inference.estimator",
    "DecodeOptions": "posenet_port.inference.estimator",
    "Pose": "posenet_port.inference.decode",
    "Keypoint": "posenet_port.inference.decode",
    "load_image": "posenet_port.inference.preprocess",
    "PoseStream": "posenet_port.inference.tracking",
    "TrackedPose": "posenet_port.inference.tracking",
    "TrackerOptions": "posenet_port.inference.tracking",
    "SmoothingOptions": "posenet_port.inference.tracking",
    "ModelSpec": "posenet_port.model.spec",
    "ArchitectureConfig": "posenet_port.model.architecture",
    "check_input_size": "posenet_port.model.architecture",
    "snap_input_size": "posenet_port.model.architecture",
    "PosenetWeights": "posenet_port.model.weights",
    "load_weights": "posenet_port.model.weights",
    "PosenetPortError": "posenet_port.errors",
    "ConfigError": "posenet_port.errors",
    "WeightsError": "posenet_port.errors",
    "ModelFileError": "posenet_port.errors",
    "OutputError": "posenet_port.errors",
    "ImageError": "posenet_port.inference.preprocess",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'posenet_port' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return [*__all__, "__version__"]
