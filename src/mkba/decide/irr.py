"""Internal rate of return per draw, and acceptability curves.

IRR
---
The IRR of a draw is a rate ``r`` at which the net present value of its yearly net flows
``f_t`` (real, undiscounted, the scenario's perspective; :attr:`mkba.engine.Outcomes.flow`)
is zero:

    NPV(r) = sum_t f_t (1 + r)^-(t - base_year) = 0.

Root choice (documented, not an error case): the NPV is evaluated on a fixed grid of rates
(:data:`GRID`, -90 % to +1000 %, dense in log(1 + r)), every sign change between grid points is
a root, and each root is refined by bisection to 1e-12. The reported IRR is the **lowest** rate
at which the NPV changes sign. ``irr_roots`` counts the sign changes: 0 means no IRR (the NPV
keeps one sign over the whole range: ``NaN``, reported as "none"), 1 a unique IRR, and 2 or
more that the flows change sign more than once (e.g. follow-up costs after the benefits) and
the IRR is ambiguous; such draws are counted and flagged, not dropped. Two roots closer together
than one grid step (about 1.2 % in 1 + r) are not seen.

How it is computed (the numbers are those of the definition above, bit for bit): the grid NPVs
of a block of draws are one BLAS product, scanned for sign changes, and the bisection evaluates
the NPV's sign by Horner's rule. For consecutive years a faster path gives the same numbers
where it can prove them (issue 17): when a draw's flows change sign at most once, the grid
signs follow from two proven polynomial values around the one root instead of 400 dot
products (:func:`_brackets`), and the bisection's signs are known beforehand except in a
narrow interval around the root, where the polynomial is still evaluated (:func:`_cuts`).
Where a proof fails (more sign changes, a value too close to zero, flows out of range) the
block takes the grid NPVs.

Acceptability
-------------
P(NPV > 0) against the discount rate comes from the discount sweep of
:func:`mkba.sensitivity.discount_sweep` (every rate re-lowered on the same draws). Against a
cost overrun factor ``k`` the costs of every draw are multiplied by ``k`` on top of the
sampled overruns, ``NPV_k = B - k C`` (present values of the same draws), so
``P(NPV_k > 0) = P(BCR > k)``.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from mkba.engine import Run
    from mkba.model import Model

# rates on which the NPV's sign is scanned: 1 + r from 0.1 to 11, 400 points evenly in log
GRID = np.expm1(np.linspace(np.log(0.1), np.log(11.0), 400))


def npv_at(flow: np.ndarray, offsets: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """NPV of each row of ``flow`` (n, T) at each rate (G,): (n, G).

    ``offsets`` are the years since the base year of the flow's columns.
    """
    df = (1.0 + np.asarray(rates, float))[None, :] ** -np.asarray(offsets, float)[:, None]
    return np.atleast_2d(flow) @ df


@dataclass(frozen=True)
class IrrResult:
    irr: np.ndarray  # (n,) lowest root; NaN where none
    roots: np.ndarray  # (n,) number of sign changes of NPV(r) on the grid

    @property
    def share_none(self) -> float:
        return float(np.mean(self.roots == 0))

    @property
    def share_multiple(self) -> float:
        return float(np.mean(self.roots > 1))


def irr(flow: np.ndarray, offsets: np.ndarray, *, chunk: int = 4096) -> IrrResult:
    """IRR of every row of ``flow`` (n, T); see the module docstring for the root choice.

    Blocks of ``chunk`` rows are independent (each its own bisection) and are computed on
    threads (NumPy releases the GIL in the array operations); the numbers do not depend on the
    thread count.

    Parameters
    ----------
    flow : (n, T) array
        Yearly net flows [EUR], undiscounted.
    offsets : (T,) array
        Years since the base year of each column [year] (0 for the base year).
    """
    flow = np.atleast_2d(np.asarray(flow, float))
    n = flow.shape[0]
    out = np.full(n, np.nan)
    roots = np.zeros(n, dtype=np.int64)
    offsets = np.asarray(offsets, float)
    _each_block(lambda lo: _irr_block(flow, offsets, lo, chunk, out, roots), range(0, n, chunk))
    return IrrResult(out, roots)


def _each_block(work: Callable[[int], None], blocks: Sequence[int]) -> None:
    """``work(b)`` for every item of ``blocks``: on :func:`_threads` threads when there are
    two or more blocks (each block writes only its own rows, so the numbers do not depend on
    the thread count), else in this thread."""
    workers = min(len(blocks), _threads())
    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(work, blocks))
    else:
        for b in blocks:
            work(b)


def _threads() -> int:
    """The CPUs this process may use, at most 4 (a block that takes the grid NPVs holds ~40 MB
    of scratch)."""
    from mkba.sampling import usable_cpus

    return max(1, min(usable_cpus(), 4))


def _irr_block(
    flow: np.ndarray, offsets: np.ndarray, lo: int, chunk: int, out: np.ndarray, roots: np.ndarray
) -> None:
    """The IRR of rows ``lo:lo + chunk`` of ``flow``, written into ``out``/``roots``."""
    f = flow[lo : lo + chunk]
    # the scan and the bisection compiled (the same numbers), unless a cold first run's
    # compile child is still compiling them: then in NumPy (mkba.warmup.DEFERRED)
    if _consecutive(offsets) and not _compiling_elsewhere():
        fc = np.ascontiguousarray(f)
        o, r = out[lo : lo + chunk], roots[lo : lo + chunk]
        _announce_compile()
        if _certifiable(offsets) and _scan_bisect(_NO_GRID_NPV, fc, GRID, o, r):
            return  # every row's brackets proven without the grid NPVs (see _brackets)
        v = np.ascontiguousarray(_npv_one_blas_thread(f, offsets))  # (m, G)
        _scan_bisect(v, fc, GRID, o, r)
        return
    v = _npv_one_blas_thread(f, offsets)
    _scan_bisect_numpy(f, offsets, v, lo, chunk, out, roots)


def _announce_compile() -> None:
    """Say on stderr, once per process, when :func:`_scan_bisect` is compiled here instead of
    loaded from the cache: e.g. in a run started while a cold first run's compile child was
    still compiling it (it goes on after that run ends), or after that child failed."""
    from mkba import compile_notice

    compile_notice.announce_part(_scan_bisect, "the IRR", IRR_ESTIMATE)


IRR_ESTIMATE = "about 10 s"
"""The IRR's compile (the scan, the bisection and their callees): 7-10 CPU-s measured on the
project machine (issue 17, eleventh and twelfth sessions)."""


_COMPILED = "mkba.decide.irr:_scan_bisect"
"""The compiled scan and bisection, as :mod:`mkba.warmup` names it."""


def _compiling_elsewhere() -> bool:
    """Whether a cold first run's compile child is still compiling :func:`_scan_bisect`
    (:func:`mkba.warmup.pending`). Only a process that imported :mod:`mkba.warmup` can have
    started one: a warm run does not import it for this."""
    warmup = sys.modules.get("mkba.warmup")
    return warmup is not None and bool(warmup.pending(_COMPILED))


_NO_GRID_NPV = np.empty((0, GRID.size))
"""The ``v`` argument of :func:`_scan_bisect` that asks it to find the brackets itself."""

_MAX_OFFSET = 200.0
"""The largest ``|offset|`` [year] for which :func:`_brackets` is used: every term of the
grid NPVs and of its polynomials is then a normal float for flows within
:data:`_FLOW_RANGE` (no overflow, no underflow beyond the absolute slack it allows)."""


def _certifiable(offsets: np.ndarray) -> bool:
    """Whether :func:`_brackets`'s error bounds hold for these (consecutive) offsets."""
    return bool(offsets.size <= _MAX_OFFSET + 1 and np.all(np.abs(offsets) <= _MAX_OFFSET))


