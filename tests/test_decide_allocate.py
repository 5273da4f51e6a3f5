"""Budget allocation (issue 15, item 1) against a closed-form optimum.

Fixture: the linear test model (tests/fixtures/linear: one stream pair driven by one domain,
elasticity beta = 0.5 fixed, no governance domain) with three areas of 1,000, 2,000 and 4,000
residents and a budget split 1 : 1 : 2 (so benefits per euro differ between areas). At a
budget Y_a the expected NPV of area a, on fixed draws, is

    NPV_a(Y_a) = K_a (Y_a / r_a)^beta - c Y_a

with K_a the area's mean PV of benefits at its scenario budget r_a (benefits are linear in
the response R = (Y / r)^beta, docs/model.md §2.2) and c the PV of costs per budget euro (the
same in every area: same profile, overrun and discounting). Maximising sum_a NPV_a subject to
sum_a Y_a = Y gives equal marginal returns beta K_a Y_a^(beta - 1) r_a^-beta - c = lambda, so

    Y_a = Y w_a / sum_b w_b,   w_a = (K_a r_a^-beta)^(1 / (1 - beta)) = K_a^2 / r_a (beta = 1/2).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mkba import engine
from mkba.decide.allocate import (
    Bound,
    Objective,
    allocate,
    allocation_model,
    make_cells,
)
from mkba.errors import InputError
from mkba.load import load_scenario
from mkba.model import lower
from mkba.sensitivity.common import crn_uniforms

ROOT = Path(__file__).parents[1]
LINEAR = ROOT / "tests" / "fixtures" / "linear"
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"


@pytest.fixture(scope="module")
def three_areas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("alloc")
    shutil.copytree(LINEAR, root / "linear")
    (root / "linear" / "parameters" / "areas.csv").write_text(
        "area_id,name,population\na1,Area one,1000\na2,Area two,2000\na3,Area three,4000\n"
    )
    sc = root / "linear" / "scenarios" / "linear.toml"
    text = sc.read_text().replace('areas = ["a1"]', 'areas = ["a1", "a2", "a3"]')
    text = text.replace(
        "domains = { main = 1.0 }",
        "domains = { main = 1.0 }\narea_weights = { a1 = 1, a2 = 1, a3 = 2 }",
    )
    sc.write_text(text)
    return sc


def _model_and_draws(path: Path, draws: int = 512):  # type: ignore[no-untyped-def]
    spec = load_scenario(path)
    m = lower(spec)
    return m, m.theta(crn_uniforms(m, draws, spec.scenario.seed))


def test_closed_form_optimum(three_areas: Path) -> None:
    m, theta = _model_and_draws(three_areas)
    o = engine.evaluate(m, theta)
    K = o.area_benefits.mean(axis=0)  # mean PV benefits per area at the scenario budget
    r = m.budget.sum(axis=(1, 2))  # scenario euros per area: 15,000, 15,000, 30,000
    np.testing.assert_allclose(r, [15_000, 15_000, 30_000])
    c = o.area_costs.mean(axis=0) / r
    np.testing.assert_allclose(c, c[0], rtol=1e-12)  # one cost per euro in every area
    Y = r.sum()
    w = K**2 / r
    expected = Y * w / w.sum()
    res = allocate(m, theta, budget=Y, cell_max=10.0, frontier=(1.0,))
    assert res.solution.success
    np.testing.assert_allclose(res.solution.y, expected, rtol=1e-4)
    # equal marginal returns at the optimum: lambda = beta K_a Y_a^(beta-1) r_a^-beta - c
    lam = 0.5 * K * expected**-0.5 * r**-0.5 - c
    np.testing.assert_allclose(lam, lam[0], rtol=1e-9)
    marg = res.cells["marginal_npv_per_euro"].to_numpy()
    # reported over a 1 % step: finite-difference error of x^0.5 about (1 - beta) / 2 x 1 %
    np.testing.assert_allclose(marg, lam, rtol=0, atol=0.01 * abs(lam[0]) + 0.01 * c[0])
    assert res.shadow_price == pytest.approx(lam[0], abs=0.01 * c[0] + 0.01 * abs(lam[0]))
    # the optimum is at least as good as the scenario's split, in expectation
    assert res.solution.objective >= res.reference.objective
    assert res.solution.objective == pytest.approx(
        float((K * (expected / r) ** 0.5 - c * expected).sum()), rel=1e-9
    )


def test_constraints_are_respected(three_areas: Path) -> None:
    m, theta = _model_and_draws(three_areas, 256)
    res = allocate(
        m,
        theta,
        bounds=[Bound("area", "a1", low=20_000.0), Bound("area", "a3", high=25_000.0)],
        cell_max=10.0,
        frontier=(0.75, 1.0),
    )
    y = dict(zip(res.cells["area"], res.cells["amount"], strict=True))
    assert y["a1"] >= 20_000 * (1 - 1e-6)
    assert y["a3"] <= 25_000 * (1 + 1e-6)
    assert sum(y.values()) == pytest.approx(60_000)
    assert list(res.frontier["budget_factor"]) == [0.75, 1.0]
    # the frontier's point at the budget is the optimum itself
    assert res.frontier["objective"].iloc[1] == pytest.approx(res.solution.objective, rel=1e-6)


def test_allocation_model_matches_the_loader() -> None:
    """Scaling the arrays equals what lower() builds for the half_budget variant, and x = 1 is
    the scenario itself."""
    base = lower(load_scenario(REFERENCE))
    half = lower(load_scenario(REFERENCE, variant="half_budget"))
    theta = base.theta(crn_uniforms(base, 64, 1))
    same = engine.evaluate(allocation_model(base, np.ones(base.budget_ratio.shape)), theta)
    ref = engine.evaluate(base, theta)
    np.testing.assert_array_equal(same.npv, ref.npv)
    ours = engine.evaluate(allocation_model(base, np.full(base.budget_ratio.shape, 0.5)), theta)
    theirs = engine.evaluate(half, theta)
    np.testing.assert_allclose(ours.npv, theirs.npv, rtol=1e-12)
    np.testing.assert_allclose(ours.area_costs, theirs.area_costs, rtol=1e-12)


def test_cells_by_area_keep_the_domain_mix() -> None:
    m = lower(load_scenario(REFERENCE))
    cells = make_cells(m, ("area",))
    assert len(cells.labels) == len(m.areas)
    np.testing.assert_allclose(cells.matrix.sum(axis=0), 1.0)
    B0 = m.budget.sum(axis=2)
    np.testing.assert_allclose((cells.matrix @ cells.reference).reshape(B0.shape), B0)
    full = make_cells(m)
    assert len(full.labels) == int((B0 > 0).sum())


def test_smoothed_objectives_and_their_gradients() -> None:
    """Smoothed P(NPV > 0) and quantile: gradients equal finite differences of the smoothed
    value for a linear per-draw NPV (npv_i = a_i + b_i . y)."""
    rng = np.random.default_rng(5)
    a = rng.normal(1.0, 2.0, 400)
    b = rng.normal(0.0, 1.0, (400, 3))
    y = np.array([0.2, -0.1, 0.3])
    for obj in (Objective("prob", bandwidth=0.3), Objective("quantile", 0.1, 0.3)):
        _val, grad = obj.smooth(a + b @ y, b)
        for j in range(3):
            e = np.zeros(3)
            e[j] = 1e-6
            hi, _ = obj.smooth(a + b @ (y + e), b)
            lo, _ = obj.smooth(a + b @ (y - e), b)
            assert grad[j] == pytest.approx((hi - lo) / 2e-6, rel=1e-5, abs=1e-8)
    # unsmoothed values: the plain share and quantile
    npv = a + b @ y
    assert Objective("prob").value(npv) == np.mean(npv > 0)
    assert Objective("quantile", 0.1).value(npv) == np.quantile(npv, 0.1)


def test_risk_objectives_and_bad_budgets(three_areas: Path) -> None:
    m, theta = _model_and_draws(three_areas, 256)
    for objective in ("prob", "quantile:0.1"):
        res = allocate(m, theta, objective=objective, cell_max=10.0, frontier=(1.0,))
        # never worse than the scenario's split on its own (smoothed) objective
        assert res.solution.smoothed >= res.reference.smoothed - 1e-9
        assert res.solution.y.sum() == pytest.approx(60_000)
    with pytest.raises(InputError, match="cannot be placed"):
        allocate(m, theta, budget=60_000 * 11, cell_max=10.0)
    with pytest.raises(InputError, match="positive"):
        allocate(m, theta, budget=-1.0)
