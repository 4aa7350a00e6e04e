"""Where a full-integer TFLite model loses accuracy, layer by layer (TFLite's quantization debugger).

    python research/int8_layer_errors.py build/posenet_mobilenet_v1_075_stride16_int8-grid.pb

Converts the frozen graph to int8 as `rebuild` does (calibrated on the tuning photos) and prints, for every
quantized tensor, the error of the int8 op against the float op fed the same int8 inputs: RMS error over the
tensor's quantization step (1/sqrt(12) = 0.289 is pure rounding of the output, nothing else) and relative to the
tensor's RMS value. Used as the evidence for the int8 recipes in README.md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from posenet_port.cli.common import run_cli  # noqa: E402


def layer_errors(frozen_pb: Path, input_size: int = 257, debug_photos: int = 6) -> list[tuple[str, float, float]]:
    import tensorflow as tf

    from posenet_port.formats.listing import read_model
    from posenet_port.formats.roles import identify_roles
    from posenet_port.formats.tflite.export import _dataset
    from posenet_port.pipeline.calibration import calibration_photos, representative_inputs

    roles = identify_roles(read_model(frozen_pb, probe_size=input_size))
    converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
        str(frozen_pb), [roles.image.node], roles.output_names(),
        input_shapes={roles.image.node: [1, input_size, input_size, 3]})
    calibration = representative_inputs(calibration_photos(None), input_size)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = _dataset(calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]

    def over_step(f, q, scale, zero_point):
        return float(np.sqrt(np.mean((f - (q.astype(np.float32) - zero_point) * scale) ** 2)) / scale)

    def relative(f, q, scale, zero_point):
        error = np.sqrt(np.mean((f - (q.astype(np.float32) - zero_point) * scale) ** 2))
        return float(error / (np.sqrt(np.mean(f.astype(np.float64) ** 2)) + 1e-12))

    options = tf.lite.experimental.QuantizationDebugOptions(
        layer_direct_compare_metrics={"over_step": over_step, "relative": relative})
    step = max(len(calibration) // debug_photos, 1)
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=_dataset(calibration[::step]), debug_options=options)
    debugger.run()
    return [(name.split(";")[0].replace("NumericVerify/", ""), stats["over_step"], stats["relative"])
            for name, stats in debugger.layer_statistics.items()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python research/int8_layer_errors.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("frozen_pb", type=Path, help="a PoseNet frozen graph (.pb), e.g. rebuild's int8-grid graph")
    parser.add_argument("--input-size", type=int, default=257)
    args = parser.parse_args(argv)
    print("| tensor | RMS error / quantization step | RMS error / RMS value |")
    print("|---|---|---|")
    for name, over_step, relative in layer_errors(args.frozen_pb, args.input_size):
        print(f"| {name} | {over_step:.3f} | {100 * relative:.2f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
