"""Report and workbook pieces of a bottom-up programme (docs/model.md §3): the money table per
intervention and the physical-effects table beside it. Self-contained, so that the report and
workbook modules only call in here when a run has ``by_intervention`` in its summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mkba.report.format import (
    format_eur,
    format_eur_range,
    format_int,
    format_number,
    format_pct,
    format_ratio,
)
from mkba.texts import text as tr
from mkba.texts import text_or

if TYPE_CHECKING:  # pragma: no cover
    from mkba.report.document import Cell


def unit_text(unit: str, lang: str) -> str:
    """A unit of a physical effect in the reader's language (``person-year`` -> ``persoonsjaar``)."""
    return text_or(f"programme.unit.{unit}", lang, unit)


def measure_label(d: dict[str, Any], lang: str) -> str:
    return str(d.get("label_nl") if lang == "nl" else d.get("label")) or ""


def money_rows(s: dict[str, Any], lang: str) -> tuple[list[str], list[list[Cell]]]:
    head = [
        tr(f"programme.{k}", lang) for k in ("measure", "participants", "costs", "benefits", "npv")
    ]
    head += [
        tr("programme.npv", lang) + " P5–P95",
        tr("programme.bcr", lang),
        tr("doc.p_npv_0", lang),
    ]
    rows: list[list[Cell]] = []
    items = sorted(s["by_intervention"].items(), key=lambda kv: -kv[1]["npv"]["p50"])
    for _key, d in items:
        rows.append(
            [
                measure_label(d, lang),
                format_int(d["participants"], lang),
                format_eur(d["costs_pv"]["p50"], lang, scale="m", digits=2),
                format_eur(d["benefits_pv"]["p50"], lang, scale="m", digits=2),
                format_eur(d["npv"]["p50"], lang, scale="m", digits=2),
                format_eur_range(d["npv"]["p5"], d["npv"]["p95"], lang, scale="m", digits=2),
                format_ratio(d["bcr"]["p50"], lang),
                format_pct(d["prob_npv_positive"], lang, 0),
            ]
        )
    return head, rows


def physical_rows(
    s: dict[str, Any], lang: str, stream_label: Any
) -> tuple[list[str], list[list[Cell]]]:
    head = [
        tr("programme.measure", lang),
        tr("programme.outcome", lang),
        tr("programme.unit", lang),
    ]
    head += ["P50", "P5–P95"]
    rows: list[list[Cell]] = []
    for key, d in s["physical"]["totals"].items():
        label = measure_label(s["by_intervention"][key], lang)
        rows.append(
            [
                label,
                tr("programme.participants", lang),
                unit_text("participant", lang),
                format_int(d["participants"], lang),
                "",
            ]
        )
        for sid, st in d.items():
            if sid == "participants":
                continue
            rows.append(
                [
                    "",
                    stream_label(sid),
                    unit_text(st["unit"], lang),
                    format_number(st["p50"], lang, 1),
                    f"{format_number(st['p5'], lang, 1)}–{format_number(st['p95'], lang, 1)}",
                ]
            )
    return head, rows


def workbook_rows(s: dict[str, Any], lang: str, stream_label: Any) -> list[dict[str, Any]]:
    out = []
    for key, d in s["by_intervention"].items():
        ev = "; ".join(
            f"{stream_label(sid)}: {e['grade_nl']} ({tr('design.' + e['design'], lang)}, "
            f"-{format_pct(e['haircut'], lang, 0)})"
            for sid, e in d["evidence"].items()
        )
        out.append(
            {
                "id": key,
                "label": measure_label(d, lang),
                "participants": d["participants"],
                "planned": d["planned_spend"],
                "costs": d["costs_pv"]["mean"],
                "benefits": d["benefits_pv"]["mean"],
                "npv": d["npv"]["mean"],
                "npv_p5": d["npv"]["p5"],
                "npv_p95": d["npv"]["p95"],
                "bcr": d["bcr"]["p50"],
                "prob": d["prob_npv_positive"],
                "evidence": ev,
            }
        )
    return out
