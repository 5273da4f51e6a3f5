"""A value with a unit, a source and (optionally) a probability distribution.

Every number in ``parameters/`` is a :class:`Quantity`. It is either fixed (``value = 0.1``)
or a distribution (``dist = { type = "pert", min = 0.05, mode = 0.1, max = 0.2 }``). It always has
a ``unit``; money also has a ``price_year`` and says whether it is ``per = "year"`` or
``per = "once"``; and it has either a ``source`` (title, year, URL) or an ``assumption`` that gives
the reasoning.

The unit also fixes the range a value may take (see :func:`unit_range`): fractions lie in
[0, 1]; growth rates (``1/year``) lie above -1; every other unit (money, counts, years,
factors) is non-negative. A distribution must stay inside that range over its whole support.
"""

from __future__ import annotations

import math
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

FRACTION_UNITS = frozenset({"fraction", "probability", "share"})
RATE_UNITS = frozenset({"1/year"})
CURRENCIES = frozenset({"EUR"})
MAX_MAGNITUDE = 1e15
"""Largest magnitude of any number in an input file (a thousand trillion): far above any
real value, far enough below the float range that products of inputs stay finite."""
MAX_RATE = 1.0
"""Largest rate per year (100 %): compounded over two centuries it still stays finite."""


DUTCH_TWINS = (
    ("assumption_nl", "assumption"),
    ("note_nl", "note"),
    ("description_nl", "description"),
    ("method_nl", "method"),
)
"""Optional Dutch texts of the parameter library and the English key each one translates."""


class Strict(BaseModel):
    """Base for all input models: unknown keys are errors, models are immutable."""

    # strict: text is not silently taken for a number ("100" is not 100);
    # allow_inf_nan=False: every float read from any input file is finite (inf and nan are
    # rejected where they are read, naming the key)
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, strict=True, allow_inf_nan=False
    )

    @model_validator(mode="after")
    def _dutch_twins(self) -> Strict:
        """A Dutch text (``assumption_nl``, ``note_nl``, ...: :data:`DUTCH_TWINS`) translates its
        English twin: giving it without the English text is an error."""
        for nl, en in DUTCH_TWINS:
            if getattr(self, nl, None) is not None and getattr(self, en, None) is None:
                raise ValueError(f"'{nl}' given without '{en}' (the Dutch text of an English one)")
        return self

    @field_validator("*", mode="after")
    @classmethod
    def _magnitude(cls, v: object) -> object:
        """No number of an input model is larger in size than :data:`MAX_MAGNITUDE` (nested
        models check their own numbers)."""
        for x in _floats(v):
            if abs(x) > MAX_MAGNITUDE and math.isfinite(x):
                raise ValueError(f"{x:g} is larger in size than {MAX_MAGNITUDE:g}")
        return v


def _floats(v: object) -> list[float]:
    if isinstance(v, float):
        return [v]
    if isinstance(v, dict):
        return [x for item in v.values() for x in _floats(item)]
    if isinstance(v, list | tuple):
        return [x for item in v for x in _floats(item)]
    return []


def unit_currency(unit: str) -> str | None:
    """The currency of a money unit (``"EUR/person/year"`` -> ``"EUR"``), else ``None``."""
    head = unit.split("/", 1)[0].strip()
    return head if head in CURRENCIES else None


def unit_range(unit: str) -> tuple[float, float]:
    """Admissible closed range of values for a unit."""
    if unit in FRACTION_UNITS:
        return 0.0, 1.0
    if unit in RATE_UNITS:
        return -1.0, math.inf
    return 0.0, math.inf


class Source(Strict):
    """Where a value comes from."""

    title: str = Field(min_length=3)
    year: int = Field(ge=1900, le=2100)
    url: str = Field(pattern=r"^https?://\S+$")
    publisher: str | None = None
    table: str | None = None
    page: str | None = None


def _as_list(v: object) -> object:
    return [v] if isinstance(v, dict) else v


Sources = Annotated[list[Source], BeforeValidator(_as_list), Field(min_length=1)]
"""One source or a list of sources; a single table is accepted and wrapped in a list."""


# --- distributions -----------------------------------------------------------------------------


class _Dist(Strict):
    _scale_fields: ClassVar[tuple[str, ...]] = ()

    def support(self) -> tuple[float, float]:
        raise NotImplementedError  # pragma: no cover - every subclass defines it

    def scaled(self, k: float) -> _Dist:
        """The same distribution with every location and scale multiplied by ``k > 0``."""
        fields = {name: getattr(self, name) * k for name in self._scale_fields}
        return self.model_copy(update=fields)


