"""Charts of decision runs (``mkba voi``, ``allocate``, ``discover``, ``acceptability``), in
English and Dutch, PNG and SVG, with the shipped chart style (same data, same bytes).

Compute functions live in :mod:`mkba.decide`; this module only draws.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from mkba.output import atomic_write_bytes
from mkba.report.charts import BENEFIT, COST, FORMATS, NET, chart_style, figure_bytes
from mkba.report.format import choose_scale, format_number, format_pct, format_plain, scale_label
from mkba.texts import text as tr


def _figure(title: str, sub: str, width: float = 8.0, height: float = 5.2) -> Figure:
    """A figure with a bold title and a wrapped grey subtitle at the top left."""
    fig = Figure(figsize=(width, height), layout="constrained")
    lines = textwrap.wrap(sub, int(14 * width))
    fig.suptitle(title, x=0.01, ha="left", fontsize=12, fontweight="bold")
    fig.supxlabel("\n".join(lines), x=0.01, ha="left", fontsize=8, color="#555555")
    return fig


def option_label(option: str, lang: str) -> str:
    return tr("decide.do_nothing", lang) if option == "do nothing" else option


def _short(path: str) -> str:
    if path.startswith("streams."):
        path = path.removeprefix("streams.").replace(".components.", ".", 1)
    return path


def draw_voi(doc: dict[str, Any], table: Any, lang: str) -> Figure:
    """EVPPI per parameter (group), top 15, with the EVPI as a line."""
    t = table[table["evppi"] > 0].head(15).iloc[::-1]  # parameters worth something
    evpi = float(doc["evpi"])
    price_year = doc["price_year"]
    options = [o["option"] for o in doc["options"]]
    sc = choose_scale([evpi, *t["evppi"]])
    div = {"bn": 1e9, "m": 1e6, "k": 1e3, "unit": 1.0}[sc]
    fig = _figure(
        tr("decide.voi.title", lang),
        tr("decide.voi.sub", lang, opts=" / ".join(option_label(o, lang) for o in options)),
        height=max(3.5, 0.32 * len(t) + 1.8),
    )
    ax = fig.add_subplot()
    y = np.arange(len(t))
    se = np.nan_to_num(t["se"].to_numpy(float))
    ax.barh(y, t["evppi"] / div, xerr=2 * se / div, color=BENEFIT, alpha=0.85, ecolor=NET)
    ax.set_yticks(y, [_short(g) for g in t["group"]], fontsize=8)
    ax.axvline(evpi / div, color=COST, lw=1.2, ls="--")
    ax.annotate(
        tr(
            "decide.voi.evpi",
            lang,
            v=format_number(evpi / div, lang, 2) + " " + scale_label(sc, lang),
        ),
        (evpi / div, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(-4, -12),
        textcoords="offset points",
        ha="right",
        fontsize=8,
        color=COST,
    )
    ax.set_xlabel(tr("decide.voi.x", lang, unit=scale_label(sc, lang), py=price_year))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, p: format_number(v, lang, 2)))
    return fig


def objective_label(label: str, lang: str) -> str:
    """``E[NPV]``, ``P(NPV > 0)``, ``P10 of NPV`` in the report's language."""
    if lang != "nl":
        return label
    return label.replace(" of NPV", " van de NCW").replace("NPV", "NCW")


