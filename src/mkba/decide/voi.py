"""Value of information: EVPI and regression-based EVPPI, in euros.

A decision chooses one of the options ``d`` (do nothing, adopt the scenario, or one of its
variants); its net benefit ``NB_d`` per draw is an output of the model in euros (an NPV:
:mod:`mkba.outputs`), with ``NB = 0`` for doing nothing. All options are evaluated
on the same draws (common random numbers, :func:`mkba.engine.uniforms`).

EVPI (expected value of perfect information) is what it is worth to know every uncertain
parameter before choosing:

    EVPI = E[max_d NB_d] - max_d E[NB_d]                                          (1)

estimated by the sample means over the draws. Its Monte Carlo standard error is that of the
mean of ``max_d NB_d - NB_d*`` (``d*`` the option chosen now).

EVPPI (partial) is the value of knowing one parameter, or one group ``phi`` of parameters:

    EVPPI(phi) = E_phi[max_d E(NB_d | phi)] - max_d E[NB_d]                        (2)

Following Strong, Oakley & Brennan (2014), the inner conditional expectation is estimated by
regressing each option's incremental net benefit ``NB_d - NB_0`` on ``phi`` over the same
draws that produced it (one Monte Carlo sample, no nested loop); the fitted values
``g_d(phi_i)`` replace ``E(NB_d | phi_i)`` in (2). The regression here is a natural cubic
regression spline (Hastie, Tibshirani & Friedman 2009, section 5.2.1) in each parameter's
normalised rank (so that the knots sit at its quantiles), a one-dimensional GAM without a
penalty; a group gets the additive splines of its members plus the pairwise products of their
linear terms. The standard error is the bootstrap standard deviation over resampled draws
(basis refitted on each resample). The estimator is biased upwards by the noise the
regression fits (small with thousands of draws and a few degrees of freedom); EVPPI <= EVPI
in theory, and estimates that break this by more than their error are a warning sign.

References
----------
1. Strong M, Oakley JE, Brennan A (2014). Estimating multiparameter partial expected value of
   perfect information from a probabilistic sensitivity analysis sample: a nonparametric
   regression approach. Medical Decision Making 34(3):311-326.
2. Hastie T, Tibshirani R, Friedman J (2009). The Elements of Statistical Learning, 2nd ed.
3. Raiffa H, Schlaifer R (1961). Applied Statistical Decision Theory: the normal-normal EVPI
   ``sigma phi(mu / sigma) - |mu| Phi(-|mu| / sigma)`` used in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

KNOTS = 6  # knots of each natural cubic spline (K - 2 nonlinear terms + intercept and slope)


def evpi(nb: np.ndarray) -> tuple[float, float]:
    """EVPI (1) of a net-benefit matrix ``nb`` (draws x options) and its standard error."""
    nb = np.atleast_2d(np.asarray(nb, float))
    if nb.ndim != 2:
        raise ValueError("nb must be draws x options")
    best = int(np.argmax(nb.mean(axis=0)))
    gain = nb.max(axis=1) - nb[:, best]
    se = float(gain.std(ddof=1) / math.sqrt(gain.size)) if gain.size > 1 else math.nan
    return float(gain.mean()), se


def normal_evpi(mu: float, sigma: float) -> float:
    """Closed form of (1) for adopt (NB ~ N(mu, sigma^2)) against do nothing (NB = 0)."""
    if sigma <= 0:
        return 0.0
    return float(sigma * sps.norm.pdf(mu / sigma) - abs(mu) * sps.norm.cdf(-abs(mu) / sigma))


def normalised_rank(x: np.ndarray) -> np.ndarray:
    """Ranks scaled into (0, 1) (ties share their mean rank)."""
    r = sps.rankdata(x, method="average")
    return (r - 0.5) / r.size


def spline_basis(x: np.ndarray, knots: int = KNOTS) -> np.ndarray:
    """Natural cubic spline basis (without intercept) of ``x`` in [0, 1]: ``knots - 1``
    columns, linear beyond the outer knots (ESL eq. 5.4-5.5)."""
    xi = np.quantile(x, np.linspace(0.05, 0.95, knots))
    xi = np.unique(xi)
    cols = [x]
    if xi.size >= 3:
        K = xi.size

        def d(k: int) -> np.ndarray:
            return (np.maximum(x - xi[k], 0) ** 3 - np.maximum(x - xi[K - 1], 0) ** 3) / (
                xi[K - 1] - xi[k]
            )

        dk1 = d(K - 2)
        cols += [d(k) - dk1 for k in range(K - 2)]
    return np.column_stack(cols)


def group_basis(columns: list[np.ndarray], knots: int = KNOTS) -> np.ndarray:
    """Design matrix (with intercept) for a parameter group: additive natural splines of
    every member's normalised rank, plus the pairwise products of the linear terms."""
    ranks = [normalised_rank(c) for c in columns]
    parts = [np.ones((ranks[0].size, 1))]
    parts += [spline_basis(r, knots) for r in ranks]
    for i in range(len(ranks)):
        for j in range(i + 1, len(ranks)):
            parts.append(((ranks[i] - 0.5) * (ranks[j] - 0.5))[:, None])
    return np.column_stack(parts)


