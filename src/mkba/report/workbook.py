"""The Excel workbook of a run, for finance departments (XlsxWriter).

One real Excel table per sheet (sortable, filterable, named ``tbl<Sheet>``), frozen headers,
column widths, euro number formats, and one native Excel chart (benefits by stream). Money
cells hold exact euros of the price year; the number format only shows them in millions.

Sheets: summary; perspectives; streams (per perspective); areas; stakeholders; years (real
undiscounted, discounted and cumulative discounted net flows); assumptions (unit, price year,
source, the stated assumption); manifest (how the run was made).

Every string from the user's files (titles, names, sources, assumptions) is written as text:
the workbook is opened with ``strings_to_formulas``, ``strings_to_urls`` and
``strings_to_numbers`` off, so ``=HYPERLINK(...)`` in a scenario title stays a string.
Source URLs are written as links on purpose, one per quantity.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter

from mkba.output import atomic_write_bytes
from mkba.report import data as rd
from mkba.report.assumptions import english_left
from mkba.report.format import (
    check_lang,
    excel_axis_format,
    excel_money_format,
    format_int,
    format_pct,
    table_scale,
    table_unit,
)
from mkba.report.labels import Labels, origin_text, unit_text
from mkba.texts import text as tr
from mkba.texts import text_or

SHEETS: tuple[str, ...] = (
    "claim",
    "summary",
    "perspectives",
    "streams",
    "areas",
    "stakeholders",
    "years",
    "assumptions",
    "manifest",
)
"""Sheets in order; names in the catalogue (``sheet.<key>``); the table on each is ``tbl`` + the
English name."""

PROGRAMME_SHEETS: tuple[str, ...] = ("measures", "physical")
"""Extra sheets of a run with a bottom-up programme of measures (after ``areas``)."""
OPTIONAL_SHEETS: tuple[str, ...] = ("deciding",)
"""Sheets written only when their data exists (decision runs given to ``mkba report``)."""

WORKBOOK_OPTIONS = {
    "in_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "nan_inf_to_errors": False,
}


def sheet_name(key: str, lang: str) -> str:
    return tr(f"sheet.{key}", lang)


def table_name(key: str) -> str:
    return "tbl" + tr(f"sheet.{key}", "en").replace(" ", "")


@dataclass
class Col:
    """A column of a sheet's table: header, key in the rows, format name, width."""

    header: str
    key: str
    fmt: str = "text"
    width: float | None = None


