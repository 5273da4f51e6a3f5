"""Issue 17 target 4 (i19-quant): the compiled passes of the statistics (mkba.colstats) give the
numbers of the code they replace, bit for bit.

The oracle is main 0a9a722's statistics code, verbatim (tests/stats_i19_oracle.py). Every
comparison is exact: equal bits (zero signs and NaN included), never closeness. The hand
calculations at the top fix what the compiled functions compute independently of NumPy.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mkba import colstats, engine, quantiles, results
from mkba.api import default_scenario
from mkba.checks import runnable
from mkba.load import load_scenario

sys.path.insert(0, str(Path(__file__).parent))
import stats_i19_oracle as oracle


def _bits(obj: Any) -> Any:
    """``obj`` with every float replaced by its 8 bytes (so NaN == NaN and -0.0 != 0.0)."""
    if isinstance(obj, dict):
        return {k: _bits(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_bits(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return struct.pack("<d", float(obj))
    if isinstance(obj, np.ndarray):
        return obj.astype(np.float64).tobytes()
    return obj


def _edge_columns(rng: np.random.Generator) -> list[np.ndarray]:
    """Columns of many lengths (below, at and above NumPy's blocks of 8 and 128 values) with
    ties, constants, signed zeros, infinities, NaN and wide magnitudes."""
    out = []
    for n in (1, 2, 3, 7, 8, 9, 15, 16, 17, 127, 128, 129, 136, 255, 256, 257, 1000, 4099, 70001):
        wide = rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 8, n)
        tied = rng.integers(0, 3, n).astype(float)
        zeros = np.where(rng.random(n) < 0.5, -0.0, 0.0)
        neg_zeros = np.full(n, -0.0)
        const = np.full(n, 1234.5)
        with_inf = rng.standard_normal(n)
        with_inf[:: max(1, n // 3)] = np.inf
        with_nan = rng.standard_normal(n)
        with_nan[n // 2] = np.nan
        out += [wide, tied, zeros, neg_zeros, const, with_inf, with_nan]
    return out


def test_hand_calculations() -> None:
    # sum of squared deviations of [1, 2, 3, 4] about 2.5: 2.25 + 0.25 + 0.25 + 2.25 = 5
    a = np.array([1.0, 2.0, 3.0, 4.0])
    assert colstats.sum_sq_dev(a, 0, 4, 2.5) == 5.0
    assert colstats.sum_sq_dev(a, 1, 2, 2.5) == 0.5  # values 2 and 3 only
    # the columns [1, 2, 3] and [10, 20, 30] of a (3, 2) array, and their sums 6 and 60
    src = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    out, sums = np.empty((2, 3)), np.empty(2)
    none = np.full((2, 1), -1, dtype=np.int64)  # no column compared (i20-stats)
    same = np.empty((2, 1), dtype=np.int64)
    colstats.transpose_sums(src, 0, out, sums, src.view(np.int64), none, same)
    assert out.tolist() == [[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]]
    assert sums.tolist() == [6.0, 60.0]
    assert same.tolist() == [[0], [0]]
    # c = [1, 1] + [2, 3] = [3, 4]; its running sum ends at 3 + 4 = 7
    c = np.array([1.0, 1.0])
    assert colstats.add_running_sum(c, np.array([2.0, 3.0])) == 7.0
    assert c.tolist() == [3.0, 4.0]


def test_mean_sd_equals_the_old_one() -> None:
    rng = np.random.default_rng(19)
    cols = [*_edge_columns(rng), rng.lognormal(10, 1, 1_000_003) - 20000.0]
    for x in cols:
        x = x[~np.isnan(x)]
        if x.size == 0:
            continue
        total = np.add.reduce(x)
        with np.errstate(invalid="ignore", over="ignore"):
            got = results._mean_sd(x, total)
            want = oracle._mean_sd(x, total)
        assert _bits(got) == _bits(want), x.size


@pytest.mark.parametrize("seed", range(4))
def test_sum_sq_dev_is_numpys_pairwise_sum(seed: int) -> None:
    """Random lengths up to 2.1 million and magnitudes over 16 decades: the compiled sum
    equals NumPy's reduction of the squared deviations (its pairwise order) exactly."""
    rng = np.random.default_rng(seed)
    for _ in range(60):
        n = int(rng.integers(1, 2_100_000)) if rng.random() < 0.2 else int(rng.integers(1, 5000))
        a = rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 8, n)
        mean = np.add.reduce(a) / n
        dev = np.subtract(a, mean)
        np.square(dev, out=dev)
        want = np.add.reduce(dev, axis=None)
        got = np.float64(0.0 + colstats.sum_sq_dev(a, 0, n, float(mean)))
        assert got.tobytes() == want.tobytes(), n


def test_stats_equal_the_old_ones() -> None:
    rng = np.random.default_rng(7)
    for x in _edge_columns(rng):
        with np.errstate(invalid="ignore", over="ignore"):
            assert _bits(results.stats(x)) == _bits(oracle.stats(x)), x.size
            assert _bits(results.stats(x.copy(), owned=True)) == _bits(oracle.stats(x)), x.size
            strided = np.repeat(x, 2)[::2]  # not contiguous: a copy first, as before
            assert _bits(results.stats(strided)) == _bits(oracle.stats(strided))


