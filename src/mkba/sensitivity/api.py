"""The library call behind ``mkba sensitivity``: load, analyse, write a run directory.

A sensitivity run directory (``runs/<scenario>-sensitivity-<method>-<id>``) holds
``manifest.json`` (method, output, groups, draws, seed, evaluations, timings, convergence,
warnings, versions), ``result.json`` (the ``--json`` document), the method's table
(``tornado``, ``switching``, ``discount`` or ``indices``; CSV and Parquet) and its raw
samples: for Sobol and Morris the unit-cube design as SALib made it (``design.parquet``, one
column per parameter) and the outputs per design row (``outputs.parquet``); for the one-way
methods every setting evaluated (``points.parquet``) and, with common random numbers, the
uniform matrix (``uniforms.parquet``); for the discount sweep the output per draw and rate
(``draws.parquet``). Everything is written atomically (:mod:`mkba.output`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mkba.api import default_run_dir
from mkba.checks import runnable
from mkba.errors import InputError, Problem
from mkba.load import Spec, load_scenario
from mkba.model import Model
from mkba.output import run_directory, versions, write_json, write_table
from mkba.outputs import OutputRef, expand_outputs
from mkba.runinfo import hash_id, manifest_head, stamp_table
from mkba.schema.scenario import PERSPECTIVES
from mkba.sensitivity import indices, local
from mkba.sensitivity.common import resolve_bounds
from mkba.sensitivity.groups import Grouping, resolve_groups, select_params

DEFAULT_RATES = "0:0.06:0.0025"
CONVERGENCE = ("bootstrap", "halving")


@dataclass
class SensitivityResult:
    method: str
    spec: Spec
    model: Model
    result: Any  # TornadoResult, SwitchingResult, DiscountResult or GlobalResult
    document: Any  # the --json document
    settings: dict[str, Any]
    output_dir: Path | None
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def _bad(option: str, message: str, value: Any = None) -> InputError:
    return InputError([Problem(option, "", message, value)])


def _check_options(
    method: str,
    outputs: Sequence[str],
    *,
    groups: Sequence[str],
    mc: bool,
    rates: str | None,
    per_area: bool,
    per_year: bool,
    bounds: Sequence[str],
    params: Sequence[str],
) -> None:
    if method not in METHODS:
        raise _bad("--method", f"expected one of {', '.join(METHODS)}", method)
    problems = []
    if method not in GLOBAL:
        if len(outputs) > 1:
            problems.append(Problem("--output", "", f"{method} takes one output", list(outputs)))
        if per_area or per_year:
            problems.append(
                Problem("--per-area/--per-year", "", "only for --method sobol or morris", method)
            )
    if method in ("switching", "discount") and groups:
        problems.append(
            Problem(
                "--groups",
                "",
                f"does not apply to {method} (one parameter at a time; choose them with --params)",
                list(groups),
            )
        )
    if mc and method not in ("tornado", "switching"):
        problems.append(Problem("--mc", "", "only for --method tornado or switching", method))
    if rates is not None and method != "discount":
        problems.append(Problem("--rates", "", "only for --method discount", rates))
    if method in GLOBAL and bounds:
        problems.append(
            Problem("--bounds", "", "only for --method tornado or switching", list(bounds))
        )
    if method == "discount" and (bounds or params):
        problems.append(
            Problem("--bounds/--params", "", "do not apply to the discount sweep", method)
        )
    if problems:
        raise InputError(problems)


def _run_id(spec: Spec, settings: dict[str, Any]) -> str:
    settings_text = json.dumps(settings, sort_keys=True, default=str)
    return hash_id((spec.digest, spec.variant or "", settings_text), terminated=False)


@dataclass
class _Setup:
    """What every method starts from (built once by :func:`run_sensitivity`)."""

    spec: Spec
    model: Model
    refs: list[OutputRef]
    n: int  # draws, base samples or trajectories
    seed: int
    chosen: tuple[str, ...]  # the parameters --params selects (all when none given)
    bound_map: dict[str, tuple[float, float]]
    grouping: Grouping | None  # for the grouped methods (tornado, sobol, morris)
    settings: dict[str, Any]  # the run's settings so far; a method adds its own
    options: dict[str, Any]  # the keyword arguments of run_sensitivity


@dataclass
class _Done:
    """What a method gives back: its result, the --json document and its tables."""

    result: Any  # TornadoResult, SwitchingResult, DiscountResult or GlobalResult
    document: Any
    tables: dict[str, pd.DataFrame]  # stamped with the scenario hash and the output
    raw: dict[str, pd.DataFrame]  # raw samples (Parquet only)


def _tornado(c: _Setup) -> _Done:
    o = c.options
    assert c.grouping is not None
    c.settings.update(quantiles=list(o["quantiles"]), bounds=list(o["bounds"]), mc=o["mc"])
    result = local.tornado(
        c.model,
        c.refs[0],
        grouping=c.grouping,
        quantiles=o["quantiles"],
        bounds=c.bound_map,
        mc=o["mc"],
        draws=c.n,
        seed=c.seed,
    )
    raw = {"points": result.points}
    if result.uniforms is not None:
        raw["uniforms"] = pd.DataFrame(result.uniforms, columns=list(c.model.uncertain))
    return _Done(result, result.records, {"tornado": result.table}, raw)


def _switching(c: _Setup) -> _Done:
    o = c.options
    c.settings.update(
        params=list(o["params"]), bounds=list(o["bounds"]), threshold=o["threshold"], mc=o["mc"]
    )
    result = local.switching_values(
        c.model,
        c.refs[0],
        params=c.chosen if o["params"] else None,
        threshold=o["threshold"],
        bounds=c.bound_map,
        mc=o["mc"],
        draws=c.n,
        seed=c.seed,
    )
    return _Done(result, result.records, {"switching": result.table}, {"points": result.points})


def _discount(c: _Setup) -> _Done:
    o = c.options
    grid = local.rate_grid(o["rates"] or DEFAULT_RATES)
    c.settings.update(rates=grid.tolist(), threshold=o["threshold"])
    result = local.discount_sweep(
        c.spec, c.refs[0].name, rates=grid, draws=c.n, seed=c.seed, threshold=o["threshold"]
    )
    document = {
        "output": result.output,
        "threshold": result.threshold,
        "scenario_rate": result.scenario_rate,
        "switching_rate": result.switching_rate,
        "switching_rate_mean": result.switching_rate_mean,
        "rates": result.table.drop(columns="output").to_dict("records"),
    }
    draws = pd.DataFrame(result.samples, columns=[f"{r:.6g}" for r in result.rates])
    return _Done(result, document, {"discount": result.table}, {"draws": draws})


def _global(c: _Setup, result_of: Callable[[_Setup], indices.GlobalResult]) -> _Done:
    """Sobol' or Morris: the shared settings, then the indices of every output."""
    o = c.options
    assert c.grouping is not None
    c.settings.update(
        params=list(o["params"]),
        correlations=o["correlations"],
        convergence=o["convergence"],
        resamples=o["resamples"],
    )
    result = result_of(c)
    raw = {
        "design": pd.DataFrame(result.design, columns=list(c.grouping.params)),
        "outputs": pd.DataFrame(result.y),
    }
    return _Done(result, result.records(), {"indices": result.table}, raw)


