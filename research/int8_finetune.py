"""How far int8 activations move PoseNet's outputs, what fine-tuning under simulated int8 recovers, and how that
moves with the amount of training data.

Each run is `python -m posenet_port.finetune`'s library (training/finetune.py) with one setting changed: the
simulation started from rebuild's GPTQ int8 weights and calibrated as post-training quantization is, then
fine-tuned against the float graph on random views of the tuning photos and vtest.avi's frames. Every model is
measured twice: the gate's keypoints on the validation photos at 257, and the training objective itself (the
distance of its four heads to the float graph's, where the decoder reads them) on the tuning photos and on the
validation photos. The distance is a smooth measure where the keypoint count moves by whole keypoints, and it
puts every model beside what the float graph's own outputs move when a photo is re-saved as JPEG 95 (the change
the 1-byte floor is set by).

    python research/int8_finetune.py --out research/int8_finetune.md
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf
from int8_mixed_activations import layer_macs  # research/, beside this script
from study import publish, study_parser

from posenet_port._util.machine import describe_cpu
from posenet_port.inference.preprocess import preprocess
from posenet_port.model.architecture import HEAD_NAMES as HEADS
from posenet_port.model.int8_simulation import SimulatedInt8
from posenet_port.model.weights import load_weights
from posenet_port.pipeline.photos import NOISE_CHANGES, tuning_photos, validation_photos
from posenet_port.training.finetune import FinetuneConfig, Trainer, distance, finetune

RUNS = ["0:biases:5e-5:10", "1500:biases:5e-5:10", "1500:all:1e-5:0", "1500:all:1e-5:10", "1500:all:1e-5:2"]
LAYOUT_COUNTS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 31)
PARTS = {"heatmap": HEADS[:1], "offsets": HEADS[1:2], "displacements": HEADS[2:]}


@dataclass
class PhotoSet:
    """Photos preprocessed at one size as one batch, and the float graph's heads on it (computed once)."""

    name: str
    photos: list[tuple[str, np.ndarray]]
    size: int
    float_graph: SimulatedInt8

    def __post_init__(self) -> None:
        self.batch = tf.constant(np.concatenate([preprocess(rgb, self.size)[0] for _, rgb in self.photos]))
        self.reference = self.float_graph.heads(self.batch, quantize=False)


def heads_on(heads: Callable[..., dict[str, tf.Tensor]], size: int,
             alter: Callable[[np.ndarray], np.ndarray] = lambda rgb: rgb, **options) -> Callable:
    """A candidate for Trainer.agreement: `heads` (a model's, with `options`) on an RGB photo, `alter`ed first."""
    return lambda rgb: heads(tf.constant(preprocess(alter(rgb), size)[0]), **options)


@dataclass
class Row:
    name: str
    distances: list[float]  # on each photo set
    within: float | None = None  # validation keypoints within 2 px
    ap: float | None = None
    costs: dict[str, float] | None = None
    last_loss: float | None = None


def photo_distance(trainer: Trainer, photos: PhotoSet, **options) -> float:
    """The student's distance to the float graph on `photos` (`options`: SimulatedInt8.heads', e.g. which layers
    are rounded)."""
    return float(distance(trainer.student.heads(photos.batch, **options), photos.reference,
                          trainer.config.output_stride))


def noise_rows(trainer: Trainer, sets: Sequence[PhotoSet]) -> list[Row]:
    """The float graph against itself when each of NOISE_CHANGES alters the photos: distance on every set,
    keypoints on the validation photos."""
    rows = []
    for change, alter in NOISE_CHANGES.items():
        distances = []
        for photos in sets:
            altered = tf.constant(np.concatenate([preprocess(alter(rgb), photos.size)[0] for _, rgb in photos.photos]))
            distances.append(float(distance(trainer.teacher.heads(altered, quantize=False), photos.reference,
                                             trainer.config.output_stride)))
        keypoints = trainer.agreement(sets[-1].photos, heads_on(trainer.teacher.heads, sets[-1].size, alter,
                                                                quantize=False))
        rows.append(Row(f"float graph, {change}", distances, keypoints.within_share, keypoints.ap))
    return rows


def weights_only_row(trainer: Trainer, sets: Sequence[PhotoSet]) -> Row:
    """The student's int8 weights with every activation in float: what int16 activations keep."""
    keypoints = trainer.agreement(sets[-1].photos, heads_on(trainer.student.heads, sets[-1].size, rounded=set()))
    return Row("int8 weights, float activations (what int16x8 keeps)",
               [photo_distance(trainer, s, rounded=set()) for s in sets], keypoints.within_share, keypoints.ap)


