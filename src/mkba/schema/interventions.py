"""Schemas of bottom-up interventions (maatregelen): ``parameters/interventions/<id>.toml``, and
of the ``[interventions.<id>]`` tables of a scenario that compose a programme from them.

An intervention has a target group, a cost per participant and one or more effects per
participant on outcome streams (docs/model.md §3). Every number is a
:class:`~mkba.schema.quantity.Quantity` (unit, distribution, provenance), so intervention
values are sampled, overridden and reported like every other parameter; their paths are
``interventions.<id>.cost.per_participant``, ``interventions.<id>.effects.<stream>.effect`` ...
"""

from __future__ import annotations

import math
from typing import Literal, get_args

from pydantic import Field, field_validator, model_validator

from mkba.schema.parameters import PayerShares, Provenance, _expect_unit
from mkba.schema.quantity import DecayQuantity, Quantity, Strict

# Recognition levels of the Databank Effectieve Interventies (Erkenningscommissie Interventies,
# Movisie / NJi / Loket Gezond Leven), plus "none" for a measure without a recognition.
# Default benefit haircut per level (optimism bias on benefits, in the spirit of the Green Book's
# optimism-bias adjustment): the effect per participant is multiplied by (1 - haircut). These
# defaults are an assumption of this project, documented in README.md ("Interventions"); an
# effect may set its own ``haircut``.
EVIDENCE_GRADES: dict[str, tuple[str, float]] = {
    "sterke_aanwijzingen": ("effectief volgens sterke aanwijzingen", 0.0),
    "goede_aanwijzingen": ("effectief volgens goede aanwijzingen", 0.10),
    "eerste_aanwijzingen": ("effectief volgens eerste aanwijzingen", 0.20),
    "goed_onderbouwd": ("goed onderbouwd", 0.35),
    "goed_beschreven": ("goed beschreven", 0.50),
    "none": ("niet erkend", 0.50),
}
StudyDesign = Literal[
    "meta_analysis",
    "rct",
    "quasi_experiment",
    "before_after",
    "cost_benefit_study",
    "expert_judgement",
    "assumption",
]
STUDY_DESIGNS: tuple[str, ...] = get_args(StudyDesign)
EvidenceGrade = Literal[
    "sterke_aanwijzingen",
    "goede_aanwijzingen",
    "eerste_aanwijzingen",
    "goed_onderbouwd",
    "goed_beschreven",
    "none",
]

# per-intervention and per-effect quantities the kernel reads, in slot order
INTERVENTION_QUANTITIES = ("per_participant", "fixed_per_area_year", "overrun")
EFFECT_QUANTITIES = ("effect", "deadweight", "attribution", "displacement", "half_life")


