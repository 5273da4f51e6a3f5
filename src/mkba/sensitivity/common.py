"""Evaluation helpers shared by the sensitivity methods.

Everything goes through the engine's one sampling path: a matrix of uniform numbers (one
column per uncertain parameter, in ``model.uncertain`` order), the scenario's copula where
it applies, :meth:`mkba.model.Model.theta` (inverse CDFs and price indexing), then
:func:`mkba.engine.evaluate`. Parameters a design leaves out sit at u = 0.5, their median,
which is also their base value in ``model.theta_fixed``.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Sequence

import numpy as np

from mkba import engine
from mkba.distributions import frozen
from mkba.errors import InputError, Problem
from mkba.model import Model
from mkba.outputs import OutputRef, output_array
from mkba.sampling import apply_copula, chunk_bounds, copula_factor
from mkba.schema.quantity import Choice, unit_range
from mkba.sensitivity.groups import Grouping

EPS = 2.0**-53  # keep unit-cube points away from 0 and 1 (infinite quantiles)
CHUNK = 8192  # parameter vectors per engine call


def clip_unit(u: np.ndarray) -> np.ndarray:
    return np.clip(u, EPS, 1.0 - EPS)


def evaluate_outputs(
    model: Model, theta: np.ndarray, refs: Sequence[OutputRef], *, chunk_size: int = CHUNK
) -> dict[str, np.ndarray]:
    """The named outputs for every row of ``theta`` (chunk by chunk, little memory)."""
    theta = np.atleast_2d(theta)
    n = theta.shape[0]
    out = {r.name: np.empty(n) for r in refs}
    for lo, hi in chunk_bounds(n, chunk_size):
        o = engine.evaluate(model, theta[lo:hi], chunk_size=chunk_size)
        for r in refs:
            out[r.name][lo:hi] = output_array(o, model, r)
    return out


def full_uniforms(model: Model, grouping: Grouping, design: np.ndarray) -> np.ndarray:
    """Uniform matrix over all uncertain parameters from a design over ``grouping.params``:
    clipped into (0, 1), other parameters at 0.5, the grouping's correlations applied."""
    n = design.shape[0]
    u = np.full((n, len(model.uncertain)), 0.5)
    index = {p: j for j, p in enumerate(model.uncertain)}
    cols = [index[p] for p in grouping.params]
    u[:, cols] = clip_unit(design)
    if grouping.pairs:
        u = apply_copula(u, copula_factor(model.uncertain, grouping.pairs, str(model.spec.path)))
    return u


