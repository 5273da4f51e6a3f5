"""Load and validate parameter and scenario files into one immutable :class:`Spec`.

Every problem in every file is collected before anything is reported, so a user sees them
all at once, each as ``file: key.path: message (got VALUE)``. If there is any problem,
:class:`~mkba.errors.InputError` is raised and nothing is computed or written.
"""

from __future__ import annotations

import contextlib
import copy
import fnmatch
import functools
import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from mkba import library
from mkba.errors import InputError, Problem
from mkba.schema.interventions import InterventionFile
from mkba.schema.parameters import (
    AREA_ID_PATTERN,
    STREAM_QUANTITIES,
    AreasSidecar,
    CostsFile,
    CpiFile,
    ModelFile,
    PayerShares,
    ProgrammeFile,
    Response,
    StreamFile,
)
from mkba.schema.quantity import DIST_TYPES, DUTCH_TWINS, MAX_MAGNITUDE, Quantity
from mkba.schema.scenario import CalibrationFile, ScenarioFile
from mkba.tomlio import display_path, parse_number, read_csv, read_toml

M = TypeVar("M", bound=BaseModel)

_UNION_TOKENS = set(DIST_TYPES) | {"float", "int", "list[Source]", "Source", "str", "dict"}


def _loc_to_key(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for i, item in enumerate(loc):
        if isinstance(item, str) and item in _UNION_TOKENS and i > 0:
            continue
        if isinstance(item, str) and item.startswith(("function-", "tagged-union")):
            continue
        parts.append(f"[{item}]" if isinstance(item, int) else str(item))
    return ".".join(parts).replace(".[", "[")


def _message(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing required key"
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    return msg


def problems_from(exc: ValidationError, file: str, prefix: str = "") -> list[Problem]:
    """Turn a pydantic error into one :class:`Problem` per error, keyed by dotted path."""
    out = []
    seen = set()
    for err in exc.errors():
        key = _loc_to_key(tuple(err["loc"]))
        key = f"{prefix}.{key}" if prefix and key else (prefix or key)
        msg = _message(err)
        if (key, msg) in seen:
            continue
        seen.add((key, msg))
        value = err.get("input")
        if err["type"] == "missing" or (not key and isinstance(value, dict)):
            out.append(Problem(file, key, msg))
        else:
            out.append(Problem(file, key, msg, value))
    return out


def _validate(
    model: type[M], data: Any, file: str, problems: list[Problem], prefix: str = ""
) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(problems_from(exc, file, prefix))
        return None


def _read(path: Path, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        return read_toml(path)
    except InputError as exc:
        problems.extend(exc.problems)
        return None


# --- parameter set -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AreaTable:
    """The areas table: ids, text columns and numeric columns (one float array per column)."""

    ids: tuple[str, ...]
    text: dict[str, tuple[str, ...]]
    numeric: dict[str, np.ndarray]
    sidecar: AreasSidecar

    def index(self, area_id: str) -> int:
        try:
            return self._positions[area_id]
        except KeyError:
            raise ValueError(f"{area_id!r} is not in the areas table") from None

    @functools.cached_property
    def _positions(self) -> dict[str, int]:
        """Row of each area id (the first, as ``tuple.index``): a lookup in constant time,
        3,000 areas looked up one by one were quadratic."""
        pos: dict[str, int] = {}
        for i, a in enumerate(self.ids):
            pos.setdefault(a, i)
        return pos


@dataclass(frozen=True)
class ParameterSet:
    """All validated parameter files of one folder."""

    root: Path
    model: ModelFile
    programme: ProgrammeFile
    costs: CostsFile
    cpi: CpiFile
    areas: AreaTable
    streams: dict[str, StreamFile]
    digest: str
    interventions: dict[str, InterventionFile] = field(default_factory=dict)
    layers: library.Layers | None = None
    """The library and programme folders this set was read from (see :mod:`mkba.library`)."""

    def origin(self, path: str) -> str:
        """The file a parameter value (or table, e.g. ``costs.social.payers``) came from."""
        if self.layers is not None:
            found = library.origin_of(self.layers, path)
            if found is not None:
                return found
        name, _ = library.quantity_location(path)
        return display_path(self.root / name)

    def origin_kind(self, path: str) -> str:
        """``library`` or ``programme``: whether a value came from the shipped library or
        from the user's programme folder."""
        if self.layers is None or not self.layers.is_programme:
            return "library"
        file = Path(self.origin(path)).resolve()
        owners = [r for r in self.layers.roots if file.is_relative_to(r)]
        # the closest folder owns the file (a library may sit inside a programme folder)
        owner = max(owners, key=lambda r: len(r.parts)) if owners else None
        return "programme" if owner == self.layers.top else "library"

    def quantities(self) -> dict[str, Quantity]:
        """Every quantity by its path, in file order."""
        out: dict[str, Quantity] = {}
        for key in ("elasticity", "governance_penalty"):
            out[f"programme.{key}"] = getattr(self.programme, key)
        for d, dc in self.costs.domains.items():
            for key in ("overrun", "additional_share", "followup_rate", "followup_years"):
                out[f"costs.{d}.{key}"] = getattr(dc, key)
            if dc.service_life is not None:
                out[f"costs.{d}.service_life"] = dc.service_life
        for s, st in self.streams.items():
            out[f"streams.{s}.volume.rate"] = st.volume.rate
            if st.volume.factor is not None:
                out[f"streams.{s}.volume.factor"] = st.volume.factor
            for key in STREAM_QUANTITIES:
                out[f"streams.{s}.{key}"] = getattr(st, key)
            for c, comp in st.components.items():
                out[f"streams.{s}.components.{c}.unit_value"] = comp.unit_value
                out[f"streams.{s}.components.{c}.growth"] = comp.growth
        # interventions last: the registry columns of the top-down parameters stay where they were
        from mkba.interventions import intervention_quantities

        out.update(intervention_quantities(self.interventions))
        return out


def _digest(paths: Iterable[Path], root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p.relative_to(root)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _load_areas(csv_path: Path, side_path: Path, problems: list[Problem]) -> AreaTable | None:
    side_name, csv_name = display_path(side_path), display_path(csv_path)
    raw = _read(side_path, problems)
    sidecar = _validate(AreasSidecar, raw, side_name, problems) if raw is not None else None
    try:
        columns, rows = read_csv(csv_path)
    except InputError as exc:
        problems.extend(exc.problems)
        return None
    if sidecar is None:
        return None
    n_before = len(problems)
    if "area_id" not in columns:
        problems.append(Problem(csv_name, "header", "missing column 'area_id'"))
        return None
    ids = [r["area_id"].strip() for r in rows]
    import re

    for i, a in enumerate(ids, start=2):
        if not re.match(AREA_ID_PATTERN, a):
            problems.append(
                Problem(csv_name, f"line {i}.area_id", "area ids must be lower-kebab-case", a)
            )
    dup = sorted(a for a, k in Counter(ids).items() if k > 1)  # linear in the areas
    if dup:
        problems.append(Problem(csv_name, "area_id", "duplicate area ids", dup))
    described = set(sidecar.columns) | {"area_id"}
    for col in columns:
        if col not in described:
            problems.append(
                Problem(
                    side_name, f"columns.{col}", f"column of {csv_path.name} has no unit and source"
                )
            )
    for col in sidecar.columns:
        if col not in columns:
            problems.append(
                Problem(side_name, f"columns.{col}", f"no such column in {csv_path.name}")
            )
    numeric: dict[str, np.ndarray] = {}
    for col, meta in sidecar.numeric_columns.items():
        if col not in columns:
            continue
        vals = []
        for i, r in enumerate(rows, start=2):
            text = r[col].strip()
            try:
                v = parse_number(text)
            except ValueError as exc:
                why = str(exc) if "ambiguous" in str(exc) else "not a number"
                problems.append(Problem(csv_name, f"line {i}.{col}", why, text))
                continue
            if not math.isfinite(v) or v < 0 or v > MAX_MAGNITUDE:
                problems.append(
                    Problem(
                        csv_name,
                        f"line {i}.{col}",
                        f"must be a non-negative number up to {MAX_MAGNITUDE:g}",
                        text,
                    )
                )
            if meta.unit in ("fraction", "share") and v > 1:
                problems.append(
                    Problem(csv_name, f"line {i}.{col}", "a fraction must lie in [0, 1]", text)
                )
            vals.append(v)
        numeric[col] = np.asarray(vals, dtype=float)
        if meta.estimated is not None and meta.estimated.rows != "all":
            for a in meta.estimated.rows:
                if a not in ids:
                    problems.append(
                        Problem(side_name, f"columns.{col}.estimated.rows", "unknown area", a)
                    )
    if len(problems) > n_before:
        return None
    text_cols = {c: tuple(r[c] for r in rows) for c in sidecar.text_columns if c in columns}
    return AreaTable(tuple(ids), text_cols, numeric, sidecar)


_SHARED_PARAMETERS: ContextVar[dict[str, ParameterSet] | None] = ContextVar(
    "mkba_shared_parameters", default=None
)


@contextlib.contextmanager
def shared_parameters() -> Iterator[None]:
    """Within the block, :func:`load_scenario` loads each parameter folder (with the same
    ``use``) once: a batch of a scenario's variants reads and validates its library once, not
    once per variant. The set is immutable, so sharing it changes nothing."""
    token = _SHARED_PARAMETERS.set({})
    try:
        yield
    finally:
        _SHARED_PARAMETERS.reset(token)


def _shared_parameters(root: Path, use: dict[str, list[str]] | None) -> ParameterSet:
    cache = _SHARED_PARAMETERS.get()
    if cache is None:
        return load_parameters(root, use=use)
    key = json.dumps([str(root), use], sort_keys=True)
    if key not in cache:
        cache[key] = load_parameters(root, use=use)
    return cache[key]


def load_parameters(root: Path, *, use: dict[str, list[str]] | None = None) -> ParameterSet:
    """Load and validate every file of a parameter folder; raise InputError listing all problems.

    ``root`` is a library (such as the shipped ``parameters/``) or a programme folder whose
    ``mkba.toml`` extends one (see :mod:`mkba.library`). ``use`` (folder -> entry ids)
    selects entries, like ``[use]`` in ``mkba.toml``.
    """
    root = Path(root)
    problems: list[Problem] = []
    if not root.is_dir():
        raise InputError([Problem(display_path(root), "", "parameter folder not found")])
    layers = library.resolve(root)
    if use is not None:
        layers.use = {**(layers.use or {}), **use}
    file_names: dict[str, str] = {}

    def one(name: str, model: type[M]) -> M | None:
        raw, shown = layers.read(name, problems)
        file_names[name] = shown
        return _validate(model, raw, shown, problems) if raw is not None else None

    model = one("model.toml", ModelFile)
    programme = one("programme.toml", ProgrammeFile)
    costs = one("costs.toml", CostsFile)
    cpi = one("cpi.toml", CpiFile)
    areas = _load_areas(*layers.areas(), problems)
    streams: dict[str, StreamFile] = {}
    stream_entries = layers.entries("streams", problems)
    stream_paths = [p for paths in stream_entries.values() for p in paths]
    if not stream_entries:
        problems.append(
            Problem(display_path(layers.top / "streams"), "", "no stream files (streams/*.toml)")
        )
    for sid, paths in stream_entries.items():
        if not sid.replace("_", "").isalnum() or not sid[0].isalpha() or sid.lower() != sid:
            problems.append(
                Problem(display_path(paths[-1]), "", "stream file names must be lower_snake_case")
            )
        st = one(f"streams/{sid}.toml", StreamFile)
        if st is not None:
            streams[sid] = st

    if model and costs:
        name = file_names["costs.toml"]
        for d in model.domains:
            if d not in costs.domains:
                problems.append(Problem(name, f"domains.{d}", "domain of model.toml has no costs"))
        for d, dc in costs.domains.items():
            if d not in model.domains:
                problems.append(Problem(name, f"domains.{d}", "unknown domain", d))
            for k in dc.payers.shares:
                if k not in model.stakeholders:
                    problems.append(
                        Problem(name, f"domains.{d}.payers.shares.{k}", "unknown stakeholder", k)
                    )
    if model and areas:
        for sid, st in streams.items():
            name = file_names[f"streams/{sid}.toml"]
            for col_key in ("base", "multiplier"):
                col = getattr(st.volume, col_key)
                if col is not None and col not in areas.numeric:
                    problems.append(
                        Problem(
                            name, f"volume.{col_key}", "no such numeric column in areas.csv", col
                        )
                    )
            for d in st.response.weights:
                if d not in model.domains:
                    problems.append(Problem(name, f"response.weights.{d}", "unknown domain", d))
            for cid, comp in st.components.items():
                for role in ("gainer", "loser"):
                    k = getattr(comp, role)
                    if k is not None and k not in model.stakeholders:
                        problems.append(
                            Problem(name, f"components.{cid}.{role}", "unknown stakeholder", k)
                        )
    if cpi:
        _check_price_years(file_names, streams, cpi, problems)
    from mkba.interventions import load_interventions

    interventions, intervention_paths = load_interventions(
        layers, model, areas, streams, cpi, problems
    )
    if problems:
        raise InputError(problems)
    assert model and programme and costs and cpi and areas
    if layers.is_programme:
        digest = _digest_layers(layers.files() + stream_paths + intervention_paths)
    else:
        files = [
            layers.top / n
            for n in (
                "model.toml",
                "programme.toml",
                "costs.toml",
                "cpi.toml",
                "areas.csv",
                "areas.toml",
            )
        ]
        digest = _digest(files + stream_paths + intervention_paths, layers.top)
    return ParameterSet(
        root,
        model,
        programme,
        costs,
        cpi,
        areas,
        streams,
        digest,
        interventions=interventions,
        layers=layers,
    )


def _digest_layers(paths: Iterable[Path]) -> str:
    """Digest of a programme folder and its library: file contents in layer order (paths
    are not hashed, so moving the folders does not change it)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(b"\0")
        h.update(p.read_bytes() if p.is_file() else b"")
        h.update(b"\0")
    return h.hexdigest()


def _check_price_years(
    file_names: dict[str, str],
    streams: dict[str, StreamFile],
    cpi: CpiFile,
    problems: list[Problem],
) -> None:
    lo, hi = min(cpi.values), max(cpi.values)
    for sid, st in streams.items():
        name = file_names[f"streams/{sid}.toml"]
        for cid, comp in st.components.items():
            py = comp.unit_value.price_year
            if py is not None and py not in cpi.values:
                problems.append(
                    Problem(
                        name,
                        f"components.{cid}.unit_value.price_year",
                        f"price year outside the CPI table ({lo}-{hi}); cannot index it",
                        py,
                    )
                )


# --- scenario ------------------------------------------------------------------------------------


REPLACE_MARKER = "replace"
"""A table of a variant with ``replace = true`` replaces the scenario's table whole
(docs/model.md §9)."""


def _without_marker(v: Any) -> Any:
    """A copy of ``v`` without the ``replace`` markers of its tables (at every depth)."""
    if not isinstance(v, dict):
        return copy.deepcopy(v)
    return {
        k: _without_marker(x)
        for k, x in v.items()
        if not (k == REPLACE_MARKER and isinstance(x, bool))
    }


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge ``update`` onto a copy of ``base`` (tables merge key by key, values
    replace; a table of ``update`` with ``replace = true`` replaces the table of ``base``
    whole, without the marker: docs/model.md §9)."""
    out = copy.deepcopy(base)
    for k, v in update.items():
        if k == REPLACE_MARKER and isinstance(v, bool):
            continue
        if isinstance(v, dict) and v.get(REPLACE_MARKER) is True:
            out[k] = _without_marker(v)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = _without_marker(v)
    _drop_stale_twins(out, update)
    return out


def _drop_stale_twins(data: dict[str, Any], change: dict[str, Any]) -> None:
    """A new English text (``assumption``, ``note``, ...) without its Dutch twin makes the old
    twin stale: drop it, so that a Dutch report quotes the new English text (marked as such)
    rather than the Dutch of the text it replaced."""
    for nl, en in DUTCH_TWINS:
        if en in change and nl not in change:
            data.pop(nl, None)


def apply_override(q: Quantity, change: dict[str, Any]) -> Quantity:
    """Apply one override to a quantity.

    ``{scale = k}`` multiplies the value or distribution by k (keeping provenance, noted);
    any other table replaces the given keys; a new ``value`` or ``dist`` must come with a new
    ``source`` or ``assumption`` (the old source no longer describes it).
    """
    change = dict(change)
    scale = change.pop("scale", None)
    out = q
    if change:
        data = q.model_dump(exclude_none=True)
        if "value" in change or "dist" in change:
            for k in ("value", "dist", "source", "assumption", "assumption_nl", "calibrated"):
                data.pop(k, None)
            if not any(k in change for k in ("source", "assumption", "calibrated")):
                raise ValueError("an override of the value needs its own 'source' or 'assumption'")
        data.update(change)
        _drop_stale_twins(data, change)
        out = type(q).model_validate(data)
    if scale is not None:
        if not isinstance(scale, int | float) or isinstance(scale, bool) or scale < 0:
            raise ValueError("scale must be a non-negative number")
        out = out.scaled(float(scale))
        out = type(q).model_validate(
            out.model_dump(exclude_none=True)
            | {"note": f"{out.note or ''} [scaled x{scale}]".strip()}
            | (
                {"note_nl": f"{out.note_nl} [geschaald x{str(scale).replace('.', ',')}]"}
                if out.note_nl
                else {}
            )
        )
    return out


@dataclass(frozen=True)
class Spec:
    """A validated scenario with its parameters, ready to lower into arrays."""

    name: str
    variant: str | None
    path: Path
    scenario: ScenarioFile
    base_scenario: ScenarioFile
    params: ParameterSet
    quantities: dict[str, Quantity]
    calibration_path: Path | None
    digest: str
    extra: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, tuple[list[str], list[dict[str, str]]]] = field(default_factory=dict)
    """Budget tables (``budget.table`` as written -> columns and rows), read at loading."""
    overridden: dict[str, str] = field(default_factory=dict)
    """Parameter paths the scenario (or its variant) overrides -> the scenario file."""

    @property
    def label(self) -> str:
        return f"{self.name}:{self.variant}" if self.variant else self.name

    def origin(self, path: str) -> tuple[str, str]:
        """Where a parameter value came from: (``library`` | ``programme`` | ``scenario`` |
        ``calibration``, file)."""
        if path in self.overridden:
            return "scenario", self.overridden[path]
        q = self.quantities.get(path)
        if self.calibration_path is not None and q is not None and q.calibrated:
            return "calibration", display_path(self.calibration_path)
        return self.params.origin_kind(path), self.params.origin(path)


def cpi_year_message(year: int, lo: int, hi: int) -> str:
    """Why a price year cannot be indexed, and what to do (the rule for a later year)."""
    if year > hi:
        return (
            f"after the last year of the CPI table ({hi}): CBS publishes a year's average CPI "
            f"(table 83131NED) in January of the next year. Give amounts in {hi} prices, or add "
            f"the year to [values] of cpi.toml (in a programme folder, its own cpi.toml) with "
            f"the forecast's source in its note (e.g. CPB's latest raming)"
        )
    return f"outside the CPI table ({lo}-{hi}); cannot index it"


def _scenario_problems(
    sc: ScenarioFile,
    params: ParameterSet,
    file: str,
    problems: list[Problem],
    quantities: dict[str, Quantity],
) -> None:
    areas = params.areas
    for i, a in enumerate(sc.areas):
        if a not in areas.ids:
            problems.append(
                Problem(file, f"areas[{i}]", f"unknown area (known: {', '.join(areas.ids)})", a)
            )
    cpi = params.cpi.values
    lo, hi = min(cpi), max(cpi)
    if sc.price_year not in cpi:
        problems.append(
            Problem(file, "price_year", cpi_year_message(sc.price_year, lo, hi), sc.price_year)
        )
    if sc.budget is not None:
        _budget_problems(sc, params, file, problems)
    from mkba.interventions import programme_problems

    programme_problems(sc, params, file, problems, quantities)
    known_streams = set(params.streams) | (
        params.layers.ids("streams") if params.layers is not None else set()
    )
    for pid, item in sc.pm.items():
        # a PM item may relate to a stream of the library the scenario does not select
        if item.related is not None and item.related not in known_streams:
            problems.append(Problem(file, f"pm.{pid}.related", "unknown stream", item.related))
    for s in sc.discount_rate.streams:
        if s not in params.streams:
            problems.append(Problem(file, f"discount_rate.streams.{s}", "unknown stream", s))
    if sc.discount_rate.schedule is not None and min(sc.discount_rate.schedule) > sc.base_year:
        problems.append(
            Problem(
                file,
                "discount_rate.schedule",
                "the schedule must start at or before base_year",
                min(sc.discount_rate.schedule),
            )
        )
    _correlation_problems(sc, file, problems)
    for j, corr in enumerate(sc.correlations):
        for p in corr.params:
            q = quantities.get(p)
            if q is None:
                problems.append(Problem(file, f"correlations[{j}].params", "unknown parameter", p))
            elif not q.is_uncertain:
                problems.append(
                    Problem(
                        file, f"correlations[{j}].params", "parameter is fixed, not uncertain", p
                    )
                )


def _budget_problems(
    sc: ScenarioFile, params: ParameterSet, file: str, problems: list[Problem]
) -> None:
    assert sc.budget is not None
    areas = params.areas
    cpi = params.cpi.values
    lo, hi = min(cpi), max(cpi)
    if sc.budget.price_year not in cpi:
        problems.append(
            Problem(
                file,
                "budget.price_year",
                cpi_year_message(sc.budget.price_year, lo, hi),
                sc.budget.price_year,
            )
        )
    if sc.budget.domains:
        for d in sc.budget.domains:
            if d not in params.model.domains:
                problems.append(Problem(file, f"budget.domains.{d}", "unknown domain", d))
    if isinstance(sc.budget.area_weights, str):
        if sc.budget.area_weights not in areas.numeric:
            problems.append(
                Problem(
                    file,
                    "budget.area_weights",
                    "no such numeric column in areas.csv",
                    sc.budget.area_weights,
                )
            )
    else:
        for a in sc.budget.area_weights:
            if a not in sc.areas:
                problems.append(
                    Problem(file, f"budget.area_weights.{a}", "area not in this scenario", a)
                )
        for a in sc.areas:
            if a not in sc.budget.area_weights:
                problems.append(Problem(file, "budget.area_weights", f"no weight for area {a!r}"))
    if sc.budget.profile and sc.start_year + len(sc.budget.profile) - 1 > sc.horizon:
        problems.append(
            Problem(
                file, "budget.profile", "programme runs past the horizon", len(sc.budget.profile)
            )
        )


def _correlation_problems(sc: ScenarioFile, file: str, problems: list[Problem]) -> None:
    """A parameter is not correlated with itself, and a pair is given at most once (in
    either order): the matrix must say one thing per pair."""
    seen: dict[frozenset[str], int] = {}
    for j, corr in enumerate(sc.correlations):
        a, b = corr.params
        if a == b:
            problems.append(
                Problem(file, f"correlations[{j}].params", "a parameter correlated with itself", a)
            )
            continue
        pair = frozenset((a, b))
        if pair in seen:
            problems.append(
                Problem(
                    file,
                    f"correlations[{j}].params",
                    f"pair already given in correlations[{seen[pair]}]",
                    [a, b],
                )
            )
        else:
            seen[pair] = j


def _without_unused_correlations(sc: ScenarioFile, params: ParameterSet) -> ScenarioFile:
    """A scenario that ``use``s fewer library entries than its base keeps the base's
    correlations of the entries it uses: a pair naming a parameter of a library entry it leaves
    out (``streams.<id>.*``, ``interventions.<id>.*``) is dropped. Any other unknown name is
    still an error (reported by :func:`_scenario_problems`)."""
    if params.layers is None:
        return sc
    left_out = {
        (kind, e)
        for kind, have in (("streams", params.streams), ("interventions", params.interventions))
        for e in params.layers.ids(kind) - set(have)
    }

    def unused(p: str) -> bool:
        parts = p.split(".")
        return len(parts) > 2 and (parts[0], parts[1]) in left_out

    kept = [c for c in sc.correlations if not any(unused(p) for p in c.params)]
    if len(kept) == len(sc.correlations):
        return sc
    return sc.model_copy(update={"correlations": kept})


def _read_budget_tables(
    path: Path, scenarios: Iterable[ScenarioFile], problems: list[Problem]
) -> tuple[dict[str, tuple[list[str], list[dict[str, str]]]], bytes]:
    """Read every budget table the scenarios name (relative to the scenario file), at loading:
    (table -> columns and rows, the tables' bytes for the run id). Lowering reads no files."""
    tables: dict[str, tuple[list[str], list[dict[str, str]]]] = {}
    h = hashlib.sha256()
    for sc in scenarios:
        t = sc.budget.table if sc.budget is not None else None
        if t is None or t in tables:
            continue
        table_path = (path.parent / t).resolve()
        try:
            tables[t] = read_csv(table_path)
            data = table_path.read_bytes()
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        except OSError as exc:
            problems.append(Problem(display_path(table_path), "", f"cannot read: {exc.strerror}"))
            continue
        h.update(t.encode() + b"\0" + data + b"\0")
    return tables, h.digest()


TABLE_OVERRIDES = {"costs.*.payers": "payer shares", "streams.*.response": "response weights"}
"""Parameters that are tables rather than quantities, and can be overridden from a scenario
(as a whole: give the full table with its provenance)."""


def _is_table_path(path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, pat) for pat in TABLE_OVERRIDES)


def _apply_table_overrides(
    params: ParameterSet,
    overrides: dict[str, Any],
    file: str,
    problems: list[Problem],
    sections: dict[str, str],
) -> ParameterSet:
    """Payer shares (``costs.<domain>.payers``) and response weights
    (``streams.<stream>.response``) replaced from a scenario: the new table is validated as
    in the parameter file and needs its own ``source`` or ``assumption``."""
    import dataclasses

    if not overrides:
        return params
    costs: dict[str, Any] = dict(params.costs.domains)
    streams: dict[str, Any] = dict(params.streams)
    stakeholders, domains = params.model.stakeholders, params.model.domains
    for path, change in overrides.items():
        where = f"{sections.get(path, 'overrides')}.{path}"
        parts = path.split(".")
        if any(ch in path for ch in "*?["):
            problems.append(Problem(file, where, "give the table's full path (no pattern)", path))
            continue
        if not isinstance(change, dict):
            problems.append(Problem(file, where, "an override must be a table", change))
            continue
        # what the override replaces: the entries it is one of, the schema it is validated
        # with, the field it replaces, and the ids inside it that must be known
        entries, what, schema, field, ids_field, known, id_what = (
            (costs, "domain", PayerShares, "payers", "shares", stakeholders, "stakeholder")
            if parts[0] == "costs"
            else (streams, "stream", Response, "response", "weights", domains, "domain")
        )
        entry = entries.get(parts[1])
        if entry is None:
            problems.append(Problem(file, where, f"unknown {what}", parts[1]))
            continue
        table = _validate(schema, change, file, problems, where)
        if table is None:
            continue
        for k in getattr(table, ids_field):
            if k not in known:
                problems.append(Problem(file, f"{where}.{ids_field}.{k}", f"unknown {id_what}", k))
        entries[parts[1]] = entry.model_copy(update={field: table})
    return dataclasses.replace(
        params,
        costs=params.costs.model_copy(update={"domains": costs}),
        streams=streams,
    )


def _apply_overrides(
    quantities: dict[str, Quantity],
    overrides: dict[str, dict[str, Any]],
    file: str,
    section: str,
    problems: list[Problem],
    sections: dict[str, str] | None = None,
) -> dict[str, Quantity]:
    """Apply overrides (glob patterns allowed). ``sections`` names where a pattern came from
    (e.g. a variant), so that a problem points at the key the user wrote."""
    out = dict(quantities)
    for pattern, change in overrides.items():
        where = f"{(sections or {}).get(pattern, section)}.{pattern}"
        paths = fnmatch.filter(out, pattern) if any(ch in pattern for ch in "*?[") else [pattern]
        if not paths or paths[0] not in out:
            problems.append(Problem(file, where, "unknown parameter", pattern))
            continue
        if not isinstance(change, dict):
            problems.append(Problem(file, where, "an override must be a table", change))
            continue
        for path in paths:
            try:
                new = apply_override(out[path], change)
            except ValidationError as exc:
                problems.extend(problems_from(exc, file, where))
                break
            except ValueError as exc:
                problems.append(Problem(file, where, str(exc), change))
                break
            if new.unit != quantities[path].unit:
                problems.append(
                    Problem(
                        file,
                        f"{where}.unit",
                        f"unit differs from the parameter's ({quantities[path].unit})",
                        new.unit,
                    )
                )
                break
            out[path] = new
    return out


def _check_quantity_years(
    quantities: dict[str, Quantity], cpi: dict[int, float], file: str, problems: list[Problem]
) -> None:
    for path, q in quantities.items():
        if q.price_year is not None and q.price_year not in cpi:
            problems.append(
                Problem(
                    file,
                    f"{path}.price_year",
                    f"price year outside the CPI table ({min(cpi)}-{max(cpi)})",
                    q.price_year,
                )
            )


def read_calibration(path: Path, problems: list[Problem]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``[values]`` (parameter path -> quantity table) and ``[scenario]`` (scenario keys
    fitted, e.g. ``budget.per_resident``) of a calibration record."""
    name = display_path(path)
    raw = _read(path, problems)
    if raw is None:
        return {}, {}
    record = _validate(CalibrationFile, raw, name, problems)
    if record is None:
        return {}, {}
    return dict(record.values), dict(record.scenario)


def apply_calibration(
    path: Path, values: dict[str, Any], quantities: dict[str, Quantity], problems: list[Problem]
) -> dict[str, Quantity]:
    """Replace calibrated quantities by the record's values."""
    name = display_path(path)
    out = dict(quantities)
    for p, table in values.items():
        if p not in out:
            problems.append(Problem(name, f"values.{p}", "unknown parameter", p))
            continue
        q = _validate(type(out[p]), table, name, problems, f"values.{p}")
        if q is not None:
            if q.unit != out[p].unit:
                problems.append(
                    Problem(
                        name,
                        f"values.{p}.unit",
                        f"unit differs from the parameter's ({out[p].unit})",
                        q.unit,
                    )
                )
            out[p] = q
    return out


def _raw_reference_problems(
    path: Path, raw: dict[str, Any], params: ParameterSet | None, name: str, problems: list[Problem]
) -> None:
    """When a scenario fails the schema, still check what can be checked against the
    parameter folder (areas, domains, streams, parameter paths), so that a user sees every
    problem of the file in one go."""
    if params is None:
        folder = raw.get("parameters", "../parameters")
        if not isinstance(folder, str):
            return
        try:
            params = load_parameters((path.parent / folder).resolve())
        except InputError:
            return  # the parameter folder's own problems are reported when it is validated
    areas = raw.get("areas")
    if isinstance(areas, list):
        for i, a in enumerate(areas):
            if isinstance(a, str) and a not in params.areas.ids:
                problems.append(
                    Problem(
                        name,
                        f"areas[{i}]",
                        f"unknown area (known: {', '.join(params.areas.ids)})",
                        a,
                    )
                )
    budget = raw.get("budget")
    if isinstance(budget, dict) and isinstance(budget.get("domains"), dict):
        for d in budget["domains"]:
            if d not in params.model.domains:
                problems.append(Problem(name, f"budget.domains.{d}", "unknown domain", d))
    dr = raw.get("discount_rate")
    if isinstance(dr, dict) and isinstance(dr.get("streams"), dict):
        for st in dr["streams"]:
            if st not in params.streams:
                problems.append(Problem(name, f"discount_rate.streams.{st}", "unknown stream", st))
    overrides = raw.get("overrides")
    if isinstance(overrides, dict):
        known = params.quantities()
        for pattern in overrides:
            if _is_table_path(pattern):
                continue
            if not (
                fnmatch.filter(known, pattern)
                if any(ch in pattern for ch in "*?[")
                else pattern in known
            ):
                problems.append(Problem(name, f"overrides.{pattern}", "unknown parameter", pattern))


def nest_key(key: str, value: Any) -> dict[str, Any]:
    """``"budget.scale", 0.5`` -> ``{"budget": {"scale": 0.5}}``."""
    out: dict[str, Any] = {}
    cur = out
    parts = key.split(".")
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value
    return out


def grid_points(scenario: ScenarioFile) -> list[tuple[str, dict[str, Any]]]:
    """The points of a scenario's grid: (label, updates) for every combination of values."""
    import itertools

    keys = list(scenario.grid)
    points = []
    for combo in itertools.product(*(range(len(scenario.grid[k])) for k in keys)):
        updates: dict[str, Any] = {}
        parts = []
        for k, i in zip(keys, combo, strict=True):
            v = scenario.grid[k][i]
            updates = deep_merge(updates, nest_key(k, v))
            shown = f"#{i + 1}" if isinstance(v, list | dict) else f"{v}"
            parts.append(f"{k}={shown}")
        points.append(("grid[" + ",".join(parts) + "]", updates))
    return points


VARIANT_LABELS = ("title", "title_nl")
"""Keys of a variant that name it (charts, the batch comparison) in English and Dutch; they
are not merged into the scenario, whose own title stays the run's title."""


def variant_changes(vraw: dict[str, Any]) -> dict[str, Any]:
    """What a variant changes in its scenario: its table without its names."""
    return {k: v for k, v in vraw.items() if k not in VARIANT_LABELS}


def _check_variant_keys(
    name: str, where: str, vraw: Any, base: ScenarioFile, problems: list[Problem]
) -> None:
    """What a variant or grid point may change: not the parameter folder, calibration or
    variants; the areas only to a subset (their reference budget is the scenario's)."""
    if not isinstance(vraw, dict):
        problems.append(Problem(name, where, "a variant must be a table", vraw))
        return
    for k in VARIANT_LABELS:
        if k in vraw and (not isinstance(vraw[k], str) or not vraw[k].strip()):
            problems.append(Problem(name, f"{where}.{k}", "must be a non-empty text", vraw[k]))
    fixed = sorted(k for k in vraw if k in ("variants", "grid", "calibration", "parameters"))
    if fixed:
        problems.append(
            Problem(
                name,
                where,
                "a variant cannot change parameters, calibration, variants or grid (make a separate scenario file)",
                fixed,
            )
        )
    if "areas" in vraw:
        extra = (
            [a for a in vraw["areas"] if a not in base.areas]
            if isinstance(vraw["areas"], list)
            else vraw["areas"]
        )
        if extra:
            problems.append(
                Problem(
                    name,
                    f"{where}.areas",
                    "a variant may only select a subset of the scenario's areas (make a separate scenario file to add areas)",
                    extra,
                )
            )


def _scenario_digest(raw: dict[str, Any], params: ParameterSet, calibration: Path | None) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(raw, sort_keys=True, default=str).encode())
    h.update(params.digest.encode())
    if calibration is not None and calibration.exists():
        h.update(calibration.read_bytes())
    return h.hexdigest()


def load_scenario(
    path: Path | str,
    *,
    variant: str | None = None,
    params: ParameterSet | None = None,
    use_calibration: bool = True,
    updates: dict[str, Any] | None = None,
) -> Spec:
    """Load a scenario (optionally one of its named variants) and its parameter set.

    Order of application: the scenario file; the scenario values of its calibration record
    (e.g. a fitted budget); the variant's changes; ``updates`` (programmatic, e.g. during
    calibration). Parameter quantities: the parameter files; the calibration record's values;
    the scenario's ``overrides`` (after the variant is merged).
    """
    path = Path(path)
    name = display_path(path)
    problems: list[Problem] = []
    raw = _read(path, problems)
    if raw is None:
        raise InputError(problems)
    first = _validate(ScenarioFile, raw, name, problems)
    if first is None:
        _raw_reference_problems(path, raw, params, name, problems)
        raise InputError(problems)
    calib_path = None
    calib_values: dict[str, Any] = {}
    if first.calibration and use_calibration:
        calib_path = (path.parent / first.calibration).resolve()
        if not calib_path.is_file():
            raise InputError(
                [Problem(name, "calibration", "calibration record not found", first.calibration)]
            )
        calib_values, calib_scenario = read_calibration(calib_path, problems)
        if problems:
            raise InputError(problems)
        raw = deep_merge(raw, calib_scenario)
    base = _validate(ScenarioFile, raw, display_path(calib_path) if calib_path else name, problems)
    if base is None:
        raise InputError(problems)
    if variant is not None and variant not in base.variants:
        known = ", ".join(base.variants) or "none"
        raise InputError([Problem(name, "variants", f"unknown variant (known: {known})", variant)])
    for vname, vraw in base.variants.items():
        _check_variant_keys(name, f"variants.{vname}", vraw, base, problems)
    for gkey, values in base.grid.items():
        for v in values:
            _check_variant_keys(name, f"grid.{gkey}", nest_key(gkey, v), base, problems)
    if problems:
        raise InputError(problems)
    scenario = base
    merged = dict(raw)
    merged.pop("variants", None)
    merged.pop("grid", None)
    if variant is not None or updates:
        if variant is not None:
            merged = deep_merge(merged, variant_changes(base.variants[variant]))
        if updates:
            merged = deep_merge(merged, updates)
        checked = _validate(
            ScenarioFile, merged, name, problems, f"variants.{variant}" if variant else ""
        )
        if checked is None:
            raise InputError(problems)
        scenario = checked
    if params is None or scenario.use is not None:
        root = params.root if params is not None else (path.parent / scenario.parameters).resolve()
        params = _shared_parameters(root, scenario.use)
        scenario = _without_unused_correlations(scenario, params)
    variant_overrides = base.variants[variant].get("overrides", {}) if variant is not None else {}
    sections = {
        p: f"variants.{variant}.overrides"
        for p in (variant_overrides if isinstance(variant_overrides, dict) else {})
    }
    table_overrides = {k: v for k, v in scenario.overrides.items() if _is_table_path(k)}
    quantity_overrides = {k: v for k, v in scenario.overrides.items() if k not in table_overrides}
    params = _apply_table_overrides(params, table_overrides, name, problems, sections)
    quantities = params.quantities()
    if calib_path is not None:
        quantities = apply_calibration(calib_path, calib_values, quantities, problems)
    before = dict(quantities)
    quantities = _apply_overrides(
        quantities, quantity_overrides, name, "overrides", problems, sections
    )
    overridden = {p: name for p, q in quantities.items() if q is not before.get(p)}
    overridden |= {p: name for p in table_overrides}
    _check_quantity_years(quantities, params.cpi.values, name, problems)
    _scenario_problems(scenario, params, name, problems, quantities)
    if variant is None and not updates:
        for vname, vraw in base.variants.items():
            vm = deep_merge(merged, vraw)
            _validate(ScenarioFile, vm, name, problems, f"variants.{vname}")
        for glabel, gupd in grid_points(base):
            _validate(ScenarioFile, deep_merge(merged, gupd), name, problems, glabel)
    tables, table_bytes = _read_budget_tables(path, (base, scenario), problems)
    if problems:
        raise InputError(problems)
    digest = _scenario_digest(merged, params, calib_path)
    if tables:
        digest = hashlib.sha256(digest.encode() + table_bytes).hexdigest()
    return Spec(
        name=path.stem,
        variant=variant,
        path=path,
        scenario=scenario,
        base_scenario=base,
        params=params,
        quantities=quantities,
        calibration_path=calib_path,
        digest=digest,
        tables=tables,
        overridden=overridden,
    )


def runnable_problems(spec: Spec, label: str | None = None) -> list[Problem]:
    """What ``run`` would reject after loading: lowering the spec to arrays (budget tables,
    areas without budget) and checking them (finite numbers, a valid correlation matrix).
    ``validate`` calls this, so it rejects whatever ``run`` rejects."""
    from mkba.checks import runnable

    try:
        runnable(spec)
    except InputError as exc:
        if label is None:
            return exc.problems
        return [dc_replace(p, key=f"{label}.{p.key}" if p.key else label) for p in exc.problems]
    return []


def validate_paths(paths: Iterable[Path]) -> list[Problem]:
    """Validate scenario files (and their parameter folders) and parameter folders.

    A directory is validated as a parameter folder; a ``.toml`` file as a scenario with all
    of its variants. Returns every problem found (empty when all is valid).
    """
    problems: list[Problem] = []
    cache: dict[Path, ParameterSet | None] = {}
    for p in paths:
        p = Path(p)
        try:
            if p.is_dir():
                load_parameters(p)
                continue
            if p.suffix.lower() == ".xlsx":
                from mkba.workbook_input import validate_workbook

                problems.extend(x for x in validate_workbook(p) if x not in problems)
                continue
            raw = read_toml(p)
            params_dir = (p.parent / str(raw.get("parameters", "../parameters"))).resolve()
            if params_dir not in cache:
                try:
                    cache[params_dir] = load_parameters(params_dir)
                except InputError as exc:
                    cache[params_dir] = None
                    problems.extend(exc.problems)
            pset = cache[params_dir]
            if pset is None:
                continue
            spec = load_scenario(p, params=pset)
            problems.extend(x for x in runnable_problems(spec) if x not in problems)
            for v in spec.base_scenario.variants:
                vspec = load_scenario(p, params=pset, variant=v)
                problems.extend(x for x in runnable_problems(vspec) if x not in problems)
            for label, upd in grid_points(spec.base_scenario) if spec.base_scenario.grid else []:
                gspec = load_scenario(p, params=pset, updates=upd)
                problems.extend(x for x in runnable_problems(gspec, label) if x not in problems)
        except InputError as exc:
            problems.extend(x for x in exc.problems if x not in problems)
    return problems
