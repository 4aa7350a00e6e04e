"""The configuration lives in setup.cfg; this file adds the compiled decoder and resize."""
from setuptools import Extension, setup

# Optional: without a C compiler the install goes on, and decode.py / preprocess.py run their Python and NumPy
# versions (the same values to the last bit). No fused multiply-adds: they must round exactly as tfjs' doubles do.
NATIVE = [
    Extension(f"posenet_port.inference.{name}", [f"posenet_port/inference/{name}.c"], extra_compile_args=["-ffp-contract=off"], optional=True)
    for name in ("_decoder", "_resize")
]

setup(ext_modules=NATIVE)
