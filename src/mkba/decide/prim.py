"""Scenario discovery with PRIM (Friedman & Fisher 1999), as the EMA Workbench does it.

Given the sampled parameters ``X`` (draws x parameters) and a boolean ``y`` (the draws of
interest, e.g. NPV < 0), PRIM looks for boxes (a low and a high limit per parameter) in which
the draws of interest are concentrated:

- *coverage* of a box: the share of all draws of interest that fall in it;
- *density*: the share of the draws in it that are of interest;
- *mass*: the share of all draws in it.

Peeling: starting from the box that holds every draw, each step considers, for every
parameter, removing the ``alpha`` share (default 0.05) of the draws in the box with the
lowest, or the highest, values of that parameter (for a parameter with few distinct values:
the draws at its lowest or highest value), and makes the peel that gives the highest density
(ties: the one that removes fewest draws). Peeling stops when the box's mass would fall below
``mass_min`` (default 0.05). The sequence of boxes is the peeling trajectory (coverage against
density: the analyst's trade-off).

Box choice: the box of the trajectory with the highest coverage among those whose density is
at least ``threshold`` (default 0.8, the EMA Workbench's default); if none reaches it, the
densest box. Pasting then widens each limit of the chosen box again, ``paste_alpha`` of its
draws at a time, while that raises the density.

Several boxes: after a box is chosen, its draws are removed and PRIM runs again on the rest
(covering), up to ``boxes`` boxes, while the remaining draws still hold draws of interest at
a density above their overall share.

References
----------
1. Friedman JH, Fisher NI (1999). Bump hunting in high-dimensional data. Statistics and
   Computing 9:123-143.
2. Kwakkel JH (2017). The Exploratory Modeling Workbench. Environmental Modelling & Software
   96:239-250 (``ema_workbench.analysis.prim``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Box:
    low: np.ndarray  # (P,) inclusive limits
    high: np.ndarray  # (P,)

    def contains(self, X: np.ndarray) -> np.ndarray:
        return np.all((self.low <= X) & (self.high >= X), axis=1)

    def copy(self) -> Box:
        return Box(self.low.copy(), self.high.copy())


@dataclass
class PrimBox:
    """One box found: its limits, statistics and the peeling trajectory that led to it."""

    box: Box
    coverage: float
    density: float
    mass: float
    restricted: list[int]  # parameters whose limits are narrower than all draws
    trajectory: pd.DataFrame  # step, coverage, density, mass, restricted dimensions
    chosen_step: int


def _stats(inside: np.ndarray, y: np.ndarray, total_y: float, n: int) -> tuple[float, float, float]:
    k = int(inside.sum())
    hits = float(y[inside].sum())
    return (
        hits / total_y if total_y else 0.0,
        hits / k if k else 0.0,
        k / n,
    )


def _restricted(box: Box, full: Box) -> list[int]:
    return [
        j for j in range(box.low.size) if box.low[j] > full.low[j] or box.high[j] < full.high[j]
    ]


def _peel_candidates(
    X: np.ndarray, inside: np.ndarray, alpha: float
) -> Iterator[tuple[int, str, float, np.ndarray]]:
    """Every single peel: (parameter, side, new limit, new inside mask). A side removes the
    draws below the ``alpha`` quantile (above the ``1 - alpha`` one); where that quantile
    is the extreme value itself (ties, few distinct values), the draws at that value."""
    Xin = X[inside]
    for j in range(X.shape[1]):
        col = Xin[:, j]
        lo, hi = col.min(), col.max()
        if lo == hi:
            continue
        q = np.quantile(col, alpha)
        new = inside & ((X[:, j] >= q) if q > lo else (X[:, j] > lo))
        if new.any():
            yield j, "low", X[new, j].min(), new
        q = np.quantile(col, 1.0 - alpha)
        new = inside & ((X[:, j] <= q) if q < hi else (X[:, j] < hi))
        if new.any():
            yield j, "high", X[new, j].max(), new


def peel(
    X: np.ndarray,
    y: np.ndarray,
    *,
    alpha: float = 0.05,
    mass_min: float = 0.05,
    start: Box | None = None,
) -> list[tuple[Box, np.ndarray]]:
    """The peeling trajectory: (box, inside mask) after every step, the ``start`` box (by
    default the one spanning ``X``) first."""
    n = X.shape[0]
    box = Box(X.min(axis=0), X.max(axis=0)) if start is None else start.copy()
    inside = np.ones(n, dtype=bool)
    out = [(box.copy(), inside.copy())]
    while True:
        best = None
        for j, side, limit, new in _peel_candidates(X, inside, alpha):
            k = int(new.sum())
            if k < mass_min * n:
                continue
            dens = float(y[new].mean())
            key = (dens, k)  # highest density, then the smallest peel (most draws kept)
            if best is None or key > best[0]:
                best = (key, j, side, limit, new)
        if best is None:
            break
        _, j, side, limit, new = best
        if side == "low":
            box.low[j] = limit
        else:
            box.high[j] = limit
        inside = new
        out.append((box.copy(), inside.copy()))
    return out


def paste(
    X: np.ndarray, y: np.ndarray, box: Box, *, alpha: float = 0.05, within: np.ndarray | None = None
) -> tuple[Box, np.ndarray]:
    """Widen the limits of ``box`` while that raises its density (``within``: the draws
    still considered)."""
    within = np.ones(X.shape[0], dtype=bool) if within is None else within
    box = box.copy()
    inside = box.contains(X) & within
    dens = float(y[inside].mean()) if inside.any() else 0.0
    while True:
        best = None
        step = max(1, round(alpha * int(inside.sum())))
        outside = (box.low > X) | (box.high < X)  # (n, P)
        violations = outside.sum(axis=1)
        for j in range(X.shape[1]):
            # draws inside the box in every parameter but j
            others = within & ((violations == 0) | ((violations == 1) & outside[:, j]))
            col = X[others, j]
            for side in ("low", "high"):
                if side == "low":
                    cand = np.sort(col[col < box.low[j]])[::-1]
                else:
                    cand = np.sort(col[col > box.high[j]])
                if cand.size == 0:
                    continue
                limit = cand[min(step, cand.size) - 1]
                trial = box.copy()
                if side == "low":
                    trial.low[j] = limit
                else:
                    trial.high[j] = limit
                new = trial.contains(X) & within
                d = float(y[new].mean())
                if d > dens + 1e-12 and (best is None or d > best[0]):
                    best = (d, trial, new)
        if best is None:
            return box, inside
        dens, box, inside = best


def prim(
    X: np.ndarray,
    y: np.ndarray,
    *,
    alpha: float = 0.05,
    mass_min: float = 0.05,
    threshold: float = 0.8,
    paste_alpha: float = 0.05,
    boxes: int = 1,
) -> list[PrimBox]:
    """Boxes of ``X`` where ``y`` (boolean) is concentrated (see the module docstring)."""
    X = np.asarray(X, float)
    y = np.asarray(y, bool)
    n = X.shape[0]
    total_y = float(y.sum())
    full = Box(X.min(axis=0).astype(float), X.max(axis=0).astype(float))
    remaining = np.ones(n, dtype=bool)
    found: list[PrimBox] = []
    for _ in range(boxes):
        idx = np.flatnonzero(remaining)
        if idx.size == 0 or not y[idx].any():
            break
        Xr, yr = X[idx], y[idx]
        traj = peel(Xr, yr, alpha=alpha, mass_min=mass_min * n / idx.size, start=full)
        rows = []
        for step, (b, inside_r) in enumerate(traj):
            k = int(inside_r.sum())
            hits = float(yr[inside_r].sum())
            rows.append(
                {
                    "step": step,
                    "coverage": hits / total_y if total_y else 0.0,
                    "density": hits / k if k else 0.0,
                    "mass": k / n,
                    "restricted": len(_restricted(b, full)),
                }
            )
        table = pd.DataFrame(rows)
        ok = table[table["density"] >= threshold]
        if not ok.empty:  # the widest box (highest coverage) dense enough
            pick = ok.sort_values(["coverage", "step"], ascending=[False, True])
        else:  # none dense enough: the densest
            pick = table.sort_values(["density", "step"], ascending=[False, True])
        chosen = int(pick.iloc[0]["step"])
        box, _ = paste(X, y, traj[chosen][0], alpha=paste_alpha, within=remaining)
        inside = box.contains(X) & remaining
        cov, dens, mass = _stats(inside, y, total_y, n)
        rest_rate = float(y[idx].mean())
        if found and dens <= rest_rate:  # a further box no denser than what is left: stop
            break
        found.append(
            PrimBox(
                box=box,
                coverage=cov,
                density=dens,
                mass=mass,
                restricted=_restricted(box, full),
                trajectory=table,
                chosen_step=chosen,
            )
        )
        remaining &= ~inside
    return found