def test_transposition_and_its_sums() -> None:
    rng = np.random.default_rng(3)
    for n in (1, 2, 255, 256, 257, 5000):
        src = rng.standard_normal((n, 13)) * 10.0 ** rng.uniform(-6, 6, (n, 13))
        src[rng.random((n, 13)) < 0.1] = -0.0
        src[0, 3] = np.nan
        src[-1, 4] = np.inf
        src[:, 5] = -0.0  # a column of negative zeros sums to +0.0 (NumPy's identity first)
        for cols in ([0, 1, 2], [3, 4, 5, 6, 7, 8, 9, 10], [12], [2, 5, 7]):
            want = oracle._transposed(src, cols)
            sums = np.empty(cols[-1] + 1 - cols[0])
            got = results._transposed(src, cols, results.Scratch(), sums=sums)
            assert got.tobytes() == want.tobytes()
            ref = np.add.reduce(src, axis=0)[cols[0] : cols[-1] + 1]
            assert sums.tobytes() == ref.tobytes()
            ref_mean = src.mean(axis=0)[cols[0] : cols[-1] + 1]
            assert (sums / n).tobytes() == ref_mean.tobytes()
        fortran = np.asfortranarray(src)  # another layout: NumPy's copy and sum, as before
        sums = np.empty(4)
        got = results._transposed(fortran, [1, 2, 3, 4], sums=sums)
        assert got.tobytes() == oracle._transposed(fortran, [1, 2, 3, 4]).tobytes()
        assert sums.tobytes() == np.add.reduce(fortran, axis=0)[1:5].tobytes()


def test_running_sum_equals_add_and_cumsum() -> None:
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 1000):
        c0 = rng.standard_normal(n) * 1e8
        c0[0] = -0.0
        row = rng.standard_normal(n)
        row[0] = -0.0  # -0.0 + -0.0 stays -0.0, as np.add gives
        c_old = c0.copy()
        np.add(c_old, row, out=c_old)
        want = np.cumsum(c_old)[-1]
        c_new = c0.copy()
        got = colstats.add_running_sum(c_new, row)
        assert c_new.tobytes() == c_old.tobytes()
        assert np.float64(got).tobytes() == want.tobytes()


def _flows(rng: np.random.Generator, n: int, years: int) -> np.ndarray:
    f = rng.standard_normal((n, years)) * 1e6
    f[:, 0] = -0.0  # a year of negative zeros
    f[:, 1] = 0.0
    f[: n // 2, 2] = 5.0  # ties
    return f


class _FakeOutcomes:
    def __init__(self, flow: np.ndarray, dflow: np.ndarray) -> None:
        self.flow = flow
        self.dflow = dflow


class _FakeModel:
    def __init__(self, years: int) -> None:
        self.years = np.arange(2025, 2025 + years)


class _FakeRun:
    def __init__(self, flow: np.ndarray, dflow: np.ndarray) -> None:
        self.outcomes = _FakeOutcomes(flow, dflow)
        self.model = _FakeModel(flow.shape[1])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf - inf in a worker thread
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("n", [1, 2, 3, 10, 1001])
def test_yearly_rows_equal_the_old_ones(
    n: int, threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(n)
    years = 19  # groups of 8, 8 and 3 years
    flow = _flows(rng, n, years)
    dflow = _flows(rng, n, years)
    if n > 3:
        flow[1, 6] = np.nan  # a NaN year and an infinite year: quantiles checked, mean NaN
        dflow[2, 7] = np.inf
        dflow[3, 9] = np.nan
    monkeypatch.setattr(results, "statistics_threads", lambda: threads)
    monkeypatch.setattr(oracle, "statistics_threads", lambda: threads)
    run: Any = _FakeRun(flow, dflow)
    with np.errstate(invalid="ignore"):
        got = results.yearly_rows(run).rows
        want = oracle.yearly_rows(run).rows
    assert _bits(got) == _bits(want)
    # a non-contiguous flow array (another layout): NumPy's copies and sums, as before
    run_f: Any = _FakeRun(np.asfortranarray(flow), np.asfortranarray(dflow))
    with np.errstate(invalid="ignore"):
        assert _bits(results.yearly_rows(run_f).rows) == _bits(oracle.yearly_rows(run_f).rows)


def test_cumulative_year_stats_keeps_its_old_calls() -> None:
    rng = np.random.default_rng(11)
    d = _flows(rng, 500, 12)
    got = results._cumulative_year_stats(d, d.mean(axis=0))
    want = oracle._cumulative_year_stats(d, d.mean(axis=0))
    assert _bits(list(got)) == _bits(list(want))
    got = results._cumulative_year_stats(d)
    want = oracle._cumulative_year_stats(d)
    assert got[2] is None and want[2] is None
    assert _bits(list(got[:2])) == _bits(list(want[:2]))


def test_quantile_plan_is_cached_read_only() -> None:
    a = quantiles.quantile_plan(1000, results.FAN_QUANTILES)
    b = quantiles.quantile_plan(1000, results.FAN_QUANTILES)
    assert all(x is y for x, y in zip(a, b, strict=True))
    assert not a[0].flags.writeable
    fresh = quantiles._plan(1000, results.FAN_QUANTILES)
    assert all(np.array_equal(x, y) for x, y in zip(a, fresh, strict=True))
    listed = quantiles.quantile_plan(1000, [0.5])  # type: ignore[arg-type]  # a list: not cached
    assert listed[3].tolist() == [0.5]


@pytest.fixture(scope="module")
def reference_run() -> engine.Run:
    return engine.simulate(runnable(load_scenario(default_scenario())), draws=20_000)


def test_reference_statistics_equal_the_old_ones(reference_run: engine.Run) -> None:
    run = reference_run
    with results.shared_statistics():
        results.precompute_statistics(run)
        for key in results.statistics_keys(run):
            got = results.column_stats(run, *key)
            want = oracle.stats(results._column(run, key), owned=True)
            assert _bits(got) == _bits(want), key
    assert _bits(results.yearly_rows(run).rows) == _bits(oracle.yearly_rows(run).rows)
    assert _bits(results.payback_stats(run.outcomes.payback)) == _bits(
        {**oracle.stats(run.outcomes.payback), "over": results.PAYBACK_OVER}
    )