class Uniform(_Dist):
    type: Literal["uniform"]
    min: float
    max: float
    _scale_fields: ClassVar[tuple[str, ...]] = ("min", "max")

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if not self.min < self.max:
            raise ValueError(f"min must be < max (min={self.min}, max={self.max})")
        return self

    def support(self) -> tuple[float, float]:
        return self.min, self.max


class Triangular(_Dist):
    type: Literal["triangular"]
    min: float
    mode: float
    max: float
    _scale_fields: ClassVar[tuple[str, ...]] = ("min", "mode", "max")

    @model_validator(mode="after")
    def _order(self) -> Triangular:
        if not (self.min <= self.mode <= self.max and self.min < self.max):
            raise ValueError(
                f"need min <= mode <= max and min < max "
                f"(min={self.min}, mode={self.mode}, max={self.max})"
            )
        return self

    def support(self) -> tuple[float, float]:
        return self.min, self.max


class Pert(Triangular):
    """Beta-PERT: a beta distribution on [min, max] with the given mode; ``lamb`` = 4 classic."""

    type: Literal["pert"]  # type: ignore[assignment]  # narrows Triangular's "triangular"
    lamb: float = Field(default=4.0, gt=0)


class Normal(_Dist):
    type: Literal["normal"]
    mean: float
    sd: float = Field(gt=0)
    _scale_fields: ClassVar[tuple[str, ...]] = ("mean", "sd")

    def support(self) -> tuple[float, float]:
        return -math.inf, math.inf


class TruncNormal(_Dist):
    type: Literal["truncnormal"]
    mean: float
    sd: float = Field(gt=0)
    min: float
    max: float
    _scale_fields: ClassVar[tuple[str, ...]] = ("mean", "sd", "min", "max")

    @model_validator(mode="after")
    def _order(self) -> TruncNormal:
        if not self.min < self.max:
            raise ValueError(f"min must be < max (min={self.min}, max={self.max})")
        return self

    def support(self) -> tuple[float, float]:
        return self.min, self.max


class LogNormal(_Dist):
    """Lognormal given by ``median`` and a high percentile (``high`` at ``high_q``), or by
    ``mean`` and ``sd`` of the variable itself."""

    type: Literal["lognormal"]
    median: float | None = Field(default=None, gt=0)
    high: float | None = Field(default=None, gt=0)
    high_q: float = Field(default=0.95, gt=0.5, lt=1)
    mean: float | None = Field(default=None, gt=0)
    sd: float | None = Field(default=None, gt=0)
    _scale_fields: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _form(self) -> LogNormal:
        by_median = self.median is not None and self.high is not None
        by_moments = self.mean is not None and self.sd is not None
        if by_median == by_moments or (by_median and (self.mean or self.sd)):
            raise ValueError("give either median and high, or mean and sd")
        if by_median and not self.high > self.median:  # type: ignore[operator]  # both set when by_median
            raise ValueError(f"high must be > median (median={self.median}, high={self.high})")
        return self

    def mu_sigma(self) -> tuple[float, float]:
        """Parameters of the underlying normal."""
        from mkba.invcdf import norm_quantile  # scipy.stats.norm.ppf, without scipy.stats

        if self.median is not None and self.high is not None:
            mu = math.log(self.median)
            return mu, (math.log(self.high) - mu) / norm_quantile(self.high_q)
        assert self.mean is not None and self.sd is not None  # guaranteed by _form
        s2 = math.log1p((self.sd / self.mean) ** 2)
        return math.log(self.mean) - s2 / 2, math.sqrt(s2)

    def scaled(self, k: float) -> LogNormal:
        upd = {
            f: getattr(self, f) * k
            for f in ("median", "high", "mean", "sd")
            if getattr(self, f) is not None
        }
        return self.model_copy(update=upd)

    def support(self) -> tuple[float, float]:
        return 0.0, math.inf


class Beta(_Dist):
    type: Literal["beta"]
    alpha: float = Field(gt=0)
    beta: float = Field(gt=0)
    min: float = 0.0
    max: float = 1.0
    _scale_fields: ClassVar[tuple[str, ...]] = ("min", "max")

    @model_validator(mode="after")
    def _order(self) -> Beta:
        if not self.min < self.max:
            raise ValueError(f"min must be < max (min={self.min}, max={self.max})")
        return self

    def support(self) -> tuple[float, float]:
        return self.min, self.max