def evaluate_design(
    model: Model,
    grouping: Grouping,
    design: np.ndarray,
    refs: Sequence[OutputRef],
    *,
    chunk_size: int = CHUNK,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Outputs at every row of a unit-cube design, and the time spent mapping the uniforms
    to parameter values (``map_s``) and evaluating the model (``evaluate_s``)."""
    n = design.shape[0]
    out = {r.name: np.empty(n) for r in refs}
    t_map = t_eval = 0.0
    for lo, hi in chunk_bounds(n, chunk_size):
        t0 = time.perf_counter()
        theta = model.theta(full_uniforms(model, grouping, design[lo:hi]))
        t1 = time.perf_counter()
        o = engine.evaluate(model, theta, chunk_size=chunk_size)
        for r in refs:
            out[r.name][lo:hi] = output_array(o, model, r)
        t_map += t1 - t0
        t_eval += time.perf_counter() - t1
    return out, {"map_s": t_map, "evaluate_s": t_eval}


def crn_uniforms(model: Model, draws: int, seed: int) -> np.ndarray:
    """The uniform matrix of a Monte Carlo run with ``draws`` draws and root ``seed``, exactly
    as :func:`mkba.engine.simulate` draws it (the scenario's sampler and chunk size, its
    correlations): every setting evaluated on it sees the same draws (common random numbers)."""
    sc = model.spec.scenario
    factor = engine.correlation_factor(model)
    u = np.empty((draws, len(model.uncertain)))
    for j, (lo, hi) in enumerate(chunk_bounds(draws, sc.chunk_size)):
        u[lo:hi] = engine.uniforms(
            model,
            lo,
            hi,
            seed=seed,
            sampler=sc.sampler,
            chunk=j,
            chunk_size=sc.chunk_size,
            factor=factor,
        )
    return u


def base_value(model: Model, path: str) -> float:
    """A parameter's base value in its own units: the value, or the median if uncertain."""
    slot, scale = slot_of(model, path)
    return float(model.theta_fixed[slot] / scale)


def slot_of(model: Model, path: str) -> tuple[int, float]:
    """Slot and price-index scale of a parameter, with an input error for unknown paths."""
    if path not in model.slot_index:
        raise InputError([Problem("--params", path, "unknown parameter", path)])
    slot, scale = model.slot_of(path)
    return slot, float(scale)


def quantile_of(model: Model, path: str, p: float) -> float:
    """The ``p`` quantile of an uncertain parameter, own units (the engine's inverse CDF)."""
    j = model.uncertain.index(path)
    return float(model.inverse_cdfs[j](np.array([p]))[0])


def cdf_of(model: Model, path: str, value: float) -> float | None:
    """P(parameter <= value) for an uncertain continuous parameter (None otherwise)."""
    q = model.quantities.get(path)
    if q is None or q.dist is None or isinstance(q.dist, Choice):
        return None
    fd = frozen(q.dist)
    return None if fd is None else float(fd.cdf(value))


def support_bounds(model: Model, path: str) -> tuple[float, float]:
    """Default search bounds of a parameter: its distribution's support, or its P0.1 and
    P99.9 where the support is unbounded."""
    q = model.quantities[path]
    assert q.dist is not None
    lo, hi = q.dist.support()
    if not np.isfinite(lo):
        lo = quantile_of(model, path, 0.001)
    if not np.isfinite(hi):
        hi = quantile_of(model, path, 0.999)
    return float(lo), float(hi)


def _bound_value(text: str, base: float) -> float:
    text = text.strip()
    if text.lower().startswith("x"):
        return float(text[1:]) * base
    return float(text)


def resolve_bounds(
    model: Model, texts: Sequence[str], params: Sequence[str]
) -> tuple[dict[str, tuple[float, float]], list[str]]:
    """``PATH=LOW:HIGH`` values into ``path -> (low, high)`` in the parameter's own units.

    ``PATH`` is a parameter path (fixed parameters too) or a glob pattern over ``params``
    (the analysed parameters); ``LOW`` and ``HIGH`` are numbers, or ``xK`` for K times the
    parameter's base value (``*=x0:x3``: from zero to three times the base value). Later
    values override earlier ones. Bounds are clipped to the unit's admissible range
    (:func:`mkba.schema.quantity.unit_range`: fractions in [0, 1], growth rates above -1,
    everything else non-negative). Returns the bounds and warnings (e.g. a pattern whose
    range is empty for some parameter, which then keeps its default bounds).
    """
    out: dict[str, tuple[float, float]] = {}
    problems = []
    warnings = []
    for text in texts:
        pattern, sep, rng = text.partition("=")
        pattern = pattern.strip()
        lo_s, sep2, hi_s = rng.partition(":")
        if not sep or not sep2 or not pattern:
            problems.append(Problem("--bounds", text, "expected PATH=LOW:HIGH", text))
            continue
        if any(ch in pattern for ch in "*?["):
            paths = fnmatch.filter(params, pattern)
            if not paths:
                problems.append(
                    Problem("--bounds", pattern, "matches no analysed parameter", pattern)
                )
        elif pattern not in model.slot_index:
            problems.append(Problem("--bounds", pattern, "unknown parameter", pattern))
            continue
        else:
            paths = [pattern]
        for path in paths:
            base = base_value(model, path)
            try:
                lo, hi = _bound_value(lo_s, base), _bound_value(hi_s, base)
            except ValueError:
                problems.append(
                    Problem("--bounds", text, "LOW and HIGH must be numbers or xK", rng)
                )
                break
            if not (np.isfinite(lo) and np.isfinite(hi)):
                problems.append(Problem("--bounds", path, "need finite LOW < HIGH", rng))
                break
            q = model.quantities.get(path)
            if q is not None:  # stay inside the unit's admissible range (fractions in [0, 1])
                u_lo, u_hi = unit_range(q.unit)
                if lo < u_lo or hi > u_hi:
                    if path == pattern:
                        warnings.append(
                            f"--bounds {text}: clipped to the admissible range of unit "
                            f"{q.unit!r} ({u_lo:g} .. {u_hi:g})"
                        )
                    lo, hi = max(lo, u_lo), min(hi, u_hi)
            if not lo < hi:
                if path == pattern:
                    problems.append(Problem("--bounds", path, "need finite LOW < HIGH", rng))
                else:
                    warnings.append(
                        f"--bounds {text}: empty range for {path} (base value {base:g}); "
                        "its default bounds are used"
                    )
                continue
            out[path] = (lo, hi)
    if problems:
        raise InputError(problems)
    return out, warnings