def head_costs(trainer: Trainer, photos: PhotoSet) -> dict[str, float]:
    """Share of confident keypoints within 2 px when only these heads come from the int8 simulation."""
    def mixed(rgb: np.ndarray, heads: Sequence[str]) -> dict[str, tf.Tensor]:
        batch = tf.constant(preprocess(rgb, photos.size)[0])
        student, teacher = trainer.student.heads(batch), trainer.teacher.heads(batch, quantize=False)
        return {k: student[k] if k in heads else teacher[k] for k in HEADS}

    return {part: trainer.agreement(photos.photos, lambda rgb, heads=heads: mixed(rgb, heads)).within_share
            for part, heads in PARTS.items()}


def layer_costs(trainer: Trainer, sets: Sequence[PhotoSet]) -> list[list[float]]:
    """Per layer and photo set: the distance added when only that layer's output (conv0's with the input) is on
    the int8 grid; the weights are GPTQ's, already on it, and every other activation is float."""
    weights_only = [photo_distance(trainer, s, rounded=set()) for s in sets]
    return [[photo_distance(trainer, s, rounded={layer}) - base for s, base in zip(sets, weights_only)]
            for layer in range(len(trainer.student.steps))]


def layout_rows(trainer: Trainer, sets: Sequence[PhotoSet], costs: list[list[float]], macs: list[int]) -> list[str]:
    """Mixed layouts: the layers whose int8 output costs most on the tuning photos (chosen there alone) keep
    wide activations (float here, int16 in a model), the rest int8; distance on every set, keypoints on the
    validation photos."""
    order = sorted(range(len(costs)), key=lambda layer: -costs[layer][0])
    rows = []
    for count in LAYOUT_COUNTS:
        wide = order[:count]
        rounded = set(order) - set(wide)
        keypoints = trainer.agreement(sets[-1].photos, heads_on(trainer.student.heads, sets[-1].size,
                                                                rounded=rounded))
        latest = trainer.student.steps[wide[-1]].scope if wide else "none"
        rows.append(f"| {count} | {latest} | {sum(macs[i] for i in rounded) / sum(macs):.0%} | "
                    + " | ".join(f"{photo_distance(trainer, s, rounded=rounded):.4f}" for s in sets)
                    + f" | {keypoints.within_share:.1%} | {keypoints.ap:.3f} |")
    return rows


def parse_run(text: str) -> FinetuneConfig:
    """STEPS:TRAIN:LEARNING_RATE:VIDEO_EVERY, e.g. 1500:biases:5e-5:10 (from rebuild's GPTQ weights)."""
    steps, train, rate, every = text.split(":")
    return replace(FinetuneConfig(), steps=int(steps), start="gptq", train=train, learning_rate=float(rate),
                   video_every=int(every))


def describe(config: FinetuneConfig, pictures: int) -> str:
    if not config.steps:
        return "calibrated, not fine-tuned (post-training quantization)"
    moved = "kernels, biases, ranges" if config.train == "all" else "biases and ranges"
    video = f"one frame in {config.video_every} of vtest.avi" if config.video_every else "no video frame"
    return f"{config.steps} steps, {moved} move (Adam at {config.learning_rate:g}), {pictures} pictures ({video})"


def measured_run(weights, config: FinetuneConfig, sets: Sequence[PhotoSet]) -> tuple[Row, Trainer]:
    result = finetune(weights, config)
    trainer = Trainer(weights, config)
    trainer.student = result.model
    row = Row(describe(config, result.pictures), [photo_distance(trainer, s) for s in sets], result.after.within_share,
              result.after.ap, head_costs(trainer, sets[-1]),
              float(np.mean(result.losses[-100:])) if result.losses else None)
    print(f"{row.name}: {result.after.summary()}; distances {row.distances}; by head {row.costs}", flush=True)
    return row, trainer


def _cell(value: float | None, form: str) -> str:
    return "-" if value is None else format(value, form)


