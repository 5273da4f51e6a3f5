"""Exact sample quantiles by single-rank selections: the numbers of ``np.quantile`` (method
``"linear"``), bit for bit, 3 to 5 times faster on large columns.

Why the numbers are the same: a linear-interpolation quantile is
``lerp(x_(i), x_(i+1), gamma)`` of two order statistics of the sample, and an order statistic
is a value, unique whatever algorithm finds it (ties included). The plan (which order
statistics, which ``gamma``) comes from NumPy's own formulas (:func:`quantile_plan`), and the
interpolation repeats NumPy's ``_lerp`` operation for operation, including its ``t >= 0.5``
branch (:func:`lerp`). The tests compare with ``np.quantile`` by exact equality on random,
tied, constant, tiny and NaN-containing columns.

Why it is faster: ``np.quantile`` asks ``ndarray.partition`` for all its order statistics at
once (six for three quantiles), and partitioning for several ranks falls back to a scalar
introselect; for a single rank NumPy uses a vectorised selection that is several times
faster. :func:`order_statistics` splits the column at the middle wanted rank with one
single-rank partition, then each side for its own ranks, and takes a neighbouring rank as the
minimum or maximum of what lies beside it.

On a large column (:data:`WINDOW_MIN_VALUES` to :data:`WINDOW_MAX_VALUES` values),
:func:`windowed_order_statistics` reads the column without reordering it: a sorted sample
places a narrow value window around each wanted rank, one compiled pass counts what lies below
and marks what lies inside, and only the windows' values (about a tenth) are copied and
partitioned. Where it cannot be sure (a rank outside its window, a mass at one value, zeros of
both signs at a wanted rank), the partitions of the whole column give the numbers, as before.
"""

from __future__ import annotations

import functools

import numpy as np


def quantile_plan(n: int, quantiles: tuple[float, ...]) -> tuple[np.ndarray, ...]:
    """:func:`_plan` (below), kept for the last few ``(n, quantiles)``: a run asks for the same
    plan of its draw count for every column (read-only arrays)."""
    if isinstance(quantiles, tuple):
        return _cached_plan(n, quantiles)
    return _plan(n, quantiles)


@functools.lru_cache(maxsize=16)
def _cached_plan(n: int, quantiles: tuple[float, ...]) -> tuple[np.ndarray, ...]:
    plan = _plan(n, quantiles)
    for a in plan:
        a.flags.writeable = False
    return plan


def _plan(n: int, quantiles: tuple[float, ...]) -> tuple[np.ndarray, ...]:
    """NumPy's plan of ``np.quantile(x, quantiles)`` (method ``"linear"``) for ``n >= 1``
    values: ``(ranks, lower, upper, gamma)``. ``ranks`` are the sorted distinct 0-based order
    statistics needed; quantile ``k`` is ``lerp(x_(ranks[lower[k]]), x_(ranks[upper[k]]),
    gamma[k])``. The same expressions as ``_quantile``, ``_get_indexes`` and ``_get_gamma`` in
    numpy/lib/_function_base_impl.py (their index -1, the last value, is ``n - 1`` here)."""
    q = np.asanyarray(quantiles, dtype=float)
    virtual = (n - 1) * q
    prev = np.floor(virtual)
    nxt = prev + 1
    above = virtual >= n - 1
    prev[above] = -1
    nxt[above] = -1
    below = virtual < 0
    prev[below] = 0
    nxt[below] = 0
    prev_i = prev.astype(np.intp)
    next_i = nxt.astype(np.intp)
    gamma = np.asanyarray(virtual - prev_i, dtype=virtual.dtype)
    prev_i[prev_i < 0] += n
    next_i[next_i < 0] += n
    ranks = np.unique(np.concatenate([prev_i, next_i]))
    lower = np.searchsorted(ranks, prev_i)
    upper = np.searchsorted(ranks, next_i)
    return ranks, lower, upper, gamma


def lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """NumPy's ``_lerp(a, b, t)`` (numpy/lib/_function_base_impl.py), operation for operation."""
    diff_b_a = b - a
    out = np.add(a, diff_b_a * t)
    np.subtract(b, diff_b_a * (1 - t), out=out, where=t >= 0.5)
    return out