class Choice(_Dist):
    """A discrete choice among ``values`` with probabilities ``weights`` (normalised)."""

    type: Literal["choice"]
    values: list[float] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights(self) -> Choice:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"weights must have one entry per value "
                    f"({len(self.weights)} weights, {len(self.values)} values)"
                )
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must be non-negative with a positive sum")
        return self

    def scaled(self, k: float) -> Choice:
        return self.model_copy(update={"values": [v * k for v in self.values]})

    def support(self) -> tuple[float, float]:
        return min(self.values), max(self.values)


Distribution = Annotated[
    Uniform | Triangular | Pert | Normal | TruncNormal | LogNormal | Beta | Choice,
    Field(discriminator="type"),
]
DIST_TYPES = (
    "uniform",
    "triangular",
    "pert",
    "normal",
    "truncnormal",
    "lognormal",
    "beta",
    "choice",
)


# --- quantity ----------------------------------------------------------------------------------


def _check_magnitude(q: Quantity) -> None:
    """Rates per year at most :data:`MAX_RATE`; a lognormal's spread (sigma) at most 10 (a
    factor e^10 per standard deviation), so that no draw overflows."""
    if q.unit in RATE_UNITS:
        hi = q.value if q.dist is None else q.dist.support()[1]
        if hi is not None and hi > MAX_RATE:
            raise ValueError(f"a rate per year above {MAX_RATE:g} (100 %) (up to {hi:g})")
    if isinstance(q.dist, LogNormal) and q.dist.mu_sigma()[1] > 10:
        raise ValueError("lognormal spread too large (sigma above 10)")


class Quantity(Strict):
    """One sourced value: fixed or uncertain, with unit, price year (money) and provenance."""

    unit: str = Field(min_length=1)
    value: float | None = None
    dist: Distribution | None = None
    price_year: int | None = None
    per: Literal["year", "once"] | None = None
    source: Sources | None = None
    assumption: str | None = Field(default=None, min_length=10)
    assumption_nl: str | None = Field(default=None, min_length=10)
    calibrated: str | None = None
    note: str | None = None
    note_nl: str | None = None

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str) -> str:
        if " " in v:
            raise ValueError("unit must not contain spaces (e.g. 'EUR/person/year')")
        return v

    @model_validator(mode="after")
    def _check(self) -> Quantity:
        if (self.value is None) == (self.dist is None):
            raise ValueError("give exactly one of 'value' (fixed) or 'dist' (a distribution)")
        if self.source is None and self.assumption is None and self.calibrated is None:
            raise ValueError(
                "no provenance: give a 'source' (title, year, url) or label it "
                "'assumption' with the reasoning"
            )
        if self.is_money:
            if self.price_year is None:
                raise ValueError(f"money ({self.unit}) needs 'price_year'")
            if self.per is None:
                raise ValueError(f"money ({self.unit}) needs per = 'year' or 'once'")
        elif self.price_year is not None:
            raise ValueError(f"'price_year' given for a non-money unit ({self.unit})")
        lo, hi = unit_range(self.unit)
        if self.value is not None:
            if math.isnan(self.value) or not lo <= self.value <= hi:
                raise ValueError(f"value {self.value} outside [{lo}, {hi}] for unit {self.unit!r}")
        else:
            assert self.dist is not None
            s_lo, s_hi = self.dist.support()
            if s_lo < lo or s_hi > hi:
                raise ValueError(
                    f"{self.dist.type} distribution ranges over [{s_lo}, {s_hi}], outside "
                    f"[{lo}, {hi}] allowed for unit {self.unit!r} (bound it, e.g. 'truncnormal')"
                )
        _check_magnitude(self)
        return self

    @property
    def is_money(self) -> bool:
        return unit_currency(self.unit) is not None

    @property
    def currency(self) -> str | None:
        return unit_currency(self.unit)

    @property
    def is_uncertain(self) -> bool:
        return self.dist is not None

    def scaled(self, k: float) -> Quantity:
        """The quantity with its value or distribution multiplied by ``k``."""
        if self.dist is None:
            assert self.value is not None
            return self.model_copy(update={"value": self.value * k})
        return self.model_copy(update={"dist": self.dist.scaled(k)})


class DecayQuantity(Quantity):
    """A half-life: like every quantity, except that a fixed ``value = inf`` is allowed and
    means no decay (the only infinite number an input file may hold; nan never is)."""

    model_config = ConfigDict(allow_inf_nan=True)

    @model_validator(mode="after")
    def _only_plus_inf(self) -> DecayQuantity:
        if self.value is not None and not (math.isfinite(self.value) or self.value > 0):
            raise ValueError(f"value must be a number or inf (no decay), got {self.value}")
        return self