def _sobol(c: _Setup) -> _Done:
    def run(c: _Setup) -> indices.GlobalResult:
        assert c.grouping is not None
        return indices.sobol(
            c.model,
            c.refs,
            c.grouping,
            n=c.n,
            seed=c.seed,
            resamples=c.options["resamples"],
            halving=c.options["convergence"] == "halving",
        )

    return _global(c, run)


def _morris(c: _Setup) -> _Done:
    def run(c: _Setup) -> indices.GlobalResult:
        assert c.grouping is not None
        c.settings["levels"] = c.options["levels"]
        return indices.morris(
            c.model,
            c.refs,
            c.grouping,
            trajectories=c.n,
            levels=c.options["levels"],
            seed=c.seed,
            resamples=c.options["resamples"],
        )

    return _global(c, run)


@dataclass(frozen=True)
class Method:
    """One sensitivity method: how it runs, its default draws, whether it groups parameters
    (``--groups``) and whether it is global (Sobol', Morris: several outputs, correlations)."""

    run: Callable[[_Setup], _Done]
    draws: int
    grouped: bool = False
    is_global: bool = False


METHOD_TABLE: dict[str, Method] = {
    "tornado": Method(_tornado, 4096, grouped=True),
    "switching": Method(_switching, 4096),
    "discount": Method(_discount, 4096),
    "sobol": Method(_sobol, 4096, grouped=True, is_global=True),
    "morris": Method(_morris, 100, grouped=True, is_global=True),
}
METHODS = tuple(METHOD_TABLE)
GLOBAL = tuple(k for k, m in METHOD_TABLE.items() if m.is_global)
DEFAULT_DRAWS = {k: m.draws for k, m in METHOD_TABLE.items()}


def _grouping(
    model: Model, method: str, groups: Sequence[str], chosen: tuple[str, ...], correlations: str
) -> Grouping | None:
    if not METHOD_TABLE[method].grouped:
        return None
    is_global = METHOD_TABLE[method].is_global
    grouping = resolve_groups(
        model, groups, params=chosen, correlations=correlations if is_global else "ignore"
    )
    if not is_global:  # one-way: the copula's warnings do not apply
        grouping = Grouping(grouping.params, grouping.labels)
    return grouping


