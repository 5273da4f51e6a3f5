"""Charts and words of ``mkba monitor``: observations against the projected bands, and the
prior and posterior side by side. Built from the result tables only (presentation here, no
computation); the shipped style and byte-stable file writing of :mod:`mkba.report.charts`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from mkba.output import atomic_write_bytes
from mkba.report.charts import BAND, NEGATIVE, chart_style, figure_bytes
from mkba.report.format import format_eur, format_number, format_pct
from mkba.report.labels import Labels
from mkba.texts import text as tr

if TYPE_CHECKING:
    from mkba.monitor.api import MonitorResult

NULL_COLOUR = "#999999"
POST_COLOUR = "#E69F00"


def indicator_label(res: MonitorResult, ind: str, lang: str) -> str:
    i = res.observations.sidecar.indicators[ind]
    return i.label_nl if lang == "nl" else i.label


def parameter_label(labels: Labels, name: str, lang: str) -> str:
    parts = name.split(".")
    link = parts[0] == "interventions" and len(parts) == 5 and parts[2] == "effects"
    if name.endswith(".net_effect") and not link:  # a link's words: Labels.param
        s = name.split(".")[1]
        return f"{labels.stream(s)}: {tr('monitor.net_effect', lang)}"
    return labels.param(name)


def draw_bands(res: MonitorResult, lang: str) -> Figure:
    """One panel per observed series: bands with and without the programme, observations."""
    labels = Labels(lang, res.model.spec.params)
    b = res.bands
    series = res.observations.series()
    n = len(series)
    cols = 1 if n == 1 else 2
    rows = math.ceil(n / cols)
    with chart_style():
        fig = Figure(figsize=(7.5 if cols == 1 else 10.0, 1.2 + 3.0 * rows))
        axes = fig.subplots(rows, cols, squeeze=False)
        for k, (ind, area, entry) in enumerate(series):
            ax = axes[k // cols][k % cols]
            d = b[(b["indicator"] == ind) & (b["area_id"] == area) & (b["intervention"] == entry)]
            o = d[~d["observed"].isna()]
            last = int(o["year"].max())
            d = d[(d["year"] >= int(o["year"].min()) - 1) & (d["year"] <= last + 4)]
            x = d["year"].to_numpy()
            start = float(res.model.prog_start[res.model.areas.index(area)])
            ax.axvline(start, color="#666666", lw=0.8, ls=":")
            ax.fill_between(x, d["null_p5"], d["null_p95"], color=NULL_COLOUR, alpha=0.25, lw=0)
            ax.plot(x, d["null_p50"], color=NULL_COLOUR, lw=1.0)
            ax.fill_between(x, d["prog_p5"], d["prog_p95"], color=BAND, alpha=0.22, lw=0)
            ax.plot(x, d["prog_p50"], color=BAND, lw=1.2)
            ax.plot(x, d["post_p5"], color=POST_COLOUR, lw=1.0, ls="--")
            ax.plot(x, d["post_p95"], color=POST_COLOUR, lw=1.0, ls="--")
            for _, r in o.iterrows():
                colour = NEGATIVE if r["flag"] else "#222222"
                ax.errorbar(
                    r["year"],
                    r["observed"],
                    yerr=1.645 * r["sd"],
                    fmt="s" if r["baseline"] else "o",
                    color=colour,
                    ms=4.5,
                    capsize=2,
                    lw=0.9,
                    zorder=5,
                )
            head = indicator_label(res, ind, lang)
            if entry:
                pr = res.model.programme
                assert pr is not None
                mi = pr.ids.index(entry)
                head += f", {(pr.labels_nl if lang == 'nl' else pr.labels)[mi]}"
            ax.set_title(_wrap(f"{head} – {labels.area(area)}", 46), fontsize=10)
            ax.yaxis.set_major_formatter(lambda v, _p: format_number(v, lang, 0))
            ax.xaxis.set_major_locator(_year_locator())
            ax.set_xlabel(tr("monitor.year", lang))
        for k in range(n, rows * cols):
            axes[k // cols][k % cols].set_visible(False)
        handles = [
            Patch(color=NULL_COLOUR, alpha=0.4, label=tr("monitor.null", lang)),
            Patch(color=BAND, alpha=0.35, label=tr("monitor.prog", lang)),
            Line2D([], [], color=POST_COLOUR, ls="--", label=tr("monitor.post", lang)),
            Line2D([], [], color="#222222", marker="o", ls="", label=tr("monitor.observed", lang)),
            Line2D([], [], color="#222222", marker="s", ls="", label=tr("monitor.baseline", lang)),
            Line2D([], [], color=NEGATIVE, marker="o", ls="", label=tr("monitor.outside", lang)),
            Line2D([], [], color="#666666", ls=":", label=tr("monitor.start", lang)),
        ]
        fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False, fontsize=8)
        title = tr("monitor.bands.title", lang)
        if res.observations.sidecar.illustrative:
            title += "\n" + tr("monitor.illustrative", lang)
        fig.suptitle(title, x=0.02, ha="left", fontsize=11, fontweight="bold")
        fig.tight_layout(rect=(0, 0.12 if rows == 1 else 0.08, 1, 0.95))
    return fig


def _year_locator() -> MaxNLocator:
    return MaxNLocator(integer=True, nbins=6)


def draw_posterior(res: MonitorResult, lang: str) -> Figure:
    """Prior and posterior of the effect sizes (left) and the NPV (right): mean and P5-P95."""
    labels = Labels(lang, res.model.spec.params)
    p = res.parameters
    eff = p[(p["kind"] == "net_effect") | p["name"].str.endswith(".effect")]
    o = res.outcomes
    npv = o[o["name"] == "npv"]
    npv_names = [
        labels.perspective(r["perspective"])
        if r["kind"] == "outcome"
        else f"{labels.area(r['area_id'])} ({labels.perspective(r['perspective'])})"
        for _, r in npv.iterrows()
    ]
    with chart_style():
        fig = Figure(figsize=(10.0, 1.6 + 0.55 * max(len(eff), len(npv)) * 2))
        ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": (1.35, 1)})
        for ax, frame, fmt, names in (
            (ax1, eff, "pct", [parameter_label(labels, r, lang) for r in eff["name"]]),
            (ax2, npv, "eur", npv_names),
        ):
            y = np.arange(len(frame))[::-1] * 1.0
            for which, dy, colour in (("prior", 0.17, BAND), ("post", -0.17, POST_COLOUR)):
                lo = frame[f"{which}_p5"].to_numpy(float)
                hi = frame[f"{which}_p95"].to_numpy(float)
                mean = frame[f"{which}_mean"].to_numpy(float)
                ax.hlines(y + dy, lo, hi, color=colour, lw=3.0, alpha=0.8)
                ax.plot(mean, y + dy, "o", color="#222222", ms=3.5, zorder=5)
            ax.set_yticks(y)
            ax.set_yticklabels([_wrap(t, 34) for t in names], fontsize=8)
            ax.grid(axis="x")
            ax.grid(axis="y", visible=False)
            if fmt == "pct":
                ax.xaxis.set_major_formatter(lambda v, _p: format_pct(v, lang, 1))
            else:
                ax.axvline(0.0, color="#444444", lw=0.8)
                ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
                ax.xaxis.set_major_formatter(lambda v, _p: format_eur(v, lang))
        ax1.set_title(tr("monitor.effects", lang), fontsize=10)
        ax2.set_title(tr("monitor.npv", lang), fontsize=10)
        handles = [
            Line2D([], [], color=BAND, lw=3, label=tr("monitor.before", lang)),
            Line2D([], [], color=POST_COLOUR, lw=3, label=tr("monitor.after", lang)),
        ]
        fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False, fontsize=8)
        ess = tr(
            "monitor.ess",
            lang,
            ess=format_number(res.ess, lang, 0),
            n=format_number(res.prior_draws, lang, 0),
        )
        if res.method == "smc":
            ess = tr("monitor.smc", lang, ess=ess)
        title = tr("monitor.post.title", lang) + "\n" + _wrap(ess[0].upper() + ess[1:], 95)
        if res.observations.sidecar.illustrative:
            title += "\n" + tr("monitor.illustrative", lang)
        fig.suptitle(title, x=0.02, ha="left", fontsize=11, fontweight="bold")
        fig.tight_layout(rect=(0, 0.06, 1, 0.91))
    return fig


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width, break_long_words=False)) or text


def write_charts(res: MonitorResult, folder: Path, *, lang: str = "en") -> list[str]:
    """Write ``bands`` and ``posterior`` as PNG and SVG into ``folder``; return file names."""
    names = []
    for kind, draw in (("bands", draw_bands), ("posterior", draw_posterior)):
        fig = draw(res, lang)
        for fmt in ("png", "svg"):
            atomic_write_bytes(Path(folder) / f"{kind}.{fmt}", figure_bytes(fig, fmt))
            names.append(f"{kind}.{fmt}")
    return names
