"""One-way methods: tornado, switching values, discount-rate sweep.

All three move one parameter (or one group, or the discount rate) and hold everything else at
its base value: fixed values and the medians of uncertain ones (``model.theta_fixed``). With
``mc=True`` the output's Monte Carlo mean is used instead, every setting evaluated on the same
draws (common random numbers): the draws of ``mkba run`` with the same seed and number of draws,
with the moved parameter's column pinned.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from mkba.errors import InputError, Problem
from mkba.load import Spec, load_scenario
from mkba.model import Model, lower
from mkba.outputs import OutputRef, default_threshold, parse_output
from mkba.sensitivity.common import (
    base_value,
    cdf_of,
    crn_uniforms,
    evaluate_outputs,
    quantile_of,
    slot_of,
    support_bounds,
)
from mkba.sensitivity.groups import Grouping

Bounds = dict[str, tuple[float, float]]
_BATCH_ROWS = 32768  # parameter vectors built at once (memory: rows x slots x 8 bytes)


def _ref(model: Model, output: str | OutputRef) -> OutputRef:
    return parse_output(model, output) if isinstance(output, str) else output


class _Evaluator:
    """Output of the model with some parameters set, at base values or as a CRN mean."""

    def __init__(
        self, model: Model, ref: OutputRef, *, mc: bool, draws: int, seed: int | None
    ) -> None:
        self.model, self.ref, self.mc = model, ref, mc
        self.evaluations = 0
        if mc:
            if draws < 2:
                raise InputError([Problem("--draws", "", "need at least 2 draws with --mc", draws)])
            s = model.spec.scenario.seed if seed is None else seed
            self.u: np.ndarray | None = crn_uniforms(model, draws, s)
            self.theta0 = model.theta(self.u)
        else:
            self.u = None
            self.theta0 = model.theta_fixed[None, :]

    def many(self, settings: Sequence[dict[str, float]]) -> np.ndarray:
        """The output (or its mean over the draws) for each setting ``{path: own-unit value}``."""
        n = self.theta0.shape[0]
        out = np.empty(len(settings))
        per_batch = max(1, _BATCH_ROWS // n)  # settings per engine call, bounded memory
        for start in range(0, len(settings), per_batch):
            batch = settings[start : start + per_batch]
            theta = np.repeat(self.theta0[None, :, :], len(batch), axis=0)
            for i, values in enumerate(batch):
                for path, v in values.items():
                    slot, scale = slot_of(self.model, path)
                    theta[i, :, slot] = v * scale
            y = evaluate_outputs(self.model, theta.reshape(-1, theta.shape[-1]), [self.ref])
            self.evaluations += len(batch) * n
            out[start : start + len(batch)] = y[self.ref.name].reshape(len(batch), n).mean(axis=1)
        return out

    def one(self, values: dict[str, float]) -> float:
        return float(self.many([values])[0])


# --- tornado -----------------------------------------------------------------------------


@dataclass
class TornadoResult:
    output: str
    mode: str  # "base values" or "Monte Carlo mean (N draws, CRN)"
    base_output: float
    table: pd.DataFrame  # one row per parameter or group, sorted by swing
    records: list[dict[str, Any]]  # {name, low, high, output_low, output_high} (the JSON)
    evaluations: int
    points: pd.DataFrame  # every setting evaluated: name, side, output
    uniforms: np.ndarray | None  # with mc: the common uniform matrix (draws x uncertain)
    warnings: list[str] = field(default_factory=list)


def tornado(
    model: Model,
    output: str | OutputRef = "npv",
    *,
    grouping: Grouping,
    quantiles: tuple[float, float] = (0.1, 0.9),
    bounds: Bounds | None = None,
    mc: bool = False,
    draws: int = 4096,
    seed: int | None = None,
) -> TornadoResult:
    """One-way sensitivity: the output with each parameter (group) at its low and high value.

    Parameters
    ----------
    model : Model
        The lowered scenario.
    output : str or OutputRef
        The output explained (see :mod:`mkba.outputs`).
    grouping : Grouping
        Parameters and groups; a group's members move together (all low, then all high).
    quantiles : (float, float)
        Low and high quantile of every uncertain parameter [-] (default P10 and P90).
    bounds : dict, optional
        Explicit ``path -> (low, high)`` in the parameter's own units; they replace the
        quantiles. A fixed parameter with bounds is added as a row of its own.
    mc : bool
        Use the output's Monte Carlo mean over ``draws`` draws (common random numbers: the
        same draws for every setting, the moved parameter pinned) instead of base values.

    Returns
    -------
    TornadoResult
        Rows sorted by swing ``|output_high - output_low|``, largest first.
    """
    ref = _ref(model, output)
    lo_q, hi_q = quantiles
    if not 0.0 < lo_q < hi_q < 1.0:
        raise InputError([Problem("--quantiles", "", "need 0 < LOW < HIGH < 1", f"{lo_q},{hi_q}")])
    bounds = dict(bounds or {})
    items: list[tuple[str, tuple[str, ...]]] = [(g, grouping.members(g)) for g in grouping.names]
    covered = set(grouping.params)
    problems = []
    for path in bounds:
        if path not in model.slot_index:
            problems.append(Problem("--bounds", path, "unknown parameter", path))
        elif path not in covered:
            items.append((path, (path,)))
    if problems:
        raise InputError(problems)

    def value(path: str, side: int) -> float:
        if path in bounds:
            return bounds[path][side]
        return quantile_of(model, path, (lo_q, hi_q)[side])

    ev = _Evaluator(model, ref, mc=mc, draws=draws, seed=seed)
    settings: list[dict[str, float]] = [{}]
    for _, members in items:
        for side in (0, 1):
            settings.append({p: value(p, side) for p in members})
    y = ev.many(settings)
    base = float(y[0])
    rows: list[dict[str, Any]] = []
    records = []
    for k, (name, members) in enumerate(items):
        low = [settings[1 + 2 * k][p] for p in members]
        high = [settings[2 + 2 * k][p] for p in members]
        y_lo, y_hi = float(y[1 + 2 * k]), float(y[2 + 2 * k])
        single = len(members) == 1
        explicit = all(p in bounds for p in members)
        rows.append(
            {
                "name": name,
                "members": ", ".join(members),
                "low": low[0] if single else math.nan,
                "high": high[0] if single else math.nan,
                "low_quantile": math.nan if explicit else lo_q,
                "high_quantile": math.nan if explicit else hi_q,
                "base": base_value(model, members[0]) if single else math.nan,
                "output_low": y_lo,
                "output_high": y_hi,
                "swing": abs(y_hi - y_lo),
                "output_base": base,
            }
        )
        records.append(
            {
                "name": name,
                "low": low[0] if single else low,
                "high": high[0] if single else high,
                "output_low": y_lo,
                "output_high": y_hi,
            }
        )
    order = sorted(range(len(rows)), key=lambda i: -rows[i]["swing"])
    table = pd.DataFrame([rows[i] for i in order])
    table.insert(0, "rank", np.arange(1, len(rows) + 1))
    table.insert(1, "output", ref.name)
    warnings = []
    if model.spec.scenario.correlations:
        warnings.append(
            "one-way analysis: a moved parameter's correlated partners stay at their base "
            "value" + (" (or their own draws with --mc)" if mc else "")
        )
    mode = f"Monte Carlo mean ({draws} draws, common random numbers)" if mc else "base values"
    points = pd.DataFrame(
        {
            "name": ["(base)"] + [name for name, _ in items for _side in (0, 1)],
            "side": ["base"] + ["low", "high"] * len(items),
            "values": [str(s) for s in settings],
            "output": y,
        }
    )
    return TornadoResult(
        output=ref.name,
        mode=mode,
        base_output=base,
        table=table,
        records=[records[i] for i in order],
        evaluations=ev.evaluations,
        points=points,
        uniforms=ev.u,
        warnings=warnings,
    )


# --- switching values --------------------------------------------------------------------


@dataclass
class SwitchingResult:
    output: str
    mode: str
    threshold: float
    base_output: float
    table: pd.DataFrame
    records: list[dict[str, Any]]  # {name, base, switching_value, ratio} (the JSON)
    evaluations: int
    points: pd.DataFrame  # the search grid evaluated: name, value, output
    warnings: list[str] = field(default_factory=list)


def _crossing(
    f: Callable[[float], float], grid: np.ndarray, fy: np.ndarray, base: float, xtol: float
) -> float | None:
    """The root of ``f`` nearest to ``base`` among the sign changes of ``fy`` on ``grid``."""
    zero = np.flatnonzero(fy == 0.0)
    change = np.flatnonzero(np.sign(fy[:-1]) * np.sign(fy[1:]) < 0)
    candidates: list[tuple[float, float | tuple[float, float]]] = [
        (abs(grid[i] - base), float(grid[i])) for i in zero
    ]
    for i in change:
        mid = 0.5 * (grid[i] + grid[i + 1])
        candidates.append((abs(mid - base), (float(grid[i]), float(grid[i + 1]))))
    if not candidates:
        return None
    _, best = min(candidates, key=lambda c: c[0])
    if isinstance(best, float):
        return best
    a, b = best
    return float(brentq(f, a, b, xtol=xtol, rtol=4 * np.finfo(float).eps, maxiter=200))


def switching_values(
    model: Model,
    output: str | OutputRef = "npv",
    *,
    params: Sequence[str] | None = None,
    threshold: float | None = None,
    bounds: Bounds | None = None,
    mc: bool = False,
    draws: int = 4096,
    seed: int | None = None,
    grid: int | None = None,
) -> SwitchingResult:
    """The value of each parameter at which the output crosses ``threshold``.

    One parameter moves, all others stay at their base values (or, with ``mc``, the output's
    Monte Carlo mean is used with common random numbers). The output is evaluated on a grid
    of ``grid`` points over the bounds; where it crosses the threshold, the crossing nearest
    to the base value is refined by Brent's method (:func:`scipy.optimize.brentq`) on the full
    model.

    Parameters
    ----------
    params : sequence of str, optional
        Parameter paths (default: every uncertain parameter). Fixed parameters need bounds.
    threshold : float, optional
        Default 0, or 1 for a benefit-cost ratio.
    bounds : dict, optional
        ``path -> (low, high)`` in own units. Default: the distribution's support, or its
        P0.1-P99.9 range where the support is unbounded.

    Returns
    -------
    SwitchingResult
        ``switching_value`` is None ("none within bounds") where the output does not cross;
        ``ratio`` is the switching value as a multiple of the base value.
    """
    ref = _ref(model, output)
    thr = default_threshold(ref) if threshold is None else float(threshold)
    bounds = dict(bounds or {})
    chosen = list(model.uncertain if params is None else params)
    for p in bounds:
        if p not in chosen:
            chosen.append(p)
    problems = []
    for p in chosen:
        if p not in model.slot_index:
            problems.append(Problem("--params", p, "unknown parameter", p))
        elif p not in model.uncertain and p not in bounds:
            problems.append(
                Problem("--params", p, "is fixed: give its range with --bounds PATH=LOW:HIGH", p)
            )
    if problems:
        raise InputError(problems)
    npts = grid if grid is not None else (9 if mc else 33)
    ev = _Evaluator(model, ref, mc=mc, draws=draws, seed=seed)
    base_out = ev.one({})
    xtol = 1e-12
    rows: list[dict[str, Any]] = []
    records = []
    grids = []
    for p in chosen:
        base = base_value(model, p)
        lo, hi = bounds[p] if p in bounds else support_bounds(model, p)
        pts = np.unique(
            np.concatenate([np.linspace(lo, hi, npts), [base] if lo < base < hi else []])
        )
        fy = ev.many([{p: float(v)} for v in pts]) - thr
        grids.append(pd.DataFrame({"name": p, "value": pts, "output": fy + thr}))

        def f(v: float, p: str = p) -> float:
            return ev.one({p: v}) - thr

        sv = _crossing(f, pts, fy, base, xtol * max(1.0, abs(base)))
        ratio = sv / base if sv is not None and base != 0 else None
        cdf = cdf_of(model, p, sv) if sv is not None else None
        # share of the parameter's distribution on the far side of the switching value
        prob = None
        if cdf is not None and sv is not None:
            prob = cdf if sv < base else 1.0 - cdf
        rows.append(
            {
                "name": p,
                "base": base,
                "switching_value": sv if sv is not None else math.nan,
                "ratio": ratio if ratio is not None else math.nan,
                "change": (ratio - 1.0) if ratio is not None else math.nan,
                "status": "crosses" if sv is not None else "none within bounds",
                "bound_low": lo,
                "bound_high": hi,
                "output_at_low": float(fy[0] + thr),
                "output_at_high": float(fy[-1] + thr),
                "prob_beyond": prob if prob is not None else math.nan,
            }
        )
        records.append({"name": p, "base": base, "switching_value": sv, "ratio": ratio})
    order = sorted(
        range(len(rows)),
        key=lambda i: (
            math.isnan(rows[i]["ratio"]),
            abs(math.log(rows[i]["ratio"])) if rows[i]["ratio"] > 0 else math.inf,
        ),
    )
    table = pd.DataFrame([rows[i] for i in order])
    table.insert(0, "output", ref.name)
    table.insert(1, "threshold", thr)
    table["output_base"] = base_out
    mode = f"Monte Carlo mean ({draws} draws, common random numbers)" if mc else "base values"
    warnings = []
    if (base_out - thr) <= 0:
        warnings.append(
            f"at the base values the output ({base_out:,.6g}) is already at or below the "
            f"threshold {thr:g}: switching values say where it would rise above it"
        )
    return SwitchingResult(
        output=ref.name,
        mode=mode,
        threshold=thr,
        base_output=base_out,
        table=table,
        records=[records[i] for i in order],
        evaluations=ev.evaluations,
        points=pd.concat(grids, ignore_index=True) if grids else pd.DataFrame(),
        warnings=warnings,
    )


# --- discount-rate sweep ----------------------------------------------------------------------


@dataclass
class DiscountResult:
    output: str
    threshold: float
    rates: np.ndarray
    table: pd.DataFrame  # one row per rate
    switching_rate: float | None  # at base values
    switching_rate_mean: float | None  # of the Monte Carlo mean (CRN)
    scenario_rate: Any
    draws: int
    evaluations: int
    samples: np.ndarray  # (draws, rates) the output per draw and rate
    warnings: list[str] = field(default_factory=list)


def rate_grid(text: str) -> np.ndarray:
    """``START:STOP:STEP`` (inclusive) or a comma list of rates, as fractions."""
    try:
        if ":" in text:
            a, b, s = (float(x) for x in text.split(":"))
            if s <= 0 or b < a:
                raise ValueError
            n = math.floor((b - a) / s + 1e-9) + 1
            return np.round(a + s * np.arange(n), 12)
        out = np.array(sorted(float(x) for x in text.split(",") if x.strip()))
        if out.size == 0:
            raise ValueError
        return out
    except ValueError:
        raise InputError(
            [
                Problem(
                    "--rates", "", "expected START:STOP:STEP (e.g. 0:0.06:0.0025) or a list", text
                )
            ]
        ) from None


def discount_sweep(
    spec: Spec,
    output: str = "npv",
    *,
    rates: Sequence[float] | np.ndarray = tuple(np.round(np.arange(0, 0.06001, 0.0025), 6)),
    draws: int = 4096,
    seed: int | None = None,
    threshold: float | None = None,
) -> DiscountResult:
    """The output against one discount rate for all streams and costs.

    For every rate the scenario is loaded again with ``discount_rate = rate`` (so every
    present value, costs included, is recomputed by the model itself), and evaluated at the
    base values and on the same ``draws`` draws (common random numbers). The rate at which
    the output crosses ``threshold`` (default 0; 1 for a ratio) is found by Brent's method on
    the full model, for the base values and for the Monte Carlo mean.

    Returns
    -------
    DiscountResult
        A table with, per rate, the output at base values and its mean, P5, P50, P95 and
        P(output > threshold) over the draws.
    """
    base_model = lower(spec)
    ref = parse_output(base_model, output)
    thr = default_threshold(ref) if threshold is None else float(threshold)
    rates = np.asarray(rates, dtype=float)
    if rates.size < 2 or np.any(rates <= -0.5) or np.any(rates >= 0.5):
        raise InputError(
            [Problem("--rates", "", "need at least two rates in (-0.5, 0.5)", rates.tolist())]
        )
    s = spec.scenario.seed if seed is None else seed
    u = crn_uniforms(base_model, draws, s)
    cache: dict[float, Model] = {}
    evaluations = 0

    def model_at(r: float) -> Model:
        key = float(r)
        if key not in cache:
            m = lower(
                load_scenario(
                    spec.path,
                    variant=spec.variant,
                    params=spec.params,
                    updates={"discount_rate": key},
                )
            )
            if m.uncertain != base_model.uncertain:  # pragma: no cover - defensive
                raise InputError([Problem(str(spec.path), "discount_rate", "changes the model")])
            cache[key] = m
        return cache[key]

    def at_base(r: float) -> float:
        nonlocal evaluations
        m = model_at(r)
        evaluations += 1
        return float(evaluate_outputs(m, m.theta_fixed[None, :], [ref])[ref.name][0])

    def per_draw(r: float) -> np.ndarray:
        nonlocal evaluations
        m = model_at(r)
        evaluations += draws
        return evaluate_outputs(m, m.theta(u), [ref])[ref.name]

    det = np.array([at_base(r) for r in rates])
    samples = np.column_stack([per_draw(r) for r in rates])
    mean = samples.mean(axis=0)
    q = np.quantile(samples, [0.05, 0.5, 0.95], axis=0)
    table = pd.DataFrame(
        {
            "output": ref.name,
            "rate": rates,
            "output_base": det,
            "mean": mean,
            "p5": q[0],
            "p50": q[1],
            "p95": q[2],
            "prob_above_threshold": (samples > thr).mean(axis=0),
        }
    )
    xtol = 1e-10
    sr = _crossing(lambda r: at_base(r) - thr, rates, det - thr, rates[0], xtol)
    srm = _crossing(lambda r: float(per_draw(r).mean()) - thr, rates, mean - thr, rates[0], xtol)
    dr = spec.scenario.discount_rate
    warnings = []
    if sr is None and srm is None:
        warnings.append(
            f"{ref.name} does not cross {thr:g} between {rates[0]:.2%} and {rates[-1]:.2%}: "
            "widen the sweep with --rates, e.g. 0:0.2:0.005"
        )
    if dr.schedule is not None or dr.streams or dr.costs is not None:
        warnings.append(
            "the scenario discounts with a schedule or per-category rates; the sweep applies "
            "one rate to every stream and to costs"
        )
    return DiscountResult(
        output=ref.name,
        threshold=thr,
        rates=rates,
        table=table,
        switching_rate=sr,
        switching_rate_mean=srm,
        scenario_rate=dr.rate if dr.schedule is None else dr.model_dump(),
        draws=draws,
        evaluations=evaluations,
        samples=samples,
        warnings=warnings,
    )
