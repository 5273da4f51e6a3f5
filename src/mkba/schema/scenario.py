"""Schema of a scenario file under ``scenarios/``: what is compared, and how it is run."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from mkba.constants import MAX_DRAWS
from mkba.constants import PERSPECTIVES as PERSPECTIVES
from mkba.schema.interventions import ProgrammeEntry
from mkba.schema.quantity import Sources, Strict

SAMPLERS = ("random", "lhs", "sobol")


class DiscountSpec(Strict):
    """A discount rate: one ``rate``, or a ``schedule`` of rates from given years on, and
    optional per-category rates (``streams``: stream -> rate; ``costs``: rate for costs)."""

    rate: float | None = Field(default=None, gt=-0.5, lt=0.5)
    schedule: dict[Annotated[int, Field(strict=False)], float] | None = None
    streams: dict[str, float] = Field(default_factory=dict)
    costs: float | None = Field(default=None, gt=-0.5, lt=0.5)

    @model_validator(mode="after")
    def _form(self) -> DiscountSpec:
        if (self.rate is None) == (self.schedule is None):
            raise ValueError("give exactly one of 'rate' or 'schedule'")
        if self.schedule is not None:
            if not self.schedule:
                raise ValueError("schedule must not be empty")
            bad = {y: r for y, r in self.schedule.items() if not -0.5 < r < 0.5}
            if bad:
                raise ValueError(f"schedule rates must lie in (-0.5, 0.5) (got {bad})")
        bad_streams = {s: r for s, r in self.streams.items() if not -0.5 < r < 0.5}
        if bad_streams:
            raise ValueError(f"stream rates must lie in (-0.5, 0.5) (got {bad_streams})")
        return self


class BudgetSpec(Strict):
    """The programme budget, per area x domain x year.

    Either a ``total`` (or ``per_resident`` x the scenario's population) split over areas (``area_weights``: an areas.csv column or explicit
    weights), domains (``domains``: shares) and years (``profile``: weights per year from
    ``start_year`` on), or a CSV ``table`` with columns ``area_id, domain, year, amount``.
    ``scale`` multiplies everything (variants such as half the budget).
    """

    unit: Literal["EUR"] = "EUR"
    price_year: int
    total: float | None = Field(default=None, ge=0)
    per_resident: float | None = Field(default=None, ge=0)
    area_weights: str | dict[str, float] = "population"
    domains: dict[str, float] | None = None
    profile: list[float] | None = None
    table: str | None = None
    scale: float = Field(default=1.0, ge=0)
    source: Sources | None = None
    assumption: str | None = None
    assumption_nl: str | None = None
    note: str | None = None
    note_nl: str | None = None

    @model_validator(mode="after")
    def _form(self) -> BudgetSpec:
        if self.table is not None:
            if any(
                getattr(self, k) is not None
                for k in ("total", "per_resident", "domains", "profile")
            ):
                raise ValueError(
                    "a budget 'table' excludes total, per_resident, domains and profile"
                )
        else:
            if (self.total is None) == (self.per_resident is None):
                raise ValueError("give exactly one of 'total' or 'per_resident' (or a 'table')")
            missing = [k for k in ("domains", "profile") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"budget needs {missing} (or a 'table')")
            assert self.domains is not None and self.profile is not None
            if any(v < 0 for v in self.domains.values()) or sum(self.domains.values()) <= 0:
                raise ValueError("domain shares must be non-negative with a positive sum")
            if not self.profile or any(v < 0 for v in self.profile) or sum(self.profile) <= 0:
                raise ValueError("profile must be non-negative weights with a positive sum")
        if self.source is None and self.assumption is None:
            raise ValueError(
                "no provenance: give a 'source' (title, year, url) or label it "
                "'assumption' with the reasoning"
            )
        if isinstance(self.area_weights, dict) and any(
            not (v >= 0 and math.isfinite(v)) for v in self.area_weights.values()
        ):
            raise ValueError("area weights must be non-negative")
        return self


def _rate_as_spec(v: object) -> object:
    return {"rate": v} if isinstance(v, int | float) and not isinstance(v, bool) else v


class Correlation(Strict):
    """Rank (Spearman) correlation between two uncertain parameters, by their paths."""

    params: Annotated[tuple[str, str], Field(strict=False)]
    rho: float = Field(ge=-1, le=1)


class PmItem(Strict):
    """An effect of the programme named but not monetised ("pro memorie"): listed in the
    summary table as ``+PM`` / ``−PM`` / ``±PM`` so a reader sees what the money leaves out."""

    label: str
    label_nl: str
    sign: Literal["+", "-", "+/-"]
    why: str = Field(min_length=10)
    why_nl: str = Field(min_length=10)
    related: str | None = None
    """The monetised stream that covers part of it, if any."""


class ScenarioFile(Strict):
    title: str
    title_nl: str | None = None
    description: str | None = None
    description_nl: str | None = None
    parameters: str = "../parameters"
    calibration: str | None = None
    companion: str | None = None  # a scenario shown side by side (evidence vs reconstruction)
    areas: list[str] = Field(min_length=1)
    base_year: int = Field(ge=1990, le=2100)
    price_year: int = Field(ge=1990, le=2100)
    start_year: int = Field(ge=1990, le=2100)
    horizon: int = Field(ge=1990, le=2200)
    discount_rate: Annotated[DiscountSpec, BeforeValidator(_rate_as_spec)]
    perspective: Literal["welfare", "fiscal", "study"] = "welfare"
    draws: int = Field(default=10_000, ge=1, le=MAX_DRAWS)
    seed: int = Field(default=0, ge=0)
    sampler: Literal["random", "lhs", "sobol"] = "lhs"
    chunk_size: int = Field(default=4096, ge=16, le=1_000_000)
    budget: BudgetSpec | None = None
    interventions: dict[str, ProgrammeEntry] = Field(default_factory=dict)
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    pm: dict[str, PmItem] = Field(default_factory=dict)
    """Effects named but not monetised (PM items) of this programme."""
    use: dict[str, list[str]] | None = None
    """Entries of the parameter folder this scenario uses, per folder (e.g.
    ``{streams = ["debt_help"]}``); narrows the programme's ``[use]`` (mkba.toml)."""
    correlations: list[Correlation] = Field(default_factory=list)
    variants: dict[str, dict[str, Any]] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _some_programme(self) -> ScenarioFile:
        if self.budget is None and not any(not e.drop for e in self.interventions.values()):
            raise ValueError("give a top-down 'budget', bottom-up '[interventions.<id>]', or both")
        return self

    @field_validator("variants")
    @classmethod
    def _names(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        bad = [k for k in v if not k.strip() or any(ord(ch) < 32 for ch in k)]
        if bad:
            raise ValueError("variant names must be non-empty, without control characters")
        return v

    @field_validator("areas")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        from collections import Counter

        dup = sorted(a for a, k in Counter(v).items() if k > 1)  # linear: 3,000 areas
        if dup:
            raise ValueError(f"areas listed twice: {dup}")
        return v

    @field_validator("start_year")
    @classmethod
    def _start_after_base(cls, v: int, info: ValidationInfo) -> int:
        base = info.data.get("base_year")
        if base is not None and v < base:
            raise ValueError(f"must not be before base_year ({base})")
        return v

    @field_validator("horizon")
    @classmethod
    def _horizon_after_start(cls, v: int, info: ValidationInfo) -> int:
        start = info.data.get("start_year")
        if start is not None and v < start:
            raise ValueError(f"must not be before start_year ({start})")
        return v


class CalibrationFile(Strict):
    """A calibration record written by ``mkba calibrate``: ``[record]`` (how it was made),
    ``[scenario]`` (fitted scenario keys) and ``[values]`` (fitted parameter quantities, each
    checked as a :class:`~mkba.schema.quantity.Quantity` when applied). Any other table, e.g. a
    misspelt ``[valeus]``, is an error: a record that is silently half applied would change
    the results without a word."""

    record: dict[str, Any] = Field(default_factory=dict)
    scenario: dict[str, Any] = Field(default_factory=dict)
    values: dict[str, dict[str, Any]] = Field(default_factory=dict)
