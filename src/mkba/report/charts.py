"""Charts of a run (matplotlib, one shipped style, PNG and SVG, same run -> same bytes).

Each chart kind has a data function (:mod:`mkba.report.data`, checked by the tests) and a
draw function here that takes only that data and a :class:`ChartContext` (language, units,
price year, the run's identity for the footer). Figures are built with
:class:`matplotlib.figure.Figure` directly, never through pyplot: no global state, no GUI
backend, safe to call from any thread.

Determinism: the style (``mkba.mplstyle``) fixes the font to DejaVu Sans (shipped with
matplotlib), draws SVG text as paths and salts SVG ids with a constant; :func:`figure_bytes`
leaves out dates and software versions from the file metadata.

Kinds (``mkba chart --kind``): summary, waterfall, stakeholders, areas, cashflow, fan, npv,
drivers, and with a sensitivity run tornado and discount, with a batch variants.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.style
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator

from mkba.output import atomic_write_bytes
from mkba.report import data as rd
from mkba.report.format import (
    SCALES,
    choose_scale,
    format_eur,
    format_int,
    format_number,
    format_pct,
    format_plain,
    format_ratio,
    format_year,
    scale_label,
    table_scale,
    tick_formatter,
)
from mkba.report.labels import Labels
from mkba.texts import text as tr

FORMATS = ("png", "svg")

COST = "#D55E00"  # vermillion
BENEFIT = "#0072B2"  # blue
NET = "#222222"
BAND = "#0072B2"
NEGATIVE = "#D55E00"
STREAM_PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#8C6D31",
    "#6A3D9A",
    "#F0E442",
    "#999999",
    "#1B9E77",
)
"""Colours of streams, in the parameter set's order: a stream has one colour in every chart."""


def style_path() -> Path:
    """The shipped style file ``mkba/report/mkba.mplstyle``."""
    return Path(str(resources.files("mkba.report").joinpath("mkba.mplstyle")))


@contextmanager
def chart_style() -> Iterator[None]:
    """Matplotlib settings of mkba charts, for building and saving a figure: matplotlib's
    defaults and the shipped style, whatever the caller's rcParams."""
    with mpl.rc_context(), matplotlib.style.context(["default", str(style_path())]):
        yield


@dataclass
class ChartContext:
    """What a chart needs besides its data: words, units and the run's identity."""

    lang: str
    labels: Labels
    price_year: int
    base_year: int
    horizon: int
    perspective: str
    draws: int
    seed: int
    run_id: str
    version: str
    scale: str = "bn"
    stream_order: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def t(self, key: str, **kw: object) -> str:
        return self.labels.t(key, **kw)

    def footer(self) -> str:
        return self.t(
            "footer",
            version=self.version,
            run_id=self.run_id,
            draws=format_int(self.draws, self.lang),
            seed=self.seed,
            perspective=self.labels.perspective(self.perspective),
        )

    def money_axis(self, kind: str = "pv", scale: str | None = None, axis: str = "y") -> str:
        """Unit, price year and discounting of a money axis; two lines on a y axis."""
        unit = scale_label(scale or self.scale, self.lang)
        text = self.t(
            f"axis.{kind}", unit=unit, price_year=self.price_year, base_year=self.base_year
        )
        return text if axis == "y" else text.replace("\n", ", ")

    def stream_color(self, stream: str) -> str:
        order = list(self.stream_order)
        if stream not in order:
            order.append(stream)
            self.stream_order = tuple(order)
        return STREAM_PALETTE[order.index(stream) % len(STREAM_PALETTE)]

    @staticmethod
    def from_run(run: rd.RunData, lang: str) -> ChartContext:
        import mkba

        s = run.summary
        labels = run.labels(lang)
        if run.inputs is not None:
            order = tuple(run.inputs.stream_order)
        else:
            order = tuple(s.get("by_stream", {}))
        return ChartContext(
            lang=labels.lang,
            labels=labels,
            price_year=int(s["price_year"]),
            base_year=int(s["base_year"]),
            horizon=int(s["horizon"]),
            perspective=str(s["perspective"]),
            draws=int(s["draws"]),
            seed=int(s["seed"]),
            run_id=str(run.manifest.get("run_id", s.get("run_id", ""))),
            version=str(run.manifest.get("versions", {}).get("mkba", mkba.__version__)),
            scale=choose_scale(rd.money_scale_values(run)),
            stream_order=order,
        )


# --- helpers -----------------------------------------------------------------------------


HEAD_IN = 0.40  # height of the title band [in]
LINE_IN = 0.19  # one line of subtitle [in]
FOOT_IN = 0.26  # footer band [in]


def _figure(ctx: ChartContext, title: str, height: float = 4.6, width: float = 8.0) -> Figure:
    """A figure with the title at the top left and the run's footer at the bottom.

    ``height`` is that of the plot area; title, subtitle and footer bands are added.
    """
    height = height + HEAD_IN + LINE_IN + FOOT_IN
    fig = Figure(figsize=(width, height), layout="constrained")
    fig.text(0.012, 1 - 0.10 / height, title, ha="left", va="top", fontsize=12.5, weight="bold")
    fig.text(0.012, 0.08 / height, ctx.footer(), fontsize=7, color="#777777", ha="left")
    _set_rect(fig, 0)
    return fig


