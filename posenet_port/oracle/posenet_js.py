"""@tensorflow-models/posenet 2.2.2 in node: the reference our decoder and pipeline are checked against."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from posenet_port._util.nodejs import run_node_script, write_float32
from posenet_port.inference.decode import DEFAULT_DECODE, Keypoint, Pose
from posenet_port.model.architecture import DEFAULT_OUTPUT_STRIDE
from posenet_port.model.spec import DEFAULT_INPUT_SIZE


@dataclass(frozen=True)
class DecodeSettings:
    output_stride: int = DEFAULT_OUTPUT_STRIDE
    single: bool = DEFAULT_DECODE.single
    max_detections: int = DEFAULT_DECODE.max_poses
    score_threshold: float = DEFAULT_DECODE.score_threshold
    nms_radius: float = DEFAULT_DECODE.nms_radius

    def to_js(self) -> dict:
        return {
            "outputStride": self.output_stride,
            "single": self.single,
            "maxDetections": self.max_detections,
            "scoreThreshold": self.score_threshold,
            "nmsRadius": self.nms_radius,
        }


def pose_from_js(pose: dict) -> Pose:
    keypoints = tuple(
        Keypoint(k["part"], float(k["position"]["x"]), float(k["position"]["y"]), float(k["score"]))
        for k in pose["keypoints"]
    )
    return Pose(float(pose["score"]), keypoints)


class PosenetJs:
    """Runs posenet 2.2.2's own code in a node subprocess; one process per call, many jobs per process."""

    def __init__(self, timeout: float = 900) -> None:
        self.timeout = timeout
        self.milliseconds: list[float] = []

    def decode(self, tensor_sets: Sequence[dict[str, np.ndarray]], settings: DecodeSettings,
               repeat: int = 1, warmup: int = 0) -> list[list[Pose]]:
        """posenet's decodeMultiplePoses / decodeSinglePose on given [H, W, C] tensors
        (keys: scores, offsets, fwd, bwd). Each set is decoded `warmup` times, then `repeat` times timed:
        `self.milliseconds` holds the times per set."""
        with tempfile.TemporaryDirectory(prefix="posenet-decode-") as work:
            jobs = []
            for index, tensors in enumerate(tensor_sets):
                job = {key: write_float32(Path(work) / f"{index}_{key}.bin", tensors[key]) for key in ("scores", "offsets", "fwd", "bwd")}
                jobs.append({**job, **settings.to_js(), "repeat": repeat, "warmup": warmup})
            request = {"mode": "decode", "outFile": str(Path(work) / "poses.json"), "jobs": jobs}
            result = run_node_script("posenet_run.js", request, Path(request["outFile"]), self.timeout, "posenet decoders")
            self.milliseconds = result["milliseconds"]
            return [[pose_from_js(pose) for pose in poses] for poses in result["poses"]]

    def estimate(self, model_json: str | Path, images: Sequence[np.ndarray], settings: DecodeSettings, **options) -> list[list[Pose]]:
        """posenet.load({modelUrl}) then estimateMultiplePoses / estimateSinglePose on RGB uint8 photos; `options`
        as `estimate_many`, except that `fix_model` defaults to True (for models exported elsewhere, see
        posenet_run.js; our own exports need no fix-up)."""
        return self.estimate_many([model_json], images, settings, **{"fix_model": True, **options})[0]

    def estimate_many(
        self,
        models: Sequence[str | Path],
        images: Sequence[np.ndarray],
        settings: DecodeSettings,
        input_resolution: int = DEFAULT_INPUT_SIZE,
        multiplier: float = 0.75,
        backend: str = "cpu",
        fix_model: bool = False,
    ) -> list[list[list[Pose]]]:
        """Several models in one node process: poses per model, per image."""
        with tempfile.TemporaryDirectory(prefix="posenet-estimate-") as work:
            jobs = []
            for index, image in enumerate(images):
                path = Path(work) / f"{index}.rgb"
                np.ascontiguousarray(image, dtype=np.uint8).tofile(path)
                jobs.append({"image": {"path": str(path), "shape": list(image.shape)}, **settings.to_js()})
            request = {
                "mode": "estimate",
                "outFile": str(Path(work) / "poses.json"),
                "backend": backend,
                "models": [str(Path(model).resolve()) for model in models],
                "fixModel": fix_model,
                "outputStride": settings.output_stride,
                "multiplier": multiplier,
                "inputResolution": input_resolution,
                "jobs": jobs,
            }
            label = f"{', '.join(map(str, models))} in posenet ({backend} backend)"
            result = run_node_script("posenet_run.js", request, Path(request["outFile"]), self.timeout, label)
            self.milliseconds = result["milliseconds"]
            return [[[pose_from_js(p) for p in poses] for poses in per_model] for per_model in result["poses"]]
