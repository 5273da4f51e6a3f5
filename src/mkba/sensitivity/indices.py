"""Global sensitivity with SALib: Sobol' indices and Morris screening.

SALib builds the designs and computes the indices; mkba only supplies the model. The SALib
problem is built from the model's registry of uncertain parameters (names = parameter paths,
bounds = the unit cube, groups from :mod:`mkba.sensitivity.groups`): SALib samples in the unit
cube, and every design row goes through the engine's one sampling path (copula where it
applies, inverse CDFs, price indexing; :func:`mkba.sensitivity.common.evaluate_design`).

Sobol': Saltelli's scheme on a scrambled Sobol' sequence, first and total order, ``N (G + 2)``
evaluations for ``G`` groups (:func:`mkba.sensitivity.design.saltelli_design`: the design of
:func:`SALib.sample.sobol.sample`, element for element, built with array operations instead of
SALib's Python loops) and :func:`SALib.analyze.sobol.analyze` (Saltelli et al. 2010 estimators, bootstrap confidence
intervals).

Morris: :func:`SALib.sample.morris.sample` (``r`` trajectories on a ``p``-level grid,
``r (G + 1)`` evaluations) and :func:`SALib.analyze.morris.analyze`. Grid level
``x = k / (p - 1)`` is evaluated at the quantile ``u = (k + 1/2) / p``, the centre of the
``k``-th of ``p`` equally likely strata, so that unbounded distributions are never evaluated
at their extremes; the elementary effects are then reported per unit of cumulative
probability (SALib's values times ``p / (p - 1)``): for an output linear in a parameter's
quantile, ``mu* = |dY/du|``, the change over the whole distribution.

References
----------
1. Saltelli, A., Annoni, P., Azzini, I., Campolongo, F., Ratto, M., Tarantola, S. (2010).
   Variance based sensitivity analysis of model output. Computer Physics Communications
   181(2), 259-270.
2. Campolongo, F., Cariboni, J., Saltelli, A. (2007). An effective screening design for
   sensitivity analysis of large models. Environmental Modelling & Software 22, 1509-1518.
3. Herman, J., Usher, W. (2017). SALib: an open-source Python library for sensitivity
   analysis. Journal of Open Source Software 2(9), 97.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import morris as morris_sample

from mkba.errors import InputError, Problem, RunError
from mkba.model import Model
from mkba.outputs import OutputRef, parse_output
from mkba.sensitivity.common import CHUNK, evaluate_design
from mkba.sensitivity.design import saltelli_design
from mkba.sensitivity.groups import Grouping

SOBOL_TOLERANCE = 0.05  # converged: every S1 and ST 95 % half-width below this
MORRIS_TOLERANCE = 0.10  # converged: every mu* 95 % half-width below this x the largest mu*


@dataclass
class GlobalResult:
    """Indices of a global method, with the design, the outputs and how they were made."""

    method: str  # "sobol" or "morris"
    outputs: list[str]
    grouping: Grouping
    table: pd.DataFrame  # one row per output and group
    design: np.ndarray  # the unit-cube design as SALib made it (rows x analysed parameters)
    y: dict[str, np.ndarray]  # output name -> value per design row
    base_samples: int  # Sobol: N; Morris: trajectories
    seed: int
    evaluations: int
    timings: dict[str, float]
    convergence: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        """The JSON list: Sobol ``{name, S1, S1_conf, ST, ST_conf}``, Morris ``{name,
        mu_star, mu_star_conf, sigma}``; with ``output`` when several outputs were analysed."""
        keys = (
            ("S1", "S1_conf", "ST", "ST_conf")
            if self.method == "sobol"
            else ("mu_star", "mu_star_conf", "sigma")
        )
        many = len(self.outputs) > 1
        out = []
        for row in self.table.to_dict("records"):
            rec: dict[str, Any] = {"output": row["output"]} if many else {}
            rec["name"] = row["name"]
            rec.update({k: float(row[k]) for k in keys})
            out.append(rec)
        return out


def salib_problem(grouping: Grouping) -> dict[str, Any]:
    """SALib's problem from the registry: parameter paths, the unit cube, groups."""
    k = len(grouping.params)
    problem: dict[str, Any] = {
        "num_vars": k,
        "names": list(grouping.params),
        "bounds": [[0.0, 1.0]] * k,
    }
    if not grouping.trivial:
        problem["groups"] = list(grouping.labels)
    return problem


def _refs(model: Model, outputs: Sequence[str | OutputRef]) -> list[OutputRef]:
    refs = [parse_output(model, o) if isinstance(o, str) else o for o in outputs]
    if not refs:
        raise InputError([Problem("--output", "", "give at least one output")])
    return refs


def _check_design(grouping: Grouping) -> None:
    if len(grouping.params) < 1:
        raise InputError([Problem("--params", "", "no uncertain parameter to analyse")])


def _finite(name: str, y: np.ndarray) -> None:
    bad = int(np.count_nonzero(~np.isfinite(y)))
    if bad:
        raise RunError(
            f"output {name!r} is not finite in {bad} of {y.size} evaluations "
            "(e.g. a benefit-cost ratio with zero costs): choose another output"
        )