def _npv_one_blas_thread(f: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """:func:`npv_at` on the grid with OpenBLAS using only the calling thread: the blocks are
    already on threads, and OpenBLAS's own threads, which wait by spinning, took a quarter of
    the IRR's CPU time on a 2-CPU machine. Each NPV is one thread's dot product either way (the
    same numbers). Without OpenBLAS's per-thread setting, its default."""
    setter = _blas_thread_setter()
    if setter is None:
        return npv_at(f, offsets, GRID)
    before = setter(1)
    try:
        return npv_at(f, offsets, GRID)
    finally:
        setter(before)


@functools.cache
def _blas_thread_setter() -> Callable[[int], int] | None:
    """OpenBLAS's ``openblas_set_num_threads_local`` (threads for the calling thread only;
    OpenBLAS >= 0.3.27) from the library NumPy loaded, or None."""
    import ctypes
    import glob

    libs = glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "*openblas*"))
    for path in libs:
        try:
            fn = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.argtypes = [ctypes.c_int]
        fn.restype = ctypes.c_int
        return fn
    return None


def _consecutive(offsets: np.ndarray) -> bool:
    """Whether ``offsets`` are consecutive whole years ``o, o + 1, ..., o + T - 1`` (T > 1)."""
    steps = np.diff(offsets)
    return bool(offsets.size > 1 and np.all(offsets == np.round(offsets)) and np.all(steps == 1.0))


def _scan_bisect_numpy(
    f: np.ndarray,
    offsets: np.ndarray,
    v: np.ndarray,
    lo: int,
    chunk: int,
    out: np.ndarray,
    roots: np.ndarray,
) -> None:
    """The sign-change scan of the grid NPVs ``v`` of the rows ``f`` and the bisection of the
    lowest root, in NumPy (any offsets; :func:`_scan_bisect` is the same for consecutive
    years, compiled)."""
    # a sign change between grid points j and j+1 (exact zeros count once); on booleans, which
    # is 8x less memory traffic than sign(v) products and gives the same pattern (NaN included)
    neg, pos, zero = v < 0, v > 0, v == 0
    change = (neg[:, :-1] & pos[:, 1:]) | (pos[:, :-1] & neg[:, 1:]) | (zero[:, :-1] & ~zero[:, 1:])
    roots[lo : lo + chunk] = np.count_nonzero(change, axis=1)
    has = change.any(axis=1)
    if not has.any():
        return
    j = np.argmax(change, axis=1)[has]
    rows = np.flatnonzero(has)
    a, b = GRID[j].copy(), GRID[j + 1].copy()
    fa = v[rows, j]
    exact = fa == 0
    sign_at = _sign_function(f[rows], offsets)
    for _ in range(200):  # bisection: the bracket halves each step
        mid = 0.5 * (a + b)
        fm = sign_at(mid)
        left = np.sign(fm) == np.sign(fa)
        a = np.where(left, mid, a)
        fa = np.where(left, fm, fa)
        b = np.where(left, b, mid)
        if np.all(b - a <= 1e-12 * (1.0 + np.abs(a))):
            break
    res = 0.5 * (a + b)
    res[exact] = GRID[j][exact]
    out[lo + rows] = res