def _set_rect(fig: Figure, sub_lines: int) -> None:
    _w, h = fig.get_size_inches()
    top = (HEAD_IN + sub_lines * LINE_IN + 0.04) / h
    foot = FOOT_IN / h
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.set(rect=(0.0, foot, 1.0, 1.0 - foot - top), h_pad=0.05, w_pad=0.06)  # type: ignore[call-arg]  # the figure's layout engine takes these; LayoutEngine.set is typed without them


def _subtitle(ax: Any, text: str) -> None:
    """The line under the title (perspective, units, what is shown), at the figure's left."""
    fig = ax.get_figure(root=True)
    w, h = fig.get_size_inches()
    lines = textwrap.wrap(text, int(15 * w))
    fig.text(
        0.012,
        1 - HEAD_IN / h,
        "\n".join(lines),
        ha="left",
        va="top",
        fontsize=8.8,
        color="#555555",
        linespacing=1.3,
    )
    _set_rect(fig, len(lines))


def _panel_title(ax: Any, text: str) -> None:
    ax.set_title(text, loc="left", fontsize=8.8, fontweight="bold", color="#333333", pad=6)


def _years(axis: Any, years: Any) -> None:
    span = int(max(years) - min(years)) if len(years) else 0
    if span > 12:
        axis.set_major_locator(MultipleLocator(5))
        axis.set_minor_locator(MultipleLocator(1))
    else:
        axis.set_major_locator(MaxNLocator(integer=True))


def _money_ticks(axis: Any, scale: str, lang: str) -> None:
    axis.set_major_formatter(FuncFormatter(tick_formatter(scale, lang)))


def _digits(scale: str) -> int:
    return {"bn": 2, "m": 1, "k": 1, "unit": 0}[scale]