class TargetCount(Provenance):
    """An explicit target group: a count per area (e.g. households with problem debts)."""

    unit: str
    per_area: dict[str, float] = Field(min_length=1)

    @field_validator("per_area")
    @classmethod
    def _non_negative(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {a: x for a, x in v.items() if not (math.isfinite(x) and x >= 0)}
        if bad:
            raise ValueError(f"counts must be finite and non-negative (got {bad})")
        return v


class Target(Strict):
    """Who can take part: a share of an outcome stream's area volume, or a count per area."""

    stream: str | None = None
    share: Quantity | None = None
    count: TargetCount | None = None

    @model_validator(mode="after")
    def _form(self) -> Target:
        if (self.stream is None) == (self.count is None):
            raise ValueError("give exactly one of 'stream' (an area volume) or 'count' (per area)")
        if self.share is not None:
            if self.stream is None:
                raise ValueError("'share' applies to a stream's volume; not to a count")
            _expect_unit(self.share, "share", {"fraction"})
            if self.share.is_uncertain:
                raise ValueError("share must be fixed (the target group plans the reach)")
        return self


class Cost(Strict):
    per_participant: Quantity
    fixed_per_area_year: Quantity | None = None
    overrun: Quantity | None = None
    payers: PayerShares

    @model_validator(mode="after")
    def _units(self) -> Cost:
        pp = self.per_participant
        if not pp.is_money or pp.per != "once" or not pp.unit.endswith("/participant"):
            raise ValueError(
                "per_participant must be money once per participant (unit 'EUR/participant')"
            )
        f = self.fixed_per_area_year
        if f is not None and (not f.is_money or f.per != "year"):
            raise ValueError("fixed_per_area_year must be money per year (unit 'EUR/area/year')")
        if self.overrun is not None:
            _expect_unit(self.overrun, "overrun", {"factor"})
        return self


class Profile(Provenance):
    """Effect by year since participation (after the lag), as multipliers of the effect; the
    last value then decays with the half-life (or stops without one). Values may be negative
    (lock-in: training lowers outflow while people take part)."""

    values: list[float] = Field(min_length=1, max_length=30)

    @field_validator("values")
    @classmethod
    def _finite(cls, v: list[float]) -> list[float]:
        if any(not math.isfinite(x) or abs(x) > 10 for x in v):
            raise ValueError("profile values must be finite multipliers in [-10, 10]")
        return v


class Effect(Strict):
    """Effect per participant on one outcome stream (the file key is the stream id)."""

    effect: Quantity
    design: StudyDesign
    evidence: EvidenceGrade
    haircut: float | None = Field(default=None, ge=0, le=1)
    deadweight: Quantity
    attribution: Quantity
    displacement: Quantity
    lag: Quantity
    half_life: DecayQuantity | None = None
    profile: Profile | None = None
    note: str | None = None
    note_nl: str | None = None

    @model_validator(mode="after")
    def _units(self) -> Effect:
        if self.effect.unit != "fraction" and not self.effect.unit.endswith("/participant"):
            raise ValueError(
                "effect.unit must be 'fraction' (a probability per participant) or "
                "'<unit>/participant' (an amount per participant per year)"
            )
        for key in ("deadweight", "attribution", "displacement"):
            _expect_unit(getattr(self, key), key, {"fraction"})
        _expect_unit(self.lag, "lag", {"year"})
        if self.lag.is_uncertain or self.lag.value != math.floor(self.lag.value or 0.0):
            raise ValueError("lag must be a fixed whole number of years")
        if self.half_life is None and self.profile is None:
            raise ValueError("give a 'half_life', a 'profile', or both")
        if self.half_life is not None:
            _expect_unit(self.half_life, "half_life", {"year"})
        return self

    @property
    def grade_haircut(self) -> float:
        return self.haircut if self.haircut is not None else EVIDENCE_GRADES[self.evidence][1]


class InterventionFile(Strict):
    label: str
    label_nl: str
    description: str | None = None
    target: Target
    cost: Cost
    effects: dict[str, Effect] = Field(min_length=1)


# --- scenario side -----------------------------------------------------------------------------


class ProgrammeEntry(Strict):
    """One intervention in a scenario's programme: where, from when, with what money or reach.

    ``budget`` (euros of ``price_year`` per area and year, from ``start_year``) or ``reach``
    (participants per area and year): a list (the same in every area) or a table area -> list.
    ``scale`` multiplies it (a variant scales a measure); ``drop = true`` removes the measure
    (a variant drops or swaps a measure); an empty list counts as absent, so a variant can
    switch a measure from budget to reach with ``budget = [], reach = [...]``.
    """

    intervention: str | None = None
    areas: list[str] | None = None
    start_year: int | None = Field(default=None, ge=1990, le=2200)
    budget: list[float] | dict[str, list[float]] | None = None
    price_year: int | None = None
    reach: list[float] | dict[str, list[float]] | None = None
    scale: float = Field(default=1.0, ge=0)
    drop: bool = False
    note: str | None = None
    note_nl: str | None = None

    @field_validator("budget", "reach", mode="before")
    @classmethod
    def _empty_is_absent(cls, v: object) -> object:
        # a variant switches a measure from budget to reach (or back) with ``budget = []``
        return None if v == [] else v

    @model_validator(mode="after")
    def _form(self) -> ProgrammeEntry:
        if self.drop:
            return self
        if (self.budget is None) == (self.reach is None):
            raise ValueError(
                "give exactly one of 'budget' (EUR per year) or 'reach' (participants per year)"
            )
        if self.budget is not None and self.price_year is None:
            raise ValueError("a 'budget' needs its 'price_year'")
        sched = self.budget if self.budget is not None else self.reach
        lists = sched.values() if isinstance(sched, dict) else [sched]
        for v in lists:
            if not v or any(not (math.isfinite(x) and x >= 0) for x in v):
                raise ValueError("budget/reach must be non-empty lists of non-negative numbers")
        return self
