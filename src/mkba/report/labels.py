"""Dutch and English words of charts, tables and reports.

Two sources: the fixed words of the product (:data:`TEXT`, looked up with :func:`t`) and the
names of the model's own things (streams, stakeholders, components, domains, areas), which
live in the parameter files as ``label`` and ``label_nl`` and are read by :class:`Labels`.
Without a parameter set (a run whose scenario file cannot be found) ids stand in for names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mkba.report.format import check_lang

if TYPE_CHECKING:
    from mkba.load import ParameterSet

# key -> (English, Dutch). Placeholders in str.format style.
_T: dict[str, tuple[str, str]] = {
    # perspectives
    "perspective.welfare": ("welfare", "welvaart"),
    "perspective.fiscal": ("fiscal", "budgettair"),
    "perspective.study": ("study (2021 headline)", "studie (kop 2021)"),
    "perspective.welfare.long": (
        "Welfare (CPB/PBL MKBA)",
        "Welvaart (MKBA volgens CPB/PBL)",
    ),
    "perspective.fiscal.long": ("Fiscal (public budgets)", "Budgettair (overheidsbudgetten)"),
    "perspective.study.long": (
        "Study (accounting of the 2021 headline)",
        "Studie (rekenwijze van de kop uit 2021)",
    ),
    # metrics
    "costs": ("Costs", "Kosten"),
    "benefits": ("Benefits", "Baten"),
    "npv": ("Net present value", "Saldo (netto contante waarde)"),
    "npv.short": ("NPV", "Saldo"),
    "bcr": ("Benefit-cost ratio", "Baten-kostenverhouding"),
    "bcr.short": ("BCR", "B/K"),
    "prob_npv_positive": ("P(NPV > 0)", "Kans op positief saldo"),
    "payback": ("Payback year", "Terugverdienjaar"),
    "costs_pv": ("Costs (present value)", "Kosten (contante waarde)"),
    "benefits_pv": ("Benefits (present value)", "Baten (contante waarde)"),
    "programme_costs": ("Programme costs", "Programmakosten"),
    "total_benefits": ("Total benefits", "Totaal baten"),
    "saldo": ("Net present value (saldo)", "Saldo"),
    "pm": ("PM", "PM"),
    "pm.long": ("not monetised (pro memorie)", "niet in geld uitgedrukt (pro memorie)"),
    "mean": ("Mean", "Gemiddelde"),
    "expected": ("Expected value (mean)", "Verwachtingswaarde (gemiddelde)"),
    "median": ("Median", "Mediaan"),
    "p50": ("P50", "P50"),
    "interval90": ("P5–P95", "P5–P95"),
    "interval": ("90% interval (P5–P95)", "90%-interval (P5–P95)"),
    "item": ("Item", "Post"),
    "stream": ("Stream", "Effect"),
    "stakeholder": ("Stakeholder", "Actor"),
    "area": ("Area", "Gebied"),
    "year": ("Year", "Jaar"),
    "variant": ("Variant", "Variant"),
    "parameter": ("Parameter", "Parameter"),
    "value": ("Value", "Waarde"),
    "unit": ("Unit", "Eenheid"),
    "price_year": ("Price year", "Prijspeil"),
    "source": ("Source", "Bron"),
    "assumption": ("Assumption", "Aanname"),
    "gains": ("Gains", "Baten"),
    "pays": ("Pays", "Kosten"),
    "net": ("Net", "Netto"),
    "gains.long": ("What it gains (PV)", "Wat de actor wint (contante waarde)"),
    "pays.long": ("What it pays (PV)", "Wat de actor betaalt (contante waarde)"),
    "transfers_lost": ("Transfers paid", "Betaalde overdrachten"),
    "benefits_other": ("Benefits", "Baten"),
    "costs_other": ("Costs", "Kosten"),
    "public": ("public", "publiek"),
    "private": ("private", "privaat"),
    # units on axes
    "axis.pv": (
        "{unit}\nprice level {price_year}, present value {base_year}",
        "{unit}\nprijspeil {price_year}, contante waarde {base_year}",
    ),
    "axis.flow_real": (
        "{unit} per year\nreal (price level {price_year}), undiscounted",
        "{unit} per jaar\nreëel (prijspeil {price_year}), niet verdisconteerd",
    ),
    "axis.flow_disc": (
        "{unit}\nprice level {price_year}, discounted to {base_year}",
        "{unit}\nprijspeil {price_year}, verdisconteerd naar {base_year}",
    ),
    "axis.cum_disc": (
        "{unit}, cumulative\nprice level {price_year}, discounted to {base_year}",
        "{unit}, cumulatief\nprijspeil {price_year}, verdisconteerd naar {base_year}",
    ),
    "axis.density": ("Share of draws", "Aandeel trekkingen"),
    "axis.cdf": ("Cumulative probability", "Cumulatieve kans"),
    "axis.rank_corr": (
        "Spearman rank correlation with the NPV",
        "Spearman-rangcorrelatie met het saldo",
    ),
    "axis.discount_rate": ("Discount rate (real)", "Discontovoet (reëel)"),
    # chart titles
    "chart.summary": ("Costs and benefits", "Overzicht kosten en baten"),
    "chart.waterfall": ("From costs to net present value", "Van kosten naar saldo"),
    "chart.stakeholders": ("Who pays and who gains", "Wie betaalt en wie wint"),
    "chart.areas": ("Costs, benefits and NPV per area", "Kosten, baten en saldo per gebied"),
    "chart.cashflow": (
        "Cumulative discounted net cash flow",
        "Cumulatieve verdisconteerde netto kasstroom",
    ),
    "chart.fan": ("Net benefits per year", "Netto baten per jaar"),
    "chart.npv": ("Distribution of the net present value", "Verdeling van het saldo"),
    "chart.drivers": ("What drives the result", "Wat het resultaat bepaalt"),
    "chart.tornado": ("Tornado: one parameter at a time", "Tornado: één parameter tegelijk"),
    "chart.discount": ("NPV against the discount rate", "Saldo tegen de discontovoet"),
    "chart.variants": ("Investment variants compared", "Investeringsvarianten vergeleken"),
    # chart pieces
    "footer": (
        "mkba {version} · run {run_id} · {draws} draws · seed {seed} · {perspective} perspective",
        "mkba {version} · run {run_id} · {draws} trekkingen · seed {seed} · perspectief {perspective}",
    ),
    "note.mean_adds": (
        "Rows add up in the mean column; medians and percentiles do not add up.",
        "De gemiddelden tellen op; medianen en percentielen tellen niet op.",
    ),
    "note.waterfall": (
        "Expected values (means) of {draws} draws, which add up.",
        "Verwachtingswaarden (gemiddelden) van {draws} trekkingen; die tellen op.",
    ),
    "band.p10_p90": ("P10–P90", "P10–P90"),
    "band.p5_p95": ("P5–P95", "P5–P95"),
    "band.p20_p80": ("P20–P80", "P20–P80"),
    "band.p35_p65": ("P35–P65", "P35–P65"),
    "payback.line": ("payback {year} (median)", "terugverdiend {year} (mediaan)"),
    "payback.never": (
        "not paid back by {horizon} in {share} of draws",
        "in {share} van de trekkingen niet terugverdiend vóór {horizon}",
    ),
    "prob_positive.text": ("P(NPV > 0) = {p}", "Kans op positief saldo: {p}"),
    "histogram": ("Histogram", "Histogram"),
    "cdf": ("Cumulative distribution", "Cumulatieve verdeling"),
    "tornado.low": ("parameter low", "parameter laag"),
    "tornado.high": ("parameter high", "parameter hoog"),
    "tornado.base": ("NPV at base values: {value}", "Saldo bij basiswaarden: {value}"),
    "switching": ("Switching value", "Omslagwaarde"),
    "switching.short": (
        "switches at {value} ({ratio} × base)",
        "omslag bij {value} ({ratio} × basis)",
    ),
    "variants.costs": ("Costs (P50)", "Kosten (P50)"),
    "variants.benefits": ("Benefits (P50)", "Baten (P50)"),
    "variants.npv": ("NPV (P50, P5–P95)", "Saldo (P50, P5–P95)"),
    "net_marker": ("Net (mean)", "Netto (gemiddelde)"),
}

TEXT: dict[str, dict[str, str]] = {k: {"en": en, "nl": nl} for k, (en, nl) in _T.items()}
"""Fixed words by key and language."""


def t(key: str, lang: str, **kw: object) -> str:
    """The text of ``key`` in ``lang``, with ``{placeholders}`` filled from ``kw``."""
    text = TEXT[key][check_lang(lang)]
    return text.format(**kw) if kw else text


def add_texts(texts: dict[str, tuple[str, str]]) -> None:
    """Register more (English, Dutch) texts, e.g. a report's prose; keys must be new."""
    dup = sorted(set(texts) & set(TEXT))
    if dup:
        raise ValueError(f"texts defined twice: {dup}")
    TEXT.update({k: {"en": en, "nl": nl} for k, (en, nl) in texts.items()})


