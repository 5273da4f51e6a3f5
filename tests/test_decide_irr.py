"""IRR per draw and acceptability curves (issue 15, item 4) against hand-computed cash flows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from mkba import engine, results
from mkba.decide.irr import irr, overrun_acceptability, run_irr
from mkba.load import load_scenario
from mkba.model import lower

ROOT = Path(__file__).parents[1]
LINEAR = ROOT / "tests" / "fixtures" / "linear" / "scenarios" / "linear.toml"


def test_irr_of_hand_computed_flows() -> None:
    flows = np.array(
        [
            [-100.0, 110.0, 0.0],  # -100 + 110 / (1 + r) = 0  ->  r = 10 %
            [-100.0, 0.0, 121.0],  # (1 + r)^2 = 1.21  ->  r = 10 %
            [
                -100.0,
                60.0,
                60.0,
            ],  # 60 z + 60 z^2 = 100, z = 1 / (1 + r): z = (-1 + sqrt(1 + 4 * 100 / 60)) / 2
            [-100.0, 230.0, -132.0],  # -100 x^2 + 230 x - 132 = 0, x = 1 + r: x = 1.1 or 1.2
            [100.0, 10.0, 5.0],  # never negative: no IRR
            [-100.0, 50.0, 50.0],  # NPV(0) = 0: IRR exactly 0
        ]
    )
    res = irr(flows, np.arange(3))
    z = (-1 + math.sqrt(1 + 4 * 100 / 60)) / 2
    expected = [0.10, 0.10, 1 / z - 1, 0.10, math.nan, 0.0]
    np.testing.assert_allclose(
        res.irr[[0, 1, 2, 3, 5]], np.array(expected)[[0, 1, 2, 3, 5]], atol=1e-10
    )
    assert math.isnan(res.irr[4])
    # roots: one each, two for the two-sign-change flow (the lowest is reported), none
    assert res.roots.tolist() == [1, 1, 1, 2, 0, 1]
    assert res.share_none == pytest.approx(1 / 6)
    assert res.share_multiple == pytest.approx(1 / 6)


def test_irr_is_where_the_npv_crosses_zero() -> None:
    rng = np.random.default_rng(3)
    flows = rng.normal(size=(200, 12))
    flows[:, :3] -= 4.0  # investment first: mostly one root
    offsets = np.arange(12.0)
    res = irr(flows, offsets)
    ok = ~np.isnan(res.irr)
    assert ok.mean() > 0.5
    terms = flows[ok] * (1 + res.irr[ok])[:, None] ** -offsets
    # zero up to rounding: relative to the size of the discounted terms
    assert np.all(np.abs(terms.sum(axis=1)) <= 1e-8 * np.abs(terms).sum(axis=1))


def test_run_irr_in_summary_and_draws() -> None:
    spec = load_scenario(LINEAR)
    run = engine.simulate(lower(spec), draws=256)
    res = run_irr(run)
    base = spec.scenario.base_year
    off = run.model.years - base
    ok = ~np.isnan(res.irr)
    npv_irr = (run.outcomes.flow[ok] * (1 + res.irr[ok])[:, None] ** -off.astype(float)).sum(axis=1)
    np.testing.assert_allclose(npv_irr, 0.0, atol=1e-6 * np.abs(run.outcomes.flow).max())
    # a positive NPV at 3 % means an IRR above 3 % (one root: costs first, then benefits)
    p = ["welfare", "fiscal", "study"].index(spec.scenario.perspective)
    pos = run.outcomes.npv[:, p] > 0
    assert np.all(res.irr[pos & ok] > 0.03)
    doc = results.summary(run)
    assert doc["irr"]["p50"] == pytest.approx(np.nanmedian(res.irr))
    assert 0 <= doc["irr"]["share_none"] <= 1
    table = results.draws_table(run)
    np.testing.assert_array_equal(table["irr"].to_numpy(), res.irr)
    assert (table["irr_roots"] >= 0).all()


def test_overrun_acceptability_is_the_bcr_cdf() -> None:
    b = np.array([10.0, 20.0, 30.0, 40.0])
    c = np.array([10.0, 10.0, 10.0, 10.0])
    t = overrun_acceptability(b, c, np.array([0.5, 1.5, 2.5, 5.0]))
    # P(B - k C > 0) = P(BCR > k): BCR = 1, 2, 3, 4
    assert t["prob_npv_positive"].tolist() == [1.0, 0.75, 0.5, 0.0]
    assert t["npv_mean"].tolist() == pytest.approx([25 - 5, 25 - 15, 25 - 25, 25 - 50])


def _irr_with_powers(flow: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The IRR as computed before Horner's rule (a copy of the old block code, one block): the
    NPV itself evaluated with powers at every bisection step, signs by products of sign()."""
    from mkba.decide.irr import GRID, npv_at

    v = npv_at(flow, offsets, GRID)
    s = np.sign(v)
    change = (s[:, :-1] * s[:, 1:] < 0) | ((s[:, :-1] == 0) & (s[:, 1:] != 0))
    out = np.full(flow.shape[0], np.nan)
    has = change.any(axis=1)
    j = np.argmax(change, axis=1)[has]
    rows = np.flatnonzero(has)
    a, b = GRID[j].copy(), GRID[j + 1].copy()
    fa = v[rows, j]
    exact = fa == 0
    fr = flow[rows]
    for _ in range(200):
        mid = 0.5 * (a + b)
        fm = (fr * (1.0 + mid)[:, None] ** -offsets[None, :]).sum(axis=1)
        left = np.sign(fm) == np.sign(fa)
        a, fa, b = np.where(left, mid, a), np.where(left, fm, fa), np.where(left, b, mid)
        if np.all(b - a <= 1e-12 * (1.0 + np.abs(a))):
            break
    res = 0.5 * (a + b)
    res[exact] = GRID[j][exact]
    out[rows] = res
    return out


