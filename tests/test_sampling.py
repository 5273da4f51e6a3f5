"""The single sampling path: uniform matrices, inverse CDFs, rank correlation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mkba.distributions import InverseCdf, central, mean, ppf
from mkba.sampling import apply_copula, copula_factor, uniform_matrix
from mkba.schema.quantity import Quantity


def q(dist: dict) -> Quantity:  # type: ignore[type-arg]
    return Quantity(unit="ratio", dist=dist, assumption="test distribution for the sampler")


U = np.random.default_rng(0).random(200_000)


def test_uniform_and_triangular_closed_forms() -> None:
    uni = q({"type": "uniform", "min": 2, "max": 6})
    np.testing.assert_allclose(InverseCdf(uni)(U), 2 + 4 * U, rtol=1e-15)
    tri = q({"type": "triangular", "min": 1, "mode": 2, "max": 5})
    # F(x) = (x-a)^2 / ((b-a)(c-a)) for x <= c: ppf(u) = a + sqrt(u (b-a)(c-a)), F(c) = 1/4
    assert InverseCdf(tri)(np.array([0.16]))[0] == pytest.approx(1 + math.sqrt(0.16 * 4 * 1))
    assert InverseCdf(tri)(np.array([0.25]))[0] == pytest.approx(2.0)
    np.testing.assert_allclose(InverseCdf(tri)(U), ppf(tri, U), rtol=1e-13)


def test_pert_moments() -> None:
    # PERT mean (a + 4m + b) / 6, variance (mean - a)(b - mean) / 7 for lambda = 4
    d = q({"type": "pert", "min": 0.02, "mode": 0.06, "max": 0.12})
    x = InverseCdf(d)(U)
    mu = (0.02 + 4 * 0.06 + 0.12) / 6
    assert x.mean() == pytest.approx(mu, abs=4 * math.sqrt((mu - 0.02) * (0.12 - mu) / 7 / U.size))
    assert mean(d) == pytest.approx(mu, rel=1e-12)
    assert x.var() == pytest.approx((mu - 0.02) * (0.12 - mu) / 7, rel=0.02)


def test_lognormal_both_forms() -> None:
    a = q({"type": "lognormal", "median": 8, "high": 25})
    assert central(a) == pytest.approx(8)
    assert ppf(a, np.array([0.95]))[0] == pytest.approx(25)
    b = q({"type": "lognormal", "mean": 10, "sd": 4})
    x = InverseCdf(b)(U)
    assert x.mean() == pytest.approx(10, rel=0.01)
    assert x.std() == pytest.approx(4, rel=0.02)


def test_truncnormal_beta_choice() -> None:
    t = q({"type": "truncnormal", "mean": 1, "sd": 2, "min": 0, "max": 2})
    x = InverseCdf(t)(U)
    assert x.min() >= 0 and x.max() <= 2
    assert x.mean() == pytest.approx(stats.truncnorm(-0.5, 0.5, loc=1, scale=2).mean(), abs=0.01)
    b = q({"type": "beta", "alpha": 2, "beta": 5, "min": 0, "max": 1})
    assert InverseCdf(b)(U).mean() == pytest.approx(2 / 7, abs=0.003)
    c = q({"type": "choice", "values": [1, 2, 3], "weights": [0.2, 0.3, 0.5]})
    x = InverseCdf(c)(U)
    for v, w in ((1, 0.2), (2, 0.3), (3, 0.5)):
        assert np.mean(x == v) == pytest.approx(w, abs=0.005)


@pytest.mark.parametrize(
    "dist",
    [
        {"type": "pert", "min": 0.02, "mode": 0.06, "max": 0.12},
        {"type": "pert", "min": 0, "mode": 0, "max": 1},
        {"type": "pert", "min": 3000, "mode": 8000, "max": 13400},
        {"type": "beta", "alpha": 0.3, "beta": 0.4},
        {"type": "truncnormal", "mean": 1, "sd": 0.5, "min": 0, "max": 2},
    ],
)
def test_interpolated_inverse_cdf_matches_scipy(dist: dict) -> None:  # type: ignore[type-arg]
    d = q(dist)
    fast = InverseCdf(d)
    assert fast._grid is not None
    u = np.concatenate([U[:50_000], [1e-9, 1e-6, 1 - 1e-6, 1 - 1e-9, 0.5]])
    exact = ppf(d, u)
    lo, hi = d.dist.support()  # type: ignore[union-attr]
    assert np.max(np.abs(fast(u) - exact)) < 1e-9 * (hi - lo)


def test_latin_hypercube_stratification() -> None:
    u = uniform_matrix("lhs", 1000, 9, seed=1, chunk=0, chunk_size=1000, columns=[0, 3, 4, 7, 8])
    for j in range(5):
        assert np.array_equal(np.sort(np.floor(u[:, j] * 1000)), np.arange(1000))
    # a column's numbers do not depend on which other columns are drawn
    alone = uniform_matrix("lhs", 1000, 9, seed=1, chunk=0, chunk_size=1000, columns=[7])
    np.testing.assert_array_equal(alone[:, 0], u[:, 3])


def test_sobol_chunks_continue_one_sequence() -> None:
    a = uniform_matrix("sobol", 512, 4, seed=9, chunk=0, chunk_size=512)
    b = uniform_matrix("sobol", 512, 4, seed=9, chunk=1, chunk_size=512)
    both = uniform_matrix("sobol", 1024, 4, seed=9, chunk=0, chunk_size=1024)
    np.testing.assert_array_equal(np.vstack([a, b]), both)


def test_gaussian_copula_gives_spearman_rho() -> None:
    u = uniform_matrix("random", 40_000, 3, seed=4, chunk=0, chunk_size=40_000)
    f = copula_factor(["a", "b", "c"], [("a", "b", 0.6), ("b", "c", -0.3)])
    v = apply_copula(u, f)
    rho_ab = stats.spearmanr(v[:, 0], v[:, 1]).statistic
    rho_bc = stats.spearmanr(v[:, 1], v[:, 2]).statistic
    assert rho_ab == pytest.approx(0.6, abs=0.02)
    assert rho_bc == pytest.approx(-0.3, abs=0.02)
    # marginals stay uniform
    for j in range(3):
        assert stats.kstest(v[:, j], "uniform").pvalue > 0.001
