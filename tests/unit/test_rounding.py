"""Weights placed on a format's grid by GPTQ: they lie on the grid the converter uses (so conversion changes
nothing more), and they keep the network's outputs closer to the float network's than nearest rounding."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from helpers import AVX2_KERNELS, gptq_rounding, layers_rounded_differently, nearest_rounding, numpy_kernels

from posenet_port.inference.preprocess import load_image, preprocess
from posenet_port.model.freeze import write_frozen_graph
from posenet_port.model.rounding import GRIDS, round_weights
from posenet_port.model.tf_graph import build_model
from posenet_port.pipeline.photos import PEOPLE, VALIDATION_PEOPLE

# Other sums than this CPU's own kernels: OpenBLAS's AVX kernels (no FMA, no AVX-512) on one thread, and what an
# AVX2-only CPU runs (NumPy's loops, OpenBLAS and oneDNN stopped at AVX2), both at this CPU's speed.
OTHER_KERNELS = {
    "avx-one-thread": {"OPENBLAS_CORETYPE": "Sandybridge", "OPENBLAS_NUM_THREADS": "1"},
    "avx2-cpu": AVX2_KERNELS,
}


@pytest.fixture(scope="module")
def calibration():
    return gptq_rounding.calibration()


@pytest.fixture(scope="module")
def int8_rounded(calibration):
    return gptq_rounding.int8_rounding(calibration)


def test_int8_grid_weights_are_what_tflite_stores(int8_rounded, calibration, tmp_path):
    """TFLite recomputes each channel's scale from its largest weight: the int8 tensors it writes, dequantised,
    are our weights (an independent reading of the converted file)."""
    from posenet_port.formats.tflite.export import export_tflite
    from posenet_port.formats.tflite.runner import interpreter_class

    frozen = write_frozen_graph(build_model(int8_rounded), tmp_path / "rounded.pb")
    model = export_tflite(frozen, tmp_path / "int8.tflite", "int8", 129, calibration)
    interpreter = interpreter_class()(model_path=str(model))
    stored = []
    for tensor in interpreter.get_tensor_details():
        scales = tensor["quantization_parameters"]["scales"]
        if tensor["dtype"] == np.int8 and len(scales) > 1:
            values = interpreter.get_tensor(tensor["index"]).astype(np.float32)
            axis = tensor["quantization_parameters"]["quantized_dimension"]
            shape = [1] * values.ndim
            shape[axis] = -1
            stored.append(np.moveaxis(values * scales.reshape(shape), axis, -1).reshape(-1, values.shape[axis]))
    assert len(stored) == len(int8_rounded.convs())
    for conv in int8_rounded.convs():
        kernel = conv.kernel
        ours = kernel.reshape(-1, kernel.shape[2]) if kernel.shape[-1] == 1 else kernel.transpose(3, 0, 1, 2).reshape(kernel.shape[3], -1).T
        # Channels of near-zero weights (|w| < 1e-5, dead in the original) get a floor scale from TFLite: compare
        # against the layer's largest weight, not each value.
        tolerance = 1e-6 * float(np.abs(ours).max())
        match = [s for s in stored if s.shape == ours.shape and np.abs(s - ours).max() <= tolerance]
        assert match, f"no int8 tensor of the TFLite model holds the rounded kernel of shape {kernel.shape}"


def test_float16_grid_weights_are_float16_values(shipped_weights, calibration):
    rounded = round_weights(shipped_weights, 16, calibration[:2], GRIDS["float16"])
    for conv in rounded.convs():
        for values in (conv.kernel, conv.bias):  # float16 models store biases as float16 too
            np.testing.assert_array_equal(values, values.astype(np.float16).astype(np.float32))


def test_gptq_keeps_outputs_closer_than_nearest_rounding_on_an_unseen_photo(shipped_weights, int8_rounded):
    image = preprocess(load_image(PEOPLE / f"{VALIDATION_PEOPLE[0]}.jpg"), 129)[0]
    reference = build_model(shipped_weights)(image)
    errors = {}
    for label, weights in (("nearest", nearest_rounding(shipped_weights, bits=8)), ("GPTQ", int8_rounded)):
        outputs = build_model(weights)(image)
        errors[label] = {name: float(np.sqrt(np.mean((outputs[name] - reference[name]) ** 2)))
                         for name in ("heatmap_2", "offset_2", "displacement_fwd_2")}
        moved = max(float(np.abs(w.kernel - s.kernel).max() / max(np.abs(s.kernel).max(), 1e-12))
                    for w, s in zip(weights.convs(), shipped_weights.convs()))
        print(f"{label}: RMS output error {errors[label]}, largest weight change {moved:.3f} of the layer's max")
    for name in errors["GPTQ"]:
        assert errors["GPTQ"][name] < 0.7 * errors["nearest"][name], (name, errors)


def test_int8_x86_grid_weights_are_what_the_onnx_quantizer_stores(shipped_weights, calibration, tmp_path):
    """The int8-x86 grid's 7-bit layers are what ONNX Runtime's quantizer stores with reduce_range (-64..64,
    scale max |w| / 64) and its depthwise layers what it stores without: every int8 kernel of the QDQ model,
    dequantised, is the rounded kernel, and only the depthwise ones reach past 64 levels."""
    import onnx
    from onnx import numpy_helper

    from posenet_port.formats.onnx.export import export_onnx

    rounded = round_weights(shipped_weights, 16, calibration, GRIDS["int8-x86"])
    model = onnx.load(export_onnx(rounded, 16, tmp_path / "int8.onnx", "int8", calibration))
    constants = {tensor.name: numpy_helper.to_array(tensor) for tensor in model.graph.initializer}
    kernels = {}
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and constants.get(node.input[0], np.zeros(0)).dtype == np.int8:
            levels, scales = constants[node.input[0]], constants[node.input[1]]
            kernels[node.output[0]] = (levels, levels * scales.reshape(-1, 1, 1, 1))
    stored = [kernels[node.input[1]] for node in model.graph.node if node.op_type == "Conv"]
    assert len(stored) == len(rounded.convs())
    for conv, (levels, values) in zip(rounded.convs(), stored):
        depthwise = conv.kernel.shape[0] == 3 and conv.kernel.shape[-1] == 1  # [3, 3, C, 1]; conv0 is [3, 3, 3, 24]
        ours = conv.kernel.transpose(2, 3, 0, 1) if depthwise else conv.kernel.transpose(3, 2, 0, 1)
        assert np.abs(values - ours).max() <= 1e-6 * np.abs(ours).max()
        assert np.abs(levels).max() == (127 if depthwise else 64), (conv.kernel.shape, np.abs(levels).max())


@pytest.mark.parametrize("kernels", OTHER_KERNELS)
def test_the_rounding_is_the_same_bit_for_bit_on_other_kernels_and_threads(int8_rounded, tmp_path, kernels):
    """GPTQ is chaotic: in float32 one last-bit difference flipped a rounding decision and every later one, and
    rebuilds on an AVX2-only and on an AVX-512 CPU gave different models (the one-byte tfjs model's checks moved by
    four points). In float64 the same weights must come out whatever the CPU's kernels and thread count."""
    env = OTHER_KERNELS[kernels]
    used = numpy_kernels([sys.executable], env)  # the switches took effect
    assert used["openblas"] == env["OPENBLAS_CORETYPE"], used
    assert not (used["AVX512F"] and "AVX512F" in env.get("NPY_DISABLE_CPU_FEATURES", "")), used
    differing = layers_rounded_differently(int8_rounded, tmp_path / "other.npz", env)
    assert not differing, f"layers rounded differently on {used}: {differing}"