def draw_allocate(doc: dict[str, Any], tables: dict[str, Any], lang: str) -> Figure:
    """Efficient frontier (best and scenario allocation) and the shares per area."""
    f = tables["frontier"]
    price_year = doc["price_year"]
    budget, scenario_budget = float(doc["budget"]), float(doc["scenario_budget"])
    label = objective_label(doc["objective_label"], lang)
    sc = choose_scale([*list(f["budget"]), budget])
    div = {"bn": 1e9, "m": 1e6, "k": 1e3, "unit": 1.0}[sc]
    kind = str(doc["objective"]).split(":")[0]
    fig = _figure(
        tr("decide.alloc.title", lang), tr("decide.alloc.sub", lang, obj=label), width=10.0
    )
    ax, ax2 = fig.subplots(1, 2, width_ratios=[1.1, 1.0])
    if kind == "prob":
        yv, yr, fmt = f["objective"], f["reference_objective"], (lambda v, p: format_pct(v, lang))
        ax.set_ylabel(tr("decide.acc.y", lang))
    else:
        ys = choose_scale(list(f["objective"]) + list(f["reference_objective"]))
        yd = {"bn": 1e9, "m": 1e6, "k": 1e3, "unit": 1.0}[ys]
        yv, yr = f["objective"] / yd, f["reference_objective"] / yd
        fmt = lambda v, p: format_number(v, lang, 2)  # noqa: E731
        ax.set_ylabel(f"{label} ({scale_label(ys, lang)}, {price_year})")
    ax.plot(
        f["budget"] / div, yv, color=BENEFIT, marker="o", lw=2, label=tr("decide.alloc.best", lang)
    )
    ax.plot(
        f["budget"] / div,
        yr,
        color=NET,
        marker="s",
        lw=1,
        ls="--",
        label=tr("decide.alloc.ref", lang),
    )
    ax.axvline(budget / div, color="#777777", lw=0.8, ls=":")
    ax.axhline(0, color="#444444", lw=0.6)
    ax.yaxis.set_major_formatter(FuncFormatter(fmt))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, p: format_number(v, lang, 1)))
    ax.set_xlabel(tr("decide.alloc.x", lang, unit=scale_label(sc, lang), py=price_year))
    ax.legend(loc="best", fontsize=8)
    a = tables["by_area"]
    cells = tables["cells"]
    ref_share = (
        cells.groupby("area", sort=False)["scenario_amount"].sum() if "area" in cells else None
    )
    y = np.arange(len(a))[::-1]
    ax2.barh(y + 0.2, a["share"], height=0.4, color=BENEFIT, label=tr("decide.alloc.opt", lang))
    if ref_share is not None:
        rs = ref_share.reindex(a["area"]).to_numpy() / scenario_budget
        ax2.barh(y - 0.2, rs, height=0.4, color="#BBBBBB", label=tr("decide.alloc.scen", lang))
    ax2.set_yticks(y, list(a["area"]), fontsize=7.5)
    ax2.xaxis.set_major_formatter(FuncFormatter(lambda v, p: format_pct(v, lang)))
    ax2.set_title(tr("decide.alloc.areas", lang), fontsize=9, loc="left")
    ax2.legend(loc="lower right", fontsize=8)
    return fig


def draw_discover(traj: Any, condition: str, lang: str) -> Figure:
    fig = _figure(tr("decide.disc.title", lang), tr("decide.disc.sub", lang, cond=condition))
    ax = fig.add_subplot()
    for box, t in traj.groupby("box"):
        s = ax.scatter(
            t["coverage"], t["density"], c=t["restricted"], cmap="viridis", s=16, zorder=3
        )
        ch = t[t["chosen"]]
        ax.scatter(
            ch["coverage"],
            ch["density"],
            s=120,
            facecolors="none",
            edgecolors=COST,
            lw=1.5,
            zorder=4,
        )
        ax.annotate(
            f"{box}",
            (float(ch["coverage"].iloc[0]), float(ch["density"].iloc[0])),
            xytext=(8, 4),
            textcoords="offset points",
            color=COST,
        )
    if len(traj):
        fig.colorbar(s, ax=ax, label="#")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(tr("decide.disc.x", lang))
    ax.set_ylabel(tr("decide.disc.y", lang))
    return fig


def draw_acceptability(rate: Any, over: Any, scenario_rate: Any, lang: str) -> Figure:
    fig = _figure(tr("decide.acc.title", lang), tr("decide.acc.sub", lang), width=10.0, height=4.4)
    ax, ax2 = fig.subplots(1, 2, sharey=True)
    ax.plot(rate["rate"], rate["prob_npv_positive"], color=BENEFIT, lw=2)
    if isinstance(scenario_rate, int | float) and math.isfinite(scenario_rate):
        ax.axvline(scenario_rate, color="#777777", ls=":", lw=0.9)
        ax.annotate(
            tr("decide.acc.scenario", lang),
            (scenario_rate, 0.02),
            xytext=(3, 0),
            textcoords="offset points",
            fontsize=8,
        )
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, p: format_pct(v, lang, 1)))
    ax.set_xlabel(tr("decide.acc.rate", lang))
    ax.set_ylabel(tr("decide.acc.y", lang))
    ax2.plot(over["overrun_factor"], over["prob_npv_positive"], color=COST, lw=2)
    ax2.axvline(1.0, color="#777777", ls=":", lw=0.9)
    ax2.set_xlabel(tr("decide.acc.factor", lang))
    for a in (ax, ax2):
        a.set_ylim(0, 1.02)
        a.axhline(0.5, color="#BBBBBB", lw=0.6)
        a.yaxis.set_major_formatter(FuncFormatter(lambda v, p: format_pct(v, lang)))
    return fig


