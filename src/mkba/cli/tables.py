"""Rich tables of a run summary (presentation only)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from mkba.cli.common import bn, num

PERSPECTIVE_NOTES = {
    "study": "as the 2021 headline: benefit savings count as a social benefit; public costs",
    "welfare": "CPB/PBL MKBA: real resource effects only; transfers net to zero; all payers' costs",
    "fiscal": "public budgets only (national government, municipalities, Zvw)",
}


def _year(x: float | None) -> str:
    return "-" if x is None or x != x else f"{x:.0f}"


def _money_row(t: Table, label: str, s: dict[str, float]) -> None:
    t.add_row(label, bn(s["mean"]), bn(s["p5"]), bn(s["p50"]), bn(s["p95"]))


def summary_renderable(doc: dict[str, Any]) -> Group:
    p = doc["perspective"]
    head = Text(
        f"{doc['title']}\n"
        f"scenario {doc['scenario']}{(':' + doc['variant']) if doc.get('variant') else ''}  "
        f"perspective {p}  draws {doc['draws']:,}  seed {doc['seed']}  "
        f"EUR bn, price level {doc['price_year']}, present value at {doc['base_year']}, "
        f"discount rate {doc['discount_rate'] if not isinstance(doc['discount_rate'], dict) else 'schedule'}, "
        f"horizon {doc['horizon']}"
    )
    main = Table(title=f"Headline ({p} perspective: {PERSPECTIVE_NOTES[p]})", title_justify="left")
    for col in ("", "mean", "P5", "P50", "P95"):
        main.add_column(col, justify="right" if col else "left")
    _money_row(main, "Costs (PV)", doc["costs_pv"])
    _money_row(main, "Benefits (PV)", doc["benefits_pv"])
    _money_row(main, "Net present value", doc["npv"])
    b = doc["bcr"]
    main.add_row("Benefit-cost ratio", num(b["mean"]), num(b["p5"]), num(b["p50"]), num(b["p95"]))
    main.add_row("P(NPV > 0)", f"{doc['prob_npv_positive']:.1%}", "", "", "")
    pb = doc["payback_year"]
    main.add_row(
        "Payback year",
        "",
        _year(pb["p5"]),
        _year(pb["p50"]),
        _year(pb["p95"])
        + (
            f" ({1 - pb.get('share_defined', 1):.0%} never)"
            if pb.get("share_defined", 1) < 1
            else ""
        ),
    )
    ir = doc.get("irr")
    if ir is not None:

        def pct(x: float) -> str:
            return "none" if x != x else f"{x:.1%}"

        notes = [f"{ir['share_none']:.0%} none"] if ir["share_none"] > 0 else []
        if ir["share_multiple"] > 0:
            notes.append(f"{ir['share_multiple']:.0%} several roots")
        main.add_row(
            "Internal rate of return",
            "",
            pct(ir["p5"]),
            pct(ir["p50"]),
            pct(ir["p95"]) + (f" ({', '.join(notes)})" if notes else ""),
        )
    streams = Table(title=f"Benefits by stream ({p})", title_justify="left")
    for col in ("stream", "mean", "P5", "P50", "P95"):
        streams.add_column(col, justify="right" if col != "stream" else "left")
    for s, st in sorted(doc["by_stream"].items(), key=lambda kv: -kv[1]["p50"]):
        _money_row(streams, s, st)
    persp = Table(
        title="The same draws in every perspective (P50, EUR bn; BCR)", title_justify="left"
    )
    for col in ("perspective", "costs", "benefits", "NPV", "BCR", "P(NPV>0)"):
        persp.add_column(col, justify="left" if col == "perspective" else "right")
    for name, d in doc["perspectives"].items():
        persp.add_row(
            name,
            bn(d["costs_pv"]["p50"]),
            bn(d["benefits_pv"]["p50"]),
            bn(d["npv"]["p50"]),
            num(d["bcr"]["p50"]),
            f"{d['prob_npv_positive']:.0%}",
        )
    meanings = Text(
        "\n".join(f"  {name}: {PERSPECTIVE_NOTES[name]}" for name in doc["perspectives"])
    )
    tr = doc.get("transfers_in_study_benefits")
    note = None
    if tr is not None and p == "study":
        note = Text(
            f"Of the study-perspective benefits, EUR {bn(tr['p50'])} bn (P50) are transfers "
            "(benefit payments, taxes): a gain to public budgets, a loss to residents, zero for welfare."
        )
    sh = Table(
        title="Who pays and who gains (all perspectives' draws; net = gains - costs, P50)",
        title_justify="left",
    )
    for col in ("stakeholder", "gains", "costs", "net", "net P5", "net P95"):
        sh.add_column(col, justify="left" if col == "stakeholder" else "right")
    for k, v in doc["by_stakeholder"].items():
        sh.add_row(
            k,
            bn(doc["by_stakeholder_benefits"][k]["p50"]),
            bn(doc["by_stakeholder_costs"][k]["p50"]),
            bn(v["p50"]),
            bn(v["p5"]),
            bn(v["p95"]),
        )
    parts: list[Any] = [head, main, streams, persp, meanings]
    if note is not None:
        parts.append(note)
    parts.append(sh)
    conv = doc.get("convergence")
    if conv:
        parts.append(
            Text(
                f"Monte Carlo: standard error of mean NPV EUR {bn(conv['se_mean_npv'], 3)} bn "
                f"({'converged' if conv['converged'] else 'NOT converged: use more draws'}: {conv['criterion']})"
            )
        )
    if doc.get("output_dir"):
        parts.append(Text(f"written to {doc['output_dir']}"))
    return Group(*parts)