@pytest.mark.parametrize("first", [0.0, 1.0, 3.0])
def test_horner_bisection_equals_the_powers_bisection(first: float) -> None:
    # The bisection needs only the NPV's sign; with consecutive whole-year offsets it is taken
    # from P(x) = sum f_k x^k by Horner's rule (x = 1 / (1 + r)). Random programme-like flows
    # (costs first, then benefits, some with late costs and several roots) give the same root
    # counts and, row for row, IRRs within the bisection's own tolerance 1e-12 (1 + |r|) of the
    # old powers-based bisection: when the NPV at a bisection midpoint is within rounding of
    # zero the two evaluations can disagree on its sign (2 of these 3,000 rows, 7e-13 apart);
    # all other rows are bit for bit equal.
    rng = np.random.default_rng(7)
    n, t = 3000, 26
    flow = np.empty((n, t))
    flow[:, :6] = -rng.uniform(0.5, 1.5, (n, 6))
    flow[:, 6:] = rng.uniform(0.0, 0.6, (n, t - 6)) * rng.uniform(0.2, 1.5, (n, 1))
    flow[::7, -3:] -= rng.uniform(0.0, 3.0, (len(flow[::7]), 3))  # late costs: 0-2 roots
    offsets = np.arange(t, dtype=float) + first
    res = irr(flow, offsets, chunk=n)
    old = _irr_with_powers(flow, offsets)
    np.testing.assert_array_equal(np.isnan(res.irr), np.isnan(old))
    ok = ~np.isnan(old)
    assert np.all(np.abs(res.irr[ok] - old[ok]) <= 1e-12 * (1.0 + np.abs(old[ok])))
    assert np.mean(res.irr[ok] == old[ok]) > 0.99
    assert res.share_multiple > 0  # the late costs do give several roots


def test_irr_with_gaps_in_the_years_uses_powers() -> None:
    # Offsets that are not consecutive whole years take the powers path: -100 now, 121 in two
    # years (gap) -> (1 + r)^2 = 1.21, r = 10 %.
    from mkba.decide.irr import _sign_function

    flow, gaps = np.array([[-100.0, 121.0]]), np.array([0.0, 2.0])
    assert _sign_function(flow, gaps).__name__ == "powers"
    assert _sign_function(flow, np.array([0.0, 1.0])).__name__ == "horner"
    res = irr(flow, gaps)
    assert res.irr[0] == pytest.approx(0.10, abs=1e-10)
