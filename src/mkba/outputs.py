"""The registry of the model's outputs: one name, one meaning, one computation.

Every named output (what ``mkba sensitivity``, ``mkba calibrate``, ``mkba allocate``/``voi``/
``discover``, ``mkba compare`` and the report call an output) is defined once in
:data:`REGISTRY`: its name pattern, how it is computed from the per-draw
:class:`~mkba.engine.Outcomes`, its unit, the perspectives it exists in and its label in Dutch
and English. :func:`parse_output` checks a name against a model, :func:`output_array` gives its
value per draw, :func:`label` its words; :func:`table_names` and :func:`table_array` do the same
for a finished run's stored ``draws.parquet`` (``mkba compare``), and :func:`readme_table` writes
the README's table of output names.

==========================================  ======================================================
``[PERSPECTIVE.]npv``                       net present value (default: the scenario's perspective)
``[PERSPECTIVE.]bcr``                       benefit-cost ratio
``[PERSPECTIVE.]costs_pv``                  present value of costs
``[PERSPECTIVE.]benefits_pv``               present value of benefits
``[PERSPECTIVE.]by_stream.STREAM``          present value of one stream's benefits
``by_area.AREA``                            present value of one area's benefits (as ``by_area``
                                            in ``summary.json``); scenario perspective
``by_area.AREA.npv|bcr|costs_pv|benefits_pv``  one area's NPV, BCR, costs or benefits
``by_stakeholder.K[.net|.benefits|.costs]`` one stakeholder (default its net gain)
``by_component.STREAM.COMPONENT``           present value of one value component (signed)
``[PERSPECTIVE.]by_intervention.M.METRIC``  one programme entry's npv, bcr, costs_pv or
                                            benefits_pv (bottom-up programmes only)
``cumulative_npv.YEAR``                     NPV of the flows up to and including YEAR
                                            (scenario perspective): ``cumsum(dflow)[:, YEAR-base]``
``irr``                                     internal rate of return of the real net flow (NaN
                                            where undefined; see :mod:`mkba.decide.irr`)
``payback_year``                            first year the cumulative discounted net flow is
                                            positive (NaN for draws that never pay back)
==========================================  ======================================================

Money in euros of the scenario's price year, present value at its base year.

Before the output registry, ``by_area.AREA`` meant the area's benefits in ``summary.json`` and
``mkba calibrate`` but its NPV in ``mkba sensitivity``; it now means the benefits everywhere and
the NPV is ``by_area.AREA.npv`` (see the CHANGELOG).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mkba.constants import SENSITIVITY_OUTPUT_HELP
from mkba.engine import Outcomes
from mkba.errors import InputError, Problem
from mkba.model import Model
from mkba.schema.scenario import PERSPECTIVES

TOTALS = ("npv", "bcr", "costs_pv", "benefits_pv")
AREA_PARTS = TOTALS
INTERVENTION_PARTS = TOTALS
STAKEHOLDER_PARTS = ("net", "benefits", "costs")
ALL = tuple(PERSPECTIVES)
SCENARIO_ONLY = ("scenario",)


@dataclass(frozen=True)
class OutputDef:
    """One kind of output: what the registry knows about it.

    ``pattern`` is the name as written (capitals stand for an id), ``unit`` is ``EUR``
    (present value, euros of the price year), ``ratio``, ``1/year`` or ``year``;
    ``perspectives`` is :data:`ALL` (any perspective may be put in front of the name) or
    :data:`SCENARIO_ONLY` (the scenario's own perspective only). ``en``/``nl`` are labels with
    ``{id}`` for the stream, area, stakeholder, component, programme entry or year.
    """

    key: str
    pattern: str
    unit: str
    perspectives: tuple[str, ...]
    en: str
    nl: str


def _defs(*rows: tuple[str, str, str, tuple[str, ...], str, str]) -> dict[str, OutputDef]:
    return {r[0]: OutputDef(*r) for r in rows}


REGISTRY: dict[str, OutputDef] = _defs(
    ("total.npv", "[P.]npv", "EUR", ALL, "net present value", "netto contante waarde"),
    ("total.bcr", "[P.]bcr", "ratio", ALL, "benefit-cost ratio", "baten-kostenverhouding"),
    ("total.costs_pv", "[P.]costs_pv", "EUR", ALL, "present value of costs", "contante waarde kosten"),
    ("total.benefits_pv", "[P.]benefits_pv", "EUR", ALL, "present value of benefits", "contante waarde baten"),
    ("stream.benefits_pv", "[P.]by_stream.STREAM", "EUR", ALL, "benefits of {id}", "baten van {id}"),
    ("area.benefits_pv", "by_area.AREA[.benefits_pv]", "EUR", SCENARIO_ONLY, "benefits in {id}", "baten in {id}"),
    ("area.npv", "by_area.AREA.npv", "EUR", SCENARIO_ONLY, "net present value in {id}", "netto contante waarde in {id}"),
    ("area.bcr", "by_area.AREA.bcr", "ratio", SCENARIO_ONLY, "benefit-cost ratio in {id}", "baten-kostenverhouding in {id}"),
    ("area.costs_pv", "by_area.AREA.costs_pv", "EUR", SCENARIO_ONLY, "costs in {id}", "kosten in {id}"),
    ("stakeholder.net", "by_stakeholder.K[.net]", "EUR", SCENARIO_ONLY, "net gain of {id}", "netto saldo van {id}"),
    ("stakeholder.benefits", "by_stakeholder.K.benefits", "EUR", SCENARIO_ONLY, "gains of {id}", "baten van {id}"),
    ("stakeholder.costs", "by_stakeholder.K.costs", "EUR", SCENARIO_ONLY, "costs of {id}", "kosten van {id}"),
    ("component.pv", "by_component.STREAM.COMPONENT", "EUR", SCENARIO_ONLY, "value of {id}", "waarde van {id}"),
    ("intervention.npv", "[P.]by_intervention.M.npv", "EUR", ALL, "net present value of {id}", "netto contante waarde van {id}"),
    ("intervention.bcr", "[P.]by_intervention.M.bcr", "ratio", ALL, "benefit-cost ratio of {id}", "baten-kostenverhouding van {id}"),
    ("intervention.costs_pv", "[P.]by_intervention.M.costs_pv", "EUR", ALL, "costs of {id}", "kosten van {id}"),
    ("intervention.benefits_pv", "[P.]by_intervention.M.benefits_pv", "EUR", ALL, "benefits of {id}", "baten van {id}"),
    ("cumulative.npv", "cumulative_npv.YEAR", "EUR", SCENARIO_ONLY, "net present value up to {id}", "netto contante waarde tot en met {id}"),
    ("irr.irr", "irr", "1/year", SCENARIO_ONLY, "internal rate of return", "interne rentevoet"),
    ("payback.year", "payback_year", "year", SCENARIO_ONLY, "payback year", "terugverdienjaar"),
)  # fmt: skip

HELP = SENSITIVITY_OUTPUT_HELP  # one text, in mkba.constants (the CLI reads it without numpy)


@dataclass(frozen=True)
class OutputRef:
    """A parsed output name: what to read from :class:`~mkba.engine.Outcomes`."""

    name: str
    kind: str  # total, stream, area, stakeholder, component, intervention, cumulative, irr, payback
    perspective: int  # index into PERSPECTIVES
    index: int = -1  # stream, area, stakeholder, component, programme entry or year index
    part: str = ""  # npv, bcr, costs_pv, benefits_pv; net, benefits, costs; year
    ident: str = ""  # the stream, area, stakeholder, component or entry id, or the year

    @property
    def is_ratio(self) -> bool:
        """Whether the output is a benefit-cost ratio (its natural threshold is 1, not 0)."""
        return self.part == "bcr"

    @property
    def definition(self) -> OutputDef:
        """The registry entry of this output."""
        return REGISTRY[f"{self.kind}.{self.part}"]

    @property
    def unit(self) -> str:
        return self.definition.unit


@dataclass(frozen=True)
class Names:
    """The ids an output name is checked against: a lowered model's (:meth:`of`) or those a
    stored draws table holds (:func:`table_names`), so that one parser serves both."""

    perspective: str  # the scenario's own perspective
    streams: tuple[str, ...]
    areas: tuple[str, ...]
    stakeholders: tuple[str, ...]
    components: tuple[str, ...]
    entries: tuple[str, ...] = ()  # programme entries (bottom-up programmes)
    years: tuple[int, ...] = ()

    @staticmethod
    def of(model: Model) -> Names:
        return Names(
            model.spec.scenario.perspective,
            tuple(model.streams),
            tuple(model.areas),
            tuple(model.stakeholders),
            tuple(model.components),
            tuple(model.programme.ids) if model.programme is not None else (),
            tuple(int(y) for y in model.years),
        )


def _bad(name: str, message: str) -> InputError:
    return InputError([Problem("--output", name, message, name)])


def _known(what: str, ids: list[str] | tuple[str, ...]) -> str:
    return f"unknown {what} (known: {', '.join(ids)})"


def parse_output(model: Model | Names, name: str) -> OutputRef:
    """Check an output name against the model (or the ids of a stored draws table, see
    :func:`table_names`) and say what it reads.

    Raises
    ------
    InputError
        Unknown names, unknown streams, areas, stakeholders, components, programme entries or
        years, and a perspective other than the scenario's for outputs that only exist in that
        one.
    """
    ids_of = model if isinstance(model, Names) else Names.of(model)
    text = name.strip()
    parts = text.split(".")
    own = PERSPECTIVES.index(ids_of.perspective)
    p = own
    explicit = False
    if parts[0] in PERSPECTIVES:
        p, parts, explicit = PERSPECTIVES.index(parts[0]), parts[1:], True
    if not parts or not parts[0]:
        raise _bad(name, f"unknown output (expected {HELP})")
    head, rest = parts[0], parts[1:]

    def only_own() -> None:
        if explicit and p != own:
            raise _bad(
                name,
                f"only available in the scenario's perspective ({PERSPECTIVES[own]})",
            )

    def ref(kind: str, persp: int, index: int = -1, part: str = "", ident: str = "") -> OutputRef:
        return OutputRef(text, kind, persp, index, part, ident)

    if head in TOTALS and not rest:
        return ref("total", p, part=head)
    if head == "by_stream" and len(rest) == 1:
        if rest[0] not in ids_of.streams:
            raise _bad(name, _known("stream", ids_of.streams))
        return ref("stream", p, ids_of.streams.index(rest[0]), "benefits_pv", rest[0])

    def one_of(
        kind: str, what: str, ids: tuple[str, ...], parts: tuple[str, ...], default: str
    ) -> OutputRef:
        """An area's or stakeholder's output: ``by_X.ID[.PART]`` (scenario perspective)."""
        only_own()
        if rest[0] not in ids:
            raise _bad(name, _known(what, ids))
        part = rest[1] if len(rest) == 2 else default
        if part not in parts:
            article = "an" if what[0] in "aeiou" else "a"
            raise _bad(name, f"{article} {what}'s output is one of {', '.join(parts)}")
        return ref(kind, own, ids.index(rest[0]), part, rest[0])

    if head == "by_area" and len(rest) in (1, 2):
        return one_of("area", "area", ids_of.areas, AREA_PARTS, "benefits_pv")
    if head == "by_stakeholder" and len(rest) in (1, 2):
        return one_of("stakeholder", "stakeholder", ids_of.stakeholders, STAKEHOLDER_PARTS, "net")
    if head == "by_component" and len(rest) == 2:
        only_own()
        comp = ".".join(rest)
        if comp not in ids_of.components:
            raise _bad(name, _known("component", ids_of.components))
        return ref("component", own, ids_of.components.index(comp), "pv", comp)
    if head == "by_intervention" and len(rest) == 2:
        ids = ids_of.entries
        if not ids:
            raise _bad(name, "the scenario has no programme of interventions")
        if rest[0] not in ids:
            raise _bad(name, _known("programme entry", ids))
        if rest[1] not in INTERVENTION_PARTS:
            raise _bad(name, f"an entry's output is one of {', '.join(INTERVENTION_PARTS)}")
        return ref("intervention", p, ids.index(rest[0]), rest[1], rest[0])
    if head == "cumulative_npv" and len(rest) == 1:
        only_own()
        years = ids_of.years
        if not years:
            raise _bad(name, "no yearly flows here (a stored draws table has none)")
        try:
            year = int(rest[0])
        except ValueError:
            raise _bad(name, "the year must be a whole number, e.g. cumulative_npv.2035") from None
        if year not in years:
            raise _bad(name, f"year outside the model's years ({years[0]}-{years[-1]})")
        return ref("cumulative", own, years.index(year), "npv", str(year))
    if head == "irr" and not rest:
        only_own()
        return ref("irr", own, part="irr")
    if head == "payback_year" and not rest:
        only_own()
        return ref("payback", own, part="year")
    raise _bad(name, f"unknown output (expected {HELP})")


def _ratio(b: np.ndarray, c: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(c > 0, b / c, np.nan)


def _money(b: np.ndarray, c: np.ndarray, part: str) -> np.ndarray:
    """npv, bcr, costs_pv or benefits_pv of a benefits and a costs column."""
    if part == "bcr":
        return _ratio(b, c)
    if part == "npv":
        return b - c
    return (c if part == "costs_pv" else b).copy()


def output_array(outcomes: Outcomes, model: Model, name: str | OutputRef) -> np.ndarray:
    """One value per evaluated parameter vector (row of theta) for a named output.

    Parameters
    ----------
    outcomes : Outcomes
        Per-draw outcomes from :func:`mkba.engine.evaluate` or :func:`mkba.engine.simulate`.
    model : Model
        The lowered model the outcomes belong to.
    name : str or OutputRef
        An output name (see the module docstring) or an already parsed one.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``, in the output's :attr:`OutputRef.unit`.
    """
    ref = parse_output(model, name) if isinstance(name, str) else name
    o = outcomes
    p, i = ref.perspective, ref.index
    if ref.kind == "total":
        return _money(o.benefits[:, p], o.costs[:, p], ref.part)
    if ref.kind == "stream":
        return o.stream[:, p, i].copy()
    if ref.kind == "area":
        return _money(o.area_benefits[:, i], o.area_costs[:, i], ref.part)
    if ref.kind == "stakeholder":
        b, c = o.stakeholder_benefits[:, i], o.stakeholder_costs[:, i]
        return {"net": b - c, "benefits": b.copy(), "costs": c.copy()}[ref.part]
    if ref.kind == "component":
        return o.component[:, i].copy()
    if ref.kind == "intervention":
        return _money(o.int_benefits[:, i, p], o.int_costs[:, i, p], ref.part)
    if ref.kind == "cumulative":
        return o.dflow[:, : i + 1].sum(axis=1)
    if ref.kind == "irr":
        from mkba.decide.irr import irr

        offsets = model.years.astype(float) - float(model.spec.scenario.base_year)
        return irr(o.flow, offsets).irr
    if ref.kind == "payback":
        return o.payback.copy()
    raise ValueError(f"unknown output kind {ref.kind!r}")  # pragma: no cover


def table_names(columns: Iterable[str], perspective: str) -> Names:
    """The ids a stored draws table (``draws.parquet``, :func:`mkba.results.draws_table`)
    holds, in column order; ``perspective`` is the run's own (names without one mean it).
    Programme entries, years, the IRR and the payback year are not in that table."""
    cols = [str(c) for c in columns]

    def ids(prefix: str, suffix: str = "") -> tuple[str, ...]:
        return tuple(
            c[len(prefix) : len(c) - len(suffix)]
            for c in cols
            if c.startswith(prefix) and c.endswith(suffix)
        )

    return Names(
        perspective,
        ids(f"{perspective}.stream."),
        ids("area.", ".benefits_pv"),
        ids("stakeholder.", ".benefits_pv"),
        ids("component."),
    )


def table_array(table: Mapping[str, Any], ref: OutputRef) -> np.ndarray:
    """One value per draw of an output, read from a stored draws table (a run directory's
    ``draws.parquet``) instead of the run's :class:`~mkba.engine.Outcomes`: the same numbers as
    :func:`output_array` (the table holds the outcomes' columns). ``ref`` is parsed against
    :func:`table_names` of that table."""

    def col(key: str) -> np.ndarray:
        return np.asarray(table[key])

    p = PERSPECTIVES[ref.perspective]
    if ref.kind == "total":
        return col(f"{p}.{ref.part}")
    if ref.kind == "stream":
        return col(f"{p}.stream.{ref.ident}")
    if ref.kind in ("area", "stakeholder"):
        b = col(f"{ref.kind}.{ref.ident}.benefits_pv")
        c = col(f"{ref.kind}.{ref.ident}.costs_pv")
        if ref.kind == "area":
            return _money(b, c, ref.part)
        return {"net": b - c, "benefits": b, "costs": c}[ref.part]
    if ref.kind == "component":
        return col(f"component.{ref.ident}")
    raise InputError(
        [Problem("--output", ref.name, "not in a stored draws table (draws.parquet)", ref.name)]
    )


def is_ratio_name(name: str) -> bool:
    """Whether an output name (as a stored table writes it) is a benefit-cost ratio: the
    model-free check for readers of run directories, which have no model to parse against."""
    return name.strip().rsplit(".", 1)[-1] == "bcr"


def default_threshold(ref: OutputRef) -> float:
    """Where the conclusion changes: 1 for a benefit-cost ratio, 0 otherwise."""
    return 1.0 if ref.is_ratio else 0.0


def label(ref: OutputRef, lang: str, name_of: Any = None) -> str:
    """The output's words in ``lang`` (``nl`` or ``en``); ``name_of(ident)`` may give the
    stream, area, stakeholder or entry its display name (default: the id)."""
    d = ref.definition
    ident = name_of(ref.ident) if (name_of is not None and ref.ident) else ref.ident
    text = (d.nl if lang == "nl" else d.en).format(id=ident)
    if ref.perspective >= 0 and d.perspectives == ALL:
        text += f" ({PERSPECTIVES[ref.perspective]})"
    return text


def _placeholder(pattern: str) -> str:
    """The id part of a pattern: ``STREAM``, ``AREA``, ``K``, ``STREAM.COMPONENT``, ``M``,
    ``YEAR`` (empty for totals)."""
    words = pattern.replace("[P.]", "").replace("[", ".").replace("]", "").split(".")
    return ".".join(w for w in words if w.isupper())


def readme_table() -> str:
    """The README's table of output names (section "Output names"), one row per registry
    entry; ``tests/test_outputs.py`` checks that the README holds exactly this text."""
    rows = [
        "| Name | What (per draw) | Nederlands | Unit | Perspectives |",
        "|---|---|---|---|---|",
    ]
    for d in REGISTRY.values():
        ident = _placeholder(d.pattern)
        persp = "all" if d.perspectives == ALL else "scenario's"
        en, nl = d.en.format(id=ident), d.nl.format(id=ident)
        rows.append(f"| `{d.pattern}` | {en} | {nl} | {d.unit} | {persp} |")
    return "\n".join(rows) + "\n"


def names_of(model: Model) -> list[str]:
    """Every output name the model has, in registry order (the scenario's perspective)."""
    out = list(TOTALS)
    out += [f"by_stream.{s}" for s in model.streams]
    for a in model.areas:
        out += [f"by_area.{a}"] + [f"by_area.{a}.{x}" for x in AREA_PARTS if x != "benefits_pv"]
    for k in model.stakeholders:
        out += [f"by_stakeholder.{k}"] + [f"by_stakeholder.{k}.{x}" for x in STAKEHOLDER_PARTS[1:]]
    out += [f"by_component.{c}" for c in model.components]
    if model.programme is not None:
        out += [f"by_intervention.{m}.{x}" for m in model.programme.ids for x in TOTALS]
    out += [f"cumulative_npv.{int(y)}" for y in model.years]
    return [*out, "irr", "payback_year"]


def expand_outputs(
    model: Model, names: list[str], *, per_area: bool = False, per_year: bool = False
) -> list[OutputRef]:
    """The requested outputs, plus every area's NPV and every year's cumulative NPV on request."""
    ids = Names.of(model)
    refs = [parse_output(ids, n) for n in names]
    if per_area:
        refs += [parse_output(ids, f"by_area.{a}.npv") for a in model.areas]
    if per_year:
        refs += [parse_output(ids, f"cumulative_npv.{int(y)}") for y in model.years]
    seen: set[str] = set()
    out = []
    for r in refs:
        if r.name not in seen:
            seen.add(r.name)
            out.append(r)
    return out
