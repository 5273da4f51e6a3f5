"""The library calls behind ``mkba voi``, ``mkba allocate``, ``mkba discover`` and
``mkba acceptability``: load, compute on the engine's sampling path, write a run directory.

A decision run directory (``runs/<scenario>-<kind>-<id>``) holds ``manifest.json`` (kind,
settings, draws, seed, timings, warnings, versions), ``result.json`` (the ``--json``
document), its tables (CSV and Parquet) and charts (PNG and SVG). Written atomically
(:mod:`mkba.output`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mkba import engine
from mkba.api import default_run_dir
from mkba.constants import DECIDE_DEFAULT_OUTPUT
from mkba.decide import allocate as alloc
from mkba.decide import prim as prim_mod
from mkba.decide.irr import irr_summary, overrun_acceptability, run_irr
from mkba.decide.voi import value_of_information
from mkba.errors import InputError, Problem
from mkba.load import Spec, load_scenario
from mkba.model import lower
from mkba.output import run_directory, versions, write_json, write_table
from mkba.outputs import OutputRef, default_threshold, output_array, parse_output
from mkba.runinfo import hash_id, manifest_head, stamp_table
from mkba.schema.scenario import PERSPECTIVES
from mkba.sensitivity.common import crn_uniforms
from mkba.sensitivity.groups import resolve_groups, select_params

KINDS = ("voi", "allocate", "discover", "acceptability")
DEFAULT_DRAWS = {"voi": 4096, "allocate": 1000, "discover": 4096, "acceptability": 4096}
DEFAULT_OUTPUT = DECIDE_DEFAULT_OUTPUT


@dataclass
class DecisionResult:
    kind: str
    spec: Spec
    result: Any
    document: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    output_dir: Path | None
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def _bad(option: str, message: str, value: Any = None) -> InputError:
    return InputError([Problem(option, "", message, value)])


def _draws_seed(kind: str, spec: Spec, draws: int | None, seed: int | None) -> tuple[int, int]:
    n = DEFAULT_DRAWS[kind] if draws is None else int(draws)
    if n < 2:
        raise _bad("--draws", "must be at least 2", n)
    return n, spec.scenario.seed if seed is None else int(seed)


def _money_output(model: Any, output: str) -> OutputRef:
    ref = parse_output(model, output)
    if ref.is_ratio:
        raise _bad("--output", "needs an amount in euros (a ratio cannot be a net benefit)", output)
    return ref


def _finish(
    kind: str,
    spec: Spec,
    settings: dict[str, Any],
    result: Any,
    document: dict[str, Any],
    tables: dict[str, pd.DataFrame],
    *,
    out: Path | None,
    write: bool,
    t0: float,
    timings: dict[str, float],
    warnings: list[str],
) -> DecisionResult:
    settings_text = json.dumps(settings, sort_keys=True, default=str)
    rid = hash_id((kind, spec.digest, spec.variant or "", settings_text))
    out_dir = None
    if write:
        out_dir = Path(out) if out is not None else default_run_dir(spec, rid, kind)
    manifest: dict[str, Any] = {
        **manifest_head(spec, rid, kind),
        "settings": settings,
        "warnings": warnings,
        "versions": versions(),
        "timings": dict(timings),
        "files": [],
    }
    if out_dir is not None:
        from mkba.report import decide as dcharts

        with run_directory(out_dir) as tmp:
            files = []
            write_json(tmp / "result.json", document)
            files.append("result.json")
            out_name = settings.get("output") or (
                document.get("output") if isinstance(document, dict) else None
            )
            for name, df in tables.items():
                stamped = stamp_table(df, spec.digest, {})
                if out_name is not None:
                    stamped["output"] = stamped.get("output", out_name)
                files += write_table(
                    tmp, name, stamped.drop(columns="output_perspective", errors="ignore")
                )
            for lang in ("en", "nl"):
                files += dcharts.write_charts(kind, document, tables, tmp, lang)
            manifest["files"] = files
            manifest["timings"]["total_s"] = time.perf_counter() - t0
            write_json(tmp / "manifest.json", manifest)
    else:
        manifest["timings"]["total_s"] = time.perf_counter() - t0
    return DecisionResult(kind, spec, result, document, tables, out_dir, manifest, warnings)


# --------------------------------------------------------------------------- value of information


def run_voi(
    scenario: Path | str,
    *,
    variant: str | None = None,
    options: Sequence[str] = (),
    output: str = DEFAULT_OUTPUT,
    groups: Sequence[str] = (),
    params: Sequence[str] = (),
    draws: int | None = None,
    seed: int | None = None,
    resamples: int = 100,
    out: Path | None = None,
    write: bool = True,
) -> DecisionResult:
    """EVPI of the decision between doing nothing, the scenario and its ``options``
    (variants), and EVPPI per parameter or ``groups`` (as in ``mkba sensitivity``)."""
    t0 = time.perf_counter()
    spec = load_scenario(scenario, variant=variant)
    model = lower(spec)
    ref = _money_output(model, output)
    n, s = _draws_seed("voi", spec, draws, seed)
    if resamples < 0:
        raise _bad("--resamples", "must be zero or more", resamples)
    known = list(spec.base_scenario.variants)
    bad = [o for o in options if o not in known]
    if bad:
        raise _bad("--options", f"unknown variants (known: {', '.join(known)})", bad)
    grouping = resolve_groups(model, groups, params=select_params(model, params))
    t1 = time.perf_counter()
    run = engine.simulate(model, draws=n, seed=s)
    labels = ["do nothing", spec.label]
    nb = [np.zeros(n), output_array(run.outcomes, model, ref)]
    for v in options:
        spec_v = load_scenario(spec.path, variant=v, params=spec.params)
        m_v = lower(spec_v)
        run_v = engine.simulate(
            m_v,
            draws=n,
            seed=s,
            sampler=run.sampler,
            chunk_size=run.chunk_size,
            keep_samples=False,
        )
        labels.append(spec_v.label)
        nb.append(output_array(run_v.outcomes, m_v, _money_output(m_v, ref.name)))
    t2 = time.perf_counter()
    assert run.samples is not None
    result = value_of_information(
        np.column_stack(nb),
        labels,
        run.samples,
        model.uncertain,
        grouping.as_dict(),
        output=ref.name,
        resamples=resamples,
        seed=s,
    )
    t3 = time.perf_counter()
    warnings = list(grouping.warnings)
    over = result.table[result.table["evppi"] > result.evpi + 2 * result.table["se"]]
    if not over.empty:
        warnings.append(
            f"EVPPI above EVPI for {', '.join(over['group'])}: the regression fits noise; use "
            "more draws or fewer parameters per group"
        )
    settings = {
        "output": ref.name,
        "options": labels,
        "groups": list(groups) or ["none"],
        "params": list(params),
        "draws": n,
        "seed": s,
        "resamples": resamples,
    }
    doc = {**result.records(), "scenario": spec.label, "price_year": spec.scenario.price_year}
    options_table = pd.DataFrame(doc["options"])
    return _finish(
        "voi",
        spec,
        settings,
        result,
        doc,
        {"evppi": result.table, "options": options_table},
        out=out,
        write=write,
        t0=t0,
        timings={"load_s": t1 - t0, "simulate_s": t2 - t1, "regression_s": t3 - t2},
        warnings=warnings,
    )


# --------------------------------------------------------------------------- allocation


def parse_bounds(
    model: Any, texts: Sequence[str], kind: str, budget: float, scenario_budget: float
) -> list[alloc.Bound]:
    """``--min``/``--max`` values ``area:ID=AMOUNT`` or ``domain:NAME=AMOUNT``; AMOUNT in
    euros (``2.5e8``), as a share of the budget (``10%``) or as a multiple of the scenario's
    own amount there, scaled to the budget (``x0.5``)."""
    out: list[alloc.Bound] = []
    problems = []
    option = f"--{kind}"
    B0 = model.budget.sum(axis=2)
    for text in texts:
        key, sep, val = text.partition("=")
        dim, sep2, label = key.strip().partition(":")
        if not sep or not sep2:
            problems.append(
                Problem(option, text, "expected area:ID=AMOUNT or domain:NAME=AMOUNT", text)
            )
            continue
        if dim == "area":
            known = model.areas
        elif dim == "domain":
            known = model.domains
        else:
            problems.append(Problem(option, text, "the dimension is area or domain", dim))
            continue
        if label not in known:
            problems.append(
                Problem(option, text, f"unknown {dim} (known: {', '.join(known)})", label)
            )
            continue
        own = float(
            B0[known.index(label)].sum() if dim == "area" else B0[:, known.index(label)].sum()
        )
        try:
            v = val.strip()
            if v.lower().startswith("x"):
                amount = float(v[1:]) * own * budget / scenario_budget
            elif v.endswith("%"):
                amount = float(v[:-1]) / 100.0 * budget
            else:
                amount = float(v)
        except ValueError:
            problems.append(Problem(option, text, "AMOUNT is euros, a share (10%) or xK", val))
            continue
        if not (amount >= 0 and math.isfinite(amount)):
            problems.append(Problem(option, text, "AMOUNT must be a finite amount >= 0", val))
            continue
        out.append(
            alloc.Bound(dim, label, low=amount)
            if kind == "min"
            else alloc.Bound(dim, label, high=amount)
        )
    if problems:
        raise InputError(problems)
    return out


def run_allocate(
    scenario: Path | str,
    *,
    variant: str | None = None,
    output: str = DEFAULT_OUTPUT,
    objective: str = "mean",
    budget: float | None = None,
    by: str = "area,domain",
    minimum: Sequence[str] = (),
    maximum: Sequence[str] = (),
    cell_max: float = 3.0,
    frontier: Sequence[float] = (0.5, 0.75, 1.0, 1.25, 1.5),
    draws: int | None = None,
    seed: int | None = None,
    out: Path | None = None,
    write: bool = True,
) -> DecisionResult:
    """The allocation of the budget that maximises ``objective`` of ``output`` (the NPV of a
    perspective), its marginal returns, the efficient frontier, and how often it beats the
    scenario's own allocation (see :mod:`mkba.decide.allocate`)."""
    t0 = time.perf_counter()
    spec = load_scenario(scenario, variant=variant)
    model = lower(spec)
    ref = parse_output(model, output)
    if ref.kind != "total" or ref.part != "npv":
        raise _bad(
            "--output",
            "allocation maximises the NPV of a perspective: npv, welfare.npv, fiscal.npv or study.npv",
            output,
        )
    alloc.parse_objective(objective)
    dims = tuple(d.strip() for d in by.split(",") if d.strip())
    if dims not in alloc.DIMS:
        raise _bad("--by", "expected area,domain or area or domain", by)
    if not (cell_max > 0 and math.isfinite(cell_max)):
        raise _bad("--cell-max", "must be a positive number", cell_max)
    fr = sorted({float(f) for f in frontier})
    if any(not (f > 0 and math.isfinite(f)) for f in fr):
        raise _bad("--frontier", "budget factors must be positive", list(frontier))
    perspective = PERSPECTIVES[ref.perspective]
    if perspective != spec.scenario.perspective:
        # same draws: the uniform columns follow the parameter registry, not the perspective
        spec = load_scenario(scenario, variant=variant, updates={"perspective": perspective})
        model = lower(spec)
    n, s = _draws_seed("allocate", spec, draws, seed)
    scenario_budget = float(model.budget.sum())
    Y = scenario_budget if budget is None else float(budget)
    bounds = parse_bounds(model, minimum, "min", Y, scenario_budget) + parse_bounds(
        model, maximum, "max", Y, scenario_budget
    )
    t1 = time.perf_counter()
    theta = model.theta(crn_uniforms(model, n, s))
    result = alloc.allocate(
        model,
        theta,
        objective=objective,
        budget=Y,
        dims=dims,
        bounds=bounds,
        cell_max=cell_max,
        frontier=tuple(fr),
    )
    t2 = time.perf_counter()
    sol, refsol = result.solution, result.reference
    doc = {
        "scenario": spec.label,
        "output": f"{perspective}.npv",
        "objective": objective,
        "objective_label": result.objective.label,
        "price_year": spec.scenario.price_year,
        "budget": Y,
        "scenario_budget": scenario_budget,
        "by": list(dims),
        "draws": n,
        "seed": s,
        "optimum": {
            "objective": sol.objective,
            "npv_mean": float(sol.npv.mean()),
            "npv_p5": float(np.quantile(sol.npv, 0.05)),
            "prob_npv_positive": float(np.mean(sol.npv > 0)),
            "converged": sol.success,
            "iterations": sol.iterations,
        },
        "scenario_allocation": {
            "objective": refsol.objective,
            "npv_mean": float(refsol.npv.mean()),
            "npv_p5": float(np.quantile(refsol.npv, 0.05)),
            "prob_npv_positive": float(np.mean(refsol.npv > 0)),
        },
        "gain_mean": float((sol.npv - refsol.npv).mean()),
        "gain_se": float((sol.npv - refsol.npv).std(ddof=1) / math.sqrt(n)),
        "beats_scenario_allocation": result.beats_reference,
        "shadow_price": result.shadow_price,
        "by_area": result.by_area.to_dict("records"),
        "by_domain": result.by_domain.to_dict("records"),
        "cells": result.cells.to_dict("records"),
        "frontier": result.frontier.to_dict("records"),
        "evaluations": result.evaluations,
        "bandwidth": result.objective.bandwidth if result.objective.kind != "mean" else None,
    }
    settings = {
        "output": f"{perspective}.npv",
        "objective": objective,
        "budget": Y,
        "by": list(dims),
        "min": list(minimum),
        "max": list(maximum),
        "cell_max": cell_max,
        "frontier": fr,
        "draws": n,
        "seed": s,
    }
    return _finish(
        "allocate",
        spec,
        settings,
        result,
        doc,
        {
            "cells": result.cells,
            "by_area": result.by_area,
            "by_domain": result.by_domain,
            "frontier": result.frontier,
        },
        out=out,
        write=write,
        t0=t0,
        timings={"load_s": t1 - t0, **result.timings, "analysis_s": t2 - t1},
        warnings=list(result.warnings),
    )


