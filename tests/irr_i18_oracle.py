# A verbatim copy of mkba.decide.irr as of main 0a9a722 (issue 17, before i19-irr): the oracle of
# tests/test_irr_i19.py, which asserts that the new IRR gives the same bits. Only these comment
# lines were added; the code below is unchanged.
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
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from mkba.engine import Run

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
    starts = range(0, n, chunk)
    workers = min(len(starts), _threads())
    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda lo: _irr_block(flow, offsets, lo, chunk, out, roots), starts))
    else:
        for lo in starts:
            _irr_block(flow, offsets, lo, chunk, out, roots)
    return IrrResult(out, roots)


def _threads() -> int:
    """The CPUs this process may use, at most 4 (each block holds ~40 MB of scratch)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4))


def _irr_block(
    flow: np.ndarray, offsets: np.ndarray, lo: int, chunk: int, out: np.ndarray, roots: np.ndarray
) -> None:
    """The IRR of rows ``lo:lo + chunk`` of ``flow``, written into ``out``/``roots``."""
    f = flow[lo : lo + chunk]
    v = _npv_one_blas_thread(f, offsets)  # (m, G)
    if _consecutive(offsets):  # the scan and the bisection compiled (the same numbers)
        _scan_bisect(
            np.ascontiguousarray(v),
            np.ascontiguousarray(f),
            GRID,
            out[lo : lo + chunk],
            roots[lo : lo + chunk],
        )
        return
    _scan_bisect_numpy(f, offsets, v, lo, chunk, out, roots)


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
    operations in the same order: the sign changes of each row of the grid NPVs ``v`` (m, G)
    into ``roots``; for the rows with one, the lowest bracket bisected on Horner's polynomial
    of the flows ``f`` (m, T) (see :func:`_sign_function`), all rows of the block in lockstep
    until every bracket is narrow (as the NumPy loop does), into ``out``."""
    m, g = v.shape
    t_n = f.shape[1]
    first = np.empty(m, dtype=np.int64)
    nh = 0
    for i in range(m):
        count = 0  # sign changes, counted without a branch on the data
        for j in range(g - 1):
            x0 = v[i, j]
            x1 = v[i, j + 1]
            count += (
                ((x0 < 0.0) & (x1 > 0.0)) | ((x0 > 0.0) & (x1 < 0.0)) | ((x0 == 0.0) & (x1 != 0.0))
            )
        roots[i] = count
        first[i] = -1
        if count > 0:
            nh += 1
            for j in range(g - 1):  # the first change
                x0 = v[i, j]
                x1 = v[i, j + 1]
                if (
                    ((x0 < 0.0) & (x1 > 0.0))
                    | ((x0 > 0.0) & (x1 < 0.0))
                    | ((x0 == 0.0) & (x1 != 0.0))
                ):
                    first[i] = j
                    break
    if nh == 0:
        return
    rows = np.empty(nh, dtype=np.int64)
    a = np.empty(nh)
    b = np.empty(nh)
    fa = np.empty(nh)
    cols = np.empty((t_n, nh))  # one contiguous row per year, as the NumPy version's columns
    k = 0
    for i in range(m):
        if roots[i] > 0:
            j = first[i]
            rows[k] = i
            a[k] = grid[j]
            b[k] = grid[j + 1]
            fa[k] = v[i, j]
            for t in range(t_n):
                cols[t, k] = f[i, t]
            k += 1
    exact = np.empty(nh, dtype=np.bool_)  # loops, not array expressions: less to compile
    for k in range(nh):
        exact[k] = fa[k] == 0.0
    # The NumPy loop bisects every row of the block in lockstep and stops after the first
    # step at which every bracket is narrow. Here rows go in tiles (a tile's flows stay in
    # cache): each tile runs until its own rows are narrow (step s_tile), then every tile is
    # brought to the latest such step S. If all rows are narrow at S, S is the NumPy loop's
    # stop (no earlier step has every tile narrow); else all go on in lockstep, as NumPy does.
    tiles = (nh + _TILE - 1) // _TILE
    mid = np.empty(_TILE)
    x = np.empty(_TILE)
    acc = np.empty(_TILE)
    steps = np.zeros(tiles, dtype=np.int64)
    narrow = np.zeros(tiles, dtype=np.bool_)
    last = 0
    for u in range(tiles):
        k0, k1 = u * _TILE, min((u + 1) * _TILE, nh)
        while steps[u] < 200 and not narrow[u]:
            narrow[u] = _bisect_step(cols, a, b, fa, k0, k1, mid, x, acc)
            steps[u] += 1
        last = max(last, steps[u])
    for u in range(tiles):
        k0, k1 = u * _TILE, min((u + 1) * _TILE, nh)
        while steps[u] < last:
            narrow[u] = _bisect_step(cols, a, b, fa, k0, k1, mid, x, acc)
            steps[u] += 1
    every = True
    for u in range(tiles):
        every = every and narrow[u]
    while last < 200 and not every:  # lockstep, one step of every tile at a time
        every = True
        for u in range(tiles):
            narrow[u] = _bisect_step(
                cols, a, b, fa, u * _TILE, min((u + 1) * _TILE, nh), mid, x, acc
            )
            every = every and narrow[u]
        last += 1
    for k in range(nh):
        i = rows[k]
        out[i] = grid[first[i]] if exact[k] else 0.5 * (a[k] + b[k])


_TILE = 512
"""Rows bisected together in :func:`_scan_bisect` (their flows, 30 years x 512 x 8 bytes,
stay in cache); the numbers do not depend on it."""


@njit(cache=True, nogil=True)
def _bisect_step(cols, a, b, fa, k0, k1, mid, x, acc):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """One bisection step of rows ``k0:k1`` (the NumPy loop's body, the same operations;
    ``mid``, ``x``, ``acc`` are scratch of at least ``k1 - k0``): returns whether every
    bracket of them is narrow afterwards."""
    t_n = cols.shape[0]
    m = k1 - k0
    for k in range(m):
        mid[k] = 0.5 * (a[k0 + k] + b[k0 + k])
        x[k] = 1.0 / (1.0 + mid[k])
        acc[k] = cols[t_n - 1, k0 + k]
    # Horner's rule, as _sign_function's horner: acc = acc * x + f_t for t = T-2, ..., 0, every
    # product and sum rounded (numba does not fuse them without fastmath); four years per pass
    # over the rows (the same operations in the same order, a quarter of the loads and stores)
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
    narrow = True
    for k in range(m):
        fm = acc[k]
        r = k0 + k
        # np.sign(fm) == np.sign(fa): the same sign, or both zero (never with a NaN)
        if (fm > 0.0 and fa[r] > 0.0) or (fm < 0.0 and fa[r] < 0.0) or (fm == 0.0 and fa[r] == 0.0):
            a[r] = mid[k]
            fa[r] = fm
        else:
            b[r] = mid[k]
        if not (b[r] - a[r] <= 1e-12 * (1.0 + abs(a[r]))):
            narrow = False
    return narrow


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


def run_irr(run: Run) -> IrrResult:
    """The IRR of every draw of a finished :class:`~mkba.engine.Run` (computed once per run)."""
    cached = getattr(run, "_irr", None)
    if cached is not None and cached.irr.shape[0] == run.outcomes.flow.shape[0]:
        return cached
    m = run.model
    res = irr(run.outcomes.flow, m.years.astype(float) - float(m.spec.scenario.base_year))
    object.__setattr__(run, "_irr", res)
    return res
