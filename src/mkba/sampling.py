"""One sampling path: a uniform matrix per chunk of draws, then inverse CDFs.

Draws are processed in fixed-size chunks. Column ``c`` (the parameter's position in the
parameter registry) of chunk ``j`` of a run with root seed ``seed`` gets its own stream
``SeedSequence(seed, spawn_key=(j, c))`` (:func:`column_seed`, :func:`uniform_column`), so a
chunk's numbers do not depend on which thread or worker computes it, nor on how many chunks
run. The engine draws those same numbers in compiled code (:mod:`mkba.rng`). The Sobol
sampler instead takes points ``[j*chunk, (j+1)*chunk)`` of one scrambled sequence, which
again depends only on ``j``.

Rank correlation between named parameters is induced with a Gaussian copula on the uniform
numbers (per draw, so it needs no cross-draw state): Spearman's rho is converted to the
normal correlation ``r = 2 sin(pi rho / 6)``.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numpy as np
from numba import njit

from mkba.errors import InputError, Problem
from mkba.invcdf import norm_cdf, norm_ppf

_EPS = 2.0**-53


def chunk_bounds(draws: int, chunk_size: int) -> list[tuple[int, int]]:
    """The (start, stop) draw indices of each chunk."""
    return [(s, min(s + chunk_size, draws)) for s in range(0, draws, chunk_size)]


def chunk_seed(seed: int, chunk: int) -> np.random.SeedSequence:
    """The independent stream of chunk ``chunk`` under root seed ``seed``."""
    return np.random.SeedSequence(seed, spawn_key=(chunk,))


def column_seed(seed: int, chunk: int, column: int) -> np.random.SeedSequence:
    """The independent stream of one column (parameter) of one chunk."""
    return np.random.SeedSequence(seed, spawn_key=(chunk, column))


def uniform_matrix(
    sampler: str,
    n: int,
    dims: int,
    *,
    seed: int,
    chunk: int,
    chunk_size: int,
    columns: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """Uniform numbers in (0, 1) for one chunk: shape (n, dims), or (n, len(columns)) when
    only some columns of the ``dims``-dimensional design are wanted.

    ``random`` and ``lhs`` give every column its own stream (:func:`column_seed`), so a
    column's numbers do not depend on which other columns are drawn; ``sobol`` draws all
    ``dims`` dimensions of one scrambled sequence and picks the columns.
    """
    cols = np.arange(dims) if columns is None else np.asarray(columns, dtype=np.int64)
    if cols.size == 0:
        return np.empty((n, 0))
    if sampler in ("random", "lhs"):
        # each column its own stream (uniform_column's numbers), drawn in compiled code
        from mkba.rng import uniform_rows

        return np.ascontiguousarray(uniform_rows(sampler, n, cols, seed=seed, chunk=chunk).T)
    elif sampler == "sobol":
        from scipy.stats import qmc  # imports scipy.stats: only the sobol sampler needs it

        sob = qmc.Sobol(dims, scramble=True, rng=np.random.default_rng(seed))
        if chunk:
            sob.fast_forward(chunk * chunk_size)
        u = sob.random(n)[:, cols]
    else:
        raise ValueError(f"unknown sampler {sampler!r}")
    return np.clip(u, _EPS, 1 - _EPS)


def sampling_threads() -> int:
    """Threads for sampling columns in parallel: numba's thread count (``NUMBA_NUM_THREADS``
    or :func:`numba.set_num_threads`), so one setting governs the kernel and the sampling."""
    import numba
    from numba.np.ufunc import parallel

    # Before numba's threading layer is started (nothing on the run path is parallel=True),
    # get_num_threads() would start it (OpenMP: 80-110 ms a run) only to return
    # NUMBA_NUM_THREADS; set_num_threads() starts the layer, after which its count applies.
    if not getattr(parallel, "_is_initialized", True):
        config: Any = numba.config  # its options are set at import, invisible to mypy
        return max(1, int(config.NUMBA_NUM_THREADS))
    return max(1, int(numba.get_num_threads()))


def usable_cpus() -> int:
    """The CPUs this process may use (its affinity; the CPU count where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOL_PREFIX = "mkba-sampling"


def _pool(threads: int) -> ThreadPoolExecutor:
    if threads not in _POOLS:
        _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix=_POOL_PREFIX)
    return _POOLS[threads]


def uniform_column(sampler: str, n: int, *, seed: int, chunk: int, column: int) -> np.ndarray:
    """One column of :func:`uniform_matrix` for the ``random`` and ``lhs`` samplers: its own
    stream :func:`column_seed`, clipped to (0, 1) as the matrix is. This is the definition
    in NumPy; the engine draws the same numbers in compiled code (:mod:`mkba.rng`, tested
    equal)."""
    rng = np.random.default_rng(column_seed(seed, chunk, column))
    if sampler == "random":
        u = rng.random(n)
    elif sampler == "lhs":
        u = np.empty(n)
        _lhs_column(rng.random(2 * n), u)
    else:
        raise ValueError(f"sampler {sampler!r} has no independent columns")
    _clip_into(u, _EPS, 1 - _EPS)  # np.clip's values, at a fifth of its cost (and nogil)
    return u


@njit(cache=True, nogil=True)
def _clip_into(u, lo, hi):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """``np.clip(u, lo, hi, out=u)``: the same values (NaN stays NaN), in one compiled pass."""
    for i in range(u.shape[0]):
        x = u[i]
        if x < lo:
            u[i] = lo
        elif x > hi:
            u[i] = hi


