"""The business-case report as a document of plain blocks, rendered as HTML or Markdown.

:func:`build_document` decides what the report says (from the run's data); the renderers in
:mod:`mkba.report.html` and :mod:`mkba.report.markdown` decide only how it looks. Sections:
headline; three perspectives; who pays and who gains; uncertainty; what drives the result;
assumptions and sources; how to reproduce the run.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mkba.report import data as rd
from mkba.report.assumptions import english_left
from mkba.report.format import (
    DASH,
    format_eur,
    format_eur_range,
    format_int,
    format_number,
    format_pct,
    format_plain,
    format_ratio,
    format_year,
    table_scale,
)
from mkba.report.labels import Labels, origin_text, unit_text
from mkba.texts import text as tr

# --- blocks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    text: str
    url: str


@dataclass(frozen=True)
class Strong:
    text: str


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Small:
    text: str


@dataclass(frozen=True)
class Foreign:
    """Text quoted as written in English (the parameter library's assumptions and notes) in a
    document of another language; renderers mark it ``lang="en"``."""

    text: str
    small: bool = False


Inline = str | Link | Strong | Code | Small | Foreign
Cell = str | Inline | list[Inline]


@dataclass
class Heading:
    text: str
    level: int = 2
    anchor: str | None = None


@dataclass
class Para:
    parts: list[Inline]
    kind: str = ""  # "" | "note" | "warning" | "lead"


@dataclass
class Bullets:
    items: list[list[Inline]]


@dataclass
class Table:
    header: list[str]
    rows: list[list[Cell]]
    align: str = ""  # one letter per column: l or r (default l)
    caption: str | None = None
    kind: str = ""  # "" | "small" | "wide"
    strong_rows: set[int] = field(default_factory=set)


@dataclass
class Figure:
    kind: str  # chart kind (charts/<kind>.svg|png)
    caption: str


@dataclass
class KeyFigures:
    items: list[tuple[str, str, str]]  # label, value, sub-line


@dataclass
class CodeBlock:
    text: str


Block = Heading | Para | Bullets | Table | Figure | KeyFigures | CodeBlock


@dataclass
class Document:
    lang: str
    title: str
    subtitle: str
    blocks: list[Block]
    toc: list[tuple[str, str]]  # (anchor, text)


# --- words -------------------------------------------------------------------------------------

# --- building the document -------------------------------------------------------------------


def _eur(x: Any, lang: str, **kw: Any) -> str:
    """An amount. Without a ``scale``, an amount below a billion reads in the unit that shows
    it with two significant digits (``€ 1,2 mln``, ``€ 0,86 mln``, ``€ 5,1 k``), as in the
    tables, never as a long row of euros beside ``mln`` figures."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return format_eur(None, lang)
    if "scale" not in kw and abs(float(x)) < 1e9 and math.isfinite(float(x)):
        scale, digits = table_scale([float(x)])
        kw = {"scale": scale, "digits": digits, **kw}
    return format_eur(float(x), lang, **kw)


def _money(*columns: Any) -> dict[str, Any]:
    """``scale`` and ``digits`` for every amount of one table (one rule for the whole
    table: :func:`~mkba.report.format.table_scale`), from the rows' central values (an
    interval end near zero does not force a smaller unit)."""
    values = [float(v) for col in columns for v in col if v is not None]
    scale, digits = table_scale(values)
    return {"scale": scale, "digits": digits}


def _run_id_of(folder: Path) -> str | None:
    """The run id in ``folder/manifest.json`` (a sensitivity run or batch), if any."""
    import json

    try:
        return str(json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["run_id"])
    except (OSError, ValueError, KeyError):
        return None


def _amount(x: Any, lang: str, sign: bool = False) -> str:
    """An amount in running text: billions with two decimals, smaller amounts as they come."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return DASH
    if abs(x) >= 1e9:
        return format_eur(float(x), lang, scale="bn", digits=2, sign=sign)
    return _eur(x, lang, sign=sign)


def _present(v: Any) -> bool:
    """A value worth showing: not None, not NaN, not empty."""
    if v is None:
        return False
    if isinstance(v, float) and math.isnan(v):
        return False
    return bool(str(v).strip())


def _sources_cell(r: dict[str, Any], lang: str) -> list[Inline]:
    out: list[Inline] = []
    sources = r.get("sources")
    for i, src in enumerate(sources if isinstance(sources, list) else []):
        if i:
            out.append("; ")
        who = f"{src['publisher']} ({src['year']})" if src.get("publisher") else f"({src['year']})"
        out.append(Link(f"{who}: {src['title']}", src["url"]))
    if _present(r.get("assumption")):
        if out:
            out.append(" ")
        out.append(Strong(tr("as.assumption", lang) + ":"))
        out.append(" ")
        out.append(library_text(r, "assumption", lang))
    if _present(r.get("note")):
        out.append(" ")
        out.append(library_text(r, "note", lang, small=True))
    if _present(r.get("calibrated")):
        out.append(" ")
        head = f"[{tr('as.calibrated', lang)}: "
        if lang == "en":
            out.append(Small(f"{head}{r['calibrated']}]"))
        else:  # the record's text (mkba calibrate writes it in English) marked as such
            out += [Small(head), quoted(str(r["calibrated"]), lang, small=True), Small("]")]
    return out or [DASH]


def _translated(r: dict[str, Any]) -> list[str]:
    """The ``translated`` list of an assumptions row; empty in a run stored before it existed."""
    t = r.get("translated")
    return [str(k) for k in t] if isinstance(t, list | tuple) else []


def library_text(r: dict[str, Any], key: str, lang: str, small: bool = False) -> Inline:
    """A library text of an assumptions row: as written when it is in ``lang`` (English, or
    the library's Dutch twin listed in ``translated``), else marked as English
    (:func:`quoted`)."""
    text = str(r[key])
    if lang == "en" or key in _translated(r):
        return Small(text) if small else text
    return quoted(text, lang, small)


def criterion_text(criterion: str, lang: str) -> str:
    """The convergence criterion of a run's summary (``se(mean NPV) < 0.005 x mean PV of
    costs``, as :mod:`mkba.results` writes it) in ``lang``; another text stays as written."""
    m = re.fullmatch(r"se\(mean NPV\) < (\S+) x mean PV of costs", criterion)
    if m is None or lang == "en":
        return criterion
    try:
        tol = format_plain(float(m.group(1)), lang)
    except ValueError:
        return criterion
    return tr("unc.criterion", lang, tol=tol)


def quoted(text: str, lang: str, small: bool = False) -> Inline:
    """A text of the parameter library or scenario, written in English: as it is in an English
    document, marked as English (:class:`Foreign`) in a Dutch one."""
    if lang == "en":
        return Small(text) if small else text
    return Foreign(text, small)


def _sec_claim(b: _Build) -> None:
    """Evidence and the 2021 claim, side by side (a run made with its companion)."""
    lang, labels, s, blocks, section = b.lang, b.labels, b.s, b.blocks, b.section
    sides = s.get("side_by_side")
    if sides:
        _claim_section(blocks, sides, lang, labels, section)


def _sec_headline(b: _Build) -> None:
    """Headline."""
    lang, labels, s, p0, blocks, draws_text, rate_text, section, fig, pb, never = (
        b.lang,
        b.labels,
        b.s,
        b.p0,
        b.blocks,
        b.draws_text,
        b.rate_text,
        b.section,
        b.fig,
        b.pb,
        b.never,
    )
    section("sec.headline", "headline")
    blocks.append(
        KeyFigures(
            [
                (
                    tr("kf.costs", lang),
                    _eur(s["costs_pv"]["p50"], lang),
                    tr(
                        "kf.range",
                        lang,
                        range=format_eur_range(s["costs_pv"]["p5"], s["costs_pv"]["p95"], lang),
                    ),
                ),
                (
                    tr("kf.benefits", lang, horizon=s["horizon"]),
                    _eur(s["benefits_pv"]["p50"], lang),
                    tr(
                        "kf.range",
                        lang,
                        range=format_eur_range(
                            s["benefits_pv"]["p5"], s["benefits_pv"]["p95"], lang
                        ),
                    ),
                ),
                (
                    tr("kf.npv", lang),
                    _eur(s["npv"]["p50"], lang),
                    tr(
                        "kf.range",
                        lang,
                        range=format_eur_range(s["npv"]["p5"], s["npv"]["p95"], lang),
                    ),
                ),
                (
                    tr("kf.bcr", lang),
                    format_ratio(s["bcr"]["p50"], lang),
                    tr(
                        "kf.range",
                        lang,
                        range=f"{format_ratio(s['bcr']['p5'], lang)}{DASH}{format_ratio(s['bcr']['p95'], lang)}",
                    ),
                ),
                (
                    tr("kf.prob", lang),
                    format_pct(s["prob_npv_positive"], lang),
                    tr("kf.draws", lang, draws=draws_text),
                ),
                (
                    tr("kf.payback", lang),
                    format_year(pb.get("p50")),
                    tr("kf.never", lang, share=format_pct(never, lang, 1), horizon=s["horizon"])
                    if never > 0
                    else f"P5{DASH}P95: {format_year(pb.get('p5'))}{DASH}{format_year(pb.get('p95'))}",
                ),
            ]
        )
    )
    lead = tr(
        "headline",
        lang,
        perspective=labels.perspective(p0),
        costs=_eur(s["costs_pv"]["p50"], lang),
        benefits=_eur(s["benefits_pv"]["p50"], lang),
        horizon=s["horizon"],
        bcr=format_eur(s["bcr"]["p50"], lang, scale="unit", digits=2),
        npv=_eur(s["npv"]["p50"], lang)
        + f" ({tr('kf.range', lang, range=format_eur_range(s['npv']['p5'], s['npv']['p95'], lang))})",
        prob=format_pct(s["prob_npv_positive"], lang),
    )
    streams = sorted(s["by_stream"].items(), key=lambda kv: -(kv[1].get("p50") or 0))
    if streams:
        sid, st = streams[0]
        lead += " " + tr(
            "headline.largest", lang, stream=labels.stream(sid), value=_eur(st["p50"], lang)
        )
    blocks.append(Para([lead], "lead"))
    blocks.append(
        Para(
            [
                tr(
                    "reading",
                    lang,
                    price_year=s["price_year"],
                    base_year=s["base_year"],
                    rate=rate_text,
                    horizon=s["horizon"],
                    draws=draws_text,
                )
            ],
            "note",
        )
    )
    fig("summary", tr("cap.summary", lang))
    fig("waterfall", tr("cap.waterfall", lang))


def _sec_perspectives(b: _Build) -> None:
    """Perspectives."""
    run, lang, labels, s, p0, blocks, section = (
        b.run,
        b.lang,
        b.labels,
        b.s,
        b.p0,
        b.blocks,
        b.section,
    )
    section("sec.perspectives", "perspectives")
    blocks.append(Para([tr("persp.intro", lang)]))
    pt = rd.perspectives_table(run, labels)
    pt = pt[(pt["perspective"] != "study") | (p0 == "study")]
    mk = _money(pt["costs_p50"], pt["benefits_p50"], pt["npv_p50"])
    rows: list[list[Cell]] = []
    strong = set()
    for i, r in enumerate(pt.to_dict("records")):
        name = r["label"].capitalize()
        if r["perspective"] == p0:
            strong.add(i)
            name += " \u2014 " + tr("persp.this", lang)
        rows.append(
            [
                name,
                _eur(r["costs_p50"], lang, **mk),
                _eur(r["benefits_p50"], lang, **mk),
                _eur(r["npv_p50"], lang, **mk),
                format_eur_range(r["npv_p5"], r["npv_p95"], lang, **mk),
                format_ratio(r["bcr_p50"], lang),
                format_pct(r["prob_npv_positive"], lang),
            ]
        )
    blocks.append(
        Table(
            [
                tr("doc.perspective", lang),
                labels.t("costs") + " P50",
                labels.t("benefits") + " P50",
                labels.t("npv.short") + " P50",
                labels.t("npv.short") + " P5–P95",
                labels.t("bcr.short") + " P50",
                tr("doc.p_npv_0", lang),
            ],
            rows,
            align="lrrrrrr",
            strong_rows=strong,
        )
    )
    transfers = (s.get("transfers_in_study_benefits") or {}).get("p50")
    persp_items: list[list[Inline]] = [
        [Strong(labels.t("perspective.welfare.long") + ". "), tr("persp.welfare", lang)],
        [Strong(labels.t("perspective.fiscal.long") + ". "), tr("persp.fiscal", lang)],
    ]
    if p0 == "study":
        persp_items.append(
            [
                Strong(labels.t("perspective.study.long") + ". "),
                tr("persp.study", lang, transfers=_amount(transfers, lang)),
            ]
        )
    blocks.append(Bullets(persp_items))


def _sec_stakeholders(b: _Build) -> None:
    """Stakeholders."""
    run, lang, labels, blocks, section, fig = b.run, b.lang, b.labels, b.blocks, b.section, b.fig
    section("sec.stakeholders", "stakeholders")
    blocks.append(Para([tr("sh.intro", lang)]))
    fig("stakeholders", tr("cap.stakeholders", lang))
    sh = rd.stakeholder_table(run, labels)
    flows = ["gains_mean", "losses_mean", "costs_mean", "net_p5", "net_p95"]
    sh = sh[(sh[flows].abs() > 0).any(axis=1)]  # stakeholders without flows are left out
    mk = _money(*(sh[c] for c in ("gains_mean", "losses_mean", "costs_mean", "net_mean")))
    rows = []
    for r in sh.to_dict("records"):
        pub = r["public"]
        name = r["label"] + (
            "" if pub is None else f" ({labels.t('public') if pub else labels.t('private')})"
        )
        rows.append(
            [
                name,
                _eur(r["gains_mean"], lang, **mk),
                _eur(r["losses_mean"], lang, **mk),
                _eur(r["costs_mean"], lang, **mk),
                _eur(r["net_mean"], lang, **mk),
                format_eur_range(r["net_p5"], r["net_p95"], lang, **mk),
            ]
        )
    blocks.append(
        Table(
            [
                labels.t("stakeholder"),
                tr("sh.gains", lang),
                tr("sh.losses", lang),
                tr("sh.costs", lang),
                labels.t("net"),
                labels.t("net") + " P5–P95",
            ],
            rows,
            align="lrrrrr",
            caption=tr("sh.caption", lang),
        )
    )
    if len(sh):
        pub = sh[sh["public"] == True]  # noqa: E712 - pandas mask
        if len(pub):
            blocks.append(Para([tr("sh.public", lang, net=_amount(pub["net_mean"].sum(), lang))]))
        g = sh.loc[sh["net_mean"].idxmax()]
        lo = sh.loc[sh["net_mean"].idxmin()]
        blocks.append(
            Para(
                [
                    tr(
                        "sh.most",
                        lang,
                        gain_k=g["label"],
                        gain=_amount(g["net_mean"], lang, sign=True),
                        loss_k=lo["label"],
                        loss=_amount(lo["net_mean"], lang),
                    )
                ]
            )
        )
    fig("areas", tr("cap.areas", lang))
    ar = rd.areas(run, labels).frame
    if len(ar):
        mk = _money(*(ar[c] for c in ("costs", "benefits", "npv")))
        blocks.append(
            Table(
                [
                    labels.t("area"),
                    labels.t("costs") + " (" + labels.t("mean").lower() + ")",
                    labels.t("benefits") + " (" + labels.t("mean").lower() + ")",
                    labels.t("npv.short") + " (" + labels.t("mean").lower() + ")",
                    labels.t("npv.short") + " P5–P95",
                    labels.t("bcr.short"),
                ],
                [
                    [
                        r["label"],
                        _eur(r["costs"], lang, **mk),
                        _eur(r["benefits"], lang, **mk),
                        _eur(r["npv"], lang, **mk),
                        format_eur_range(r["npv_p5"], r["npv_p95"], lang, **mk),
                        format_ratio(r["bcr"], lang),
                    ]
                    for r in ar.to_dict("records")
                ],
                align="lrrrrr",
                kind="small",
            )
        )


def _sec_measures(b: _Build) -> None:
    """Bottom-up measures (only runs with a programme of interventions)."""
    lang, labels, s, p0, blocks, toc = b.lang, b.labels, b.s, b.p0, b.blocks, b.toc
    if s.get("by_intervention"):
        from mkba.report import programme as prog

        blocks.append(Heading(tr("programme.sec", lang), 2, "measures"))
        toc.append(("measures", tr("programme.sec", lang)))
        blocks.append(Para([tr("programme.intro", lang, p=labels.perspective(p0))]))
        mhead, mrows = prog.money_rows(s, lang)
        blocks.append(
            Table(mhead, mrows, align="lrrrrrrr", caption=tr("programme.cap_money", lang))
        )
        phead, prows = prog.physical_rows(s, lang, labels.stream)
        cap = tr("programme.cap_phys", lang, n=format_int(s["physical"]["draws"], lang))
        blocks.append(Table(phead, prows, align="lllrr", caption=cap, kind="small"))


def _sec_uncertainty(b: _Build) -> None:
    """Uncertainty."""
    lang, s, m, blocks, draws_text, section, fig, pb, never = (
        b.lang,
        b.s,
        b.m,
        b.blocks,
        b.draws_text,
        b.section,
        b.fig,
        b.pb,
        b.never,
    )
    section("sec.uncertainty", "uncertainty")
    blocks.append(
        Para(
            [
                tr(
                    "unc.text",
                    lang,
                    prob=format_pct(s["prob_npv_positive"], lang),
                    draws=draws_text,
                    p5=_amount(s["npv"]["p5"], lang),
                    p95=_amount(s["npv"]["p95"], lang),
                )
            ]
        )
    )
    fig("npv", tr("cap.npv", lang))
    if pb.get("p50") is not None and not (
        isinstance(pb.get("p50"), float) and math.isnan(pb["p50"])
    ):
        blocks.append(
            Para(
                [
                    tr(
                        "unc.payback",
                        lang,
                        year=format_year(pb["p50"]),
                        never=format_pct(never, lang, 1),
                        horizon=s["horizon"],
                    )
                ]
            )
        )
    fig("cashflow", tr("cap.cashflow", lang))
    fig("fan", tr("cap.fan", lang, horizon=s["horizon"], price_year=s["price_year"]))
    conv = s.get("convergence") or m.get("convergence") or {}
    if conv.get("se_mean_npv") is not None:
        blocks.append(
            Para(
                [
                    tr(
                        "unc.convergence",
                        lang,
                        se=_eur(conv["se_mean_npv"], lang),
                        rel=format_pct(conv.get("relative_se"), lang, 2),
                        status=tr(
                            "unc.converged" if conv.get("converged") else "unc.not_converged", lang
                        ),
                        criterion=criterion_text(conv.get("criterion", ""), lang),
                    )
                ],
                "note",
            )
        )


def _sec_drivers(b: _Build) -> None:
    """Drivers."""
    run, lang, labels, p0, blocks, section, fig = (
        b.run,
        b.lang,
        b.labels,
        b.p0,
        b.blocks,
        b.section,
        b.fig,
    )
    section("sec.drivers", "drivers")
    sens = [k for k in ("tornado", "switching", "discount") if k in run.extras]
    if sens:
        files = ", ".join(str(run.extra_files[k].name) + ".*" for k in sens if k in run.extra_files)
        blocks.append(Para([tr("drv.sens", lang, files=files)], "note"))
        fig("tornado", tr("cap.tornado", lang))
        if "switching" in run.extras:
            sw = rd.switching_table(run.extras["switching"], labels)
            found = pd.to_numeric(sw["switching_value"], errors="coerce").notna()
            blocks.append(Heading(tr("sw.title", lang), 3))
            blocks.append(Para([tr("sw.text", lang)]))
            if (~found).any():
                blocks.append(
                    Para([tr("sw.none", lang, n=int((~found).sum()), total=len(sw))], "note")
                )
            sw = sw[found]
        if "switching" in run.extras and len(sw):
            blocks.append(
                Table(
                    [
                        labels.t("parameter"),
                        tr("doc.base", lang),
                        labels.t("switching"),
                        tr("doc.times_base", lang),
                    ],
                    [
                        [
                            [str(r["label"]), " ", Small(str(r["name"]))]
                            if r["label"] != r["name"]
                            else str(r["name"]),
                            format_plain(r["base"], lang),
                            format_plain(r["switching_value"], lang),
                            format_number(r["ratio"], lang, 2),
                        ]
                        for r in sw.head(20).to_dict("records")
                    ],
                    align="lrrr",
                    kind="small",
                )
            )
        if "discount" in run.extras:
            dm = rd.discount_sweep(run.extras["discount"]).meta
            crossing = not math.isnan(dm["switching_rate"])
            fig("discount", tr("cap.discount" if crossing else "cap.discount.none", lang))
    else:
        corr = rd.rank_correlations(run, labels)
        if len(corr.frame):
            blocks.append(Para([tr("drv.corr", lang)], "note"))
            fig("drivers", tr("cap.drivers", lang, n=len(corr.frame)))
        else:
            blocks.append(Para([tr("drv.none", lang)], "note"))

    if "variants" in run.extras:
        section("sec.variants", "variants")
        vd = rd.variants(run.extras["variants"], perspective=p0, lang=lang).frame
        mkv = _money(
            *(vd[c] for c in ("costs_p50", "benefits_p50", "npv_p50", "npv_p5", "npv_p95"))
        )
        fig(
            "variants",
            tr("cap.variants", lang, file=run.extra_files.get("variants", Path("comparison")).name),
        )
        blocks.append(
            Table(
                [
                    labels.t("variant"),
                    labels.t("costs") + " P50",
                    labels.t("benefits") + " P50",
                    labels.t("npv.short") + " P50",
                    labels.t("npv.short") + " P5–P95",
                    labels.t("bcr.short") + " P50",
                ],
                [
                    [
                        str(r["label"]),
                        _eur(r["costs_p50"], lang, **mkv),
                        _eur(r["benefits_p50"], lang, **mkv),
                        _eur(r["npv_p50"], lang, **mkv),
                        format_eur_range(r["npv_p5"], r["npv_p95"], lang, **mkv),
                        format_ratio(r["bcr_p50"], lang),
                    ]
                    for r in vd.to_dict("records")
                ],
                align="lrrrrr",
            )
        )


def _sec_deciding(b: _Build) -> None:
    """Deciding (only with decision runs: mkba report --decide)."""
    run, lang, labels, blocks, section, charts = (
        b.run,
        b.lang,
        b.labels,
        b.blocks,
        b.section,
        b.charts,
    )
    if run.cache.get("decisions"):
        from mkba.report.decide import document_blocks

        section("sec.deciding", "deciding")
        blocks.extend(document_blocks(run.cache["decisions"], lang, charts, labels))


def _sec_assumptions(b: _Build) -> None:
    """Assumptions."""
    run, lang, labels, blocks, section = b.run, b.lang, b.labels, b.blocks, b.section
    section("sec.assumptions", "assumptions")
    if run.inputs is None:
        blocks.append(Para([tr("as.missing", lang, note=run.spec_note or "")], "warning"))
    else:
        if run.spec_note:
            blocks.append(Para([tr("as.changed", lang, note=run.spec_note)], "warning"))
        am = rd.assumptions(run, labels)
        if lang != "en" and english_left(am.to_dict("records")):
            blocks.append(Para([tr("as.english", lang)], "note"))
        head = [
            labels.t("parameter"),
            labels.t("value"),
            labels.t("unit"),
            labels.t("price_year"),
            labels.t("source") + " / " + labels.t("assumption").lower(),
        ]

        def rows_of(group: str) -> list[list[Cell]]:
            out: list[list[Cell]] = []
            for r in am[am["group"] == group].to_dict("records"):
                py = r["price_year"]
                where = str(r["path"])
                if isinstance(r.get("origin"), str):
                    where += " \u00b7 " + origin_text(r["origin"], lang)
                out.append(
                    [
                        [
                            # an area column's description is the library's, in English
                            library_text(r, "label", lang) if group == "areas" else str(r["label"]),
                            " ",
                            Small(where),
                        ],
                        str(r["value"]),
                        unit_text(r["unit"], lang),
                        ""
                        if py is None or (isinstance(py, float) and math.isnan(py))
                        else str(int(py)),
                        _sources_cell(r, lang),
                    ]
                )
            return out

        blocks.append(Heading(tr("as.scenario", lang), 3))
        blocks.append(Table(head, rows_of("scenario"), align="lllrl", kind="small assumptions"))
        params = am[am["group"] == "parameters"]
        blocks.append(Heading(tr("as.params", lang), 3))
        blocks.append(
            Para(
                [
                    tr(
                        "as.params.text",
                        lang,
                        uncertain=int(params["uncertain"].sum()),
                        total=len(params),
                    )
                ]
            )
        )
        blocks.append(Table(head, rows_of("parameters"), align="lllrl", kind="small assumptions"))
        blocks.append(Heading(tr("as.areas", lang), 3))
        blocks.append(Table(head, rows_of("areas"), align="lllrl", kind="small assumptions"))
    items = rd.pm_items(run)
    if items:
        blocks.append(Heading(tr("as.pm", lang), 3))
        blocks.append(
            Bullets([[Strong(f"{i.name(lang)} ({i.text}). "), i.reason(lang)] for i in items])
        )


def _sec_reproduce(b: _Build) -> None:
    """Reproduce."""
    run, lang, m, blocks, section, run_dir_text = (
        b.run,
        b.lang,
        b.m,
        b.blocks,
        b.section,
        b.run_dir_text,
    )
    section("sec.reproduce", "reproduce")
    blocks.append(Para([tr("rep.text", lang)]))
    if m.get("batch") and m.get("job"):
        blocks.append(Para([tr("rep.batch", lang, job=m["job"], batch=m["batch"])], "note"))
    scen = str(m.get("scenario_file", ""))
    out_dir = run_dir_text or str(run.path)
    cmd = ["mkba", "run", scen]
    if m.get("variant"):
        cmd += ["--variant", str(m["variant"])]
    cmd += ["--draws", str(m.get("draws")), "--seed", str(m.get("seed")), "--out", out_dir]
    rep = ["mkba", "report", out_dir, "--lang", lang]
    for kind in ("sensitivity", "batch"):
        for folder in run.given.get(kind, []):
            rep += [f"--{kind}", str(folder)]
    blocks.append(CodeBlock(shlex.join(cmd) + "\n" + shlex.join(rep)))
    used = []
    for kind in ("tornado", "switching", "discount", "variants"):
        path = run.extra_files.get(kind)
        if path is None:
            continue
        rid = _run_id_of(path.parent)
        used.append(f"{path.name}.* ({path.parent}{', run ' + rid if rid else ''})")
    if used:
        blocks.append(Para([tr("rep.extras", lang, files="; ".join(used))], "note"))
    v = m.get("versions", {})
    rows: list[list[Cell]] = [
        ["Run id", Code(str(m.get("run_id", "")))],
        ["Scenario", Code(scen) if scen else DASH],
        ["Variant", str(m.get("variant") or DASH)],
        [
            (tr("doc.scenario_hash", lang)),
            Code(str(m.get("scenario_hash", ""))),
        ],
        ["Parameters", Code(str(m.get("parameters_dir", "")))],
        [
            (tr("doc.parameters_hash", lang)),
            Code(str(m.get("parameters_hash", ""))),
        ],
        [
            (tr("doc.calibration_record", lang)),
            Code(str(m.get("calibration_file") or DASH)),
        ],
        [(tr("doc.draws", lang)), format_int(m.get("draws"), lang)],
        ["Seed", str(m.get("seed"))],
        ["Sampler", str(m.get("sampler"))],
        [(tr("doc.chunk_size", lang)), str(m.get("chunk_size"))],
        [
            tr("doc.versions", lang),
            ", ".join(f"{k} {val}" for k, val in v.items() if k != "platform"),
        ],
        ["Platform", str(v.get("platform", DASH))],
    ]
    blocks.append(Table(["", ""], rows, align="ll", kind="small"))


@dataclass
class _Build:
    """What every section of :func:`build_document` reads and appends to."""

    run: rd.RunData
    lang: str
    charts: set[str]
    run_dir_text: str | None
    blocks: list[Block] = field(default_factory=list)
    toc: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.labels = self.run.labels(self.lang)
        self.s = self.run.summary
        self.m = self.run.manifest
        self.p0 = self.s["perspective"]
        self.draws_text = format_int(self.s["draws"], self.lang)
        rate = self.s.get("discount_rate")
        self.rate_text = (
            format_pct(rate, self.lang, 2)
            if isinstance(rate, float)
            else tr("wb.schedule", self.lang)
        )
        self.pb: dict[str, Any] = self.s.get("payback_year") or {}
        self.never = 1.0 - float(self.pb.get("share_defined", 1.0))

    def section(self, key: str, anchor: str) -> None:
        self.blocks.append(Heading(tr(key, self.lang), 2, anchor))
        self.toc.append((anchor, tr(key, self.lang)))

    def fig(self, kind: str, caption: str) -> None:
        if kind in self.charts:
            self.blocks.append(Figure(kind, caption))


SECTIONS = (
    _sec_claim,
    _sec_headline,
    _sec_perspectives,
    _sec_stakeholders,
    _sec_measures,
    _sec_uncertainty,
    _sec_drivers,
    _sec_deciding,
    _sec_assumptions,
    _sec_reproduce,
)
"""The report's sections in order; each appends its blocks (nothing when its data is absent)."""


def build_document(
    run: rd.RunData,
    lang: str,
    charts: set[str],
    *,
    run_dir_text: str | None = None,
) -> Document:
    """The report of a run. ``charts``: the chart kinds that exist (their figures are shown)."""
    b = _Build(run, lang, charts, run_dir_text)
    for sec in SECTIONS:
        sec(b)
    s, m = b.s, b.m
    title = tr("doc.title", lang, title=rd.scenario_title(run, lang))
    subtitle = tr(
        "doc.subtitle",
        lang,
        scenario=s["scenario"],
        variant=f" · variant {s['variant']}" if s.get("variant") else "",
        run_id=m.get("run_id", ""),
        draws=b.draws_text,
        version=m.get("versions", {}).get("mkba", ""),
    )
    return Document(lang=lang, title=title, subtitle=subtitle, blocks=b.blocks, toc=b.toc)


def _claim_section(
    blocks: list[Block], sides: list[dict[str, Any]], lang: str, labels: Labels, section: Any
) -> None:
    """First section of a run made with its companion: the calibration, what it implies, and
    both results side by side (welfare, fiscal, study)."""
    section("sec.claim", "claim")
    factors = []
    for d in sides:
        for f in d.get("calibration_factors") or []:
            what = ", ".join(labels.stream(p.split(".")[1]) for p in f["params"])
            factors.append(
                tr("claim.factor", lang, what=what, factor=format_ratio(f["factor"], lang))
            )
    blocks.append(Para([tr("claim.intro", lang, factors=" ".join(factors))], "lead"))
    rows: list[list[Cell]] = []
    for p in ("welfare", "fiscal", "study"):
        for d in sides:
            x = d["perspectives"][p]
            rows.append(
                [
                    labels.perspective(p).capitalize(),
                    tr(f"role.{d['role']}", lang),
                    _eur(x["costs_pv"]["p50"], lang, scale="bn", digits=2),
                    _eur(x["benefits_pv"]["p50"], lang, scale="bn", digits=2),
                    _eur(x["npv"]["p50"], lang, scale="bn", digits=2),
                    format_eur_range(x["npv"]["p5"], x["npv"]["p95"], lang, scale="bn", digits=2),
                    format_ratio(x["bcr"]["p50"], lang)
                    + f" ({format_ratio(x['bcr']['p5'], lang)}{DASH}"
                    f"{format_ratio(x['bcr']['p95'], lang)})",
                    format_pct(x["prob_npv_positive"], lang),
                ]
            )
    blocks.append(
        Table(
            [
                tr("doc.perspective", lang),
                tr("col.scenario", lang),
                labels.t("costs") + " P50",
                labels.t("benefits") + " P50",
                labels.t("npv.short") + " P50",
                labels.t("npv.short") + " P5–P95",
                labels.t("bcr.short") + " P50 (P5–P95)",
                tr("doc.p_npv_0", lang),
            ],
            rows,
            align="llrrrrrr",
            strong_rows={0, 1},
            kind="small",  # eight columns: at the normal size the last one scrolled out of view
        )
    )
    year = sides[0]["implied_physical"]["year_full_strength"]
    prow: list[list[Cell]] = []
    for sid, v in sides[0]["implied_physical"]["streams"].items():
        cells: list[Cell] = [v["what"] if lang == "en" else v["what_nl"]]
        for d in sides:
            q = d["implied_physical"]["streams"][sid]["at_full_strength"]
            cells.append(
                f"{format_int(q['p50'], lang)} ({format_int(q['p5'], lang)}{DASH}"
                f"{format_int(q['p95'], lang)})"
            )
        cells.append(format_int(v["baseline"]["p50"], lang))
        prow.append(cells)
    blocks.append(
        Table(
            [tr("col.effect", lang)]
            + [tr(f"role.{d['role']}", lang) for d in sides]
            + [tr("col.baseline", lang)],
            prow,
            align="l" + "r" * (len(sides) + 1),
            caption=tr("claim.physical", lang, year=year),
        )
    )
    for d in sides:
        sw = d.get("switching_welfare") or {}
        if "benefit_savings" in sw and "safety" in sw:
            b, c = sw["benefit_savings"], sw["safety"]
            blocks.append(
                Para(
                    [
                        tr(
                            "claim.switching",
                            lang,
                            year=year,
                            people=format_int(round(b["needed_at_full_strength"], -2), lang),
                            people_ev=format_int(round(b["mean_at_full_strength"], -1), lang),
                            crimes=format_int(round(c["needed_at_full_strength"], -2), lang),
                            crimes_ev=format_int(round(c["mean_at_full_strength"], -1), lang),
                        )
                    ],
                    "note",
                )
            )
        h = d.get("headline_probability")
        if h and not d["calibrated"]:
            blocks.append(
                Para(
                    [
                        tr(
                            "claim.prior",
                            lang,
                            draws=format_int(h["draws"], lang),
                            share=format_pct(h["share_both"], lang, 2),
                        )
                    ],
                    "note",
                )
            )
