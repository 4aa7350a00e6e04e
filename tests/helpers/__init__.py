"""What the tests share besides fixtures (conftest.py): paths, real photos, running the commands, rounding
baselines, and our pipeline on a tfjs model. The modules beside this one: parity (the float32 bound for two
engines), reference_forward (an independent NumPy forward pass), tfjs_converter (the converter-written fixtures),
fuzzing (damaged files for every reader), toy_npz (a format only the tests know), gptq_rounding (the
rounding the GPTQ tests compare, as a script too)."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from posenet_port.model.weights import variable_names

REPO = Path(__file__).resolve().parents[2]
# (stride, dilation) of conv0 and the 13 depthwise layers, as tfjs posenet 1.x `toOutputStridedLayers` gives them:
# written out by hand, not computed by the code under test.
EXPECTED_LAYERS = {
    (0.75, 16): [(2, 1), (1, 1), (2, 1), (1, 1), (2, 1), (1, 1), (2, 1)] + [(1, 1)] * 7,
    (0.75, 8): [(2, 1), (1, 1), (2, 1), (1, 1), (2, 1), (1, 1), (1, 1)] + [(1, 2)] * 7,
    (0.50, 16): [(2, 1), (1, 1), (2, 1), (1, 1), (2, 1), (1, 1), (2, 1)] + [(1, 1)] * 7,
    (0.50, 8): [(2, 1), (1, 1), (2, 1), (1, 1), (2, 1), (1, 1), (1, 1)] + [(1, 2)] * 7,
    (1.00, 32): [(2, 1), (1, 1), (2, 1), (1, 1), (2, 1), (1, 1), (2, 1)] + [(1, 1)] * 5 + [(2, 1), (1, 1)],
    (1.00, 16): [(2, 1), (1, 1), (2, 1), (1, 1), (2, 1), (1, 1), (2, 1)] + [(1, 1)] * 5 + [(1, 1), (1, 2)],
    (1.00, 8): [(2, 1), (1, 1), (2, 1), (1, 1), (2, 1), (1, 1), (1, 1)] + [(1, 2)] * 5 + [(1, 2), (1, 4)],
}


def photo_paths() -> list[Path]:
    """Real public-domain photos: Grace Hopper (shipped by matplotlib) and the 1927 Solvay group."""
    from posenet_port.pipeline.photos import sample_photos

    return sample_photos()


def require_compiled(implementation: str, source: str) -> None:
    """The C parts pip builds (setup.py): CI must test them, a C compiler being part of its setup; elsewhere an
    install without a compiler runs the Python versions, and these tests say they did not run."""
    if implementation.startswith("compiled"):
        return
    message = f"posenet_port/{source} was not built (pip install -e . needs a C compiler)"
    if os.environ.get("CI"):
        pytest.fail(f"CI must test the compiled code: {message}")
    pytest.skip(f"NOT RUN: {message}")


# A full rebuild takes about 5 minutes on 2 cores alone, and longer beside other tests.
REBUILD_TIMEOUT = 1500


def module_command(module: str, *args) -> list[str]:
    """`python -m posenet_port.<module> args...` with this Python."""
    return [sys.executable, "-m", f"posenet_port.{module}", *map(str, args)]


def run_module(module: str, *args, env=None) -> subprocess.CompletedProcess:
    """`python -m posenet_port.<module> args...` from the repo, captured."""
    return subprocess.run(
        module_command(module, *args),
        capture_output=True, text=True, cwd=REPO, timeout=900, env={**os.environ, **(env or {})},
    )


class BackgroundModule:
    """`python -m posenet_port.<module> args...` from the repo, running while the tests do other work. Its output
    goes to files in `log_dir`: a pipe nobody reads for minutes would fill and stall it."""

    def __init__(self, module: str, *args, log_dir: Path) -> None:
        self.command = module_command(module, *args)
        self.logs = log_dir / f"{module}.stdout", log_dir / f"{module}.stderr"
        with open(self.logs[0], "w") as stdout, open(self.logs[1], "w") as stderr:
            self.process = subprocess.Popen(self.command, cwd=REPO, stdout=stdout, stderr=stderr)

    def result(self, timeout: float) -> subprocess.CompletedProcess:
        returncode = self.process.wait(timeout=timeout)
        stdout, stderr = (log.read_text() for log in self.logs)
        return subprocess.CompletedProcess(self.command, returncode, stdout, stderr)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def nearest_rounding(weights, bits: int):
    """`weights` with every kernel rounded to the nearest value of a per-output-channel symmetric `bits`-bit grid
    (what converters do): the baseline GPTQ must beat, and with few bits a deliberately coarse model."""
    import numpy as np

    from posenet_port.model.weights import ConvWeights, PosenetWeights

    levels = 2 ** (bits - 1) - 1

    def nearest(conv):
        axes = (0, 1, 3) if conv.kernel.shape[-1] == 1 else (0, 1, 2)  # depthwise kernels are [3, 3, C, 1]
        scale = np.abs(conv.kernel).max(axis=axes, keepdims=True) / levels
        scale[scale == 0] = 1
        return ConvWeights((np.round(conv.kernel / scale) * scale).astype(np.float32), conv.bias)

    return PosenetWeights.from_convs([nearest(c) for c in weights.convs()])


# What an x86 CPU without AVX-512 runs, chosen on a newer one by the libraries' own switches: NumPy's dispatched
# loops, OpenBLAS's kernels (an AVX2 EPYC's are Haswell's) and oneDNN's (TensorFlow) all stop at AVX2.
AVX2_KERNELS = {
    "NPY_DISABLE_CPU_FEATURES": "AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL",
    "OPENBLAS_CORETYPE": "Haswell",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
}

_KERNELS_PROBE = """
import ctypes, json
from numpy._core._multiarray_umath import __cpu_features__ as features
library = ctypes.CDLL(next(line.split()[-1] for line in open("/proc/self/maps") if "openblas" in line.lower()))
corename = next(getattr(library, name) for name in ("scipy_openblas_get_corename64_", "openblas_get_corename")
                if hasattr(library, name))