@njit(cache=True, nogil=True)
def _scan_bisect(v, f, grid, out, roots):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """:func:`_scan_bisect_numpy` for consecutive whole-year offsets, compiled, the same
    numbers: the sign changes of each row's grid NPVs into ``roots``; for the rows with one,
    the lowest bracket bisected on Horner's polynomial of the flows ``f`` (m, T) (see
    :func:`_sign_function`), all rows of the block in lockstep until every bracket is narrow
    (as the NumPy loop does), into ``out``. Returns True when done.

    With the grid NPVs ``v`` (m, G) (:func:`npv_at`) the scan reads their signs. With a ``v``
    of no rows it proves each row's brackets without them (:func:`_brackets`, a few
    polynomial values a row instead of G dot products); where it cannot (a row with more than
    one sign change in its flows, a flow out of :data:`_FLOW_RANGE`, a NaN, or an NPV too
    close to zero at a bracket's end) it returns False with ``out``/``roots`` untouched, and
    the caller computes ``v`` and calls again. Either way the bisection evaluates the
    polynomial only where its sign is not proven beforehand (:func:`_cuts`)."""
    m = f.shape[0]
    t_n = f.shape[1]
    g = grid.shape[0]
    cols = np.empty((t_n, m))  # one contiguous row per year
    absc = np.empty((t_n, m))  # their magnitudes (for the rounding bounds)
    # copied a few rows at a time, year by year (issue 17): row by row, each row's stores went
    # to years m * 8 bytes apart, the same cache sets for every row
    for i0 in range(0, m, _PROLOGUE_ROWS):
        i1 = min(m, i0 + _PROLOGUE_ROWS)
        for t in range(t_n):
            for i in range(i0, i1):
                z = f[i, t]
                cols[t, i] = z
                absc[t, i] = abs(z)
    # rows whose nonzero flows change sign at most once, all in range (NaN: not; see _brackets):
    # each row's last nonzero flow, sign changes and range check updated year after year (as
    # row by row before, the same numbers), every row at once along the contiguous years
    inside = t_n <= _MAX_OFFSET + 1
    prev = np.zeros(m)
    changes = np.zeros(m, dtype=np.int64)
    fine = np.full(m, inside)
    for t in range(t_n):
        c = cols[t]
        for i in range(m):
            z = c[i]
            p = prev[i]
            nz = z != 0.0
            ok = (z == 0.0) | ((abs(z) >= _FLOW_RANGE[0]) & (abs(z) <= _FLOW_RANGE[1]))
            fine[i] = fine[i] & ok
            changes[i] += int(nz & (p != 0.0) & ((z > 0.0) != (p > 0.0)))
            prev[i] = z if nz else p
    mono = np.empty(m, dtype=np.bool_)
    every = inside
    for i in range(m):
        mono[i] = fine[i] and changes[i] <= 1
        every = every and mono[i]
    first = np.empty(m, dtype=np.int64)
    fa = np.empty(m)
    exact = np.zeros(m, dtype=np.bool_)
    if v.shape[0] == m:
        for i in range(m):
            count = 0  # sign changes, counted without a branch on the data
            for j in range(g - 1):
                x0 = v[i, j]
                x1 = v[i, j + 1]
                count += (
                    ((x0 < 0.0) & (x1 > 0.0))
                    | ((x0 > 0.0) & (x1 < 0.0))
                    | ((x0 == 0.0) & (x1 != 0.0))
                )
            roots[i] = count
            first[i] = -1
            if count > 0:
                for j in range(g - 1):  # the first change
                    x0 = v[i, j]
                    x1 = v[i, j + 1]
                    if (
                        ((x0 < 0.0) & (x1 > 0.0))
                        | ((x0 > 0.0) & (x1 < 0.0))
                        | ((x0 == 0.0) & (x1 != 0.0))
                    ):
                        first[i] = j
                        fa[i] = x0
                        exact[i] = x0 == 0.0
                        break
    elif every and _brackets(cols, absc, grid, first, fa):
        for i in range(m):  # (only now: a failed proof leaves roots untouched)
            roots[i] = 1 if first[i] >= 0 else 0
    else:
        return False
    nh = 0
    for i in range(m):
        nh += first[i] >= 0
    if nh == 0:
        return True
    # the rows with a root, in order, moved to the front (k <= i: in place)
    rows = np.empty(nh, dtype=np.int64)
    k = 0
    for i in range(m):
        if first[i] >= 0:
            rows[k] = i
            if k < i:
                for t in range(t_n):
                    cols[t, k] = cols[t, i]
                    absc[t, k] = absc[t, i]
                first[k] = first[i]
                fa[k] = fa[i]
                exact[k] = exact[i]
                mono[k] = mono[i]
            k += 1
    a = np.empty(nh)
    b = np.empty(nh)
    for k in range(nh):
        a[k] = grid[first[k]]
        b[k] = grid[first[k] + 1]
        mono[k] = mono[k] and not exact[k]
    q1 = np.empty(nh)
    q2 = np.empty(nh)
    below = np.empty(nh, dtype=np.bool_)
    above = np.empty(nh, dtype=np.bool_)
    _cuts(cols, absc, a, b, fa, mono, q1, q2, below, above)
    # The NumPy loop bisects every row of the block in lockstep and stops after the first
    # step at which every bracket is narrow. Here rows go in tiles (a tile's flows stay in
    # cache): each tile runs until its own rows are narrow (step s_tile), then every tile is
    # brought to the latest such step S. If all rows are narrow at S, S is the NumPy loop's
    # stop (no earlier step has every tile narrow); else all go on in lockstep, as NumPy does.
    tiles = (nh + _TILE - 1) // _TILE
    mid = np.empty(_TILE)
    x = np.empty(_TILE)
    acc = np.empty(_TILE)
    dec = np.empty(_TILE, dtype=np.int64)
    steps = np.zeros(tiles, dtype=np.int64)
    narrow = np.zeros(tiles, dtype=np.bool_)
    last = 0
    for u in range(tiles):
        k0, k1 = u * _TILE, min((u + 1) * _TILE, nh)
        while steps[u] < 200 and not narrow[u]:
            narrow[u] = _bisect_step(cols, a, b, fa, q1, q2, below, above, k0, k1, mid, x, acc, dec)
            steps[u] += 1
        last = max(last, steps[u])
    for u in range(tiles):
        k0, k1 = u * _TILE, min((u + 1) * _TILE, nh)
        while steps[u] < last:
            narrow[u] = _bisect_step(cols, a, b, fa, q1, q2, below, above, k0, k1, mid, x, acc, dec)
            steps[u] += 1
    every = True
    for u in range(tiles):
        every = every and narrow[u]
    while last < 200 and not every:  # lockstep, one step of every tile at a time
        every = True
        for u in range(tiles):
            k0, k1 = u * _TILE, min((u + 1) * _TILE, nh)
            narrow[u] = _bisect_step(cols, a, b, fa, q1, q2, below, above, k0, k1, mid, x, acc, dec)
            every = every and narrow[u]
        last += 1
    for k in range(nh):
        out[rows[k]] = grid[first[k]] if exact[k] else 0.5 * (a[k] + b[k])
    return True