def _num(x: float, scale: str, lang: str, sign: bool = False) -> str:
    return format_number(x / SCALES[scale], lang, _digits(scale), sign=sign)


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width, break_long_words=False)) or text


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """The figure as PNG or SVG bytes, without dates or versions (same figure, same bytes)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    buf = io.BytesIO()
    with chart_style():
        if fmt == "svg":
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "mkba"})
        else:
            fig.savefig(buf, format="png", metadata={"Software": "mkba"})
    return buf.getvalue()


# --- summary table -------------------------------------------------------------------------


def draw_summary(cd: rd.ChartData, ctx: ChartContext) -> Figure:
    """Summary table of costs and benefits: mean, P50, P5-P95; PM items listed."""
    f = cd.frame
    lang = ctx.lang
    mf = f[f["kind"].isin(["cost", "benefit", "total", "npv"])]
    sc, d = table_scale([v for c in ("mean", "p50", "p5", "p95") for v in mf[c]])
    unit = scale_label(sc, lang)
    sections: list[tuple[str, str, list[str], dict[str, Any]]] = []
    # (kind of line, label, [mean, p50, range], style)

    def money(r: Any) -> list[str]:
        return [
            format_number(r["mean"] / SCALES[sc], lang, d),
            format_number(r["p50"] / SCALES[sc], lang, d),
            format_number(r["p5"] / SCALES[sc], lang, d)
            + "\u2013"
            + format_number(r["p95"] / SCALES[sc], lang, d),
        ]

    sections.append(("head", ctx.t("costs"), [], {}))
    for _, r in f[f["kind"] == "cost"].iterrows():
        sections.append(("row", r["label"], money(r), {}))
    sections.append(("head", ctx.t("benefits"), [], {}))
    for _, r in f[f["kind"] == "benefit"].iterrows():
        sections.append(("row", r["label"], money(r), {"stream": r["key"]}))
    for _, r in f[f["kind"] == "total"].iterrows():
        sections.append(("total", r["label"], money(r), {}))
    for _, r in f[f["kind"] == "npv"].iterrows():
        sections.append(("total", r["label"], money(r), {}))
    for _, r in f[f["kind"] == "bcr"].iterrows():
        sections.append(
            (
                "row",
                r["label"],
                [
                    format_ratio(r["mean"], lang),
                    format_ratio(r["p50"], lang),
                    format_ratio(r["p5"], lang) + "\u2013" + format_ratio(r["p95"], lang),
                ],
                {},
            )
        )
    for _, r in f[f["kind"] == "prob"].iterrows():
        sections.append(("row", r["label"], [format_pct(r["mean"], lang), "", ""], {}))
    pm = f[f["kind"] == "pm"]
    if len(pm):
        sections.append(("head", f"{ctx.t('pm.long').capitalize()}", [], {}))
        for _, r in pm.iterrows():
            text = cd.meta.get("pm", {}).get(r["key"], "PM")
            sections.append(("row", r["label"], [text, "", ""], {"pm": True}))

    n = len(sections)
    row_h = 0.24
    fig = _figure(ctx, ctx.t("chart.summary"), height=0.55 + row_h * n)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(n + 0.8, -1.1)
    _subtitle(
        ax,
        f"{ctx.labels.perspective(ctx.perspective).capitalize()} · "
        + ctx.money_axis("pv", axis="x"),
    )
    cols = (0.64, 0.80, 1.0)
    heads = (ctx.t("mean"), ctx.t("median"), ctx.t("interval90"))
    for x, h in zip(cols, heads, strict=True):
        ax.text(x, -0.6, h, ha="right", va="center", fontweight="bold", fontsize=8.8)
    ax.text(0.0, -0.6, unit, ha="left", va="center", fontweight="bold", fontsize=8.8)
    ax.plot([0, 1], [-0.15, -0.15], color="#444444", lw=0.9)
    for i, (kind, label, vals, st) in enumerate(sections):
        y = i + 0.4
        if kind == "head":
            ax.text(0.0, y, label, ha="left", va="center", fontweight="bold", color="#222222")
            continue
        if kind == "gap":
            continue
        weight = "bold" if kind == "total" else "normal"
        if kind == "total":
            ax.plot([0, 1], [y - 0.5, y - 0.5], color="#888888", lw=0.6)
        x0 = 0.025
        if "stream" in st:
            ax.add_patch(
                Rectangle((0.02, y - 0.22), 0.012, 0.44, color=ctx.stream_color(st["stream"]), lw=0)
            )
            x0 = 0.042
        color = "#777777" if st.get("pm") else "#222222"
        ax.text(x0, y, label, ha="left", va="center", fontweight=weight, color=color)
        for x, v in zip(cols, vals, strict=True):
            ax.text(x, y, v, ha="right", va="center", fontweight=weight, color=color)
    ax.plot([0, 1], [n, n], color="#444444", lw=0.9)
    ax.text(
        0.0, n + 0.1, ctx.t("note.mean_adds"), ha="left", va="top", fontsize=7.8, color="#555555"
    )
    return fig


# --- waterfall ---------------------------------------------------------------------------------


def draw_waterfall(cd: rd.ChartData, ctx: ChartContext) -> Figure:
    """Horizontal waterfall: minus the costs, each stream's benefits, the NPV (means)."""
    f = cd.frame
    sc = ctx.scale
    n = len(f)
    fig = _figure(ctx, ctx.t("chart.waterfall"), height=1.6 + 0.36 * n)
    ax = fig.add_subplot()
    y = np.arange(n)
    colors = []
    for _, r in f.iterrows():
        if r["kind"] == "cost":
            colors.append(COST)
        elif r["kind"] == "total":
            colors.append(NET if r["delta"] >= 0 else NEGATIVE)
        else:
            colors.append(ctx.stream_color(r["key"]))
    lefts = np.minimum(f["start"], f["end"]).to_numpy()
    widths = (f["end"] - f["start"]).abs().to_numpy()
    ax.barh(y, widths, left=lefts, color=colors, height=0.62)
    for i in range(n - 2):  # connectors between consecutive steps
        ax.plot(
            [f["end"].iloc[i]] * 2, [i + 0.31, i + 0.69], color="#888888", lw=0.7, ls=(0, (2, 2))
        )
    span = float(max(f[["start", "end"]].abs().to_numpy().max(), 1.0))
    for i, r in f.iterrows():
        text = _num(r["delta"], sc, ctx.lang, sign=r["kind"] == "benefit")
        x = max(r["start"], r["end"])
        ax.text(x + 0.012 * span, i, text, va="center", ha="left", fontsize=8.5, color="#222222")
    ax.axvline(0, color="#444444", lw=0.8)
    ax.set_yticks(y, [_wrap(str(s), 34) for s in f["label"]])
    ax.invert_yaxis()
    ax.grid(axis="x")
    ax.grid(axis="y", visible=False)
    lo = min(0.0, float(f[["start", "end"]].min().min()))
    hi = max(0.0, float(f[["start", "end"]].max().max()))
    ax.set_xlim(lo - 0.04 * span, hi + 0.16 * span)
    _money_ticks(ax.xaxis, sc, ctx.lang)
    ax.set_xlabel(ctx.money_axis("pv", axis="x"))
    _subtitle(
        ax,
        f"{ctx.labels.perspective(ctx.perspective).capitalize()} · "
        + ctx.t("note.waterfall", draws=format_int(ctx.draws, ctx.lang)),
    )
    return fig


# --- stakeholders ------------------------------------------------------------------------------


