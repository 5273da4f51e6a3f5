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
- :func:`window_counts` and :func:`squeeze`: the two passes of
  :func:`mkba.quantiles.windowed_order_statistics` (how many values lie below and in each of
  three value windows, and the windows' values copied out).

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


YEAR_BLOCK = 128
"""Draws per block of :func:`year_buckets`: the block's columns (up to 60 x 1 KiB for the
reference) stay in the first cache levels between the row sweep and the column loops."""


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
      order); the caller made each segment as long as its buckets' counts.

    How: a block of :data:`YEAR_BLOCK` draws is read row by row (each row's years are
    contiguous; the running sums added on the way, year after year as before) into one
    contiguous row per column, then each column's buckets, counts or copies are done on its
    row, and the sums four columns at a time (four independent chains of additions, each
    column's still in draw order). The numbers are those of reading each column with a stride
    (main c78b2fa's code; tests/test_year_buckets_sweep.py compares them byte for byte), in
    about 0.7x the time: a strided column read missed the cache on every value, and a single
    chain of additions waited on each one."""
    n = src.shape[0]
    w = t1 - t0
    m = lo.size
    nb = hist.shape[1]
    top = nb - 1.0
    gather = fill.size > 0
    running = m > w
    if not gather:
        for k in range(m):
            for b in range(nb):
                hist[k, b] = 0
    block = YEAR_BLOCK
    cols = np.empty((m, block))  # the block's columns, one contiguous row each
    # int32 bucket numbers (0 .. nb - 1): AVX2 converts four doubles to int32 at once, not to
    # int64 (a scalar conversion each), 0.74x the counting pass's time (i29-mem)
    ids = np.empty(block, dtype=np.int32)
    for r0 in range(0, n, block):
        r1 = min(r0 + block, n)
        nr = r1 - r0
        if running:
            for i in range(r0, r1):
                j = i - r0
                c = src[i, 0]  # the running sum, year 0 on (np.cumsum's additions)
                for t in range(1, t0):
                    c = c + src[i, t]
                for t in range(t0, t1):
                    v = src[i, t]
                    if t > 0:
                        c = c + v
                    cols[t - t0, j] = v
                    cols[t - t0 + w, j] = c
        else:
            for i in range(r0, r1):
                j = i - r0
                for t in range(t0, t1):
                    cols[t - t0, j] = src[i, t]
        for k in range(m):
            lok = lo[k]
            sk = scale[k]
            col = cols[k]
            for j in range(nr):
                f = (col[j] - lok) * sk
                f = f if f >= 0.0 else 0.0  # below lo (or a NaN)
                f = f if f <= top else top
                ids[j] = np.int32(f)  # f in [0, nb - 1]: the same number as int(f)
            if gather:
                tk = tab[k]
                for j in range(nr):
                    q = tk[ids[j]]
                    if q >= 0:
                        p = fill[q]
                        buf[p] = col[j]
                        fill[q] = p + 1
            else:
                hk = hist[k]
                for j in range(nr):
                    hk[ids[j]] += 1
        if gather:
            continue
        # the sums in draw order: a year's from 0.0 (0.0 + its first value), a running
        # sum's from its first value; four columns' chains side by side
        first = 1 if r0 == 0 else 0
        k = 0
        while k < m:
            if k + 4 <= m:
                c0 = cols[k]
                c1 = cols[k + 1]
                c2 = cols[k + 2]
                c3 = cols[k + 3]
                if r0 == 0:
                    a0 = c0[0] if k >= w else 0.0 + c0[0]
                    a1 = c1[0] if k + 1 >= w else 0.0 + c1[0]
                    a2 = c2[0] if k + 2 >= w else 0.0 + c2[0]
                    a3 = c3[0] if k + 3 >= w else 0.0 + c3[0]
                else:
                    a0 = sums[k]
                    a1 = sums[k + 1]
                    a2 = sums[k + 2]
                    a3 = sums[k + 3]
                for j in range(first, nr):
                    a0 += c0[j]
                    a1 += c1[j]
                    a2 += c2[j]
                    a3 += c3[j]
                sums[k] = a0
                sums[k + 1] = a1
                sums[k + 2] = a2
                sums[k + 3] = a3
                k += 4
            else:
                c0 = cols[k]
                a0 = sums[k]
                if r0 == 0:
                    a0 = c0[0] if k >= w else 0.0 + c0[0]
                for j in range(first, nr):
                    a0 += c0[j]
                sums[k] = a0
                k += 1


@njit(cache=True, nogil=True)
def window_counts(a, lo, hi, below, upto, mask):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """For the three value windows ``[lo[k], hi[k]]`` (disjoint and ascending; a NaN pair is
    no window): ``below[k]`` = how many values of ``a`` are ``< lo[k]``, ``upto[k]`` = how many
    are ``<= hi[k]``, and ``mask[i]`` = 1 where ``a[i]`` lies in a window, else 0
    (:func:`mkba.quantiles.windowed_order_statistics`). One pass; comparisons only, no
    branches (vectorised)."""
    l0 = lo[0]
    l1 = lo[1]
    l2 = lo[2]
    h0 = hi[0]
    h1 = hi[1]
    h2 = hi[2]
    b0 = np.int64(0)
    b1 = np.int64(0)
    b2 = np.int64(0)
    c0 = np.int64(0)
    c1 = np.int64(0)
    c2 = np.int64(0)
    for i in range(a.size):
        x = a[i]
        u0 = np.int64(x < l0)
        u1 = np.int64(x < l1)
        u2 = np.int64(x < l2)
        v0 = np.int64(x <= h0)
        v1 = np.int64(x <= h1)
        v2 = np.int64(x <= h2)
        b0 += u0
        b1 += u1
        b2 += u2
        c0 += v0
        c1 += v1
        c2 += v2
        mask[i] = (v0 - u0) + (v1 - u1) + (v2 - u2)
    below[0] = b0
    below[1] = b1
    below[2] = b2
    upto[0] = c0
    upto[1] = c1
    upto[2] = c2


@njit(cache=True, nogil=True)
def squeeze(a, mask, buf):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """``buf[:f] = a[mask == 1]`` (``mask`` 0 or 1), in draw order; returns ``f``. Every value
    is written at the next free place and kept where its mask is 1 (no branch), so ``buf``
    needs ``f + 1`` places."""
    f = 0
    for i in range(a.size):
        buf[f] = a[i]
        f += mask[i]
    return f
