"""Calibration: fit declared free parameters so that run statistics hit published targets.

A *free group* is one or more parameter paths (or scenario keys such as
``budget.per_resident``) that share one multiplicative factor ``k``: each quantity's value or
distribution is scaled by ``k`` (location and spread together), each scenario value is
multiplied by ``k``. Factors are fitted by ``scipy.optimize.least_squares`` on ``log k``
with relative residuals ``(statistic - target) / target``. Every evaluation uses the same
seed and draws (common random numbers), so the objective is a smooth, deterministic
function of the factors.

Sourced values stay fixed: only what is declared free moves. The result is a calibration
record (TOML) that holds the fitted values with their provenance, the targets, the fit,
the residuals and the date; scenarios apply it through their ``calibration`` key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
from scipy.optimize import least_squares

from mkba import __version__, engine, implied, results
from mkba.engine import Run
from mkba.errors import InputError, Problem, RunError
from mkba.load import Spec, deep_merge, load_scenario, nest_key
from mkba.model import lower
from mkba.output import atomic_write_text
from mkba.schema.scenario import PERSPECTIVES

STATISTICS = ("mean", "p5", "p50", "p95", "sd")
SCENARIO_KEYS = ("budget.per_resident", "budget.total")


@dataclass(frozen=True)
class Target:
    name: str
    value: float


@dataclass
class Fit:
    groups: list[list[str]]
    factors: list[float]
    targets: list[Target]
    fitted: list[float]
    status: str
    nfev: int
    spec: Spec
    draws: int
    seed: int
    base_values: dict[str, Any]


def parse_target(text: str) -> Target:
    """``NAME=VALUE``, e.g. ``benefits_pv.p50=5.8e9``."""
    if "=" not in text:
        raise InputError(
            [Problem("--target", text, "expected NAME=VALUE, e.g. benefits_pv.p50=5.8e9", text)]
        )
    name, _, value = text.partition("=")
    try:
        v = float(value)
    except ValueError:
        raise InputError(
            [Problem("--target", name, "the target value is not a number", value)]
        ) from None
    if v == 0 or not math.isfinite(v):
        raise InputError(
            [Problem("--target", name, "a target must be a finite non-zero number", value)]
        )
    return Target(name.strip(), v)


def statistic(run: Run, name: str) -> float:
    """A statistic of a run by name (see :func:`statistic_draws`)."""
    arr, stat = statistic_draws(run, name)
    if stat == "share":
        return float(np.mean(arr))
    return results.stats(arr)[stat]


def statistic_draws(run: Run, name: str) -> tuple[np.ndarray, str]:
    """The per-draw values behind a statistic name, and the statistic to take of them.

    Names are in the scenario's perspective unless one is given first.

    ``[perspective.]costs_pv|benefits_pv|npv|bcr.STAT``, ``[perspective.]by_stream.S.STAT``,
    ``by_area.A.STAT``, ``by_stakeholder.K.STAT``, ``by_component.STREAM.COMP.STAT``,
    ``prob_npv_positive``; STAT is one of mean, p5, p50, p95, sd.
    """
    m = run.model
    o = run.outcomes
    parts = name.split(".")
    persp: str = m.spec.scenario.perspective
    if parts[0] in PERSPECTIVES:
        persp, parts = parts[0], parts[1:]
    p = PERSPECTIVES.index(persp)
    if parts == ["prob_npv_positive"]:
        return (o.npv[:, p] > 0).astype(float), "share"
    if len(parts) < 2 or parts[-1] not in STATISTICS:
        raise InputError(
            [Problem("--target", name, f"must end in one of {', '.join(STATISTICS)}", name)]
        )
    stat, head = parts[-1], parts[:-1]
    arr: np.ndarray | None = None
    if len(head) == 1 and head[0] in ("costs_pv", "benefits_pv", "npv", "bcr"):
        arr = results.perspective_arrays(run, persp)[head[0]]
    elif head[0] == "by_stream" and len(head) == 2 and head[1] in m.streams:
        arr = o.stream[:, p, m.streams.index(head[1])]
    elif head[0] == "by_area" and len(head) == 2 and head[1] in m.areas:
        arr = o.area_benefits[:, m.areas.index(head[1])]
    elif head[0] == "by_stakeholder" and len(head) == 2 and head[1] in m.stakeholders:
        i = m.stakeholders.index(head[1])
        arr = o.stakeholder_benefits[:, i] - o.stakeholder_costs[:, i]
    elif head[0] == "by_component" and ".".join(head[1:]) in m.components:
        arr = o.component[:, m.components.index(".".join(head[1:]))]
    if arr is None:
        raise InputError(
            [Problem("--target", name, "unknown statistic (see mkba calibrate --help)", name)]
        )
    return arr, stat


def _check_groups(spec: Spec, groups: list[list[str]]) -> None:
    problems = []
    seen: set[str] = set()
    for g in groups:
        for path in g:
            if path in seen:
                problems.append(Problem("--free", path, "listed in more than one group", path))
            seen.add(path)
            if path in SCENARIO_KEYS:
                if _scenario_value(spec, path) is None:
                    problems.append(Problem("--free", path, "not set in this scenario", path))
            elif path not in spec.quantities:
                problems.append(Problem("--free", path, "unknown parameter", path))
    if problems:
        raise InputError(problems)


def _scenario_value(spec: Spec, key: str) -> float | None:
    obj: Any = spec.scenario
    for part in key.split("."):
        obj = getattr(obj, part, None)
    return obj if isinstance(obj, int | float) else None


def _apply(
    spec: Spec, groups: list[list[str]], factors: list[float], base_values: dict[str, Any]
) -> Spec:
    updates: dict[str, Any] = {}
    quantities = dict(spec.quantities)
    for g, k in zip(groups, factors, strict=True):
        for path in g:
            if path in SCENARIO_KEYS:
                updates = deep_merge(updates, nest_key(path, base_values[path] * k))
            else:
                quantities[path] = spec.quantities[path].scaled(k)
    if updates:
        sc = spec.scenario.model_validate(deep_merge(spec.scenario.model_dump(), updates))
        base = spec.base_scenario.model_validate(
            deep_merge(spec.base_scenario.model_dump(), updates)
        )
        spec = dataclasses.replace(spec, scenario=sc, base_scenario=base)
    return dataclasses.replace(spec, quantities=quantities)


def calibrate(
    scenario: Path | str,
    targets: list[Target],
    groups: list[list[str]],
    *,
    draws: int | None = None,
    seed: int | None = None,
    xtol: float = 1e-10,
) -> Fit:
    """Fit one factor per free group so that the targets are met (least squares)."""
    spec = load_scenario(scenario, use_calibration=False)
    _check_groups(spec, groups)
    draws = spec.scenario.draws if draws is None else draws
    seed = spec.scenario.seed if seed is None else seed
    base_values = {p: _scenario_value(spec, p) for g in groups for p in g if p in SCENARIO_KEYS}

    def run_at(factors: list[float]) -> Run:
        m = lower(_apply(spec, groups, factors, base_values))
        return engine.simulate(m, draws=draws, seed=seed, keep_samples=False)

    probe = run_at([1.0] * len(groups))
    for t in targets:
        statistic(probe, t.name)  # unknown names fail before fitting

    def residuals(logk: np.ndarray) -> np.ndarray:
        r = run_at([math.exp(x) for x in logk])
        return np.array([(statistic(r, t.name) - t.value) / t.value for t in targets])

    sol = least_squares(
        residuals,
        np.zeros(len(groups)),
        method="lm" if len(targets) >= len(groups) else "trf",
        xtol=xtol,
        ftol=1e-12,
        gtol=1e-12,
    )
    factors = [math.exp(x) for x in sol.x]
    final = run_at(factors)
    fitted = [statistic(final, t.name) for t in targets]
    if not sol.success:
        raise RunError(f"calibration did not converge: {sol.message}")
    return Fit(
        groups=groups,
        factors=factors,
        targets=targets,
        fitted=fitted,
        status=str(sol.message),
        nfev=int(sol.nfev),
        spec=spec,
        draws=draws,
        seed=seed,
        base_values=base_values,
    )


def record(fit: Fit, command: str, today: dt.date | None = None) -> dict[str, Any]:
    """The calibration record: targets, fit, residuals, date, fitted values with provenance."""
    today = today or dt.date.today()
    spec = fit.spec
    targets_doc = []
    for t, f in zip(fit.targets, fit.fitted, strict=True):
        targets_doc.append(
            {
                "name": t.name,
                "target": t.value,
                "fitted": f,
                "residual": f - t.value,
                "relative_residual": (f - t.value) / t.value,
            }
        )
    free_doc = [{"params": g, "factor": k} for g, k in zip(fit.groups, fit.factors, strict=True)]
    values: dict[str, Any] = {}
    scenario: dict[str, Any] = {}
    target_text = ", ".join(f"{t.name} = {t.value:g}" for t in fit.targets)
    for g, k in zip(fit.groups, fit.factors, strict=True):
        for path in g:
            note = (
                f"Fitted by mkba calibrate on {today.isoformat()}: the prior scaled by {k:.6f} so that "
                f"{target_text} (scenario {spec.name}, {fit.draws} draws, seed {fit.seed}); see [record]."
            )
            if path in SCENARIO_KEYS:
                scenario = deep_merge(scenario, nest_key(path, fit.base_values[path] * k))
            else:
                q = spec.quantities[path].scaled(k)
                doc = q.model_dump(exclude_none=True)
                doc["calibrated"] = note
                values[path] = doc
    return {
        "record": {
            "scenario": str(spec.path),
            "date": today.isoformat(),
            "command": command,
            "mkba_version": __version__,
            "parameters_hash": spec.params.digest,
            "draws": fit.draws,
            "seed": fit.seed,
            "sampler": spec.scenario.sampler,
            "perspective": spec.scenario.perspective,
            "method": "scipy.optimize.least_squares on log factors, relative residuals, common random numbers",
            "status": fit.status,
            "evaluations": fit.nfev,
            "targets": targets_doc,
            "free": free_doc,
        },
        "scenario": scenario,
        "values": values,
    }


def write_record(path: Path, doc: dict[str, Any]) -> None:
    head = (
        "# Calibration record written by `mkba calibrate`. Do not edit by hand: run the command in\n"
        "# [record].command again. [values] and [scenario] are applied by every scenario whose\n"
        "# `calibration` key points here.\n"
    )
    atomic_write_text(path, head + tomli_w.dumps(doc))


def compare(fit: Fit, stored: dict[str, Any], rtol: float = 1e-6) -> list[str]:
    """Differences between a new fit and a stored record (empty when it reproduces)."""
    diffs = []
    old = {tuple(f["params"]): f["factor"] for f in stored.get("record", {}).get("free", [])}
    for g, k in zip(fit.groups, fit.factors, strict=True):
        ok = old.get(tuple(g))
        if ok is None:
            diffs.append(f"free group {g} is not in the stored record")
        elif not math.isclose(k, ok, rel_tol=rtol):
            diffs.append(f"free group {g}: factor {k:.9g}, stored {ok:.9g}")
    return diffs


def implications(fit: Fit) -> dict[str, Any]:
    """What the fit implies (issue 14): the physical effects the calibrated scenario needs
    against those of the priors (the evidence), the prior probability of reaching the targets,
    and switching values in physical units on the priors (welfare and fiscal perspectives).

    Both runs use the fit's draws and seed (common random numbers)."""
    prior = engine.simulate(lower(fit.spec), draws=fit.draws, seed=fit.seed)
    fitted = engine.simulate(
        lower(_apply(fit.spec, fit.groups, fit.factors, fit.base_values)),
        draws=fit.draws,
        seed=fit.seed,
    )
    # a draw reaches a target when its own value is at least the target (the share of prior
    # draws that do is the prior probability of the published figure)
    hit = [statistic_draws(prior, t.name)[0] >= t.value for t in fit.targets]
    return {
        "physical_prior": implied.physical_effects(prior),
        "physical_calibrated": implied.physical_effects(fitted),
        "prior_probability": {
            "targets": {t.name: t.value for t in fit.targets},
            "each": {t.name: float(np.mean(h)) for t, h in zip(fit.targets, hit, strict=True)},
            "all": float(np.mean(np.logical_and.reduce(hit))),
            "headline": (
                implied.headline_probability(prior)
                if "benefit_savings" in prior.model.streams
                else None
            ),
        },
        "switching_prior": {
            f"{s}.{p}": implied.switching_physical(prior, s, p)
            for s in ("benefit_savings", "safety")
            if s in prior.model.streams
            for p in ("welfare", "fiscal")
        },
    }