_PROLOGUE_ROWS = 64
"""Rows of a block copied year by year at a time in :func:`_scan_bisect` (their flows'
cache lines stay in cache while each year is copied out); the numbers do not depend on it."""

_TILE = 512
"""Rows bisected together in :func:`_scan_bisect` (their flows, 30 years x 512 x 8 bytes,
stay in cache); the numbers do not depend on it."""


@njit(cache=True, nogil=True)
def _bisect_step(cols, a, b, fa, q1, q2, below, above, k0, k1, mid, x, acc, dec):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """One bisection step of rows ``k0:k1`` (the NumPy loop's body, the same decisions;
    ``mid``, ``x``, ``acc``, ``dec`` are scratch of at least ``k1 - k0``): returns whether
    every bracket of them is narrow afterwards.

    The step goes left (``a = mid``) when the polynomial's computed value at ``mid`` has the
    sign of ``fa`` (both zero included). That sign is proven beforehand for ``mid <= q1``
    (``below``) and ``mid >= q2`` (``above``) (:func:`_cuts`); only in between, which is
    rare, is the polynomial evaluated, with the same operations as before. ``fa`` keeps its
    sign through the bisection (it is replaced only by a value of the same sign), so it is
    not rewritten."""
    m = k1 - k0
    # slices indexed by k (an index k0 + k made LLVM gather instead of load)
    aa, bb, ff = a[k0:k1], b[k0:k1], fa[k0:k1]
    c1, c2, lb, ub = q1[k0:k1], q2[k0:k1], below[k0:k1], above[k0:k1]
    todo = 0
    for k in range(m):  # without branches on the data (every load made): vectorised
        md = 0.5 * (aa[k] + bb[k])
        mid[k] = md
        lower = md <= c1[k]
        upper = md >= c2[k]
        sure = (lower & lb[k]) | (upper & ub[k])
        dec[k] = 2 - 2 * (lower | upper) + sure
        todo += not (lower | upper)
    if 8 * todo > m:  # many unknown: the polynomial of every row, vectorised
        for k in range(m):
            x[k] = 1.0 / (1.0 + mid[k])
        _horner(cols, k0, k1, x, acc)
    elif todo > 0:
        t_n = cols.shape[0]
        for k in range(m):
            if dec[k] == 2:  # _horner's operations for one row
                r = k0 + k
                xk = 1.0 / (1.0 + mid[k])
                z = cols[t_n - 1, r]
                t = t_n - 2
                while t >= 3:
                    z = (((z * xk + cols[t, r]) * xk + cols[t - 1, r]) * xk + cols[t - 2, r]) * xk
                    z = z + cols[t - 3, r]
                    t -= 4
                while t >= 0:
                    z = z * xk + cols[t, r]
                    t -= 1
                acc[k] = z
    wide = 0
    for k in range(m):
        fm = acc[k]
        fr = ff[k]
        # np.sign(fm) == np.sign(fa): the same sign, or both zero (never with a NaN)
        same = ((fm > 0.0) & (fr > 0.0)) | ((fm < 0.0) & (fr < 0.0)) | ((fm == 0.0) & (fr == 0.0))
        d = dec[k]
        left = ((d == 2) & same) | (d == 1)
        mk = mid[k]
        ak = aa[k]
        bk = bb[k]
        ar = mk if left else ak
        br = bk if left else mk
        aa[k] = ar
        bb[k] = br
        wide += not (br - ar <= 1e-12 * (1.0 + abs(ar)))
    return wide == 0


