"""The float engines on an emulated CPU without AVX-512 or VNNI, when the CPU that runs the suite has them.

TensorFlow's oneDNN kernels follow the CPU's flags: on an AMD EPYC with AVX-512 + VNNI our graph equals tfjs bit
for bit, on an AVX2-only EPYC it does not (and an absolute 1e-4 tolerance failed `make test` there). qemu-user's
EPYC-Rome model (AVX2 + FMA, no AVX-512, no VNNI) reproduces the differences measured on that real CPU to three
digits (displacement_fwd_2 vs tfjs: 3.55e-4 at 257, 4.27e-4 at 353), so the parity bound is proven on both kinds
of CPU in every run. The reverse cannot be emulated: qemu's TCG has no AVX-512.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, export_float32, in_process_formats, numpy_kernels, photo_paths
from helpers.parity import MEASURED, differences

from posenet_port.formats.registry import FORMATS
from posenet_port.formats.tfjs.runner import TfjsNodeRunner
from posenet_port.inference.preprocess import load_image, preprocess
from posenet_port.model.spec import ModelSpec
from posenet_port.model.weights import SHIPPED_WEIGHTS

EMULATED_CPU = "EPYC-Rome"
# Emulation runs float kernels about 2000x slower: TensorFlow's inference at 257 took 20 s against 12 ms natively
# on a 2-core Xeon host, where the whole parity set rerun emulated (exports included) took 900 s. So only what
# depends on the CPU's instructions is emulated: running each engine's float32 kernels. The models are exported
# here (exporting moves weights, it does not sum) and tfjs runs natively in node as the oracle. Inputs: the Solvay
# photo at 257 in every engine (its offsets, where large terms cancel, are the worst case measured) and Grace
# Hopper at 353 where the input is dynamic.
EMULATED_INPUTS = (("solvay1927", 257), ("grace_hopper", 353))


def emulator() -> list[str]:
    """The command prefix that runs this Python on the emulated CPU; missing qemu fails in CI, never skips."""
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip(f"NOT RUN: emulating an x86 CPU needs an x86-64 Python, this is {platform.machine()}")
    from posenet_port._util.machine import cpu_flags

    host = cpu_flags()  # the flags the suite's header and every benchmark name
    if "avx2" in host and "avx512f" not in host:
        # The emulated CPU's kernels are this CPU's own: every parity test of this run already ran on them.
        pytest.skip("NOT NEEDED: this CPU is itself AVX2-only (no AVX-512), the kind the emulation stands for: the "
                    "parity tests ran on its kernels natively")
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        message = "qemu-x86_64 is missing: `make test` installs Debian's qemu-user (apt-get install qemu-user)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(f"NOT RUN: {message}")
    return [qemu, "-cpu", EMULATED_CPU, sys.executable]


@pytest.mark.slow
@pytest.mark.node
@pytest.mark.both_cores
def test_float_engines_keep_the_parity_bound_on_an_emulated_avx2_cpu(node_oracle, shipped_weights, frozen_pb, tmp_path):
    python = emulator()
    kernels = numpy_kernels(python)  # the emulated CPU is the one we want: NumPy's own cpuid probe says so
    assert kernels["AVX2"] and not kernels["AVX512F"], kernels
    photos = {path.stem: load_image(path) for path in photo_paths()}
    inputs = {f"{stem}_{size}": preprocess(photos[stem], size)[0] for stem, size in EMULATED_INPUTS}
    np.savez(tmp_path / "inputs.npz", **inputs)
    models = [(frozen_pb, ModelSpec(shipped_weights.multiplier, 16))]
    models += [export_float32(FORMATS[name], shipped_weights, frozen_pb, tmp_path, 257) for name in in_process_formats()]
    runs = [{"path": str(path), "spec": spec.to_dict(),
             "inputs": [key for key, image in inputs.items() if spec.input_size in (None, image.shape[1])]}
            for path, spec in models]
    (tmp_path / "runs.json").write_text(json.dumps({"inputs": str(tmp_path / "inputs.npz"), "models": runs}))
    result = subprocess.run([*python, str(REPO / "tests" / "helpers" / "engines.py"), str(tmp_path / "runs.json"),
                             str(tmp_path / "outputs.npz")], capture_output=True, text=True, cwd=REPO, timeout=1500)
    assert result.returncode == 0, result.stderr[-4000:]
    emulated = np.load(tmp_path / "outputs.npz")
    tfjs = dict(zip(inputs, TfjsNodeRunner(SHIPPED_WEIGHTS.model_path, backend="cpu").run_many(list(inputs.values()))))
    measured = [
        difference
        for (_, spec), run in zip(models, runs) for key in run["inputs"]
        for difference in differences({head: emulated[f"{spec.format}/{key}/{head}"] for head in tfjs[key]}, tfjs[key],
                                      f"[emulated {EMULATED_CPU}] {FORMATS[spec.format].title} float32 vs tfjs (cpu), {key}")
    ]
    MEASURED.extend(measured)
    assert len({spec.format for _, spec in models}) == 4 and len(measured) == 4 * sum(len(run["inputs"]) for run in runs)
    assert all(d.ok for d in measured), "beyond float32 rounding: " + "; ".join(str(d) for d in measured if not d.ok)
    # Other kernels did run: where this host may be bit-identical to tfjs, the emulated AVX2 CPU is not.
    assert any(d.max_abs > 0 for d in measured if "frozen graph" in d.label), [str(d) for d in measured]
