"""The business-case report as a document of plain blocks, rendered as HTML or Markdown.

:func:`build_document` decides what the report says (from the run's data); the renderers in
:mod:`mkba.report.html` and :mod:`mkba.report.markdown` decide only how it looks. Sections:
headline; three perspectives; who pays and who gains; uncertainty; what drives the result;
assumptions and sources; how to reproduce the run.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mkba.report import data as rd
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


Inline = str | Link | Strong | Code | Small
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

_W: dict[str, tuple[str, str]] = {
    "doc.title": (
        "Social cost-benefit analysis: {title}",
        "Maatschappelijke kosten-batenanalyse: {title}",
    ),
    "doc.subtitle": (
        "Scenario {scenario}{variant} · run {run_id} · {draws} Monte Carlo draws · mkba {version}",
        "Scenario {scenario}{variant} · run {run_id} · {draws} Monte Carlo-trekkingen · mkba {version}",
    ),
    "sec.claim": (
        "Evidence first, the 2021 claim second",
        "Eerst het bewijs, dan de claim van 2021",
    ),
    "claim.intro": (
        "The published claim for these areas (2021: about EUR 5.8 bn of benefits for EUR 3.8 bn "
        "of public money, benefit savings above EUR 1.8 bn) is reproduced only by calibrating the "
        "effect sizes to it. {factors} The evidence scenario keeps every effect at what the "
        "cited evaluations support (its prior, no calibration). Both are shown below, the "
        "welfare perspective (CPB/PBL) first, then the public budgets, then the perspective of "
        "the 2021 study, which counts benefit savings as a social benefit.",
        "De gepubliceerde claim voor deze gebieden (2021: ongeveer EUR 5,8 mld aan baten voor "
        "EUR 3,8 mld publiek geld, besparing op uitkeringen boven EUR 1,8 mld) is alleen te "
        "reproduceren door de effectgroottes daarop te kalibreren. {factors} Het bewijsscenario "
        "houdt elk effect op wat de aangehaalde evaluaties ondersteunen (de a-priori-verdeling, "
        "geen kalibratie). Hieronder staan beide, eerst het welvaartsperspectief (CPB/PBL), dan "
        "de overheidsbudgetten, dan het perspectief van de studie uit 2021, die besparingen op "
        "uitkeringen als maatschappelijke baat telt.",
    ),
    "claim.factor": (
        "The calibration multiplies {what} by {factor}.",
        "De kalibratie vermenigvuldigt {what} met {factor}.",
    ),
    "claim.physical": (
        "What each needs in physical units ({year}, full strength, summed over the areas)",
        "Wat elk vraagt in fysieke eenheden ({year}, volle sterkte, opgeteld over de gebieden)",
    ),
    "claim.prior": (
        "Of {draws} draws of the evidence scenario, {share} reach both study benefits of at "
        "least EUR 5.8 bn and benefit savings of at least EUR 1.8 bn: the prior probability of "
        "the 2021 headline.",
        "Van de {draws} trekkingen van het bewijsscenario halen er {share} zowel baten van "
        "minstens EUR 5,8 mld in het studieperspectief als een besparing op uitkeringen van "
        "minstens EUR 1,8 mld: de a-priorikans op de kop van 2021.",
    ),
    "claim.switching": (
        "For the welfare NPV to be positive (on average; one effect at a time, everything else "
        "as drawn), the programme would have to keep "
        "about {people} people off bijstand in {year} (the evidence gives {people_ev}), or avoid "
        "about {crimes} registered crimes that year (the evidence gives {crimes_ev}).",
        "Voor een positief welvaartssaldo (gemiddeld; één effect tegelijk, de rest zoals "
        "getrokken) zou het programma in {year} ongeveer "
        "{people} mensen uit de bijstand moeten houden (het bewijs geeft {people_ev}), of dat "
        "jaar ongeveer {crimes} geregistreerde misdrijven moeten voorkomen (het bewijs geeft "
        "{crimes_ev}).",
    ),
    "role.evidence": (
        "evidence (no calibration)",
        "bewijs (geen kalibratie)",
    ),
    "role.reconstruction": (
        "reconstruction of the 2021 claim (calibrated)",
        "reconstructie van de claim van 2021 (gekalibreerd)",
    ),
    "col.scenario": ("Scenario", "Scenario"),
    "col.effect": ("Effect", "Effect"),
    "col.baseline": ("Without programme", "Zonder programma"),
    "sec.headline": ("Headline", "Kern"),
    "sec.perspectives": ("Three perspectives", "Drie perspectieven"),
    "sec.stakeholders": ("Who pays and who gains", "Wie betaalt en wie wint"),
    "sec.uncertainty": ("Uncertainty", "Onzekerheid"),
    "sec.drivers": ("What drives the result", "Wat het resultaat bepaalt"),
    "sec.variants": ("Investment variants", "Investeringsvarianten"),
    "sec.deciding": ("Deciding", "Beslissen"),
    "sec.assumptions": ("Assumptions and sources", "Aannames en bronnen"),
    "sec.reproduce": ("How to reproduce this run", "Deze run reproduceren"),
    "kf.costs": ("Costs (PV)", "Kosten (contante waarde)"),
    "kf.benefits": ("Benefits (PV to {horizon})", "Baten (contante waarde tot {horizon})"),
    "kf.npv": ("Net present value", "Saldo"),
    "kf.bcr": ("Benefit-cost ratio", "Baten-kostenverhouding"),
    "kf.prob": ("Chance NPV > 0", "Kans op positief saldo"),
    "kf.payback": ("Paid back in (median)", "Terugverdiend in (mediaan)"),
    "kf.range": ("90% interval {range}", "90%-interval {range}"),
    "kf.draws": ("of {draws} draws", "van {draws} trekkingen"),
    "kf.never": ("{share} not by {horizon}", "{share} niet vóór {horizon}"),
    "headline": (
        "In the {perspective} perspective the programme costs {costs} and yields {benefits} in "
        "monetised benefits up to {horizon}: {bcr} per euro of costs. The net present value is "
        "{npv}; it is positive in {prob} of the draws.",
        "In het perspectief {perspective} kost het programma {costs} en levert het tot {horizon} "
        "{benefits} aan in geld uitgedrukte baten op: {bcr} per euro kosten. Het saldo is "
        "{npv}; het is positief in {prob} van de trekkingen.",
    ),
    "headline.largest": (
        "Largest benefit: {stream}, {value}.",
        "Grootste baat: {stream}, {value}.",
    ),
    "reading": (
        "How to read the numbers: euros of price level {price_year}, present values at "
        "{base_year}, discounted at {rate} a year (real), benefits counted to {horizon}. "
        "Figures are medians (P50) of {draws} Monte Carlo draws unless a mean is stated; the 90% "
        "interval runs from the 5th to the 95th percentile (P5–P95). Effects marked PM are "
        "named but not monetised.",
        "Leeswijzer: euro's van prijspeil {price_year}, contante waarden in {base_year}, "
        "verdisconteerd met {rate} per jaar (reëel), baten geteld tot en met {horizon}. Bedragen "
        "zijn medianen (P50) van {draws} Monte Carlo-trekkingen, tenzij een gemiddelde is "
        "vermeld; het 90%-interval loopt van het 5e tot het 95e percentiel (P5–P95). Effecten "
        "met PM zijn benoemd maar niet in geld uitgedrukt.",
    ),
    "cap.summary": (
        "Costs and benefits by stream, with effects not monetised (PM).",
        "Kosten en baten per effect, met de niet in geld uitgedrukte effecten (PM).",
    ),
    "cap.waterfall": (
        "From the costs, stream by stream, to the net present value (means, which add up).",
        "Van de kosten, effect voor effect, naar het saldo (gemiddelden, die optellen).",
    ),
    "persp.intro": (
        "The same draws give three answers to three questions. Never add numbers from "
        "different perspectives.",
        "Dezelfde trekkingen geven drie antwoorden op drie vragen. Tel getallen uit "
        "verschillende perspectieven nooit bij elkaar op.",
    ),
    "persp.welfare": (
        "Does society as a whole gain? The MKBA of the CPB/PBL guidance: real resource effects "
        "only (care not needed, crime damage avoided, production, housing value); transfers "
        "such as benefit payments and taxes net to zero; the costs of all payers, housing "
        "associations included.",
        "Wordt Nederland als geheel er beter van? De MKBA volgens de leidraad van CPB/PBL: "
        "alleen reële effecten (zorg die niet nodig is, vermeden schade door criminaliteit, "
        "productie, woonwaarde); overdrachten zoals uitkeringen en belastingen vallen tegen "
        "elkaar weg; de kosten van alle betalers, woningcorporaties inbegrepen.",
    ),
    "persp.fiscal": (
        "What does it do to public budgets? Only flows into and out of the budgets of the "
        "national government, municipalities and health insurers (Zvw), including benefit "
        "payments saved and taxes received.",
        "Wat betekent het voor de overheidsbegrotingen? Alleen geldstromen van en naar de "
        "budgetten van Rijk, gemeenten en zorgverzekeraars (Zvw), inclusief bespaarde "
        "uitkeringen en ontvangen belastingen.",
    ),
    "persp.study": (
        "The accounting of the 2021 headline: savings on benefit payments count as a social "
        "benefit, against the public costs. It is not a welfare measure: {transfers} of its "
        "benefits (P50) are transfers, a gain to public budgets and a loss to residents.",
        "De rekenwijze van de kop uit 2021: besparingen op uitkeringen tellen als "
        "maatschappelijke baat, tegenover de publieke kosten. Het is geen welvaartsmaat: "
        "{transfers} van de baten (P50) zijn overdrachten, winst voor de overheid en verlies "
        "voor bewoners.",
    ),
    "persp.this": ("this report's perspective", "perspectief van dit rapport"),
    "sh.intro": (
        "The stakeholder view counts every effect and every payer's programme costs, whatever "
        "the perspective; a transfer is a gain for one stakeholder and a loss for another, so "
        "the stakeholders' net results add up to the welfare result. Means over the draws.",
        "Het actorenperspectief telt alle effecten en de programmakosten van elke betaler, los "
        "van het perspectief; een overdracht is winst voor de een en verlies voor de ander, dus "
        "de netto resultaten van de actoren tellen op tot het welvaartsresultaat. Gemiddelden "
        "over de trekkingen.",
    ),
    "sh.public": (
        "Public budgets together (national government, municipalities, health insurers): net "
        "{net} (mean).",
        "De publieke budgetten samen (Rijk, gemeenten, zorgverzekeraars): netto {net} "
        "(gemiddelde).",
    ),
    "sh.most": (
        "Largest net gain: {gain_k} ({gain}). Largest net cost: {loss_k} ({loss}).",
        "Grootste netto winst: {gain_k} ({gain}). Grootste netto kosten: {loss_k} ({loss}).",
    ),
    "sh.caption": (
        "Per stakeholder, means over the draws (the net also with its 90% interval).",
        "Per actor, gemiddelden over de trekkingen (het netto ook met het 90%-interval).",
    ),
    "sh.gains": ("Gains", "Baten"),
    "sh.losses": ("Transfers paid, losses", "Betaalde overdrachten, verliezen"),
    "sh.costs": ("Programme costs", "Programmakosten"),
    "cap.stakeholders": (
        "Gains above zero, payments and losses below; the diamond is the net result.",
        "Baten boven nul, kosten en verliezen onder nul; de ruit is het netto resultaat.",
    ),
    "cap.areas": (
        "Per area, in the report's perspective: costs to the left, benefits to the right.",
        "Per gebied, in het perspectief van dit rapport: kosten links, baten rechts.",
    ),
    "unc.text": (
        "The net present value is positive in {prob} of the {draws} draws; its 90% interval "
        "runs from {p5} to {p95}.",
        "Het saldo is positief in {prob} van de {draws} trekkingen; het 90%-interval loopt "
        "van {p5} tot {p95}.",
    ),
    "unc.payback": (
        "The programme is paid back (cumulative discounted net cash flow above zero) in {year}: "
        "the median over the draws that pay back; in {never} of the draws not by {horizon}.",
        "Het programma is terugverdiend (cumulatieve verdisconteerde netto kasstroom boven "
        "nul) in {year}: de mediaan van de trekkingen die terugverdienen; in {never} van de "
        "trekkingen niet vóór {horizon}.",
    ),
    "unc.convergence": (
        "Monte Carlo error: the standard error of the mean NPV is {se} ({rel} of the mean "
        "costs); {status} ({criterion}).",
        "Monte Carlo-fout: de standaardfout van het gemiddelde saldo is {se} ({rel} van de "
        "gemiddelde kosten); {status} ({criterion}).",
    ),
    "unc.converged": ("converged", "geconvergeerd"),
    "unc.not_converged": (
        "not converged: run more draws",
        "niet geconvergeerd: meer trekkingen nodig",
    ),
    "cap.npv": (
        "Distribution of the net present value over the draws, with its cumulative distribution.",
        "Verdeling van het saldo over de trekkingen, met de cumulatieve verdeling.",
    ),
    "cap.fan": (
        "Net benefits per year to {horizon}, real (price level {price_year}) and undiscounted: "
        "the bands hold 90%, 60% and 30% of the draws.",
        "Netto baten per jaar tot {horizon}, reëel (prijspeil {price_year}) en niet "
        "verdisconteerd: de banden bevatten 90%, 60% en 30% van de trekkingen.",
    ),
    "cap.cashflow": (
        "Cumulative discounted net cash flow with its P10–P90 band and the payback year.",
        "Cumulatieve verdisconteerde netto kasstroom met de P10–P90-band en het terugverdienjaar.",
    ),
    "drv.sens": (
        "From the sensitivity run ({files}).",
        "Uit de gevoeligheidsanalyse ({files}).",
    ),
    "drv.corr": (
        "No sensitivity run was found next to this run, so this section ranks the sampled "
        "parameters by their Spearman rank correlation with the net present value over the "
        "draws of this run. It is a screening measure, not a variance decomposition: a "
        "parameter with a wide but little-sampled range can matter more than its correlation "
        "shows. For tornado diagrams, switching values and a discount-rate sweep, run "
        "`mkba sensitivity` and report again with `--sensitivity`.",
        "Naast deze run is geen gevoeligheidsanalyse gevonden. Deze paragraaf rangschikt "
        "daarom de getrokken parameters naar hun Spearman-rangcorrelatie met het saldo over de "
        "trekkingen van deze run. Dat is een verkenning, geen variantiedecompositie: een "
        "parameter met een brede maar weinig getrokken bandbreedte kan meer uitmaken dan zijn "
        "correlatie laat zien. Voor tornadodiagrammen, omslagwaarden en een reeks "
        "discontovoeten: draai `mkba sensitivity` en maak het rapport opnieuw met `--sensitivity`.",
    ),
    "drv.none": (
        "This run kept no sampled parameters (all are fixed), so nothing can be ranked.",
        "Deze run heeft geen getrokken parameters (alles ligt vast); er valt niets te rangschikken.",
    ),
    "cap.drivers": (
        "Rank correlation of the {n} most influential sampled parameters with the NPV.",
        "Rangcorrelatie van de {n} invloedrijkste getrokken parameters met het saldo.",
    ),
    "cap.tornado": (
        "The NPV with one parameter at a time at its low and high value, the others at base.",
        "Het saldo met telkens één parameter op zijn lage en hoge waarde, de rest op de basis.",
    ),
    "cap.discount": (
        "The NPV at other discount rates; the red dot marks where the median NPV turns negative.",
        "Het saldo bij andere discontovoeten; de rode stip markeert waar het mediane saldo "
        "negatief wordt.",
    ),
    "cap.discount.none": (
        "The NPV at other discount rates: the median stays positive over the rates shown.",
        "Het saldo bij andere discontovoeten: de mediaan blijft positief over de getoonde voeten.",
    ),
    "cap.variants": (
        "Variants compared from the batch ({file}).",
        "Varianten vergeleken uit de batch ({file}).",
    ),
    "sw.title": ("Switching values", "Omslagwaarden"),
    "sw.text": (
        "How far a parameter must move, all else at base, for the NPV to reach zero.",
        "Hoe ver een parameter moet verschuiven, de rest op de basis, voordat het saldo nul wordt.",
    ),
    "sw.none": (
        "{n} of {total} parameters do not turn the NPV negative anywhere in their range, "
        "all else at base.",
        "{n} van de {total} parameters maken het saldo nergens in hun bandbreedte negatief, "
        "de rest op de basis.",
    ),
    "as.changed": ("Note: {note}.", "Let op: {note}."),
    "as.scenario": ("Scenario settings", "Instellingen van het scenario"),
    "as.params": ("Parameters", "Parameters"),
    "as.params.text": (
        "Every quantity of the model after calibration and overrides: its value or "
        "distribution, unit and price year, and its source or the stated assumption. "
        "{uncertain} of {total} are uncertain and sampled.",
        "Elke grootheid van het model na kalibratie en aanpassingen: waarde of verdeling, "
        "eenheid en prijspeil, en de bron of de gemaakte aanname. {uncertain} van de {total} "
        "zijn onzeker en worden getrokken.",
    ),
    "as.areas": ("Area data", "Gegevens per gebied"),
    "as.pm": ("Not monetised (PM)", "Niet in geld uitgedrukt (PM)"),
    "as.missing": (
        "The assumptions cannot be listed: {note}.",
        "De aannames kunnen niet worden getoond: {note}.",
    ),
    "as.calibrated": ("calibrated", "gekalibreerd"),
    "as.assumption": ("Assumption", "Aanname"),
    "rep.text": (
        "The same scenario and parameter files, the same settings and the same versions give "
        "bit-identical numbers and the same run id, whatever the number of threads. Sampler "
        "and chunk size come from the scenario file.",
        "Dezelfde scenario- en parameterbestanden, dezelfde instellingen en dezelfde versies "
        "geven bit-voor-bit dezelfde getallen en hetzelfde run-id, ongeacht het aantal threads. "
        "Sampler en chunkgrootte komen uit het scenariobestand.",
    ),
    "rep.extras": (
        "Tables of other runs used in this report: {files}.",
        "Tabellen van andere runs in dit rapport: {files}.",
    ),
    "rep.batch": (
        "This run is job {job} of the batch in {batch}; run the batch again to reproduce it.",
        "Deze run is taak {job} van de batch in {batch}; draai de batch opnieuw om haar te "
        "reproduceren.",
    ),
}


def w(key: str, lang: str, **kw: Any) -> str:
    text = _W[key][1 if lang == "nl" else 0]
    return text.format(**kw) if kw else text


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
        out.append(Strong(w("as.assumption", lang) + ":"))
        out.append(" " + str(r["assumption"]))
    if _present(r.get("note")):
        out.append(" ")
        out.append(Small(str(r["note"])))
    if _present(r.get("calibrated")):
        out.append(" ")
        out.append(Small(f"[{w('as.calibrated', lang)}: {r['calibrated']}]"))
    return out or [DASH]


def build_document(
    run: rd.RunData,
    lang: str,
    charts: set[str],
    *,
    run_dir_text: str | None = None,
) -> Document:
    """The report of a run. ``charts``: the chart kinds that exist (their figures are shown)."""
    labels = run.labels(lang)
    s = run.summary
    m = run.manifest
    p0 = s["perspective"]
    blocks: list[Block] = []
    toc: list[tuple[str, str]] = []
    draws_text = format_int(s["draws"], lang)
    rate = s.get("discount_rate")
    rate_text = format_pct(rate, lang, 2) if isinstance(rate, float) else "schedule"

    def section(key: str, anchor: str) -> None:
        blocks.append(Heading(w(key, lang), 2, anchor))
        toc.append((anchor, w(key, lang)))

    def fig(kind: str, caption: str) -> None:
        if kind in charts:
            blocks.append(Figure(kind, caption))

    # --- evidence and the 2021 claim, side by side (a run made with its companion)
    sides = s.get("side_by_side")
    if sides:
        _claim_section(blocks, sides, lang, labels, section)

    # --- headline
    section("sec.headline", "headline")
    pb = s.get("payback_year") or {}
    never = 1.0 - float(pb.get("share_defined", 1.0))
    blocks.append(
        KeyFigures(
            [
                (
                    w("kf.costs", lang),
                    _eur(s["costs_pv"]["p50"], lang),
                    w(
                        "kf.range",
                        lang,
                        range=format_eur_range(s["costs_pv"]["p5"], s["costs_pv"]["p95"], lang),
                    ),
                ),
                (
                    w("kf.benefits", lang, horizon=s["horizon"]),
                    _eur(s["benefits_pv"]["p50"], lang),
                    w(
                        "kf.range",
                        lang,
                        range=format_eur_range(
                            s["benefits_pv"]["p5"], s["benefits_pv"]["p95"], lang
                        ),
                    ),
                ),
                (
                    w("kf.npv", lang),
                    _eur(s["npv"]["p50"], lang),
                    w(
                        "kf.range",
                        lang,
                        range=format_eur_range(s["npv"]["p5"], s["npv"]["p95"], lang),
                    ),
                ),
                (
                    w("kf.bcr", lang),
                    format_ratio(s["bcr"]["p50"], lang),
                    w(
                        "kf.range",
                        lang,
                        range=f"{format_ratio(s['bcr']['p5'], lang)}{DASH}{format_ratio(s['bcr']['p95'], lang)}",
                    ),
                ),
                (
                    w("kf.prob", lang),
                    format_pct(s["prob_npv_positive"], lang),
                    w("kf.draws", lang, draws=draws_text),
                ),
                (
                    w("kf.payback", lang),
                    format_year(pb.get("p50")),
                    w("kf.never", lang, share=format_pct(never, lang, 1), horizon=s["horizon"])
                    if never > 0
                    else f"P5{DASH}P95: {format_year(pb.get('p5'))}{DASH}{format_year(pb.get('p95'))}",
                ),
            ]
        )
    )
    lead = w(
        "headline",
        lang,
        perspective=labels.perspective(p0),
        costs=_eur(s["costs_pv"]["p50"], lang),
        benefits=_eur(s["benefits_pv"]["p50"], lang),
        horizon=s["horizon"],
        bcr=format_eur(s["bcr"]["p50"], lang, scale="unit", digits=2),
        npv=_eur(s["npv"]["p50"], lang)
        + f" ({w('kf.range', lang, range=format_eur_range(s['npv']['p5'], s['npv']['p95'], lang))})",
        prob=format_pct(s["prob_npv_positive"], lang),
    )
    streams = sorted(s["by_stream"].items(), key=lambda kv: -(kv[1].get("p50") or 0))
    if streams:
        sid, st = streams[0]
        lead += " " + w(
            "headline.largest", lang, stream=labels.stream(sid), value=_eur(st["p50"], lang)
        )
    blocks.append(Para([lead], "lead"))
    blocks.append(
        Para(
            [
                w(
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
    fig("summary", w("cap.summary", lang))
    fig("waterfall", w("cap.waterfall", lang))

    # --- perspectives
    section("sec.perspectives", "perspectives")
    blocks.append(Para([w("persp.intro", lang)]))
    pt = rd.perspectives_table(run, labels)
    pt = pt[(pt["perspective"] != "study") | (p0 == "study")]
    mk = _money(pt["costs_p50"], pt["benefits_p50"], pt["npv_p50"])
    rows: list[list[Cell]] = []
    strong = set()
    for i, r in enumerate(pt.to_dict("records")):
        name = r["label"].capitalize()
        if r["perspective"] == p0:
            strong.add(i)
            name += " \u2014 " + w("persp.this", lang)
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
                "Perspective" if lang == "en" else "Perspectief",
                labels.t("costs") + " P50",
                labels.t("benefits") + " P50",
                labels.t("npv.short") + " P50",
                labels.t("npv.short") + " P5–P95",
                labels.t("bcr.short") + " P50",
                "P(NPV > 0)" if lang == "en" else "Kans saldo > 0",
            ],
            rows,
            align="lrrrrrr",
            strong_rows=strong,
        )
    )
    transfers = (s.get("transfers_in_study_benefits") or {}).get("p50")
    persp_items: list[list[Inline]] = [
        [Strong(labels.t("perspective.welfare.long") + ". "), w("persp.welfare", lang)],
        [Strong(labels.t("perspective.fiscal.long") + ". "), w("persp.fiscal", lang)],
    ]
    if p0 == "study":
        persp_items.append(
            [
                Strong(labels.t("perspective.study.long") + ". "),
                w("persp.study", lang, transfers=_amount(transfers, lang)),
            ]
        )
    blocks.append(Bullets(persp_items))

    # --- stakeholders
    section("sec.stakeholders", "stakeholders")
    blocks.append(Para([w("sh.intro", lang)]))
    fig("stakeholders", w("cap.stakeholders", lang))
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
                w("sh.gains", lang),
                w("sh.losses", lang),
                w("sh.costs", lang),
                labels.t("net"),
                labels.t("net") + " P5–P95",
            ],
            rows,
            align="lrrrrr",
            caption=w("sh.caption", lang),
        )
    )
    if len(sh):
        pub = sh[sh["public"] == True]  # noqa: E712 - pandas mask
        if len(pub):
            blocks.append(Para([w("sh.public", lang, net=_amount(pub["net_mean"].sum(), lang))]))
        g = sh.loc[sh["net_mean"].idxmax()]
        lo = sh.loc[sh["net_mean"].idxmin()]
        blocks.append(
            Para(
                [
                    w(
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
    fig("areas", w("cap.areas", lang))
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

    # --- bottom-up measures (only runs with a programme of interventions)
    if s.get("by_intervention"):
        from mkba.report import programme as prog

        blocks.append(Heading(prog.word("sec", lang), 2, "measures"))
        toc.append(("measures", prog.word("sec", lang)))
        blocks.append(Para([prog.word("intro", lang, p=labels.perspective(p0))]))
        mhead, mrows = prog.money_rows(s, lang)
        blocks.append(Table(mhead, mrows, align="lrrrrrrr", caption=prog.word("cap_money", lang)))
        phead, prows = prog.physical_rows(s, lang, labels.stream)
        cap = prog.word("cap_phys", lang, n=format_int(s["physical"]["draws"], lang))
        blocks.append(Table(phead, prows, align="lllrr", caption=cap, kind="small"))

    # --- uncertainty
    section("sec.uncertainty", "uncertainty")
    blocks.append(
        Para(
            [
                w(
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
    fig("npv", w("cap.npv", lang))
    if pb.get("p50") is not None and not (
        isinstance(pb.get("p50"), float) and math.isnan(pb["p50"])
    ):
        blocks.append(
            Para(
                [
                    w(
                        "unc.payback",
                        lang,
                        year=format_year(pb["p50"]),
                        never=format_pct(never, lang, 1),
                        horizon=s["horizon"],
                    )
                ]
            )
        )
    fig("cashflow", w("cap.cashflow", lang))
    fig("fan", w("cap.fan", lang, horizon=s["horizon"], price_year=s["price_year"]))
    conv = s.get("convergence") or m.get("convergence") or {}
    if conv.get("se_mean_npv") is not None:
        blocks.append(
            Para(
                [
                    w(
                        "unc.convergence",
                        lang,
                        se=_eur(conv["se_mean_npv"], lang),
                        rel=format_pct(conv.get("relative_se"), lang, 2),
                        status=w(
                            "unc.converged" if conv.get("converged") else "unc.not_converged", lang
                        ),
                        criterion=conv.get("criterion", ""),
                    )
                ],
                "note",
            )
        )

    # --- drivers
    section("sec.drivers", "drivers")
    sens = [k for k in ("tornado", "switching", "discount") if k in run.extras]
    if sens:
        files = ", ".join(str(run.extra_files[k].name) + ".*" for k in sens if k in run.extra_files)
        blocks.append(Para([w("drv.sens", lang, files=files)], "note"))
        fig("tornado", w("cap.tornado", lang))
        if "switching" in run.extras:
            sw = rd.switching_table(run.extras["switching"], labels)
            found = pd.to_numeric(sw["switching_value"], errors="coerce").notna()
            blocks.append(Heading(w("sw.title", lang), 3))
            blocks.append(Para([w("sw.text", lang)]))
            if (~found).any():
                blocks.append(
                    Para([w("sw.none", lang, n=int((~found).sum()), total=len(sw))], "note")
                )
            sw = sw[found]
        if "switching" in run.extras and len(sw):
            blocks.append(
                Table(
                    [
                        labels.t("parameter"),
                        "Base" if lang == "en" else "Basis",
                        labels.t("switching"),
                        "× base" if lang == "en" else "× basis",
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
            fig("discount", w("cap.discount" if crossing else "cap.discount.none", lang))
    else:
        corr = rd.rank_correlations(run, labels)
        if len(corr.frame):
            blocks.append(Para([w("drv.corr", lang)], "note"))
            fig("drivers", w("cap.drivers", lang, n=len(corr.frame)))
        else:
            blocks.append(Para([w("drv.none", lang)], "note"))

    if "variants" in run.extras:
        section("sec.variants", "variants")
        vd = rd.variants(run.extras["variants"], perspective=p0).frame
        mkv = _money(
            *(vd[c] for c in ("costs_p50", "benefits_p50", "npv_p50", "npv_p5", "npv_p95"))
        )
        fig(
            "variants",
            w("cap.variants", lang, file=run.extra_files.get("variants", Path("comparison")).name),
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
                        str(r["variant"]),
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

    # --- deciding (only with decision runs: mkba report --decide)
    if run.cache.get("decisions"):
        from mkba.report.decide import document_blocks

        section("sec.deciding", "deciding")
        blocks.extend(document_blocks(run.cache["decisions"], lang, charts, labels))

    # --- assumptions
    section("sec.assumptions", "assumptions")
    if run.inputs is None:
        blocks.append(Para([w("as.missing", lang, note=run.spec_note or "")], "warning"))
    else:
        if run.spec_note:
            blocks.append(Para([w("as.changed", lang, note=run.spec_note)], "warning"))
        am = rd.assumptions(run, labels)
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
                        [str(r["label"]), " ", Small(where)],
                        str(r["value"]),
                        unit_text(r["unit"], lang),
                        ""
                        if py is None or (isinstance(py, float) and math.isnan(py))
                        else str(int(py)),
                        _sources_cell(r, lang),
                    ]
                )
            return out

        blocks.append(Heading(w("as.scenario", lang), 3))
        blocks.append(Table(head, rows_of("scenario"), align="lllrl", kind="small assumptions"))
        params = am[am["group"] == "parameters"]
        blocks.append(Heading(w("as.params", lang), 3))
        blocks.append(
            Para(
                [
                    w(
                        "as.params.text",
                        lang,
                        uncertain=int(params["uncertain"].sum()),
                        total=len(params),
                    )
                ]
            )
        )
        blocks.append(Table(head, rows_of("parameters"), align="lllrl", kind="small assumptions"))
        blocks.append(Heading(w("as.areas", lang), 3))
        blocks.append(Table(head, rows_of("areas"), align="lllrl", kind="small assumptions"))
    items = rd.pm_items(run)
    if items:
        blocks.append(Heading(w("as.pm", lang), 3))
        blocks.append(
            Bullets([[Strong(f"{i.name(lang)} ({i.text}). "), i.reason(lang)] for i in items])
        )

    # --- reproduce
    section("sec.reproduce", "reproduce")
    blocks.append(Para([w("rep.text", lang)]))
    if m.get("batch") and m.get("job"):
        blocks.append(Para([w("rep.batch", lang, job=m["job"], batch=m["batch"])], "note"))
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
        blocks.append(Para([w("rep.extras", lang, files="; ".join(used))], "note"))
    v = m.get("versions", {})
    rows = [
        ["Run id", Code(str(m.get("run_id", "")))],
        ["Scenario", Code(scen) if scen else DASH],
        ["Variant", str(m.get("variant") or DASH)],
        [
            ("Scenario hash" if lang == "en" else "Hash scenario"),
            Code(str(m.get("scenario_hash", ""))),
        ],
        ["Parameters", Code(str(m.get("parameters_dir", "")))],
        [
            ("Parameters hash" if lang == "en" else "Hash parameters"),
            Code(str(m.get("parameters_hash", ""))),
        ],
        [
            ("Calibration record" if lang == "en" else "Kalibratie"),
            Code(str(m.get("calibration_file") or DASH)),
        ],
        [("Draws" if lang == "en" else "Trekkingen"), format_int(m.get("draws"), lang)],
        ["Seed", str(m.get("seed"))],
        ["Sampler", str(m.get("sampler"))],
        [("Chunk size" if lang == "en" else "Chunkgrootte"), str(m.get("chunk_size"))],
        [
            "Versions" if lang == "en" else "Versies",
            ", ".join(f"{k} {val}" for k, val in v.items() if k != "platform"),
        ],
        ["Platform", str(v.get("platform", DASH))],
    ]
    blocks.append(Table(["", ""], rows, align="ll", kind="small"))

    title = w("doc.title", lang, title=rd.scenario_title(run, lang))
    subtitle = w(
        "doc.subtitle",
        lang,
        scenario=s["scenario"],
        variant=f" · variant {s['variant']}" if s.get("variant") else "",
        run_id=m.get("run_id", ""),
        draws=draws_text,
        version=v.get("mkba", ""),
    )
    return Document(lang=lang, title=title, subtitle=subtitle, blocks=blocks, toc=toc)


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
                w("claim.factor", lang, what=what, factor=format_ratio(f["factor"], lang))
            )
    blocks.append(Para([w("claim.intro", lang, factors=" ".join(factors))], "lead"))
    rows: list[list[Cell]] = []
    for p in ("welfare", "fiscal", "study"):
        for d in sides:
            x = d["perspectives"][p]
            rows.append(
                [
                    labels.perspective(p).capitalize(),
                    w(f"role.{d['role']}", lang),
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
                "Perspective" if lang == "en" else "Perspectief",
                w("col.scenario", lang),
                labels.t("costs") + " P50",
                labels.t("benefits") + " P50",
                labels.t("npv.short") + " P50",
                labels.t("npv.short") + " P5–P95",
                labels.t("bcr.short") + " P50 (P5–P95)",
                "P(NPV > 0)" if lang == "en" else "Kans saldo > 0",
            ],
            rows,
            align="llrrrrrr",
            strong_rows={0, 1},
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
            [w("col.effect", lang)]
            + [w(f"role.{d['role']}", lang) for d in sides]
            + [w("col.baseline", lang)],
            prow,
            align="l" + "r" * (len(sides) + 1),
            caption=w("claim.physical", lang, year=year),
        )
    )
    for d in sides:
        sw = d.get("switching_welfare") or {}
        if "benefit_savings" in sw and "safety" in sw:
            b, c = sw["benefit_savings"], sw["safety"]
            blocks.append(
                Para(
                    [
                        w(
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
                        w(
                            "claim.prior",
                            lang,
                            draws=format_int(h["draws"], lang),
                            share=format_pct(h["share_both"], lang, 2),
                        )
                    ],
                    "note",
                )
            )