KIND_CHARTS = {
    "voi": "decide_voi",
    "allocate": "decide_allocate",
    "discover": "decide_discover",
    "acceptability": "decide_acceptability",
}
"""Chart stem of each decision kind (also the figure kind in a report)."""


def build(kind: str, doc: dict[str, Any], tables: dict[str, Any], lang: str) -> Figure:
    """The chart of one decision run from its ``result.json`` document and tables."""
    with chart_style():
        if kind == "voi":
            return draw_voi(doc, tables["evppi"], lang)
        if kind == "allocate":
            return draw_allocate(doc, tables, lang)
        if kind == "discover":
            return draw_discover(tables["trajectory"], doc["condition"], lang)
        if kind == "acceptability":
            return draw_acceptability(
                tables["acceptability_discount"],
                tables["acceptability_overrun"],
                doc.get("scenario_rate"),
                lang,
            )
    raise ValueError(f"unknown decision kind {kind!r}")


def write_charts(
    kind: str, doc: dict[str, Any], tables: dict[str, Any], folder: Path, lang: str
) -> list[str]:
    """Draw and write the chart of a decision run (``chart_<kind>_<lang>.png/.svg``)."""
    fig = build(kind, doc, tables, lang)
    names = []
    for fmt in FORMATS:
        name = f"chart_{kind}_{lang}.{fmt}"
        atomic_write_bytes(folder / name, figure_bytes(fig, fmt))
        names.append(name)
    return names


# --- the "Deciding" section of a run's report and its workbook sheet ------------------------


