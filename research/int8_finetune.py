"""Can fine-tuning under simulated int8 arithmetic, taught by the float graph, keep PoseNet's keypoints where
post-training rounding cannot? A first measurement (no export yet): the network is rebuilt in TensorFlow with int8
simulated (per-channel symmetric int8 weights, per-tensor activation ranges after ReLU6, int8 heads, the int8
input), its ranges calibrated on the tuning photos as post-training quantization does, then fine-tuned to match
the float graph's outputs on augmented tuning photos and frames of vtest.avi. The simulated graph's poses are
compared with the float graph's on the validation photos, before and after, as the gate counts them.

    python research/int8_finetune.py --out research/int8_finetune.md
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from posenet_port._util.fileio import write_bytes_atomic
from posenet_port._util.machine import describe_cpu
from posenet_port.benchmark.video import VTEST, video_frames
from posenet_port.inference.estimator import network_outputs
from posenet_port.inference.preprocess import preprocess
from posenet_port.model.int8_simulation import SimulatedInt8
from posenet_port.model.tf_graph import build_model
from posenet_port.model.weights import load_weights
from posenet_port.pipeline.gate import agreement, compare_poses, decode_input_poses
from posenet_port.pipeline.photos import tuning_photos, validation_photos

SIZE, STRIDE = 257, 16
HEADS = ("heatmap_2", "offset_2", "displacement_fwd_2", "displacement_bwd_2")


def views(rgb: np.ndarray, rng: np.random.Generator, min_side: float) -> np.ndarray:
    """A random crop (min_side-100 % of the side), maybe mirrored, brightness and contrast jittered."""
    height, width = rgb.shape[:2]
    side = rng.uniform(min_side, 1.0)
    crop_h, crop_w = max(32, int(height * side)), max(32, int(width * side))
    top, left = rng.integers(0, height - crop_h + 1), rng.integers(0, width - crop_w + 1)
    view = rgb[top : top + crop_h, left : left + crop_w]
    if rng.random() < 0.5:
        view = view[:, ::-1]
    view = np.clip(view.astype(np.float32) * rng.uniform(0.8, 1.2) + rng.uniform(-20, 20), 0, 255).astype(np.uint8)
    return preprocess(np.ascontiguousarray(view), SIZE)[0]


def loss(student: dict, teacher: dict) -> tf.Tensor:
    """Distance to the float graph where the decoder reads: heatmap logits weighted by the teacher's confidence,
    offsets and displacements near confident keypoints (in units of the output stride)."""
    confidence = tf.sigmoid(teacher["heatmap_2"])
    heat = tf.reduce_mean((1 + 10 * confidence) * tf.square(student["heatmap_2"] - teacher["heatmap_2"]))
    person = tf.reduce_max(confidence, axis=-1, keepdims=True)
    offsets = tf.reduce_mean(tf.concat([confidence] * 2, -1) * tf.square(student["offset_2"] - teacher["offset_2"]))
    moves = sum(tf.reduce_mean(person * tf.square(student[h] - teacher[h])) for h in HEADS[2:])
    return heat + (offsets + moves) / STRIDE**2


def within_2px(model: SimulatedInt8, teacher, photos) -> float:
    comparisons = []
    for _, rgb in photos:
        batch, letterbox = preprocess(rgb, SIZE)
        reference = teacher(batch)
        candidate = {k: v.numpy() for k, v in model.heads(tf.constant(batch)).items()}
        poses = [decode_input_poses(network_outputs(o, letterbox, STRIDE), STRIDE) for o in (reference, candidate)]
        comparisons.append(compare_poses(*poses))
    result = agreement("validation", SIZE, comparisons)
    return result.within / max(result.keypoints, 1)


def fine_tune(weights, teacher, train: list[np.ndarray], validation, args, min_side: float) -> dict:
    """Calibrate on `train`, judge, fine-tune on views of `train`, judge again."""
    rng = np.random.default_rng(args.seed)
    tf.random.set_seed(args.seed)
    model = SimulatedInt8(weights, STRIDE)
    model.calibrate([preprocess(rgb, SIZE)[0] for rgb in train] + [preprocess(rgb[:, ::-1], SIZE)[0] for rgb in train])
    before = within_2px(model, teacher, validation)
    print(f"calibrated, before fine-tuning: {before:.1%} within 2 px", flush=True)
    optimizer = tf.keras.optimizers.Adam(args.learning_rate)

    @tf.function
    def step(batch, targets):
        with tf.GradientTape() as tape:
            value = loss(model.heads(batch), targets)
        optimizer.apply_gradients(zip(tape.gradient(value, model.trainable_variables), model.trainable_variables))
        return value

    history = []
    for index in range(args.steps):
        batch = np.concatenate([views(train[rng.integers(len(train))], rng, min_side) for _ in range(args.batch)])
        outputs = [teacher(image[None]) for image in batch]  # the float graph takes one picture at a time
        targets = {k: tf.constant(np.concatenate([o[k] for o in outputs])) for k in HEADS}
        history.append(float(step(tf.constant(batch), targets)))
        if (index + 1) % 50 == 0:
            print(f"step {index + 1}: loss {np.mean(history[-50:]):.4f}", flush=True)
    return {"before": before, "after": within_2px(model, teacher, validation),
            "first_loss": float(np.mean(history[:50])), "last_loss": float(np.mean(history[-50:]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_suffix(".md"))
    args = parser.parse_args()
    start = time.perf_counter()
    weights = load_weights()
    teacher = build_model(weights, STRIDE)
    validation = validation_photos()
    tuning = [rgb for _, rgb in tuning_photos()] + [f[:, :, ::-1] for f in list(video_frames(VTEST))[::40]]
    runs = {
        f"trained on {len(tuning)} pictures: the tuning photos and every 40th frame of vtest.avi, crops of "
        "30-100 % of the side": fine_tune(weights, teacher, tuning, validation, args, 0.3),
        "diagnostic only, trained on the validation photos themselves, whole (can this loss move the figure "
        "at all?)": fine_tune(weights, teacher, [rgb for _, rgb in validation], validation, args, 1.0),
    }
    rows = "".join(f"| {name} | {r['before']:.1%} | {r['after']:.1%} | {r['first_loss']:.3f} -> {r['last_loss']:.3f} |\n"
                   for name, r in runs.items())
    text = (
        "# Fine-tuning under simulated int8: a first measurement\n\n"
        f"Written by `python research/int8_finetune.py --steps {args.steps} --batch {args.batch} --learning-rate "
        f"{args.learning_rate} --seed {args.seed}` on {describe_cpu()} in {time.perf_counter() - start:.0f} s. "
        "Each run calibrates the ranges on its training pictures (min / max, weights rounded to nearest: "
        "post-training quantization), then fine-tunes with Adam on random views (mirrors, brightness, contrast). "
        f"Judged on the {len(validation)} validation photos at {SIZE} as the gate counts: confident keypoints of "
        "the simulated int8 graph within 2 px of the float graph's.\n\n"
        "| run | within 2 px, calibrated | after fine-tuning | loss, first -> last 50 steps |\n|---|---|---|---|\n"
        + rows
    )
    write_bytes_atomic(args.out, text.encode())
    print(text)


if __name__ == "__main__":
    main()