def run_sensitivity(
    scenario: Path | str,
    method: str,
    *,
    variant: str | None = None,
    outputs: Sequence[str] = ("npv",),
    groups: Sequence[str] = (),
    params: Sequence[str] = (),
    draws: int | None = None,
    seed: int | None = None,
    bounds: Sequence[str] = (),
    quantiles: tuple[float, float] = (0.1, 0.9),
    threshold: float | None = None,
    mc: bool = False,
    rates: str | None = None,
    per_area: bool = False,
    per_year: bool = False,
    levels: int = 4,
    resamples: int = 100,
    convergence: str = "bootstrap",
    correlations: str = "group",
    out: Path | None = None,
    write: bool = True,
    force: bool = False,
) -> SensitivityResult:
    """Run one sensitivity method on a scenario and (optionally) write a run directory.

    ``draws`` means: Sobol' base samples N (default 4096; ``N (G + 2)`` evaluations), Morris
    trajectories (default 100), or the Monte Carlo draws of ``--mc`` and of the discount sweep
    (default 4096). ``seed`` defaults to the scenario's. See :mod:`mkba.sensitivity` for the
    methods (:data:`METHOD_TABLE`) and :mod:`mkba.outputs` for output names.
    """
    t_start = time.perf_counter()
    outputs = list(outputs) or ["npv"]
    _check_options(
        method,
        outputs,
        groups=groups,
        mc=mc,
        rates=rates,
        per_area=per_area,
        per_year=per_year,
        bounds=bounds,
        params=params,
    )
    if threshold is not None and not math.isfinite(threshold):
        raise _bad("--threshold", "must be a finite number", threshold)
    if convergence not in CONVERGENCE:
        raise _bad("--convergence", f"expected one of {', '.join(CONVERGENCE)}", convergence)
    spec = load_scenario(scenario, variant=variant)
    model = runnable(spec)
    refs = expand_outputs(model, outputs, per_area=per_area, per_year=per_year)
    n = DEFAULT_DRAWS[method] if draws is None else int(draws)
    if n < 1:
        raise _bad("--draws", "must be at least 1", n)
    s = spec.scenario.seed if seed is None else int(seed)
    t_loaded = time.perf_counter()
    settings: dict[str, Any] = {
        "method": method,
        "outputs": [r.name for r in refs],
        "draws": n,
        "seed": s,
    }
    chosen = select_params(model, params)
    bound_map, warnings = resolve_bounds(model, bounds, chosen)
    warnings = list(warnings)
    grouping = _grouping(model, method, groups, chosen, correlations)
    if grouping is not None:
        settings["groups"] = list(groups) or ["none"]
    options = {
        "params": params,
        "bounds": bounds,
        "quantiles": quantiles,
        "threshold": threshold,
        "mc": mc,
        "rates": rates,
        "levels": levels,
        "resamples": resamples,
        "convergence": convergence,
        "correlations": correlations,
    }
    setup = _Setup(spec, model, refs, n, s, chosen, bound_map, grouping, settings, options)
    done = METHOD_TABLE[method].run(setup)
    result, document, tables, raw = done.result, done.document, done.tables, done.raw
    warnings += list(result.warnings)
    t_done = time.perf_counter()
    timings: dict[str, float] = {"load_s": t_loaded - t_start}
    if hasattr(result, "timings"):
        timings.update(result.timings)
    timings["analysis_s"] = t_done - t_loaded
    rid = _run_id(spec, settings)
    out_dir = None
    if write:
        out_dir = (
            Path(out) if out is not None else default_run_dir(spec, rid, f"sensitivity-{method}")
        )
    manifest: dict[str, Any] = {
        **manifest_head(spec, rid, "sensitivity"),
        "method": method,
        "outputs": [r.name for r in refs],
        "draws": n,
        "seed": s,
        "settings": settings,
        "groups": grouping.as_dict() if grouping is not None else None,
        "correlations": [list(p) for p in grouping.pairs] if grouping is not None else [],
        "evaluations": int(result.evaluations),
        "convergence": getattr(result, "convergence", None),
        "warnings": warnings,
        "versions": versions(),
        "timings": timings,
        "files": [],
    }
    if out_dir is not None:
        with run_directory(out_dir, rid, force=force) as tmp:
            files = []
            write_json(tmp / "result.json", document)
            files.append("result.json")
            persp = {r.name: PERSPECTIVES[r.perspective] for r in refs}
            for name, df in tables.items():
                files += write_table(tmp, name, stamp_table(df, spec.digest, persp))
            for name, df in raw.items():
                files += write_table(tmp, name, df, csv=False)
            manifest["files"] = files
            manifest["timings"]["total_s"] = time.perf_counter() - t_start
            write_json(tmp / "manifest.json", manifest)
    else:
        manifest["timings"]["total_s"] = time.perf_counter() - t_start
    return SensitivityResult(
        method=method,
        spec=spec,
        model=model,
        result=result,
        document=document,
        settings=settings,
        output_dir=out_dir,
        manifest=manifest,
        warnings=warnings,
    )
