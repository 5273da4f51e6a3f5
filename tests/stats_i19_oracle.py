"""The statistics code of main 0a9a722 (before i19-quant), verbatim: the oracle that
tests/test_colstats.py compares the compiled passes of :mod:`mkba.colstats` against, by exact
equality. Only the imports are new; ``Scratch``, ``statistics_threads`` and the constants come
from :mod:`mkba.results` (unchanged)."""

# ruff: noqa
# mypy: ignore-errors
from __future__ import annotations

import math
from typing import Any

import numpy as np

from mkba.engine import Run
from mkba.quantiles import quantiles_of, quantiles_without_nan
from mkba.results import FAN_QUANTILES, QUANTILES, _GROUP, Scratch, statistics_threads
from mkba.rowtable import RowTable


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
    dev = np.subtract(ok, mean)  # x - mean, squared in place: a contiguous array, as NumPy's
    np.square(dev, out=dev)
    var = np.add.reduce(dev, axis=None) / (n - 1)
    return float(mean), float(np.sqrt(var))


def _transposed(
    src: np.ndarray, cols: list[int], scratch: Scratch | None = None, slot: str = "a"
) -> np.ndarray:
    """``src[:, cols].T`` (float64, C order; ``cols`` ascending): each row one column of
    ``src``, copied a block of rows at a time from a basic slice (the block stays in cache;
    one strided pass for all the columns). With ``scratch``: into this thread's buffer
    ``slot`` (valid until its next use)."""
    n = src.shape[0]
    j0, j1 = cols[0], cols[-1] + 1
    view = src[:, j0:j1]  # a view (a list index would copy)
    out = np.empty((j1 - j0, n)) if scratch is None else scratch.get(slot, (j1 - j0, n))
    for lo in range(0, n, 4096):
        np.copyto(out[:, lo : lo + 4096], view[lo : lo + 4096].T)
    if len(cols) != j1 - j0:
        return out[[c - j0 for c in cols]]
    return out


def _year_quantiles(
    arr: np.ndarray, mean: np.ndarray | None = None, scratch: Scratch | None = None
) -> np.ndarray:
    """``np.quantile(arr, FAN_QUANTILES, axis=0)`` (same numbers), a few years at a time: their
    draws copied contiguous by one blocked transposition, then selected in place
    (:mod:`mkba.quantiles`). ``mean``, the mean over the draws, when finite says a year has no
    NaN (else it is checked)."""
    years = arr.shape[1]
    qs = np.empty((len(FAN_QUANTILES), years))
    for t0 in range(0, years, _GROUP):
        t = list(range(t0, min(t0 + _GROUP, years)))
        rows = _transposed(arr, t, scratch)
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
    dflow: np.ndarray, dmean: np.ndarray | None = None, scratch: Scratch | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Quantiles (as :func:`_year_quantiles`) and mean over the draws of the cumulative
    discounted flow ``np.cumsum(dflow, axis=1)``, without making that (draws, years) array;
    with ``dmean`` (``dflow.mean(axis=0)``) also the quantiles of ``dflow`` itself, from the
    same transposed columns (else None).

    The same numbers: a cumulative sum adds year by year, so year ``t`` is the running sum
    ``c + dflow[:, t]``. The mean over the draws of that (draws, years) array,
    ``np.add.reduce(axis=0) / n``, adds the rows one after the other to a zero: the running sum
    of the column in draw order (``np.cumsum``'s last value) plus zero, which turns a sum of
    only negative zeros into +0 as the reduction does."""
    n, years = dflow.shape
    qs = np.empty((len(FAN_QUANTILES), years))
    dqs = None if dmean is None else np.empty((len(FAN_QUANTILES), years))
    mean = np.empty(years)
    c = None
    running = np.empty(n)  # np.cumsum's values, into one array for every year
    for t0 in range(0, years, _GROUP):
        t = list(range(t0, min(t0 + _GROUP, years)))
        rows = _transposed(dflow, t, scratch)
        for j, year in enumerate(t):
            if c is None:
                c = rows[j].copy()
            else:
                np.add(c, rows[j], out=c)
            total = np.cumsum(c, out=running)[-1] + 0.0 if n else 0.0
            mean[year] = total / n if n else np.nan
            if dqs is not None and dmean is not None:  # the year's own flow, then its place
                dqs[:, year] = _fan(rows[j], dmean[year])
            rows[j] = c
            qs[:, year] = _fan(rows[j], mean[year])
    return qs, mean, dqs


def yearly_rows(run: Run) -> RowTable:
    """:func:`yearly_quantiles` as a :class:`~mkba.rowtable.RowTable` (written without
    pandas)."""
    m = run.model
    o = run.outcomes
    names = ("net_flow", "discounted_net_flow", "cumulative_discounted")

    # the net flow a few years per task; the discounted flow and its running sum in one task
    # (the running sum goes year by year), from one transposition. Every column is computed as
    # one at a time, so the numbers do not depend on the thread count.
    years = o.flow.shape[1]
    groups = [list(range(t0, min(t0 + _GROUP, years))) for t0 in range(0, years, _GROUP)]
    flow_mean = o.flow.mean(axis=0)
    dflow_mean = o.dflow.mean(axis=0)
    flow_qs = np.empty((len(FAN_QUANTILES), years))
    scratch = Scratch()  # each thread's transposition block, reused

    def flow_group(t: list[int]) -> None:
        part = o.flow[:, t[0] : t[-1] + 1]
        flow_qs[:, t] = _year_quantiles(part, flow_mean[t[0] : t[-1] + 1], scratch)

    def discounted() -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        return _cumulative_year_stats(o.dflow, dflow_mean, scratch)

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