corename.restype = ctypes.c_char_p
print(json.dumps({"openblas": corename().decode(), "AVX2": features["AVX2"], "AVX512F": features["AVX512F"]}))
"""


def numpy_kernels(python: list[str], env=None) -> dict:
    """The kernels NumPy runs in `python` (a command prefix) with `env` added: OpenBLAS's core, as OpenBLAS names
    it, and whether NumPy's own loops use AVX2 and AVX-512. Proof that a switch or an emulated CPU took effect."""
    result = subprocess.run([*python, "-c", _KERNELS_PROBE], capture_output=True, text=True, timeout=300,
                            env={**os.environ, **(env or {})})
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.splitlines()[-1])


def layers_rounded_differently(weights, path: Path, env: dict[str, str]) -> list[int]:
    """helpers/gptq_rounding.py run by this Python with `env` added (other kernels), against `weights`, its
    rounding computed here: the layers whose kernel or bias differ in any bit."""
    result = subprocess.run([sys.executable, str(Path(__file__).with_name("gptq_rounding.py")), str(path)],
                            capture_output=True, text=True, cwd=REPO, timeout=300, env={**os.environ, **env})
    assert result.returncode == 0, result.stderr[-3000:]
    other = np.load(path)
    ours = [a for conv in weights.convs() for a in (conv.kernel, conv.bias)]
    assert len(other.files) == len(ours)
    return sorted({index // 2 for index, name in enumerate(other.files) if not np.array_equal(ours[index], other[name])})


def in_process_formats() -> list[str]:
    """The registered formats that export and run in this process (tfjs runs in node)."""
    from posenet_port.formats.registry import export_formats

    return [name for name, fmt in export_formats().items() if fmt.in_process]


def export_float32(fmt, weights, frozen_pb: Path, out: Path, size: int, stride: int = 16):
    """`fmt`'s float32 model of `weights` exported into `out` through the registry, and its ModelSpec."""
    from posenet_port.formats.base import ExportSource
    from posenet_port.model.spec import ModelSpec
    from posenet_port.pipeline.calibration import Calibration

    spec = ModelSpec(weights.multiplier, stride).exported(fmt.name, "float32", size if fmt.fixed_input else None)
    source = ExportSource(spec=spec, weights=weights, frozen_graph=frozen_pb, calibration=Calibration([]), input_size=size)
    return fmt.export(source, fmt.recipes["float32"], fmt.target(out, "model", "float32", size)), spec


def tfjs_pipeline_poses(model_json: Path, photos, input_size: int = 257):
    """Our Python pipeline on a tfjs model: its outputs from real TensorFlow.js (wasm), our decoder, photo
    coordinates. What posenet 2.2.2 in node or a browser must reproduce for the same model."""
    from posenet_port.formats.tfjs.runner import TfjsNodeRunner
    from posenet_port.inference.estimator import network_outputs
    from posenet_port.inference.preprocess import preprocess
    from posenet_port.pipeline.gate import decode_input_poses

    batches = [preprocess(rgb, input_size) for rgb in photos]
    raw = TfjsNodeRunner(model_json, backend="wasm", dynamic_input=False).run_many([b for b, _ in batches])
    return [
        [pose.scaled(box) for pose in decode_input_poses(network_outputs(outputs, box, 16), 16)]
        for (_, box), outputs in zip(batches, raw)
    ]


UNUSED_CHECKPOINT_HEADS = {
    "MobilenetV1/heatmap_1/weights": [1, 1, 384, 17],
    "MobilenetV1/offset_1/biases": [34],
    "MobilenetV1/partheat_2/weights": [1, 1, 384, 24],
    "MobilenetV1/partoff_1/biases": [48],
}


def assert_same_weights(loaded, expected, atol=0.0, rtol=0.0):
    loaded_vars, expected_vars = loaded.variables(), expected.variables()
    assert list(loaded_vars) == list(expected_vars) == variable_names()
    for name, values in expected_vars.items():
        np.testing.assert_allclose(loaded_vars[name], values, atol=atol, rtol=rtol, err_msg=name)


def write_checkpoint(weights, directory: Path, gzip_every: int = 3) -> Path:
    """A tfjs-models 0.x/1.x checkpoint: manifest.json + one raw float32 file per variable, some gzip-encoded."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = dict(weights.variables())
    arrays.update({name: rng.normal(size=shape).astype(np.float32) for name, shape in UNUSED_CHECKPOINT_HEADS.items()})
    manifest = {}
    for index, (name, array) in enumerate(arrays.items()):
        filename = name.replace("/", "_")
        data = array.astype("<f4").tobytes()
        (directory / filename).write_bytes(gzip.compress(data) if index % gzip_every == 0 else data)
        manifest[name] = {"filename": filename, "shape": list(array.shape)}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return directory / "manifest.json"
