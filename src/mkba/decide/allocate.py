"""Allocation of a programme budget over areas and domains that maximises an objective.

Cells. The budget is allocated over *cells*: by default one cell per area x domain that the
scenario funds; with ``dims=("area",)`` one cell per area (its domain mix kept as in the
scenario), with ``dims=("domain",)`` one per domain (its area split kept). A cell is a column
of :attr:`Cells.matrix`, which says how one euro of the cell spreads over (area, domain) pairs;
an intervention dimension (issue 12) adds cells and rows to that matrix and changes nothing
else here.

Allocation -> model. An allocation ``Y[a, d]`` (euros of the price year, summed over the
programme years) multiplies the scenario's own budget of each (area, domain) by
``x = Y / B0`` with the scenario's year profile kept: budgets, their present values, the
follow-up costs, the investment response ``B / Bref`` and the governance ratio all scale with
``x`` (:func:`allocation_model`, the same arrays :func:`mkba.model.lower` builds; tested
against the ``half_budget`` variant). A pair the scenario does not fund has no estimated
effect and is not a cell.

Draws. Every allocation is evaluated on the same draws (common random numbers: the uniform
matrix of a Monte Carlo run with the given seed, :func:`mkba.sensitivity.common.crn_uniforms`),
so the objective is a smooth deterministic function of the allocation (sample-average
approximation). The NPV of each area depends only on that area's budget, so the per-draw
gradient with respect to every (area, domain) pair comes from ``1 + D`` model evaluations
(the current allocation, and each domain raised by a small step in every area at once).

Objectives (the NPV of one perspective, welfare by default):

- ``mean``: E[NPV];
- ``prob``: P(NPV > 0), smoothed as mean Phi(NPV_i / h) (h: a normal-reference bandwidth of
  the reference allocation's NPV, fixed during the search; the unsmoothed share is reported);
- ``quantile:Q``: the Q quantile of NPV (a lower quantile is a risk-averse choice), smoothed as
  the root of mean Phi((q - NPV_i) / h) = Q.

Optimiser: SLSQP (scipy) on the cells' shares of the budget, with the budget as an equality
constraint and minimum/maximum totals per area and per domain as linear constraints. With
elasticities below 1 the expected NPV is concave in the allocation, so the optimum is global
and has equal marginal returns in every cell not at a bound (tested against the closed form).
Cells are capped at ``cell_max`` times their scenario amount (default 3): the investment
response is estimated around the scenario's budget, and far beyond it is extrapolation.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as sps

from mkba import engine
from mkba.errors import InputError, Problem
from mkba.model import Model
from mkba.sampling import chunk_bounds
from mkba.schema.scenario import PERSPECTIVES

DIMS = (("area", "domain"), ("area",), ("domain",))
STEP = 1e-5  # relative finite-difference step of a pair's budget (the optimiser's gradient)
MARGINAL_STEP = 1e-2  # the reported marginal returns: wide enough to see a kink


@dataclass(frozen=True)
class Cells:
    """What is allocated: cell ``c`` puts ``matrix[a * D + d, c]`` euros in (area a, domain d)
    per euro in the cell."""

    dims: tuple[str, ...]
    labels: tuple[dict[str, str], ...]
    matrix: np.ndarray  # (A * D, cells)
    reference: np.ndarray  # (cells,) the scenario's euros in each cell

    @property
    def names(self) -> list[str]:
        return ["/".join(lab[d] for d in self.dims) for lab in self.labels]


def make_cells(model: Model, dims: tuple[str, ...] = ("area", "domain")) -> Cells:
    """The cells of ``model`` along ``dims`` (see the module docstring)."""
    if tuple(dims) not in DIMS:
        raise InputError(
            [Problem("--by", ",".join(dims), "expected area,domain or area or domain", dims)]
        )
    B0 = model.budget.sum(axis=2)  # (A, D)
    A, D = B0.shape
    labels: list[dict[str, str]] = []
    cols: list[np.ndarray] = []
    ref: list[float] = []
    if tuple(dims) == ("area", "domain"):
        for a in range(A):
            for d in range(D):
                if B0[a, d] > 0:
                    col = np.zeros(A * D)
                    col[a * D + d] = 1.0
                    cols.append(col)
                    labels.append({"area": model.areas[a], "domain": model.domains[d]})
                    ref.append(B0[a, d])
    elif tuple(dims) == ("area",):
        for a in range(A):
            if B0[a].sum() > 0:
                col = np.zeros((A, D))
                col[a] = B0[a] / B0[a].sum()
                cols.append(col.ravel())
                labels.append({"area": model.areas[a]})
                ref.append(B0[a].sum())
    else:
        for d in range(D):
            if B0[:, d].sum() > 0:
                col = np.zeros((A, D))
                col[:, d] = B0[:, d] / B0[:, d].sum()
                cols.append(col.ravel())
                labels.append({"domain": model.domains[d]})
                ref.append(B0[:, d].sum())
    return Cells(tuple(dims), tuple(labels), np.column_stack(cols), np.asarray(ref))


def pair_weights(model: Model, dim: str, label: str) -> np.ndarray:
    """(A * D,) indicator of the (area, domain) pairs with ``dim == label``."""
    A, D = len(model.areas), len(model.domains)
    w = np.zeros((A, D))
    if dim == "area":
        w[model.areas.index(label)] = 1.0
    else:
        w[:, model.domains.index(label)] = 1.0
    return w.ravel()


def allocation_model(model: Model, x: np.ndarray) -> Model:
    """``model`` with the budget of every (area, domain) multiplied by ``x[a, d]`` (year
    profile kept): the arrays :func:`mkba.model.lower` would build for that budget."""
    x = np.asarray(x, float)
    ratio = model.budget_ratio * x
    gov = [i for i, d in enumerate(model.domains) if model.spec.params.model.domains[d].governance]
    if gov:
        # B_gov / B_gov,ref where both fund governance; otherwise unchanged (1 without a
        # reference governance budget, as in lower(); 0 stays 0 since 0 * x = 0)
        g = gov[0]
        gov_ratio = np.where(model.budget_ratio[:, g] > 0, ratio[:, g], model.gov_ratio)
    else:
        gov_ratio = model.gov_ratio
    return dataclasses.replace(
        model,
        budget=model.budget * x[:, :, None],
        budget_ratio=ratio,
        gov_ratio=gov_ratio,
        budget_pv=model.budget_pv * x,
        followup_pv=model.followup_pv * x,
        followup_flow=model.followup_flow * x[:, :, None],
    )


class Evaluator:
    """Per-draw area NPVs of allocations on fixed draws (theta) of one model."""

    def __init__(self, model: Model, theta: np.ndarray, cells: Cells, chunk: int = 4096) -> None:
        self.model = model
        self.theta = theta
        self.cells = cells
        self.B0 = model.budget.sum(axis=2)
        self.evaluations = 0
        self.p0 = PERSPECTIVES.index(model.spec.scenario.perspective)
        n = theta.shape[0]
        self.chunks = [
            (lo, hi, engine.Transposed(np.ascontiguousarray(theta[lo:hi].T)))
            for lo, hi in chunk_bounds(n, chunk)
        ]
        m = min(n, chunk)
        T = len(model.years)
        self.buffers = (np.empty((m, T)), np.empty((m, T)), engine._scratch(model, m))

    def x_of(self, y: np.ndarray) -> np.ndarray:
        pairs = (self.cells.matrix @ y).reshape(self.B0.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.B0 > 0, pairs / np.where(self.B0 > 0, self.B0, 1.0), 0.0)

    def area_npv(self, x: np.ndarray) -> np.ndarray:
        """Per-draw NPV of every area (n, A) at budget multipliers ``x`` (A, D): the engine's
        kernel on the fixed draws, reduced to areas as :func:`mkba.kernel.aggregate` does
        (benefits and costs weighted by the model's perspective)."""
        m = allocation_model(self.model, x)
        args = engine._kernel_args(m)
        out = np.empty((self.theta.shape[0], len(m.areas)))
        flow, dflow, scratch = self.buffers
        bw, cw = m.benefit_weights[self.p0], m.cost_weights[self.p0]
        for lo, hi, tt in self.chunks:
            k = hi - lo
            ben, cost, _, _ = engine.raw_chunk(m, tt, "numba", args, flow[:k], dflow[:k], scratch)
            out[lo:hi] = ben @ bw - cost @ cw
        self.evaluations += self.theta.shape[0]
        return out

    def npv(self, y: np.ndarray) -> np.ndarray:
        return self.area_npv(self.x_of(y)).sum(axis=1)

    def npv_and_gradient(self, y: np.ndarray, step: float = STEP) -> tuple[np.ndarray, np.ndarray]:
        """Per-draw NPV (n,) and its gradient with respect to the cells' euros (n, cells):
        forward differences (one more euro), or backward ones with a negative ``step``."""
        x = self.x_of(y)
        base = self.area_npv(x)
        A, D = self.B0.shape
        dpair = np.zeros((base.shape[0], A, D))
        for d in range(D):
            if not np.any(self.B0[:, d] > 0):
                continue
            xd = x.copy()
            xd[:, d] = np.maximum(xd[:, d] + step, 0.0)
            dx = xd[:, d] - x[:, d]
            diff = self.area_npv(xd) - base  # (n, A): only area a's NPV moves with its budget
            with np.errstate(divide="ignore", invalid="ignore"):
                dpair[:, :, d] = np.where(dx > 0 if step > 0 else dx < 0, diff / dx, 0.0) / (
                    np.where(self.B0[:, d] > 0, self.B0[:, d], 1.0)
                )
        grad = dpair.reshape(base.shape[0], A * D) @ self.cells.matrix
        return base.sum(axis=1), grad


@dataclass(frozen=True)
class Objective:
    kind: str  # mean, prob, quantile
    q: float = 0.0
    bandwidth: float = 1.0

    @property
    def label(self) -> str:
        return {"mean": "E[NPV]", "prob": "P(NPV > 0)"}.get(self.kind, f"P{self.q * 100:g} of NPV")

    def value(self, npv: np.ndarray) -> float:
        """The unsmoothed objective of per-draw NPVs."""
        if self.kind == "mean":
            return float(npv.mean())
        if self.kind == "prob":
            return float(np.mean(npv > 0))
        return float(np.quantile(npv, self.q))

    def smooth(self, npv: np.ndarray, grad: np.ndarray) -> tuple[float, np.ndarray]:
        """Smoothed objective and its gradient from per-draw NPVs and gradients."""
        if self.kind == "mean":
            return float(npv.mean()), grad.mean(axis=0)
        h = self.bandwidth
        if self.kind == "prob":
            z = npv / h
            return float(sps.norm.cdf(z).mean()), (sps.norm.pdf(z)[:, None] * grad).mean(axis=0) / h
        lo, hi = float(npv.min()) - 10 * h, float(npv.max()) + 10 * h

        def f(t: float) -> float:
            return float(sps.norm.cdf((t - npv) / h).mean()) - self.q

        t = optimize.brentq(f, lo, hi, xtol=1e-9 * h)
        w = sps.norm.pdf((t - npv) / h)
        return t, (w[:, None] * grad).sum(axis=0) / w.sum()


def parse_objective(text: str) -> tuple[str, float]:
    t = text.strip().lower()
    if t in ("mean", "prob"):
        return t, 0.0
    if t.startswith("quantile:"):
        try:
            q = float(t.split(":", 1)[1])
        except ValueError:
            q = math.nan
        if 0 < q < 1:
            return "quantile", q
    raise InputError(
        [Problem("--objective", "", "expected mean, prob or quantile:Q with 0 < Q < 1", text)]
    )


@dataclass(frozen=True)
class Bound:
    """Minimum or maximum euros of one area or domain (``dim`` = area or domain)."""

    dim: str
    label: str
    low: float = 0.0
    high: float = math.inf


@dataclass
class Solution:
    budget: float
    y: np.ndarray  # (cells,) euros
    objective: float  # unsmoothed
    smoothed: float
    success: bool
    message: str
    iterations: int
    npv: np.ndarray  # (n,) per draw
    gradient: np.ndarray  # (n, cells)


def solve(
    ev: Evaluator,
    objective: Objective,
    budget: float,
    *,
    bounds: Sequence[Bound] = (),
    cell_max: float = 3.0,
    start: np.ndarray | None = None,
    tol: float = 1e-7,
    maxiter: int = 200,
) -> Solution:
    """The allocation of ``budget`` euros over the cells that maximises ``objective``."""
    cells = ev.cells
    nc = cells.reference.size
    ub = cell_max * cells.reference / budget
    ub = np.minimum(ub, 1.0)
    cons: list[dict] = [
        {"type": "eq", "fun": lambda s: s.sum() - 1.0, "jac": lambda s: np.ones_like(s)}
    ]
    for b in bounds:
        w = cells.matrix.T @ pair_weights(ev.model, b.dim, b.label)  # share of each cell
        if b.low > 0:
            lo = b.low / budget
            cons.append(
                {"type": "ineq", "fun": lambda s, w=w, lo=lo: w @ s - lo, "jac": lambda s, w=w: w}
            )
        if math.isfinite(b.high):
            hi = b.high / budget
            cons.append(
                {"type": "ineq", "fun": lambda s, w=w, hi=hi: hi - w @ s, "jac": lambda s, w=w: -w}
            )
    s0 = cells.reference / cells.reference.sum() if start is None else start / budget
    s0 = np.clip(s0, 0.0, ub)
    s0 = s0 / s0.sum() if s0.sum() > 0 else np.full(nc, 1.0 / nc)
    scale = budget if objective.kind in ("mean", "quantile") else 1.0
    cache: dict[str, tuple[bytes, Any]] = {}

    def npv_at(s: np.ndarray) -> np.ndarray:
        key = s.tobytes()
        hit = cache.get("npv")
        if hit is None or hit[0] != key:
            cache["npv"] = (key, ev.npv(np.maximum(s, 0.0) * budget))
        return cache["npv"][1]

    def full(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = s.tobytes()
        hit = cache.get("grad")
        if hit is None or hit[0] != key:
            npv, g = ev.npv_and_gradient(np.maximum(s, 0.0) * budget)
            cache["grad"] = (key, (npv, g))
            cache["npv"] = (key, npv)
        return cache["grad"][1]

    def fun(s: np.ndarray) -> float:
        npv = npv_at(s)
        val, _ = objective.smooth(npv, np.zeros((npv.size, 1)))
        return -val / scale

    def jac(s: np.ndarray) -> np.ndarray:
        npv, g = full(s)
        _, gr = objective.smooth(npv, g)
        return -gr * budget / scale

    res = optimize.minimize(
        fun,
        s0,
        jac=jac,
        method="SLSQP",
        bounds=list(zip(np.zeros(nc), ub, strict=True)),
        constraints=cons,
        options={"ftol": tol, "maxiter": maxiter},
    )
    s = np.clip(res.x, 0.0, ub)
    s = s / s.sum()
    npv, g = full(s)
    val, _ = objective.smooth(npv, g)
    return Solution(
        budget=budget,
        y=s * budget,
        objective=objective.value(npv),
        smoothed=val,
        success=bool(res.success),
        message=str(res.message),
        iterations=int(res.nit),
        npv=npv,
        gradient=g,
    )


def marginal_table(ev: Evaluator, sol: Solution, cell_max: float) -> pd.DataFrame:
    """Per cell: euros, share, scenario euros, marginal E[NPV] of one more euro (forward) and
    of one euro less (backward difference over 1 % of the cell's scenario amount), and whether the cell sits at a bound (``zero``,
    ``cap``) or at a kink (``kink``: the two differ, e.g. governance at its reference amount,
    where the governance factor G stops rising)."""
    cells = ev.cells
    m = ev.npv_and_gradient(sol.y, MARGINAL_STEP)[1].mean(axis=0)
    left = ev.npv_and_gradient(sol.y, -MARGINAL_STEP)[1].mean(axis=0)
    cap = cell_max * cells.reference
    rows = []
    for c, lab in enumerate(cells.labels):
        rows.append(
            {
                **lab,
                "amount": sol.y[c],
                "share": sol.y[c] / sol.budget,
                "scenario_amount": cells.reference[c],
                "ratio_to_scenario": sol.y[c] / cells.reference[c],
                "marginal_npv_per_euro": m[c],
                "marginal_npv_per_euro_less": left[c],
                "at_bound": "zero"
                if sol.y[c] <= 1e-6 * sol.budget
                else (
                    "cap"
                    if sol.y[c] >= cap[c] * (1 - 1e-6)
                    else ("kink" if abs(left[c] - m[c]) > 0.01 + 0.1 * abs(m[c]) else "")
                ),
            }
        )
    return pd.DataFrame(rows)


def group_marginals(ev: Evaluator, sol: Solution, dim: str, m: np.ndarray) -> pd.DataFrame:
    """Per area (or domain): euros, and the marginal E[NPV] of one more euro spread over its
    cells in proportion to their current amounts."""
    model = ev.model
    labels = model.areas if dim == "area" else model.domains
    pairs = ev.cells.matrix * sol.y[None, :]  # (A*D, cells) euros of each cell in each pair
    rows = []
    for lab in labels:
        w = pair_weights(model, dim, lab)
        amounts = w @ pairs  # (cells,) euros of each cell that land in this group
        tot = float(amounts.sum())
        if tot <= 0 and not np.any(w @ ev.cells.matrix > 0):
            continue
        rows.append(
            {
                dim: lab,
                "amount": tot,
                "share": tot / sol.budget,
                "marginal_npv_per_euro": float(amounts @ m / tot) if tot > 0 else math.nan,
            }
        )
    return pd.DataFrame(rows)


@dataclass
class AllocationResult:
    objective: Objective
    perspective: str
    budget: float
    scenario_budget: float
    solution: Solution
    reference: Solution  # the scenario's allocation scaled to the budget (not optimised)
    cells: pd.DataFrame
    by_area: pd.DataFrame
    by_domain: pd.DataFrame
    frontier: pd.DataFrame
    beats_reference: float  # share of draws with NPV(optimum) > NPV(reference)
    shadow_price: float  # marginal E[NPV] per euro of the cells not at a bound
    draws: int
    evaluations: int
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def reference_solution(ev: Evaluator, objective: Objective, budget: float) -> Solution:
    y = ev.cells.reference * budget / ev.cells.reference.sum()
    npv, g = ev.npv_and_gradient(y)
    val, _ = objective.smooth(npv, g)
    return Solution(budget, y, objective.value(npv), val, True, "not optimised", 0, npv, g)


def allocate(
    model: Model,
    theta: np.ndarray,
    *,
    objective: str = "mean",
    budget: float | None = None,
    dims: tuple[str, ...] = ("area", "domain"),
    bounds: Sequence[Bound] = (),
    cell_max: float = 3.0,
    frontier: tuple[float, ...] = (0.5, 0.75, 1.0, 1.25, 1.5),
) -> AllocationResult:
    """Optimise the allocation of ``budget`` (default: the scenario's) on the draws ``theta``
    of ``model`` (whose perspective is the objective's), and trace the efficient frontier at
    ``frontier`` times the budget."""
    t0 = time.perf_counter()
    cells = make_cells(model, dims)
    ev = Evaluator(model, theta, cells)
    scenario_budget = float(cells.reference.sum())
    Y = scenario_budget if budget is None else float(budget)
    if not (Y > 0 and math.isfinite(Y)):
        raise InputError([Problem("--budget", "", "must be a positive number of euros", budget)])
    if cell_max * scenario_budget < Y:
        raise InputError(
            [
                Problem(
                    "--budget",
                    "",
                    f"more than --cell-max ({cell_max:g}) times the scenario's budget "
                    f"({scenario_budget:,.0f}) cannot be placed",
                    Y,
                )
            ]
        )
    kind, q = parse_objective(objective)
    h = 1.0
    if kind != "mean":
        npv0 = ev.npv(cells.reference * Y / scenario_budget)
        sd = float(npv0.std(ddof=1)) if npv0.size > 1 else 1.0
        h = max(1.06 * sd * npv0.size ** (-0.2), 1e-9 * max(1.0, abs(float(npv0.mean()))))
    obj = Objective(kind, q, h)
    ref = reference_solution(ev, obj, Y)
    sol = solve(ev, obj, Y, bounds=list(bounds), cell_max=cell_max)
    t1 = time.perf_counter()
    warnings: list[str] = []
    if not sol.success:
        warnings.append(f"the optimiser did not converge: {sol.message}")
    if sol.smoothed < ref.smoothed - 1e-9 * max(1.0, abs(ref.smoothed)):
        warnings.append("the optimum found is worse than the scenario's allocation")
    ct = marginal_table(ev, sol, cell_max)
    marg = ct["marginal_npv_per_euro"].to_numpy()
    interior = ct["at_bound"] == ""
    # KKT: every cell strictly inside its bounds (and not at a kink) has the same marginal
    # return, the shadow price of the budget; the median is robust to finite-difference noise
    shadow = (
        float(ct.loc[interior, "marginal_npv_per_euro"].median()) if interior.any() else math.nan
    )
    rows = []
    start = None
    for f in sorted(frontier):
        bf = f * Y
        if bf > cell_max * scenario_budget:
            continue
        s = solve(ev, obj, bf, bounds=list(bounds), cell_max=cell_max, start=start)
        start = s.y
        rows.append(
            {
                "budget": bf,
                "budget_factor": f,
                "objective": s.objective,
                "npv_mean": float(s.npv.mean()),
                "npv_p5": float(np.quantile(s.npv, 0.05)),
                "prob_npv_positive": float(np.mean(s.npv > 0)),
                "converged": s.success,
                "reference_objective": reference_solution(ev, obj, bf).objective,
            }
        )
    t2 = time.perf_counter()
    return AllocationResult(
        objective=obj,
        perspective=model.spec.scenario.perspective,
        budget=Y,
        scenario_budget=scenario_budget,
        solution=sol,
        reference=ref,
        cells=ct,
        by_area=group_marginals(ev, sol, "area", marg),
        by_domain=group_marginals(ev, sol, "domain", marg),
        frontier=pd.DataFrame(rows),
        beats_reference=float(np.mean(sol.npv > ref.npv)),
        shadow_price=shadow,
        draws=theta.shape[0],
        evaluations=ev.evaluations,
        warnings=warnings,
        timings={"optimise_s": t1 - t0, "frontier_s": t2 - t1},
    )
