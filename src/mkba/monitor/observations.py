"""Monitoring observations as data: a CSV table of observed indicator values per area and year,
with a TOML sidecar that says what each indicator measures, in which unit, from which source,
and which stream's volume it observes.

Layout (``observations.csv`` and ``observations.toml`` side by side, as ``areas.csv`` and
``areas.toml``)::

    indicator,area_id,year,value,sd,cv,baseline
    bijstand,rotterdam-zuid,2021,11850,,0.03,yes
    bijstand,rotterdam-zuid,2022,11710,,0.03,no

- ``value``: the observed indicator [the indicator's unit];
- ``sd`` or ``cv`` (exactly one per row): the measurement error or sampling uncertainty of the
  value, as a standard deviation [the indicator's unit] or as a coefficient of variation of the
  observed value [-] (``sd = cv * value``);
- ``baseline`` (optional column, ``yes``/``no``): the nulmeting, at most one per indicator and
  area, the earliest year of its series and no later than the area's programme start.

The sidecar names each indicator once::

    title = "..."
    illustrative = true          # optional: synthetic data, said on every output
    [indicators.bijstand]
    label = "Bijstand recipients"
    label_nl = "Bijstandsontvangers"
    stream = "benefit_savings"   # the stream whose volume the indicator observes
    unit = "person"              # must equal the stream's volume unit
    source = { title = "...", year = 2025, url = "https://..." }   # or assumption = "..."
    discrepancy_cv = 0.02        # optional model discrepancy [-], see mkba.monitor.update

An observation is of the stream's volume in the area *with* the programme,
``V(t) - dV(t)`` (see :mod:`mkba.monitor.projection`).

Participants reached by a measure of a bottom-up programme are an indicator too: the sidecar
says ``observes = "participants"`` (no ``stream``; ``unit = "participant"``) and each row names
the measure in the column ``intervention`` (the scenario's ``[interventions.<id>]`` key)::

    indicator,area_id,year,value,sd,cv,baseline,intervention
    deelnemers,den-haag-zuidwest,2025,140,,0.05,no,schuldhulp

They are compared with the *planned* participants of the lowered model
(:attr:`mkba.interventions.Programme.participants`), which are the same in every draw: they do
not reweight the draws, but an observed reach that differs from the plan is flagged (the
projected volumes assume the plan).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from mkba.errors import InputError, Problem
from mkba.load import problems_from
from mkba.model import Model
from mkba.schema.parameters import ID_PATTERN
from mkba.schema.quantity import Sources, Strict
from mkba.tomlio import display_path, read_csv, read_toml

REQUIRED_COLUMNS = ("indicator", "area_id", "year", "value")
OPTIONAL_COLUMNS = ("sd", "cv", "baseline", "note", "intervention")
PARTICIPANT_UNIT = "participant"
YES, NO = ("yes", "true", "1"), ("no", "false", "0", "")


class Indicator(Strict):
    """One observed indicator: what it measures and where it comes from."""

    label: str = Field(min_length=1)
    label_nl: str = Field(min_length=1)
    observes: Literal["volume", "participants"] = "volume"
    stream: str | None = None
    unit: str
    description: str | None = None
    source: Sources | None = None
    assumption: str | None = Field(default=None, min_length=10)
    note: str | None = None
    discrepancy_cv: float = Field(default=0.0, ge=0.0, le=1.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _what(self) -> Indicator:
        if self.observes == "volume" and self.stream is None:
            raise ValueError("give the 'stream' whose volume the indicator observes")
        if self.observes == "participants":
            if self.stream is not None:
                raise ValueError(
                    "a participants indicator has no 'stream' (the row names the intervention)"
                )
            if self.unit != PARTICIPANT_UNIT:
                raise ValueError(f"the unit of participants is {PARTICIPANT_UNIT!r}")
        return self

    @model_validator(mode="after")
    def _provenance(self) -> Indicator:
        if self.source is None and self.assumption is None:
            raise ValueError(
                "no provenance: give a 'source' (title, year, url) or label it "
                "'assumption' with the reasoning"
            )
        return self


class ObservationsSidecar(Strict):
    title: str | None = None
    description: str | None = None
    illustrative: bool = False
    indicators: dict[str, Indicator] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids(self) -> ObservationsSidecar:
        bad = [k for k in self.indicators if not re.match(ID_PATTERN, k)]
        if bad:
            raise ValueError(f"indicator ids must be lower_snake_case: {bad}")
        return self


@dataclass(frozen=True)
class Observations:
    """Validated observations, mapped onto a lowered model.

    Rows are sorted by (indicator, area, intervention, year). ``pair`` indexes the observed
    (area, stream) pairs ``pairs`` (-1 for participants); ``entry`` is the programme entry of
    a participants row (-1 for volumes); ``t`` is the index of the year in ``model.years``.
    """

    path: Path
    sidecar: ObservationsSidecar
    indicator: tuple[str, ...]  # (J,)
    area: tuple[str, ...]  # (J,)
    year: np.ndarray  # (J,) int
    value: np.ndarray  # (J,)
    sd: np.ndarray  # (J,) measurement standard deviation [indicator unit]
    baseline: np.ndarray  # (J,) bool
    discrepancy_cv: np.ndarray  # (J,)
    pairs: tuple[tuple[int, int], ...]  # (P,) (area index, stream index) in the model
    pair: np.ndarray  # (J,) int
    t: np.ndarray  # (J,) int
    digest: str
    intervention: tuple[str, ...] = ()  # (J,) entry key of participants rows, "" for volumes
    entry: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (J,)

    @property
    def is_volume(self) -> np.ndarray:
        """(J,) bool: the row observes a volume (not participants)."""
        return self.entry < 0

    def __len__(self) -> int:
        return int(self.value.size)

    def series(self) -> list[tuple[str, str, str]]:
        """The distinct (indicator, area, intervention) series, in row order (intervention
        "" for volumes)."""
        return list(dict.fromkeys(zip(self.indicator, self.area, self.intervention, strict=True)))

    def through(self, last_year: int) -> Observations:
        """Only the observations of ``last_year`` and before (e.g. 'after three years')."""
        keep = self.year <= last_year
        idx = np.flatnonzero(keep)
        if idx.size == 0:
            raise InputError(
                [
                    Problem(
                        display_path(self.path),
                        "year",
                        f"no observations in or before {last_year}",
                        int(self.year.min()),
                    )
                ]
            )
        used = sorted(set(self.pair[idx].tolist()) - {-1})
        remap = {p: i for i, p in enumerate(used)}
        return Observations(
            path=self.path,
            sidecar=self.sidecar,
            indicator=tuple(self.indicator[i] for i in idx),
            area=tuple(self.area[i] for i in idx),
            year=self.year[idx],
            value=self.value[idx],
            sd=self.sd[idx],
            baseline=self.baseline[idx],
            discrepancy_cv=self.discrepancy_cv[idx],
            pairs=tuple(self.pairs[p] for p in used),
            pair=np.array([remap.get(p, -1) for p in self.pair[idx]], dtype=np.int64),
            t=self.t[idx],
            digest=hashlib.sha256(f"{self.digest}:{last_year}".encode()).hexdigest(),
            intervention=tuple(self.intervention[i] for i in idx),
            entry=self.entry[idx],
        )


def sidecar_path(csv_path: Path) -> Path:
    return csv_path.with_suffix(".toml")


def _number(text: str) -> float | None:
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def load_observations(path: Path | str, model: Model) -> Observations:
    """Read and validate an observations table and its sidecar against a lowered model.

    Every problem is collected first; any problem raises :class:`~mkba.errors.InputError`
    naming the file, the line and column, and the value.
    """
    csv_path = Path(path)
    side = sidecar_path(csv_path)
    cname, sname = display_path(csv_path), display_path(side)
    problems: list[Problem] = []
    if csv_path.suffix.lower() != ".csv":
        raise InputError(
            [Problem(cname, "", "observations must be a .csv file (with a .toml sidecar)")]
        )
    sidecar: ObservationsSidecar | None = None
    try:
        raw = read_toml(side)
    except InputError as exc:
        problems.extend(exc.problems)
        raw = None
    if raw is not None:
        try:
            sidecar = ObservationsSidecar.model_validate(raw)
        except ValidationError as exc:
            problems.extend(problems_from(exc, sname))
    try:
        columns, rows = read_csv(csv_path)
    except InputError as exc:
        raise InputError([*problems, *exc.problems]) from None

    spec = model.spec
    stream_units = {s: spec.params.streams[s].volume.unit for s in model.streams}
    if sidecar is not None:
        for k, indicator in sidecar.indicators.items():
            if indicator.stream is None:
                continue
            if indicator.stream not in stream_units:
                problems.append(
                    Problem(
                        sname,
                        f"indicators.{k}.stream",
                        f"unknown stream (known: {', '.join(model.streams)})",
                        indicator.stream,
                    )
                )
            elif indicator.unit != stream_units[indicator.stream]:
                problems.append(
                    Problem(
                        sname,
                        f"indicators.{k}.unit",
                        f"must be the unit of the volume of stream {indicator.stream!r}, "
                        f"{stream_units[indicator.stream]!r}",
                        indicator.unit,
                    )
                )
    for need in REQUIRED_COLUMNS:
        if need not in columns:
            problems.append(Problem(cname, "header", f"missing column {need!r}"))
    for col in columns:
        if col not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
            problems.append(
                Problem(
                    cname,
                    f"header.{col}",
                    f"unknown column (allowed: {', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)})",
                )
            )
    if "sd" not in columns and "cv" not in columns:
        problems.append(Problem(cname, "header", "needs a column 'sd' or 'cv' (measurement error)"))
    if not rows:
        problems.append(Problem(cname, "", "no observations"))
    if problems:
        raise InputError(problems)
    assert sidecar is not None

    y0, y1 = int(model.years[0]), int(model.years[-1])
    prog = model.programme
    entries = prog.ids if prog is not None else ()
    recs: list[tuple[str, str, int, float, float, bool, float, int, str]] = []
    seen: dict[tuple[str, str, str, int], int] = {}
    for i, r in enumerate(rows, start=2):
        where = f"line {i}"
        ind = r["indicator"].strip()
        area = r["area_id"].strip()
        ok = True
        if ind not in sidecar.indicators:
            problems.append(
                Problem(
                    cname,
                    f"{where}.indicator",
                    f"not described in {side.name} (known: {', '.join(sidecar.indicators)})",
                    ind,
                )
            )
            ok = False
        if area not in model.areas:
            what = (
                "not an area of the scenario" if area in spec.params.areas.ids else "unknown area"
            )
            problems.append(
                Problem(
                    cname,
                    f"{where}.area_id",
                    f"{what} (scenario areas: {', '.join(model.areas)})",
                    area,
                )
            )
            ok = False
        try:
            year = int(r["year"].strip())
        except ValueError:
            problems.append(Problem(cname, f"{where}.year", "must be a whole year", r["year"]))
            year, ok = 0, False
        else:
            if not y0 <= year <= y1:
                problems.append(
                    Problem(
                        cname,
                        f"{where}.year",
                        f"outside the scenario's years {y0}-{y1} (base_year..horizon)",
                        year,
                    )
                )
                ok = False
        value = _number(r["value"].strip())
        if value is None or value < 0:
            problems.append(
                Problem(cname, f"{where}.value", "must be a finite number >= 0", r["value"])
            )
            ok = False
        sd_text = (r.get("sd") or "").strip()
        cv_text = (r.get("cv") or "").strip()
        sd = math.nan
        if bool(sd_text) == bool(cv_text):
            problems.append(
                Problem(
                    cname,
                    f"{where}.sd",
                    "give exactly one of sd or cv (the measurement error)",
                    {"sd": sd_text, "cv": cv_text},
                )
            )
            ok = False
        elif sd_text:
            x = _number(sd_text)
            if x is None or x <= 0:
                problems.append(Problem(cname, f"{where}.sd", "must be a number > 0", sd_text))
                ok = False
            else:
                sd = x
        else:
            x = _number(cv_text)
            if x is None or x <= 0 or x > 1:
                problems.append(
                    Problem(cname, f"{where}.cv", "must be a number in (0, 1]", cv_text)
                )
                ok = False
            elif value is not None:
                sd = x * value
                if sd <= 0:
                    problems.append(
                        Problem(
                            cname,
                            f"{where}.cv",
                            "a cv of a zero value gives no error: give sd instead",
                            cv_text,
                        )
                    )
                    ok = False
        flag = (r.get("baseline") or "").strip().lower()
        if flag not in YES + NO:
            problems.append(
                Problem(cname, f"{where}.baseline", "must be yes or no", r.get("baseline"))
            )
            ok = False
        entry = (r.get("intervention") or "").strip()
        kind = sidecar.indicators[ind].observes if ind in sidecar.indicators else None
        if kind == "participants":
            if entry not in entries:
                known = ", ".join(entries) or "none: the scenario has no bottom-up programme"
                what = (
                    "not a measure of this scenario"
                    if entry in spec.params.interventions
                    else "unknown intervention"
                )
                if not entry:
                    what = "a participants indicator needs the intervention"
                problems.append(
                    Problem(
                        cname,
                        f"{where}.intervention",
                        f"{what} (scenario measures: {known})",
                        entry,
                    )
                )
                ok = False
            elif area in model.areas:
                assert prog is not None
                mi = entries.index(entry)
                if not prog.participants[mi, model.areas.index(area)].any():
                    problems.append(
                        Problem(
                            cname,
                            f"{where}.area_id",
                            f"{entry} has no planned participants in this area",
                            area,
                        )
                    )
                    ok = False
            if flag in YES:
                problems.append(
                    Problem(
                        cname,
                        f"{where}.baseline",
                        "participants have no baseline (nulmeting): there are none before "
                        "the programme",
                        r.get("baseline"),
                    )
                )
                ok = False
        elif kind == "volume" and entry:
            problems.append(
                Problem(
                    cname,
                    f"{where}.intervention",
                    f"only participants indicators name an intervention ({ind} observes a "
                    "stream's volume)",
                    entry,
                )
            )
            ok = False
        if not ok:
            continue
        key = (ind, area, entry, year)
        if key in seen:
            problems.append(
                Problem(
                    cname,
                    where,
                    f"duplicate observation of {ind} in {area} in {year} (also line {seen[key]})",
                )
            )
            continue
        seen[key] = i
        assert value is not None
        recs.append(
            (
                ind,
                area,
                year,
                value,
                sd,
                flag in YES,
                sidecar.indicators[ind].discrepancy_cv,
                i,
                entry,
            )
        )

    # the nulmeting: at most one per series, its earliest year, not after the programme start
    by_series: dict[tuple[str, str], list[tuple[int, bool, int]]] = {}
    for ind, area, year, _v, _sd, base, _d, line, _e in recs:
        by_series.setdefault((ind, area), []).append((year, base, line))
    for (ind, area), items in by_series.items():
        bases = [it for it in items if it[1]]
        if len(bases) > 1:
            problems.append(
                Problem(
                    cname,
                    f"line {bases[1][2]}.baseline",
                    f"a second baseline (nulmeting) of {ind} in {area} (first on line "
                    f"{bases[0][2]})",
                    "yes",
                )
            )
        elif bases:
            year, _b, line = bases[0]
            first = min(it[0] for it in items)
            start = int(model.prog_start[model.areas.index(area)])
            if year != first:
                problems.append(
                    Problem(
                        cname,
                        f"line {line}.baseline",
                        f"the baseline must be the earliest observation of {ind} in {area} "
                        f"({first})",
                        year,
                    )
                )
            elif year > start:
                problems.append(
                    Problem(
                        cname,
                        f"line {line}.baseline",
                        f"the baseline must lie in or before the programme start in {area} "
                        f"({start})",
                        year,
                    )
                )
    if problems:
        raise InputError(problems)

    recs.sort(key=lambda r: (r[0], r[1], r[8], r[2]))
    pairs: list[tuple[int, int]] = []
    pair_of = []
    for ind, area, *_ in recs:
        stream = sidecar.indicators[ind].stream
        if stream is None:  # participants
            pair_of.append(-1)
            continue
        p = (model.areas.index(area), model.streams.index(stream))
        if p not in pairs:
            pairs.append(p)
        pair_of.append(pairs.index(p))
    h = hashlib.sha256()
    h.update(csv_path.read_bytes())
    h.update(b"\0")
    h.update(side.read_bytes())
    return Observations(
        path=csv_path,
        sidecar=sidecar,
        indicator=tuple(r[0] for r in recs),
        area=tuple(r[1] for r in recs),
        year=np.array([r[2] for r in recs], dtype=np.int64),
        value=np.array([r[3] for r in recs], dtype=float),
        sd=np.array([r[4] for r in recs], dtype=float),
        baseline=np.array([r[5] for r in recs], dtype=bool),
        discrepancy_cv=np.array([r[6] for r in recs], dtype=float),
        pairs=tuple(pairs),
        pair=np.array(pair_of, dtype=np.int64),
        t=np.array([r[2] - y0 for r in recs], dtype=np.int64),
        digest=h.hexdigest(),
        intervention=tuple(r[8] for r in recs),
        entry=np.array([entries.index(r[8]) if r[8] else -1 for r in recs], dtype=np.int64),
    )
