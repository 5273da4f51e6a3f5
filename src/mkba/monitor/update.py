"""Updating the draws with monitoring data: importance weights, effective sample size,
weighted statistics and resampling into an equal-weight posterior set.

The likelihood (Notes of :func:`log_likelihood`) treats every observation as the model's
volume with the programme plus independent normal measurement error. The prior draws of a
run are the proposal, so the importance weight of a draw is its likelihood, normalised:

``w_i = L_i / sum_k L_k``,  ``ESS = 1 / sum_i w_i^2``  (Kish).

When the observations are informative relative to the prior, few draws carry the weight and
the ESS collapses; estimates then rest on those few draws. Remedies: more prior draws
(``mkba monitor --max-draws``, which regenerates with more draws until the ESS target is met)
and, for the posterior run directory, systematic resampling into an equal-weight set.
"""

from __future__ import annotations

import math

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
