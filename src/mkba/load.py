"""Load and validate parameter and scenario files into one immutable :class:`Spec`.

Every problem in every file is collected before anything is reported, so a user sees them
all at once, each as ``file: key.path: message (got VALUE)``. If there is any problem,
:class:`~mkba.errors.InputError` is raised and nothing is computed or written.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from mkba.errors import InputError, Problem
from mkba.schema.parameters import (
    AREA_ID_PATTERN,
    STREAM_QUANTITIES,
    AreasSidecar,
    CostsFile,
    CpiFile,
    ModelFile,
    ProgrammeFile,
    StreamFile,
)
from mkba.schema.quantity import DIST_TYPES, Quantity
from mkba.schema.scenario import ScenarioFile
from mkba.tomlio import display_path, read_csv, read_toml

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


def _message(err: dict[str, Any]) -> str:
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
        return self.ids.index(area_id)


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
        return out


def _digest(paths: Iterable[Path], root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p.relative_to(root)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _load_areas(root: Path, problems: list[Problem]) -> AreaTable | None:
    csv_path, side_path = root / "areas.csv", root / "areas.toml"
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
    dup = sorted({a for a in ids if ids.count(a) > 1})
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
                v = float(text)
            except ValueError:
                problems.append(Problem(csv_name, f"line {i}.{col}", "not a number", text))
                continue
            if not math.isfinite(v) or v < 0:
                problems.append(
                    Problem(csv_name, f"line {i}.{col}", "must be a non-negative number", text)
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
    text = {c: tuple(r[c] for r in rows) for c in sidecar.text_columns if c in columns}
    return AreaTable(tuple(ids), text, numeric, sidecar)


def load_parameters(root: Path) -> ParameterSet:
    """Load and validate every file of a parameter folder; raise InputError listing all problems."""
    root = Path(root)
    problems: list[Problem] = []
    if not root.is_dir():
        raise InputError([Problem(display_path(root), "", "parameter folder not found")])

    def one(name: str, model: type[M]) -> M | None:
        path = root / name
        raw = _read(path, problems)
        return _validate(model, raw, display_path(path), problems) if raw is not None else None

    model = one("model.toml", ModelFile)
    programme = one("programme.toml", ProgrammeFile)
    costs = one("costs.toml", CostsFile)
    cpi = one("cpi.toml", CpiFile)
    areas = _load_areas(root, problems)
    streams: dict[str, StreamFile] = {}
    stream_paths = sorted((root / "streams").glob("*.toml"))
    if not stream_paths:
        problems.append(
            Problem(display_path(root / "streams"), "", "no stream files (streams/*.toml)")
        )
    for path in stream_paths:
        sid = path.stem
        if not sid.replace("_", "").isalnum() or not sid[0].isalpha() or sid.lower() != sid:
            problems.append(
                Problem(display_path(path), "", "stream file names must be lower_snake_case")
            )
        st = one(f"streams/{path.name}", StreamFile)
        if st is not None:
            streams[sid] = st

    if model and costs:
        name = display_path(root / "costs.toml")
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
            name = display_path(root / "streams" / f"{sid}.toml")
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
        _check_price_years(root, streams, cpi, problems)
    if problems:
        raise InputError(problems)
    assert model and programme and costs and cpi and areas
    files = [
        root / n
        for n in (
            "model.toml",
            "programme.toml",
            "costs.toml",
            "cpi.toml",
            "areas.csv",
            "areas.toml",
        )
    ]
    digest = _digest(files + stream_paths, root)
    return ParameterSet(root, model, programme, costs, cpi, areas, streams, digest)


def _check_price_years(
    root: Path,
    streams: dict[str, StreamFile],
    cpi: CpiFile,
    problems: list[Problem],
) -> None:
    lo, hi = min(cpi.values), max(cpi.values)
    for sid, st in streams.items():
        name = display_path(root / "streams" / f"{sid}.toml")
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


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge ``update`` onto a copy of ``base`` (tables merge, values replace)."""
    out = copy.deepcopy(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


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
            for k in ("value", "dist", "source", "assumption", "calibrated"):
                data.pop(k, None)
            if not any(k in change for k in ("source", "assumption", "calibrated")):
                raise ValueError("an override of the value needs its own 'source' or 'assumption'")
        data.update(change)
        out = Quantity.model_validate(data)
    if scale is not None:
        if not isinstance(scale, int | float) or isinstance(scale, bool) or scale < 0:
            raise ValueError("scale must be a non-negative number")
        out = out.scaled(float(scale))
        out = Quantity.model_validate(
            out.model_dump(exclude_none=True)
            | {"note": f"{out.note or ''} [scaled x{scale}]".strip()}
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

    @property
    def label(self) -> str:
        return f"{self.name}:{self.variant}" if self.variant else self.name


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
            Problem(file, "price_year", f"outside the CPI table ({lo}-{hi})", sc.price_year)
        )
    if sc.budget.price_year not in cpi:
        problems.append(
            Problem(
                file,
                "budget.price_year",
                f"outside the CPI table ({lo}-{hi}); cannot index it",
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
    values = raw.get("values", {})
    scenario = raw.get("scenario", {})
    if not isinstance(values, dict) or not isinstance(scenario, dict):
        problems.append(Problem(name, "values", "'values' and 'scenario' must be tables"))
        return {}, {}
    return values, scenario


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
        q = _validate(Quantity, table, name, problems, f"values.{p}")
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


def _check_variant_keys(
    name: str, where: str, vraw: Any, base: ScenarioFile, problems: list[Problem]
) -> None:
    """What a variant or grid point may change: not the parameter folder, calibration or
    variants; the areas only to a subset (their reference budget is the scenario's)."""
    if not isinstance(vraw, dict):
        problems.append(Problem(name, where, "a variant must be a table", vraw))
        return
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
            merged = deep_merge(merged, base.variants[variant])
        if updates:
            merged = deep_merge(merged, updates)
        scenario = _validate(
            ScenarioFile, merged, name, problems, f"variants.{variant}" if variant else ""
        )
        if scenario is None:
            raise InputError(problems)
    if params is None:
        params = load_parameters((path.parent / scenario.parameters).resolve())
    quantities = params.quantities()
    if calib_path is not None:
        quantities = apply_calibration(calib_path, calib_values, quantities, problems)
    variant_overrides = base.variants[variant].get("overrides", {}) if variant is not None else {}
    sections = {
        p: f"variants.{variant}.overrides"
        for p in (variant_overrides if isinstance(variant_overrides, dict) else {})
    }
    quantities = _apply_overrides(
        quantities, scenario.overrides, name, "overrides", problems, sections
    )
    _check_quantity_years(quantities, params.cpi.values, name, problems)
    _scenario_problems(scenario, params, name, problems, quantities)
    if variant is None and not updates:
        for vname, vraw in base.variants.items():
            vm = deep_merge(merged, vraw)
            _validate(ScenarioFile, vm, name, problems, f"variants.{vname}")
        for glabel, gupd in grid_points(base):
            _validate(ScenarioFile, deep_merge(merged, gupd), name, problems, glabel)
    if problems:
        raise InputError(problems)
    digest = _scenario_digest(merged, params, calib_path)
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
    )


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
            for v in spec.base_scenario.variants:
                load_scenario(p, params=pset, variant=v)
        except InputError as exc:
            problems.extend(x for x in exc.problems if x not in problems)
    return problems
