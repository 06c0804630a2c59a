"""Which of OpenBLAS's kernels numpy's matrix products use, chosen before numpy loads.

numpy's wheels carry OpenBLAS built for many processors, and OpenBLAS picks the
kernels for the processor it finds as it loads, unless ``OPENBLAS_CORETYPE`` names
others. On AMD's Zen 4 it picks those written for Intel's Skylake-X, for Zen 4 has
AVX-512; but Zen 4 runs each 512-bit instruction as two 256-bit halves, and the
AVX2 kernels OpenBLAS uses for Zen 1-3 (its Haswell ones; threadpoolctl names them
so) are faster there. Measured on a 2-core EPYC Zen 4: a training chunk's two
products 12-17% faster in float32 (about 3% in float64), a 2048 x 2048 float32
product 4-7% faster, ``nodeclf train`` on 169,343 nodes x 128 features about 12% more
epochs a second in float32 (as many in float64).

Nothing here imports numpy: :func:`choose_kernels` must run before it loads.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path

CORETYPE = "OPENBLAS_CORETYPE"


def choose_kernels(
    environ: MutableMapping[str, str] = os.environ,
    modules: Mapping[str, object] = sys.modules,
    cpuinfo: Path = Path("/proc/cpuinfo"),
) -> str | None:
    """Set ``OPENBLAS_CORETYPE=Zen`` for this process on a Zen 4 processor, where the
    user has set no core type and numpy has not loaded yet (OpenBLAS reads it once,
    as it loads). Returns the core type set, or None where nothing was set."""
    if CORETYPE in environ or "numpy" in modules or not is_zen4(cpuinfo):
        return None
    environ[CORETYPE] = "Zen"
    return "Zen"


def is_zen4(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the first processor in ``cpuinfo`` is AMD's Zen 4: family 25 (0x19,
    Zen 3 and Zen 4) with AVX-512 (only Zen 4 has it). False where it cannot be read
    (not Linux)."""
    fields = first_processor(cpuinfo)
    return (
        fields.get("vendor_id") == "AuthenticAMD"
        and fields.get("cpu family") == "25"
        and "avx512f" in fields.get("flags", "").split()
    )


def first_processor(cpuinfo: Path) -> dict[str, str]:
    """The ``key : value`` lines of the first processor's block of /proc/cpuinfo."""
    fields: dict[str, str] = {}
    try:
        with cpuinfo.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if not line.strip():
                    if fields:
                        break
                    continue
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        return {}
    return fields
