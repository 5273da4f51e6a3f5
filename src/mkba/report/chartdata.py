"""The numbers behind every chart and table of the report: data frames computed from a
run directory (:class:`~mkba.report.rundir.RunData`); :mod:`mkba.report.charts` draws them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mkba.report.inputs import component_weights as component_weights
from mkba.report.labels import Labels, check_lang
from mkba.report.pm import pm_items
from mkba.report.rundir import (
    DISCOUNT_COLUMNS,
    SWITCHING_COLUMNS,
    TORNADO_COLUMNS,
    VARIANT_COLUMNS,
    RunData,
    check_columns,
    normalize,
)


@dataclass
class ChartData:
    """The numbers one chart draws: a data frame and a few scalars."""

    frame: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)


def _stat(d: dict[str, Any], key: str = "mean") -> float:
    v = d.get(key)
    return math.nan if v is None else float(v)


def summary_table(run: RunData, labels: Labels) -> ChartData:
    """Costs, benefits by stream, totals, NPV, BCR, P(NPV > 0) and PM lines.

    Columns: key, kind (cost | benefit | total | npv | bcr | prob | pm), label, mean, p50,
    p5, p95. Money in euros of the price year, PV at the base year, scenario perspective.
    """
    s = run.summary
    rows: list[dict[str, Any]] = []

    def add(key: str, kind: str, label: str, st: dict[str, Any] | None) -> None:
        st = st or {}
        rows.append(
            {
                "key": key,
                "kind": kind,
                "label": label,
                **{k: _stat(st, k) for k in ("mean", "p50", "p5", "p95")},
            }
        )

    add("costs", "cost", labels.t("programme_costs"), s["costs_pv"])
    streams = sorted(s["by_stream"].items(), key=lambda kv: -_stat(kv[1]))
    for sid, st in streams:
        add(sid, "benefit", labels.stream(sid), st)
    add("benefits", "total", labels.t("total_benefits"), s["benefits_pv"])
    add("npv", "npv", labels.t("saldo"), s["npv"])
    add("bcr", "bcr", labels.t("bcr"), s["bcr"])
    p = float(s["prob_npv_positive"])
    add("prob_npv_positive", "prob", labels.t("prob_npv_positive"), {"mean": p})
    items = pm_items(run)
    for item in items:
        add(item.id, "pm", item.name(labels.lang), None)
    return ChartData(
        pd.DataFrame(rows), {"perspective": run.perspective, "pm": {i.id: i.text for i in items}}
    )


def waterfall(run: RunData, labels: Labels) -> ChartData:
    """Steps from minus the costs, through each stream's benefits, to the NPV (means).

    Columns: key, label, kind (cost | benefit | total), delta, start, end. Means add up,
    so the last bar (the NPV) ends where the steps end; ``meta["gap"]`` is the difference
    from the run's mean NPV (rounding only).
    """
    s = run.summary
    costs = _stat(s["costs_pv"])
    rows = [
        {
            "key": "costs",
            "label": labels.t("programme_costs"),
            "kind": "cost",
            "delta": -costs,
            "start": 0.0,
            "end": -costs,
        }
    ]
    level = -costs
    for sid, st in sorted(s["by_stream"].items(), key=lambda kv: -_stat(kv[1])):
        m = _stat(st)
        rows.append(
            {
                "key": sid,
                "label": labels.stream(sid),
                "kind": "benefit",
                "delta": m,
                "start": level,
                "end": level + m,
            }
        )
        level += m
    rows.append(
        {
            "key": "npv",
            "label": labels.t("npv.short"),
            "kind": "total",
            "delta": level,
            "start": 0.0,
            "end": level,
        }
    )
    return ChartData(pd.DataFrame(rows), {"gap": level - _stat(s["npv"])})


def stakeholders(run: RunData, labels: Labels) -> ChartData:
    """What each stakeholder gains and pays, split by stream (means over draws).

    The stakeholder view counts every effect and every payer's programme costs, whatever the
    run's perspective; a transfer is a gain for one stakeholder and a loss for another.
    Columns: stakeholder, stakeholder_label, part (a stream id or ``programme_costs``),
    part_label, sign (gain | loss), value (signed). ``meta["net"]``: net per stakeholder,
    equal to ``stakeholder.<k>.benefits_pv - costs_pv`` of the draws.
    """
    d = run.draws
    ks = [
        c.split(".")[1]
        for c in d.columns
        if c.startswith("stakeholder.") and c.endswith(".benefits_pv")
    ]
    rows: list[dict[str, Any]] = []
    weights = run.inputs.component_weights if run.inputs is not None else None
    comp_cols = [c for c in d.columns if c.startswith("component.")]
    means = {c[len("component.") :]: float(d[c].mean()) for c in comp_cols}
    for k in ks:
        if weights is not None:
            parts: dict[tuple[str, str], float] = {}
            for comp, m in means.items():
                w = weights.get(comp, {}).get(k, 0.0)
                if w == 0.0 or m == 0.0:
                    continue
                v = w * m
                key = (comp.split(".")[0], "gain" if v > 0 else "loss")
                parts[key] = parts.get(key, 0.0) + v
            for (sid, sign), v in sorted(parts.items()):
                rows.append(
                    {
                        "stakeholder": k,
                        "stakeholder_label": labels.stakeholder(k),
                        "part": sid,
                        "part_label": labels.stream(sid),
                        "sign": sign,
                        "value": v,
                    }
                )
        else:
            b = float(d[f"stakeholder.{k}.benefits_pv"].mean())
            rows.append(
                {
                    "stakeholder": k,
                    "stakeholder_label": labels.stakeholder(k),
                    "part": "benefits",
                    "part_label": labels.t("benefits_other"),
                    "sign": "gain" if b >= 0 else "loss",
                    "value": b,
                }
            )
        c = float(d[f"stakeholder.{k}.costs_pv"].mean())
        if c != 0.0:
            rows.append(
                {
                    "stakeholder": k,
                    "stakeholder_label": labels.stakeholder(k),
                    "part": "programme_costs",
                    "part_label": labels.t("programme_costs"),
                    "sign": "loss" if c > 0 else "gain",
                    "value": -c,
                }
            )
    frame = pd.DataFrame(
        rows, columns=["stakeholder", "stakeholder_label", "part", "part_label", "sign", "value"]
    )
    net = {
        k: float((d[f"stakeholder.{k}.benefits_pv"] - d[f"stakeholder.{k}.costs_pv"]).mean())
        for k in ks
    }
    public = {}
    if run.inputs is not None:
        public = {k: run.inputs.public[k] for k in ks}
    # stakeholders without flows (nothing gained, lost or paid in the means) are left out
    flows = {k for k, v in zip(frame["stakeholder"], frame["value"], strict=True) if v != 0.0}
    order = [k for k in ks if k in flows or net[k] != 0.0]
    return ChartData(frame, {"net": net, "order": order, "public": public})


def stakeholder_table(run: RunData, labels: Labels) -> pd.DataFrame:
    """Per stakeholder (means): what it gains, what it loses through transfers and losses,
    the programme costs it pays, and its net result with P5, P50, P95.

    Columns: stakeholder, label, public, gains_mean, losses_mean (transfers paid and losses,
    as a positive amount), costs_mean (programme costs paid), net_mean, net_p5, net_p50,
    net_p95. Gains and losses come from :func:`stakeholders`; without the parameter set
    ``gains_mean`` is the net of all effects and ``losses_mean`` is NaN.
    """
    s = run.summary
    parts = stakeholders(run, labels).frame
    rows = []
    for k, net in s["by_stakeholder"].items():
        pub = None
        if run.inputs is not None and k in run.inputs.public:
            pub = run.inputs.public[k]
        mine = parts[(parts["stakeholder"] == k) & (parts["part"] != "programme_costs")]
        if run.inputs is not None:
            gains = float(mine.loc[mine["value"] > 0, "value"].sum())
            losses = float(-mine.loc[mine["value"] < 0, "value"].sum()) + 0.0  # no -0.0
        else:
            gains, losses = _stat(s["by_stakeholder_benefits"][k]), math.nan
        rows.append(
            {
                "stakeholder": k,
                "label": labels.stakeholder(k),
                "public": pub,
                "gains_mean": gains,
                "losses_mean": losses,
                "costs_mean": _stat(s["by_stakeholder_costs"][k]),
                "net_mean": _stat(net),
                "net_p5": _stat(net, "p5"),
                "net_p50": _stat(net, "p50"),
                "net_p95": _stat(net, "p95"),
            }
        )
    return pd.DataFrame(rows)


def areas(run: RunData, labels: Labels) -> ChartData:
    """Benefits, costs and NPV per area (means, scenario perspective), best NPV first.

    Columns: area, label, benefits, costs, npv, npv_p5, npv_p95, bcr (mean benefits / mean
    costs).
    """
    s = run.summary
    rows = []
    for a, b in s["by_area"].items():
        c = s["by_area_costs"][a]
        n = s["by_area_npv"][a]
        cm = _stat(c)
        rows.append(
            {
                "area": a,
                "label": labels.area(a),
                "benefits": _stat(b),
                "costs": cm,
                "npv": _stat(n),
                "npv_p5": _stat(n, "p5"),
                "npv_p95": _stat(n, "p95"),
                "bcr": _stat(b) / cm if cm else math.nan,
            }
        )
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame = frame.sort_values(["npv", "area"], ascending=[False, True], kind="mergesort")
    return ChartData(frame.reset_index(drop=True))


def _series(run: RunData, name: str, cols: tuple[str, ...]) -> pd.DataFrame:
    y = run.yearly
    part = y[y["series"] == name].sort_values("year")
    return part[["year", *cols]].reset_index(drop=True)


def cashflow(run: RunData) -> ChartData:
    """Cumulative discounted net cash flow per year: mean, P10, P50, P90 (scenario perspective).

    ``meta``: ``payback_p50`` (median payback year of the draws that pay back),
    ``never_share`` (share of draws not paid back by the horizon), ``horizon``.
    """
    frame = _series(run, "cumulative_discounted", ("mean", "p10", "p50", "p90"))
    pb = run.summary.get("payback_year", {}) or {}
    share = pb.get("share_defined", 1.0 if pb.get("p50") is not None else 0.0)
    return ChartData(
        frame,
        {
            "payback_p50": _stat(pb, "p50"),
            "never_share": 1.0 - float(share),
            "horizon": run.summary.get("horizon"),
        },
    )


FAN_COLUMNS = ("p5", "p20", "p35", "p50", "p65", "p80", "p95")


def fan(run: RunData) -> ChartData:
    """Yearly net benefits (real, undiscounted; scenario perspective): P5 ... P95 and mean."""
    return ChartData(_series(run, "net_flow", (*FAN_COLUMNS, "mean")))


def npv_distribution(run: RunData, bins: int = 60) -> ChartData:
    """Histogram and empirical CDF of the NPV of the run's perspective.

    Columns: bin_left, bin_right, count, share (count / draws), cdf (share of draws at or
    below ``bin_right``). ``meta``: prob_positive (share of draws with NPV > 0), p5, p50, p95,
    mean, draws.
    """
    x = run.draws[f"{run.perspective}.npv"].to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    n = x.size
    lo, hi = (float(x.min()), float(x.max())) if n else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5 * max(abs(lo), 1.0), hi + 0.5 * max(abs(hi), 1.0)
    counts, edges = np.histogram(x, bins=bins, range=(lo, hi))
    frame = pd.DataFrame(
        {
            "bin_left": edges[:-1],
            "bin_right": edges[1:],
            "count": counts,
            "share": counts / n if n else counts * 0.0,
            "cdf": np.cumsum(counts) / n if n else counts * 0.0,
        }
    )
    q = np.quantile(x, (0.05, 0.5, 0.95)) if n else (math.nan,) * 3
    return ChartData(
        frame,
        {
            "prob_positive": float(np.mean(x > 0)) if n else math.nan,
            "p5": float(q[0]),
            "p50": float(q[1]),
            "p95": float(q[2]),
            "mean": float(x.mean()) if n else math.nan,
            "draws": n,
        },
    )


def rank_correlations(run: RunData, labels: Labels, top: int | None = 15) -> ChartData:
    """Spearman rank correlation of each sampled parameter with the NPV, strongest first.

    A screening measure from the run's own draws (``param.*`` columns of draws.parquet),
    not a variance decomposition. Columns: parameter, label, rho. Constant columns are left
    out; an empty frame when the run kept no parameter samples.
    """
    key = f"rank_correlations.{run.perspective}"
    if key not in run.cache:
        run.cache[key] = _spearman(run.draws, f"{run.perspective}.npv")
    rows = [
        {"parameter": path, "label": labels.param(path), "rho": r} for path, r in run.cache[key]
    ]
    frame = pd.DataFrame(rows, columns=["parameter", "label", "rho"])
    if not frame.empty:
        order = np.lexsort((frame["parameter"].to_numpy(), -frame["rho"].abs().to_numpy()))
        frame = frame.iloc[order].reset_index(drop=True)
        if top is not None:
            frame = frame.head(top)
    return ChartData(frame, {"outcome": f"{run.perspective}.npv", "draws": len(run.draws)})


def _spearman(d: pd.DataFrame, outcome: str) -> list[tuple[str, float]]:
    """(parameter path, Spearman rho with ``outcome``) for every non-constant param column."""
    cols = [c for c in d.columns if c.startswith("param.")]
    y = d[outcome].to_numpy(dtype=float)
    if not cols or len(y) <= 2:
        return []
    X = d[cols].to_numpy(dtype=float)
    keep = X.std(axis=0) > 0
    names = [c for c, k in zip(cols, keep, strict=True) if k]
    if not names or np.std(y) == 0:
        return []
    from scipy.stats import rankdata

    rx = rankdata(X[:, keep], axis=0)
    ry = rankdata(y)
    rx = (rx - rx.mean(axis=0)) / rx.std(axis=0)
    ry = (ry - ry.mean()) / ry.std()
    rho = rx.T @ ry / len(ry)
    return [(n[len("param.") :], float(r)) for n, r in zip(names, rho, strict=True)]


def _name_label(name: str, labels: Labels) -> str:
    return labels.param(name) if "." in name else name


def tornado(
    df: pd.DataFrame, labels: Labels, switching: pd.DataFrame | None = None, top: int = 15
) -> ChartData:
    """Tornado bars, widest swing first, with switching values when given.

    ``df`` columns: name, low, high, output_low, output_high, base_output. Adds label and
    swing (``|output_high - output_low|``); with ``switching`` (name, base, switching_value,
    ratio) also switching_value and ratio (NaN where a parameter has none).
    """
    f = normalize("tornado", df)
    check_columns(f, TORNADO_COLUMNS, "tornado")
    f["label"] = [_name_label(str(n), labels) for n in f["name"]]
    f["swing"] = (f["output_high"] - f["output_low"]).abs()
    if switching is not None:
        switching = normalize("switching", switching)
        check_columns(switching, SWITCHING_COLUMNS, "switching")
        sw = switching[["name", "switching_value", "ratio"]].drop_duplicates("name")
        f = f.merge(sw, on="name", how="left")
    order = np.lexsort((f["name"].astype(str).to_numpy(), -f["swing"].to_numpy()))
    f = f.iloc[order].head(top).reset_index(drop=True)
    base = float(f["base_output"].iloc[0]) if len(f) else math.nan
    output = str(f["output"].iloc[0]) if "output" in f.columns and len(f) else "npv"
    return ChartData(f, {"base_output": base, "output": output})


def switching_table(df: pd.DataFrame, labels: Labels) -> pd.DataFrame:
    """Switching values with labels, nearest to the base first (smallest ``|log ratio|``:
    halving and doubling are equally far); parameters without one last."""
    f = normalize("switching", df)
    check_columns(f, SWITCHING_COLUMNS, "switching")
    f["label"] = [_name_label(str(n), labels) for n in f["name"]]
    ratio = pd.to_numeric(f["ratio"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.where(ratio > 0, np.abs(np.log(ratio)), np.inf)
    dist = np.nan_to_num(dist, nan=np.inf)
    order = np.lexsort((f["name"].astype(str).to_numpy(), dist))
    return f.iloc[order].reset_index(drop=True)


def discount_sweep(df: pd.DataFrame, rate: float | None = None) -> ChartData:
    """NPV against the discount rate, lowest rate first.

    ``meta``: ``rate`` (the run's rate), ``output`` (the ``output`` column, default ``npv``),
    ``threshold`` (0, or 1 for a benefit-cost ratio) and ``switching_rate`` (where the median
    crosses the threshold, by linear interpolation; NaN if it does not).
    """
    f = normalize("discount", df)
    check_columns(f, DISCOUNT_COLUMNS, "discount")
    f = f.sort_values("rate", kind="mergesort").reset_index(drop=True)
    output = str(f["output"].iloc[0]) if "output" in f.columns and len(f) else "npv"
    from mkba.outputs import is_ratio_name

    threshold = 1.0 if is_ratio_name(output) else 0.0
    r = f["rate"].to_numpy(dtype=float)
    y = f["npv_p50"].to_numpy(dtype=float) - threshold
    cross = math.nan
    for i in range(len(y) - 1):
        if y[i] == 0:
            cross = float(r[i])
            break
        if y[i] * y[i + 1] < 0:
            cross = float(r[i] + (r[i + 1] - r[i]) * y[i] / (y[i] - y[i + 1]))
            break
    meta = {"rate": rate, "switching_rate": cross, "output": output, "threshold": threshold}
    return ChartData(f, meta)


def variant_label(row: dict[str, Any] | pd.Series, lang: str) -> str:
    """A variant's name in ``lang``: ``title_nl`` (Dutch) or ``title`` (English) of the batch
    table, else its id with spaces for underscores (``half_budget`` -> ``half budget``)."""
    col = "title_nl" if check_lang(lang) == "nl" else "title"
    name = row.get(col)
    if isinstance(name, str) and name.strip():
        return name
    return str(row["variant"]).replace("_", " ")


def variants(df: pd.DataFrame, perspective: str | None = None, lang: str = "en") -> ChartData:
    """Variant comparison, in the order given (the batch's order), with each variant's name
    in ``lang`` in a ``label`` column (:func:`variant_label`).

    A batch's ``comparison`` table (one row per job and perspective, ``costs_pv_p50``...) is
    accepted too: it is cut to ``perspective`` (default: ``study`` if present, else the first)
    and its columns renamed (see :func:`normalize`).
    """
    f = normalize("variants", df, perspective=perspective)
    check_columns(f, VARIANT_COLUMNS, "comparison")
    f = f.reset_index(drop=True).copy()
    f["label"] = [variant_label(r, lang) for _, r in f.iterrows()]
    return ChartData(f, {"perspective": perspective})


def perspectives_table(run: RunData, labels: Labels) -> pd.DataFrame:
    """One row per perspective: costs, benefits, NPV (P50, P5, P95), BCR P50, P(NPV > 0)."""
    rows = []
    for p, d in run.summary["perspectives"].items():
        rows.append(
            {
                "perspective": p,
                "label": labels.perspective(p),
                "costs_p50": _stat(d["costs_pv"], "p50"),
                "benefits_p50": _stat(d["benefits_pv"], "p50"),
                "npv_p50": _stat(d["npv"], "p50"),
                "npv_p5": _stat(d["npv"], "p5"),
                "npv_p95": _stat(d["npv"], "p95"),
                "npv_mean": _stat(d["npv"]),
                "bcr_p50": _stat(d["bcr"], "p50"),
                "prob_npv_positive": float(d["prob_npv_positive"]),
            }
        )
    return pd.DataFrame(rows)


def money_scale_values(run: RunData) -> list[float]:
    """The amounts that fix a run's common money unit (costs and benefits, all perspectives)."""
    vals = []
    for d in run.summary["perspectives"].values():
        vals += [_stat(d["costs_pv"], "p95"), _stat(d["benefits_pv"], "p95")]
    return vals
