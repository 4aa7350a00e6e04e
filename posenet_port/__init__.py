"""posenet_port: TensorFlow.js PoseNet rebuilt in Python TensorFlow and exported to every runtime."""
import os

# TensorFlow's C++ start-up chatter (CUDA probing on a CPU machine) hides our own output; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from posenet_port.errors import ConfigError, PosenetPortError, WeightsError
from posenet_port.model.architecture import ArchitectureConfig, check_input_size, snap_input_size
from posenet_port.model.weights import PosenetWeights, load_weights

__version__ = "0.1.0"
__all__ = [
    "ArchitectureConfig",
    "ConfigError",
    "PosenetPortError",
    "PosenetWeights",
    "WeightsError",
    "check_input_size",
    "load_weights",
    "snap_input_size",
]