def draw_stakeholders(cd: rd.ChartData, ctx: ChartContext) -> Figure:
    """Stacked bars per stakeholder: gains above zero, payments and losses below, net marker."""
    f = cd.frame
    order: list[str] = list(cd.meta.get("order") or dict.fromkeys(f["stakeholder"]))
    sc = choose_scale(
        [f[f["stakeholder"] == k]["value"].clip(lower=0).sum() for k in order]
        + [f[f["stakeholder"] == k]["value"].clip(upper=0).sum() for k in order]
    )
    fig = _figure(ctx, ctx.t("chart.stakeholders"), height=5.6)
    ax = fig.add_subplot()
    x = np.arange(len(order))
    pos = np.zeros(len(order))
    neg = np.zeros(len(order))
    parts = list(dict.fromkeys(f["part"]))
    parts.sort(key=lambda p: (p == "programme_costs", _stream_rank(ctx, p)))
    handles: dict[str, Any] = {}
    hatched = False
    for part in parts:
        for sign in ("gain", "loss"):
            sub = f[(f["part"] == part) & (f["sign"] == sign)]
            if sub.empty:
                continue
            vals = np.array([sub[sub["stakeholder"] == k]["value"].sum() for k in order])
            if part == "programme_costs":
                color, hatch = COST, None
            elif part in ("benefits", "costs"):
                color, hatch = (BENEFIT if sign == "gain" else COST), None
            else:
                color, hatch = ctx.stream_color(part), ("////" if sign == "loss" else None)
            base = pos if sign == "gain" else neg
            ax.bar(
                x,
                vals,
                bottom=base,
                width=0.62,
                color=color,
                hatch=hatch,
                edgecolor="white" if hatch else None,
                linewidth=0,
            )
            if sign == "gain":
                pos = pos + vals
            else:
                neg = neg + vals
                hatched = hatched or hatch is not None
            label = sub["part_label"].iloc[0]
            if label not in handles:
                handles[label] = Patch(facecolor=color, label=label)
    net = np.array([cd.meta["net"].get(k, math.nan) for k in order])
    ax.scatter(x, net, marker="D", s=34, color=NET, zorder=5, label=ctx.t("net_marker"))
    span = max(float(pos.max(initial=0) - neg.min(initial=0)), 1.0)
    for i, v in enumerate(net):
        ax.annotate(
            _num(v, sc, ctx.lang),
            (x[i], v),
            xytext=(9, 0),
            textcoords="offset points",
            va="center",
            ha="left",
            fontsize=8.2,
            fontweight="bold",
            color=NET,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
        )
    ax.axhline(0, color="#444444", lw=0.8)
    public = cd.meta.get("public", {})
    names = []
    for k in order:
        name = _wrap(ctx.labels.stakeholder(k), 15)
        if k in public:
            name += f"\n({ctx.t('public') if public[k] else ctx.t('private')})"
        names.append(name)
    ax.set_xticks(x, names, fontsize=8.3)
    ax.set_ylim(neg.min(initial=0) - 0.06 * span, pos.max(initial=0) + 0.08 * span)
    _money_ticks(ax.yaxis, sc, ctx.lang)
    ax.set_ylabel(ctx.money_axis("pv", sc))
    legend = list(handles.values())
    if hatched:
        legend.append(
            Patch(
                facecolor="#BBBBBB",
                hatch="////",
                edgecolor="white",
                label=tr("chart.transfer_paid_loss", ctx.lang),
            )
        )
    legend.append(
        Line2D([], [], marker="D", color=NET, lw=0, markersize=6, label=ctx.t("net_marker"))
    )
    ax.legend(
        handles=legend,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16 if public else -0.08),
        ncols=3,
        fontsize=8,
    )
    _subtitle(
        ax,
        tr("chart.means_every_effect_and_every", ctx.lang),
    )
    return fig


def _stream_rank(ctx: ChartContext, part: str) -> int:
    order = list(ctx.stream_order)
    return order.index(part) if part in order else len(order)


# --- areas -------------------------------------------------------------------------------------


def draw_areas(cd: rd.ChartData, ctx: ChartContext) -> Figure:
    """Per area: benefits (right), costs (left), NPV with its P5-P95 range."""
    f = cd.frame
    n = len(f)
    sc = choose_scale(list(f["benefits"]) + list(f["costs"]) + list(f["npv_p95"]))
    fig = _figure(ctx, ctx.t("chart.areas"), height=1.7 + 0.3 * max(n, 2))
    ax = fig.add_subplot()
    y = np.arange(n)
    ax.barh(y, f["benefits"], color=BENEFIT, height=0.62, label=ctx.t("benefits"), alpha=0.85)
    ax.barh(y, -f["costs"], color=COST, height=0.62, label=ctx.t("costs"), alpha=0.85)
    ax.hlines(y, f["npv_p5"], f["npv_p95"], color=NET, lw=1.0, label=ctx.t("band.p5_p95"))
    ax.scatter(f["npv"], y, marker="D", s=26, color=NET, zorder=5, label=ctx.t("npv.short"))
    ax.axvline(0, color="#444444", lw=0.8)
    ax.set_yticks(y, list(f["label"]))
    ax.invert_yaxis()
    ax.grid(axis="x")
    ax.grid(axis="y", visible=False)
    _money_ticks(ax.xaxis, sc, ctx.lang)
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda v, p: tick_formatter(sc, ctx.lang)(abs(v), p))
    )
    ax.set_xlabel(ctx.money_axis("pv", sc, axis="x"))
    ax.legend(loc="lower right", ncols=4, fontsize=8)
    _subtitle(
        ax,
        f"{ctx.labels.perspective(ctx.perspective).capitalize()} · "
        + (tr("chart.costs_to_the_left_benefits_to", ctx.lang)),
    )
    return fig


