"""The compiled ``year_buckets`` of main c78b2fa (mkba.colstats), verbatim except for the name and
``cache=False``: the oracle the block-transposing rewrite is compared with, byte for byte
(tests/test_year_buckets_sweep.py)."""

import numpy as np
from numba import njit


@njit(cache=False, nogil=True)
def year_buckets_c78b2fa(src, t0, t1, lo, scale, hist, sums, tab, fill, buf):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
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