class _Book:
    def __init__(self, lang: str, scale: str = "m", digits: int = 1) -> None:
        self.lang = lang
        self.scale, self.digits = scale, digits
        self.buf = io.BytesIO()
        self.wb = xlsxwriter.Workbook(self.buf, WORKBOOK_OPTIONS)
        self.wb.set_properties(
            {"title": "mkba", "author": "mkba", "comments": "Written by mkba (mkba report)"}
        )
        money = excel_money_format(scale, digits, lang)
        self.f = {
            "text": self.wb.add_format({"valign": "top"}),
            "wrap": self.wb.add_format({"text_wrap": True, "valign": "top"}),
            "eur": self.wb.add_format({"num_format": money, "valign": "top"}),
            "eur_full": self.wb.add_format({"num_format": "€ #,##0", "valign": "top"}),
            "ratio": self.wb.add_format({"num_format": "0.00", "valign": "top"}),
            "pct": self.wb.add_format({"num_format": "0.0%", "valign": "top"}),
            "int": self.wb.add_format({"num_format": "0", "valign": "top"}),
            "num": self.wb.add_format({"num_format": "General", "valign": "top"}),
            "bool": self.wb.add_format({"valign": "top"}),
            "link": self.wb.add_format({"font_color": "#0563C1", "underline": 1, "valign": "top"}),
            "header": self.wb.add_format(
                {"bold": True, "text_wrap": True, "valign": "bottom", "bottom": 1}
            ),
            "title": self.wb.add_format({"bold": True, "font_size": 14}),
            "subtitle": self.wb.add_format({"italic": True, "font_color": "#555555"}),
            "note": self.wb.add_format({"font_color": "#555555", "text_wrap": False}),
        }

    def sheet(self, key: str) -> Any:
        return self.wb.add_worksheet(sheet_name(key, self.lang))

    def heading(self, ws: Any, title: str, lines: Sequence[str]) -> int:
        """Title and note lines at the top of a sheet; returns the first free row."""
        ws.write_string(0, 0, title, self.f["title"])
        for i, line in enumerate(lines, start=1):
            ws.write_string(i, 0, line, self.f["note"])
        return len(lines) + 2

    def table(
        self,
        ws: Any,
        key: str,
        top: int,
        cols: Sequence[Col],
        rows: Sequence[dict[str, Any]],
        row_formats: Sequence[str | None] | None = None,
        links: dict[tuple[int, str], str] | None = None,
    ) -> tuple[int, int]:
        """A real Excel table at row ``top``; header frozen. Returns (first, last) data row."""
        n = len(rows)
        last = top + max(n, 1)
        ws.add_table(
            top,
            0,
            last,
            len(cols) - 1,
            {
                "name": table_name(key),
                "style": "Table Style Light 9",
                "columns": [{"header": c.header, "header_format": self.f["header"]} for c in cols],
            },
        )
        ws.set_row(top, 32)
        for i, row in enumerate(rows):
            r = top + 1 + i
            for j, c in enumerate(cols):
                fmt = c.fmt
                if row_formats is not None and row_formats[i] and c.fmt == "eur":
                    fmt = row_formats[i] or fmt
                self._cell(ws, r, j, row.get(c.key), fmt, (links or {}).get((i, c.key)))
        for j, c in enumerate(cols):
            width = c.width or _width(c.header, [row.get(c.key) for row in rows], c.fmt)
            ws.set_column(j, j, width, self.f["wrap"] if c.fmt == "wrap" else None)
        ws.freeze_panes(top + 1, 0)
        # print: A4, the header row on every page, all columns on one page wide
        ws.set_paper(9)
        ws.repeat_rows(top)
        ws.fit_to_pages(1, 0)
        ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
        total = sum(
            c.width or _width(c.header, [row.get(c.key) for row in rows], c.fmt) for c in cols
        )
        if total > 95:
            ws.set_landscape()
        return top + 1, top + n

    def _cell(self, ws: Any, r: int, c: int, v: Any, fmt: str, url: str | None) -> None:
        f = self.f[fmt]
        if url:
            ws.write_url(r, c, url, self.f["link"], string=str(v) if v else url)
        elif v is None or (isinstance(v, float) and math.isnan(v)):
            ws.write_blank(r, c, None, f)
        elif isinstance(v, bool):
            ws.write_boolean(r, c, v, f)
        elif isinstance(v, int | float):
            if math.isinf(v):
                ws.write_string(r, c, "inf" if v > 0 else "-inf", f)
            else:
                ws.write_number(r, c, float(v), f)
        else:
            ws.write_string(r, c, str(v), f)

    def close(self) -> bytes:
        self.wb.close()
        return self.buf.getvalue()


def _width(header: str, values: Sequence[Any], fmt: str) -> float:
    if fmt in ("eur", "eur_full"):
        return max(14.0, min(len(header) * 0.8, 22.0))
    if fmt in ("ratio", "pct", "int", "bool", "num"):
        return max(9.0, min(len(header) * 0.8, 16.0))
    longest = max([len(str(v)) for v in values if v is not None] + [len(header) * 0.8, 8])
    if fmt == "wrap":
        return min(max(longest, 20), 70)
    return min(longest + 2, 60)


