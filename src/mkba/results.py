"""Summaries of a run: statistics per outcome, tidy tables, yearly quantiles, convergence.

Compute functions return plain dicts and pandas data frames; nothing here prints.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from mkba.decide.irr import irr_summary, run_irr
from mkba.engine import Run
from mkba.schema.scenario import PERSPECTIVES

QUANTILES = (0.05, 0.5, 0.95)
FAN_QUANTILES = (0.05, 0.10, 0.20, 0.35, 0.50, 0.65, 0.80, 0.90, 0.95)


def stats(x: np.ndarray) -> dict[str, float]:
    """Mean, Monte Carlo standard error of the mean, P5/P50/P95 and standard deviation.

    The standard error is ``sd / sqrt(n)``, exact for independent draws and conservative for
    Latin hypercube and Sobol samples (which have smaller error for smooth outputs).
    NaN values (e.g. a payback year beyond the horizon) are left out; ``share_defined`` says
    how many remain.
    """
    x = np.asarray(x, dtype=float)
    ok = x[~np.isnan(x)]
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
    q = np.quantile(ok, QUANTILES)
    out = {
        "mean": float(ok.mean()),
        "se": sd / math.sqrt(n) if n > 1 else math.nan,
        "p5": float(q[0]),
        "p50": float(q[1]),
        "p95": float(q[2]),
        "sd": sd,
    }
    if n != x.size:
        out["share_defined"] = n / x.size
    return out


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
    main = {k: stats(v) for k, v in perspective_arrays(run, sc.perspective).items()}
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
        "by_stream": {s: stats(o.stream[:, p0, i]) for i, s in enumerate(m.streams)},
        "by_area": {a: stats(o.area_benefits[:, i]) for i, a in enumerate(m.areas)},
        "by_area_costs": {a: stats(o.area_costs[:, i]) for i, a in enumerate(m.areas)},
        "by_area_npv": {
            a: stats(o.area_benefits[:, i] - o.area_costs[:, i]) for i, a in enumerate(m.areas)
        },
        "by_stakeholder": {
            k: stats(o.stakeholder_benefits[:, i] - o.stakeholder_costs[:, i])
            for i, k in enumerate(m.stakeholders)
        },
        "by_stakeholder_benefits": {
            k: stats(o.stakeholder_benefits[:, i]) for i, k in enumerate(m.stakeholders)
        },
        "by_stakeholder_costs": {
            k: stats(o.stakeholder_costs[:, i]) for i, k in enumerate(m.stakeholders)
        },
        "by_component": {c: stats(o.component[:, i]) for i, c in enumerate(m.components)},
        "perspectives": {},
    }
    for p, name in enumerate(PERSPECTIVES):
        arr = perspective_arrays(run, name)
        out["perspectives"][name] = {
            "costs_pv": stats(arr["costs_pv"]),
            "benefits_pv": stats(arr["benefits_pv"]),
            "npv": stats(arr["npv"]),
            "bcr": stats(arr["bcr"]),
            "prob_npv_positive": float(np.mean(arr["npv"] > 0)),
            "by_stream": {s: stats(o.stream[:, p, i]) for i, s in enumerate(m.streams)},
        }
    # what share of the study-perspective benefits is a transfer (not a welfare gain)
    comp_transfer = np.array(
        [
            m.spec.params.streams[c.split(".")[0]].components[c.split(".")[1]].nature == "transfer"
            for c in m.components
        ]
    )
    w_study = m.benefit_weights[PERSPECTIVES.index("study")]
    transfer_in_study = (o.component * (w_study * comp_transfer)).sum(axis=1)
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
    for name in PERSPECTIVES:
        for metric, arr in perspective_arrays(run, name).items():
            rows.append({"perspective": name, "metric": metric, **stats(arr)})
    return pd.DataFrame(rows)


def breakdown_table(run: Run) -> pd.DataFrame:
    """Long table of every breakdown: dimension (stream, area, stakeholder, component), name."""
    m = run.model
    o = run.outcomes
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
                    **stats(o.stream[:, p, i]),
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
                **stats(o.area_benefits[:, i]),
            }
        )
        rows.append(
            {
                "dimension": "area",
                "perspective": pname,
                "name": a,
                "metric": "costs_pv",
                **stats(o.area_costs[:, i]),
            }
        )
    for i, k in enumerate(m.stakeholders):
        for metric, arr in (
            ("benefits_pv", o.stakeholder_benefits[:, i]),
            ("costs_pv", o.stakeholder_costs[:, i]),
            ("npv", o.stakeholder_benefits[:, i] - o.stakeholder_costs[:, i]),
        ):
            rows.append(
                {
                    "dimension": "stakeholder",
                    "perspective": "stakeholder",
                    "name": k,
                    "metric": metric,
                    **stats(arr),
                }
            )
    for i, c in enumerate(m.components):
        rows.append(
            {
                "dimension": "component",
                "perspective": "gross",
                "name": c,
                "metric": "pv",
                **stats(o.component[:, i]),
            }
        )
    return pd.DataFrame(rows)


def draws_table(run: Run) -> pd.DataFrame:
    """One row per draw: outcomes (and sampled parameter values, when kept)."""
    m = run.model
    o = run.outcomes
    cols: dict[str, np.ndarray] = {"draw": np.arange(run.draws)}
    for p, name in enumerate(PERSPECTIVES):
        cols[f"{name}.costs_pv"] = o.costs[:, p]
        cols[f"{name}.benefits_pv"] = o.benefits[:, p]
        cols[f"{name}.npv"] = o.npv[:, p]
        cols[f"{name}.bcr"] = o.bcr[:, p]
        for i, s in enumerate(m.streams):
            cols[f"{name}.stream.{s}"] = o.stream[:, p, i]
    for i, a in enumerate(m.areas):
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
    return pd.DataFrame(cols)


def yearly_quantiles(run: Run) -> pd.DataFrame:
    """Per year: quantiles of the real net flow and of the cumulative discounted net flow."""
    m = run.model
    o = run.outcomes
    cum = np.cumsum(o.dflow, axis=1)
    rows = []
    for series, arr in (
        ("net_flow", o.flow),
        ("discounted_net_flow", o.dflow),
        ("cumulative_discounted", cum),
    ):
        qs = np.quantile(arr, FAN_QUANTILES, axis=0)
        mean = arr.mean(axis=0)
        for t, year in enumerate(m.years):
            row = {"series": series, "year": int(year), "mean": float(mean[t])}
            for k, q in enumerate(FAN_QUANTILES):
                row[f"p{round(q * 100)}"] = float(qs[k, t])
            rows.append(row)
    return pd.DataFrame(rows)
