"""Fine-tuning PoseNet under simulated int8 arithmetic, taught by the float graph (issue 26).

The student is model/int8_simulation.py's SimulatedInt8: every rounding of a full-integer int8 TFLite model
made visible, gradients straight through. Its ranges start where post-training quantization puts them (min and
max over views of the training pictures); then kernels, biases and ranges move to bring its four heads close to
the float graph's on random views, where the decoder reads them. No labels: the float graph is the teacher.
"""
from __future__ import annotations

import hashlib
import platform
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from posenet_port.errors import ConfigError
from posenet_port.inference.estimator import network_outputs
from posenet_port.inference.preprocess import preprocess
from posenet_port.model.architecture import HEAD_NAMES
from posenet_port.model.int8_simulation import SimulatedInt8
from posenet_port.model.weights import PosenetWeights
from posenet_port.pipeline.checks import scored_agreement
from posenet_port.pipeline.gate import AGREEMENT_PX, Agreement, compare_poses, decode_input_poses
from posenet_port.pipeline.photos import TUNING_PEOPLE, VTEST, tuning_photos, validation_photos
from posenet_port.training.views import ViewOptions, random_batch, training_pictures

MONITOR_VIEWS = 16
CONFIDENT_WEIGHT = 10.0  # a heatmap cell the teacher is sure of counts this much more than one it rules out


@dataclass(frozen=True)
class FinetuneConfig:
    """One training run; with the same config and versions it gives the same figures (within 0.5 points)."""

    steps: int = 1500
    batch: int = 4
    learning_rate: float = 5e-5  # for biases and ranges; the kernels too need 1e-5 (1e-4 threw the network off)
    seed: int = 0
    input_size: int = 257
    output_stride: int = 16
    video_every: int = 10  # every n-th frame of vtest.avi joins the tuning photos (0: none)
    calibration_views: int = 64
    start: str = "gptq"  # the student's first weights: "gptq" (the int8 grid GPTQ chooses) or "float"
    # What moves: "biases" (biases and ranges, 1 % of the variables) or "all" (kernels too, which fit the training
    # pictures and moved the validation photos' outputs away from the float graph's with 14 or 94 pictures, and
    # with 412 brought them less close than the biases alone: research/int8_finetune.md)
    train: str = "biases"
    views: ViewOptions = field(default_factory=ViewOptions)


@dataclass
class FinetuneResult:
    model: SimulatedInt8
    config: FinetuneConfig
    pictures: int
    losses: list[float]
    before: Agreement  # the calibrated simulation (post-training quantization) on the validation photos
    after: Agreement
    seconds: float


def distance(student: dict[str, tf.Tensor], teacher: dict[str, tf.Tensor], output_stride: int) -> tf.Tensor:
    """How far the student's heads are from the teacher's where the decoder reads them, each term in the units of
    what it moves: heatmap logits (cells the teacher is confident of weigh more); offsets at confident keypoints,
    in units of the gate's 2 px (a keypoint is its cell plus its offset: int8 offsets alone cost 30 points of
    the gate, the heatmap 3, the displacements 4-7); displacements where a person is, in quarters of the output
    stride (a displaced point only matters once it falls in another cell, whose offset then places it)."""
    confidence = tf.sigmoid(teacher["heatmap_2"])
    cells = 1 + CONFIDENT_WEIGHT * confidence
    heat = tf.reduce_sum(cells * tf.square(student["heatmap_2"] - teacher["heatmap_2"])) / tf.reduce_sum(cells)
    keypoints = tf.concat([confidence] * 2, -1)
    offsets = _weighted_mean(keypoints, tf.square(student["offset_2"] - teacher["offset_2"])) / AGREEMENT_PX**2
    person = tf.reduce_max(confidence, axis=-1, keepdims=True)
    moves = sum(_weighted_mean(person, tf.square(student[h] - teacher[h])) for h in HEAD_NAMES[2:]) / (output_stride / 4)**2
    return heat + offsets + moves


def _weighted_mean(weights: tf.Tensor, values: tf.Tensor) -> tf.Tensor:
    weights = tf.broadcast_to(weights, tf.shape(values))
    return tf.reduce_sum(weights * values) / (tf.reduce_sum(weights) + 1e-6)