# --- cash flow and fan -------------------------------------------------------------------------


def draw_cashflow(cd: rd.ChartData, ctx: ChartContext) -> Figure:
    """Cumulative discounted net cash flow: median, P10-P90 band, payback year."""
    f = cd.frame
    sc = choose_scale(list(f["p10"]) + list(f["p90"]))
    fig = _figure(ctx, ctx.t("chart.cashflow"))
    ax = fig.add_subplot()
    yr = f["year"].to_numpy()
    ax.fill_between(
        yr, f["p10"], f["p90"], color=BAND, alpha=0.18, lw=0, label=ctx.t("band.p10_p90")
    )
    ax.plot(yr, f["p50"], color=BAND, lw=2.0, label=ctx.t("median"))
    ax.axhline(0, color="#444444", lw=0.8)
    pb = cd.meta.get("payback_p50", math.nan)
    if pb is not None and not math.isnan(pb):
        ax.axvline(pb, color=NET, lw=1.0, ls=(0, (4, 3)))
        ax.annotate(
            ctx.t("payback.line", year=format_year(pb)),
            (pb, 0),
            xytext=(5, 8),
            textcoords="offset points",
            fontsize=8.5,
            color=NET,
        )
    never = cd.meta.get("never_share", 0.0) or 0.0
    if never > 0:
        ax.text(
            0.99,
            0.03,
            ctx.t("payback.never", horizon=ctx.horizon, share=format_pct(never, ctx.lang, 1)),
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8,
            color="#555555",
        )
    ax.set_xlim(yr.min(), yr.max())
    _years(ax.xaxis, yr)
    _money_ticks(ax.yaxis, sc, ctx.lang)
    ax.set_ylabel(ctx.money_axis("cum_disc", sc))
    ax.legend(loc="upper left")
    _subtitle(ax, ctx.labels.perspective(ctx.perspective).capitalize())
    return fig


def draw_fan(cd: rd.ChartData, ctx: ChartContext) -> Figure:
    """Fan chart of yearly net benefits (real, undiscounted): P5-P95, P20-P80, P35-P65, median."""
    f = cd.frame
    sc = choose_scale(list(f["p5"]) + list(f["p95"]))
    fig = _figure(ctx, ctx.t("chart.fan"))
    ax = fig.add_subplot()
    yr = f["year"].to_numpy()
    for lo, hi, alpha, key in (
        ("p5", "p95", 0.14, "band.p5_p95"),
        ("p20", "p80", 0.24, "band.p20_p80"),
        ("p35", "p65", 0.36, "band.p35_p65"),
    ):
        ax.fill_between(yr, f[lo], f[hi], color=BAND, alpha=alpha, lw=0, label=ctx.t(key))
    ax.plot(yr, f["p50"], color="#003F66", lw=1.8, label=ctx.t("median"))
    ax.axhline(0, color="#444444", lw=0.8)
    ax.set_xlim(yr.min(), yr.max())
    _years(ax.xaxis, yr)
    _money_ticks(ax.yaxis, sc, ctx.lang)
    ax.set_ylabel(ctx.money_axis("flow_real", sc))
    ax.legend(loc="upper left", ncols=2)
    _subtitle(
        ax,
        f"{ctx.labels.perspective(ctx.perspective).capitalize()} · "
        + (tr("chart.benefits_minus_costs_per_year_to", ctx.lang, horizon=ctx.horizon)),
    )
    return fig


# --- NPV distribution --------------------------------------------------------------------------


