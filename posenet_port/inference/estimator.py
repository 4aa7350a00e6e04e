"""Photos -> poses with any PoseNet model this project reads or writes: weights, a frozen `.pb`.

    from posenet_port.inference.estimator import PoseEstimator
    estimator = PoseEstimator()                      # the shipped weights, run by ONNX Runtime
    estimator = PoseEstimator(engine="tensorflow")   # ... by the TF graph; or PoseEstimator("model.pb")
    poses = estimator.estimate_poses(rgb_image)      # [Pose(score, keypoints=(Keypoint(part, x, y, score), ...))]
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posenet_port.errors import ConfigError, ModelFileError
from posenet_port.formats.artifacts import is_build_folder, spec_from_manifest
from posenet_port.formats.registry import detect_format
from posenet_port.formats.runner import Runner
from posenet_port.inference.decode import (
    DEFAULT_DECODE,
    DecodeOptions,
    Pose,
    check_stride,
    check_tensors,
    decode_multiple_poses,
    decode_single_pose,
)
from posenet_port.inference.preprocess import Letterbox, preprocess
from posenet_port.model.architecture import DEFAULT_OUTPUT_STRIDE, check_input_size
from posenet_port.model.spec import DEFAULT_INPUT_SIZE, ModelSpec


@dataclass(frozen=True)
class NetworkOutputs:
    """One photo's raw outputs as [H, W, C] arrays, heatmap as sigmoid scores, and its placement."""

    scores: np.ndarray
    offsets: np.ndarray
    displacements_fwd: np.ndarray
    displacements_bwd: np.ndarray
    letterbox: Letterbox


def heatmap_scores(outputs: dict[str, np.ndarray]) -> np.ndarray:
    """Sigmoid scores: the model's own `heatmap` if it has one, else computed from the `heatmap_2` logits."""
    if "heatmap" in outputs:
        return outputs["heatmap"]
    logits = outputs["heatmap_2"].astype(np.float32)
    return (np.float32(1) / (np.float32(1) + np.exp(-logits))).astype(np.float32)


def network_outputs(outputs: dict[str, np.ndarray], letterbox: Letterbox, output_stride: int) -> NetworkOutputs:
    """Raw outputs of any runner -> validated [H, W, C] tensors with sigmoid scores, for decoding."""
    tensors = check_tensors(
        heatmap_scores(outputs), outputs["offset_2"],
        (outputs["displacement_fwd_2"], outputs["displacement_bwd_2"]), output_stride,
    )
    check_stride(tensors[0].shape[:2], (letterbox.input_height, letterbox.input_width), output_stride)
    return NetworkOutputs(*tensors, letterbox)


# What runs weights (not a model file, which its own format's runtime runs), by the format whose runner does it:
# ONNX Runtime on the float32 model our ONNX writer makes in memory (within float32 rounding of TensorFlow, starts
# in a fraction of a second, and keeps the process small even with 12 MP photos), or the TensorFlow graph itself
# (the reference the exports are checked against). Each format's runner module has `weights_runner`.
WEIGHT_ENGINES = {"onnxruntime": "onnx", "tensorflow": "tf"}
DEFAULT_ENGINE = "onnxruntime"


def load_runner(model: str | Path | None, output_stride: int | None, threads: int = 2,
                engine: str | None = None) -> tuple[Runner, ModelSpec | None]:
    """A callable on preprocessed batches for a model file of any registered format (by the spec its build's
    manifest records, else found by role), or for weights (run by `engine`); and the spec if known."""
    if engine not in (None, *WEIGHT_ENGINES):
        raise ConfigError(f"engine {engine!r}: choose one of {', '.join(WEIGHT_ENGINES)}")
    if model is not None:
        fmt = detect_format(model)
        if fmt is not None:
            if engine is not None:
                raise ConfigError(f"{model} is a {fmt.name} model, run by its own runtime: drop --engine "
                                  "(it chooses what runs weights)")
            spec = spec_from_manifest(Path(model))
            return fmt.open(model, threads, spec), spec
    from posenet_port.model.weights import load_weights

    weights = load_weights(model)
    spec = ModelSpec(weights.multiplier, output_stride or DEFAULT_OUTPUT_STRIDE)
    runner = importlib.import_module(f"posenet_port.formats.{WEIGHT_ENGINES[engine or DEFAULT_ENGINE]}.runner")
    return runner.weights_runner(weights, spec, threads), spec


