"""Summaries of a run: statistics per outcome, tidy tables, yearly quantiles, convergence.

Compute functions return plain dicts and pandas data frames; nothing here prints.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import numpy as np
import pandas as pd

from mkba.decide.irr import irr_summary, run_irr
from mkba.engine import Run
from mkba.outputs import OutputRef, output_array
from mkba.schema.scenario import PERSPECTIVES

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
    nan = np.isnan(np.add.reduce(x, axis=None))
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
    sd = float(ok.std(ddof=1)) if n > 1 else 0.0
    mean = float(ok.mean())  # before the quantiles reorder ``ok``
    q = np.quantile(ok, QUANTILES, overwrite_input=True)
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


def statistics_keys(run: Run) -> list[tuple[Any, ...]]:
    """Every column whose statistics :func:`summary`, :func:`summary_table` and
    :func:`breakdown_table` take (keys of :func:`column_stats`)."""
    m = run.model
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
    :func:`statistics_keys`) on threads, one column per task, so that the summary and tables
    find them computed. Each column is computed by :func:`stats` exactly as one at a time
    (NumPy releases the GIL in the copy, the sums and the partition), so the numbers do not
    depend on the thread count. Outside the block: nothing to keep them in, does nothing."""
    memo = _MEMO.get()
    if memo is None:
        return
    wanted = statistics_keys(run) if keys is None else keys
    todo = [k for k in wanted if (id(run.outcomes), *k) not in memo]
    workers = min(len(todo), statistics_threads())
    if workers <= 1:
        for k in todo:
            memo[(id(run.outcomes), *k)] = stats(_column(run, k), owned=True)
        return
    from concurrent.futures import ThreadPoolExecutor

    # a few columns per task: thousands of tiny tasks (many areas) cost more than they save
    per = max(1, len(todo) // (8 * workers))
    groups = [todo[i : i + per] for i in range(0, len(todo), per)]
    with ThreadPoolExecutor(workers) as pool:
        done = pool.map(lambda ks: [stats(_column(run, k), owned=True) for k in ks], groups)
        for ks, vs in zip(groups, done, strict=True):
            for k, v in zip(ks, vs, strict=True):
                memo[(id(run.outcomes), *k)] = v


MAX_STATISTICS_THREADS = 4
"""At most this many threads compute statistics: each holds a copy of one column (80 MB at
10M draws), so the memory stays bounded on a many-core machine."""


def statistics_threads() -> int:
    """Threads for :func:`precompute_statistics`: the CPUs this process may use, at most
    :data:`MAX_STATISTICS_THREADS`."""
    import os

    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_STATISTICS_THREADS))


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
        "npv": o.npv[:, p],
        "bcr": o.bcr[:, p],
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
    o = run.outcomes
    p0 = PERSPECTIVES.index(sc.perspective)
    main = {k: column_stats(run, "perspective", p0, k) for k in PERSPECTIVE_METRICS}
    npv = o.npv[:, p0]
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
        "prob_npv_positive": float(np.mean(npv > 0)),
        "payback_year": payback_stats(o.payback),
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
        arr = perspective_arrays(run, name)
        out["perspectives"][name] = {
            "costs_pv": column_stats(run, "perspective", p, "costs_pv"),
            "benefits_pv": column_stats(run, "perspective", p, "benefits_pv"),
            "npv": column_stats(run, "perspective", p, "npv"),
            "bcr": column_stats(run, "perspective", p, "bcr"),
            "prob_npv_positive": float(np.mean(arr["npv"] > 0)),
            "by_stream": {s: column_stats(run, "stream", p, i) for i, s in enumerate(m.streams)},
        }
    # what share of the study-perspective benefits is a transfer (not a welfare gain)
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
    out["transfers_in_study_benefits"] = stats(transfer_in_study)
    # internal rate of return per draw (scenario perspective); see mkba.decide.irr
    out["irr"] = irr_summary(run_irr(run))
    if m.programme is not None:  # bottom-up programme (docs/model.md §3)
        from mkba import programme_results

        out["by_intervention"] = programme_results.by_intervention(run)
        out["physical"] = programme_results.physical(run)
    return out


def summary_table(run: Run) -> pd.DataFrame:
    """Long table: one row per (perspective, metric) with mean, se, p5, p50, p95."""
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
    return pd.DataFrame(rows)


def breakdown_table(run: Run) -> pd.DataFrame:
    """Long table of every breakdown: dimension (stream, area, stakeholder, component), name."""
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
    return pd.DataFrame(rows)


def draws_table(run: Run) -> pd.DataFrame:
    """One row per draw: outcomes (and sampled parameter values, when kept)."""
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


def _year_quantiles(arr: np.ndarray) -> np.ndarray:
    """``np.quantile(arr, FAN_QUANTILES, axis=0)`` (same numbers), one year at a time: a
    contiguous copy of that year's draws partitioned in place, so only one year is ever copied
    and every partition runs over contiguous memory."""
    qs = np.empty((len(FAN_QUANTILES), arr.shape[1]))
    for t in range(arr.shape[1]):
        qs[:, t] = np.quantile(arr[:, t].copy(), FAN_QUANTILES, overwrite_input=True)
    return qs


def _cumulative_year_stats(dflow: np.ndarray, block: int = 65_536) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles (as :func:`_year_quantiles`) and mean over the draws of the cumulative
    discounted flow ``np.cumsum(dflow, axis=1)``, without making that (draws, years) array.

    The same numbers: a cumulative sum adds year by year, so year ``t`` is the running sum
    ``c + dflow[:, t]``; the mean over the draws adds the rows in order, so a block of rows
    continues from the sum of the rows before it (prepended as its first row)."""
    n, years = dflow.shape
    qs = np.empty((len(FAN_QUANTILES), years))
    c = dflow[:, 0].copy()
    for t in range(years):
        if t:
            c = c + dflow[:, t]
        qs[:, t] = np.quantile(c.copy(), FAN_QUANTILES, overwrite_input=True)
    del c
    total = None
    for lo in range(0, n, block):
        rows = np.cumsum(dflow[lo : lo + block], axis=1)
        total = np.add.reduce(rows if total is None else np.vstack([total, rows]), axis=0)
    assert total is not None
    return qs, total / n


def yearly_quantiles(run: Run) -> pd.DataFrame:
    """Per year: quantiles of the real net flow and of the cumulative discounted net flow."""
    m = run.model
    o = run.outcomes
    names = ("net_flow", "discounted_net_flow", "cumulative_discounted")

    def series_stats(series: str) -> tuple[np.ndarray, np.ndarray]:
        if series == "cumulative_discounted":
            return _cumulative_year_stats(o.dflow)
        arr = o.flow if series == "net_flow" else o.dflow
        return _year_quantiles(arr), arr.mean(axis=0)

    # the three series are independent (each computed as before, on its own thread; NumPy's
    # partition releases the GIL), so the numbers do not depend on the thread count
    workers = min(len(names), statistics_threads())
    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:  # the longest (cumulative) first
            futures = {name: pool.submit(series_stats, name) for name in reversed(names)}
            computed = [futures[name].result() for name in names]
    else:
        computed = [series_stats(series) for series in names]
    rows = []
    for series, (qs, mean) in zip(names, computed, strict=True):
        for t, year in enumerate(m.years):
            row = {"series": series, "year": int(year), "mean": float(mean[t])}
            for k, q in enumerate(FAN_QUANTILES):
                row[f"p{round(q * 100)}"] = float(qs[k, t])
            rows.append(row)
    return pd.DataFrame(rows)