def _identity(run: rd.RunData, labels: Labels, scale: str) -> list[str]:
    """The lines under every sheet's title: the run, and the units of its amounts (cells hold
    exact euros; the number format shows them in ``scale``)."""
    s = run.summary
    lang = labels.lang
    rate = s.get("discount_rate")
    rate_text = format_pct(rate, lang, 2) if isinstance(rate, float) else tr("wb.schedule", lang)
    variant = f" · variant {s['variant']}" if s.get("variant") else ""
    return [
        f"{s['scenario']}{variant} · run {run.manifest.get('run_id', '')} · "
        + tr("wb.draws", lang)
        + f" {format_int(s['draws'], lang)} · seed {s['seed']} · "
        + tr("wb.perspective.word", lang)
        + f" {labels.perspective(s['perspective'])}",
        tr(
            "wb.identity.units",
            lang,
            price_year=s["price_year"],
            base_year=s["base_year"],
            rate=rate_text,
            horizon=s["horizon"],
            shown=tr(f"wb.scale.{scale}", lang),
        ),
    ]


def _sheet_claim(c: _Sheets) -> None:
    """Evidence and the 2021 claim side by side (a run made with its companion)."""
    lang, labels, b, ident, s = c.lang, c.labels, c.b, c.ident, c.s
    sides = s.get("side_by_side")
    if sides:
        ws = b.sheet("claim")
        top = b.heading(
            ws,
            tr("sec.claim", lang),
            [
                tr("wb.same_areas_and_budget_evidence", lang),
                *ident,
            ],
        )
        role = {
            "evidence": tr("role.evidence", lang),
            "reconstruction": tr("role.reconstruction", lang),
        }
        crow = []
        for p in ("welfare", "fiscal", "study"):
            for d in sides:
                x = d["perspectives"][p]
                crow.append(
                    {
                        "perspective": labels.perspective(p),
                        "scenario": f"{d['scenario']}: {role[d['role']]}",
                        "costs": x["costs_pv"]["p50"],
                        "b5": x["benefits_pv"]["p5"],
                        "b50": x["benefits_pv"]["p50"],
                        "b95": x["benefits_pv"]["p95"],
                        "n5": x["npv"]["p5"],
                        "n50": x["npv"]["p50"],
                        "n95": x["npv"]["p95"],
                        "r5": x["bcr"]["p5"],
                        "r50": x["bcr"]["p50"],
                        "r95": x["bcr"]["p95"],
                        "prob": x["prob_npv_positive"],
                    }
                )
        b.table(
            ws,
            "claim",
            top,
            [
                Col(tr("doc.perspective", lang), "perspective", "text", 16),
                Col("Scenario", "scenario", "text", 52),
                Col(labels.t("costs") + " P50", "costs", "eur"),
                Col(labels.t("benefits") + " P5", "b5", "eur"),
                Col(labels.t("benefits") + " P50", "b50", "eur"),
                Col(labels.t("benefits") + " P95", "b95", "eur"),
                Col(labels.t("npv.short") + " P5", "n5", "eur"),
                Col(labels.t("npv.short") + " P50", "n50", "eur"),
                Col(labels.t("npv.short") + " P95", "n95", "eur"),
                Col(labels.t("bcr.short") + " P5", "r5", "ratio"),
                Col(labels.t("bcr.short") + " P50", "r50", "ratio"),
                Col(labels.t("bcr.short") + " P95", "r95", "ratio"),
                Col(tr("doc.p_npv_0", lang), "prob", "pct"),
            ],
            crow,
        )