def order_statistics(a: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """The values of the sorted distinct 0-based ``ranks`` of the 1-D array ``a`` (no NaN),
    which is reordered in place (it is scratch)."""
    vals = np.empty(len(ranks))
    todo = [(0, a.size, 0, len(ranks))]  # a[lo:hi] holds exactly the ranks lo..hi-1
    while todo:
        lo, hi, r0, r1 = todo.pop()
        if r0 >= r1:
            continue
        mid = (r0 + r1) // 2
        k = int(ranks[mid])
        seg = a[lo:hi]
        if k == lo:  # the smallest of the range: a minimum, put in its place
            j = int(seg.argmin())
            seg[0], seg[j] = seg[j], seg[0]
        elif k == hi - 1:  # the largest
            j = int(seg.argmax())
            seg[-1], seg[j] = seg[j], seg[-1]
        else:
            seg.partition(k - lo)
        vals[mid] = a[k]
        todo.append((lo, k, r0, mid))
        todo.append((k + 1, hi, mid + 1, r1))
    return vals


def quantiles_of(
    x: np.ndarray, quantiles: tuple[float, ...], *, scratch: bool = False
) -> np.ndarray:
    """``np.quantile(x, quantiles)`` of a 1-D float64 array (the same numbers).

    ``scratch=True``: ``x`` is the caller's to lose, reordered in place instead of copied.
    Else ``x`` is copied only when the partitions are needed (:func:`windowed_order_statistics`
    reads it where it is)."""
    x = np.asarray(x, dtype=float)
    if x.size == 0 or np.isnan(np.add.reduce(x)):  # empty, a NaN (or inf - inf): NumPy's own
        return np.quantile(x, quantiles)
    if scratch and x.flags.writeable:
        return quantiles_without_nan(x, quantiles)
    # the windows only read x: a copy only for the partitions
    ranks, lower, upper, gamma = quantile_plan(x.size, quantiles)
    vals = _windowed(x, ranks)
    if vals is None:
        vals = order_statistics(x.copy(), ranks)
    return lerp(vals[lower], vals[upper], gamma)


def quantiles_without_nan(a: np.ndarray, quantiles: tuple[float, ...]) -> np.ndarray:
    """``np.quantile(a, quantiles)`` of a non-empty 1-D float64 array without NaN, which is
    scratch (reordered in place). From :data:`WINDOW_MIN_VALUES` to
    :data:`WINDOW_MAX_VALUES` values the order statistics come from
    :func:`windowed_order_statistics` when it finds them, else from :func:`order_statistics`
    (the same values either way)."""
    ranks, lower, upper, gamma = quantile_plan(a.size, quantiles)
    vals = _windowed(a, ranks)
    if vals is None:
        vals = order_statistics(a, ranks)
    return lerp(vals[lower], vals[upper], gamma)


def _windowed(a: np.ndarray, ranks: np.ndarray) -> np.ndarray | None:
    """:func:`windowed_order_statistics` of ``a`` where its size is within
    :data:`WINDOW_MIN_VALUES` .. :data:`WINDOW_MAX_VALUES` (else None)."""
    if WINDOW_MIN_VALUES <= a.size <= WINDOW_MAX_VALUES and a.dtype == np.float64:
        return windowed_order_statistics(a, ranks)
    return None


WINDOW_MIN_VALUES = 150_000
"""From this many values on, :func:`quantiles_without_nan` tries
:func:`windowed_order_statistics`: the CPU of three quantiles of a run's columns was 0.58x the
partitions' at 1M values, 0.75x at 200k and the same at 100k (benchmarks/README.md,
i29-mem)."""

WINDOW_MAX_VALUES = 2_000_000
"""Up to this many values :func:`quantiles_without_nan` tries
:func:`windowed_order_statistics`, whose mask (a byte a value) and copy of the windows (about
9 % of the values) come on top of the column; above, the partitions in place, as before (a
10M run's peak memory, 15.7 GiB of 16, stays what it was)."""

WINDOW_SAMPLE = 8192
"""Values (evenly spread over the column) whose sorted order places the windows of
:func:`windowed_order_statistics`."""

WINDOW_Z = 4.5
"""Half a window's width in standard deviations of a sample quantile's rank (at 4.5, about
7 ranks in a million fall outside their window; that column then takes the partitions)."""


def window_sample_index(n: int) -> np.ndarray:
    """The positions of :func:`windowed_order_statistics`' sample of a column of ``n`` values:
    one in each of :data:`WINDOW_SAMPLE` equal strides, at an offset within the stride that
    changes from stride to stride (a fixed multiplicative hash of the stride's number). Evenly
    spaced positions line up with the draw order of a Sobol' run of 2**k draws (whose draws
    are stratified by position), so the sample misled the windows there; which positions are
    sampled decides only whether the windows answer, never a number."""
    base = np.arange(WINDOW_SAMPLE + 1, dtype=np.int64) * n // WINDOW_SAMPLE
    width = np.diff(base)  # >= 2: n >= 2 * WINDOW_SAMPLE
    mixed = np.arange(WINDOW_SAMPLE, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    off = (mixed >> np.uint64(32)).astype(np.int64) % width  # (wraps mod 2**64: a hash)
    return base[:-1] + off


def windowed_order_statistics(a: np.ndarray, ranks: np.ndarray) -> np.ndarray | None:
    """The values of the sorted distinct 0-based ``ranks`` of the 1-D C-contiguous float64
    array ``a`` (no NaN, not changed), or None where this way does not apply: then
    :func:`order_statistics` gives them (the caller's fallback).

    A sorted sample of :data:`WINDOW_SAMPLE` values places a value window around each wanted
    rank (windows that meet are merged; at most three, else None). One compiled pass
    (:func:`mkba.colstats.window_counts`) counts the values below and up to each window and
    marks those inside; a second copies them out (:func:`mkba.colstats.squeeze`, about 9 % of
    the values for three quantiles of a continuous column). Where every rank ``r`` lies in a
    window (``below <= r < upto``), its order statistic is the one of the windows' values at
    ``r`` less the values below that window and beside the earlier windows' values, found by
    :func:`order_statistics` on that small copy. An order statistic is one value whichever
    way it is found, so these are the partitions' numbers, with one exception that returns
    None: a zero where zeros of both signs lie (-0.0 == 0.0; which one a partition leaves at
    a rank depends on its order of work). Also None when a rank falls outside the windows or
    the windows hold more than an eighth of the values (a mass at one value).

    0.56-0.59x the CPU of :func:`order_statistics` for three quantiles of a 1M run's columns
    (benchmarks/README.md, i29-mem). Not for more than six ranks (three quantiles): None.

    The windows are disjoint and ascending by construction (a window that meets the last one
    is merged into it), so a value lies in one window at most and the windows' values below
    window ``w`` are exactly those of the windows before it."""
    import math

    from mkba.colstats import squeeze, window_counts

    n = a.size
    if n < 2 * WINDOW_SAMPLE or not a.flags.c_contiguous or len(ranks) > 6:
        return None  # (more than three quantiles' ranks: more windows than the pass counts)
    sample = np.sort(a[window_sample_index(n)])  # spread over a
    s = sample.size
    if sample[0] == sample[-1]:  # likely one value throughout: the partitions are quick there
        return None
    wins: list[list[float]] = []
    for r in ranks.tolist():
        p = r / (n - 1)
        dev = WINDOW_Z * math.sqrt(s * p * (1.0 - p)) + 2.0
        i0 = min(max(math.floor(p * (s - 1) - dev), 0), s - 1)
        i1 = min(max(math.ceil(p * (s - 1) + dev), 0), s - 1)
        # a window that reaches the sample's end is open there (the column's extreme values
        # lie beyond the sample's: a rank near 0 or n - 1 would otherwise miss its window)
        lo = -math.inf if i0 == 0 else float(sample[i0])
        hi = math.inf if i1 == s - 1 else float(sample[i1])
        if wins and lo <= wins[-1][1]:  # meets the last window: one window
            wins[-1][1] = max(wins[-1][1], hi)
        else:
            wins.append([lo, hi])
    if len(wins) > 3:
        return None
    lo_a = np.full(3, np.nan)  # a NaN pair holds no value
    hi_a = np.full(3, np.nan)
    for k, (lo, hi) in enumerate(wins):
        lo_a[k], hi_a[k] = lo, hi
    below = np.empty(3, dtype=np.int64)
    upto = np.empty(3, dtype=np.int64)
    mask = np.empty(n, dtype=np.uint8)
    window_counts(a, lo_a, hi_a, below, upto, mask)
    held = upto - below
    total = int(held.sum())
    if total > n // 8:
        return None
    # each rank's place among the windows' values (the windows ascending and disjoint)
    before = np.cumsum(held) - held
    pos = np.empty(len(ranks), dtype=np.int64)
    for j, r in enumerate(ranks.tolist()):
        w = next((w for w in range(len(wins)) if below[w] <= r < upto[w]), None)
        if w is None:
            return None
        pos[j] = r - below[w] + before[w]
    buf = np.empty(total + 1)
    got = squeeze(a, mask, buf)
    if got != total:  # cannot happen (the same comparisons); the partitions then
        return None
    held_vals = buf[:total]
    vals = order_statistics(held_vals, pos)
    if (vals == 0.0).any():  # every zero of a lies in the window that holds this one
        signs = np.signbit(held_vals[held_vals == 0.0])
        if signs.any() and not signs.all():
            return None
    return vals


def rows_quantiles(rows: np.ndarray, quantiles: tuple[float, ...]) -> np.ndarray:
    """``np.quantile(rows.T, quantiles, axis=0)`` of a 2-D float64 array (the same numbers):
    (quantiles, rows). ``rows`` is scratch (each row is reordered in place)."""
    out = np.empty((len(quantiles), rows.shape[0]))
    for i in range(rows.shape[0]):
        out[:, i] = quantiles_of(rows[i], quantiles, scratch=True)
    return out
