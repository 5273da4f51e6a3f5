"""Schemas of the files under ``parameters/``.

The folder layout is the access path of every value::

    parameters/
      model.toml          stakeholders and investment domains
      programme.toml      programme-wide response: elasticity, governance penalty
      costs.toml          per domain: payer shares, overrun, additionality, follow-up costs
      cpi.toml            consumer price index, for indexing money to a price year
      areas.csv           one row per area (volumes and characteristics)
      areas.toml          sidecar: unit, year and source of every areas.csv column
      streams/<id>.toml   one file per benefit stream: volume, effect, timing, value components
      interventions/<id>.toml  optional: bottom-up measures (see mkba.schema.interventions)

A value's path is its file stem followed by its keys, e.g.
``streams.benefit_savings.effect`` or ``costs.physical.overrun``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from mkba.schema.quantity import DecayQuantity, Quantity, Source, Sources, Strict

Identifier = str
ID_PATTERN = r"^[a-z][a-z0-9_]*$"
AREA_ID_PATTERN = r"^[a-z][a-z0-9-]*$"


class Provenance(Strict):
    """Source or assumption for a table of numbers that is not a single quantity."""

    source: Sources | None = None
    assumption: str | None = Field(default=None, min_length=10)
    assumption_nl: str | None = Field(default=None, min_length=10)
    note: str | None = None
    note_nl: str | None = None

    @model_validator(mode="after")
    def _has_provenance(self) -> Provenance:
        if self.source is None and self.assumption is None:
            raise ValueError(
                "no provenance: give a 'source' (title, year, url) or label it "
                "'assumption' with the reasoning"
            )
        return self


# --- model.toml --------------------------------------------------------------------------------


class Stakeholder(Strict):
    label: str
    label_nl: str
    public: bool
    description: str | None = None


class Domain(Strict):
    label: str
    label_nl: str
    governance: bool = False
    description: str | None = None


class ModelFile(Strict):
    title: str | None = None
    stakeholders: dict[str, Stakeholder] = Field(min_length=1)
    domains: dict[str, Domain] = Field(min_length=1)

    @field_validator("stakeholders", "domains")
    @classmethod
    def _ids(cls, v: dict[str, object]) -> dict[str, object]:
        _check_ids(v)
        return v

    @model_validator(mode="after")
    def _one_governance(self) -> ModelFile:
        gov = [k for k, d in self.domains.items() if d.governance]
        if len(gov) > 1:
            raise ValueError(f"at most one domain may have governance = true (got {gov})")
        return self


def _check_ids(mapping: Mapping[str, object]) -> None:
    import re

    bad = [k for k in mapping if not re.match(ID_PATTERN, k)]
    if bad:
        raise ValueError(f"identifiers must be lower_snake_case: {bad}")


# --- programme.toml ----------------------------------------------------------------------------


class ProgrammeFile(Strict):
    elasticity: Quantity
    governance_penalty: Quantity

    @model_validator(mode="after")
    def _units(self) -> ProgrammeFile:
        _expect_unit(self.elasticity, "elasticity", {"elasticity"})
        _expect_unit(self.governance_penalty, "governance_penalty", {"fraction"})
        return self


def _expect_unit(q: Quantity, key: str, units: set[str]) -> None:
    if q.unit not in units:
        raise ValueError(f"{key}.unit must be one of {sorted(units)} (got {q.unit!r})")


# --- costs.toml ----------------------------------------------------------------------------------


class PayerShares(Provenance):
    shares: dict[str, float] = Field(min_length=1)

    @field_validator("shares")
    @classmethod
    def _sum_one(cls, v: dict[str, float]) -> dict[str, float]:
        if any(not 0 <= s <= 1 for s in v.values()):
            raise ValueError(f"each share must lie in [0, 1] (got {v})")
        if not math.isclose(sum(v.values()), 1.0, abs_tol=1e-9):
            raise ValueError(f"shares must sum to 1 (sum {sum(v.values()):.6g})")
        return v


class DomainCosts(Strict):
    payers: PayerShares
    overrun: Quantity
    additional_share: Quantity
    followup_rate: Quantity
    followup_years: Quantity
    service_life: Quantity | None = None  # durable investment: residual value at the horizon

    @model_validator(mode="after")
    def _units(self) -> DomainCosts:
        _expect_unit(self.overrun, "overrun", {"factor"})
        _expect_unit(self.additional_share, "additional_share", {"fraction"})
        _expect_unit(self.followup_rate, "followup_rate", {"fraction/year"})
        _expect_unit(self.followup_years, "followup_years", {"year"})
        if self.followup_years.is_uncertain:
            raise ValueError("followup_years must be fixed (a whole number of years)")
        if self.service_life is not None:
            _expect_unit(self.service_life, "service_life", {"year"})
            if self.service_life.is_uncertain:
                raise ValueError("service_life must be fixed")
            v = self.service_life.value
            if v is None or not v > 0:
                raise ValueError(f"service_life must be positive (got {v})")
        return self


class CostsFile(Strict):
    domains: dict[str, DomainCosts] = Field(min_length=1)


# --- cpi.toml ------------------------------------------------------------------------------------


class CpiFile(Strict):
    unit: Literal["index"]
    base: str
    source: Source
    note: str | None = None
    note_nl: str | None = None
    values: dict[Annotated[int, Field(strict=False)], float] = Field(min_length=1)

    @field_validator("values")
    @classmethod
    def _positive(cls, v: dict[int, float]) -> dict[int, float]:
        bad = {y: x for y, x in v.items() if not x > 0}
        if bad:
            raise ValueError(f"index values must be positive (got {bad})")
        years = sorted(v)
        if years != list(range(years[0], years[-1] + 1)):
            raise ValueError("CPI years must be consecutive")
        return v


# --- areas.toml (sidecar of areas.csv) -------------------------------------------------------


class Estimated(Strict):
    rows: list[str] | Literal["all"]
    method: str = Field(min_length=10)
    method_nl: str | None = Field(default=None, min_length=10)


class AreaColumn(Strict):
    unit: str
    description: str
    description_nl: str | None = None
    year: int | None = None
    source: Sources | None = None
    assumption: str | None = Field(default=None, min_length=10)
    assumption_nl: str | None = Field(default=None, min_length=10)
    estimated: Estimated | None = None
    note: str | None = None
    note_nl: str | None = None

    @model_validator(mode="after")
    def _provenance(self) -> AreaColumn:
        if self.source is None and self.assumption is None:
            raise ValueError(
                "no provenance: give a 'source' (title, year, url) or label it "
                "'assumption' with the reasoning"
            )
        return self


TEXT_UNITS = frozenset({"text", "flag"})


class AreasSidecar(Strict):
    id_column: Literal["area_id"] = "area_id"
    columns: dict[str, AreaColumn]

    @property
    def text_columns(self) -> list[str]:
        return [c for c, m in self.columns.items() if m.unit in TEXT_UNITS]

    @property
    def numeric_columns(self) -> dict[str, AreaColumn]:
        return {c: m for c, m in self.columns.items() if m.unit not in TEXT_UNITS}


# --- streams/<id>.toml ---------------------------------------------------------------------------

STREAM_QUANTITIES = ("trend", "effect", "deadweight", "displacement", "lag", "ramp", "half_life")
"""The per-stream quantities besides the volume, in the order the kernel reads them."""


class Volume(Strict):
    """``V0[a] = base[a] * multiplier[a] * rate * factor``, dated ``year``.

    ``base`` and ``multiplier`` are areas.csv columns; ``rate`` (e.g. a national rate per
    inhabitant) and ``factor`` (e.g. how much higher the rate is in focus areas) are
    quantities and may be uncertain.
    """

    base: str
    multiplier: str | None = None
    rate: Quantity
    factor: Quantity | None = None
    year: int = Field(ge=1990, le=2100)
    unit: str


class Response(Provenance):
    """Which investment domains drive the stream: weights W[s, d] summing to 1."""

    weights: dict[str, float] = Field(min_length=1)

    @field_validator("weights")
    @classmethod
    def _sum_one(cls, v: dict[str, float]) -> dict[str, float]:
        if any(not 0 <= w <= 1 for w in v.values()):
            raise ValueError(f"each weight must lie in [0, 1] (got {v})")
        if not math.isclose(sum(v.values()), 1.0, abs_tol=1e-9):
            raise ValueError(f"weights must sum to 1 (sum {sum(v.values()):.6g})")
        return v


class Component(Strict):
    label: str
    label_nl: str
    nature: Literal["resource", "transfer"]
    gainer: str
    loser: str | None = None
    study: bool | None = None
    loss: bool = False
    unit_value: Quantity
    growth: Quantity

    @model_validator(mode="after")
    def _check(self) -> Component:
        if self.nature == "transfer" and self.loser is None:
            raise ValueError("a transfer needs a 'loser' (the stakeholder who pays it)")
        if self.nature == "resource" and self.loser is not None:
            raise ValueError("a resource effect has no 'loser' (only transfers are pairs)")
        if self.loser is not None and self.loser == self.gainer:
            raise ValueError(f"gainer and loser are the same stakeholder ({self.gainer!r})")
        if not self.unit_value.is_money or self.unit_value.per != "year":
            raise ValueError("unit_value must be money per year (e.g. unit 'EUR/person/year')")
        _expect_unit(self.growth, "growth", {"1/year"})
        return self

    @property
    def in_study(self) -> bool:
        """Whether the ``study`` perspective counts it (default: resource effects only)."""
        return self.study if self.study is not None else self.nature == "resource"


class StreamFile(Strict):
    label: str
    label_nl: str
    group: str | None = None
    description: str | None = None
    volume: Volume
    trend: Quantity
    effect: Quantity
    deadweight: Quantity
    displacement: Quantity
    lag: Quantity
    ramp: Quantity
    half_life: DecayQuantity
    response: Response
    components: dict[str, Component] = Field(min_length=1)

    @field_validator("components")
    @classmethod
    def _ids(cls, v: dict[str, Component]) -> dict[str, Component]:
        _check_ids(v)
        return v

    @model_validator(mode="after")
    def _units(self) -> StreamFile:
        _expect_unit(self.trend, "trend", {"1/year"})
        for key in ("effect", "deadweight", "displacement"):
            _expect_unit(getattr(self, key), key, {"fraction"})
        for key in ("lag", "ramp", "half_life"):
            _expect_unit(getattr(self, key), key, {"year"})
        return self
