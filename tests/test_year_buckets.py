"""Issue 17 target 4 (i22-quant): the yearly table's quantiles and means by bucket counting
(mkba.colstats.year_buckets, mkba.results._bucket_year_stats) are the old code's numbers, bit
for bit.

The old code is the transposition and partition route (results._year_quantiles and
results._cumulative_year_stats, unchanged, still the route for other layouts) and main 0a9a722's
yearly table, verbatim (tests/stats_i19_oracle.py). Every comparison is exact: equal bytes, so
NaN == NaN and -0.0 != 0.0. The hand calculation fixes what the compiled pass computes
independently of NumPy.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mkba import colstats, results

sys.path.insert(0, str(Path(__file__).parent))
import stats_i19_oracle as oracle
from test_colstats import _bits, _FakeRun, _flows


def _pass(src: np.ndarray, t0: int, t1: int, lo: np.ndarray, scale: np.ndarray, nb: int) -> Any:
    m = lo.size
    hist = np.empty((m, nb), dtype=np.int64)
    sums = np.empty(m)
    tab = np.full((m, nb), -1, dtype=np.int64)
    none = np.empty(0, dtype=np.int64)
    colstats.year_buckets(src, t0, t1, lo, scale, hist, sums, tab, none, np.empty(0))
    return hist, sums, tab


def test_year_buckets_by_hand() -> None:
    # 3 draws, 2 years; buckets of width 1 from lo = 0 (scale 1), 4 buckets:
    # year 1 values 0.5, 2.5, 9.0 -> buckets 0, 2, 3 (9.0 clamped to the last); sum 12.0
    # running sums to year 1: 1 + 0.5 = 1.5, -2 + 2.5 = 0.5, 3 + 9 = 12 -> buckets 1, 0, 3;
    # their sum in draw order from the first: 1.5 + 0.5 + 12 = 14.0
    src = np.array([[1.0, 0.5], [-2.0, 2.5], [3.0, 9.0]])
    lo = np.zeros(2)
    scale = np.ones(2)
    hist, sums, tab = _pass(src, 1, 2, lo, scale, 4)
    assert hist.tolist() == [[1, 0, 1, 1], [1, 1, 0, 1]]
    assert sums.tolist() == [12.0, 14.0]
    # the second pass copies the values of the buckets with a segment, in draw order:
    # year 1's bucket 3 (9.0) to segment 0, the running sums' bucket 1 (1.5) and 0 (0.5) to 1
    tab[0, 3] = 0
    tab[1, 0:2] = 1
    fill = np.array([0, 1], dtype=np.int64)
    buf = np.full(3, -7.0)
    colstats.year_buckets(src, 1, 2, lo, scale, hist, sums, tab, fill, buf)
    assert fill.tolist() == [1, 3]
    assert buf.tolist() == [9.0, 1.5, 0.5]
    # below lo, and a NaN, fall in bucket 0 (no bad index)
    hist, sums, _ = _pass(np.array([[-5.0], [np.nan], [1.0]]), 0, 1, lo[:1], scale[:1], 4)
    assert hist.tolist() == [[2, 1, 0, 0]]


@pytest.mark.parametrize("n", [1, 2, 5, 300, 4099])
def test_year_buckets_equal_numpy(n: int) -> None:
    """Counts equal NumPy's bincount of the same map; sums equal ``np.add.reduce(axis=0)``
    of the C-ordered array and ``np.cumsum(column)[-1]`` of the running sums, bit for bit."""
    rng = np.random.default_rng(n)
    src = _flows(rng, n, 11)
    src[:, 4] *= 1e-300  # tiny values
    for t0, t1, running in ((0, 11, True), (3, 8, True), (2, 9, False), (10, 11, True)):
        w = t1 - t0
        run = np.cumsum(src, axis=1)[:, t0:t1]
        cols = np.concatenate([src[:, t0:t1], run], axis=1) if running else src[:, t0:t1]
        m = cols.shape[1]
        lo = rng.standard_normal(m) * 1e5
        scale = rng.uniform(1e-6, 1e-3, m)
        hist, sums, _ = _pass(src, t0, t1, lo, scale, 64)
        f = np.minimum(np.maximum((cols - lo) * scale, 0.0), 63.0)
        for k in range(m):
            want = np.bincount(f[:, k].astype(np.int64), minlength=64)
            assert hist[k].tolist() == want.tolist()
        assert sums[:w].tobytes() == np.add.reduce(src, axis=0)[t0:t1].tobytes()
        for j in range(w if running else 0):
            assert sums[w + j].tobytes() == np.cumsum(run[:, j])[-1].tobytes()


def _old(src: np.ndarray) -> tuple[np.ndarray, ...]:
    with np.errstate(invalid="ignore"):
        qs = results._year_quantiles(src, None, None, mean_out=np.empty(src.shape[1]))
        mean = src.mean(axis=0)
        cum_qs, cum_mean, dqs = results._cumulative_year_stats(src, src.mean(axis=0))
    assert dqs is not None
    return qs, mean, cum_qs, cum_mean, dqs


def _edge_flows(rng: np.random.Generator, n: int) -> np.ndarray:
    """Years of every kind: normal, wide magnitudes, ties, constant, mass at zero (under and
    over a quarter of the draws), zeros of both signs, only -0.0, heavy tails, an infinity, a
    NaN, -inf, values near the float64 limit, a tiny range."""
    cols = [
        rng.standard_normal(n) * 1e6,
        rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 8, n),
        rng.integers(0, 3, n).astype(float),
        np.full(n, 1234.5),
        np.where(rng.random(n) < 0.2, 0.0, rng.standard_normal(n) + 3.0),
        np.where(rng.random(n) < 0.6, 0.0, rng.lognormal(0.0, 2.0, n)),
        np.where(rng.random(n) < 0.5, -0.0, 0.0),
        np.full(n, -0.0),
        np.where(rng.random(n) < 0.5, -0.0, rng.standard_normal(n)),
        rng.standard_cauchy(n),
        rng.lognormal(0.0, 3.0, n),
        rng.standard_normal(n),
        rng.standard_normal(n),
        rng.standard_normal(n),
        rng.standard_normal(n) * 1e307,
        1.0 + rng.integers(0, 4, n) * 2.0**-52,
    ]
    src = np.ascontiguousarray(np.stack(cols, axis=1))
    if n > 3:
        src[n // 2, 11] = np.inf
        src[n // 3, 12] = np.nan
        src[1, 13] = -np.inf
    return src


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf - inf, overflow
@pytest.mark.parametrize("n", [2, 3, 7, 64, 1000, 5003])
@pytest.mark.parametrize("buckets,sample", [(1024, 4096), (8, 16), (3, 5)])
def test_bucket_year_stats_equal_the_old_route(
    n: int, buckets: int, sample: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Few buckets and small samples put many ranks in one bucket, values beyond the sample
    in the end buckets, and make the fallbacks happen; the numbers stay the old ones."""
    monkeypatch.setattr(results, "YEAR_BUCKETS", buckets)
    monkeypatch.setattr(results, "YEAR_SAMPLE", sample)
    rng = np.random.default_rng(n + buckets)
    src = _edge_flows(rng, n)
    years = src.shape[1]
    qs, mean, cum_qs, cum_mean, dqs = _old(src)
    with np.errstate(all="ignore"):
        for t0, t1 in ((0, years), (3, 9), (years - 1, years)):
            got_q, got_m = results._bucket_year_stats(src, t0, t1, False)
            assert got_q.tobytes() == qs[:, t0:t1].tobytes()
            assert got_m.tobytes() == mean[t0:t1].tobytes()
            got_q, got_m = results._bucket_year_stats(src, t0, t1, True)
            w = t1 - t0
            assert got_q[:, :w].tobytes() == dqs[:, t0:t1].tobytes()
            assert got_m[:w].tobytes() == mean[t0:t1].tobytes()
            assert got_q[:, w:].tobytes() == cum_qs[:, t0:t1].tobytes()
            assert got_m[w:].tobytes() == cum_mean[t0:t1].tobytes()