def _seed_int(seed: int, k: int) -> int:
    """An independent child seed ``k`` of ``seed`` (for a second, separate design)."""
    return int(np.random.SeedSequence(seed, spawn_key=(k,)).generate_state(1)[0])


def _sobol_indices(
    problem: dict[str, Any],
    names: Sequence[str],
    y: np.ndarray,
    *,
    resamples: int,
    conf_level: float,
    seed: int,
) -> dict[str, np.ndarray]:
    if np.ptp(y) == 0.0:  # a constant output has no variance to apportion
        zero = np.zeros(len(names))
        return {"S1": zero, "S1_conf": zero, "ST": zero, "ST_conf": zero}
    # SALib tests `if seed:`, so seed 0 would not be reproducible; a Generator always is.
    si = sobol_analyze.analyze(
        problem,
        y,
        calc_second_order=False,
        num_resamples=resamples,
        conf_level=conf_level,
        seed=np.random.default_rng(seed),
    )
    return {k: np.asarray(si[k], dtype=float) for k in ("S1", "S1_conf", "ST", "ST_conf")}


def sobol(
    model: Model,
    outputs: Sequence[str | OutputRef],
    grouping: Grouping,
    *,
    n: int = 4096,
    seed: int = 0,
    resamples: int = 100,
    conf_level: float = 0.95,
    halving: bool = False,
    tolerance: float = SOBOL_TOLERANCE,
    chunk_size: int = CHUNK,
) -> GlobalResult:
    """First-order and total Sobol' indices (with bootstrap confidence intervals).

    Parameters
    ----------
    model : Model
        The lowered scenario.
    outputs : sequence of str or OutputRef
        Outputs to explain; all are computed from the same model evaluations.
    grouping : Grouping
        Analysed parameters and their groups (indices are per group).
    n : int
        Base samples N, a power of two [-]; the design has ``N (G + 2)`` rows.
    seed : int
        Seed of the scrambled Sobol' sequence and of the bootstrap.
    resamples, conf_level : int, float
        Bootstrap resamples and confidence level of the intervals.
    halving : bool
        Also compute the indices on a separate design of ``N / 2`` base samples and compare.
    tolerance : float
        Converged when every 95 % half-width (and, with ``halving``, every change between
        N / 2 and N) is below this.

    Returns
    -------
    GlobalResult
        ``table`` columns: output, name, members, S1, S1_conf, ST, ST_conf.
    """
    refs = _refs(model, outputs)
    _check_design(grouping)
    if n < 16 or n & (n - 1):
        raise InputError(
            [
                Problem(
                    "--draws",
                    "",
                    "Sobol' base samples must be a power of two, at least 16 (e.g. 4096): "
                    "the sequence loses its balance otherwise",
                    n,
                )
            ]
        )
    problem = salib_problem(grouping)
    names = grouping.names
    warnings = list(grouping.warnings)

    def run(n_base: int, s: int) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, float]]:
        t0 = time.perf_counter()
        x = saltelli_design(problem, n_base, s)
        t1 = time.perf_counter()
        y, tm = evaluate_design(model, grouping, x, refs, chunk_size=chunk_size)
        return x, y, {"sample_s": t1 - t0, **tm}

    x, y, timings = run(n, seed)
    t0 = time.perf_counter()
    rows = []
    idx: dict[str, dict[str, np.ndarray]] = {}
    for r in refs:
        _finite(r.name, y[r.name])
        if np.ptp(y[r.name]) == 0.0:
            warnings.append(f"output {r.name!r} is constant over the design: indices set to 0")
        si = _sobol_indices(
            problem, names, y[r.name], resamples=resamples, conf_level=conf_level, seed=seed
        )
        idx[r.name] = si
        for g, name in enumerate(names):
            rows.append(
                {
                    "output": r.name,
                    "name": name,
                    "members": ", ".join(grouping.members(name)),
                    **{k: float(v[g]) for k, v in si.items()},
                }
            )
    timings["analyze_s"] = time.perf_counter() - t0
    table = pd.DataFrame(rows)
    max_conf = float(np.nanmax(table[["S1_conf", "ST_conf"]].to_numpy())) if rows else 0.0
    conv: dict[str, Any] = {
        "criterion": f"every S1 and ST bootstrap {conf_level:.0%} half-width < {tolerance:g}",
        "max_conf": max_conf,
        "converged": bool(max_conf < tolerance),
    }
    evaluations = x.shape[0]
    if halving:
        t0 = time.perf_counter()
        x2, y2, _ = run(n // 2, _seed_int(seed, 1))
        diff = 0.0
        for r in refs:
            s2 = _sobol_indices(
                problem, names, y2[r.name], resamples=resamples, conf_level=conf_level, seed=seed
            )
            for k in ("S1", "ST"):
                diff = max(diff, float(np.max(np.abs(s2[k] - idx[r.name][k]))))
        evaluations += x2.shape[0]
        timings["halving_s"] = time.perf_counter() - t0
        conv["criterion"] += (
            f"; and every S1 and ST of a separate design with N/2 = {n // 2} within {tolerance:g}"
        )
        conv["max_change_half_n"] = diff
        conv["converged"] = bool(conv["converged"] and diff < tolerance)
    if not conv["converged"]:
        warnings.append(
            f"the Sobol' indices have NOT converged ({conv['criterion']}: largest half-width "
            f"{max_conf:.3f}"
            + (f", largest change from N/2 {conv['max_change_half_n']:.3f}" if halving else "")
            + f"): use more base samples, e.g. --draws {2 * n}"
        )
    s1_sum = table.groupby("output")["S1"].sum()
    for out_name, total in s1_sum.items():
        if total > 1.0 + tolerance:
            warnings.append(
                f"output {out_name!r}: first-order indices sum to {total:.2f} > 1, "
                "a sign of Monte Carlo error: use more base samples"
            )
    return GlobalResult(
        method="sobol",
        outputs=[r.name for r in refs],
        grouping=grouping,
        table=table,
        design=x,
        y=y,
        base_samples=n,
        seed=seed,
        evaluations=evaluations,
        timings=timings,
        convergence=conv,
        warnings=warnings,
    )


def morris(
    model: Model,
    outputs: Sequence[str | OutputRef],
    grouping: Grouping,
    *,
    trajectories: int = 100,
    levels: int = 4,
    seed: int = 0,
    resamples: int = 100,
    conf_level: float = 0.95,
    tolerance: float = MORRIS_TOLERANCE,
    chunk_size: int = CHUNK,
) -> GlobalResult:
    """Morris elementary effects: mu* (importance) and sigma (interactions, non-linearity).

    Parameters
    ----------
    trajectories : int
        Number of trajectories r [-]; the design has ``r (G + 1)`` rows.
    levels : int
        Grid levels p (even; default 4).
    tolerance : float
        Converged when every mu*'s bootstrap half-width is below ``tolerance`` times the
        largest mu* (the ranking of the important groups is then stable).

    Returns
    -------
    GlobalResult
        ``table`` columns: output, name, members, mu, mu_star, mu_star_conf, sigma; per unit
        of cumulative probability of the moved parameters (see the module docstring).
    """
    refs = _refs(model, outputs)
    _check_design(grouping)
    if trajectories < 2:
        raise InputError(
            [Problem("--draws", "", "Morris needs at least 2 trajectories", trajectories)]
        )
    if levels < 2 or levels % 2:
        raise InputError([Problem("--levels", "", "must be an even number >= 2", levels)])
    problem = salib_problem(grouping)
    names = grouping.names
    warnings = list(grouping.warnings)
    t0 = time.perf_counter()
    x = morris_sample.sample(problem, trajectories, num_levels=levels, seed=seed)
    t1 = time.perf_counter()
    u = (x * (levels - 1) + 0.5) / levels  # grid level k -> centre of stratum k
    y, tm = evaluate_design(model, grouping, u, refs, chunk_size=chunk_size)
    timings = {"sample_s": t1 - t0, **tm}
    t0 = time.perf_counter()
    scale = levels / (levels - 1)
    rows = []
    for r in refs:
        _finite(r.name, y[r.name])
        if np.ptp(y[r.name]) == 0.0:
            warnings.append(f"output {r.name!r} is constant over the design: effects are 0")
            si: dict[str, Any] = {
                k: np.zeros(len(names)) for k in ("mu", "mu_star", "mu_star_conf", "sigma")
            }
        else:
            si = morris_analyze.analyze(
                problem,
                x,
                y[r.name],
                num_resamples=resamples,
                conf_level=conf_level,
                num_levels=levels,
                seed=seed,
            )
        for g, name in enumerate(names):
            rows.append(
                {
                    "output": r.name,
                    "name": name,
                    "members": ", ".join(grouping.members(name)),
                    **{
                        k: float(np.asarray(si[k], dtype=float)[g]) * scale
                        for k in ("mu", "mu_star", "mu_star_conf", "sigma")
                    },
                }
            )
    timings["analyze_s"] = time.perf_counter() - t0
    table = pd.DataFrame(rows)
    worst = 0.0
    for _, sub in table.groupby("output"):
        top = float(sub["mu_star"].max())
        if top > 0:
            worst = max(worst, float(sub["mu_star_conf"].max()) / top)
    conv = {
        "criterion": (
            f"every mu* bootstrap {conf_level:.0%} half-width < {tolerance:g} x the largest mu*"
        ),
        "max_relative_conf": worst,
        "converged": bool(worst < tolerance) and not math.isnan(worst),
    }
    if not conv["converged"]:
        warnings.append(
            f"the Morris measures have NOT converged ({conv['criterion']}: largest "
            f"{worst:.3f}): use more trajectories, e.g. --draws {2 * trajectories}"
        )
    return GlobalResult(
        method="morris",
        outputs=[r.name for r in refs],
        grouping=grouping,
        table=table,
        design=x,
        y=y,
        base_samples=trajectories,
        seed=seed,
        evaluations=x.shape[0],
        timings=timings,
        convergence=conv,
        warnings=warnings,
    )
