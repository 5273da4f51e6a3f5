"""Issue 17 target 4: the faster statistics give exactly the numbers of the code they replace.

Every comparison is equality (``np.array_equal``, zero signs included), never closeness.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mkba import quantiles
from mkba.decide import irr as irr_mod
from mkba.results import FAN_QUANTILES, QUANTILES

CASES = (QUANTILES, FAN_QUANTILES, (0.0, 1.0, 0.5), (1.0,), (0.0,), (0.25, 0.75))


def _columns(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    normal = rng.standard_normal(n)
    with_nan = rng.standard_normal(n)
    with_nan[rng.integers(0, n)] = np.nan
    half_tied = rng.standard_normal(n)
    half_tied[: n // 2] = 3.0
    with_inf = rng.standard_normal(n)
    with_inf[::7] = np.inf
    both_inf = rng.standard_normal(n)
    both_inf[::5] = -np.inf
    both_inf[1::5] = np.inf
    ordered = np.sort(rng.standard_normal(n))
    return [
        normal,
        rng.integers(0, 5, n).astype(float),  # many ties
        np.round(rng.lognormal(0.0, 2.0, n), 1),  # skewed, tied
        with_nan,
        np.zeros(n),
        np.full(n, -0.0),
        half_tied,
        ordered,
        ordered[::-1].copy(),
        with_inf,
        both_inf,
        rng.standard_normal(n) * 1e300,  # differences overflow
    ]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(
        np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a), np.signbit(b))
    )


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 17, 100, 1001, 40_000, 200_003])
def test_quantiles_equal_numpy_quantile_exactly(n: int) -> None:
    rng = np.random.default_rng(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # inf - inf in NumPy's own lerp
        for x in _columns(rng, n):
            keep = x.copy()
            for qs in CASES:
                assert _same(quantiles.quantiles_of(x, qs), np.quantile(x, qs)), (n, qs)
            assert _same(x, keep)  # not scratch: untouched
            scratch = x.copy()
            assert _same(
                quantiles.quantiles_of(scratch, QUANTILES, scratch=True), np.quantile(x, QUANTILES)
            )


def test_rows_quantiles_equal_numpy_along_axis_0() -> None:
    rng = np.random.default_rng(4)
    rows = rng.standard_normal((5, 3001))
    rows[2, 17] = np.nan
    rows[3] = 1.5
    want = np.quantile(rows.T, FAN_QUANTILES, axis=0)
    assert _same(quantiles.rows_quantiles(rows.copy(), FAN_QUANTILES), want)


def test_quantile_plan_by_hand() -> None:
    # n = 5, median: virtual index (5 - 1) * 0.5 = 2 -> x_(2) and x_(3), gamma 0
    ranks, lower, upper, gamma = quantiles.quantile_plan(5, (0.5,))
    assert ranks[lower[0]] == 2 and ranks[upper[0]] == 3 and gamma[0] == 0.0
    # n = 4, median: virtual index 1.5 -> x_(1) and x_(2), gamma 0.5
    ranks, lower, upper, gamma = quantiles.quantile_plan(4, (0.5,))
    assert ranks[lower[0]] == 1 and ranks[upper[0]] == 2 and gamma[0] == 0.5
    # the maximum (q = 1): NumPy takes the last value on both sides, gamma = n - 1 - (-1) = n
    ranks, lower, upper, gamma = quantiles.quantile_plan(4, (1.0,))
    assert ranks[lower[0]] == 3 and ranks[upper[0]] == 3 and gamma[0] == 4.0
    # n = 1: every quantile is the value itself
    ranks, lower, upper, gamma = quantiles.quantile_plan(1, QUANTILES)
    assert list(ranks) == [0]
    x = np.array([2.5])
    assert _same(quantiles.quantiles_of(x, QUANTILES), np.full(3, 2.5))


def test_order_statistics_are_the_sorted_values() -> None:
    rng = np.random.default_rng(9)
    x = rng.integers(0, 50, 10_000).astype(float)  # ties everywhere
    ranks = np.array([0, 1, 2, 499, 500, 5000, 9998, 9999])
    got = quantiles.order_statistics(x.copy(), ranks)
    assert np.array_equal(got, np.sort(x)[ranks])


def _flows(rng: np.random.Generator, n: int, years: int = 30) -> np.ndarray:
    """Random-walk yearly flows with costs first: none, one and several sign changes."""
    f = np.cumsum(rng.standard_normal((n, years)), axis=1)
    f[:, :3] -= 10.0
    f[: n // 10] = rng.standard_normal((n // 10, years))  # noise: many roots
    f[n // 10 : n // 10 + 5] = 0.0  # no flow at all
    f[n // 10 + 5, 4] = np.nan
    return f


@pytest.mark.parametrize("chunk", [1, 7, 600, 4096])
def test_compiled_irr_equals_the_numpy_bisection(chunk: int) -> None:
    rng = np.random.default_rng(chunk)
    flow = _flows(rng, 5000)
    offsets = np.arange(30.0)
    got = irr_mod.irr(flow, offsets, chunk=chunk)
    want_irr = np.full(flow.shape[0], np.nan)
    want_roots = np.zeros(flow.shape[0], dtype=np.int64)
    for lo in range(0, flow.shape[0], chunk):  # the NumPy scan and bisection, block by block
        f = flow[lo : lo + chunk]
        v = irr_mod.npv_at(f, offsets, irr_mod.GRID)
        irr_mod._scan_bisect_numpy(f, offsets, v, lo, chunk, want_irr, want_roots)
    assert np.array_equal(got.roots, want_roots)
    assert _same(got.irr, want_irr)
    assert (got.roots > 1).any() and (got.roots == 0).any() and (got.roots == 1).any()


def test_compiled_irr_edge_rows() -> None:
    offsets = np.arange(2.0)
    g = irr_mod.GRID
    # -1 now, 1 + r a year later: NPV(r') = -1 + (1 + r) / (1 + r') is zero at r' = r; with r
    # on the grid the root is near or at that grid point (the exact-zero rule), else bisected
    flow = np.array([[-1.0, 1.0 + g[100]], [-1.0, 1.05], [-1.0, -1.0], [1.0, 1.0]])
    got = irr_mod.irr(flow, offsets)
    want_irr = np.full(4, np.nan)
    want_roots = np.zeros(4, dtype=np.int64)
    v = irr_mod.npv_at(flow, offsets, irr_mod.GRID)
    irr_mod._scan_bisect_numpy(flow, offsets, v, 0, 4096, want_irr, want_roots)
    assert _same(got.irr, want_irr) and np.array_equal(got.roots, want_roots)
    assert abs(got.irr[0] - g[100]) < 1e-11
    assert abs(got.irr[1] - 0.05) < 1e-11  # the root of -1 + 1.05 / (1 + r)
    assert np.isnan(got.irr[2]) and np.isnan(got.irr[3])  # one sign throughout: no IRR


def test_mean_and_sd_from_one_sum_equal_numpy() -> None:
    from mkba.results import _mean_sd

    rng = np.random.default_rng(12)
    cases = [
        rng.standard_normal(2),
        rng.standard_normal(9),
        rng.lognormal(5.0, 3.0, 100_001) - 1e4,
        rng.standard_normal(300_000) * 1e154,  # squares overflow to inf, as in NumPy
        np.full(1000, 0.1),
        np.array([-0.0, -0.0]),
    ]
    for x in cases:
        mean, sd = _mean_sd(x, np.add.reduce(x))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want_mean, want_sd = float(x.mean()), float(x.std(ddof=1))
        assert _same(np.array([mean, sd]), np.array([want_mean, want_sd])), x.size
    assert _mean_sd(np.array([4.0]), np.float64(4.0)) == (4.0, 0.0)


def test_irr_with_openblas_on_the_calling_thread_only_equals_its_default(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    flow = _flows(np.random.default_rng(21), 9000)
    offsets = np.arange(30.0)
    local = irr_mod.irr(flow, offsets)
    monkeypatch.setattr(irr_mod, "_blas_thread_setter", lambda: None)  # OpenBLAS's own threads
    default = irr_mod.irr(flow, offsets)
    assert _same(local.irr, default.irr) and np.array_equal(local.roots, default.roots)