def _evppi_fit(X: np.ndarray, inb: np.ndarray, weights: np.ndarray | None = None) -> float:
    """(2) from a design matrix and the incremental net benefits (draws x options-1);
    ``weights`` (draw counts of a bootstrap resample) fit and average the resample without
    copying it."""
    w = np.ones(X.shape[0]) if weights is None else weights
    Xw = X * w[:, None]
    coef, *_ = np.linalg.lstsq(Xw.T @ X, Xw.T @ inb, rcond=None)
    fitted = X @ coef
    full = np.column_stack([np.zeros(fitted.shape[0]), fitted])  # option 0: NB - NB_0 = 0
    total = w.sum()
    return float((w @ full.max(axis=1)) / total - max(0.0, *((w @ fitted) / total)))


def evppi(
    nb: np.ndarray,
    columns: list[np.ndarray],
    *,
    resamples: int = 100,
    seed: int = 0,
    knots: int = KNOTS,
) -> tuple[float, float]:
    """EVPPI (2) of the parameter group whose sampled values are ``columns`` (each (n,)),
    by spline regression, and its bootstrap standard error."""
    nb = np.atleast_2d(np.asarray(nb, float))
    inb = nb[:, 1:] - nb[:, :1]
    if inb.shape[1] == 0:
        return 0.0, 0.0
    X = group_basis(columns, knots)
    # (2) is non-negative (the mean of a maximum is at least the maximum of the means); a
    # negative value is floating-point rounding of a zero
    value = max(0.0, _evppi_fit(X, inb))
    if resamples < 2:
        return value, math.nan
    rng = np.random.default_rng(seed)
    n = nb.shape[0]
    boot = np.empty(resamples)
    for b in range(resamples):
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        boot[b] = _evppi_fit(X, inb, counts)
    return value, float(boot.std(ddof=1))


@dataclass
class VoiResult:
    output: str
    options: list[str]
    means: np.ndarray  # (D,) expected net benefit per option
    best: str
    evpi: float
    evpi_se: float
    table: pd.DataFrame  # one row per parameter or group: evppi, se, share of EVPI
    draws: int
    prob_best: np.ndarray  # (D,) share of draws in which each option is the best

    def records(self) -> dict:
        return {
            "output": self.output,
            "options": [
                {"option": o, "expected_net_benefit": float(m), "prob_best": float(p)}
                for o, m, p in zip(self.options, self.means, self.prob_best, strict=True)
            ],
            "best": self.best,
            "evpi": self.evpi,
            "evpi_se": self.evpi_se,
            "draws": self.draws,
            "evppi": self.table.to_dict("records"),
        }


def value_of_information(
    nb: np.ndarray,
    options: list[str],
    samples: np.ndarray,
    params: tuple[str, ...],
    groups: dict[str, list[str]],
    *,
    output: str,
    resamples: int = 100,
    seed: int = 0,
) -> VoiResult:
    """EVPI and EVPPI per group for net benefits ``nb`` (draws x options; option 0 is the
    reference the increments are taken from) and the sampled parameters ``samples``
    (draws x params, columns named ``params``)."""
    value, se = evpi(nb)
    col = {p: j for j, p in enumerate(params)}
    rows = []
    for k, (name, members) in enumerate(groups.items()):
        cols = [samples[:, col[p]] for p in members]
        v, s = evppi(nb, cols, resamples=resamples, seed=seed + k)
        rows.append(
            {
                "group": name,
                "parameters": len(members),
                "members": ",".join(members),
                "evppi": v,
                "se": s,
                "share_of_evpi": v / value if value > 0 else math.nan,
            }
        )
    table = pd.DataFrame(rows)
    if not table.empty:
        table = table.sort_values("evppi", ascending=False, kind="stable").reset_index(drop=True)
        table.insert(0, "rank", np.arange(1, len(table) + 1))
    means = nb.mean(axis=0)
    winner = nb.argmax(axis=1)
    return VoiResult(
        output=output,
        options=list(options),
        means=means,
        best=options[int(np.argmax(means))],
        evpi=value,
        evpi_se=se,
        table=table,
        draws=nb.shape[0],
        prob_best=np.bincount(winner, minlength=nb.shape[1]) / nb.shape[0],
    )