def report(rows: Sequence[Row], noise: Sequence[Row], weights_only: Row, layers: list[str], layouts: list[str],
           sets: Sequence[PhotoSet], runs: Sequence[str], seconds: float) -> str:
    default = FinetuneConfig()
    names = " | ".join(f"distance: {s.name} photos" for s in sets)
    table = [f"| model | {names} | validation: within 2 px | validation: AP | int8 heatmap only | int8 offsets only "
             "| int8 displacements only | distance on the last 100 training batches |",
             "|---|" + "---|" * (len(sets) + 6)]
    for row in [*noise, weights_only, *rows]:
        costs = row.costs or {}
        table.append(f"| {row.name} | " + " | ".join(f"{d:.4f}" for d in row.distances)
                     + f" | {_cell(row.within, '.1%')} | {_cell(row.ap, '.3f')} | "
                     + " | ".join(_cell(costs.get(p), ".1%") for p in PARTS) + f" | {_cell(row.last_loss, '.4f')} |")
    jpeg = noise[0].distances[-1]
    calibrated = rows[0].distances[-1]
    best = min(rows[1:], key=lambda r: r.distances[-1], default=rows[0])
    return "\n".join([
        "# Fine-tuning under simulated int8: how far it goes",
        "",
        f"Written by `python research/int8_finetune.py --runs {' '.join(runs)}` on {describe_cpu()} in {seconds:.0f} s. "
        f"Every int8 model starts from rebuild's GPTQ int8 weights; each fine-tuning run is `python -m "
        f"posenet_port.finetune` with those settings (a warm-up and a cosine decay of the rate, batches of "
        f"{default.batch} random views of the tuning photos and of the stated frames of vtest.avi, seed {default.seed}). "
        "**Distance**: the training objective, the four heads' distance to the float graph's where the decoder reads "
        "them (heatmap logits, offsets in units of 2 px at confident keypoints, displacements where a person is), on "
        f"the {len(sets[0].photos)} tuning photos (trained on) and the {len(sets[-1].photos)} validation photos "
        f"(never), at {default.input_size}. Keypoints as the gate counts them on the validation photos (the 1-byte "
        "floor is 97% within 2 px); the int8 ... only columns decode the float graph's heads with one of them "
        "replaced by the int8 model's.",
        "",
        *table,
        "",
        f"Read: on the validation photos int8 activations put the outputs {calibrated / jpeg:.1f}x as far from the float "
        f"graph's as re-saving the photo as JPEG 95 does; the int8 weights alone {weights_only.distances[-1] / jpeg:.1f}x. "
        f"The best fine-tuning run brings int8 to {best.distances[-1] / jpeg:.1f}x.",
        "",
        "What each layer's int8 output adds to the distance on its own (GPTQ weights, every other activation in "
        "float; conv0's row includes the input's rounding):",
        "",
        "| layer | " + " | ".join(f"added: {s.name} photos" for s in sets) + " |",
        "|---|" + "---|" * len(sets),
        *layers,
        "",
        "Mixed layouts, not fine-tuned: the layers whose int8 output adds most on the tuning photos (the order "
        "above, chosen there alone) keep wide activations (float here; int16 in a model), every other layer "
        "int8. The rows add one layer after another; the last layer added is named.",
        "",
        "| wide layers | the last one added | multiply-adds in int8 | " + " | ".join(f"distance: {s.name} photos"
                                                                            for s in sets)
        + " | validation: within 2 px | validation: AP |",
        "|---|---|---|" + "---|" * (len(sets) + 2),
        *layouts,
        "",
    ])


def main() -> None:
    parser = study_parser(__doc__, __file__)
    parser.add_argument("--runs", nargs="+", default=RUNS, help="STEPS:TRAIN:LEARNING_RATE:VIDEO_EVERY each; "
                        "the first should have 0 steps (the calibrated model the others start from)")
    args = parser.parse_args()
    started = time.perf_counter()
    weights, size = load_weights(), FinetuneConfig().input_size
    float_graph = SimulatedInt8(weights)
    sets = [PhotoSet("tuning", tuning_photos(), size, float_graph),
            PhotoSet("validation", validation_photos(), size, float_graph)]
    rows, layers, layouts, noise, weights_only = [], [], [], [], None
    for config in map(parse_run, args.runs):
        row, trainer = measured_run(weights, config, sets)
        rows.append(row)
        if weights_only is None:
            noise, weights_only, costs = noise_rows(trainer, sets), weights_only_row(trainer, sets), layer_costs(trainer, sets)
            layers = [f"| {step.scope} | " + " | ".join(f"{value:+.4f}" for value in cost) + " |"
                      for step, cost in zip(trainer.student.steps, costs)]
            layouts = layout_rows(trainer, sets, costs, layer_macs(weights, trainer.student.steps))
    text = report(rows, noise, weights_only, layers, layouts, sets, args.runs, time.perf_counter() - started)
    publish(args.out, text)


if __name__ == "__main__":
    main()
