"""Named outputs of the model as per-draw arrays: what a sensitivity analysis explains.

The names follow :func:`mkba.calibrate.statistic` without its statistic suffix, since the
methods need one value per evaluated parameter vector, not a summary:

====================================  ============================================================
``[PERSPECTIVE.]npv``                 net present value (default: the scenario's perspective)
``[PERSPECTIVE.]bcr``                 benefit-cost ratio
``[PERSPECTIVE.]costs_pv``            present value of costs
``[PERSPECTIVE.]benefits_pv``         present value of benefits
``[PERSPECTIVE.]by_stream.STREAM``    present value of one stream's benefits
``by_area.AREA[.npv|.bcr|...]``       one area (scenario perspective; default its NPV)
``by_stakeholder.K[.net|.benefits|.costs]``  one stakeholder (default its net gain)
``by_component.STREAM.COMPONENT``     present value of one value component (signed)
``cumulative_npv.YEAR``               NPV of the flows up to and including YEAR (scenario
                                      perspective): ``cumsum(dflow)[:, YEAR - base_year]``
====================================  ============================================================

Money in euros of the scenario's price year, present value at its base year.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mkba.constants import SENSITIVITY_OUTPUT_HELP
from mkba.engine import Outcomes
from mkba.errors import InputError, Problem
from mkba.model import Model
from mkba.schema.scenario import PERSPECTIVES

TOTALS = ("npv", "bcr", "costs_pv", "benefits_pv")
AREA_PARTS = TOTALS
STAKEHOLDER_PARTS = ("net", "benefits", "costs")

HELP = SENSITIVITY_OUTPUT_HELP


@dataclass(frozen=True)
class OutputRef:
    """A parsed output name: what to read from :class:`~mkba.engine.Outcomes`."""

    name: str
    kind: str  # total, stream, area, stakeholder, component, cumulative
    perspective: int  # index into PERSPECTIVES
    index: int = -1  # stream, area, stakeholder, component or year index
    part: str = ""  # npv, bcr, costs_pv, benefits_pv; net, benefits, costs

    @property
    def is_ratio(self) -> bool:
        """Whether the output is a benefit-cost ratio (its natural threshold is 1, not 0)."""
        return self.part == "bcr"


def _bad(name: str, message: str) -> InputError:
    return InputError([Problem("--output", name, message, name)])


def parse_output(model: Model, name: str) -> OutputRef:
    """Check an output name against the model and say what it reads.

    Raises
    ------
    InputError
        Unknown names, unknown streams, areas, stakeholders, components or years, and a
        perspective other than the scenario's for outputs that only exist in that one.
    """
    text = name.strip()
    parts = text.split(".")
    own = PERSPECTIVES.index(model.spec.scenario.perspective)
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

    if head in TOTALS and not rest:
        return OutputRef(text, "total", p, part=head)
    if head == "by_stream" and len(rest) == 1:
        if rest[0] not in model.streams:
            raise _bad(name, f"unknown stream (known: {', '.join(model.streams)})")
        return OutputRef(text, "stream", p, model.streams.index(rest[0]))
    if head == "by_area" and len(rest) in (1, 2):
        only_own()
        if rest[0] not in model.areas:
            raise _bad(name, f"unknown area (known: {', '.join(model.areas)})")
        part = rest[1] if len(rest) == 2 else "npv"
        if part not in AREA_PARTS:
            raise _bad(name, f"an area's output is one of {', '.join(AREA_PARTS)}")
        return OutputRef(text, "area", own, model.areas.index(rest[0]), part)
    if head == "by_stakeholder" and len(rest) in (1, 2):
        if rest[0] not in model.stakeholders:
            raise _bad(name, f"unknown stakeholder (known: {', '.join(model.stakeholders)})")
        part = rest[1] if len(rest) == 2 else "net"
        if part not in STAKEHOLDER_PARTS:
            raise _bad(name, f"a stakeholder's output is one of {', '.join(STAKEHOLDER_PARTS)}")
        return OutputRef(text, "stakeholder", own, model.stakeholders.index(rest[0]), part)
    if head == "by_component" and len(rest) == 2:
        comp = ".".join(rest)
        if comp not in model.components:
            raise _bad(name, f"unknown component (known: {', '.join(model.components)})")
        return OutputRef(text, "component", own, model.components.index(comp))
    if head == "cumulative_npv" and len(rest) == 1:
        only_own()
        years = [int(y) for y in model.years]
        try:
            year = int(rest[0])
        except ValueError:
            raise _bad(name, "the year must be a whole number, e.g. cumulative_npv.2035") from None
        if year not in years:
            raise _bad(name, f"year outside the model's years ({years[0]}-{years[-1]})")
        return OutputRef(text, "cumulative", own, years.index(year), "npv")
    raise _bad(name, f"unknown output (expected {HELP})")


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
        Shape ``(n,)``; euros of the price year (present value), or a ratio for ``bcr``.
    """
    ref = parse_output(model, name) if isinstance(name, str) else name
    o = outcomes
    p = ref.perspective
    if ref.kind == "total":
        if ref.part == "npv":
            return o.benefits[:, p] - o.costs[:, p]
        if ref.part == "costs_pv":
            return o.costs[:, p].copy()
        if ref.part == "benefits_pv":
            return o.benefits[:, p].copy()
        return _ratio(o.benefits[:, p], o.costs[:, p])
    if ref.kind == "stream":
        return o.stream[:, p, ref.index].copy()
    if ref.kind == "area":
        b, c = o.area_benefits[:, ref.index], o.area_costs[:, ref.index]
        if ref.part == "bcr":
            return _ratio(b, c)
        return {"npv": b - c, "benefits_pv": b.copy(), "costs_pv": c.copy()}[ref.part]
    if ref.kind == "stakeholder":
        b, c = o.stakeholder_benefits[:, ref.index], o.stakeholder_costs[:, ref.index]
        return {"net": b - c, "benefits": b.copy(), "costs": c.copy()}[ref.part]
    if ref.kind == "component":
        return o.component[:, ref.index].copy()
    if ref.kind == "cumulative":
        return o.dflow[:, : ref.index + 1].sum(axis=1)
    raise ValueError(f"unknown output kind {ref.kind!r}")  # pragma: no cover


def _ratio(b: np.ndarray, c: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(c > 0, b / c, np.nan)


def default_threshold(ref: OutputRef) -> float:
    """Where the conclusion changes: 1 for a benefit-cost ratio, 0 otherwise."""
    return 1.0 if ref.is_ratio else 0.0


def expand_outputs(
    model: Model, names: list[str], *, per_area: bool = False, per_year: bool = False
) -> list[OutputRef]:
    """The requested outputs, plus every area's NPV and every year's cumulative NPV on request."""
    refs = [parse_output(model, n) for n in names]
    if per_area:
        refs += [parse_output(model, f"by_area.{a}") for a in model.areas]
    if per_year:
        refs += [parse_output(model, f"cumulative_npv.{int(y)}") for y in model.years]
    seen: set[str] = set()
    out = []
    for r in refs:
        if r.name not in seen:
            seen.add(r.name)
            out.append(r)
    return out