def draw_npv(cd: rd.ChartData, ctx: ChartContext) -> Figure:
    """Histogram of the NPV with its cumulative distribution and P(NPV > 0)."""
    f = cd.frame
    m = cd.meta
    sc = choose_scale([f["bin_left"].min(), f["bin_right"].max()])
    fig = _figure(ctx, ctx.t("chart.npv"))
    ax = fig.add_subplot()
    left = f["bin_left"].to_numpy()
    width = (f["bin_right"] - f["bin_left"]).to_numpy()
    mid = left + width / 2
    colors = np.where(mid > 0, BENEFIT, COST)
    ax.bar(left, f["share"], width=width, align="edge", color=colors, alpha=0.75, lw=0)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, p: format_pct(v, ctx.lang)))
    ax.set_ylabel(ctx.t("axis.density"))
    ax2 = ax.twinx()
    ax2.plot(f["bin_right"], f["cdf"], color=NET, lw=1.5)
    ax2.set_ylim(0, 1.02)
    ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, p: format_pct(v, ctx.lang)))
    ax2.set_ylabel(ctx.t("axis.cdf"))
    ax2.spines["right"].set_visible(True)
    ax2.grid(False)
    ax.axvline(0, color="#444444", lw=1.0)
    for q, ls in (("p5", ":"), ("p50", "--"), ("p95", ":")):
        v = m.get(q)
        if v is not None and not math.isnan(v):
            ax.axvline(v, color="#666666", lw=0.8, ls=ls)
            ax.annotate(
                q.upper(),
                (v, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(2, -10),
                textcoords="offset points",
                fontsize=7.5,
                color="#555555",
            )
    ax.text(
        0.985,
        0.80,
        ctx.t("prob_positive.text", p=format_pct(m.get("prob_positive"), ctx.lang)),
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=10,
        fontweight="bold",
        color=NET,
        bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "#BBBBBB", "lw": 0.6},
        zorder=6,
    )
    _money_ticks(ax.xaxis, sc, ctx.lang)
    ax.set_xlabel(ctx.money_axis("pv", sc, axis="x"))
    ax.legend(
        handles=[
            Patch(facecolor=BENEFIT, alpha=0.75, label=ctx.t("histogram")),
            Line2D([], [], color=NET, lw=1.5, label=ctx.t("cdf")),
        ],
        loc="upper right",
        bbox_to_anchor=(1.0, 0.70),
    )
    _subtitle(
        ax,
        f"{ctx.labels.perspective(ctx.perspective).capitalize()} · "
        + (tr("chart.draws", ctx.lang, n=format_int(m.get("draws", ctx.draws), ctx.lang))),
    )
    return fig


# --- what drives the result --------------------------------------------------------------------


def draw_drivers(cd: rd.ChartData, ctx: ChartContext) -> Figure:
    """Rank correlation of each sampled parameter with the NPV, strongest first."""
    f = cd.frame
    n = max(len(f), 1)
    fig = _figure(ctx, ctx.t("chart.drivers"), height=1.7 + 0.3 * n)
    ax = fig.add_subplot()
    y = np.arange(len(f))
    colors = [BENEFIT if r >= 0 else COST for r in f["rho"]]
    ax.barh(y, f["rho"], color=colors, height=0.62)
    for i, r in enumerate(f["rho"]):
        ax.text(
            r + (0.01 if r >= 0 else -0.01),
            i,
            format_number(r, ctx.lang, 2),
            va="center",
            ha="left" if r >= 0 else "right",
            fontsize=8,
        )
    ax.set_yticks(y, [_wrap(str(s), 60) for s in f["label"]], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="#444444", lw=0.8)
    lim = max(0.1, float(f["rho"].abs().max()) if len(f) else 0.1) * 1.2
    ax.set_xlim(-lim, lim)
    ax.grid(axis="x")
    ax.grid(axis="y", visible=False)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, p: format_number(v, ctx.lang, 1)))
    ax.set_xlabel(ctx.t("axis.rank_corr"))
    _subtitle(
        ax,
        (
            tr(
                "chart.drivers.sub",
                ctx.lang,
                n=format_int(cd.meta.get("draws", ctx.draws), ctx.lang),
            )
        ),
    )
    return fig


def draw_tornado(cd: rd.ChartData, ctx: ChartContext) -> Figure:
    """Tornado bars around the base output, widest swing first; switching values on the right."""
    f = cd.frame
    n = max(len(f), 1)
    base = float(cd.meta.get("base_output", math.nan))
    vals = list(f["output_low"]) + list(f["output_high"]) + [base]
    sc = choose_scale(vals)
    fig = _figure(ctx, ctx.t("chart.tornado"), height=1.8 + 0.34 * n, width=8.6)
    ax = fig.add_subplot()
    y = np.arange(len(f))
    lo = f["output_low"].to_numpy(dtype=float)
    hi = f["output_high"].to_numpy(dtype=float)
    ax.barh(y, lo - base, left=base, color="#56B4E9", height=0.6, label=ctx.t("tornado.low"))
    ax.barh(y, hi - base, left=base, color="#0072B2", height=0.6, label=ctx.t("tornado.high"))
    ax.axvline(base, color=NET, lw=1.0)
    xmin, xmax = float(np.nanmin(vals)), float(np.nanmax(vals))
    if xmin <= 0 <= xmax:
        ax.axvline(0, color=COST, lw=0.9, ls="--")
    labels = []
    for _, r in f.iterrows():
        text = str(r["label"])
        low, high = _float(r["low"]), _float(r["high"])
        if not (math.isnan(low) or math.isnan(high)):
            text += f" ({format_plain(low, ctx.lang)}\u2013{format_plain(high, ctx.lang)})"
        text = _wrap(text, 52)
        sv = r.get("switching_value") if "switching_value" in f.columns else None
        if sv is not None and not (isinstance(sv, float) and math.isnan(sv)):
            text += "\n" + ctx.t(
                "switching.short",
                value=format_plain(sv, ctx.lang),
                ratio=format_number(r["ratio"], ctx.lang, 2),
            )
        labels.append(text)
    ax.set_yticks(y, labels, fontsize=7.8)
    ax.invert_yaxis()
    ax.grid(axis="x")
    ax.grid(axis="y", visible=False)
    output = str(cd.meta.get("output", "npv"))
    if _is_ratio(output):
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, p: format_number(v, ctx.lang, 2)))
        ax.set_xlabel(f"{ctx.t('bcr')} ({output})")
        base_text = format_ratio(base, ctx.lang)
    else:
        _money_ticks(ax.xaxis, sc, ctx.lang)
        ax.set_xlabel(
            ctx.money_axis("pv", sc, axis="x") + ("" if output == "npv" else f" ({output})")
        )
        base_text = format_eur(base, ctx.lang)
    ax.legend(loc="lower right", fontsize=8)
    _subtitle(ax, ctx.t("tornado.base", value=base_text))
    return fig


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _is_ratio(output: str) -> bool:
    return output.split(".")[-1] == "bcr"