# What each key of a parameter path means (the last part, or two parts for volume.*).
PARAM_KEYS: dict[str, tuple[str, str]] = {
    "volume.rate": ("base volume rate", "basisaandeel volume"),
    "volume.factor": ("focus-area volume factor", "volumefactor focusgebied"),
    "trend": ("trend without the programme", "trend in het nulalternatief"),
    "effect": ("effect size", "effectgrootte"),
    "deadweight": ("dead weight", "deadweight (zou toch gebeuren)"),
    "displacement": ("displacement", "verdringing"),
    "lag": ("lag", "vertraging"),
    "ramp": ("ramp-up", "aanlooptijd"),
    "half_life": ("half-life after the programme", "halfwaardetijd na het programma"),
    "unit_value": ("unit value", "eenheidsprijs"),
    "growth": ("real growth of the unit value", "reële groei van de eenheidsprijs"),
    "overrun": ("cost overrun", "kostenoverschrijding"),
    "additional_share": ("additional share", "additioneel aandeel"),
    "followup_rate": ("follow-up costs per year", "vervolgkosten per jaar"),
    "followup_years": ("years of follow-up costs", "jaren vervolgkosten"),
    "service_life": ("service life (residual value)", "levensduur (restwaarde)"),
    "elasticity": ("elasticity of effects to budget", "elasticiteit van effect naar budget"),
    "governance_penalty": (
        "effect lost without governance",
        "effectverlies zonder governance",
    ),
}