def _sheet_summary(c: _Sheets) -> None:
    """Summary."""
    run, lang, labels, b, ident, s, scale, stat_cols = (
        c.run,
        c.lang,
        c.labels,
        c.b,
        c.ident,
        c.s,
        c.scale,
        c.stat_cols,
    )
    ws = b.sheet("summary")
    top = b.heading(ws, rd.scenario_title(run, lang), ident)
    st_data = rd.summary_table(run, labels)
    st = st_data.frame
    unit_of = {
        "cost": "EUR",
        "benefit": "EUR",
        "total": "EUR",
        "npv": "EUR",
        "bcr": tr("wb.ratio", lang),
        "prob": tr("wb.probability", lang),
        "pm": "PM",
    }
    kind_of = {
        "cost": tr("wb.costs", lang),
        "benefit": tr("wb.benefit", lang),
        "total": tr("wb.total", lang),
        "npv": tr("wb.net", lang),
        "bcr": tr("wb.ratio", lang),
        "prob": tr("wb.probability", lang),
        "pm": tr("wb.not_monetised", lang),
    }
    fmt_of = {"bcr": "ratio", "prob": "pct"}
    rows, row_fmts = [], []
    for r in st.to_dict("records"):
        kind = r["kind"]
        rows.append(
            {
                "label": r["label"],
                "kind": kind_of[kind],
                "unit": unit_of[kind],
                **{k: (None if kind == "pm" else r[k]) for k in ("mean", "p5", "p50", "p95")},
            }
        )
        row_fmts.append(fmt_of.get(kind))
        if kind == "pm":
            rows[-1]["mean"] = st_data.meta.get("pm", {}).get(r["key"], "PM")
    cols = [
        Col(labels.t("item"), "label", "text"),
        Col(tr("wb.kind", lang), "kind", "text", 13),
        Col(labels.t("unit"), "unit", "text", 12),
        *stat_cols("eur"),
    ]
    first, _last = b.table(ws, "summary", top, cols, rows, row_fmts)
    streams = [i for i, r in enumerate(st.to_dict("records")) if r["kind"] == "benefit"]
    if streams:
        chart = b.wb.add_chart({"type": "bar"})
        name = sheet_name("summary", lang)
        r0, r1 = first + streams[0], first + streams[-1]
        chart.add_series(
            {
                "name": tr("wb.benefits_by_stream_mean", lang),
                "categories": [name, r0, 0, r1, 0],
                "values": [name, r0, 3, r1, 3],
                "fill": {"color": "#0072B2"},
                "gap": 60,
            }
        )
        chart.set_title(
            {
                "name": tr("wb.benefits_by_stream", lang)
                + f" ({labels.perspective(s['perspective'])})",
                "name_font": {"size": 12},
            }
        )
        chart.set_x_axis(
            {
                "name": tr(
                    "wb.summary.axis",
                    lang,
                    unit=table_unit(scale, lang),
                    price_year=s["price_year"],
                    base_year=s["base_year"],
                ),
                "num_format": excel_axis_format(scale),
                "major_gridlines": {"visible": True, "line": {"color": "#DDDDDD"}},
            }
        )
        chart.set_y_axis({"reverse": True})
        chart.set_legend({"none": True})
        chart.set_size({"width": 620, "height": 340})
        ws.insert_chart(top, len(cols) + 1, chart)
        # the summary and its chart print on one landscape page
        ws.set_landscape()
        ws.fit_to_pages(1, 1)
        ws.print_area(0, 0, max(top + len(rows) + 1, top + 18), len(cols) + 10)


def _sheet_perspectives(c: _Sheets) -> None:
    """Perspectives."""
    run, lang, labels, b, ident = c.run, c.lang, c.labels, c.b, c.ident
    ws = b.sheet("perspectives")
    top = b.heading(
        ws,
        tr("wb.three_perspectives_the_same", lang),
        [
            *ident,
            tr("wb.never_add_numbers_of_different", lang),
        ],
    )
    pt = rd.perspectives_table(run, labels)
    b.table(
        ws,
        "perspectives",
        top,
        [
            Col(tr("wb.perspective_id", lang), "perspective"),
            Col(tr("doc.perspective", lang), "label"),
            Col(tr("wb.costs_p50", lang), "costs_p50", "eur"),
            Col(tr("wb.benefits_p50", lang), "benefits_p50", "eur"),
            Col(tr("wb.npv_mean", lang), "npv_mean", "eur"),
            Col(tr("wb.npv_p5", lang), "npv_p5", "eur"),
            Col(tr("wb.npv_p50", lang), "npv_p50", "eur"),
            Col(tr("wb.npv_p95", lang), "npv_p95", "eur"),
            Col(tr("wb.bcr_p50", lang), "bcr_p50", "ratio"),
            Col("P(NPV > 0)", "prob_npv_positive", "pct"),
        ],
        pt.to_dict("records"),
    )


