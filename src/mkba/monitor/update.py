"""Updating the draws with monitoring data: importance weights, effective sample size,
weighted statistics and resampling into an equal-weight posterior set.

The likelihood (Notes of :func:`log_likelihood`) treats every observation as the model's
volume with the programme plus independent normal measurement error. The prior draws of a
run are the proposal, so the importance weight of a draw is its likelihood, normalised:

``w_i = L_i / sum_k L_k``,  ``ESS = 1 / sum_i w_i^2``  (Kish).

When the observations are informative relative to the prior, few draws carry the weight and
the ESS collapses; estimates then rest on those few draws. The remedy is regeneration:
:func:`tempered_smc` moves from the prior to the posterior in stages, resampling and moving
the draws with Metropolis-Hastings steps, so that the posterior is represented by as many
distinct draws as the prior. Either way the posterior run directory holds an equal-weight
set (systematic resampling of the weighted draws, or the SMC particles).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def log_likelihood(
    mu: np.ndarray, value: np.ndarray, sd: np.ndarray, discrepancy_cv: np.ndarray | None = None
) -> np.ndarray:
    """Log-likelihood of the observations for every draw (up to a constant).

    Parameters
    ----------
    mu : numpy.ndarray
        (n, J) the model's expected value of each observation per draw [indicator unit].
    value : numpy.ndarray
        (J,) observed values [indicator unit].
    sd : numpy.ndarray
        (J,) measurement standard deviations [indicator unit].
    discrepancy_cv : numpy.ndarray, optional
        (J,) model discrepancy as a coefficient of variation of ``mu`` [-].

    Returns
    -------
    numpy.ndarray
        (n,) ``sum_j log N(value_j | mu_ij, s_ij^2)`` without the ``-J/2 log(2 pi)`` constant.

    Notes
    -----
    ``y_j = mu_j(theta) + eps_j``, ``eps_j ~ N(0, s_j^2)`` independent across observations,
    with ``s_j^2 = sd_j^2 + (discrepancy_cv_j * mu_j(theta))^2``. The second term is an
    optional allowance for what the smooth model cannot follow (year-to-year noise of the real
    volume, definitions that differ slightly from the model's volume); it is zero by default.
    """
    value = np.asarray(value, float)[None, :]
    var = np.asarray(sd, float)[None, :] ** 2
    if discrepancy_cv is not None and np.any(discrepancy_cv > 0):
        var = var + (np.asarray(discrepancy_cv, float)[None, :] * mu) ** 2
    r = value - mu
    return -0.5 * (r * r / var).sum(axis=1) - 0.5 * np.log(var).sum(axis=1)


def normalise(log_w: np.ndarray) -> np.ndarray:
    """Weights summing to one from log-weights (shifted by the maximum: no underflow)."""
    log_w = np.asarray(log_w, float)
    if not np.isfinite(log_w).any():
        raise ValueError("no draw has a finite likelihood")
    w = np.exp(log_w - np.max(log_w[np.isfinite(log_w)]))
    w[~np.isfinite(w)] = 0.0
    return w / w.sum()


def ess(w: np.ndarray) -> float:
    """Kish effective sample size ``(sum w)^2 / sum w^2`` [draws]."""
    w = np.asarray(w, float)
    return float(w.sum() ** 2 / np.sum(w * w))


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float | np.ndarray) -> np.ndarray:
    """Quantiles of a weighted sample: the inverse of the weighted empirical CDF, with the
    midpoint convention (equal weights give ``numpy.quantile(method='hazen')``)."""
    x = np.asarray(x, float)
    ok = ~np.isnan(x)
    x, w = x[ok], np.asarray(w, float)[ok]
    order = np.argsort(x, kind="stable")
    xs, ws = x[order], w[order]
    cw = np.cumsum(ws)
    total = cw[-1]
    mid = (cw - 0.5 * ws) / total
    return np.interp(q, mid, xs)


def weighted_stats(x: np.ndarray, w: np.ndarray | None = None) -> dict[str, float]:
    """Mean, standard deviation, P5, P50 and P95 of a (weighted) sample; NaNs left out."""
    x = np.asarray(x, float)
    w = np.full(x.size, 1.0 / x.size) if w is None else np.asarray(w, float)
    ok = ~np.isnan(x)
    if not ok.any() or w[ok].sum() <= 0:
        return {k: math.nan for k in ("mean", "sd", "p5", "p50", "p95")}
    xo, wo = x[ok], w[ok] / w[ok].sum()
    mean = float(np.sum(wo * xo))
    sd = float(math.sqrt(max(0.0, np.sum(wo * (xo - mean) ** 2))))
    q = weighted_quantile(xo, wo, np.array([0.05, 0.5, 0.95]))
    return {"mean": mean, "sd": sd, "p5": float(q[0]), "p50": float(q[1]), "p95": float(q[2])}


def systematic_resample(w: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` draws resampled with probabilities ``w`` by systematic resampling
    (one uniform; each draw is taken floor(n w_i) or ceil(n w_i) times). Sorted."""
    w = np.asarray(w, float)
    positions = (rng.random() + np.arange(n)) / n
    cum = np.cumsum(w)
    cum[-1] = 1.0
    return np.searchsorted(cum, positions, side="right").astype(np.int64)


@dataclass
class SmcResult:
    """Equal-weight particles of the posterior from :func:`tempered_smc`."""

    z: np.ndarray  # (n, U) standard-normal coordinates of the particles
    loglik: np.ndarray  # (n,)
    stages: list[dict[str, float]]


def _next_temperature(ll: np.ndarray, phi: float, target: float) -> float:
    """The largest next temperature whose incremental weights keep an ESS of ``target``."""
    if ess(normalise((1.0 - phi) * ll)) >= target:
        return 1.0
    lo, hi = 0.0, 1.0 - phi
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if ess(normalise(mid * ll)) >= target:
            lo = mid
        else:
            hi = mid
    return phi + max(lo, 1e-12)


def tempered_smc(
    loglik: Callable[[np.ndarray], np.ndarray],
    z0: np.ndarray,
    rng: np.random.Generator,
    *,
    ess_fraction: float = 0.5,
    moves: int = 5,
    accepted_moves: float = 3.0,
    max_moves: int = 50,
    max_stages: int = 200,
) -> SmcResult:
    """Sequential Monte Carlo from a standard normal prior to prior x likelihood.

    Parameters
    ----------
    loglik : callable
        ``loglik(z)`` for a matrix of particles (n x U) -> (n,) log-likelihoods.
    z0 : numpy.ndarray
        (n, U) prior particles, ``z ~ N(0, I)`` (the draws' uniforms through the normal
        inverse CDF: every parameter of mkba is a function of one such coordinate).
    rng : numpy.random.Generator
    ess_fraction : float
        Each stage raises the likelihood's exponent ``phi`` as far as keeps the ESS of the
        incremental weights at this fraction of the particles.
    moves, accepted_moves, max_moves : int, float, int
        Metropolis-Hastings moves per stage: at least ``moves``, then more until a particle
        has on average ``accepted_moves`` accepted moves in the stage, at most ``max_moves``.

    Notes
    -----
    Likelihood tempering (Del Moral, Doucet & Jasra 2006; Chopin 2002): targets
    ``pi_phi(z) ~ N(z; 0, I) L(z)^phi`` for ``0 = phi_0 < ... < phi_K = 1``. Each stage
    reweights by ``L^(phi_k - phi_{k-1})``, resamples systematically and moves every particle
    with preconditioned Crank-Nicolson proposals ``z' = sqrt(1 - b^2) z + b xi``
    (Cotter et al. 2013), which leave the prior invariant, so the acceptance probability is
    ``min(1, (L(z') / L(z))^phi)``. The step ``b`` is adapted between moves towards an
    acceptance rate of 0.2-0.5. The particles after the last stage are an equal-weight
    sample of the posterior: the prior draws are *regenerated* rather than only reweighted,
    which is the remedy when importance weights collapse.
    """
    z = np.array(z0, dtype=float, copy=True)
    n = z.shape[0]
    ll = loglik(z)
    phi = 0.0
    b = 0.5
    stages: list[dict[str, float]] = []
    while phi < 1.0:
        if len(stages) >= max_stages:
            raise RuntimeError(f"tempered SMC did not reach phi = 1 in {max_stages} stages")
        new = _next_temperature(ll, phi, ess_fraction * n)
        w = normalise((new - phi) * ll)
        stage_ess = ess(w)
        idx = systematic_resample(w, n, rng)
        z, ll = z[idx], ll[idx]
        phi = new
        accepted = 0.0
        done = 0
        while done < moves or (accepted < accepted_moves and done < max_moves):
            done += 1
            zp = math.sqrt(1.0 - b * b) * z + b * rng.standard_normal(z.shape)
            llp = loglik(zp)
            with np.errstate(invalid="ignore"):
                ok = np.log(rng.random(n)) < phi * (llp - ll)
            z[ok], ll[ok] = zp[ok], llp[ok]
            rate = float(ok.mean())
            accepted += rate
            if rate < 0.2:
                b = max(0.01, b * 0.7)
            elif rate > 0.5:
                b = min(1.0, b * 1.3)
        stages.append(
            {
                "phi": phi,
                "ess": stage_ess,
                "acceptance": accepted / done,
                "moves": float(done),
                "step": b,
                "distinct": float(np.unique(z[:, 0]).size) if z.shape[1] else float(n),
            }
        )
    return SmcResult(z=z, loglik=ll, stages=stages)