def _lower_first(text: str) -> str:
    """``Bespaarde Wmo-kosten`` -> ``bespaarde Wmo-kosten`` (names inside keep their capitals;
    an abbreviation such as ``GGZ`` stays as it is)."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


class Labels:
    """Names of a run's streams, stakeholders, components, domains and areas in one language."""

    def __init__(self, lang: str, params: ParameterSet | None = None) -> None:
        self.lang = check_lang(lang)
        self.params = params
        self._area_names: dict[str, str] = {}
        if params is not None:
            names = params.areas.text.get("name")
            if names is not None:
                self._area_names = dict(zip(params.areas.ids, names, strict=True))

    def t(self, key: str, **kw: object) -> str:
        return t(key, self.lang, **kw)

    def _pick(self, obj: object, fallback: str) -> str:
        if obj is None:
            return fallback
        return str(getattr(obj, "label_nl" if self.lang == "nl" else "label", fallback))

    def stream(self, s: str) -> str:
        st = self.params.streams.get(s) if self.params else None
        return self._pick(st, s)

    def stakeholder(self, k: str) -> str:
        sh = self.params.model.stakeholders.get(k) if self.params else None
        return self._pick(sh, k)

    def domain(self, d: str) -> str:
        dm = self.params.model.domains.get(d) if self.params else None
        return self._pick(dm, d)

    def component(self, c: str) -> str:
        """``stream.component`` -> the component's name (``Bespaarde uitkeringen``)."""
        s, _, comp = c.partition(".")
        st = self.params.streams.get(s) if self.params else None
        obj = st.components.get(comp) if st is not None else None
        return self._pick(obj, c)

    def area(self, a: str) -> str:
        return self._area_names.get(a, a)

    def perspective(self, p: str) -> str:
        return self.t(f"perspective.{p}") if f"perspective.{p}" in TEXT else p

    def param(self, path: str) -> str:
        """A parameter path in words: ``streams.safety.effect`` -> ``Safety (crime): effect size``."""
        parts = path.split(".")
        i = 0 if self.lang == "en" else 1
        if parts[0] == "streams" and len(parts) >= 3:
            head = self.stream(parts[1])
            if parts[2] == "components" and len(parts) >= 5:
                head = f"{head}, {_lower_first(self.component(parts[1] + '.' + parts[3]))}"
                key = parts[4]
            else:
                key = ".".join(parts[2:])
            words = PARAM_KEYS.get(key, (key, key))[i]
            return f"{head}: {words}"
        if parts[0] == "costs" and len(parts) == 3:
            words = PARAM_KEYS.get(parts[2], (parts[2], parts[2]))[i]
            return f"{self.domain(parts[1])}: {words}"
        if parts[0] == "programme" and len(parts) == 2:
            return PARAM_KEYS.get(parts[1], (parts[1], parts[1]))[i].capitalize()
        return path


UNIT_WORDS_NL: dict[str, str] = {
    "year": "jaar",
    "person": "persoon",
    "resident": "inwoner",
    "household": "huishouden",
    "recipient": "ontvanger",
    "client": "cliënt",
    "patient": "patiënt",
    "pupil": "leerling",
    "crime": "misdrijf",
    "dwelling": "woning",
    "participant": "deelnemer",
    "fraction": "fractie",
    "share": "aandeel",
    "ratio": "verhouding",
    "factor": "factor",
    "elasticity": "elasticiteit",
    "text": "tekst",
    "flag": "kenmerk",
    "table": "tabel",
    "index": "index",
    "once": "eenmalig",
}
"""Dutch words of the units in parameter files (``EUR/person/year`` -> ``EUR/persoon/jaar``)."""


def unit_text(unit: object, lang: str) -> str:
    """A unit as the reader's language writes it; unknown words stay as written."""
    if not isinstance(unit, str) or not unit:
        return ""
    if lang != "nl":
        return unit
    return "/".join(UNIT_WORDS_NL.get(part, part) for part in unit.split("/"))


ORIGIN_WORDS: dict[str, tuple[str, str]] = {
    "library": ("library", "bibliotheek"),
    "programme": ("programme", "programma"),
    "scenario": ("scenario", "scenario"),
    "calibration": ("calibration", "kalibratie"),
}
"""Where a value came from (see :meth:`mkba.load.Spec.origin`), in words."""


def origin_text(origin: object, lang: str) -> str:
    if not isinstance(origin, str) or not origin:
        return ""
    en, nl = ORIGIN_WORDS.get(origin, (origin, origin))
    return nl if lang == "nl" else en
