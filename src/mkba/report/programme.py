"""Report and workbook pieces of a bottom-up programme (docs/model.md §3): the money table per
intervention and the physical-effects table beside it. Self-contained, so that the report and
workbook modules only call in here when a run has ``by_intervention`` in its summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mkba.report.format import format_eur, format_eur_range, format_int, format_pct, format_ratio

if TYPE_CHECKING:  # pragma: no cover
    from mkba.report.document import Cell

WORDS: dict[str, tuple[str, str]] = {
    "sec": ("Measures: money and physical effects", "Maatregelen: geld en fysieke effecten"),
    "intro": (
        "Results per measure (bottom-up: participants x effect per participant), {p} perspective, "
        "present values. Participants follow from budget and planned cost per participant; "
        "effects are net of deadweight, attribution, displacement and the evidence haircut.",
        "Resultaten per maatregel (bottom-up: deelnemers x effect per deelnemer), perspectief {p}, "
        "contante waarden. Het aantal deelnemers volgt uit budget en geplande kosten per deelnemer; "
        "effecten zijn na aftrek van nuleffect (deadweight), toerekening, verdringing en de korting "
        "voor de bewijskracht.",
    ),
    "measure": ("Measure", "Maatregel"),
    "participants": ("Participants", "Deelnemers"),
    "costs": ("Costs", "Kosten"),
    "benefits": ("Benefits", "Baten"),
    "npv": ("NPV", "Saldo"),
    "bcr": ("BCR", "B/K"),
    "prob": ("P(NPV > 0)", "Kans saldo > 0"),
    "cap_money": (
        "Per measure, P50 (NPV also P5-P95); ranked by NPV.",
        "Per maatregel, P50 (saldo ook P5-P95); gerangschikt naar saldo.",
    ),
    "outcome": ("Outcome", "Effect"),
    "unit": ("Unit", "Eenheid"),
    "cap_phys": (
        "Physical effects summed over areas and years (unit-years: e.g. person-years off "
        "bijstand), mean and P5-P95 over {n} draws.",
        "Fysieke effecten opgeteld over gebieden en jaren (eenheid-jaren: bijvoorbeeld "
        "persoonsjaren minder bijstand), gemiddelde en P5-P95 over {n} trekkingen.",
    ),
    "evidence": ("Evidence", "Bewijskracht"),
}

DESIGNS: dict[str, tuple[str, str]] = {
    "meta_analysis": ("meta-analysis", "meta-analyse"),
    "rct": ("RCT", "RCT"),
    "quasi_experiment": ("quasi-experiment", "quasi-experiment"),
    "before_after": ("before-after", "voor- en nameting"),
    "cost_benefit_study": ("cost-benefit study", "MKBA-studie"),
    "expert_judgement": ("expert judgement", "expertoordeel"),
    "assumption": ("assumption", "aanname"),
}

UNITS_NL = {
    "person": "persoon",
    "client": "cliënt",
    "patient": "patiënt",
    "crime": "misdrijf",
    "dwelling": "woning",
    "person-year": "persoonsjaar",
    "client-year": "cliëntjaar",
    "crime-year": "misdrijf",
    "patient-year": "patiëntjaar",
    "dwelling-year": "woningjaar",
    "participant": "deelnemer",
}


def word(key: str, lang: str, **kw: Any) -> str:
    text = WORDS[key][1 if lang == "nl" else 0]
    return text.format(**kw) if kw else text


def unit_text(unit: str, lang: str) -> str:
    return UNITS_NL.get(unit, unit) if lang == "nl" else unit


def _num(x: float, lang: str) -> str:
    s = f"{x:,.1f}"
    return s.replace(",", "_").replace(".", ",").replace("_", ".") if lang == "nl" else s


def measure_label(d: dict[str, Any], lang: str) -> str:
    return str(d.get("label_nl") if lang == "nl" else d.get("label")) or ""


def money_rows(s: dict[str, Any], lang: str) -> tuple[list[str], list[list[Cell]]]:
    head = [word(k, lang) for k in ("measure", "participants", "costs", "benefits", "npv")]
    head += [word("npv", lang) + " P5–P95", word("bcr", lang), word("prob", lang)]
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
    head = [word("measure", lang), word("outcome", lang), word("unit", lang)]
    head += ["P50", "P5–P95"]
    rows: list[list[Cell]] = []
    for key, d in s["physical"]["totals"].items():
        label = measure_label(s["by_intervention"][key], lang)
        rows.append(
            [
                label,
                word("participants", lang),
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
                    _num(st["p50"], lang),
                    f"{_num(st['p5'], lang)}–{_num(st['p95'], lang)}",
                ]
            )
    return head, rows


def workbook_rows(s: dict[str, Any], lang: str, stream_label: Any) -> list[dict[str, Any]]:
    out = []
    li = 1 if lang == "nl" else 0
    for key, d in s["by_intervention"].items():
        ev = "; ".join(
            f"{stream_label(sid)}: {e['grade_nl']} ({DESIGNS[e['design']][li]}, "
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