@njit(cache=True, nogil=True)
def _horner(cols, k0, k1, x, acc):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """``acc[k]`` = the polynomial ``sum_t cols[t, k0 + k] x[k]**t`` by Horner's rule, as
    :func:`_sign_function`'s ``horner``: ``acc = acc * x + f_t`` for t = T-2, ..., 0, every
    product and sum rounded (numba does not fuse them without fastmath); four years per pass
    over the rows (the same operations in the same order, a quarter of the loads and
    stores)."""
    t_n = cols.shape[0]
    m = k1 - k0
    c = cols[t_n - 1, k0:k1]
    for k in range(m):
        acc[k] = c[k]
    t = t_n - 2
    # (slices of cols, not cols[t, k0 + k]: with the two-dimensional index the loop ran 1.8x
    # slower, though it compiled 0.3 s faster)
    while t >= 3:
        c0 = cols[t, k0:k1]
        c1 = cols[t - 1, k0:k1]
        c2 = cols[t - 2, k0:k1]
        c3 = cols[t - 3, k0:k1]
        for k in range(m):
            xk = x[k]
            acc[k] = (((acc[k] * xk + c0[k]) * xk + c1[k]) * xk + c2[k]) * xk + c3[k]
        t -= 4
    while t >= 0:
        c0 = cols[t, k0:k1]
        for k in range(m):
            acc[k] = acc[k] * x[k] + c0[k]
        t -= 1


_FLOW_RANGE = (1e-30, 1e30)
"""The magnitudes [EUR] of nonzero flows for which :func:`_brackets` and :func:`_cuts` are
used (with at most :data:`_MAX_OFFSET` + 1 years)."""

_NEWTON = 5
"""Newton steps of :func:`_cuts` from the middle of the grid bracket (the numbers do not
depend on it; too few only leaves more bisection steps to evaluate)."""


@njit(cache=True, nogil=True)
def _brackets(cols, absc, grid, first, fa):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """For every row of the flows ``cols`` (T, m) (each with at most one sign change, in
    :data:`_FLOW_RANGE`; ``absc`` their magnitudes): the grid index of the sign change of its
    grid NPVs (``first``, -1 if none: there is at most one) and a value of the NPV's sign
    there (``fa``), exactly as the scan of the grid NPVs of :func:`npv_at` finds them, from a
    few polynomial values instead of the G dot products. Returns False (and the caller scans the grid NPVs)
    if that is not proven for every row.

    Why it is exact. Let ``y_j = 1 + GRID[j]`` (rounded, increasing), ``x_j = 1 / y_j``,
    ``P(x) = sum_t f_t x**t``, ``S(x) = sum_t |f_t| x**t``; the grid NPV of the offsets
    ``o, ..., o + T - 1`` is ``x**o P(x)`` up to rounding: the power's (a few units in the
    last place, u, of each discount factor) and the dot product's, at most ``T u`` of
    ``S``-sized terms in any summation order (Higham, Accuracy and Stability, 3.1), so
    ``|v_j - x_j**o P(x_j)| <= (T + 16) u x_j**o S(x_j)`` whatever BLAS does.

    If the nonzero flows change sign at most once, ``R = P / S`` is monotone in ``x``
    (``P = B - N``, ``S = B + N`` with the benefits ``B`` and costs ``N`` of the two sign
    groups, and ``B / N`` increasing: Descartes' setting). So if ``|R|`` exceeds the
    rounding bound ``(T + 16) u`` at two adjacent grid points where ``P`` has opposite
    signs, every other grid point is farther from the one zero of ``P`` and has a larger
    ``|R|``: all grid NPVs have the sign of ``P`` (none is zero), there is exactly one sign
    change, between those two points; if it exceeds it at both ends with one sign, there is
    none. The grid index search (bisection over indices, signs only) just proposes the two
    points; only the two final values are proven: ``|H| > M S_H + 1e-300`` for Horner's
    computed ``H`` and ``S_H`` at ``x_j`` rounded, ``M = 16 (T + 8) u`` (Horner's bound,
    ``2 T u``, the rounded ``x_j``, ``T u``, and the BLAS bound above, with room to spare;
    the absolute term covers underflow). The flows' magnitudes (:data:`_FLOW_RANGE`) and
    offsets (:data:`_MAX_OFFSET`) keep every term a normal float.
    """
    t_n, m = cols.shape
    g = grid.shape[0]
    xg = np.empty(g)
    for j in range(g):
        xg[j] = 1.0 / (1.0 + grid[j])
    depth = 0  # index bisection steps from (0, G - 1) to adjacent indices
    span = g - 1
    while span > 1:
        span = (span + 1) // 2
        depth += 1
    bound = 16.0 * (t_n + 8) * 2.0**-53
    xs = np.empty(_TILE)
    w = np.empty(_TILE)
    w2 = np.empty(_TILE)
    s = np.empty(_TILE)
    lo = np.empty(_TILE, dtype=np.int64)
    hi = np.empty(_TILE, dtype=np.int64)
    jm = np.empty(_TILE, dtype=np.int64)
    up = np.empty(_TILE, dtype=np.bool_)
    ends = np.empty(_TILE, dtype=np.bool_)
    for k0 in range(0, m, _TILE):
        k1 = min(k0 + _TILE, m)
        n = k1 - k0
        for k in range(n):
            xs[k] = xg[0]
        _horner(cols, k0, k1, xs, w)
        for k in range(n):
            xs[k] = xg[g - 1]
        _horner(cols, k0, k1, xs, w2)
        for k in range(n):
            lo[k] = 0
            hi[k] = g - 1
            up[k] = w[k] > 0.0
            ends[k] = (w[k] > 0.0) != (w2[k] > 0.0)
        for _ in range(depth):  # lockstep over the tile, without branches on the data
            for k in range(n):
                jm[k] = (lo[k] + hi[k]) >> 1
                xs[k] = xg[jm[k]]
            _horner(cols, k0, k1, xs, w)
            for k in range(n):
                same = (w[k] > 0.0) == up[k]
                lo[k] = jm[k] if same else lo[k]
                hi[k] = hi[k] if same else jm[k]
        for k in range(n):  # the two points to prove: the bracket, or both ends
            if not ends[k]:
                lo[k] = 0
                hi[k] = g - 1
        bad = 0
        for side in range(2):
            for k in range(n):
                xs[k] = xg[lo[k] if side == 0 else hi[k]]
            _horner(cols, k0, k1, xs, w if side == 0 else w2)
            _horner(absc, k0, k1, xs, s)
            for k in range(n):
                z = w[k] if side == 0 else w2[k]
                bad += not (abs(z) > bound * s[k] + 1e-300)
        if bad:
            return False
        for k in range(n):
            i = k0 + k
            change = (w[k] > 0.0) != (w2[k] > 0.0)
            if change != ends[k] or (ends[k] and hi[k] != lo[k] + 1):
                return False
            first[i] = lo[k] if change else -1
            fa[i] = w[k]
    return True


