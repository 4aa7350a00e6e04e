"""python -m posenet_port.rebuild: tfjs PoseNet weights -> frozen TensorFlow graph and SavedModel.

Library API: `rebuild(weights_path, output_stride, out_dir)` returns the artifacts it wrote.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .architecture import OUTPUT_STRIDES, ArchitectureConfig
from .cli import StepTimer, human_size, path_size, run_cli
from .weights import load_weights

DEFAULT_OUT = Path("build")


@dataclass(frozen=True)
class Artifact:
    path: Path
    format: str

    @property
    def size(self) -> int:
        return path_size(self.path)


def rebuild(
    weights_path: str | Path | None = None,
    output_stride: int = 16,
    out_dir: str | Path = DEFAULT_OUT,
    allow_non_finite: bool = False,
    timer: StepTimer | None = None,
) -> list[Artifact]:
    """Load weights, rebuild the graph, write `<name>.pb` and `<name>_savedmodel/` into `out_dir`."""
    timer = timer or StepTimer(total=4)
    out_dir = Path(out_dir)
    with timer.step(f"loading weights from {weights_path or 'the shipped weights (sha256 verified)'}"):
        weights = load_weights(weights_path, allow_non_finite=allow_non_finite)
        # Validate the stride before TensorFlow is even imported: a bad setting fails in milliseconds.
        config = ArchitectureConfig(weights.multiplier, output_stride)
    with timer.step(f"building the TF graph (multiplier {config.multiplier:.2f}, output stride {output_stride})"):
        from .graph import build_model

        model = build_model(weights, output_stride)
    from .freeze import write_frozen_graph, write_saved_model

    frozen = out_dir / f"{config.name}.pb"
    with timer.step(f"freezing to {frozen}"):
        write_frozen_graph(model, frozen)
    saved = out_dir / f"{config.name}_savedmodel"
    with timer.step(f"writing the SavedModel {saved}"):
        write_saved_model(model, saved)
    return [Artifact(frozen, "frozen graph"), Artifact(saved, "SavedModel")]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m posenet_port.rebuild",
        description="Rebuild tfjs PoseNet (MobileNetV1) as a TensorFlow graph: frozen .pb and SavedModel "
        "with the canonical node names image, heatmap, heatmap_2, offset_2, displacement_fwd_2, displacement_bwd_2.",
    )
    parser.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="tfjs graph model (model.json or its folder) or tfjs-models checkpoint (manifest.json or its folder); "
        "default: the shipped MobileNetV1 0.75 weights",
    )
    parser.add_argument(
        "--output-stride", type=int, choices=OUTPUT_STRIDES, default=16,
        help="output stride; 8 uses atrous convolution, 32 needs multiplier 1.00 (default: 16)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: build/)")
    parser.add_argument(
        "--allow-non-finite", action="store_true", help="load weights holding NaN or Inf (for experiments)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    artifacts = rebuild(args.weights, args.output_stride, args.out, args.allow_non_finite)
    print("\nartifacts:")
    for artifact in artifacts:
        print(f"  {artifact.format:<13} {human_size(artifact.size):>10}  {artifact.path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
