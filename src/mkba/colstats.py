"""Compiled passes of a run's per-column statistics (:mod:`mkba.results`) that give NumPy's
numbers bit for bit with fewer passes over the draws.

- :func:`transpose_sums`: a block of columns of a row-major array copied contiguous (the copy
  the statistics already made) and, in the same pass, each column's sum in draw order, which
  is what ``arr.sum(axis=0)`` of a C-ordered (draws, columns) array computes: NumPy's
  reduction over the first axis starts from its identity 0.0 and adds the rows one after the
  other (its inner loop runs along the contiguous columns). ``mean(axis=0)`` then divides by
  the count. The per-year means of the yearly table come from here instead of two extra
  passes over the (draws, years) flows.
  The same pass also tells whether a column has the very bytes of another column of the same
  array (a stream that is the same in several perspectives): its statistics are then the
  other column's, computed once (:func:`mkba.results.precompute_statistics`).
- :func:`sum_sq_dev`: ``np.add.reduce((a - mean) ** 2)`` of a contiguous array (the sum of
  squared deviations of a standard deviation) without the deviation array: NumPy's
  ``DOUBLE_pairwise_sum`` (numpy/_core/src/umath/loops_utils.h.src) operation for operation,
  blocks of at most 128 values summed by eight accumulators, longer ranges split at half
  (rounded down to a multiple of 8) and the halves added. The reduction itself adds the result
  to its identity 0.0 (the caller's ``0.0 +``).
- :func:`add_running_sum`: ``c += row`` and ``np.cumsum(c)[-1]`` (the running sum in draw
  order that the cumulative flow's mean is), in one pass instead of three.

Float arithmetic without ``fastmath``: every addition happens in the order written, so the
results are NumPy's; the tests compare them by exact equality (sign of zero included).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def transpose_sums(src, j0, out, sums, bits, cand, same):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """``out[j] = src[:, j0 + j]`` for each row ``j`` of ``out`` (k, n), a block of 256 draws at
    a time, and ``sums[j]`` = that column's sum in draw order starting from 0.0.

    In the same pass: ``same[j, c]`` = 1 if column ``j0 + j`` of ``src`` has the very bytes of
    its column ``cand[j, c]`` (``bits`` is ``src`` seen as int64: NaN payloads and the signs of
    zeros count), else 0 (also for ``cand[j, c] < 0``: no candidate). Both columns lie in the
    rows the pass reads anyway; a comparison stops at the first difference."""
    n = src.shape[0]
    k = out.shape[0]
    m = cand.shape[1]
    for j in range(k):
        sums[j] = 0.0
        for c in range(m):
            same[j, c] = 1 if cand[j, c] >= 0 else 0
    for lo in range(0, n, 256):
        hi = min(lo + 256, n)
        for j in range(k):
            s = sums[j]
            for i in range(lo, hi):
                v = src[i, j0 + j]
                out[j, i] = v
                s += v
            sums[j] = s
            for c in range(m):
                if same[j, c] == 1:
                    other = cand[j, c]
                    for i in range(lo, hi):
                        if bits[i, j0 + j] != bits[i, other]:
                            same[j, c] = 0
                            break


@njit(cache=True, nogil=True)
def sum_sq_dev(a, lo, n, mean):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """NumPy's pairwise sum of ``(a[lo:lo + n] - mean) ** 2`` (see the module docstring)."""
    if n < 8:
        res = -0.0
        for i in range(lo, lo + n):
            d = a[i] - mean
            res += d * d
        return res
    if n <= 128:
        d0 = a[lo] - mean
        d1 = a[lo + 1] - mean
        d2 = a[lo + 2] - mean
        d3 = a[lo + 3] - mean
        d4 = a[lo + 4] - mean
        d5 = a[lo + 5] - mean
        d6 = a[lo + 6] - mean
        d7 = a[lo + 7] - mean
        r0 = d0 * d0
        r1 = d1 * d1
        r2 = d2 * d2
        r3 = d3 * d3
        r4 = d4 * d4
        r5 = d5 * d5
        r6 = d6 * d6
        r7 = d7 * d7
        m = n - n % 8
        for j in range(lo + 8, lo + m, 8):
            d0 = a[j] - mean
            d1 = a[j + 1] - mean
            d2 = a[j + 2] - mean
            d3 = a[j + 3] - mean
            d4 = a[j + 4] - mean
            d5 = a[j + 5] - mean
            d6 = a[j + 6] - mean
            d7 = a[j + 7] - mean
            r0 += d0 * d0
            r1 += d1 * d1
            r2 += d2 * d2
            r3 += d3 * d3
            r4 += d4 * d4
            r5 += d5 * d5
            r6 += d6 * d6
            r7 += d7 * d7
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        for i in range(lo + m, lo + n):
            d = a[i] - mean
            res += d * d
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return sum_sq_dev(a, lo, n2, mean) + sum_sq_dev(a, lo + n2, n - n2, mean)