def _sheet_streams(c: _Sheets) -> None:
    """Streams."""
    lang, labels, b, ident, s = c.lang, c.labels, c.b, c.ident, c.s
    ws = b.sheet("streams")
    top = b.heading(ws, tr("wb.benefits_by_stream", lang), ident)
    p0 = s["perspective"]
    rows = []
    for sid, stt in s["by_stream"].items():
        row = {"stream": sid, "label": labels.stream(sid)}
        for p, pd_ in s["perspectives"].items():
            row[f"{p}_mean"] = pd_["by_stream"].get(sid, {}).get("mean")
        row.update({k: stt.get(k) for k in ("p5", "p50", "p95")})
        rows.append(row)
    cols = [Col("Id", "stream"), Col(labels.t("stream"), "label")]
    cols += [
        Col(f"{labels.perspective(p)}: {labels.t('mean').lower()}", f"{p}_mean", "eur")
        for p in s["perspectives"]
    ]
    cols += [Col(f"{labels.perspective(p0)}: {q.upper()}", q, "eur") for q in ("p5", "p50", "p95")]
    b.table(ws, "streams", top, cols, rows)


def _sheet_areas(c: _Sheets) -> None:
    """Areas."""
    run, lang, labels, b, ident = c.run, c.lang, c.labels, c.b, c.ident
    p0 = c.p0
    ws = b.sheet("areas")
    top = b.heading(ws, tr("wb.per_area", lang) + f" ({labels.perspective(p0)})", ident)
    ar = rd.areas(run, labels).frame
    b.table(
        ws,
        "areas",
        top,
        [
            Col("Id", "area"),
            Col(labels.t("area"), "label"),
            Col(tr("wb.benefits_mean", lang), "benefits", "eur"),
            Col(tr("wb.costs_mean", lang), "costs", "eur"),
            Col(tr("wb.npv_mean", lang), "npv", "eur"),
            Col(tr("wb.npv_p5", lang), "npv_p5", "eur"),
            Col(tr("wb.npv_p95", lang), "npv_p95", "eur"),
            Col(tr("wb.bcr_of_means", lang), "bcr", "ratio"),
        ],
        ar.to_dict("records"),
    )


def _sheet_measures(c: _Sheets) -> None:
    """Bottom-up measures (runs with a programme of interventions)."""
    lang, labels, b, ident, s = c.lang, c.labels, c.b, c.ident, c.s
    if s.get("by_intervention"):
        _programme_sheets(b, s, lang, labels, ident)


def _sheet_stakeholders(c: _Sheets) -> None:
    """Stakeholders."""
    run, lang, labels, b, ident = c.run, c.lang, c.labels, c.b, c.ident
    ws = b.sheet("stakeholders")
    top = b.heading(
        ws,
        tr("chart.stakeholders", lang),
        [
            *ident,
            tr("wb.stakeholder_view_every_effect", lang),
        ],
    )
    sh = rd.stakeholder_table(run, labels)
    b.table(
        ws,
        "stakeholders",
        top,
        [
            Col("Id", "stakeholder"),
            Col(labels.t("stakeholder"), "label"),
            Col(tr("wb.public_budget", lang), "public", "bool", 10),
            Col(tr("wb.gains_mean", lang), "gains_mean", "eur"),
            Col(
                tr("wb.transfers_paid_losses_mean", lang),
                "losses_mean",
                "eur",
            ),
            Col(
                tr("wb.programme_costs_mean", lang),
                "costs_mean",
                "eur",
            ),
            Col(tr("net_marker", lang), "net_mean", "eur"),
            Col(tr("wb.net_p5", lang), "net_p5", "eur"),
            Col(tr("wb.net_p50", lang), "net_p50", "eur"),
            Col(tr("wb.net_p95", lang), "net_p95", "eur"),
        ],
        sh.to_dict("records"),
    )


