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
from mkba.report.format import choose_scale, format_number, format_pct, scale_label

WORDS: dict[str, tuple[str, str]] = {
    "voi.title": (
        "What is it worth to know more before deciding?",
        "Wat is meer kennis vooraf waard?",
    ),
    "voi.x": (
        "Expected value of partial perfect information ({unit}, price level {py})",
        "Verwachte waarde van gedeeltelijk perfecte informatie ({unit}, prijspeil {py})",
    ),
    "voi.evpi": ("EVPI (everything known): {v}", "EVPI (alles bekend): {v}"),
    "voi.sub": (
        "Top parameters; bars: estimate, whiskers: ±2 standard errors. Decision: {opts}.",
        "Belangrijkste parameters; staaf: schatting, lijn: ±2 standaardfouten. Keuze: {opts}.",
    ),
    "alloc.title": (
        "Budget against the best achievable result",
        "Budget tegen het best haalbare resultaat",
    ),
    "alloc.x": (
        "Total programme budget ({unit}, price level {py})",
        "Totaal programmabudget ({unit}, prijspeil {py})",
    ),
    "alloc.best": ("best allocation", "beste verdeling"),
    "alloc.ref": ("scenario's allocation, scaled", "verdeling van het scenario, geschaald"),
    "alloc.areas": ("Share of the budget per area", "Aandeel van het budget per gebied"),
    "alloc.sub": (
        "Objective: {obj}. Left: efficient frontier; right: shares at the chosen budget.",
        "Doel: {obj}. Links: efficiënte grens; rechts: aandelen bij het gekozen budget.",
    ),
    "alloc.opt": ("optimum", "optimum"),
    "alloc.scen": ("scenario", "scenario"),
    "disc.title": (
        "Where does the programme fail? Peeling trajectory (PRIM)",
        "Waar faalt het programma? Pelpad (PRIM)",
    ),
    "disc.x": (
        "Coverage (share of all draws of interest in the box)",
        "Dekking (aandeel van alle relevante trekkingen in de doos)",
    ),
    "disc.y": (
        "Density (share of the box's draws that are of interest)",
        "Dichtheid (aandeel relevante trekkingen in de doos)",
    ),
    "disc.sub": (
        "Draws of interest: {cond}. Colour: number of restricted parameters; ring: chosen box.",
        "Relevante trekkingen: {cond}. Kleur: aantal begrensde parameters; ring: gekozen doos.",
    ),
    "acc.title": (
        "Acceptability: how likely is a positive NPV?",
        "Aanvaardbaarheid: hoe waarschijnlijk is een positieve NCW?",
    ),
    "acc.rate": ("Discount rate", "Discontovoet"),
    "acc.factor": ("Cost overrun factor (costs × k)", "Kostenoverschrijdingsfactor (kosten × k)"),
    "acc.y": ("P(NPV > 0)", "P(NCW > 0)"),
    "acc.sub": (
        "Same draws at every point (common random numbers).",
        "Dezelfde trekkingen in elk punt (gemeenschappelijke toevalsgetallen).",
    ),
    "acc.scenario": ("scenario", "scenario"),
}


def w(key: str, lang: str, **kw: Any) -> str:
    en, nl = WORDS[key]
    return (nl if lang == "nl" else en).format(**kw)


def _figure(title: str, sub: str, width: float = 8.0, height: float = 5.2) -> Figure:
    """A figure with a bold title and a wrapped grey subtitle at the top left."""
    fig = Figure(figsize=(width, height), layout="constrained")
    lines = textwrap.wrap(sub, int(14 * width))
    fig.suptitle(title, x=0.01, ha="left", fontsize=12, fontweight="bold")
    fig.supxlabel("\n".join(lines), x=0.01, ha="left", fontsize=8, color="#555555")
    return fig


def option_label(option: str, lang: str) -> str:
    return "niets doen" if lang == "nl" and option == "do nothing" else option


def _short(path: str) -> str:
    if path.startswith("streams."):
        path = path.removeprefix("streams.").replace(".components.", ".", 1)
    return path


def draw_voi(res: Any, price_year: int, lang: str) -> Figure:
    t = res.table.head(15).iloc[::-1]
    sc = choose_scale([res.evpi, *t["evppi"]])
    div = {"bn": 1e9, "m": 1e6, "k": 1e3, "unit": 1.0}[sc]
    fig = _figure(
        w("voi.title", lang),
        w("voi.sub", lang, opts=" / ".join(option_label(o, lang) for o in res.options)),
        height=max(3.5, 0.32 * len(t) + 1.8),
    )
    ax = fig.add_subplot()
    y = np.arange(len(t))
    se = np.nan_to_num(t["se"].to_numpy(float))
    ax.barh(y, t["evppi"] / div, xerr=2 * se / div, color=BENEFIT, alpha=0.85, ecolor=NET)
    ax.set_yticks(y, [_short(g) for g in t["group"]], fontsize=8)
    ax.axvline(res.evpi / div, color=COST, lw=1.2, ls="--")
    ax.annotate(
        w("voi.evpi", lang, v=format_number(res.evpi / div, lang, 2) + " " + scale_label(sc, lang)),
        (res.evpi / div, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(-4, -12),
        textcoords="offset points",
        ha="right",
        fontsize=8,
        color=COST,
    )
    ax.set_xlabel(w("voi.x", lang, unit=scale_label(sc, lang), py=price_year))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, p: format_number(v, lang, 2)))
    return fig


def objective_label(label: str, lang: str) -> str:
    """``E[NPV]``, ``P(NPV > 0)``, ``P10 of NPV`` in the report's language."""
    if lang != "nl":
        return label
    return label.replace(" of NPV", " van de NCW").replace("NPV", "NCW")