@njit(cache=True, nogil=True)
def add_running_sum(c, row):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """``c += row``, then the running sum of the new ``c`` from its first value on
    (``np.cumsum(c)[-1]``); ``c`` has at least one value."""
    c[0] = c[0] + row[0]
    s = c[0]
    for i in range(1, c.size):
        v = c[i] + row[i]
        c[i] = v
        s += v
    return s


@njit(cache=True, nogil=True)
def year_buckets(src, t0, t1, lo, scale, hist, sums, tab, fill, buf):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """One pass over the rows of the C-ordered (draws, years) ``src`` for the columns
    ``k < w = t1 - t0`` (year ``t0 + k``) and, when ``lo`` has ``2 w`` entries, the columns
    ``k = w + j``: the running sum over the years ``0 .. t0 + j`` of each draw, added year by
    year from year 0 on (``np.cumsum(src, axis=1)[:, t0 + j]``, the same additions).

    Each value ``x`` of column ``k`` falls in bucket ``b = int(min(max((x - lo[k]) *
    scale[k], 0), nb - 1))`` of ``nb = hist.shape[1]``: a monotone map (``x <= y`` gives
    ``b(x) <= b(y)``: a correctly rounded subtraction and product are monotone, and so are the
    clamps and the truncation; a NaN falls in bucket 0, no bad index).

    - ``fill`` empty (the first pass): ``hist[k, b]`` counts the values of each bucket, and
      ``sums[k]`` is the column's sum in draw order: from 0.0 for a year (``np.add.reduce`` of
      a C-ordered array over axis 0, as :func:`transpose_sums`), from its first value for a
      running sum (``np.cumsum(column)[-1]``, as :func:`add_running_sum`).
    - else (the second pass): each value whose bucket has a segment ``s = tab[k, b] >= 0`` is
      copied to ``buf[fill[s]]`` and ``fill[s]`` counted on (a segment's values in draw
      order); the caller made each segment as long as its buckets' counts."""
    n = src.shape[0]
    w = t1 - t0
    m = lo.size
    nb = hist.shape[1]
    top = nb - 1.0
    gather = fill.size > 0
    first = 0 if m > w else t0  # running sums start at year 0
    if not gather:
        for k in range(m):
            for b in range(nb):
                hist[k, b] = 0
    c = np.empty(256)  # a block's running sums
    for r0 in range(0, n, 256):
        r1 = min(r0 + 256, n)
        for t in range(first, t1):
            if m > w:  # the running sums of the block's draws, year t added
                for i in range(r0, r1):
                    v = src[i, t]
                    c[i - r0] = v if t == 0 else c[i - r0] + v
            if t < t0:
                continue
            for h in range(2 if m > w else 1):
                k = t - t0 + h * w
                lok = lo[k]
                sk = scale[k]
                if gather:
                    for i in range(r0, r1):
                        x = src[i, t] if h == 0 else c[i - r0]
                        f = (x - lok) * sk
                        if not f >= 0.0:  # below lo (or a NaN)
                            f = 0.0
                        if f > top:
                            f = top
                        q = tab[k, int(f)]
                        if q >= 0:
                            p = fill[q]
                            buf[p] = x
                            fill[q] = p + 1
                    continue
                acc = sums[k] if r0 > 0 else 0.0
                for i in range(r0, r1):
                    x = src[i, t] if h == 0 else c[i - r0]
                    f = (x - lok) * sk
                    if not f >= 0.0:
                        f = 0.0
                    if f > top:
                        f = top
                    hist[k, int(f)] += 1
                    acc = x if i == 0 and h == 1 else acc + x
                sums[k] = acc