def map_columns(
    sampler: str,
    n: int,
    columns: Sequence[int] | np.ndarray,
    fill: Callable[[int, np.ndarray], None],
    *,
    seed: int,
    chunk: int,
    threads: int | None = None,
) -> None:
    """Draw column ``columns[j]`` of a ``random``/``lhs`` chunk and hand it to ``fill(j, u)``,
    for every ``j``, on ``threads`` threads (default :func:`sampling_threads`).

    Each column comes from its own stream and ``fill`` writes only its own output, so the
    numbers do not depend on the number of threads or the order in which columns finish.
    NumPy's generators, its ufuncs and the compiled helpers release the GIL, so the columns
    are drawn and transformed in parallel.
    """
    cols = [int(k) for k in columns]

    def one(j: int) -> None:
        fill(j, uniform_column(sampler, n, seed=seed, chunk=chunk, column=cols[j]))

    for_each(one, len(cols), threads=threads)


def for_each(task: Callable[[int], None], count: int, *, threads: int | None = None) -> None:
    """``task(j)`` for ``j`` in ``range(count)``, on ``threads`` threads (default
    :func:`sampling_threads`). The tasks must write disjoint outputs: then the result does not
    depend on the number of threads or on the order in which the tasks finish."""
    threads = sampling_threads() if threads is None else max(1, int(threads))
    # serially inside a task of the pool itself: a task waiting for its own pool can deadlock
    nested = threading.current_thread().name.startswith(_POOL_PREFIX)
    if threads == 1 or count < 2 or nested:
        for j in range(count):
            task(j)
        return

    def group(g: int) -> None:  # every threads-th task: one submission per thread
        for j in range(g, count, threads):
            task(j)

    # (one task per column was slower: ~100-us tasks handed over the GIL and the queue
    # hundreds of times a chunk; 0.29-0.40 s vs 0.24-0.26 s for 100,000 reference draws).
    # The calling thread takes the first group itself: one hand-over fewer per call.
    futures = [_pool(threads).submit(group, g) for g in range(1, min(threads, count))]
    try:
        group(0)
    finally:  # every group finishes before any error goes up (none still writes after it)
        wait(futures)
    for f in futures:
        f.result()  # the first failed group's error, in group order


@njit(cache=True, nogil=True)
def _lhs_column(r, out):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """One Latin hypercube column from 2n uniform numbers: a Fisher-Yates permutation of the
    n strata driven by r[:n], and a uniform position within each stratum from r[n:]."""
    n = out.shape[0]
    perm = np.arange(n)
    for i in range(n - 1, 0, -1):
        j = int(r[i] * (i + 1))
        if j > i:  # r < 1, but guard against rounding
            j = i
        perm[i], perm[j] = perm[j], perm[i]
    for i in range(n):
        out[i] = (perm[i] + r[n + i]) / n


def spearman_to_pearson(rho: float) -> float:
    """Normal-copula correlation that yields Spearman rank correlation ``rho``."""
    return 2.0 * math.sin(math.pi * rho / 6.0)


def copula_factor(
    names: Sequence[str], pairs: Sequence[tuple[str, str, float]], file: str = "scenario"
) -> tuple[np.ndarray, np.ndarray] | None:
    """Cholesky factor for the correlated columns, or None without correlations.

    Returns ``(columns, L)``: the column indices involved and the lower-triangular factor of
    their normal-copula correlation matrix.
    """
    if not pairs:
        return None
    index = {n: i for i, n in enumerate(names)}
    cols = sorted({index[a] for a, _, _ in pairs} | {index[b] for _, b, _ in pairs})
    pos = {c: k for k, c in enumerate(cols)}
    corr = np.eye(len(cols))
    for a, b, rho in pairs:
        i, j = pos[index[a]], pos[index[b]]
        corr[i, j] = corr[j, i] = spearman_to_pearson(rho)
    try:
        L = np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        raise InputError(
            [
                Problem(
                    file,
                    "correlations",
                    "the correlations are not a valid (positive definite) correlation matrix",
                    [list(p) for p in pairs],
                )
            ]
        ) from None
    return np.asarray(cols), L


def apply_copula_t(ut: np.ndarray, factor: tuple[np.ndarray, np.ndarray]) -> None:
    """:func:`apply_copula` of ``ut.T`` written into ``ut`` (one parameter per row), the same
    numbers: the correlated rows are taken out as a (draws x columns) matrix, which the normal
    quantiles turn into the same C-ordered matrix ``apply_copula`` correlates. Runs now use
    the compiled :func:`mkba.rng.copula_rows`; this is its NumPy reference (tests/test_rng.py
    holds the two equal)."""
    cols, L = factor
    z = norm_ppf(ut[cols].T)
    zc = np.einsum("nj,kj->nk", z, L)
    ut[cols] = np.clip(norm_cdf(zc), _EPS, 1 - _EPS).T


def apply_copula(u: np.ndarray, factor: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """Correlate the given columns of ``u`` through a Gaussian copula (row by row)."""
    if factor is None:
        return u
    cols, L = factor
    z = norm_ppf(u[:, cols])
    # einsum, not BLAS matmul: the reduction order must not depend on threads.
    zc = np.einsum("nj,kj->nk", z, L)
    out = u.copy()
    out[:, cols] = np.clip(norm_cdf(zc), _EPS, 1 - _EPS)
    return out