def draw_discount(cd: rd.ChartData, ctx: ChartContext) -> Figure:
    """NPV (P5-P95 band, median, mean) against the discount rate."""
    f = cd.frame
    sc = choose_scale(list(f["npv_p5"]) + list(f["npv_p95"]))
    fig = _figure(ctx, ctx.t("chart.discount"))
    ax = fig.add_subplot()
    r = f["rate"].to_numpy(dtype=float)
    ax.fill_between(
        r, f["npv_p5"], f["npv_p95"], color=BAND, alpha=0.18, lw=0, label=ctx.t("band.p5_p95")
    )
    ax.plot(r, f["npv_p50"], color=BAND, lw=2.0, marker="o", ms=3.5, label=ctx.t("median"))
    ax.plot(r, f["npv_mean"], color=NET, lw=1.0, ls="--", label=ctx.t("mean"))
    thr = float(cd.meta.get("threshold", 0.0))
    ax.axhline(thr, color="#444444", lw=0.8)
    rate = cd.meta.get("rate")
    if isinstance(rate, int | float) and not math.isnan(rate):
        ax.axvline(rate, color=NET, lw=0.9, ls=":")
        ax.annotate(
            "scenario " + format_pct(rate, ctx.lang, 2),
            (rate, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(4, -12),
            textcoords="offset points",
            fontsize=8,
        )
    sw = cd.meta.get("switching_rate")
    if sw is not None and not math.isnan(sw):
        ax.scatter([sw], [thr], color=COST, zorder=5, s=30)
        ax.annotate(
            ctx.t("switching") + f" {format_pct(sw, ctx.lang, 2)}",
            (sw, thr),
            xytext=(6, 8),
            textcoords="offset points",
            fontsize=8.5,
            color=COST,
        )
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, p: format_pct(v, ctx.lang, 1)))
    ax.set_xlabel(ctx.t("axis.discount_rate"))
    output = str(cd.meta.get("output", "npv"))
    if _is_ratio(output):
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, p: format_number(v, ctx.lang, 2)))
        ax.set_ylabel(ctx.t("bcr"))
    else:
        _money_ticks(ax.yaxis, sc, ctx.lang)
        ax.set_ylabel(ctx.money_axis("pv", sc))
    ax.legend(loc="upper right")
    _subtitle(
        ax,
        (ctx.t("npv") if output == "npv" else output)
        + f" · {ctx.labels.perspective(ctx.perspective)}",
    )
    return fig


def draw_variants(cd: rd.ChartData, ctx: ChartContext) -> Figure:
    """Variants side by side: costs and benefits (P50) and the NPV with P5-P95 and BCR."""
    f = cd.frame
    n = max(len(f), 1)
    sc = choose_scale(list(f["costs_p50"]) + list(f["benefits_p50"]) + list(f["npv_p95"]))
    fig = _figure(ctx, ctx.t("chart.variants"), height=1.9 + 0.36 * n, width=9.0)
    ax1, ax2 = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1, 1]})
    y = np.arange(len(f))
    h = 0.38
    ax1.barh(y - h / 2, f["costs_p50"], height=h, color=COST, label=ctx.t("variants.costs"))
    ax1.barh(
        y + h / 2, f["benefits_p50"], height=h, color=BENEFIT, label=ctx.t("variants.benefits")
    )
    ax1.set_yticks(y, [_wrap(str(v), 26) for v in f["label"]])
    current = cd.meta.get("current")
    for tick, v in zip(ax1.get_yticklabels(), f["variant"], strict=True):
        if current is not None and str(v) == str(current):
            tick.set_fontweight("bold")
    ax1.invert_yaxis()
    ax1.grid(axis="x")
    ax1.grid(axis="y", visible=False)
    _money_ticks(ax1.xaxis, sc, ctx.lang)
    ax1.set_xlabel(ctx.money_axis("pv", sc, axis="x"))
    ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, fontsize=8)
    ax2.hlines(y, f["npv_p5"], f["npv_p95"], color=NET, lw=1.2)
    ax2.scatter(f["npv_p50"], y, marker="D", s=30, color=NET, zorder=5)
    ax2.axvline(0, color="#444444", lw=0.8)
    for i, r in f.iterrows():
        ax2.annotate(
            f"{ctx.t('bcr.short')} {format_ratio(r['bcr_p50'], ctx.lang)}",
            (r["npv_p95"], i),
            xytext=(5, 0),
            textcoords="offset points",
            va="center",
            fontsize=7.8,
            color="#444444",
        )
    ax2.grid(axis="x")
    ax2.grid(axis="y", visible=False)
    _money_ticks(ax2.xaxis, sc, ctx.lang)
    ax2.set_xlabel(ctx.money_axis("pv", sc, axis="x"))
    ax2.margins(x=0.18)
    _panel_title(ax1, ctx.t("variants.costs") + " / " + ctx.t("variants.benefits"))
    _panel_title(ax2, ctx.t("variants.npv"))
    return fig