def _sheet_years(c: _Sheets) -> None:
    """Years."""
    run, lang, labels, b, ident, s = c.run, c.lang, c.labels, c.b, c.ident, c.s
    p0 = c.p0
    ws = b.sheet("years")
    top = b.heading(
        ws,
        tr("chart.fan", lang) + f" ({labels.perspective(p0)})",
        [
            *ident,
            tr("wb.years.note", lang, price_year=s["price_year"], base_year=s["base_year"]),
        ],
    )
    y = run.yearly
    wide: dict[int, dict[str, Any]] = {}
    series = {
        "net_flow": ("real", ("mean", "p5", "p50", "p95")),
        "discounted_net_flow": ("disc", ("mean", "p5", "p50", "p95")),
        "cumulative_discounted": ("cum", ("mean", "p10", "p50", "p90")),
    }
    for name, (short, qs) in series.items():
        for r in y[y["series"] == name].to_dict("records"):
            row = wide.setdefault(int(r["year"]), {"year": int(r["year"])})
            for q in qs:
                row[f"{short}_{q}"] = r[q]
    heads = {
        "real": tr("wb.real_undiscounted", lang),
        "disc": tr("wb.discounted", lang),
        "cum": tr("wb.cumulative_discounted", lang),
    }
    cols = [Col(labels.t("year"), "year", "int", 8)]
    for _name, (short, qs) in series.items():
        for q in qs:
            qn = labels.t("mean").lower() if q == "mean" else q.upper()
            cols.append(Col(f"{heads[short]}: {qn}", f"{short}_{q}", "eur", 16))
    b.table(ws, "years", top, cols, [wide[k] for k in sorted(wide)])


def _sheet_assumptions(c: _Sheets) -> None:
    """Assumptions."""
    run, lang, labels, b, ident = c.run, c.lang, c.labels, c.b, c.ident
    ws = b.sheet("assumptions")
    notes = [*ident]
    if run.spec_note:
        notes.append(run.spec_note)
    am = rd.assumptions(run, labels)
    if lang != "en" and english_left(am.to_dict("records")):
        notes.append(tr("as.english", lang))
    top = b.heading(ws, tr("sec.assumptions", lang), notes)
    rows, links = [], {}
    for i, r in enumerate(am.to_dict("records")):
        srcs = r["sources"] or []
        rows.append(
            {
                **r,
                "uncertain": bool(r["uncertain"]),
                "source": rd.source_text(srcs),
                "url": srcs[0]["url"] if srcs else None,
                "more_urls": " ".join(x["url"] for x in srcs[1:]) or None,
                "price_year": None if pd.isna(r["price_year"]) else int(r["price_year"]),
                "group": text_or(f"wb.group.{r['group']}", lang, str(r["group"])),
                "unit": unit_text(r["unit"], lang),
                "per": unit_text(r["per"], lang) or None,
                "origin": origin_text(r["origin"], lang),
                "origin_file": r["origin_file"] if isinstance(r["origin_file"], str) else None,
            }
        )
        if srcs:
            links[(i, "url")] = srcs[0]["url"]
    b.table(
        ws,
        "assumptions",
        top,
        [
            Col(tr("wb.group", lang), "group", "text", 11),
            Col(tr("wb.path", lang), "path", "text", 34),
            Col(labels.t("parameter"), "label", "wrap", 40),
            Col(labels.t("value"), "value", "wrap", 34),
            Col(labels.t("unit"), "unit", "text", 16),
            Col(labels.t("price_year"), "price_year", "int", 10),
            Col(tr("wb.per", lang), "per", "text", 7),
            Col(tr("wb.uncertain", lang), "uncertain", "bool", 10),
            Col(labels.t("source"), "source", "wrap", 50),
            Col("URL", "url", "text", 40),
            Col(tr("wb.more_urls", lang), "more_urls", "wrap", 30),
            Col(labels.t("assumption"), "assumption", "wrap", 60),
            Col(tr("wb.note", lang), "note", "wrap", 60),
            Col(tr("wb.calibrated", lang), "calibrated", "wrap", 40),
            Col(tr("wb.origin", lang), "origin", "text", 12),
            Col(tr("wb.origin_file", lang), "origin_file", "text", 40),
        ],
        rows,
        links=links,
    )


