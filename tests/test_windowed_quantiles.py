"""Issue 17 target 3 (i29-mem): the windowed order statistics of large columns
(:func:`mkba.quantiles.windowed_order_statistics`) give exactly the numbers of the partitions
they replace.

Where the expected numbers come from: ``np.sort(a)[ranks]`` (an order statistic by its
definition) and ``np.quantile`` (the numbers the statistics have always had), and the
partitions' own route (:func:`mkba.quantiles.order_statistics`, the code before this change).
Every comparison is equality of the bits (zero signs included), never closeness.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mkba import colstats, quantiles, results
from mkba.results import FAN_QUANTILES, QUANTILES


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, dtype=float).tobytes()


def _columns(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Columns of the kinds a run has, and harder ones."""
    with_inf = rng.standard_normal(n)
    with_inf[::7] = np.inf
    both_inf = rng.standard_normal(n)
    both_inf[::5] = -np.inf
    both_inf[1::5] = np.inf
    zeros_mixed = rng.standard_normal(n)
    zeros_mixed[: n // 3] = 0.0
    zeros_mixed[n // 3 : n // 2] = -0.0  # the median is a zero, of both signs
    zeros_plus = np.abs(rng.standard_normal(n))
    zeros_plus[: n // 10] = 0.0  # the 5 % quantile is +0.0, no -0.0 anywhere
    ordered = np.sort(rng.standard_normal(n))
    return {
        "normal": rng.standard_normal(n),
        "lognormal": rng.lognormal(0.0, 2.0, n),  # a long tail
        "ties": rng.integers(0, 1000, n).astype(float),  # ties at every rank
        "few values": rng.integers(0, 5, n).astype(float),
        "half tied": np.where(rng.random(n) < 0.5, 3.0, rng.standard_normal(n)),
        "ordered": ordered,
        "reversed": ordered[::-1].copy(),
        "with inf": with_inf,
        "both inf": both_inf,
        "huge": rng.standard_normal(n) * 1e300,
        "zeros mixed": zeros_mixed,
        "zeros plus": zeros_plus,
        "constant": np.full(n, 2.5),
        "minus zero": np.full(n, -0.0),
    }


@pytest.fixture
def windowed(monkeypatch):  # type: ignore[no-untyped-def]
    """The windowed route from 2 * WINDOW_SAMPLE values on; records whether it answered."""
    monkeypatch.setattr(quantiles, "WINDOW_MIN_VALUES", 2 * quantiles.WINDOW_SAMPLE)
    return _spy_windows(monkeypatch)


def _spy_windows(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the windowed route answered, call by call, from now on."""
    answered: list[bool] = []
    real = quantiles.windowed_order_statistics

    def spy(a: np.ndarray, ranks: np.ndarray) -> np.ndarray | None:
        got = real(a, ranks)
        answered.append(got is not None)
        return got

    monkeypatch.setattr(quantiles, "windowed_order_statistics", spy)
    return answered


def _partitions(x: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """The numbers before this change: the partitions of the whole column."""
    ranks, lower, upper, gamma = quantiles.quantile_plan(x.size, qs)
    vals = quantiles.order_statistics(x.copy(), ranks)
    return quantiles.lerp(vals[lower], vals[upper], gamma)


@pytest.mark.parametrize("n", [16_384, 50_001, 200_003])
def test_quantiles_equal_the_partitions_and_numpy_exactly(windowed, n: int) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(n)
    cases = (QUANTILES, FAN_QUANTILES, (0.5,), (0.0, 1.0), (0.25, 0.75), (0.01, 0.5, 0.99))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # inf - inf in NumPy's own lerp
        for name, x in _columns(rng, n).items():
            for qs in cases:
                got = quantiles.quantiles_without_nan(x.copy(), qs)
                assert _bits(got) == _bits(_partitions(x, qs)), (name, n, qs)
                if name != "zeros mixed":  # np.quantile's own partition picks another zero
                    assert _bits(got) == _bits(np.quantile(x, qs)), (name, n, qs)
    assert any(windowed) and not all(windowed)  # both routes were taken


def test_the_order_statistics_are_the_sorted_values_and_the_column_is_unchanged() -> None:
    rng = np.random.default_rng(5)
    n = 300_001
    for name, x in _columns(rng, n).items():
        keep = x.copy()
        ranks = quantiles.quantile_plan(n, QUANTILES)[0]
        got = quantiles.windowed_order_statistics(x, ranks)
        assert _bits(x) == _bits(keep), name  # read only
        if got is not None:
            assert _bits(got) == _bits(np.sort(x)[ranks]), name
        else:
            assert name not in ("normal", "lognormal", "ordered", "reversed"), name


def test_which_columns_take_the_windows() -> None:
    """The route answers for the columns of a run (continuous, tied, long-tailed, a zero of one
    sign at a rank) and gives None where it cannot be sure, whose numbers then come from the
    partitions."""
    rng = np.random.default_rng(8)
    n = 200_000
    cols = _columns(rng, n)
    ranks = quantiles.quantile_plan(n, QUANTILES)[0]
    answers = {
        k: quantiles.windowed_order_statistics(x, ranks) is not None for k, x in cols.items()
    }
    for k in ("normal", "lognormal", "ties", "ordered", "reversed", "huge"):
        assert answers[k], k
    few_inf = cols["normal"].copy()
    few_inf[::1000] = np.inf  # the 95 % window reaches no infinity
    few_inf[1::1000] = -np.inf
    got = quantiles.windowed_order_statistics(few_inf, ranks)
    assert got is not None and _bits(got) == _bits(np.sort(few_inf)[ranks])
    assert not answers["with inf"]  # 1 value in 7 is +inf: the 95 % rank's window holds them
    # a +0.0 at the 5 % rank, and no -0.0: that zero (the 5 % quantile alone: with the
    # others the windows hold more than an eighth of the values, the zeros' tenth included)
    low = quantiles.quantile_plan(n, (0.05,))[0]
    got = quantiles.windowed_order_statistics(cols["zeros plus"], low)
    assert got is not None and _bits(got) == _bits(np.zeros(2))
    assert not answers["zeros plus"]
    assert not answers["zeros mixed"]  # (half the values are zeros: more than an eighth)
    assert not answers["half tied"]  # the median's window holds half the values
    assert not answers["few values"]
    assert not answers["constant"] and not answers["minus zero"]
    # more than three windows (nine quantiles far apart)
    fan = quantiles.quantile_plan(n, FAN_QUANTILES)[0]
    assert quantiles.windowed_order_statistics(cols["normal"], fan) is None
    # a sample that misleads: every sampled value is far above the rest, so no wanted rank
    # lies in a window
    x = cols["normal"].copy()
    x[quantiles.window_sample_index(n)] = 1e6 + np.arange(quantiles.WINDOW_SAMPLE)
    assert quantiles.windowed_order_statistics(x, ranks) is None
    assert _bits(quantiles.quantiles_without_nan(x.copy(), QUANTILES)) == _bits(
        np.quantile(x, QUANTILES)
    )
    # too short for the sample, or not contiguous
    assert quantiles.windowed_order_statistics(cols["normal"][:16_383], ranks) is None
    assert quantiles.windowed_order_statistics(cols["normal"][::2], ranks) is None


def test_the_route_is_tried_only_between_its_bounds(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    tried: list[int] = []
    real = quantiles.windowed_order_statistics

    def spy(a: np.ndarray, ranks: np.ndarray) -> np.ndarray | None:
        tried.append(a.size)
        return real(a, ranks)

    monkeypatch.setattr(quantiles, "windowed_order_statistics", spy)
    rng = np.random.default_rng(2)
    lo = quantiles.WINDOW_MIN_VALUES
    for n in (lo - 1, lo):
        x = rng.standard_normal(n)
        assert _bits(quantiles.quantiles_without_nan(x.copy(), QUANTILES)) == _bits(
            np.quantile(x, QUANTILES)
        )
    assert tried == [lo]
    monkeypatch.setattr(quantiles, "WINDOW_MAX_VALUES", lo - 1)  # a 10M run's columns
    quantiles.quantiles_without_nan(rng.standard_normal(lo), QUANTILES)
    assert tried == [lo]


def test_statistics_equal_the_partitions_route(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """results.stats of large columns: the same dict as with the partitions alone."""
    rng = np.random.default_rng(11)
    cols = _columns(rng, 200_003)
    answered = _spy_windows(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        new = {k: repr(results.stats(x.copy(), owned=True)) for k, x in cols.items()}
        assert any(answered)  # the windows gave some of these numbers
        monkeypatch.setattr(quantiles, "WINDOW_MIN_VALUES", 10**12)
        old = {k: repr(results.stats(x.copy(), owned=True)) for k, x in cols.items()}
    assert new == old


def test_window_counts_and_squeeze_by_hand() -> None:
    a = np.array([5.0, -1.0, 2.0, 2.0, 9.0, 0.0, 7.0, 3.0, np.inf, -np.inf])
    lo = np.array([2.0, 7.0, np.nan])  # the third: no window
    hi = np.array([3.0, 9.0, np.nan])
    below = np.empty(3, dtype=np.int64)
    upto = np.empty(3, dtype=np.int64)
    mask = np.empty(a.size, dtype=np.uint8)
    colstats.window_counts(a, lo, hi, below, upto, mask)
    # below 2: -1, 0, -inf (3); up to 3: those and 2, 2, 3 (6); below 7: 3 + 2, 2, 3, 5 (7);
    # up to 9: all but inf (9); the NaN window: nothing below, nothing up to
    assert below.tolist() == [3, 7, 0] and upto.tolist() == [6, 9, 0]
    assert mask.tolist() == [0, 0, 1, 1, 1, 0, 1, 1, 0, 0]
    buf = np.full(6, -5.0)
    assert colstats.squeeze(a, mask, buf) == 5
    assert buf[:5].tolist() == [2.0, 2.0, 9.0, 7.0, 3.0]  # in draw order


def test_window_counts_equal_numpy_on_random_columns() -> None:
    rng = np.random.default_rng(3)
    a = rng.standard_normal(100_003)
    lo = np.array([-1.7, -0.1, 1.5])
    hi = np.array([-1.5, 0.1, 1.7])
    below = np.empty(3, dtype=np.int64)
    upto = np.empty(3, dtype=np.int64)
    mask = np.empty(a.size, dtype=np.uint8)
    colstats.window_counts(a, lo, hi, below, upto, mask)
    assert below.tolist() == [int((a < v).sum()) for v in lo]
    assert upto.tolist() == [int((a <= v).sum()) for v in hi]
    inside = np.zeros(a.size, dtype=bool)
    for v0, v1 in zip(lo, hi, strict=True):
        inside |= (a >= v0) & (a <= v1)
    assert np.array_equal(mask, inside.astype(np.uint8))
    buf = np.empty(int(inside.sum()) + 1)
    f = colstats.squeeze(a, mask, buf)
    assert _bits(buf[:f]) == _bits(a[inside])


def test_quantiles_of_reads_a_column_in_place_when_the_windows_answer(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """quantiles_of (not scratch): no copy and no partition of the column when the windows
    answer; the partitions of a copy when they do not. The column is never changed."""
    rng = np.random.default_rng(12)
    cols = _columns(rng, 200_003)
    want = {k: _partitions(cols[k], QUANTILES) for k in ("normal", "half tied", "zeros mixed")}
    partitioned: list[int] = []
    real = quantiles.order_statistics

    def spy(a: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        partitioned.append(a.size)
        return real(a, ranks)

    monkeypatch.setattr(quantiles, "order_statistics", spy)
    for name in ("normal", "half tied", "zeros mixed"):
        x = cols[name]
        x.flags.writeable = False  # read only: a write would raise
        got = quantiles.quantiles_of(x, QUANTILES)
        assert _bits(got) == _bits(want[name]), name
    # the normal column: only the windows' values (a few per cent) were partitioned
    assert partitioned[0] < 200_003 // 8
    assert partitioned[1:] == [200_003, 200_003]  # the other two: a copy of the column


def test_zeros_of_both_signs_at_a_wanted_rank_go_to_the_partitions() -> None:
    """A few zeros of both signs (4 % of the values, so the windows would answer) at the
    median: the zero a partition leaves at that rank depends on its order of work, so the
    windows must not decide it. (Review 14a: without the sign check the windows gave +0.0
    where the partitions give -0.0 for this column.)"""
    rng = np.random.default_rng(0)
    n = 200_001
    x = rng.standard_normal(n)
    i = rng.permutation(n)
    x[i[: n // 50]] = 0.0
    x[i[n // 50 : n // 25]] = -0.0
    ranks = quantiles.quantile_plan(n, QUANTILES)[0]
    assert quantiles.windowed_order_statistics(x, ranks) is None
    old = quantiles.order_statistics(x.copy(), ranks)
    assert _bits(quantiles.quantiles_without_nan(x.copy(), QUANTILES)) == _bits(
        quantiles.lerp(*_plan_parts(n, QUANTILES, old))
    )
    # the same column with the zeros of one sign only: the windows answer, the same numbers
    y = x.copy()
    y[y == 0.0] = 0.0
    got = quantiles.windowed_order_statistics(y, ranks)
    assert got is not None and _bits(got) == _bits(np.sort(y)[ranks])


def _plan_parts(n: int, qs: tuple[float, ...], vals: np.ndarray) -> tuple[np.ndarray, ...]:
    _, lower, upper, gamma = quantiles.quantile_plan(n, qs)
    return vals[lower], vals[upper], gamma


def test_the_windows_answer_for_sobol_ordered_columns_and_the_extreme_ranks() -> None:
    """The sample is not evenly spaced: a column of 2**18 Sobol' points in draw order (their
    position stratifies them; an evenly spaced sample lined up with that order and missed
    the ranks: review 14a) takes the windows, and so do the ranks 0 and n - 1 (their windows
    are open at the sample's ends)."""
    from scipy.stats import qmc

    n = 2**18
    pts = qmc.Sobol(d=4, scramble=True, seed=3).random(n)
    ranks = quantiles.quantile_plan(n, QUANTILES)[0]
    for j in range(pts.shape[1]):
        col = np.ascontiguousarray(pts[:, j])
        got = quantiles.windowed_order_statistics(col, ranks)
        assert got is not None and _bits(got) == _bits(np.sort(col)[ranks]), j
    x = np.random.default_rng(4).standard_normal(300_001)
    for qs in ((0.0,), (1.0,), (0.0, 0.5, 1.0)):
        r = quantiles.quantile_plan(x.size, qs)[0]
        got = quantiles.windowed_order_statistics(x, r)
        assert got is not None and _bits(got) == _bits(np.sort(x)[r]), qs
    idx = quantiles.window_sample_index(x.size)
    assert idx.size == quantiles.WINDOW_SAMPLE and np.all(np.diff(idx) > 0)
    assert idx[0] >= 0 and idx[-1] < x.size
