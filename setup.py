"""The configuration lives in setup.cfg; this file adds the compiled multi-pose decoder."""
from setuptools import Extension, setup

# Optional: without a C compiler the install goes on and posenet_port.decode runs its Python decoder (same poses).
# No fused multiply-adds: the decoder must round exactly as JavaScript's doubles do.
DECODER = Extension("posenet_port._decoder", ["posenet_port/_decoder.c"], extra_compile_args=["-ffp-contract=off"],
                    optional=True)

setup(ext_modules=[DECODER])
