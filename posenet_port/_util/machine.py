"""The CPU a figure was measured on: its model and the instruction-set flags that choose the kernels.

TensorFlow (oneDNN) and LiteRT (XNNPACK) pick their kernels by these flags, so float results differ in the last
bits and int8 speed differs by 3x between an AVX-512 + VNNI CPU and an AVX2-only one. Benchmarks and test
reports name them so figures from different machines can be told apart.
"""
from __future__ import annotations

import platform
import sys
from functools import lru_cache

# The flags (as /proc/cpuinfo spells them) that change which kernels run.
KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
VNNI_FLAGS = ("avx512_vnni", "avx_vnni")


@lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, frozenset[str]]:
    """(model name, flags) of the first CPU in /proc/cpuinfo; off Linux, platform's name and no flags."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
                if not line.strip():
                    break  # the first CPU is enough
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or "unknown"
    if "cpu family" in fields:  # virtual machines often say only "AMD EPYC": the family tells Zen 4 from Zen 5
        name += f" (family {fields['cpu family']}, model {fields.get('model', '?')})"
    return name, frozenset(fields.get("flags", "").split())


def cpu_model() -> str:
    return _cpuinfo()[0]


def cpu_flags() -> tuple[str, ...]:
    """Those of KERNEL_FLAGS this CPU has, in that order."""
    flags = _cpuinfo()[1]
    return tuple(flag for flag in KERNEL_FLAGS if flag in flags)


def has_vnni() -> bool:
    """VNNI (AVX-512 or AVX) int8 dot products: where XNNPACK's int8 kernels beat float32."""
    return any(flag in cpu_flags() for flag in VNNI_FLAGS)


def describe_cpu() -> str:
    """e.g. 'AMD EPYC, flags: avx2 fma avx512f avx512_vnni avx_vnni'."""
    flags = " ".join(cpu_flags()) or "none of " + " ".join(KERNEL_FLAGS)
    return f"{cpu_model()}, flags: {flags}"


def keep_freed_memory() -> None:
    """Ask glibc to keep freed memory instead of returning it to the OS.

    Per-frame work allocates a few megabytes of arrays; glibc hands large blocks back to the OS when freed and
    maps them afresh next frame, and on virtual machines the page faults of that fresh memory cost more than the
    arithmetic (measured here: preprocessing a 640x480 frame 4.3 ms by default, 2.1 ms with this). Only the
    long-running commands (demo, bench) call it; elsewhere, and off glibc, it does nothing.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name or sys.platform != "linux":
        return
    libc = ctypes.CDLL(name)
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is not None:
        m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
        mallopt(m_mmap_threshold, 64 << 20)
        mallopt(m_trim_threshold, 256 << 20)
        mallopt(m_top_pad, 64 << 20)
