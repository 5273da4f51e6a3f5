"""The benchmark's ceiling arrays (benchmarks/workload.py) start on a cache line, whatever
NumPy's allocator returned, and hold the same numbers as before (i18-kernel: the strict
ceiling's speed depended on the start address)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import workload
from mkba.load import load_scenario
from mkba.model import lower

REFERENCE = Path(__file__).parents[1] / "scenarios" / "reference-2021.toml"


@pytest.mark.parametrize("shape", [(5,), (7, 64), (1,), (3, 3)])
@pytest.mark.parametrize("offset", [0, 1, 2, 3])
def test_aligned_copy_starts_on_a_cache_line(shape: tuple[int, ...], offset: int) -> None:
    # a source that starts 8 * offset bytes into a buffer: every residue mod 32 that NumPy gives
    base = np.arange(int(np.prod(shape)) + offset, dtype=float)
    src = base[offset:].reshape(shape)
    out = workload.aligned(src)
    assert out.ctypes.data % 64 == 0
    assert out.shape == src.shape and out.dtype == src.dtype
    assert out.tobytes() == src.tobytes()
    assert out.flags.c_contiguous and out.flags.writeable


def test_ceiling_arrays_are_aligned_and_unchanged() -> None:
    m = lower(load_scenario(REFERENCE))
    for arrays, seed in ((workload.strict_ceiling_arrays, 1), (workload.ceiling_arrays, 0)):
        x, y = arrays(m)
        assert x.ctypes.data % 64 == 0 and y.ctypes.data % 64 == 0
        # the same numbers as the unaligned arrays of before: the same generator calls
        rng = np.random.default_rng(seed)
        if arrays is workload.strict_ceiling_arrays:
            h = max(workload.lane_working_set(m), 64)
            x0, y0 = rng.random(h) / h, rng.random((h, workload.STRICT_BLOCK))
        else:
            half = max(workload.working_set(m) // 2, 64)
            x0, y0 = rng.random(half) / half, rng.random(half)
        assert np.array_equal(x, x0) and np.array_equal(y, y0)