@njit(cache=True, nogil=True)
def _cuts(cols, absc, a, b, fa, use, q1, q2, below, above):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """For each bracket ``(a, b)`` of the rows ``cols[:, :nh]`` (T, m >= nh; ``absc`` their
    magnitudes) with ``use`` (at most one
    sign change, in range, ``fa`` not zero): rates ``q1 < q2`` around the root such that the
    bisection's computed polynomial value at any ``mid <= q1`` has a proven sign, the same
    as ``fa``'s if ``below``, and likewise at ``mid >= q2`` (``above``). Elsewhere, and for
    the other rows (``q1 = -inf``, ``q2 = inf``), the bisection evaluates it.

    Why. The bisection evaluates ``H``, Horner's ``P`` at ``x = 1 / (1 + mid)`` rounded (a
    non-increasing function of ``mid``), within ``2 T u S(x)`` of ``P(x)`` (Higham 5.1).
    ``R = P / S`` is monotone in ``x`` (see :func:`_brackets`). If at ``x1 = x(q1)`` and
    ``x2 = x(q2)`` (``x1 > x2``) the computed values are proven to have opposite signs with
    ``|R| > 2 T u`` (``|H| > M S_H + 1e-300`` as in :func:`_brackets`), then for every ``x >=
    x1`` (``mid <= q1``) ``R`` has ``R(x1)``'s sign and a larger magnitude, so the computed
    value has that sign too; likewise for ``x <= x2``. ``q1``, ``q2`` come from a few
    (safeguarded) Newton steps on ``P`` and a width from its slope: they only need to be
    near the root for the bisection to evaluate rarely; the proof does not depend on them."""
    t_n = cols.shape[0]
    nh = a.shape[0]  # (cols may have more columns: rows without a root after these)
    bound = 16.0 * (t_n + 8) * 2.0**-53
    x = np.empty(_TILE)
    lox = np.empty(_TILE)
    hix = np.empty(_TILE)
    p = np.empty(_TILE)
    dp = np.empty(_TILE)
    dx = np.empty(_TILE)
    s = np.empty(_TILE)
    x1 = np.empty(_TILE)
    x2 = np.empty(_TILE)
    h1 = np.empty(_TILE)
    h2 = np.empty(_TILE)
    s1 = np.empty(_TILE)
    s2 = np.empty(_TILE)
    for k0 in range(0, nh, _TILE):
        k1 = min(k0 + _TILE, nh)
        n = k1 - k0
        for k in range(n):
            xa = 1.0 / (1.0 + a[k0 + k])
            xb = 1.0 / (1.0 + b[k0 + k])
            lox[k] = xb
            hix[k] = xa
            x[k] = 0.5 * (xa + xb)
            dx[k] = 0.0
        for _ in range(_NEWTON):
            c = cols[t_n - 1, k0:k1]
            for k in range(n):
                p[k] = c[k]
                dp[k] = 0.0
            for t in range(t_n - 2, -1, -1):
                c = cols[t, k0:k1]
                for k in range(n):
                    dp[k] = dp[k] * x[k] + p[k]
                    p[k] = p[k] * x[k] + c[k]
            for k in range(n):
                xn = x[k] - p[k] / dp[k]
                xn = xn if xn > lox[k] else lox[k]  # (NaN: the bracket's end)
                xn = xn if xn < hix[k] else hix[k]
                dx[k] = xn - x[k]
                x[k] = xn
        _horner(absc, k0, k1, x, s)
        for k in range(n):
            xk = x[k]
            r = 1.0 / xk - 1.0
            # half-width: the rounding bound over the slope |dP/dr| = |P'(x)| x^2, and the
            # last Newton step (both with room); NaN or inf leave the row to be evaluated
            d = 4.0 * bound * s[k] / (abs(dp[k]) * xk * xk) + 4.0 * abs(dx[k]) / (xk * xk)
            q1[k0 + k] = r - d
            q2[k0 + k] = r + d
            x1[k] = 1.0 / (1.0 + (r - d))
            x2[k] = 1.0 / (1.0 + (r + d))
        _horner(cols, k0, k1, x1, h1)
        _horner(absc, k0, k1, x1, s1)
        _horner(cols, k0, k1, x2, h2)
        _horner(absc, k0, k1, x2, s2)
        for k in range(n):
            i = k0 + k
            ok = (
                use[i]
                and q1[i] > -1.0
                and q1[i] < q2[i]
                and x1[k] > x2[k]
                and abs(h1[k]) > bound * s1[k] + 1e-300
                and abs(h2[k]) > bound * s2[k] + 1e-300
                and (h1[k] > 0.0) != (h2[k] > 0.0)
            )
            below[i] = (h1[k] > 0.0) == (fa[i] > 0.0)
            above[i] = (h2[k] > 0.0) == (fa[i] > 0.0)
            if not ok:
                q1[i] = -np.inf
                q2[i] = np.inf


