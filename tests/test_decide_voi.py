"""Value of information (issue 15, item 2) against closed forms.

1. Normal-normal decision (Raiffa & Schlaifer 1961): adopt with NB ~ N(mu, sigma^2) or do
   nothing (NB = 0): EVPI = sigma phi(mu / sigma) - |mu| Phi(-|mu| / sigma).
2. NB = mu + a X1 + b X2 with independent X1, X2 ~ N(0, 1): E(NB | X1) = mu + a X1 is
   N(mu, a^2), so EVPPI(X1) is the normal-normal EVPI with sigma = |a|.
3. The linear fixture (tests/fixtures/linear; see tests/test_sensitivity.py): NPV = a1 U1 +
   a2 U2 - c U3 with independent uniforms. E(NPV | U3) = K - c U3, K = a1 E U1 + a2 E U2, is
   uniform on [p, q] = [K - c 1.6, K - c 0.8], and E max(0, T) for T ~ U(p, q) with p < 0 < q
   is q^2 / (2 (q - p)): EVPPI(U3) = q^2 / (2 (q - p)) - max(0, E NPV).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from mkba.decide import api as decide_api
from mkba.decide.voi import evpi, evppi, normal_evpi

ROOT = Path(__file__).parents[1]
LINEAR = ROOT / "tests" / "fixtures" / "linear" / "scenarios" / "linear.toml"


@pytest.mark.parametrize(("mu", "sigma"), [(0.0, 1.0), (1.0, 2.0), (-3.0, 2.0), (2.0, 1.0)])
def test_evpi_normal_normal(mu: float, sigma: float) -> None:
    n = 400_000
    rng = np.random.default_rng(11)
    nb = np.column_stack([np.zeros(n), rng.normal(mu, sigma, n)])
    value, se = evpi(nb)
    exact = normal_evpi(mu, sigma)
    assert value == pytest.approx(exact, abs=4 * se + 1e-12)
    # the closed form itself at mu = 0: sigma / sqrt(2 pi)
    assert normal_evpi(0.0, sigma) == pytest.approx(sigma / math.sqrt(2 * math.pi))


def test_evppi_linear_in_normals() -> None:
    n = 20_000
    rng = np.random.default_rng(12)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    mu, a, b = 0.5, 1.5, 2.0
    nb = np.column_stack([np.zeros(n), mu + a * x1 + b * x2])
    v1, se1 = evppi(nb, [x1], resamples=50)
    v2, se2 = evppi(nb, [x2], resamples=50)
    v12, _ = evppi(nb, [x1, x2], resamples=0)
    assert v1 == pytest.approx(normal_evpi(mu, a), abs=4 * se1 + 0.01)
    assert v2 == pytest.approx(normal_evpi(mu, b), abs=4 * se2 + 0.01)
    # both parameters together are everything: EVPPI = EVPI
    assert v12 == pytest.approx(evpi(nb)[0], rel=0.01)
    # a parameter the net benefit does not depend on is worth (about) nothing
    v0, se0 = evppi(nb, [rng.normal(size=n)], resamples=50)
    assert abs(v0) < 0.02 * normal_evpi(mu, math.hypot(a, b)) + 4 * se0


def test_voi_on_the_engine_linear_fixture() -> None:
    res = decide_api.run_voi(LINEAR, output="npv", draws=8192, resamples=30, write=False)
    r = res.result
    A = sum(1.03**-k for k in range(1, 6))
    a1, a2, c = 10 * A, 10 * A, 30_000 * (1.03**-1 + 1.03**-2)
    K = a1 * 1000 + a2 * 600
    p, q = K - c * 1.6, K - c * 0.8
    mean_npv = K - c * 1.2
    assert p < 0 < q
    exact = q**2 / (2 * (q - p)) - max(0.0, mean_npv)
    row = r.table.set_index("group").loc["costs.main.overrun"]
    # Monte Carlo error: sample mean of NPV (about 120 EUR here) and the estimator's SE
    assert row["evppi"] == pytest.approx(exact, abs=4 * row["se"] + 150)
    assert r.options == ["do nothing", "linear"]
    assert r.evpi >= row["evppi"] - 4 * row["se"]
    assert 0 < r.evpi < 0.5 * abs(K)
