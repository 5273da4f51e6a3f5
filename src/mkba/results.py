"""Summaries of a run: statistics per outcome, tidy tables, yearly quantiles, convergence.

Compute functions return plain dicts, :class:`~mkba.rowtable.RowTable` tables (written without
pandas) and, for other callers, pandas data frames of those tables; nothing here prints.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import numpy as np

from mkba.colstats import add_running_sum, sum_sq_dev, transpose_sums, year_buckets
from mkba.decide.irr import irr_summary, run_irr
from mkba.engine import Run
from mkba.outputs import OutputRef, _ratio, output_array
from mkba.quantiles import (
    lerp,
    order_statistics,
    quantile_plan,
    quantiles_of,
    quantiles_without_nan,
)
from mkba.rowtable import RowTable
from mkba.schema.scenario import PERSPECTIVES

if TYPE_CHECKING:
    from concurrent.futures import Future

    import pandas as pd

QUANTILES = (0.05, 0.5, 0.95)
FAN_QUANTILES = (0.05, 0.10, 0.20, 0.35, 0.50, 0.65, 0.80, 0.90, 0.95)


def stats(x: np.ndarray, *, owned: bool = False) -> dict[str, float]:
    """Mean, Monte Carlo standard error of the mean, P5/P50/P95 and standard deviation.

    ``owned=True``: ``x`` is a new array the caller gives away (e.g. from
    :func:`mkba.outputs.output_array`); it is partitioned in place instead of copied first
    (the same numbers).

    The standard error is ``sd / sqrt(n)``, exact for independent draws and conservative for
    Latin hypercube and Sobol samples (which have smaller error for smooth outputs).
    NaN values (e.g. a payback year beyond the horizon) are left out; ``share_defined`` says
    how many remain.
    """
    x = np.asarray(x, dtype=float)
    # a sum is NaN if any value is: then drop the NaN values; else one plain copy (same values
    # in the same order as the masked copy, fewer passes); the copy is ours to partition
    total = np.add.reduce(x, axis=None)
    nan = np.isnan(total)
    ok = x[~np.isnan(x)] if nan else (x if owned and x.flags.writeable else x.copy())
    n = ok.size
    if n == 0:
        return {
            "mean": math.nan,
            "se": math.nan,
            "p5": math.nan,
            "p50": math.nan,
            "p95": math.nan,
            "sd": math.nan,
        }
    if nan or not x.flags.c_contiguous:  # the sum of ``ok`` itself (a sum's order is its layout)
        total = np.add.reduce(ok, axis=None)
    mean, sd = _mean_sd(ok, total)  # before the quantiles reorder ``ok``
    q = quantiles_without_nan(ok, QUANTILES)  # np.quantile's numbers; reorders ``ok``
    out = {
        "mean": mean,
        "se": sd / math.sqrt(n) if n > 1 else math.nan,
        "p5": float(q[0]),
        "p50": float(q[1]),
        "p95": float(q[2]),
        "sd": sd,
    }
    if n != x.size:
        out["share_defined"] = n / x.size
    return out


def _mean_sd(ok: np.ndarray, total: np.floating[Any]) -> tuple[float, float]:
    """``ok.mean()`` and ``ok.std(ddof=1)`` (0 for one value) of a contiguous array whose sum
    ``np.add.reduce(ok)`` is ``total``: NumPy's ``_mean`` and ``_var`` (numpy/_core/_methods.py)
    operation for operation, with the sum computed once for both."""
    n = ok.size
    mean = total / n
    if n == 1:
        return float(mean), 0.0
    if ok.dtype == np.float64 and ok.flags.c_contiguous:
        # np.add.reduce((ok - mean) ** 2) without the deviation array: NumPy's pairwise sum,
        # operation for operation, added to the reduction's identity 0.0 (mkba.colstats)
        ssd = np.float64(0.0 + sum_sq_dev(ok, 0, n, float(mean)))
    else:
        dev = np.subtract(ok, mean)  # x - mean, squared in place: a contiguous array
        np.square(dev, out=dev)
        ssd = np.add.reduce(dev, axis=None)
    var = ssd / (n - 1)
    return float(mean), float(np.sqrt(var))


_MEMO: ContextVar[dict[tuple[Any, ...], dict[str, float]] | None] = ContextVar(
    "mkba_statistics_memo", default=None
)


@contextlib.contextmanager
def shared_statistics() -> Iterator[None]:
    """Within the block, the statistics of a run's column are computed once and shared by
    :func:`summary`, :func:`summary_table` and :func:`breakdown_table` (which otherwise compute
    the same column up to three times). The run must not change inside the block."""
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


_REGISTRY_KIND = {
    "area_benefits": ("area", "benefits_pv"),
    "area_costs": ("area", "costs_pv"),
    "area_npv": ("area", "npv"),
    "stakeholder_benefits": ("stakeholder", "benefits"),
    "stakeholder_costs": ("stakeholder", "costs"),
    "stakeholder_npv": ("stakeholder", "net"),
    "component": ("component", "pv"),
}
"""Kinds of :func:`column_stats` keys (scenario perspective) -> (output registry kind, part)."""


def output_ref(run: Run, key: tuple[Any, ...]) -> OutputRef:
    """The output registry's reference (:mod:`mkba.outputs`) of a :func:`column_stats` key:
    ``("perspective", p, metric)``, ``("stream", p, i)`` or ``(kind, i)`` of
    :data:`_REGISTRY_KIND`."""
    kind = key[0]
    if kind == "perspective":
        p, metric = key[1], key[2]
        return OutputRef(f"{PERSPECTIVES[p]}.{metric}", "total", p, part=metric)
    m = run.model
    if kind == "stream":
        p, i = key[1], key[2]
        name = f"{PERSPECTIVES[p]}.by_stream.{m.streams[i]}"
        return OutputRef(name, "stream", p, i, "benefits_pv", m.streams[i])
    if kind not in _REGISTRY_KIND:
        raise KeyError(key)
    reg, part = _REGISTRY_KIND[kind]
    i = key[1]
    ident = {"area": m.areas, "stakeholder": m.stakeholders, "component": m.components}[reg][i]
    own = PERSPECTIVES.index(m.spec.scenario.perspective)
    return OutputRef(f"{reg}.{ident}.{part}", reg, own, i, part, ident)


def _column(run: Run, key: tuple[Any, ...]) -> np.ndarray:
    """One per-draw column of a run, named by ``key`` (see :func:`column_stats`): a new array,
    computed by the output registry (:func:`mkba.outputs.output_array`)."""
    return output_array(run.outcomes, run.model, output_ref(run, key))


def column_stats(run: Run, *key: Any) -> dict[str, float]:
    """:func:`stats` of the run's column ``key``, e.g. ``("stream", p, i)``; computed once per
    column inside :func:`shared_statistics`. Returns a new dict each time."""
    memo = _MEMO.get()
    if memo is None:
        return stats(_column(run, key), owned=True)
    full = (id(run.outcomes), *key)
    if full not in memo:
        memo[full] = stats(_column(run, key), owned=True)
    return dict(memo[full])


def known_mean(run: Run, *key: Any) -> float | None:
    """``float(np.mean(col))`` of the run's column ``key`` (a column of :func:`statistics_keys`,
    e.g. ``("stream", p, i)``), when the statistics of :func:`shared_statistics` already hold
    it over every draw; else None (outside the block, not computed yet, or the column has a NaN:
    :func:`stats` leaves those out, ``np.mean`` does not).

    The same number: :func:`stats` takes the mean as ``np.add.reduce`` of the contiguous column
    divided by the count (NumPy's ``_mean``), and ``np.mean`` of a strided column view sums the
    same values in the same pairwise order (NumPy reduces a one-dimensional view in one inner
    loop that takes the stride; tests/test_tail_beside.py checks this against ``np.mean`` of a
    run's columns and of strided columns of up to 1,000,003 values)."""
    memo = _MEMO.get()
    if memo is None:
        return None
    doc = memo.get((id(run.outcomes), *key))
    if doc is None or "share_defined" in doc or run.outcomes.benefits.shape[0] == 0:
        return None
    return float(doc["mean"])


def prob_npv_positive(run: Run, p: int) -> float:
    """``float(np.mean(run.outcomes.npv_of(p) > 0))``, the share of draws with a positive NPV
    in perspective ``p``. Inside :func:`shared_statistics` computed once (the summary and the
    side summary ask for it), by :func:`precompute_statistics` from the NPV column it makes
    anyway (the same values, the same expression)."""
    memo = _MEMO.get()
    full = (id(run.outcomes), "prob_npv_positive", p)
    if memo is not None and full in memo:
        return memo[full]["share"]
    share = float(np.mean(run.outcomes.npv_of(p) > 0))
    if memo is not None:
        memo[full] = {"share": share}
    return share


def statistics_keys(run: Run) -> list[tuple[Any, ...]]:
    """Every column whose statistics :func:`summary`, :func:`summary_table` and
    :func:`breakdown_table` take (keys of :func:`column_stats`)."""
    return model_statistics_keys(run.model)


def model_statistics_keys(m: Any) -> list[tuple[Any, ...]]:
    """:func:`statistics_keys` of a run of the model ``m``."""
    keys: list[tuple[Any, ...]] = []
    for p in range(len(PERSPECTIVES)):
        keys += [("perspective", p, k) for k in PERSPECTIVE_METRICS]
        keys += [("stream", p, i) for i in range(len(m.streams))]
    for kind in ("area_benefits", "area_costs", "area_npv"):
        keys += [(kind, i) for i in range(len(m.areas))]
    for kind in ("stakeholder_benefits", "stakeholder_costs", "stakeholder_npv"):
        keys += [(kind, i) for i in range(len(m.stakeholders))]
    keys += [("component", i) for i in range(len(m.components))]
    return keys


def precompute_statistics(run: Run, keys: list[tuple[Any, ...]] | None = None) -> None:
    """Inside :func:`shared_statistics`: compute the statistics of ``keys`` (default
    :func:`statistics_keys`) on threads, so that the summary and tables find them computed.
    Each column has the values of the output registry (:func:`_column`) and is computed by
    :func:`stats` exactly as one at a time (NumPy releases the GIL in the copies, the sums and
    the partitions), so the numbers do not depend on the thread count. Columns of row-major
    arrays (totals, streams, stakeholders, components) are taken a few at a time by one
    blocked transposition (:func:`_key_columns`) instead of one strided copy each, into the
    buffers of :func:`shared_scratch` when inside it. A column proven to be a copy of another
    (the same bytes, compared in the transposition's pass; a stakeholder's NPV over costs that
    are all +0.0) gets that column's statistics instead of computing them again. Outside
    :func:`shared_statistics`: nothing to keep them in, does nothing."""
    memo = _MEMO.get()
    if memo is None:
        return
    wanted = statistics_keys(run) if keys is None else keys
    todo = [k for k in wanted if (id(run.outcomes), *k) not in memo]
    # columns proven copies of another while the run was simulated (ColumnCopies): that
    # column's statistics, when it is computed here or was before
    found = getattr(run, "_column_copies", None)
    proven = found.copies() if found is not None else {}
    asked = set(todo)
    same = [
        (k, proven[k])
        for k in todo
        if k in proven and (proven[k] in asked or (id(run.outcomes), *proven[k]) in memo)
    ]
    if same:
        skip = {k for k, _ in same}
        todo = [k for k in todo if k not in skip]
    tasks = _column_tasks(run, todo)
    workers = min(len(tasks), statistics_threads())
    scratch = _phase_scratch()  # transposition blocks, reused from task to task

    def compute(task: list[tuple[Any, ...]]) -> list[tuple[tuple[Any, ...], Any]]:
        out: list[tuple[tuple[Any, ...], Any]] = []
        with scratch.lease():
            for k, x in _key_columns(run, task, scratch):
                if isinstance(x, tuple):  # a proven copy of column x
                    out.append((k, x))
                    continue
                if k[0] == "perspective" and k[2] == "npv":  # before stats reorders it
                    out.append((("prob_npv_positive", k[1]), {"share": float(np.mean(x > 0))}))
                out.append((k, stats(x, owned=True)))
        return out

    if workers <= 1:
        done = list(map(compute, tasks))
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            done = list(pool.map(compute, tasks))
    for pairs in done:
        for k, v in pairs:
            if isinstance(v, tuple):
                same.append((k, v))
            else:
                memo[(id(run.outcomes), *k)] = v
    while same:  # the statistics of a column proven to have another one's
        left = []
        for k, other in same:
            full = (id(run.outcomes), *other)
            if full in memo:
                memo[(id(run.outcomes), *k)] = dict(memo[full])
            else:  # that one may be a proven copy itself, not yet filled in
                left.append((k, other))
        if len(left) == len(same):  # not asked for: these on their own
            for k, _ in left:
                memo[(id(run.outcomes), *k)] = stats(_column(run, k), owned=True)
            break
        same = left


_STORED = {
    "stream": lambda o, k: o.stream[:, k[1], k[2]],
    "area_benefits": lambda o, k: o.area_benefits[:, k[1]],
    "area_costs": lambda o, k: o.area_costs[:, k[1]],
    "stakeholder_benefits": lambda o, k: o.stakeholder_benefits[:, k[1]],
    "stakeholder_costs": lambda o, k: o.stakeholder_costs[:, k[1]],
    "component": lambda o, k: o.component[:, k[1]],
}
"""Keys of :func:`statistics_keys` whose column is a column of a run's array as it is (the
output registry's values, :func:`_column`), and that column."""

_PERSPECTIVE_STORED = {"benefits_pv": "benefits", "costs_pv": "costs"}

_NPV_OF = {
    "area_npv": ("area_benefits", "area_costs"),
    "stakeholder_npv": (
        "stakeholder_benefits",
        "stakeholder_costs",
    ),
}
"""A difference column's kind -> the kinds of the two columns it is the difference of
(:func:`_column`: ``b - c`` elementwise, of one type)."""


class ColumnCopies:
    """Which statistics columns of a run (:func:`statistics_keys`) hold the very bytes of
    another (e.g. a component that is the only part of a stream, two areas with the same
    inputs), found while the run is simulated: :meth:`block` is called with each block of
    rows once they hold their final values (by :class:`mkba.decide.irr.IrrAlongside`'s
    thread, right after the kernel wrote them, so they are read while still in the cache).
    The first block groups the stored columns (``_STORED``, a perspective's benefits and
    costs) by their bytes; each later block keeps in a group only the columns equal to its
    first one there. :meth:`copies` then maps each column proven equal, over every row, to the
    first column of its group (and an area's or stakeholder's difference ``b - c`` to an
    earlier one's when both its ``b`` and its ``c`` are proven copies of that one's): the same
    bytes give the same statistics, so :func:`precompute_statistics` computes them once.
    Comparisons are of bytes (NaN payloads and signed zeros count) and of the type."""

    def __init__(self, run_outcomes: Any, keys: list[tuple[Any, ...]]) -> None:
        o = run_outcomes
        self._outcomes = o
        self._keys: list[tuple[Any, ...]] = []
        self._cols: list[np.ndarray] = []
        for k in keys:
            if k[0] in _STORED:
                col = _STORED[k[0]](o, k)
            elif k[0] == "perspective" and k[2] in _PERSPECTIVE_STORED:
                col = getattr(o, _PERSPECTIVE_STORED[k[2]])[:, k[1]]
            else:
                continue
            self._keys.append(k)
            self._cols.append(col)
        self._all = list(keys)
        self._groups: list[list[int]] | None = None
        self._rows = 0
        self._n = self._cols[0].shape[0] if self._cols else 0

    def block(self, lo: int, hi: int) -> None:
        """Rows ``lo .. hi - 1`` are final; blocks come in order from row 0, without gaps."""
        if lo != self._rows:
            raise ValueError("blocks must come in order, from row 0")
        if self._groups is None:
            import hashlib

            # grouped by a digest of the block's bytes (nothing large held), then each
            # member compared with its group's first byte for byte (_check)
            by: dict[tuple[str, bytes], list[int]] = {}
            for j, col in enumerate(self._cols):
                part = np.ascontiguousarray(col[lo:hi])
                digest = hashlib.blake2b(part.data, digest_size=16).digest()
                by.setdefault((part.dtype.str, digest), []).append(j)
            self._groups = [g for g in by.values() if len(g) > 1]
            self._rows = self._check(lo, hi)
            return
        self._rows = self._check(lo, hi)

    def _check(self, lo: int, hi: int) -> int:
        """Keep in each group the columns whose rows ``lo .. hi - 1`` hold the bytes of its
        first column's; returns ``hi``."""
        assert self._groups is not None
        kept = []
        for g in self._groups:
            first = np.ascontiguousarray(self._cols[g[0]][lo:hi]).view(np.uint8)
            same = [g[0]] + [
                j
                for j in g[1:]
                if np.array_equal(np.ascontiguousarray(self._cols[j][lo:hi]).view(np.uint8), first)
            ]
            if len(same) > 1:
                kept.append(same)
        self._groups = kept
        return hi

    def attach(self, run: Run) -> Run:
        """Hand these copies to ``run`` (whose outcomes they were found in), for its
        :func:`precompute_statistics` (not if its outcomes are other arrays). Returns ``run``."""
        if run.outcomes is self._outcomes:
            object.__setattr__(run, "_column_copies", self)
        return run

    def copies(self) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        """Each column proven a copy (over every row) -> the column whose statistics it has
        (one that is itself no copy). Empty until every row has been seen."""
        if self._groups is None or self._rows != self._n:
            return {}
        rep = {}
        for g in self._groups:
            for j in g[1:]:
                rep[self._keys[j]] = self._keys[g[0]]
        out = dict(rep)
        first: dict[tuple[str, tuple[Any, ...], tuple[Any, ...]], tuple[Any, ...]] = {}
        for k in self._all:  # a difference of copies is a copy of the first such difference
            if k[0] not in _NPV_OF:
                continue
            bk, ck = ((kind, k[1]) for kind in _NPV_OF[k[0]])
            sig = (k[0], rep.get(bk, bk), rep.get(ck, ck))
            if sig in first:
                out[k] = first[sig]
            else:
                first[sig] = k
        return out


_GROUP = 8
"""The fewest columns of a row-major per-draw array transposed together by
:func:`_key_columns` (:func:`group_width`; a block of 8 columns of 10M draws is 640 MB per
thread)."""

_BLOCK_BYTES = 64 * 2**20
"""Bytes of one block of transposed columns (:func:`group_width`): 8 columns of a million
draws (as before), 16 of 500,000, 32 of 250,000 or fewer. One pass over a row-major array
reads all of it (the processor fetches whole rows ahead), whichever of its columns are
copied: fewer, wider blocks read it fewer times. 128 MiB (16 columns at 1M: the flows' 30
years in 2 passes instead of 4) saved about 0.05 CPU-s of a 1M run's statistics but raised
its peak by 64-92 MB (benchmarks/README.md, i20-stats): not taken."""

_MAX_GROUP = 32


def group_width(n: int) -> int:
    """Columns per transposed block of ``n`` draws: as many as fit in :data:`_BLOCK_BYTES`,
    at least :data:`_GROUP` (from 1M draws on: 8, as before, so the memory of a large run
    does not grow) and at most :data:`_MAX_GROUP`."""
    return max(_GROUP, min(_MAX_GROUP, _BLOCK_BYTES // (8 * max(n, 1))))


def _spans(total: int, width: int) -> list[list[int]]:
    """``0 .. total - 1`` in the fewest consecutive groups of at most ``width``, of
    near-equal sizes (so that threads get about the same work)."""
    k = -(-total // width)
    return [list(range(total * i // k, total * (i + 1) // k)) for i in range(k)]


def _block_of(j: int, total: int, width: int) -> int:
    """The group of :func:`_spans` (``total``, ``width``) that holds ``j``."""
    k = -(-total // width)
    return next(i for i in range(k) if j < total * (i + 1) // k)


_ROW_MAJOR = {
    "stream": "stream",
    "component": "component",
    "stakeholder_benefits": "stakeholder",
    "stakeholder_costs": "stakeholder",
    "stakeholder_npv": "stakeholder",
}


_AREA_PART = {"area_benefits": "benefits_pv", "area_costs": "costs_pv", "area_npv": "npv"}


def _source(key: tuple[Any, ...], run: Run) -> tuple[Any, ...]:
    """The block of source columns a key's column comes from: (array, block)."""
    kind = key[0]
    if kind == "perspective":
        return ("total", key[1])
    if kind in _AREA_PART:  # one area's columns (column-major: each contiguous)
        return ("area", key[1])
    o = run.outcomes
    width = group_width(o.stream.shape[0])
    if kind == "stream":  # the (draws, perspectives x streams) array
        streams = o.stream.shape[2]
        total = o.stream.shape[1] * streams
        return ("stream", _block_of(key[1] * streams + key[2], total, width))
    if kind == "component":
        return ("component", _block_of(key[1], o.component.shape[1], width))
    if kind in _ROW_MAJOR:  # stakeholders: benefits and costs in one block
        total = o.stakeholder_benefits.shape[1]
        return (_ROW_MAJOR[kind], _block_of(key[1], total, width // 2))
    return ("single", key)


def _column_tasks(run: Run, keys: list[tuple[Any, ...]]) -> list[list[tuple[Any, ...]]]:
    """``keys`` grouped by the block of source columns they share (order kept within a group)."""
    groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for k in keys:
        groups.setdefault(_source(k, run), []).append(k)
    return list(groups.values())


class Scratch:
    """Buffers reused from block to block of columns (:func:`_transposed`), instead of a new
    array per block: a new array of this size is mapped and cleared by the operating system
    each time (fresh pages, about 5 us per 4 KiB page on the project's machine; about 1 GB per
    million draws over the statistics of a run).

    Each thread works in one set of buffers (``slot`` -> array). Inside :meth:`lease` the
    thread borrows a set from this object's pool and gives it back at the end, so that the
    thread pools of :func:`precompute_statistics` and :func:`yearly_rows` (other threads, one
    after the other) reuse the same sets: at most one set per thread working at a time.
    Outside a lease a thread keeps a set of its own. A set is used only by the thread that
    holds it, after the block it held is done with; they are freed with this object."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._pool: list[dict[str, np.ndarray]] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lease(self) -> Iterator[None]:
        """Within the block, this thread's buffers are a set from the pool (or a new one)."""
        with self._lock:
            bufs = self._pool.pop() if self._pool else {}
        before = self._local.__dict__.get("bufs")
        self._local.bufs = bufs
        try:
            yield
        finally:
            self._local.bufs = before
            with self._lock:
                self._pool.append(bufs)

    def get(self, slot: str, shape: tuple[int, int]) -> np.ndarray:
        """An uninitialised float64 array of ``shape``: this thread's buffer ``slot``."""
        bufs: dict[str, np.ndarray] | None = self._local.__dict__.get("bufs")
        if bufs is None:
            bufs = self._local.bufs = {}
        size = shape[0] * shape[1]
        buf = bufs.get(slot)
        if buf is None or buf.size < size:
            # room for a whole block (group_width rows) at once: not mapped again for a
            # larger one (only the pages written take memory)
            buf = bufs[slot] = np.empty(max(size, group_width(shape[1]) * shape[1]))
        return buf[:size].reshape(shape)


_SCRATCH: ContextVar[Scratch | None] = ContextVar("mkba_statistics_scratch", default=None)


@contextlib.contextmanager
def shared_scratch() -> Iterator[None]:
    """Within the block, :func:`precompute_statistics` and :func:`yearly_rows` take their
    column blocks in the same buffers (a :class:`Scratch`), instead of each mapping fresh
    ones (2 x 64 MB per million draws less): around a run's statistics, and left before its
    files are written (the buffers are freed then)."""
    token = _SCRATCH.set(Scratch())
    try:
        yield
    finally:
        _SCRATCH.reset(token)


def _phase_scratch() -> Scratch:
    """The buffers of :func:`shared_scratch`, or new ones outside it."""
    scratch = _SCRATCH.get()
    return Scratch() if scratch is None else scratch


def _transposed(
    src: np.ndarray,
    cols: list[int],
    scratch: Scratch | None = None,
    slot: str = "a",
    sums: np.ndarray | None = None,
    out: np.ndarray | None = None,
    cand: np.ndarray | None = None,
    same: np.ndarray | None = None,
) -> np.ndarray:
    """``src[:, cols].T`` (float64, C order; ``cols`` ascending): each row one column of
    ``src``, copied a block of rows at a time (one strided pass for all the columns). With
    ``scratch``: into this thread's buffer ``slot`` (valid until its next use). With ``sums``
    (``cols`` a range): ``sums[j]`` = ``np.add.reduce(src, axis=0)[cols[j]]``, the same
    numbers, from the same pass when ``src`` is C-ordered (:func:`mkba.colstats.transpose_sums`).
    ``out`` (instead of ``scratch``): the (``cols[-1] + 1 - cols[0]``, draws) array to fill.
    With ``cand`` (int64, a row per column ``cols[0] .. cols[-1]``: columns of ``src`` to
    compare it with, -1 none): ``same[j, c]`` = 1 when column ``cols[0] + j`` has the very bytes
    of column ``cand[j, c]``, from the same pass; 0 otherwise (always 0 for another layout)."""
    n = src.shape[0]
    j0, j1 = cols[0], cols[-1] + 1
    view = src[:, j0:j1]  # a view (a list index would copy)
    if out is None:
        out = np.empty((j1 - j0, n)) if scratch is None else scratch.get(slot, (j1 - j0, n))
    if cand is None:
        cand = np.full((j1 - j0, 1), -1, dtype=np.int64)
        same = np.empty((j1 - j0, 1), dtype=np.int64)
    assert same is not None and same.shape == cand.shape == (j1 - j0, cand.shape[1])
    if src.dtype == np.float64 and src.flags.c_contiguous and src.ndim == 2:
        bits = src.view(np.int64)  # the same memory, compared as bytes
        transpose_sums(src, j0, out, np.empty(j1 - j0) if sums is None else sums, bits, cand, same)
    else:  # NumPy's own copy and (its order for this layout) sum; nothing shared
        for lo in range(0, n, 4096):
            np.copyto(out[:, lo : lo + 4096], view[lo : lo + 4096].T)
        if sums is not None:
            sums[:] = np.add.reduce(view, axis=0)
        same[:] = 0
    if len(cols) != j1 - j0:
        return out[[c - j0 for c in cols]]
    return out


def _ratio_into(b: np.ndarray, c: np.ndarray, out: np.ndarray) -> np.ndarray:
    """:func:`mkba.outputs._ratio` (``np.where(c > 0, b / c, nan)``) into ``out``: the same
    division, then NaN where ``c > 0`` does not hold."""
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(b, c, out=out)
    np.copyto(out, np.nan, where=~(c > 0))
    return out


def _key_columns(
    run: Run, keys: list[tuple[Any, ...]], scratch: Scratch | None = None
) -> Iterator[tuple[tuple[Any, ...], np.ndarray | tuple[Any, ...]]]:
    """``(key, column)`` for the keys of one :func:`_column_tasks` group: every column a new
    array or a row of this thread's ``scratch`` (the caller's to reorder, until its next
    group) with the output registry's values (:func:`_column`; the tests hold them equal).
    Instead of a column, another key (a tuple) when the column is proven to have that key's
    statistics (the same bytes, or benefits less costs that are all +0.0): not computed
    twice."""
    o = run.outcomes
    kind = keys[0][0]
    if kind == "perspective":
        p = keys[0][1]
        n = o.benefits.shape[0]
        if o.benefits.dtype != np.float64 or o.costs.dtype != np.float64:  # not a run's
            b = o.benefits[:, p].copy()
            c = o.costs[:, p].copy()
            derived = {"npv": lambda: b - c, "bcr": lambda: _ratio(b, c)}
        else:  # benefits, costs, npv and bcr in rows of this thread's buffer
            rows = np.empty((4, n)) if scratch is None else scratch.get("a", (4, n))
            b, c = rows[0], rows[1]
            np.copyto(b, o.benefits[:, p])
            np.copyto(c, o.costs[:, p])
            derived = {
                "npv": lambda: np.subtract(b, c, out=rows[2]),
                "bcr": lambda: _ratio_into(b, c, rows[3]),
            }
        # npv and bcr first: benefits and costs are reordered when their own turn comes
        for k in sorted(keys, key=lambda k: k[2] not in derived):
            metric = k[2]
            if metric in derived:
                yield k, derived[metric]()
            else:
                yield k, b if metric == "benefits_pv" else c
        return
    if kind in _AREA_PART and o.area_benefits.dtype == o.area_costs.dtype == np.float64:
        # one area's benefits, costs and npv in rows of this thread's buffer: the same values
        # as the registry's new arrays (outputs._money: a copy, ``b - c``); float32 areas
        # below (their npv is a float32 difference)
        i = keys[0][1]
        ab, ac = o.area_benefits[:, i], o.area_costs[:, i]
        n = ab.shape[0]
        rows = np.empty((len(keys), n)) if scratch is None else scratch.get("a", (len(keys), n))
        for j, k in enumerate(keys):
            part = _AREA_PART[k[0]]
            if part == "npv":
                np.subtract(ab, ac, out=rows[j])
            else:
                np.copyto(rows[j], ab if part == "benefits_pv" else ac)
            yield k, rows[j]
        return
    if kind in ("stream", "component"):
        src = o.stream.reshape(o.stream.shape[0], -1) if kind == "stream" else o.component
        width = o.stream.shape[2] if kind == "stream" else 0
        cols = [k[1] * width + k[2] if kind == "stream" else k[1] for k in keys]
        span = sorted(set(cols))
        j0, j1 = span[0], span[-1] + 1
        cand = same = None
        if kind == "stream" and o.stream.shape[1] > 1:
            # a stream in perspective p against the same stream in each earlier perspective
            # (e.g. a stream whose weights are the same in all three): compared in the pass
            cand = np.full((j1 - j0, o.stream.shape[1] - 1), -1, dtype=np.int64)
            for j in range(j0, j1):
                p, i = divmod(j, width)
                cand[j - j0, :p] = np.arange(p) * width + i
            same = np.empty_like(cand)
        block = _transposed(src, span, scratch, cand=cand, same=same)
        row = {c: i for i, c in enumerate(span)}
        for k, c in zip(keys, cols, strict=True):
            if same is not None:
                # the first earlier perspective with the very same bytes: its statistics
                # (that column is itself no copy of an even earlier one)
                q = next((q for q in range(k[1]) if same[c - j0, q] == 1), None)
                if q is not None:
                    yield k, ("stream", q, k[2])
                    continue
            yield k, block[row[c]]
        return
    if kind in _ROW_MAJOR:  # stakeholders: benefits, costs and their difference
        idx = sorted({k[1] for k in keys})
        row = {i: j for j, i in enumerate(idx)}
        # benefits and costs in one block of this thread's buffer (rows: the span of idx)
        span = idx[-1] + 1 - idx[0]
        n = o.stakeholder_benefits.shape[0]
        both = np.empty((2 * span, n)) if scratch is None else scratch.get("a", (2 * span, n))
        bt = _transposed(o.stakeholder_benefits, idx, out=both[:span])
        ct = _transposed(o.stakeholder_costs, idx, out=both[span:])
        later = []
        for k in keys:
            if k[0] == "stakeholder_npv":
                cost = ct[row[k[1]]].view(np.int64)
                if cost.size and cost[0] == 0 and not cost.any():
                    # no costs (every one +0.0): b - 0.0 is b, bit for bit, wherever b is a
                    # number (NaN stays NaN, and stats leaves NaN out): benefits' statistics
                    yield k, ("stakeholder_benefits", k[1])
                    continue
                yield k, bt[row[k[1]]] - ct[row[k[1]]]
            else:
                later.append(k)
        for k in later:  # after every difference: these rows are reordered
            src = bt if k[0] == "stakeholder_benefits" else ct
            yield k, src[row[k[1]]]
        return
    for k in keys:
        yield k, _column(run, k)


MAX_STATISTICS_THREADS = 4
"""At most this many threads compute statistics: each holds a copy of one column (80 MB at
10M draws), so the memory stays bounded on a many-core machine."""


def statistics_threads() -> int:
    """Threads for :func:`precompute_statistics`: the CPUs this process may use, at most
    :data:`MAX_STATISTICS_THREADS`."""
    from mkba.sampling import usable_cpus

    return max(1, min(usable_cpus(), MAX_STATISTICS_THREADS))


PAYBACK_OVER = "draws that pay back within the horizon"
"""What the payback-year statistics are taken over (the other draws never pay back)."""


def payback_stats(payback: np.ndarray) -> dict[str, Any]:
    """Statistics of the payback year, taken over the draws that pay back, with the share of
    draws that pay back (``share_pay_back``, 0 to 1) and what they are taken over (``over``).
    A median payback year alone would hide that most draws may never pay back."""
    out: dict[str, Any] = stats(payback)
    out["over"] = PAYBACK_OVER
    return out


def share_pay_back(stats_doc: dict[str, Any]) -> float:
    """The share of draws that pay back, from a payback-year statistics document."""
    if math.isnan(stats_doc.get("p50", math.nan)):
        return 0.0
    return float(stats_doc.get("share_defined", 1.0))


_MAY_BE_UNDEFINED = frozenset({"payback_year", "bcr", "irr"})
"""Statistics that are undefined for some draws by nature (no payback, no costs, no sign
change of NPV(r)): reported with their share, never an error."""


def check_finite(doc: dict[str, Any], label: str) -> None:
    """The last guard of a run: every statistic of the summary is finite and taken over
    every draw (the payback year, the BCR and the IRR excepted, which may be undefined for some
    draws).
    A run never finishes with non-finite results: raise :class:`~mkba.errors.RunError`."""
    from mkba.errors import RunError

    bad: list[str] = []

    def walk(x: Any, path: str) -> None:
        if not isinstance(x, dict):
            return
        if "p50" in x and "mean" in x:
            if path.rsplit(".", 1)[-1] in _MAY_BE_UNDEFINED:
                return
            vals = [x[k] for k in ("mean", "p5", "p50", "p95")]
            if any(not math.isfinite(v) for v in vals) or "share_defined" in x:
                bad.append(path)
            return
        for k, v in x.items():
            walk(v, f"{path}.{k}" if path else str(k))

    walk(doc, "")
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise RunError(
            f"{label}: the run gave non-finite results ({shown}); an input value is too large "
            "or a distribution has no finite values; nothing was written"
        )


PERSPECTIVE_METRICS = ("costs_pv", "benefits_pv", "npv", "bcr")


def perspective_arrays(run: Run, perspective: str) -> dict[str, np.ndarray]:
    """Per-draw costs, benefits, NPV and BCR of one perspective."""
    p = PERSPECTIVES.index(perspective)
    o = run.outcomes
    return {
        "costs_pv": o.costs[:, p],
        "benefits_pv": o.benefits[:, p],
        "npv": o.npv_of(p),
        "bcr": o.bcr_of(p),
    }


def convergence(run: Run, tolerance: float = 0.005) -> dict[str, Any]:
    """Running mean and standard error of the NPV (scenario perspective) over chunks.

    Converged when the standard error of the mean NPV is below ``tolerance`` times the mean
    PV of costs (0.5 % by default): the Monte Carlo noise in the headline is then small
    against what is at stake.
    """
    sc = run.model.spec.scenario
    p = PERSPECTIVES.index(sc.perspective)
    npv = run.outcomes.npv[:, p]
    costs = float(np.mean(run.outcomes.costs[:, p]))
    running = []
    n, mean, m2 = 0, 0.0, 0.0  # running count, mean and sum of squared deviations
    for lo in range(0, run.draws, run.chunk_size):
        x = npv[lo : lo + run.chunk_size]
        nb, mb = x.size, float(x.mean())
        m2b = float(((x - mb) ** 2).sum())
        # merge the chunk into the running statistics (Chan et al.): one pass over the draws
        delta = mb - mean
        tot = n + nb
        mean += delta * nb / tot
        m2 += m2b + delta * delta * n * nb / tot
        n = tot
        se = math.sqrt(m2 / (n - 1) / n) if n > 1 else math.nan
        running.append({"draws": n, "mean": mean, "se": se})
    se = running[-1]["se"]
    rel = se / abs(costs) if costs else math.nan
    return {
        "criterion": f"se(mean NPV) < {tolerance:g} x mean PV of costs",
        "se_mean_npv": se,
        "relative_se": rel,
        "converged": bool(rel < tolerance) if not math.isnan(rel) else False,
        "running": running,
    }


def summary(run: Run) -> dict[str, Any]:
    """The run's headline numbers, as one JSON-able document (amounts in euros of the price year)."""
    m = run.model
    sc = m.spec.scenario
    p0 = PERSPECTIVES.index(sc.perspective)
    main = {k: column_stats(run, "perspective", p0, k) for k in PERSPECTIVE_METRICS}
    parts = _summary_parts_of(run)
    dr = sc.discount_rate
    out: dict[str, Any] = {
        "scenario": m.spec.name,
        "variant": m.spec.variant,
        "title": sc.title,
        "draws": run.draws,
        "seed": run.seed,
        "sampler": run.sampler,
        "perspective": sc.perspective,
        "base_year": sc.base_year,
        "price_year": sc.price_year,
        "horizon": sc.horizon,
        "discount_rate": dr.rate
        if dr.schedule is None and not dr.streams and dr.costs is None
        else dr.model_dump(),
        "currency": "EUR",
        **main,
        "prob_npv_positive": prob_npv_positive(run, p0),
        "payback_year": parts["payback_year"],
        "by_stream": {s: column_stats(run, "stream", p0, i) for i, s in enumerate(m.streams)},
        "by_area": {a: column_stats(run, "area_benefits", i) for i, a in enumerate(m.areas)},
        "by_area_costs": {a: column_stats(run, "area_costs", i) for i, a in enumerate(m.areas)},
        "by_area_npv": {a: column_stats(run, "area_npv", i) for i, a in enumerate(m.areas)},
        "by_stakeholder": {
            k: column_stats(run, "stakeholder_npv", i) for i, k in enumerate(m.stakeholders)
        },
        "by_stakeholder_benefits": {
            k: column_stats(run, "stakeholder_benefits", i) for i, k in enumerate(m.stakeholders)
        },
        "by_stakeholder_costs": {
            k: column_stats(run, "stakeholder_costs", i) for i, k in enumerate(m.stakeholders)
        },
        "by_component": {c: column_stats(run, "component", i) for i, c in enumerate(m.components)},
        "perspectives": {},
    }
    for p, name in enumerate(PERSPECTIVES):
        out["perspectives"][name] = {
            "costs_pv": column_stats(run, "perspective", p, "costs_pv"),
            "benefits_pv": column_stats(run, "perspective", p, "benefits_pv"),
            "npv": column_stats(run, "perspective", p, "npv"),
            "bcr": column_stats(run, "perspective", p, "bcr"),
            "prob_npv_positive": prob_npv_positive(run, p),
            "by_stream": {s: column_stats(run, "stream", p, i) for i, s in enumerate(m.streams)},
        }
    # what share of the study-perspective benefits is a transfer (not a welfare gain)
    out["transfers_in_study_benefits"] = parts["transfers_in_study_benefits"]
    # internal rate of return per draw (scenario perspective); see mkba.decide.irr
    out["irr"] = irr_summary(run_irr(run))
    if m.programme is not None:  # bottom-up programme (docs/model.md §3)
        from mkba import programme_results

        out["by_intervention"] = programme_results.by_intervention(run)
        out["physical"] = programme_results.physical(run)
    return out


def summary_parts(run: Run) -> dict[str, dict[str, Any]]:
    """The statistics of :func:`summary` that are not of a column of :func:`statistics_keys`
    and need nothing computed before: the payback year's (:func:`payback_stats`) and those of
    the part of each draw's study-perspective benefits that is a transfer. Computed on their
    own (no memo, nothing shared), so that :func:`beside_statistics` can compute them on its
    thread while the column statistics are computed on others: the same numbers."""
    m = run.model
    o = run.outcomes
    comp_transfer = np.array(
        [
            m.spec.params.streams[c.split(".")[0]].components[c.split(".")[1]].nature == "transfer"
            for c in m.components
        ]
    )
    w_study = m.benefit_weights[PERSPECTIVES.index("study")]
    w_transfer = w_study * comp_transfer
    transfer_in_study = np.empty(run.draws)
    for lo in range(0, run.draws, 65_536):  # row sums, a block of rows at a time (same sums)
        block = o.component[lo : lo + 65_536]
        transfer_in_study[lo : lo + 65_536] = (block * w_transfer).sum(axis=1)
    return {
        "payback_year": payback_stats(o.payback),
        "transfers_in_study_benefits": stats(transfer_in_study),
    }


_PARTS: ContextVar[dict[int, Future[dict[str, dict[str, Any]]]] | None] = ContextVar(
    "mkba_summary_parts", default=None
)
"""Inside :func:`beside_statistics`: the outcomes' ``id`` -> :func:`summary_parts` of that
run, computed on the block's thread."""


def _summary_parts_of(run: Run) -> dict[str, dict[str, Any]]:
    """:func:`summary_parts` of ``run``: from :func:`beside_statistics`'s thread when it
    computes them (waiting for it), else computed here."""
    pending = _PARTS.get()
    if pending is not None and id(run.outcomes) in pending:
        return pending.pop(id(run.outcomes)).result()
    return summary_parts(run)


def summary_table(run: Run) -> pd.DataFrame:
    """Long table: one row per (perspective, metric) with mean, se, p5, p50, p95."""
    return summary_rows(run).to_pandas()


def summary_rows(run: Run) -> RowTable:
    """:func:`summary_table` as a :class:`~mkba.rowtable.RowTable` (written without pandas)."""
    rows = []
    for p, name in enumerate(PERSPECTIVES):
        for metric in PERSPECTIVE_METRICS:
            rows.append(
                {
                    "perspective": name,
                    "metric": metric,
                    **column_stats(run, "perspective", p, metric),
                }
            )
    return RowTable(rows)


def breakdown_table(run: Run) -> pd.DataFrame:
    """Long table of every breakdown: dimension (stream, area, stakeholder, component), name."""
    return breakdown_rows(run).to_pandas()


def breakdown_rows(run: Run) -> RowTable:
    """:func:`breakdown_table` as a :class:`~mkba.rowtable.RowTable` (written without pandas)."""
    m = run.model
    p0 = PERSPECTIVES.index(m.spec.scenario.perspective)
    rows = []
    for p, pname in enumerate(PERSPECTIVES):
        for i, s in enumerate(m.streams):
            rows.append(
                {
                    "dimension": "stream",
                    "perspective": pname,
                    "name": s,
                    "metric": "benefits_pv",
                    **column_stats(run, "stream", p, i),
                }
            )
    pname = PERSPECTIVES[p0]
    for i, a in enumerate(m.areas):
        rows.append(
            {
                "dimension": "area",
                "perspective": pname,
                "name": a,
                "metric": "benefits_pv",
                **column_stats(run, "area_benefits", i),
            }
        )
        rows.append(
            {
                "dimension": "area",
                "perspective": pname,
                "name": a,
                "metric": "costs_pv",
                **column_stats(run, "area_costs", i),
            }
        )
    for i, k in enumerate(m.stakeholders):
        for metric, kind in (
            ("benefits_pv", "stakeholder_benefits"),
            ("costs_pv", "stakeholder_costs"),
            ("npv", "stakeholder_npv"),
        ):
            rows.append(
                {
                    "dimension": "stakeholder",
                    "perspective": "stakeholder",
                    "name": k,
                    "metric": metric,
                    **column_stats(run, kind, i),
                }
            )
    for i, c in enumerate(m.components):
        rows.append(
            {
                "dimension": "component",
                "perspective": "gross",
                "name": c,
                "metric": "pv",
                **column_stats(run, "component", i),
            }
        )
    return RowTable(rows)


def draws_table(run: Run) -> pd.DataFrame:
    """One row per draw: outcomes (and sampled parameter values, when kept)."""
    import pandas as pd

    return pd.DataFrame(draws_columns(run))


def draws_columns(run: Run, *, areas: bool = True) -> dict[str, np.ndarray]:
    """The columns of :func:`draws_table` as views of the run's arrays (nothing copied);
    ``areas=False`` leaves out the per-area columns (``mkba run --area-draws none``)."""
    m = run.model
    o = run.outcomes
    cols: dict[str, np.ndarray] = {"draw": np.arange(run.draws)}
    npv, bcr = o.npv, o.bcr  # each made once, not once per perspective (then held whole)
    for p, name in enumerate(PERSPECTIVES):
        cols[f"{name}.costs_pv"] = o.costs[:, p]
        cols[f"{name}.benefits_pv"] = o.benefits[:, p]
        cols[f"{name}.npv"] = npv[:, p]
        cols[f"{name}.bcr"] = bcr[:, p]
        for i, s in enumerate(m.streams):
            cols[f"{name}.stream.{s}"] = o.stream[:, p, i]
    for i, a in enumerate(m.areas if areas else ()):
        cols[f"area.{a}.benefits_pv"] = o.area_benefits[:, i]
        cols[f"area.{a}.costs_pv"] = o.area_costs[:, i]
    for i, k in enumerate(m.stakeholders):
        cols[f"stakeholder.{k}.benefits_pv"] = o.stakeholder_benefits[:, i]
        cols[f"stakeholder.{k}.costs_pv"] = o.stakeholder_costs[:, i]
    for i, c in enumerate(m.components):
        cols[f"component.{c}"] = o.component[:, i]
    cols["payback_year"] = o.payback
    rr = run_irr(run)
    cols["irr"] = rr.irr
    cols["irr_roots"] = rr.roots
    if run.samples is not None:
        for j, path in enumerate(m.uncertain):
            cols[f"param.{path}"] = run.samples[:, j]
    elif run.spilled is not None:  # read a row group at a time by write_columns
        for j, path in enumerate(m.uncertain):
            cols[f"param.{path}"] = run.spilled.column(j)  # type: ignore[assignment]  # lazy column, sliced like an array
    return cols


def _year_quantiles(
    arr: np.ndarray,
    mean: np.ndarray | None = None,
    scratch: Scratch | None = None,
    *,
    mean_out: np.ndarray | None = None,
    years: list[int] | None = None,
) -> np.ndarray:
    """``np.quantile(arr, FAN_QUANTILES, axis=0)`` (same numbers), a few years at a time: their
    draws copied contiguous by one blocked transposition, then selected in place
    (:mod:`mkba.quantiles`). ``mean``, the mean over the draws, when finite says a year has no
    NaN (else it is checked). ``mean_out`` (instead of ``mean``; at least one draw): filled
    with ``arr.mean(axis=0)`` (the same numbers), from the transposition's sums. ``years``:
    only these consecutive columns (the others of the result are left unset)."""
    n, width = arr.shape
    qs = np.empty((len(FAN_QUANTILES), width))
    todo = list(range(width)) if years is None else years
    step = group_width(n)
    sums = np.empty(step)
    for g0 in range(0, len(todo), step):
        t = todo[g0 : g0 + step]
        if mean_out is None:
            rows = _transposed(arr, t, scratch)
        else:
            rows = _transposed(arr, t, scratch, sums=sums[: len(t)])
            mean_out[t] = sums[: len(t)] / n  # np.mean: the sum over axis 0, divided by n
            mean = mean_out
        for j, year in enumerate(t):
            qs[:, year] = _fan(rows[j], None if mean is None else mean[year])
    return qs


def _fan(col: np.ndarray, mean: float | None) -> np.ndarray:
    """``np.quantile(col, FAN_QUANTILES)`` of a contiguous column that is scratch; a finite
    ``mean`` of it means it has no NaN (a NaN or an infinity would make the sum non-finite)."""
    if col.size and mean is not None and math.isfinite(mean):
        return quantiles_without_nan(col, FAN_QUANTILES)
    return quantiles_of(col, FAN_QUANTILES, scratch=True)


def _cumulative_year_stats(
    dflow: np.ndarray,
    dmean: np.ndarray | None = None,
    scratch: Scratch | None = None,
    *,
    dmean_out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Quantiles (as :func:`_year_quantiles`) and mean over the draws of the cumulative
    discounted flow ``np.cumsum(dflow, axis=1)``, without making that (draws, years) array;
    with ``dmean`` (``dflow.mean(axis=0)``) also the quantiles of ``dflow`` itself, from the
    same transposed columns (else None). ``dmean_out`` (instead of ``dmean``; at least one
    draw): the same, with ``dflow.mean(axis=0)`` computed into it from the transposition's
    sums (:func:`_transposed`).

    The same numbers: a cumulative sum adds year by year, so year ``t`` is the running sum
    ``c + dflow[:, t]``. The mean over the draws of that (draws, years) array,
    ``np.add.reduce(axis=0) / n``, adds the rows one after the other to a zero: the running sum
    of the column in draw order (``np.cumsum``'s last value; here
    :func:`mkba.colstats.add_running_sum`, the same additions) plus zero, which turns a sum of
    only negative zeros into +0 as the reduction does."""
    n, years = dflow.shape
    qs = np.empty((len(FAN_QUANTILES), years))
    if dmean_out is not None:
        dmean = dmean_out
    dqs = None if dmean is None else np.empty((len(FAN_QUANTILES), years))
    mean = np.empty(years)
    c = None
    width = group_width(n)
    sums = np.empty(width)
    for t in _spans(years, width):
        if dmean_out is None:
            rows = _transposed(dflow, t, scratch)
        else:
            rows = _transposed(dflow, t, scratch, sums=sums[: len(t)])
            dmean_out[t] = sums[: len(t)] / n  # np.mean: the sum over axis 0, divided by n
        for j, year in enumerate(t):
            if c is None:
                c = rows[j].copy()
                total = np.cumsum(c)[-1] + 0.0 if n else 0.0
            else:  # c += rows[j] and np.cumsum(c)[-1], in one pass
                total = add_running_sum(c, rows[j]) + 0.0 if n else 0.0
            mean[year] = total / n if n else np.nan
            if dqs is not None and dmean is not None:  # the year's own flow, then its place
                dqs[:, year] = _fan(rows[j], dmean[year])
            rows[j] = c
            qs[:, year] = _fan(rows[j], mean[year])
    return qs, mean, dqs


YEAR_BUCKETS = 1024
"""Buckets per column of :func:`_bucket_year_stats` (a (columns, buckets) count table of a
task stays in the processor's second-level cache)."""

YEAR_SAMPLE = 4096
"""About this many draws (every ``step``-th) place a column's buckets (:func:`_bucket_year_stats`)."""


def _bucket_year_stats(
    src: np.ndarray, t0: int, t1: int, running: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``np.quantile(col, FAN_QUANTILES)`` and the mean over the draws (the numbers of
    :func:`_year_quantiles` and :func:`_cumulative_year_stats`, bit for bit) of the columns
    ``t0 .. t1 - 1`` of the C-ordered float64 (draws, years) ``src`` (at least 2 draws) and,
    with ``running``, then of their running sums over the years (``np.cumsum(src, axis=1)``'s
    columns, without making that array): ((quantiles, columns), (columns,)).

    No transposition and no partition of whole columns: two passes over the rows of ``src``
    (:func:`mkba.colstats.year_buckets`). A sample of the draws places ``YEAR_BUCKETS`` equal
    buckets per column over the sample's values around the wanted ranks (the values beyond
    count in the end buckets; the map is monotone). The first pass counts each bucket's values and
    sums each column in draw order (the means: the same additions as before). The counts tell
    exactly which bucket holds each wanted order statistic and how many values lie below it;
    the second pass copies only those buckets' values, and the order statistic is the one of
    its bucket's values at the rank less those below (:func:`mkba.quantiles.order_statistics`).
    An order statistic is one value whichever way it is found, and the interpolation is
    NumPy's (:func:`mkba.quantiles.lerp`), so the quantiles are the partitions' numbers.

    A column goes the old way (its values copied out, :func:`_fan`) when its sample has an
    infinity, a NaN or one value only, its sum is not finite (a NaN or an infinity: NumPy's
    own path there), its wanted buckets hold more than a quarter of the draws (mass at one
    value) or would take the task's copies past twice the draws (memory bounded as by the
    old blocks of 8 columns), or a wanted order statistic is a zero where zeros of both signs
    lie (-0.0 == 0.0: which one a partition leaves at a rank depends on its order of work)."""
    n = src.shape[0]
    w = t1 - t0
    m = 2 * w if running else w
    ranks, lower, upper, gamma = quantile_plan(n, FAN_QUANTILES)
    step = max(1, n // YEAR_SAMPLE)
    if step > 1 and step % 2 == 0:  # odd: a quasi-random column is sampled evenly too
        step -= 1
    rows = src[::step, :t1]
    sample = np.empty((rows.shape[0], m))
    sample[:, :w] = rows[:, t0:t1]
    if running:
        sample[:, w:] = np.cumsum(rows, axis=1)[:, t0:t1]
    # the buckets span the sample's values from a little below the lowest wanted rank to a
    # little above the highest (4 standard deviations of a sample quantile's rank), so that a
    # long tail does not widen them; the values beyond count in the end buckets
    sample.sort(axis=0)
    s = sample.shape[0]
    p = np.array([ranks[0], ranks[-1]]) / (n - 1)
    dev = 4.0 * np.sqrt(s * p * (1.0 - p)) + 2.0
    ilo = int(np.clip(np.floor(p[0] * (s - 1) - dev[0]), 0, s - 1))
    ihi = int(np.clip(np.ceil(p[1] * (s - 1) + dev[1]), 0, s - 1))
    with np.errstate(all="ignore"):
        lo = sample[ilo]
        width = sample[ihi] - lo
        flat = width == 0  # a mass at one value there: the whole sample's range
        lo = np.where(flat, sample[0], lo)
        width = np.where(flat, sample[-1] - sample[0], width)
        scale = YEAR_BUCKETS / width
    placed = np.isfinite(lo) & np.isfinite(width) & (width > 0) & np.isfinite(scale)
    lo = np.where(placed, lo, 0.0)
    scale = np.where(placed, scale, 0.0)
    hist = np.empty((m, YEAR_BUCKETS), dtype=np.int64)
    sums = np.empty(m)
    tab = np.full((m, YEAR_BUCKETS), -1, dtype=np.int64)
    none = np.empty(0, dtype=np.int64)
    year_buckets(src, t0, t1, lo, scale, hist, sums, tab, none, np.empty(0))
    mean = sums / n
    if running:  # np.cumsum(c)[-1] + 0.0, divided by n (as _cumulative_year_stats)
        mean[w:] = (sums[w:] + 0.0) / n
    cum = np.cumsum(hist, axis=1)
    where = np.empty((m, len(ranks)), dtype=np.intp)
    sizes: list[int] = []
    todo = []
    for k in range(m):
        if not (placed[k] and math.isfinite(sums[k])):
            continue
        where[k] = np.searchsorted(cum[k], ranks, side="right")  # each rank's bucket
        wanted = np.unique(where[k])
        size = int(hist[k, wanted].sum())
        if size > n // 4 or sum(sizes) + size > 2 * n:  # a mass; the task's copies bounded
            continue
        tab[k, wanted] = np.arange(len(sizes), len(sizes) + len(wanted))
        sizes += hist[k, wanted].tolist()
        todo.append(k)
    start = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=start[1:])
    buf = np.empty(int(start[-1]))
    if todo:
        fill = start[:-1].copy()
        year_buckets(src, t0, t1, lo, scale, hist, sums, tab, fill, buf)
        assert np.array_equal(fill, start[1:])
    qs = np.empty((len(FAN_QUANTILES), m))
    done = set(todo)
    for k in range(m):
        vals = None
        if k in done:
            vals = np.empty(len(ranks))
            for b in np.unique(where[k]).tolist():
                s = int(tab[k, b])
                seg = buf[start[s] : start[s + 1]]
                mine = where[k] == b
                below = int(cum[k, b - 1]) if b > 0 else 0
                got = order_statistics(seg, ranks[mine] - below)
                if (got == 0.0).any():  # which zero: the partition's, where both signs lie
                    signs = np.signbit(seg[seg == 0.0])
                    if signs.any() and not signs.all():
                        vals = None
                        break
                vals[mine] = got
        if vals is not None:
            qs[:, k] = lerp(vals[lower], vals[upper], gamma)
            continue
        t = t0 + k % w
        if k < w:
            col = np.array(src[:, t])
        else:  # the running sum up to year t, year by year (np.cumsum's additions)
            col = np.array(src[:, 0])
            for j in range(1, t + 1):
                col += src[:, j]
        qs[:, k] = _fan(col, float(mean[k]))
    return qs, mean


YEAR_BUCKETS_MIN_DRAWS = 150_000
"""From this many draws on, the yearly table takes :func:`_bucket_year_stats`. Below, the
transpositions and partitions cost less than its fixed work (samples, counts, a few Python
steps per column). With the block-transposing :func:`mkba.colstats.year_buckets` (i24-quant)
the bucket route takes 0.82x the CPU at 150k draws, 0.72x at 250k and the same at 100k (it was
500k before: the same at 100k, half again at 20k; busy machine, benchmarks/README.md)."""


def _bucket_route(arr: np.ndarray) -> bool:
    """Whether :func:`_bucket_year_stats` takes a (draws, years) flow array: C-ordered
    float64 with at least :data:`YEAR_BUCKETS_MIN_DRAWS` (and two) draws (else the
    transpositions, as before)."""
    return (
        arr.ndim == 2
        and arr.dtype == np.float64
        and arr.flags.c_contiguous
        and arr.shape[0] >= max(2, YEAR_BUCKETS_MIN_DRAWS)
    )


def _yearly_by_buckets(flow: np.ndarray, dflow: np.ndarray) -> tuple[np.ndarray, ...]:
    """Quantiles and means over the draws of the yearly table's three series (the flow, the
    discounted flow, its running sum over the years) by :func:`_bucket_year_stats`, a few
    years per task on :func:`statistics_threads` threads (each column is computed alone, so
    the numbers do not depend on the split or the thread count)."""
    years = flow.shape[1]
    nq = len(FAN_QUANTILES)
    out = [np.empty((nq, years)) if i % 2 == 0 else np.empty(years) for i in range(6)]
    # the flow and the discounted flow (with its running sums) in two halves of the years
    # each: a running sum's task reads every year up to its last, so thirds read the
    # discounted flow 2 times over per pass and halves 1.5 (0.87x the yearly table's CPU at
    # 1M draws, benchmarks/README.md i24-quant); four tasks for two threads
    tasks = [(flow, t[0], t[-1] + 1, False) for t in _spans(years, max(1, -(-years // 2)))]
    tasks += [(dflow, t[0], t[-1] + 1, True) for t in _spans(years, max(1, -(-years // 2)))]

    def work(task: tuple[np.ndarray, int, int, bool]) -> None:
        src, t0, t1, running = task
        qs, mean = _bucket_year_stats(src, t0, t1, running)
        w = t1 - t0
        base = 0 if not running else 2
        out[base][:, t0:t1] = qs[:, :w]
        out[base + 1][t0:t1] = mean[:w]
        if running:
            out[4][:, t0:t1] = qs[:, w:]
            out[5][t0:t1] = mean[w:]

    workers = min(len(tasks), statistics_threads())
    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:  # the running sums (longest) first
            list(pool.map(work, tasks[::-1]))
    else:
        for task in tasks:
            work(task)
    return tuple(out)


YEARLY_BESIDE_MAX_DRAWS = 2_000_000
"""Runs of up to this many draws compute their yearly table (and the summary's other parts)
beside the column statistics (:func:`beside_statistics`); larger ones after them, as before, so
that the yearly table's buffers (up to twice the draws per task) never add to the statistics'
blocks (eight columns of the draws per thread): a 10M run's peak has little room left
(benchmarks/README.md)."""


@contextlib.contextmanager
def beside_statistics(run: Run, yearly: bool = True) -> Iterator[Callable[[], RowTable | None]]:
    """Within the block, :func:`summary_parts` and then :func:`yearly_rows` of ``run`` are
    computed on a thread of their own while the caller computes the column statistics
    (:func:`precompute_statistics`) and the summary (which takes those parts from the thread,
    :func:`_summary_parts_of`); the function yielded returns the yearly table (waiting for
    it), or None when not ``yearly``.

    A large run's tail was its column statistics on :func:`statistics_threads` threads, then
    the summary's serial parts (the main thread alone), then the yearly table on those
    threads: each pool's last task and each serial step left a core idle. Side by side they
    fill each other's gaps. The numbers are the same: each is computed alone, in the same
    operations, whichever thread runs it and whatever runs beside it (each column of the
    yearly table by :func:`_yearly_by_buckets`).

    Only for a run the yearly table takes by buckets (no shared scratch buffers; see
    :func:`_bucket_route`), of at most :data:`YEARLY_BESIDE_MAX_DRAWS` draws, with more than one
    statistics thread; else everything is computed when asked for, as before. The block never
    ends before the thread does (an error in the block waits for the part the thread is
    computing, drops the one not started, then propagates)."""
    o = run.outcomes
    beside = (
        _bucket_route(o.flow)
        and _bucket_route(o.dflow)
        and o.flow.shape[0] <= YEARLY_BESIDE_MAX_DRAWS
        and statistics_threads() > 1
    )
    if not beside:
        yield (lambda: yearly_rows(run)) if yearly else (lambda: None)
        return
    from concurrent.futures import ThreadPoolExecutor

    pending = dict(_PARTS.get() or {})
    pool = ThreadPoolExecutor(1, thread_name_prefix="mkba-beside")
    token = _PARTS.set(pending)
    ended = False
    try:
        pending[id(o)] = pool.submit(summary_parts, run)
        table = pool.submit(yearly_rows, run) if yearly else None
        yield table.result if table is not None else (lambda: None)
        ended = True
    finally:
        _PARTS.reset(token)
        # never leaves the thread reading the run's arrays; after an error in the block (or
        # Ctrl-C) the part not started yet is dropped, so the error shows without waiting for it
        pool.shutdown(wait=True, cancel_futures=not ended)


def yearly_quantiles(run: Run) -> pd.DataFrame:
    """Per year: quantiles of the real net flow and of the cumulative discounted net flow."""
    return yearly_rows(run).to_pandas()


def yearly_rows(run: Run) -> RowTable:
    """:func:`yearly_quantiles` as a :class:`~mkba.rowtable.RowTable` (written without
    pandas)."""
    m = run.model
    o = run.outcomes
    names = ("net_flow", "discounted_net_flow", "cumulative_discounted")

    # the net flow a few years per task; the discounted flow and its running sum in one task
    # (the running sum goes year by year), from one transposition. Every column is computed as
    # one at a time, so the numbers do not depend on the thread count. The means over the
    # draws come from the transpositions' sums (one pass over the flows less each).
    years = o.flow.shape[1]
    groups = _spans(years, group_width(o.flow.shape[0]))
    empty = o.flow.shape[0] == 0
    flow_mean = o.flow.mean(axis=0) if empty else np.empty(years)
    dflow_mean = o.dflow.mean(axis=0) if empty else np.empty(years)
    flow_qs = np.empty((len(FAN_QUANTILES), years))
    scratch = _phase_scratch()  # transposition blocks, reused from task to task

    def flow_group(t: list[int]) -> None:
        part = o.flow[:, t[0] : t[-1] + 1]
        if empty:
            flow_qs[:, t] = _year_quantiles(part, flow_mean[t[0] : t[-1] + 1], scratch)
            return
        # the whole array with its columns (a C-ordered source for the compiled copy)
        got = np.empty(years)
        with scratch.lease():
            qs = _year_quantiles(o.flow, None, scratch, mean_out=got, years=t)
        flow_qs[:, t] = qs[:, t]
        flow_mean[t] = got[t]

    def discounted() -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if empty:
            return _cumulative_year_stats(o.dflow, dflow_mean, scratch)
        with scratch.lease():
            return _cumulative_year_stats(o.dflow, None, scratch, dmean_out=dflow_mean)

    disc_qs: np.ndarray | None
    if _bucket_route(o.flow) and _bucket_route(o.dflow):  # no transposition (the same numbers)
        flow_qs, flow_mean, disc_qs, dflow_mean, cum_qs, cum_mean = _yearly_by_buckets(
            o.flow, o.dflow
        )
    else:
        workers = min(1 + len(groups), statistics_threads())
        if workers > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers) as pool:  # the longest (discounted) first
                disc = pool.submit(discounted)
                list(pool.map(flow_group, groups))
                cum_qs, cum_mean, disc_qs = disc.result()
        else:
            for group in groups:
                flow_group(group)
            cum_qs, cum_mean, disc_qs = discounted()
    assert disc_qs is not None
    computed = [
        (flow_qs, flow_mean),
        (disc_qs, dflow_mean),
        (cum_qs, cum_mean),
    ]
    rows = []
    for series, (qs, mean) in zip(names, computed, strict=True):
        for t, year in enumerate(m.years):
            row = {"series": series, "year": int(year), "mean": float(mean[t])}
            for k, q in enumerate(FAN_QUANTILES):
                row[f"p{round(q * 100)}"] = float(qs[k, t])
            rows.append(row)
    return RowTable(rows)