# --- registry ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    """One kind of chart: where its data come from and how it is drawn."""

    kind: str
    data: Callable[[rd.RunData, Labels], rd.ChartData | None]
    draw: Callable[[rd.ChartData, ChartContext], Figure]
    needs: str = ""  # "sensitivity" or "batch" when it needs tables beside the run


def _drivers_data(run: rd.RunData, labels: Labels) -> rd.ChartData | None:
    cd = rd.rank_correlations(run, labels)
    return cd if len(cd.frame) else None


def _tornado_data(run: rd.RunData, labels: Labels) -> rd.ChartData | None:
    if "tornado" not in run.extras:
        return None
    return rd.tornado(run.extras["tornado"], labels, run.extras.get("switching"))


def _discount_data(run: rd.RunData, labels: Labels) -> rd.ChartData | None:
    if "discount" not in run.extras:
        return None
    rate = run.summary.get("discount_rate")
    return rd.discount_sweep(run.extras["discount"], rate if isinstance(rate, float) else None)


def _variants_data(run: rd.RunData, labels: Labels) -> rd.ChartData | None:
    if "variants" not in run.extras:
        return None
    cd = rd.variants(run.extras["variants"], perspective=run.perspective, lang=labels.lang)
    cd.meta["current"] = run.summary.get("variant") or run.summary.get("scenario")
    return cd


CHARTS: dict[str, Chart] = {
    c.kind: c
    for c in (
        Chart("summary", rd.summary_table, draw_summary),
        Chart("waterfall", rd.waterfall, draw_waterfall),
        Chart("stakeholders", rd.stakeholders, draw_stakeholders),
        Chart("areas", rd.areas, draw_areas),
        Chart("cashflow", lambda r, _l: rd.cashflow(r), draw_cashflow),
        Chart("fan", lambda r, _l: rd.fan(r), draw_fan),
        Chart("npv", lambda r, _l: rd.npv_distribution(r), draw_npv),
        Chart("drivers", _drivers_data, draw_drivers),
        Chart("tornado", _tornado_data, draw_tornado, needs="sensitivity"),
        Chart("discount", _discount_data, draw_discount, needs="sensitivity"),
        Chart("variants", _variants_data, draw_variants, needs="batch"),
    )
}
KINDS: tuple[str, ...] = tuple(CHARTS)


def build(kind: str, run: rd.RunData, ctx: ChartContext) -> Figure | None:
    """The figure of one chart kind, or ``None`` when the run lacks its data."""
    chart = CHARTS[kind]
    with chart_style():
        cd = chart.data(run, ctx.labels)
        if cd is None:
            return None
        fig = chart.draw(cd, ctx)
        freeze_layout(fig)
        return fig


def freeze_layout(fig: Figure) -> None:
    """Lay the figure out once, at its own dpi, and keep that layout for every format.

    The layout then does not depend on which formats are saved or in which order (so the
    SVG of ``mkba chart --format svg`` equals that of ``mkba report``), and is not computed
    again for every file.
    """
    fig.draw_without_rendering()
    fig.set_layout_engine("none")


@dataclass
class RenderedChart:
    kind: str
    files: dict[str, bytes]  # format -> bytes


def render(
    run: rd.RunData,
    kinds: Iterable[str] | None = None,
    formats: Sequence[str] = FORMATS,
    lang: str = "en",
) -> list[RenderedChart]:
    """Render charts in memory. ``kinds=None``: every kind the run has data for."""
    ctx = ChartContext.from_run(run, lang)
    out = []
    for kind in kinds if kinds is not None else KINDS:
        fig = build(kind, run, ctx)
        if fig is None:
            continue
        out.append(RenderedChart(kind, {fmt: figure_bytes(fig, fmt) for fmt in formats}))
    return out


def write(rendered: Iterable[RenderedChart], folder: Path) -> list[Path]:
    """Write rendered charts as ``<folder>/<kind>.<format>``, atomically; return the paths."""
    paths = []
    for rc in rendered:
        for fmt, data in rc.files.items():
            path = Path(folder) / f"{rc.kind}.{fmt}"
            atomic_write_bytes(path, data)
            paths.append(path)
    return paths
