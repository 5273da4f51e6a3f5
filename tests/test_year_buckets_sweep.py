"""Issue 17 targets 4 and 3 (i24-quant): ``mkba.colstats.year_buckets`` reads a block of draws
row by row into contiguous column rows and sums four columns side by side; its counts, sums
and copies are main c78b2fa's, byte for byte.

The oracle is c78b2fa's compiled function, verbatim (tests/year_buckets_oracle.py). Both passes
(counting, then copying the buckets given a segment) are compared on the same inputs by exact
equality of bytes (NaN payloads and signed zeros count; the copy pass also by the order of the
copied values, which must be draw order). Shapes cross the block size (128 draws) and the four
columns summed together; values include NaN, +-inf, -0.0 as a column's first value, tiny and
huge magnitudes, ties and values beyond the bucket range.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mkba import colstats

sys.path.insert(0, str(Path(__file__).parent))
from year_buckets_oracle import year_buckets_c78b2fa as old_year_buckets


def _both_passes(
    fn: Any, src: np.ndarray, t0: int, t1: int, running: bool, nb: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w = t1 - t0
    m = 2 * w if running else w
    rng = np.random.default_rng(seed)
    finite = src[np.isfinite(src)]
    with np.errstate(all="ignore"):  # 1e300-scale columns: an infinite spread
        spread = float(finite.std()) if finite.size > 1 else 1.0
    if not (np.isfinite(spread) and spread > 0):
        spread = 1.0
    lo = rng.normal(size=m) * spread - spread
    scale = nb / (rng.uniform(1.0, 4.0, m) * spread)
    hist = np.full((m, nb), 7, dtype=np.int64)  # not cleared by the caller: the pass clears it
    sums = np.full(m, np.nan)
    tab = np.full((m, nb), -1, dtype=np.int64)
    none = np.empty(0, dtype=np.int64)
    fn(src, t0, t1, lo, scale, hist, sums, tab, none, np.empty(0))
    # segments for a few buckets per column (the same choice for both functions: by seed)
    pick = np.random.default_rng(seed + 1)
    sizes: list[int] = []
    for k in range(m):
        for b in np.unique(pick.integers(0, nb, 3)).tolist():
            tab[k, b] = len(sizes)
            sizes.append(int(hist[k, b]))
    start = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=start[1:])
    buf = np.full(int(start[-1]), -3.0)
    fill = start[:-1].copy()
    fn(src, t0, t1, lo, scale, hist, sums, tab, fill, buf)
    assert np.array_equal(fill, start[1:])
    return hist, sums, buf


def _same(a: Any, b: Any) -> None:
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert np.array_equal(x.view(np.uint8), y.view(np.uint8))


def _columns(kind: str, n: int, years: int, rng: np.random.Generator) -> np.ndarray:
    src = rng.normal(size=(n, years)) * np.linspace(1.0, 30.0, years)
    if kind == "ties":
        src = np.round(src / 10.0) * 10.0
    elif kind == "zeros":
        src[rng.random((n, years)) < 0.4] = 0.0
        src[rng.random((n, years)) < 0.2] = -0.0
        src[0, :] = -0.0  # the first value of every column, and of the running sums
    elif kind == "special":
        src[n // 2, 1] = np.nan
        src[n // 3, 2] = np.inf
        src[n // 4, 3] = -np.inf
        src[0, 0] = -0.0
        src[:, 4 % years] *= 1e-300
        src[:, 5 % years] *= 1e300
    elif kind == "constant":
        src[:] = 2.5
    elif kind == "heavy":
        src = rng.standard_cauchy(size=(n, years))
    return np.ascontiguousarray(src)


@pytest.mark.parametrize("n", [1, 2, 3, 127, 128, 129, 256, 1000, 4099])
@pytest.mark.parametrize("kind", ["normal", "ties", "zeros", "special", "constant", "heavy"])
def test_year_buckets_equal_c78b2fa(n: int, kind: str) -> None:
    rng = np.random.default_rng(n * 7 + len(kind))
    years = 11
    src = _columns(kind, n, years, rng)
    # plain and running, from year 0 and later, widths 1 .. 11 (1, 2, 3, 4, 5, 9 columns
    # summed four at a time and the rest one at a time)
    for t0, t1, running in (
        (0, 11, False),
        (0, 11, True),
        (3, 8, True),
        (2, 9, False),
        (10, 11, True),
        (0, 1, True),
        (0, 1, False),
        (5, 7, False),
        (4, 7, True),
    ):
        for nb in (1, 3, 64, 1024):
            seed = n + t0 * 31 + t1 + nb
            new = _both_passes(colstats.year_buckets, src, t0, t1, running, nb, seed)
            old = _both_passes(old_year_buckets, src, t0, t1, running, nb, seed)
            _same(new, old)


def test_year_buckets_reference_shape() -> None:
    """The reference's shape at 20k draws: 30 years, the tasks of _yearly_by_buckets."""
    rng = np.random.default_rng(30)
    src = _columns("normal", 20_000, 30, rng)
    tasks = ((0, 15, False), (15, 30, False), (0, 10, True), (10, 20, True), (20, 30, True))
    for t0, t1, running in tasks:
        new = _both_passes(colstats.year_buckets, src, t0, t1, running, 1024, t0 + t1)
        old = _both_passes(old_year_buckets, src, t0, t1, running, 1024, t0 + t1)
        _same(new, old)


def test_year_buckets_sums_by_hand() -> None:
    """Sums in draw order, by hand: a year from 0.0 (0.0 + -0.0 is +0.0), a running sum from
    its first value (-0.0 stays -0.0); 130 draws cross the 128-draw block."""
    n = 130
    src = np.zeros((n, 2))
    src[0] = [-0.0, -0.0]
    src[1:, 0] = 1.0  # year 0: 129 ones after a -0.0
    src[1:, 1] = 0.5
    lo = np.zeros(4)
    scale = np.ones(4)
    hist = np.empty((4, 2), dtype=np.int64)
    sums = np.empty(4)
    none = np.empty(0, dtype=np.int64)
    colstats.year_buckets(src, 0, 2, lo, scale, hist, sums, np.full((4, 2), -1), none, np.empty(0))
    # year 0: 0.0 + -0.0 + 129 x 1.0 = 129; year 1: 129 x 0.5 = 64.5;
    # running to year 0 = year 0 (from -0.0: 129); to year 1: 129 x 1.5 = 193.5
    assert sums.tolist() == [129.0, 64.5, 129.0, 193.5]
    assert hist.tolist() == [[1, 129], [130, 0], [1, 129], [1, 129]]
    # n = 1: the sums are the first value itself, plus 0.0 for a year (sign of zero)
    one = np.array([[-0.0, -0.0]])
    colstats.year_buckets(one, 0, 2, lo, scale, hist, sums, np.full((4, 2), -1), none, np.empty(0))
    assert [math_sign(x) for x in sums] == [1.0, 1.0, -1.0, -1.0]


def math_sign(x: float) -> float:
    return float(np.copysign(1.0, x))