def draw_allocate(res: Any, price_year: int, lang: str) -> Figure:
    f = res.frontier
    sc = choose_scale([*list(f["budget"]), res.budget])
    div = {"bn": 1e9, "m": 1e6, "k": 1e3, "unit": 1.0}[sc]
    kind = res.objective.kind
    fig = _figure(
        w("alloc.title", lang),
        w("alloc.sub", lang, obj=objective_label(res.objective.label, lang)),
        width=10.0,
    )
    ax, ax2 = fig.subplots(1, 2, width_ratios=[1.1, 1.0])
    if kind == "prob":
        yv, yr, fmt = f["objective"], f["reference_objective"], (lambda v, p: format_pct(v, lang))
        ax.set_ylabel(w("acc.y", lang))
    else:
        ys = choose_scale(list(f["objective"]) + list(f["reference_objective"]))
        yd = {"bn": 1e9, "m": 1e6, "k": 1e3, "unit": 1.0}[ys]
        yv, yr = f["objective"] / yd, f["reference_objective"] / yd
        fmt = lambda v, p: format_number(v, lang, 2)  # noqa: E731
        ax.set_ylabel(
            f"{objective_label(res.objective.label, lang)} ({scale_label(ys, lang)}, {price_year})"
        )
    ax.plot(f["budget"] / div, yv, color=BENEFIT, marker="o", lw=2, label=w("alloc.best", lang))
    ax.plot(f["budget"] / div, yr, color=NET, marker="s", lw=1, ls="--", label=w("alloc.ref", lang))
    ax.axvline(res.budget / div, color="#777777", lw=0.8, ls=":")
    ax.axhline(0, color="#444444", lw=0.6)
    ax.yaxis.set_major_formatter(FuncFormatter(fmt))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, p: format_number(v, lang, 1)))
    ax.set_xlabel(w("alloc.x", lang, unit=scale_label(sc, lang), py=price_year))
    ax.legend(loc="best", fontsize=8)
    a = res.by_area
    ref_share = (
        res.cells.groupby("area", sort=False)["scenario_amount"].sum()
        if "area" in res.cells
        else None
    )
    y = np.arange(len(a))[::-1]
    ax2.barh(y + 0.2, a["share"], height=0.4, color=BENEFIT, label=w("alloc.opt", lang))
    if ref_share is not None:
        rs = ref_share.reindex(a["area"]).to_numpy() / res.scenario_budget
        ax2.barh(y - 0.2, rs, height=0.4, color="#BBBBBB", label=w("alloc.scen", lang))
    ax2.set_yticks(y, list(a["area"]), fontsize=7.5)
    ax2.xaxis.set_major_formatter(FuncFormatter(lambda v, p: format_pct(v, lang)))
    ax2.set_title(w("alloc.areas", lang), fontsize=9, loc="left")
    ax2.legend(loc="lower right", fontsize=8)
    return fig


def draw_discover(traj: Any, condition: str, lang: str) -> Figure:
    fig = _figure(w("disc.title", lang), w("disc.sub", lang, cond=condition))
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
    ax.set_xlabel(w("disc.x", lang))
    ax.set_ylabel(w("disc.y", lang))
    return fig


def draw_acceptability(rate: Any, over: Any, scenario_rate: Any, lang: str) -> Figure:
    fig = _figure(w("acc.title", lang), w("acc.sub", lang), width=10.0, height=4.4)
    ax, ax2 = fig.subplots(1, 2, sharey=True)
    ax.plot(rate["rate"], rate["prob_npv_positive"], color=BENEFIT, lw=2)
    if isinstance(scenario_rate, int | float) and math.isfinite(scenario_rate):
        ax.axvline(scenario_rate, color="#777777", ls=":", lw=0.9)
        ax.annotate(
            w("acc.scenario", lang),
            (scenario_rate, 0.02),
            xytext=(3, 0),
            textcoords="offset points",
            fontsize=8,
        )
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, p: format_pct(v, lang, 1)))
    ax.set_xlabel(w("acc.rate", lang))
    ax.set_ylabel(w("acc.y", lang))
    ax2.plot(over["overrun_factor"], over["prob_npv_positive"], color=COST, lw=2)
    ax2.axvline(1.0, color="#777777", ls=":", lw=0.9)
    ax2.set_xlabel(w("acc.factor", lang))
    for a in (ax, ax2):
        a.set_ylim(0, 1.02)
        a.axhline(0.5, color="#BBBBBB", lw=0.6)
        a.yaxis.set_major_formatter(FuncFormatter(lambda v, p: format_pct(v, lang)))
    return fig


def build(kind: str, data: dict[str, Any], lang: str) -> dict[str, Figure]:
    """The charts of one decision run, by file stem."""
    with chart_style():
        if kind == "voi":
            return {"voi": draw_voi(data["evppi"], data["price_year"], lang)}
        if kind == "allocate":
            return {"frontier": draw_allocate(data["allocate"], data["price_year"], lang)}
        if kind == "discover":
            return {"prim": draw_discover(data["trajectory"], data["condition"], lang)}
        if kind == "acceptability":
            return {
                "acceptability": draw_acceptability(
                    data["discount"], data["overrun"], data.get("scenario_rate"), lang
                )
            }
    raise ValueError(f"unknown decision kind {kind!r}")


def write_charts(kind: str, data: dict[str, Any], folder: Path, lang: str) -> list[str]:
    """Draw and write the charts of a decision run (``chart_<stem>_<lang>.png/.svg``)."""
    names = []
    for stem, fig in build(kind, data, lang).items():
        for fmt in FORMATS:
            name = f"chart_{stem}_{lang}.{fmt}"
            atomic_write_bytes(folder / name, figure_bytes(fig, fmt))
            names.append(name)
    return names
