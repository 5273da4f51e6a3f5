"""Rich tables of a run summary (presentation only)."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from mkba.cli.common import Money, num, stat_values
from mkba.report.format import CLI, format_eur
from mkba.results import share_pay_back

PERSPECTIVE_NOTES = {
    "study": "as the 2021 headline: benefit savings count as a social benefit; public costs",
    "welfare": "CPB/PBL MKBA: real resource effects only; transfers net to zero; all payers' costs",
    "fiscal": "public budgets only (national government, municipalities, Zvw)",
}


def _money_row(t: Table, label: str, s: dict[str, float], m: Money) -> None:
    t.add_row(label, m(s["mean"]), m(s["p5"]), m(s["p50"]), m(s["p95"]))


def shown_perspectives(doc: dict[str, Any]) -> list[str]:
    """The perspectives a summary shows: welfare and fiscal, and ``study`` only when the
    scenario declares it as its perspective."""
    return [p for p in doc["perspectives"] if p != "study" or doc["perspective"] == "study"]


def has_flows(doc: dict[str, Any], k: str) -> bool:
    """Whether stakeholder ``k`` gains or pays anything in any draw."""
    return any(
        abs(doc[key][k].get(stat, 0.0)) > 0
        for key in ("by_stakeholder_benefits", "by_stakeholder_costs")
        for stat in ("mean", "p5", "p95")
    )


ROLE_TITLES = {
    "evidence": "evidence (effects at their priors, no calibration)",
    "reconstruction": "reconstruction of the 2021 claim (effects calibrated to the headline)",
}


def side_by_side_renderable(sides: list[dict[str, Any]]) -> Group:
    """The evidence and the reconstruction of the 2021 claim, welfare first, then fiscal, then
    the study perspective (the perspective of the 2021 headline)."""
    m = Money(
        stat_values(
            *(
                d["perspectives"][p][k]
                for d in sides
                for p in ("welfare", "fiscal", "study")
                for k in ("costs_pv", "benefits_pv", "npv")
            ),
            keys=("p5", "p50", "p95"),
        )
    )
    t = Table(
        title=f"Evidence first, the 2021 claim second ({m.unit}, P50; NPV and BCR with P5-P95; "
        "same areas and budget)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for col in ("perspective", "scenario", "costs", "benefits", "NPV", "BCR", "P>0"):
        # fold, never cut: a clipped interval ("0.24-0.7...") would misstate a number
        t.add_column(
            col,
            justify="left" if col in ("perspective", "scenario") else "right",
            overflow="fold",
            min_width=max(len(d["role"]) for d in sides) if col == "scenario" else None,
        )
    for p in ("welfare", "fiscal", "study"):
        for d in sides:
            x = d["perspectives"][p]
            t.add_row(
                p,
                d["role"],
                m(x["costs_pv"]["p50"]),
                m(x["benefits_pv"]["p50"]),
                f"{m(x['npv']['p50'])} ({m(x['npv']['p5'])} to {m(x['npv']['p95'])})",
                f"{num(x['bcr']['p50'])} ({CLI.interval(x['bcr']['p5'], x['bcr']['p95'], num)})",
                CLI.pct(x["prob_npv_positive"], 0),
            )
    year = sides[0]["implied_physical"]["year_full_strength"]
    ph = Table(
        title=f"What each needs in physical units ({year}, full strength, summed over the areas; "
        "P50 with P5-P95)",
        title_justify="left",
    )
    ph.add_column("effect")
    for d in sides:
        ph.add_column(d["role"], justify="right")
    ph.add_column("baseline", justify="right")
    for s, v in sides[0]["implied_physical"]["streams"].items():
        cells = []
        for d in sides:
            q = d["implied_physical"]["streams"][s]["at_full_strength"]
            cells.append(f"{CLI.count(q['p50'])} ({CLI.interval(q['p5'], q['p95'], CLI.count)})")
        ph.add_row(v["what"], *cells, CLI.count(v["baseline"]["p50"]))
    notes = [f"  {d['role']}: {d['scenario']}, {ROLE_TITLES[d['role']]}" for d in sides]
    for d in sides:
        for s, v in (d.get("switching_welfare") or {}).items():
            notes.append(
                f"  Welfare NPV positive on average only if (this effect alone, all else as drawn) "
                f"the {d['role']} scenario reached "
                f"{CLI.count(v['needed_at_full_strength'])} {sides[0]['implied_physical']['streams'][s]['what']}"
                f" in {year} (it gives {CLI.count(v['mean_at_full_strength'])})."
            )
        h = d.get("headline_probability")
        if h and not d["calibrated"]:
            notes.append(
                f"  Of {CLI.count(h['draws'])} evidence draws, {CLI.pct(h['share_both'], 2)} reach both study "
                f"benefits >= {format_eur(h['benefits_target'], minus='-')} and benefit savings "
                f">= {format_eur(h['benefit_savings_target'], minus='-')} (the 2021 headline)."
            )
    return Group(t, ph, Text("\n".join(notes)))


def summary_renderable(doc: dict[str, Any]) -> Group:
    p = doc["perspective"]
    head = Text(
        f"{doc['title']}\n"
        f"scenario {doc['scenario']}{(':' + doc['variant']) if doc.get('variant') else ''}  "
        f"perspective {p}  draws {CLI.count(doc['draws'])}  seed {doc['seed']}  "
        f"EUR, price level {doc['price_year']}, present value at {doc['base_year']}, "
        f"discount rate {doc['discount_rate'] if not isinstance(doc['discount_rate'], dict) else 'schedule'}, "
        f"horizon {doc['horizon']}"
    )
    mm = Money(stat_values(doc["costs_pv"], doc["benefits_pv"], doc["npv"]))
    main = Table(
        title=f"Headline, {mm.unit} ({p} perspective: {PERSPECTIVE_NOTES[p]})",
        title_justify="left",
    )
    for col in ("", "mean", "P5", "P50", "P95"):
        main.add_column(col, justify="right" if col else "left")
    _money_row(main, "Costs (PV)", doc["costs_pv"], mm)
    _money_row(main, "Benefits (PV)", doc["benefits_pv"], mm)
    _money_row(main, "Net present value", doc["npv"], mm)
    b = doc["bcr"]
    main.add_row("Benefit-cost ratio", num(b["mean"]), num(b["p5"]), num(b["p50"]), num(b["p95"]))
    main.add_row("P(NPV > 0)", CLI.pct(doc["prob_npv_positive"], 1), "", "", "")
    pb = doc["payback_year"]
    share = share_pay_back(pb)
    main.add_row(
        f"Payback year (of the {CLI.pct(share, 0)} of draws that pay back)",
        "",
        CLI.year(pb["p5"]),
        CLI.year(pb["p50"]),
        CLI.year(pb["p95"]),
    )
    ir = doc.get("irr")
    if ir is not None:

        def pct(x: float) -> str:
            return "none" if x != x else CLI.pct(x, 1)

        notes = [f"{CLI.pct(ir['share_none'], 0)} none"] if ir["share_none"] > 0 else []
        if ir["share_multiple"] > 0:
            notes.append(f"{CLI.pct(ir['share_multiple'], 0)} several roots")
        main.add_row(
            "Internal rate of return",
            "",
            pct(ir["p5"]),
            pct(ir["p50"]),
            pct(ir["p95"]) + (f" ({', '.join(notes)})" if notes else ""),
        )
    ms = Money(stat_values(*doc["by_stream"].values()))
    streams = Table(title=f"Benefits by stream ({p}), {ms.unit}", title_justify="left")
    for col in ("stream", "mean", "P5", "P50", "P95"):
        streams.add_column(col, justify="right" if col != "stream" else "left", overflow="fold")
    for s, st in sorted(doc["by_stream"].items(), key=lambda kv: -kv[1]["p50"]):
        _money_row(streams, s, st, ms)
    shown = shown_perspectives(doc)
    mp = Money(
        stat_values(
            *(doc["perspectives"][n][k] for n in shown for k in ("costs_pv", "benefits_pv", "npv")),
            keys=("p50",),
        )
    )
    persp = Table(
        title=f"The same draws in every perspective (P50, {mp.unit}; BCR)", title_justify="left"
    )
    for col in ("perspective", "costs", "benefits", "NPV", "BCR", "P(NPV>0)"):
        persp.add_column(col, justify="left" if col == "perspective" else "right")
    for name in shown:
        d = doc["perspectives"][name]
        persp.add_row(
            name,
            mp(d["costs_pv"]["p50"]),
            mp(d["benefits_pv"]["p50"]),
            mp(d["npv"]["p50"]),
            num(d["bcr"]["p50"]),
            CLI.pct(d["prob_npv_positive"], 0),
        )
    meanings = Text("\n".join(f"  {name}: {PERSPECTIVE_NOTES[name]}" for name in shown))
    tr = doc.get("transfers_in_study_benefits")
    note = None
    if tr is not None and p == "study":
        note = Text(
            f"Of the study-perspective benefits, {format_eur(tr['p50'], minus='-')} (P50) are transfers "
            "(benefit payments, taxes): a gain to public budgets, a loss to residents, zero for welfare."
        )
    holders = [k for k in doc["by_stakeholder"] if has_flows(doc, k)]
    mk = Money(
        stat_values(*(doc["by_stakeholder"][k] for k in holders), keys=("p5", "p50", "p95"))
        + stat_values(
            *(
                doc[key][k]
                for k in holders
                for key in ("by_stakeholder_benefits", "by_stakeholder_costs")
            ),
            keys=("p50",),
        )
    )
    sh = Table(
        title=f"Who pays and who gains, {mk.unit} (net = gains - costs; P50 unless marked)",
        title_justify="left",
    )
    for col in ("stakeholder", "gains", "costs", "net", "net P5", "net P95"):
        sh.add_column(col, justify="left" if col == "stakeholder" else "right", overflow="fold")
    for k in holders:
        v = doc["by_stakeholder"][k]
        sh.add_row(
            k,
            mk(doc["by_stakeholder_benefits"][k]["p50"]),
            mk(doc["by_stakeholder_costs"][k]["p50"]),
            mk(v["p50"]),
            mk(v["p5"]),
            mk(v["p95"]),
        )
    parts: list[Any] = [head]
    if doc.get("side_by_side"):
        parts.append(side_by_side_renderable(doc["side_by_side"]))
    parts += [main, streams, persp, meanings]
    if note is not None:
        parts.append(note)
    parts.append(sh)
    if doc.get("by_intervention"):
        parts += programme_renderables(doc)
    conv = doc.get("convergence")
    if conv:
        parts.append(
            Text(
                f"Monte Carlo: standard error of mean NPV {format_eur(conv['se_mean_npv'], minus='-')} "
                f"({'converged' if conv['converged'] else 'NOT converged: use more draws'}: {conv['criterion']})"
            )
        )
    if doc.get("output_dir"):
        parts.append(Text(f"written to {doc['output_dir']}"))
    return Group(*parts)


def programme_renderables(doc: dict[str, Any]) -> list[Any]:
    """Tables of a bottom-up programme: money per intervention, physical effects."""
    p = doc["perspective"]
    items = sorted(doc["by_intervention"].items(), key=lambda kv: -kv[1]["npv"]["p50"])
    _m = Money(
        stat_values(
            *(d[k] for _, d in items for k in ("costs_pv", "benefits_pv", "npv")),
            keys=("p5", "p50", "p95"),
        )
    )
    t = Table(
        title=f"By intervention ({p}; {_m.unit}, PV; ranked by NPV P50)", title_justify="left"
    )
    for col in (
        "intervention",
        "participants",
        "costs",
        "benefits",
        "NPV",
        "NPV P5",
        "NPV P95",
        "BCR",
        "P(NPV>0)",
    ):
        t.add_column(col, justify="left" if col == "intervention" else "right", overflow="fold")
    for key, d in items:
        t.add_row(
            key,
            CLI.count(d["participants"]),
            _m(d["costs_pv"]["p50"]),
            _m(d["benefits_pv"]["p50"]),
            _m(d["npv"]["p50"]),
            _m(d["npv"]["p5"]),
            _m(d["npv"]["p95"]),
            num(d["bcr"]["p50"]),
            CLI.pct(d["prob_npv_positive"], 0),
        )
    ph = Table(
        title="Physical effects (summed over areas and years: unit-years changed)",
        title_justify="left",
    )
    for col in ("intervention", "outcome", "unit", "mean", "P5", "P50", "P95"):
        ph.add_column(
            col, justify="left" if col in ("intervention", "outcome", "unit") else "right"
        )
    for key, d in doc["physical"]["totals"].items():
        ph.add_row(key, "participants", "participant", CLI.count(d["participants"]), "", "", "")
        for s, st in d.items():
            if s == "participants":
                continue
            ph.add_row(
                "",
                s,
                st["unit"],
                CLI.num(st["mean"], 1),
                CLI.num(st["p5"], 1),
                CLI.num(st["p50"], 1),
                CLI.num(st["p95"], 1),
            )
    return [t, ph]
