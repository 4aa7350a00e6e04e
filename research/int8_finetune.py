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
from posenet_port.model.architecture import HEAD_NAMES as HEADS
from posenet_port.model.weights import load_weights
from posenet_port.pipeline.gate import agreement, compare_poses, decode_input_poses
from posenet_port.pipeline.photos import validation_photos
from posenet_port.training.finetune import FinetuneConfig, Trainer, finetune

RUNS = ["0:float:all:1e-5", "0:gptq:all:1e-5", "1500:gptq:all:1e-5", "1500:gptq:biases:5e-5"]
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


def layer_costs(trainer: Trainer, photos) -> list[float]:
    """Per layer: the share of confident keypoints within 2 px when only that layer's weights and output are
    rounded (everything else float)."""
    size, stride = trainer.config.input_size, trainer.config.output_stride
    prepared = [preprocess(rgb, size) for _, rgb in photos]
    references = [decode_input_poses(network_outputs({k: v.numpy() for k, v in trainer.teacher.heads(
        tf.constant(batch), quantize=False).items()}, letterbox, stride), stride) for batch, letterbox in prepared]
    shares = []
    for layer in range(len(trainer.student.steps)):
        comparisons = []
        for (batch, letterbox), reference in zip(prepared, references):
            outputs = {k: v.numpy() for k, v in trainer.student.heads(tf.constant(batch), rounded={layer}).items()}
            comparisons.append(compare_poses(reference, decode_input_poses(network_outputs(outputs, letterbox, stride),
                                                                           stride)))
        shares.append(agreement("validation", size, comparisons).within_share)
    return shares


def layer_table(trainer: Trainer, shares: list[float]) -> list[str]:
    if not shares:
        return []
    return ["The calibrated simulation with one layer's rounding alone (its int8 weights and its int8 output; every "
            "other layer and the input in float):", "", "| layer | within 2 px |", "|---|---|",
            *(f"| {step.scope} | {share:.1%} |" for step, share in zip(trainer.student.steps, shares)), ""]


def parse_run(text: str) -> FinetuneConfig:
    """STEPS:START:TRAIN:LEARNING_RATE, e.g. 1500:gptq:biases:5e-5."""
    steps, start, train, rate = text.split(":")
    return replace(FinetuneConfig(), steps=int(steps), start=start, train=train, learning_rate=float(rate))


def describe(config: FinetuneConfig) -> str:
    if not config.steps:
        return f"0: {config.start} weights, calibrated (post-training quantization)"
    moved = "kernels, biases, ranges" if config.train == "all" else "biases and ranges"
    return f"{config.steps} from {config.start}, {moved} move, Adam at {config.learning_rate:g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=RUNS, help="STEPS:START:TRAIN:LEARNING_RATE each")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_suffix(".md"))
    args = parser.parse_args()
    started = time.perf_counter()
    weights, validation = load_weights(), validation_photos()
    rows, by_layer, trainer = [], [], None
    for config in map(parse_run, args.runs):
        result = finetune(weights, config)
        trainer = Trainer(weights, config)
        trainer.student = result.model
        costs = head_costs(trainer, validation)
        if not config.steps and config.start == "float":
            by_layer = layer_costs(trainer, validation)
        rows.append((describe(config), result.after, costs))
        print(f"{describe(config)}: {result.after.summary()}; by head {costs}", flush=True)
    default = FinetuneConfig()
    table = ["| steps, start, what moves | within 2 px | AP | mean OKS | int8 heatmap only | int8 offsets only "
             "| int8 displacements only |", "|---|---|---|---|---|---|---|"]
    for name, judged, costs in rows:
        table.append(f"| {name} | {judged.within_share:.1%} | {judged.ap:.3f} | {judged.mean_oks:.3f} | "
                     + " | ".join(f"{costs[p]:.1%}" for p in ("heatmap", "offsets", "displacements")) + " |")
    text = "\n".join([
        "# Fine-tuning under simulated int8: how far it goes",
        "",
        f"Written by `python research/int8_finetune.py --runs {' '.join(args.runs)}` on {describe_cpu()} in "
        f"{time.perf_counter() - started:.0f} s. Each run is `python -m posenet_port.finetune` with those settings "
        f"(a warm-up and a cosine decay of the rate, batches of {default.batch} random views of the tuning photos and "
        f"every {default.video_every}th frame of vtest.avi, seed {default.seed}). Judged on the {len(validation)} "
        f"validation photos at {default.input_size}: confident keypoints of the int8 simulation within 2 px of the "
        "float graph's; the last three columns decode the float graph's heads with one of them replaced by the "
        "simulation's.",
        "",
        *table,
        "",
        *layer_table(trainer, by_layer),
    ])
    write_bytes_atomic(args.out, text.encode())
    print(text)


if __name__ == "__main__":
    main()