# --------------------------------------------------------------------------- scenario discovery


def run_discover(
    scenario: Path | str,
    *,
    variant: str | None = None,
    output: str = DEFAULT_OUTPUT,
    threshold: float | None = None,
    above: bool = False,
    params: Sequence[str] = (),
    alpha: float = 0.05,
    mass_min: float = 0.05,
    density: float = 0.8,
    boxes: int = 1,
    draws: int | None = None,
    seed: int | None = None,
    out: Path | None = None,
    write: bool = True,
) -> DecisionResult:
    """PRIM boxes of parameter ranges in which ``output`` is below ``threshold`` (default 0;
    1 for a ratio; ``above``: at or above it), on the draws of a Monte Carlo run."""
    t0 = time.perf_counter()
    spec = load_scenario(scenario, variant=variant)
    model = lower(spec)
    ref = parse_output(model, output)
    thr = default_threshold(ref) if threshold is None else float(threshold)
    for name, v, lo, hi in (
        ("--alpha", alpha, 0.0, 0.5),
        ("--mass-min", mass_min, 0.0, 1.0),
        ("--density", density, 0.0, 1.0),
    ):
        if not lo < v <= hi:
            raise _bad(name, f"must be in ({lo:g}, {hi:g}]", v)
    if boxes < 1:
        raise _bad("--boxes", "must be at least 1", boxes)
    n, s = _draws_seed("discover", spec, draws, seed)
    chosen = select_params(model, params)
    t1 = time.perf_counter()
    run = engine.simulate(model, draws=n, seed=s)
    y_out = output_array(run.outcomes, model, ref)
    interest = (y_out >= thr) if above else (y_out < thr)
    interest &= ~np.isnan(y_out)
    assert run.samples is not None
    cols = [model.uncertain.index(p) for p in chosen]
    X = run.samples[:, cols]
    t2 = time.perf_counter()
    found = prim_mod.prim(
        X, interest, alpha=alpha, mass_min=mass_min, threshold=density, boxes=boxes
    )
    t3 = time.perf_counter()
    warnings: list[str] = []
    if not interest.any():
        warnings.append(
            f"no draw has {ref.name} {'>=' if above else '<'} {thr:g}: nothing to discover"
        )
    elif interest.all():
        warnings.append(f"every draw has {ref.name} {'>=' if above else '<'} {thr:g}")
    box_rows, traj = [], []
    for k, b in enumerate(found, start=1):
        for j in b.restricted:
            q_lo = float(np.mean(X[:, j] < b.box.low[j]))
            q_hi = float(np.mean(X[:, j] <= b.box.high[j]))
            box_rows.append(
                {
                    "box": k,
                    "parameter": chosen[j],
                    "low": float(b.box.low[j]),
                    "high": float(b.box.high[j]),
                    "low_quantile": q_lo,
                    "high_quantile": q_hi,
                    "sample_min": float(X[:, j].min()),
                    "sample_max": float(X[:, j].max()),
                    "coverage": b.coverage,
                    "density": b.density,
                    "mass": b.mass,
                }
            )
        t = b.trajectory.copy()
        t.insert(0, "box", k)
        t["chosen"] = t["step"] == b.chosen_step
        traj.append(t)
    boxes_table = pd.DataFrame(box_rows)
    traj_table = pd.concat(traj, ignore_index=True) if traj else pd.DataFrame()
    doc = {
        "scenario": spec.label,
        "output": ref.name,
        "condition": f"{ref.name} {'>=' if above else '<'} {thr:g}",
        "price_year": spec.scenario.price_year,
        "draws": n,
        "seed": s,
        "base_rate": float(interest.mean()),
        "boxes": [
            {
                "box": k,
                "coverage": b.coverage,
                "density": b.density,
                "mass": b.mass,
                "chosen_step": b.chosen_step,
                "limits": [r for r in box_rows if r["box"] == k],
            }
            for k, b in enumerate(found, start=1)
        ],
    }
    settings = {
        "output": ref.name,
        "threshold": thr,
        "above": above,
        "params": list(params),
        "alpha": alpha,
        "mass_min": mass_min,
        "density": density,
        "boxes": boxes,
        "draws": n,
        "seed": s,
    }
    return _finish(
        "discover",
        spec,
        settings,
        found,
        doc,
        {"boxes": boxes_table, "trajectory": traj_table},
        out=out,
        write=write,
        t0=t0,
        timings={"load_s": t1 - t0, "simulate_s": t2 - t1, "prim_s": t3 - t2},
        warnings=warnings,
    )