class Trainer:
    """The student, its float teacher (the same network on the original weights) and one compiled step."""

    def __init__(self, weights: PosenetWeights, config: FinetuneConfig, student: PosenetWeights | None = None) -> None:
        self.config = config
        self.teacher = SimulatedInt8(weights, config.output_stride)
        self.student = SimulatedInt8(student or weights, config.output_stride)
        # A short warm-up (Adam's first steps at full rate threw the network off), then a cosine decay to 0.
        warmup = max(1, config.steps // 10)
        schedule = tf.keras.optimizers.schedules.CosineDecay(0.0, max(1, config.steps - warmup),
                                                             warmup_target=config.learning_rate, warmup_steps=warmup)
        self.optimizer = tf.keras.optimizers.Adam(schedule)
        if config.train not in ("all", "biases"):
            raise ConfigError(f"train {config.train!r}: choose all or biases")
        kernels = {id(k) for k in self.student.kernels}
        self.variables = [v for v in self.student.trainable_variables if config.train == "all" or id(v) not in kernels]
        self.step = tf.function(self._step)

    def _step(self, batch: tf.Tensor) -> tf.Tensor:
        target = self.teacher.heads(batch, quantize=False)
        with tf.GradientTape() as tape:
            value = distance(self.student.heads(batch), target, self.config.output_stride)
        self.optimizer.apply_gradients(zip(tape.gradient(value, self.variables), self.variables))
        return value

    def distance_on(self, batch: np.ndarray) -> float:
        """The student's distance to the teacher on `batch`, without training."""
        return float(distance(self.student.heads(tf.constant(batch)), self.teacher.heads(tf.constant(batch),
                                                                                       quantize=False),
                              self.config.output_stride))

    def agreement(self, photos: Sequence[tuple[str, np.ndarray]],
                  candidate: Callable[[np.ndarray], dict[str, tf.Tensor]] | None = None) -> Agreement:
        """The student's decoded poses against the float graph's, as the gate counts them; `candidate` (heads of
        an RGB photo) replaces the student, e.g. the float graph on an altered photo."""
        size, stride = self.config.input_size, self.config.output_stride
        heads_of = candidate or (lambda rgb: self.student.heads(tf.constant(preprocess(rgb, size)[0])))
        comparisons, references, candidates = [], [], []
        for _, rgb in photos:
            batch, letterbox = preprocess(rgb, size)
            outputs = [{k: v.numpy() for k, v in heads.items()} for heads in
                       (self.teacher.heads(tf.constant(batch), quantize=False), heads_of(rgb))]
            reference, poses = (decode_input_poses(network_outputs(o, letterbox, stride), stride) for o in outputs)
            comparisons.append(compare_poses(reference, poses))
            references.append(reference)
            candidates.append(poses)
        return scored_agreement("validation", size, comparisons, references, candidates)


def finetune(weights: PosenetWeights, config: FinetuneConfig = FinetuneConfig(),
             progress: Callable[[str], None] = print) -> FinetuneResult:
    """Calibrate the simulation on views of the training pictures, judge it, fine-tune it, judge it again."""
    started = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    tf.random.set_seed(config.seed)
    pictures = training_pictures(config.video_every)
    trainer = Trainer(weights, config, starting_weights(weights, config, progress))
    calibration = random_batch(pictures, config.calibration_views, config.input_size, rng, config.views)
    trainer.student.calibrate(calibration[i:i + config.batch] for i in range(0, len(calibration), config.batch))
    validation = validation_photos()
    before = trainer.agreement(validation)
    progress(f"{len(pictures)} training pictures; calibrated (post-training quantization): {before.summary()}")
    # The same views throughout, so that the printed distance moves only with the weights.
    monitor = random_batch(pictures, MONITOR_VIEWS, config.input_size, rng, config.views)
    progress(f"distance on {MONITOR_VIEWS} fixed views of the training pictures: {trainer.distance_on(monitor):.4f}")
    losses = []
    for index in range(config.steps):
        batch = random_batch(pictures, config.batch, config.input_size, rng, config.views)
        losses.append(float(trainer.step(tf.constant(batch))))
        if (index + 1) % 100 == 0 or index + 1 == config.steps:
            spent = time.perf_counter() - started
            left = spent / (index + 1) * (config.steps - index - 1)
            progress(f"step {index + 1}/{config.steps}: distance {np.mean(losses[-100:]):.4f} on the last 100 batches, "
                     f"{trainer.distance_on(monitor):.4f} on the fixed views ({spent:.0f} s, about {left:.0f} s left)")
    after = trainer.agreement(validation)
    progress(f"fine-tuned: {after.summary()}")
    return FinetuneResult(trainer.student, config, len(pictures), losses, before, after, time.perf_counter() - started)


def starting_weights(weights: PosenetWeights, config: FinetuneConfig, progress: Callable[[str], None]) -> PosenetWeights:
    """The student's first weights: the float ones, or the int8 grid GPTQ chooses on the tuning photos (rebuild's
    int8-gptq weights), where the simulation's rounding to nearest keeps them."""
    if config.start == "float":
        return weights
    if config.start != "gptq":
        raise ConfigError(f"start {config.start!r}: choose gptq or float")
    from posenet_port.model.rounding import GRIDS, round_weights
    from posenet_port.pipeline.calibration import calibration_batches

    batches = calibration_batches([rgb for _, rgb in tuning_photos()], config.input_size)
    progress(f"placing the weights on the int8 grid with GPTQ ({len(batches)} calibration views)")
    return round_weights(weights, config.output_stride, batches, GRIDS["int8"])


def provenance(result: FinetuneResult, weights: PosenetWeights, command: str, written: bytes) -> dict:
    """What made the fine-tuned weights, so they can be made again and checked."""
    import cv2

    from posenet_port._util.machine import describe_cpu

    return {
        "command": command,
        "config": asdict(result.config),
        "data": {"tuning_photos": ["check photos", *TUNING_PEOPLE], "video": VTEST.name,
                 "video_sha256": hashlib.sha256(VTEST.read_bytes()).hexdigest(),
                 "video_every": result.config.video_every, "pictures": result.pictures,
                 "never": "the validation photos (pipeline/photos.py VALIDATION_PEOPLE)"},
        "base_weights": weights.source,
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__, "numpy": np.__version__,
                     "opencv": cv2.__version__},
        "machine": describe_cpu(),
        "seconds": round(result.seconds),
        "distance": {"first_100_steps": float(np.mean(result.losses[:100])) if result.losses else None,
                     "last_100_steps": float(np.mean(result.losses[-100:])) if result.losses else None},
        "validation": {name: {"within_2px": a.within_share, "keypoints": a.keypoints, "ap": a.ap, "mean_oks": a.mean_oks,
                              "equal_pose_counts": a.equal_count_share}
                       for name, a in (("calibrated", result.before), ("fine_tuned", result.after))},
        "sha256": hashlib.sha256(written).hexdigest(),
    }