MAX_THREADS = 64


def check_threads(threads: int) -> int:
    """A thread count a runtime can take: a whole number from 1 to MAX_THREADS (a million crashes LiteRT)."""
    if not isinstance(threads, (int, np.integer)) or isinstance(threads, bool) or not 1 <= threads <= MAX_THREADS:
        raise ConfigError(f"threads {threads!r}: use a whole number from 1 to {MAX_THREADS}")
    return int(threads)


class PoseEstimator:
    """PoseNet end to end, matching @tensorflow-models/posenet 2.2.2's estimateMultiplePoses / SinglePose."""

    def __init__(
        self,
        model: str | Path | None = None,
        input_size: int | None = None,
        output_stride: int | None = None,
        stretch: bool = False,
        threads: int = 2,
        engine: str | None = None,
    ) -> None:
        """`model`: weights (default: the shipped ones), a model file of any registered format (.pb, SavedModel
        folder, .tflite, .onnx, OpenVINO .xml), or a `rebuild` folder, whose checked model that runs fastest on
        this CPU is used (`self.choice` says which and why). `engine` runs weights: one of WEIGHT_ENGINES
        (default DEFAULT_ENGINE)."""
        check_threads(threads)
        self.choice = None
        if model is not None and Path(model).is_dir() and is_build_folder(Path(model)):
            from posenet_port.inference.choice import choose_model

            self.choice = choose_model(Path(model), threads, input_size)
            if self.choice is None:
                raise ModelFileError(f"{model}: no model of this build that runs here passed its checks; run `make rebuild`")
            model = self.choice.path
        self.runner, self.spec = load_runner(model, output_stride, threads, engine)
        stated_stride = self.spec.output_stride if self.spec else None
        if output_stride and stated_stride and output_stride != stated_stride:
            raise ConfigError(f"{model} has output stride {stated_stride} (its build's manifest says so); "
                              f"drop --output-stride {output_stride}")
        fixed_size = getattr(self.runner, "input_size", None)  # a TFLite model has one input size
        if fixed_size and input_size not in (None, fixed_size):
            raise ConfigError(f"{model} takes {fixed_size}x{fixed_size} inputs only; drop --input-size or use {fixed_size}")
        if input_size is None:  # 0 is an invalid size, refused below, never "the default"
            input_size = fixed_size or DEFAULT_INPUT_SIZE
        self.output_stride = output_stride or stated_stride or self._probe_stride(input_size)
        self.input_size = check_input_size(input_size, self.output_stride)
        self.stretch = stretch

    def _probe_stride(self, input_size: int) -> int:
        offsets = self.runner(np.zeros((1, input_size, input_size, 3), np.float32))["offset_2"]
        if np.ndim(offsets) != 4:
            raise ModelFileError(f"the model's offsets have shape {np.shape(offsets)}; PoseNet's are [1, H, W, 34]")
        return (input_size - 1) // max(offsets.shape[1] - 1, 1)

    def infer(self, image: np.ndarray, color_order: str = "rgb") -> NetworkOutputs:
        batch, letterbox = preprocess(image, self.input_size, self.stretch, color_order)
        return network_outputs(self.runner(batch), letterbox, self.output_stride)

    def decode(self, outputs: NetworkOutputs, options: DecodeOptions = DEFAULT_DECODE) -> list[Pose]:
        if options.single:
            poses = [decode_single_pose(outputs.scores, outputs.offsets, self.output_stride)]
        else:
            poses = decode_multiple_poses(
                outputs.scores, outputs.offsets, outputs.displacements_fwd, outputs.displacements_bwd,
                self.output_stride, options.max_poses, options.score_threshold, options.nms_radius,
            )
        return [pose.scaled(outputs.letterbox) for pose in poses]

    def estimate_poses(self, image: np.ndarray, options: DecodeOptions = DEFAULT_DECODE, color_order: str = "rgb") -> list[Pose]:
        """Poses in the photo's own pixel coordinates, best first."""
        return self.decode(self.infer(image, color_order), options)