def test_plain_columns_take_the_bucket_route(monkeypatch: pytest.MonkeyPatch) -> None:
    """Finite columns without a mass at one value need no fallback (no column copied out),
    and their quantiles are np.quantile's (no zeros here: no sign to choose)."""
    calls: list[int] = []
    fan = results._fan

    def counted(col: np.ndarray, mean: float) -> np.ndarray:
        calls.append(col.size)
        return fan(col, mean)

    monkeypatch.setattr(results, "_fan", counted)
    rng = np.random.default_rng(3)
    src = rng.standard_normal((20_000, 6)) * 1e6 + 5.0
    src[:, 2] = rng.lognormal(0.0, 2.0, 20_000)
    src[:, 3] = np.where(rng.random(20_000) < 0.1, 7.0, src[:, 3])  # a mass under a quarter
    got_q, _ = results._bucket_year_stats(src, 0, 6, True)
    assert calls == []
    for k in range(6):
        assert got_q[:, k].tobytes() == np.quantile(src[:, k], results.FAN_QUANTILES).tobytes()
    run = np.cumsum(src, axis=1)
    for k in range(6):
        want = np.quantile(run[:, k], results.FAN_QUANTILES)
        assert got_q[:, 6 + k].tobytes() == want.tobytes()
    # a mass at one value over a quarter of the draws: that column alone goes the old way
    src[:15_000, 4] = 2.0
    results._bucket_year_stats(src, 0, 6, False)
    assert calls == [20_000]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf - inf in a worker thread
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("n", [2, 3, 10, 1001, 20_000])
def test_yearly_rows_by_buckets_equal_the_oracle(
    n: int, threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole yearly table against main 0a9a722's code, whatever the thread count."""
    rng = np.random.default_rng(n + 7)
    flow = _flows(rng, n, 30)
    dflow = _flows(rng, n, 30)
    flow[:, 9] = np.where(rng.random(n) < 0.5, -0.0, 0.0)
    dflow[:, 12] = np.where(rng.random(n) < 0.7, 0.0, 1.0)
    if n > 3:
        flow[1, 6] = np.nan
        dflow[2, 7] = np.inf
        dflow[3, 9] = np.nan
    monkeypatch.setattr(results, "statistics_threads", lambda: threads)
    monkeypatch.setattr(oracle, "statistics_threads", lambda: 1)
    run: Any = _FakeRun(flow, dflow)
    assert not results._bucket_route(flow)  # a short run: the transpositions
    monkeypatch.setattr(results, "YEAR_BUCKETS_MIN_DRAWS", 2)
    assert results._bucket_route(flow) and results._bucket_route(dflow)
    with np.errstate(invalid="ignore"):
        got = results.yearly_rows(run).rows
        want = oracle.yearly_rows(run).rows
    assert _bits(got) == _bits(want)


def test_the_copies_of_a_task_stay_within_twice_the_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Columns whose wanted buckets each hold ~20 % of the draws (a mass at one value): once a
    task's copies would pass 2 n values, the further columns go the old way; the same
    numbers either way."""
    calls: list[int] = []
    fan = results._fan

    def counted(col: np.ndarray, mean: float) -> np.ndarray:
        calls.append(col.size)
        return fan(col, mean)

    monkeypatch.setattr(results, "_fan", counted)
    rng = np.random.default_rng(8)
    n = 10_000
    src = rng.standard_normal((n, 16)) + 10.0
    src[rng.random((n, 16)) < 0.2] = 1.0  # 20 % of each year at 1.0: p5 and p10 there
    got_q, got_m = results._bucket_year_stats(src, 0, 16, False)
    assert 0 < len(calls) < 16  # some columns copied, some not
    qs, mean, *_ = _old(src)
    assert got_q.tobytes() == qs.tobytes()
    assert got_m.tobytes() == mean.tobytes()
