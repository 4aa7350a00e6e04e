"""Where int8 arithmetic moves PoseNet's keypoints, and what fine-tuning under simulated int8 does about it.

Each run is `python -m posenet_port.finetune`'s library (training/finetune.py) with one setting changed: the
simulation calibrated as post-training quantization is, then fine-tuned against the float graph on random views
of the tuning photos and vtest.avi's frames. Judged on the validation photos at 257 as the gate counts, and broken
down by head: the float graph's four heads with one of them replaced by the int8 simulation's, decoded.

    python research/int8_finetune.py --out research/int8_finetune.md
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import tensorflow as tf

from posenet_port._util.fileio import write_bytes_atomic
from posenet_port._util.machine import describe_cpu
from posenet_port.inference.estimator import network_outputs
from posenet_port.inference.preprocess import preprocess
from posenet_port.model.weights import load_weights
from posenet_port.pipeline.gate import agreement, compare_poses, decode_input_poses
from posenet_port.pipeline.photos import validation_photos
from posenet_port.training.finetune import HEADS, FinetuneConfig, Trainer, finetune

PARTS = {"heatmap": HEADS[:1], "offsets": HEADS[1:2], "displacements": HEADS[2:], "all four": HEADS}


def head_costs(trainer: Trainer, photos) -> dict[str, float]:
    """Share of confident keypoints within 2 px when only these heads come from the int8 simulation."""
    size, stride = trainer.config.input_size, trainer.config.output_stride
    outputs = []
    for _, rgb in photos:
        batch, letterbox = preprocess(rgb, size)
        teacher = {k: v.numpy() for k, v in trainer.teacher.heads(tf.constant(batch), quantize=False).items()}
        student = {k: v.numpy() for k, v in trainer.student.heads(tf.constant(batch)).items()}
        outputs.append((teacher, student, letterbox))
    costs = {}
    for part, heads in PARTS.items():
        comparisons = []
        for teacher, student, letterbox in outputs:
            mixed = {k: student[k] if k in heads else teacher[k] for k in HEADS}
            reference, candidate = (decode_input_poses(network_outputs(o, letterbox, stride), stride)
                                    for o in (teacher, mixed))
            comparisons.append(compare_poses(reference, candidate))
        costs[part] = agreement("validation", size, comparisons).within_share
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[0, 500, 2000])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_suffix(".md"))
    args = parser.parse_args()
    started = time.perf_counter()
    weights, validation = load_weights(), validation_photos()
    rows = []
    for steps in args.steps:
        result = finetune(weights, replace(FinetuneConfig(), steps=steps))
        trainer = Trainer(weights, result.config)
        trainer.student = result.model
        costs = head_costs(trainer, validation)
        rows.append((f"{steps}" if steps else "0 (calibrated, as post-training quantization)", result.after, costs))
        print(f"{steps} steps: {result.after.summary()}; by head {costs}", flush=True)
    default = FinetuneConfig()
    header = "| steps | within 2 px | AP | mean OKS | int8 heatmap only | int8 offsets only | int8 displacements only |"
    table = [header, "|---|---|---|---|---|---|---|"]
    for steps, judged, costs in rows:
        by_head = [f"{costs[p]:.1%}" for p in ("heatmap", "offsets", "displacements")]
        table.append(f"| {steps} | {judged.within_share:.1%} | {judged.ap:.3f} | {judged.mean_oks:.3f} | "
                     + " | ".join(by_head) + " |")
    text = "\n".join([
        "# Fine-tuning under simulated int8: how far it goes",
        "",
        f"Written by `python research/int8_finetune.py --steps {' '.join(map(str, args.steps))}` on {describe_cpu()} "
        f"in {time.perf_counter() - started:.0f} s. Each run: `python -m posenet_port.finetune --steps N` (Adam at "
        f"{default.learning_rate} with a warm-up and a cosine decay, batches of {default.batch} random views of the "
        f"tuning photos and every {default.video_every}th frame of vtest.avi, seed {default.seed}). Judged on the "
        f"{len(validation)} validation photos at {default.input_size}: confident keypoints of the int8 simulation "
        "within 2 px of the float graph's; the last three columns decode the float graph's heads with one of them "
        "replaced by the simulation's.",
        "",
        *table,
        "",
    ])
    write_bytes_atomic(args.out, text.encode())
    print(text)


if __name__ == "__main__":
    main()