def load_decisions(folders: Any) -> dict[str, dict[str, Any]]:
    """Decision run directories (``mkba voi/allocate/discover/acceptability``) by kind: their
    manifest, ``result.json`` and tables. The last folder of a kind wins.

    Raises :class:`~mkba.errors.InputError` for a folder that is not a decision run.
    """
    import json

    import pandas as pd

    from mkba.errors import InputError, Problem

    if folders is None:
        return {}
    if isinstance(folders, str | Path):
        folders = [folders]
    out: dict[str, dict[str, Any]] = {}
    problems = []
    for folder in map(Path, folders):
        man = folder / "manifest.json"
        res = folder / "result.json"
        try:
            manifest = json.loads(man.read_text(encoding="utf-8"))
            doc = json.loads(res.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            problems.append(
                Problem(str(folder), "--decide", "not a finished decision run directory")
            )
            continue
        kind = manifest.get("kind")
        if kind not in KIND_CHARTS:
            problems.append(
                Problem(
                    str(folder), "--decide", "not a voi/allocate/discover/acceptability run", kind
                )
            )
            continue
        tables = {}
        for stem in manifest.get("files", []):
            if stem.endswith(".parquet"):
                tables[stem.removesuffix(".parquet")] = pd.read_parquet(folder / stem)
        out[kind] = {"path": folder, "manifest": manifest, "doc": doc, "tables": tables}
    if problems:
        raise InputError(problems)
    return out


def render(decisions: dict[str, dict[str, Any]], lang: str) -> list[Any]:
    """The decision charts as :class:`mkba.report.charts.RenderedChart` objects."""
    from mkba.report.charts import RenderedChart

    out = []
    for kind, d in decisions.items():
        fig = build(kind, d["doc"], d["tables"], lang)
        out.append(RenderedChart(KIND_CHARTS[kind], {f: figure_bytes(fig, f) for f in FORMATS}))
    return out


def _e(x: Any, lang: str) -> str:
    from mkba.report.format import format_eur

    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    x = float(x)
    if abs(x) >= 1e9:
        return format_eur(x, lang, scale="bn", digits=2)
    if abs(x) >= 1e6:
        return format_eur(x, lang, scale="m", digits=1)
    return format_eur(x, lang)


def _p(x: Any, lang: str, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return format_pct(float(x), lang, digits)


def document_blocks(
    decisions: dict[str, dict[str, Any]], lang: str, charts: set[str], labels: Any = None
) -> list[Any]:
    """The blocks of the "Deciding" section (without its heading). ``labels``
    (:class:`mkba.report.labels.Labels`) names areas, domains, parameters and perspectives in
    the report's language; without it, ids are shown."""
    from mkba.report import document as docm

    def name(dim: str, key: str) -> str:
        if labels is None:
            return key
        return {"area": labels.area, "domain": labels.domain}[dim](key)

    def param(path: str) -> Any:
        if labels is None or "+" in path:
            return docm.Code(_short(path))
        words = labels.param(path)
        return words if words != path else docm.Code(_short(path))

    def output(text: str) -> str:
        head, _, tail = str(text).partition(".")
        if labels is None or tail != "npv":
            return str(text)
        return f"{labels.perspective(head)}, {tr('decide.npv', lang)}"

    blocks: list[Any] = [
        docm.Para(
            [
                tr(
                    "decide.sec.intro",
                    lang,
                    kinds=", ".join(tr(f"decide.sec.{k}", lang) for k in decisions),
                )
            ],
            "lead",
        )
    ]

    def fig(kind: str, d: dict[str, Any]) -> None:
        if KIND_CHARTS[kind] in charts:
            blocks.append(
                docm.Figure(
                    KIND_CHARTS[kind], tr("decide.sec.cap", lang, what=kind, folder=d["path"].name)
                )
            )

    if "voi" in decisions:
        d = decisions["voi"]
        doc = d["doc"]
        blocks.append(docm.Heading(tr("decide.sec.voi.h", lang), 3))
        opts = " / ".join(option_label(o["option"], lang) for o in doc["options"])
        blocks.append(
            docm.Para(
                [
                    tr(
                        "decide.sec.voi.p",
                        lang,
                        options=opts,
                        output=output(doc["output"]),
                        evpi=_e(doc["evpi"], lang),
                        se=_e(doc["evpi_se"], lang),
                    )
                ]
            )
        )
        rows = [
            [
                param(r["group"]),
                _e(r["evppi"], lang),
                _e(r["se"], lang),
                _p(r["share_of_evpi"], lang),
            ]
            for r in doc["evppi"][:8]
        ]
        blocks.append(
            docm.Table(
                [
                    tr("decide.sec.param", lang),
                    tr("decide.sec.evppi", lang),
                    tr("decide.sec.se", lang),
                    tr("decide.sec.share", lang),
                ],
                rows,
                "lrrr",
            )
        )
        fig("voi", d)
    if "allocate" in decisions:
        d = decisions["allocate"]
        doc = d["doc"]
        blocks.append(docm.Heading(tr("decide.sec.alloc.h", lang), 3))
        blocks.append(
            docm.Para(
                [
                    tr(
                        "decide.sec.alloc.p",
                        lang,
                        budget=_e(doc["budget"], lang),
                        objective=objective_label(doc["objective_label"], lang),
                        output=output(doc["output"]),
                        ref=_e(doc["scenario_allocation"]["npv_mean"], lang),
                        best=_e(doc["optimum"]["npv_mean"], lang),
                        beats=_p(doc["beats_scenario_allocation"], lang, 1),
                        shadow=format_number(doc["shadow_price"], lang, 3, sign=True),
                    )
                ]
            )
        )
        for dim in ("domain", "area"):
            rows = [
                [
                    name(dim, str(r[dim])),
                    _e(r["amount"], lang),
                    _p(r["share"], lang, 1),
                    format_number(r["marginal_npv_per_euro"], lang, 3, sign=True),
                ]
                for r in doc[f"by_{dim}"]
            ]
            blocks.append(
                docm.Table(
                    [
                        tr(f"decide.sec.{dim}", lang),
                        tr("decide.sec.amount", lang),
                        "%",
                        tr("decide.sec.marginal", lang),
                    ],
                    rows,
                    "lrrr",
                    kind="small",
                )
            )
        fig("allocate", d)
    if "discover" in decisions:
        d = decisions["discover"]
        doc = d["doc"]
        blocks.append(docm.Heading(tr("decide.sec.disc.h", lang), 3))
        for b in doc["boxes"][:2]:
            blocks.append(
                docm.Para(
                    [
                        tr(
                            "decide.sec.disc.p",
                            lang,
                            base=_p(doc["base_rate"], lang),
                            condition=str(doc["condition"]).replace(
                                str(doc["output"]), output(doc["output"]), 1
                            ),
                            box=b["box"],
                            coverage=_p(b["coverage"], lang),
                            density=_p(b["density"], lang),
                        )
                    ]
                )
            )
            rows = [
                [
                    param(r["parameter"]),
                    format_number(r["low"], lang, 3),
                    format_number(r["high"], lang, 3),
                    f"P{100 * r['low_quantile']:.0f}–P{100 * r['high_quantile']:.0f}",
                ]
                for r in b["limits"]
            ]
            blocks.append(
                docm.Table(
                    [
                        tr("decide.sec.param", lang),
                        tr("decide.sec.low", lang),
                        tr("decide.sec.high", lang),
                        tr("decide.sec.quant", lang),
                    ],
                    rows,
                    "lrrr",
                    kind="small",
                )
            )
        fig("discover", d)
    if "acceptability" in decisions:
        d = decisions["acceptability"]
        doc = d["doc"]
        ir = doc["irr"]
        blocks.append(docm.Heading(tr("decide.sec.acc.h", lang), 3))
        k = doc.get("overrun_at_even_odds")
        blocks.append(
            docm.Para(
                [
                    tr(
                        "decide.sec.acc.p",
                        lang,
                        p=_p(doc["prob_npv_positive"], lang),
                        output=output(doc["output"]),
                        rate=_p(doc.get("rate_at_even_odds"), lang, 2),
                        k="–" if k is None else format_number(k, lang, 2),
                        irr=", ".join(_p(ir[q], lang, 1) for q in ("p5", "p50", "p95")),
                    )
                ]
            )
        )
        fig("acceptability", d)
    return blocks


def workbook_rows(decisions: dict[str, dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """One row per figure of the decision runs: analysis, item, amount / share / value."""
    rows: list[dict[str, Any]] = []

    def add(kind: str, item: str, amount: Any = None, share: Any = None, value: Any = None) -> None:
        rows.append(
            {"analysis": kind, "item": item, "amount": amount, "share": share, "value": value}
        )

    if "voi" in decisions:
        doc = decisions["voi"]["doc"]
        add("voi", "EVPI", doc["evpi"])
        add("voi", tr("decide.wb.evpi_se", lang), doc["evpi_se"])
        for r in doc["evppi"]:
            add("voi", f"EVPPI {r['group']}", r["evppi"], r["share_of_evpi"])
    if "allocate" in decisions:
        doc = decisions["allocate"]["doc"]
        add("allocate", "budget", doc["budget"])
        add(
            "allocate",
            tr("decide.wb.best", lang),
            doc["optimum"]["npv_mean"],
            doc["optimum"]["prob_npv_positive"],
        )
        add(
            "allocate",
            tr("decide.wb.scenario_allocation", lang),
            doc["scenario_allocation"]["npv_mean"],
            doc["scenario_allocation"]["prob_npv_positive"],
        )
        add("allocate", tr("decide.wb.share_better", lang), None, doc["beats_scenario_allocation"])
        add("allocate", tr("decide.wb.shadow_price", lang), None, None, doc["shadow_price"])
        for dim in ("area", "domain"):
            for r in doc[f"by_{dim}"]:
                add(
                    "allocate",
                    tr(f"decide.wb.{dim}", lang, id=r[dim]),
                    r["amount"],
                    r["share"],
                    r["marginal_npv_per_euro"],
                )
        for r in doc["frontier"]:
            add(
                "allocate",
                tr("decide.wb.frontier", lang, factor=format_plain(r["budget_factor"], lang)),
                r["budget"],
                r["prob_npv_positive"],
                r["objective"],
            )
    if "discover" in decisions:
        doc = decisions["discover"]["doc"]
        for b in doc["boxes"]:
            add("discover", tr("decide.wb.coverage", lang, box=b["box"]), None, b["coverage"])
            add("discover", tr("decide.wb.density", lang, box=b["box"]), None, b["density"])
            for r in b["limits"]:
                for end, v in (("from", r["low"]), ("to", r["high"])):
                    item = tr(f"decide.wb.{end}", lang, box=b["box"], parameter=r["parameter"])
                    add("discover", item, None, None, v)
    if "acceptability" in decisions:
        doc = decisions["acceptability"]["doc"]
        add("acceptability", tr("decide.acc.y", lang), None, doc["prob_npv_positive"])
        for r in doc["discount"]:
            add(
                "acceptability",
                tr("decide.wb.rate", lang, rate=format_number(r["rate"], lang, 4)),
                None,
                r["prob_npv_positive"],
                r["rate"],
            )
        for r in doc["overrun"]:
            add(
                "acceptability",
                tr("decide.wb.overrun", lang, k=format_number(r["overrun_factor"], lang, 2)),
                r["npv_mean"],
                r["prob_npv_positive"],
                r["overrun_factor"],
            )
        for q in ("p5", "p50", "p95"):
            add("acceptability", f"IRR {q.upper()}", None, doc["irr"][q])
    return rows