# --------------------------------------------------------------------------- acceptability


def run_acceptability(
    scenario: Path | str,
    *,
    variant: str | None = None,
    output: str = DEFAULT_OUTPUT,
    rates: str = "0:0.08:0.0025",
    factors: str = "0.5:3:0.05",
    draws: int | None = None,
    seed: int | None = None,
    out: Path | None = None,
    write: bool = True,
) -> DecisionResult:
    """P(NPV > 0) against the discount rate and against a cost overrun factor, and the IRR
    distribution (scenario perspective)."""
    from mkba.sensitivity.local import discount_sweep, rate_grid

    t0 = time.perf_counter()
    spec = load_scenario(scenario, variant=variant)
    model = lower(spec)
    ref = parse_output(model, output)
    if ref.kind != "total" or ref.part != "npv":
        raise _bad("--output", "acceptability is of an NPV: npv or PERSPECTIVE.npv", output)
    if PERSPECTIVES[ref.perspective] != spec.scenario.perspective:
        # the IRR and yearly flows in the output's perspective; same draws
        spec = load_scenario(
            scenario, variant=variant, updates={"perspective": PERSPECTIVES[ref.perspective]}
        )
        model = lower(spec)
        ref = parse_output(model, output)
    n, s = _draws_seed("acceptability", spec, draws, seed)
    grid = rate_grid(rates)
    kgrid = rate_grid(factors.replace("x", ""))
    if np.any(kgrid <= 0):
        raise _bad("--factors", "overrun factors must be positive", factors)
    t1 = time.perf_counter()
    sweep = discount_sweep(spec, ref.name, rates=grid, draws=n, seed=s)
    t2 = time.perf_counter()
    run = engine.simulate(model, draws=n, seed=s)
    persp = PERSPECTIVES[ref.perspective]
    ben, cost = (
        output_array(run.outcomes, model, f"{persp}.{x}") for x in ("benefits_pv", "costs_pv")
    )
    over = overrun_acceptability(ben, cost, kgrid)
    ir = irr_summary(run_irr(run))
    t3 = time.perf_counter()
    rate_table = sweep.table.rename(columns={"prob_above_threshold": "prob_npv_positive"})
    # where P(NPV > 0) crosses one half: the overrun the programme bears with even odds
    k_half = _crossing(over["overrun_factor"].to_numpy(), over["prob_npv_positive"].to_numpy())
    r_half = _crossing(rate_table["rate"].to_numpy(), rate_table["prob_npv_positive"].to_numpy())
    doc = {
        "scenario": spec.label,
        "output": ref.name,
        "draws": n,
        "seed": s,
        "prob_npv_positive": float(np.mean(output_array(run.outcomes, model, ref) > 0)),
        "rate_at_even_odds": r_half,
        "overrun_at_even_odds": k_half,
        "switching_rate_mean": sweep.switching_rate_mean,
        "scenario_rate": sweep.scenario_rate,
        "price_year": spec.scenario.price_year,
        "irr": {**ir, "perspective": spec.scenario.perspective},
        "discount": rate_table.drop(columns="output").to_dict("records"),
        "overrun": over.to_dict("records"),
    }
    settings = {
        "output": ref.name,
        "rates": grid.tolist(),
        "factors": kgrid.tolist(),
        "draws": n,
        "seed": s,
    }
    return _finish(
        "acceptability",
        spec,
        settings,
        (rate_table, over),
        doc,
        {"acceptability_discount": rate_table, "acceptability_overrun": over},
        out=out,
        write=write,
        t0=t0,
        timings={"load_s": t1 - t0, "discount_s": t2 - t1, "overrun_irr_s": t3 - t2},
        warnings=list(sweep.warnings),
    )


def _crossing(x: np.ndarray, p: np.ndarray, level: float = 0.5) -> float | None:
    """First x where the (decreasing) curve p(x) falls through ``level`` (linear
    interpolation), or None."""
    for i in range(len(x) - 1):
        if p[i] >= level > p[i + 1]:
            return float(x[i] + (x[i + 1] - x[i]) * (p[i] - level) / (p[i] - p[i + 1]))
    return None