def _sheet_deciding(c: _Sheets) -> None:
    """Deciding (only with decision runs: mkba report --decide)."""
    run, lang, b = c.run, c.lang, c.b
    if run.cache.get("decisions"):
        from mkba.report.decide import workbook_rows

        ws = b.sheet("deciding")
        top = b.heading(
            ws,
            tr("sec.deciding", lang),
            [tr("wb.from_the_decision_runs_mkba_voi", lang)],
        )
        b.table(
            ws,
            "deciding",
            top,
            [
                Col(tr("wb.analysis", lang), "analysis", "text", 24),
                Col(tr("wb.item", lang), "item", "wrap", 60),
                Col(tr("decide.sec.amount", lang), "amount", "eur", 16),
                Col(tr("wb.share_or_probability", lang), "share", "pct", 14),
                Col(tr("value", lang), "value", "num", 14),
            ],
            workbook_rows(run.cache["decisions"], lang),
        )


def _sheet_manifest(c: _Sheets) -> None:
    """Manifest."""
    run, lang, labels, b = c.run, c.lang, c.labels, c.b
    ws = b.sheet("manifest")
    top = b.heading(
        ws,
        tr("wb.how_this_run_was_made", lang),
        [tr("wb.from_manifest_json_of_the_run", lang)],
    )
    b.table(
        ws,
        "manifest",
        top,
        [
            Col(tr("wb.key", lang), "key", "text", 36),
            Col(labels.t("value"), "value", "wrap", 90),
        ],
        manifest_rows(run.manifest),
    )


@dataclass
class _Sheets:
    """What every sheet of :func:`build_workbook` reads: the run, its words and the book."""

    run: rd.RunData
    lang: str

    def __post_init__(self) -> None:
        self.labels = self.run.labels(self.lang)
        money_rows = rd.summary_table(self.run, self.labels).frame
        self.money_rows = money_rows[money_rows["kind"].isin(["cost", "benefit", "total", "npv"])]
        self.scale, self.digits = table_scale(
            list(self.money_rows["mean"]) + list(self.money_rows["p50"])
        )
        self.b = _Book(self.lang, self.scale, self.digits)
        self.ident = _identity(self.run, self.labels, self.scale)
        self.s = self.run.summary
        self.p0 = self.s["perspective"]

    def stat_cols(self, fmt: str) -> list[Col]:
        """Mean, P5, P50 and P95 columns in format ``fmt``."""
        return [
            Col(self.labels.t("mean"), "mean", fmt),
            Col("P5", "p5", fmt),
            Col("P50", "p50", fmt),
            Col("P95", "p95", fmt),
        ]


SHEET_BUILDERS = (
    _sheet_claim,
    _sheet_summary,
    _sheet_perspectives,
    _sheet_streams,
    _sheet_areas,
    _sheet_measures,
    _sheet_stakeholders,
    _sheet_years,
    _sheet_assumptions,
    _sheet_deciding,
    _sheet_manifest,
)
"""The sheets in workbook order; each writes nothing when its data is absent."""