def _sign_function(fr: np.ndarray, offsets: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A function of per-row rates ``r`` whose sign is the sign of each row's NPV at ``r``.

    The bisection needs only the sign. When the offsets are consecutive whole years
    ``o, o + 1, ..., o + T - 1`` the NPV is ``x**o * P(x)`` with ``x = 1 / (1 + r) > 0`` and
    ``P(x) = sum_k f_k x**k``, so ``P(x)``, evaluated by Horner's rule (T multiply-adds per row,
    no powers), has the NPV's sign. Otherwise the NPV itself is evaluated with powers.
    """
    steps = np.diff(offsets)
    if offsets.size > 1 and np.all(offsets == np.round(offsets)) and np.all(steps == 1.0):
        columns = np.ascontiguousarray(fr.T)  # (T, m): one contiguous row per year

        def horner(r: np.ndarray) -> np.ndarray:
            x = 1.0 / (1.0 + r)
            acc = columns[-1].copy()
            for k in range(columns.shape[0] - 2, -1, -1):
                acc *= x
                acc += columns[k]
            return acc

        return horner

    def powers(r: np.ndarray) -> np.ndarray:
        return (fr * (1.0 + r)[:, None] ** -offsets[None, :]).sum(axis=1)

    return powers


def irr_summary(res: IrrResult) -> dict[str, float]:
    """Mean, P5, P50, P95 of the IRR over draws that have one, and the shares without an IRR
    (``share_none``) and with several roots (``share_multiple``)."""
    from mkba.results import stats  # local: results imports this module

    doc: dict[str, float] = dict(stats(res.irr))
    doc.pop("share_defined", None)
    doc["share_none"] = res.share_none
    doc["share_multiple"] = res.share_multiple
    return doc


def overrun_acceptability(
    benefits: np.ndarray, costs: np.ndarray, factors: np.ndarray | None = None
) -> pd.DataFrame:
    """P(B - k C > 0) and the mean of ``B - k C`` for each cost overrun factor ``k``.

    ``benefits`` and ``costs`` are the per-draw present values of one perspective.
    """
    import pandas as pd  # local: the IRR of every run needs no pandas

    k = np.round(np.arange(0.5, 3.0001, 0.05), 6) if factors is None else np.asarray(factors)
    b, c = np.asarray(benefits, float), np.asarray(costs, float)
    npv = b[:, None] - c[:, None] * k[None, :]
    return pd.DataFrame(
        {
            "overrun_factor": k,
            "prob_npv_positive": (npv > 0).mean(axis=0),
            "npv_mean": npv.mean(axis=0),
            "npv_p5": np.quantile(npv, 0.05, axis=0),
            "npv_p95": np.quantile(npv, 0.95, axis=0),
        }
    )


def run_offsets(m: Model) -> np.ndarray:
    """The years since the base year of a model's flow columns (:func:`irr`'s ``offsets``)."""
    return m.years.astype(float) - float(m.spec.scenario.base_year)


def run_irr(run: Run) -> IrrResult:
    """The IRR of every draw of a finished :class:`~mkba.engine.Run` (computed once per run;
    by an :class:`IrrAlongside` while the run was simulated, when one was attached with
    :meth:`IrrAlongside.attach`: the same numbers)."""
    cached = getattr(run, "_irr", None)
    if cached is not None and cached.irr.shape[0] == run.outcomes.flow.shape[0]:
        return cached
    pending = getattr(run, "_irr_alongside", None)
    if pending is not None:
        object.__setattr__(run, "_irr_alongside", None)
        res = pending.result()
    else:
        res = irr(run.outcomes.flow, run_offsets(run.model))
    object.__setattr__(run, "_irr", res)
    return res


class IrrAlongside:
    """The IRR of every row of ``flow`` (n, T), computed on a thread of its own while the
    rows are being filled (a run's simulation, chunk by chunk): :meth:`rows_done` says that
    rows ``0 .. hi - 1`` hold their final values, and each block of ``chunk`` rows is computed
    as soon as all its rows are done. The blocks are :func:`irr`'s own (rows ``lo .. lo +
    chunk - 1`` for ``lo = 0, chunk, 2 chunk, ...``) and each goes through the same
    :func:`_irr_block`, so :meth:`result` is :func:`irr` (``flow``, ``offsets``, ``chunk``)
    bit for bit. :meth:`attach` hands it to a finished run, whose :func:`run_irr` then waits
    for it instead of computing the IRR again. ``also(lo, hi)``, when given, is called after
    each block's IRR with the block's rows, block after block in order (other work on rows
    while they are at hand, e.g. :class:`mkba.results.ColumnCopies`).

    On Linux the thread runs at the lowest priority (``nice``, default 19, for that thread
    only): it takes the CPU the simulation leaves idle and does not slow the simulation's own
    threads down. What it has not done when :meth:`result` is called, the caller takes over
    (on :func:`_threads` threads, at its own priority).

    ``seconds`` and ``cpu_s`` are the thread's busy time and CPU seconds; ``taken_over`` the
    number of blocks the caller of :meth:`result` computed. Rows must not change after
    :meth:`rows_done` has covered them."""

    def __init__(
        self,
        flow: np.ndarray,
        offsets: np.ndarray,
        *,
        chunk: int = 4096,
        also: Callable[[int, int], None] | None = None,
        nice: int | None = 19,
    ) -> None:
        import threading

        if flow.ndim != 2:
            raise ValueError("flow must be a (draws, years) array")
        self._flow = flow
        self._offsets = np.asarray(offsets, float)
        self._chunk = int(chunk)
        self._also = also
        self._nice = nice
        n = flow.shape[0]
        self._starts = list(range(0, n, self._chunk))
        self._out = np.full(n, np.nan)
        self._roots = np.zeros(n, dtype=np.int64)
        self._done = 0
        self._next = 0  # the next block to compute (claimed under the lock)
        self._stop = False  # abort(): no result
        self._takeover = False  # result(): the thread takes no further block
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self.seconds = 0.0
        self.cpu_s = 0.0
        self.taken_over = 0
        self.native_id: int | None = None  # the thread's system id, once it runs
        self._result: IrrResult | None = None
        self._thread = threading.Thread(target=self._work, name="mkba-irr", daemon=True)
        self._thread.start()

    @property
    def blocks(self) -> int:
        """The number of blocks of ``chunk`` rows."""
        return len(self._starts)

    @property
    def filling(self) -> IrrResult:
        """The arrays :meth:`result` returns, filled block by block: a block's rows hold their
        final values once ``also`` has been called for them (e.g. for a file written while the
        run is simulated, :class:`mkba.drawstream.DrawsStream`)."""
        return IrrResult(self._out, self._roots)

    def rows_done(self, hi: int) -> None:
        """Rows ``0 .. hi - 1`` of ``flow`` hold their final values."""
        with self._cond:
            if hi > self._done:
                self._done = hi
                self._cond.notify()

    def _block(self, i: int) -> None:
        lo = self._starts[i]
        _irr_block(self._flow, self._offsets, lo, self._chunk, self._out, self._roots)
        if self._also is not None:
            self._also(lo, min(lo + self._chunk, self._flow.shape[0]))

    def _work(self) -> None:
        import sys
        import threading
        import time

        self.native_id = threading.get_native_id()
        if self._nice is not None and sys.platform.startswith("linux"):
            # Linux: a thread id in PRIO_PROCESS names that thread only (elsewhere it would
            # name a process); lowering one's own priority needs no privilege
            import contextlib

            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, self.native_id, self._nice)
        n, chunk = self._flow.shape[0], self._chunk
        try:
            while True:
                with self._cond:
                    while True:
                        if self._stop or self._takeover or self._next >= len(self._starts):
                            return
                        if self._done >= min(self._starts[self._next] + chunk, n):
                            break
                        self._cond.wait()
                    i = self._next
                    self._next += 1
                t, c = time.perf_counter(), time.thread_time()
                self._block(i)
                self.seconds += time.perf_counter() - t
                self.cpu_s += time.thread_time() - c
        except BaseException as e:  # handed to result()
            self._error = e

    def result(self) -> IrrResult:
        """The IRR of every row, once every row is done (all rows are taken as done now): the
        thread finishes the block it is on, the caller computes the rest."""
        if self._result is not None:
            return self._result
        with self._cond:
            self._takeover = True  # first: the thread takes no block from here on
            self._done = max(self._done, self._flow.shape[0])
            self._cond.notify()
        self._thread.join()
        if self._error is not None:
            raise self._error
        rest = list(range(self._next, len(self._starts)))
        self._next = len(self._starts)
        self.taken_over = len(rest)
        # the IRR on threads (as irr()), then ``also`` block after block, in order
        also, self._also = self._also, None
        try:
            _each_block(self._block, rest)
        finally:
            self._also = also
        if also is not None:
            n = self._flow.shape[0]
            for i in rest:
                also(self._starts[i], min(self._starts[i] + self._chunk, n))
        self._result = IrrResult(self._out, self._roots)
        return self._result

    def abort(self) -> None:
        """Stop the thread (after its current block) without a result."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join()

    def attach(self, run: Run) -> Run:
        """Hand this IRR to ``run`` (whose ``outcomes.flow`` must be ``flow``): its
        :func:`run_irr` waits for :meth:`result`. Returns ``run``."""
        if run.outcomes.flow is not self._flow:
            self.abort()
            raise ValueError("the IRR was computed for another run's flows")
        object.__setattr__(run, "_irr_alongside", self)
        return run