def build_workbook(run: rd.RunData, lang: str = "en") -> bytes:
    """The workbook of a run as bytes (see the module docstring)."""
    c = _Sheets(run, check_lang(lang))
    for sheet in SHEET_BUILDERS:
        sheet(c)
    return c.b.close()


def manifest_rows(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifest as key/value rows (nested keys dotted; lists joined; running means left out)."""
    rows: list[dict[str, Any]] = []

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                if k == "running":
                    continue
                walk(f"{prefix}.{k}" if prefix else str(k), x)
        elif isinstance(v, list):
            rows.append({"key": prefix, "value": ", ".join(str(x) for x in v)})
        elif isinstance(v, bool) or v is None:
            rows.append({"key": prefix, "value": json.dumps(v)})
        else:
            rows.append({"key": prefix, "value": v})

    walk("", manifest)
    return rows


def write_workbook(run: rd.RunData, path: Path, lang: str = "en") -> Path:
    """Build the workbook and write it atomically to ``path``."""
    atomic_write_bytes(Path(path), build_workbook(run, lang))
    return Path(path)


def _programme_sheets(
    b: _Book, s: dict[str, Any], lang: str, labels: Labels, ident: list[str]
) -> None:
    """Sheets ``measures`` (money per intervention) and ``physical`` (participants and outcome
    units changed per intervention, area and year)."""
    from mkba.report import programme as prog

    p0 = labels.perspective(s["perspective"])
    ws = b.sheet("measures")
    top = b.heading(ws, tr("wb.per_measure", lang) + f" ({p0})", ident)
    b.table(
        ws,
        "measures",
        top,
        [
            Col("Id", "id"),
            Col(tr("programme.measure", lang), "label"),
            Col(tr("programme.participants", lang), "participants", "int"),
            Col(tr("wb.planned_spend", lang), "planned", "eur"),
            Col(tr("wb.costs_mean", lang), "costs", "eur"),
            Col(tr("wb.benefits_mean", lang), "benefits", "eur"),
            Col(tr("wb.npv_mean", lang), "npv", "eur"),
            Col(tr("wb.npv_p5", lang), "npv_p5", "eur"),
            Col(tr("wb.npv_p95", lang), "npv_p95", "eur"),
            Col(tr("wb.bcr_p50", lang), "bcr", "ratio"),
            Col(tr("doc.p_npv_0", lang), "prob", "pct"),
            Col(
                tr("wb.evidence_grade_design_haircut", lang),
                "evidence",
                "wrap",
                60,
            ),
        ],
        prog.workbook_rows(s, lang, labels.stream),
    )
    ws = b.sheet("physical")
    n = s["physical"]["draws"]
    top = b.heading(
        ws,
        tr("sheet.physical", lang),
        [
            *ident,
            tr("wb.physical.note", lang, n=format_int(n, lang)),
        ],
    )
    rows = []
    for r in s["physical"]["rows"]:
        outcome = r["outcome"]
        rows.append(
            {
                **r,
                "measure": prog.measure_label(s["by_intervention"][r["intervention"]], lang),
                "outcome_label": tr("programme.participants", lang)
                if outcome == "participants"
                else labels.stream(outcome),
                "unit_label": prog.unit_text(r["unit"], lang),
            }
        )
    b.table(
        ws,
        "physical",
        top,
        [
            Col("Id", "intervention"),
            Col(tr("programme.measure", lang), "measure"),
            Col(tr("programme.outcome", lang), "outcome_label"),
            Col(tr("unit", lang), "unit_label"),
            Col(tr("area", lang), "area"),
            Col(tr("year", lang), "year", "int"),
            Col(tr("mean", lang), "mean", "num"),
            Col("P5", "p5", "num"),
            Col("P50", "p50", "num"),
            Col("P95", "p95", "num"),
        ],
        rows,
    )
