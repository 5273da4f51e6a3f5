"""The model's equations against hand calculations, and the numba kernel against NumPy.

Hand-calculated cases use tests/fixtures/tiny: one stream ``s1`` with a resource component
``gain`` (EUR 1000 per person per year, to ``gov``) and a transfer ``benefit`` (EUR 500,
from ``res`` to ``gov``); area a1 has 1000 inhabitants with poor_share 0.5, rate 0.1 per
poor inhabitant, so V0 = 1000 x 0.5 x 0.1 = 50 persons. Effect 0.2, dead weight 0.25,
lag 0, ramp 2 years, infinite half-life. Programme 2021-2022, EUR 10,000 (90 % main domain,
10 % governance), discount rate 3 %, base year 2020.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from mkba import engine
from mkba.load import load_scenario
from mkba.model import lower
from mkba.schema.scenario import PERSPECTIVES

TINY = Path(__file__).parent / "fixtures" / "tiny" / "scenarios" / "one.toml"
REFERENCE = Path(__file__).parents[1] / "scenarios" / "reference-2021.toml"
W, F, S = (PERSPECTIVES.index(p) for p in ("welfare", "fiscal", "study"))


def tiny(variant: str | None = None, **updates: object):  # type: ignore[no-untyped-def]
    return lower(load_scenario(TINY, variant=variant, updates=updates or None))


def evaluate_fixed(m) -> engine.Outcomes:  # type: ignore[no-untyped-def]
    """Outcomes at the fixed (base) parameter values, one draw."""
    return engine.evaluate(m, m.theta_fixed[None, :])


def df(t: int, r: float = 0.03, base: int = 2020) -> float:
    return (1 + r) ** -(t - base)


# --- hand calculations ---------------------------------------------------------------------


def test_one_area_one_stream_by_hand() -> None:
    o = evaluate_fixed(tiny())
    # dV = V0 x effect x (1 - dead weight) x ramp = 50 x 0.2 x 0.75 x ramp = 7.5 x ramp;
    # ramp 2021 = 1/2, 2022 onwards = 1 (frozen at full strength), half-life infinite.
    volume = {2021: 3.75, 2022: 7.5, 2023: 7.5, 2024: 7.5, 2025: 7.5}
    pv_gain = sum(v * 1000 * df(t) for t, v in volume.items())
    pv_benefit = sum(v * 500 * df(t) for t, v in volume.items())
    # costs: EUR 5,000 in 2021 and 2022 each, all counted in welfare
    pv_costs = 5000 * df(2021) + 5000 * df(2022)
    assert pv_gain == pytest.approx(
        3750 / 1.03 + 7500 * (1.03**-2 + 1.03**-3 + 1.03**-4 + 1.03**-5), rel=1e-14
    )
    assert o.benefits[0, W] == pytest.approx(pv_gain, rel=1e-12)  # the transfer nets out
    assert o.costs[0, W] == pytest.approx(pv_costs, rel=1e-12)
    assert o.npv[0, W] == pytest.approx(pv_gain - pv_costs, rel=1e-12)
    # fiscal: gov (public) gains the resource effect and receives the transfer; res is private.
    # Public costs: main domain 80 % gov, governance 100 % gov -> 0.9 x 0.8 + 0.1 = 0.82
    assert o.benefits[0, F] == pytest.approx(pv_gain + pv_benefit, rel=1e-12)
    assert o.costs[0, F] == pytest.approx(0.82 * pv_costs, rel=1e-12)
    # study: resource effects; transfers only where flagged (none here); public costs
    assert o.benefits[0, S] == pytest.approx(pv_gain, rel=1e-12)
    # stakeholders: gov gains both, res loses the transfer and pays 20 % of the main domain
    gov, res = 0, 1
    assert o.stakeholder_benefits[0, gov] == pytest.approx(pv_gain + pv_benefit, rel=1e-12)
    assert o.stakeholder_benefits[0, res] == pytest.approx(-pv_benefit, rel=1e-12)
    assert o.stakeholder_costs[0, res] == pytest.approx(0.9 * 0.2 * pv_costs, rel=1e-12)


def test_yearly_flows_and_payback_by_hand() -> None:
    m = tiny()
    o = evaluate_fixed(m)
    years = list(m.years)
    assert years == [2020, 2021, 2022, 2023, 2024, 2025]
    # welfare net flows: benefits 1000 x dV minus costs (5,000 in 2021 and 2022)
    expected = [0.0, 3750 - 5000, 7500 - 5000, 7500, 7500, 7500]
    np.testing.assert_allclose(o.flow[0], expected, rtol=1e-12, atol=1e-9)
    discounted = [f * df(t) for f, t in zip(expected, years, strict=True)]
    np.testing.assert_allclose(o.dflow[0], discounted, rtol=1e-12, atol=1e-9)
    # cumulative discounted: 2021 negative, 2022 = -1213.6 + 2356.5 > 0 -> payback 2022
    assert np.cumsum(discounted)[1] < 0 < np.cumsum(discounted)[2]
    assert o.payback[0] == 2022


def test_half_budget_response_and_governance_by_hand() -> None:
    full = evaluate_fixed(tiny())
    half = evaluate_fixed(tiny("half"))
    # R = (B / Bref)^beta = 0.5^0.5 for the main domain; the governance budget halves too,
    # so G = 1 - q (1 - 0.5) = 1 - 0.4 x 0.5 = 0.8. Costs halve.
    assert half.benefits[0, W] == pytest.approx(
        full.benefits[0, W] * math.sqrt(0.5) * 0.8, rel=1e-12
    )
    assert half.costs[0, W] == pytest.approx(full.costs[0, W] * 0.5, rel=1e-12)


def test_no_governance_shrinks_effects_by_penalty() -> None:
    full = evaluate_fixed(tiny())
    nogov = evaluate_fixed(tiny("no_gov"))
    # main budget unchanged (0.9 x 0.9/0.9 = same), governance budget zero: G = 1 - 0.4
    assert nogov.benefits[0, W] == pytest.approx(full.benefits[0, W] * 0.6, rel=1e-12)


def test_price_indexing_of_unit_values() -> None:
    base = evaluate_fixed(tiny())
    # Declare the unit values in 2018 euros: CPI 2018 = 100, 2020 = 104 -> x 1.04
    m = lower(
        load_scenario(
            TINY,
            updates={
                "overrides": {
                    "streams.s1.components.gain.unit_value": {"price_year": 2018},
                    "streams.s1.components.benefit.unit_value": {"price_year": 2018},
                }
            },
        )
    )
    assert evaluate_fixed(m).benefits[0, W] == pytest.approx(base.benefits[0, W] * 1.04, rel=1e-12)
    # A scenario price year of 2022 (CPI 110) indexes everything, costs too, by 110/104
    m22 = tiny(price_year=2022, budget={"price_year": 2020})
    o22 = evaluate_fixed(m22)
    assert o22.benefits[0, W] == pytest.approx(base.benefits[0, W] * 110 / 104, rel=1e-12)
    assert o22.costs[0, W] == pytest.approx(base.costs[0, W] * 110 / 104, rel=1e-12)


def test_constant_flow_equals_annuity_formula() -> None:
    # Start the effect at full strength (ramp 0) from 2021 to the horizon 2060: a constant
    # flow of 7.5 x 1000 a year for n = 40 years, first paid one year after the base year.
    m = lower(
        load_scenario(
            TINY,
            updates={
                "horizon": 2060,
                "overrides": {"streams.s1.ramp": {"value": 0, "assumption": "full at once"}},
            },
        )
    )
    o = evaluate_fixed(m)
    r, n, a = 0.03, 40, 7500.0
    annuity = a * (1 - (1 + r) ** -n) / r
    assert o.benefits[0, W] == pytest.approx(annuity, rel=1e-12)


def test_discounting_matches_npv_formula_and_schedule() -> None:
    m = tiny()
    o = evaluate_fixed(m)
    # numpy_financial.npv(rate, values) = sum(values[t] / (1 + rate)^t), t from 0 (base year)
    values = o.flow[0]
    npv = sum(v / 1.03**t for t, v in enumerate(values))
    assert o.npv[0, W] == pytest.approx(npv, rel=1e-12)
    # a schedule 3 % until 2022, then 1 %: DF(2024) = 1.03^-2 x 1.01^-2
    ms = tiny(discount_rate={"schedule": {2020: 0.03, 2023: 0.01}})
    np.testing.assert_allclose(
        ms.df_cost,
        [1, 1.03**-1, 1.03**-2, 1.03**-2 / 1.01, 1.03**-2 / 1.01**2, 1.03**-2 / 1.01**3],
        rtol=1e-14,
    )
    # a per-stream rate discounts that stream's benefits only
    mp = tiny(discount_rate={"rate": 0.03, "streams": {"s1": 0.0}})
    op = evaluate_fixed(mp)
    assert op.benefits[0, W] == pytest.approx(3750 + 4 * 7500, rel=1e-12)
    assert op.costs[0, W] == pytest.approx(o.costs[0, W], rel=1e-12)


def test_decay_after_programme_end() -> None:
    # half-life 2 years: after the end year 2022 the effect halves every two years
    m = lower(
        load_scenario(
            TINY,
            updates={
                "overrides": {
                    "streams.s1.half_life": {"value": 2, "assumption": "two-year half-life"}
                }
            },
        )
    )
    o = evaluate_fixed(m)
    vol = {2021: 3.75, 2022: 7.5, 2023: 7.5 * 0.5**0.5, 2024: 7.5 * 0.5, 2025: 7.5 * 0.5**1.5}
    assert o.benefits[0, W] == pytest.approx(
        sum(v * 1000 * df(t) for t, v in vol.items()), rel=1e-12
    )


def test_welfare_nets_out_transfers() -> None:
    """The welfare total equals the sum over all stakeholders, in which every transfer appears
    once with + and once with -: it is the sum of resource effects alone."""
    m = lower(load_scenario(REFERENCE))
    run = engine.simulate(m, draws=512, chunk_size=256)
    o = run.outcomes
    resource = np.array(
        [
            m.spec.params.streams[c.split(".")[0]].components[c.split(".")[1]].nature == "resource"
            for c in m.components
        ]
    )
    np.testing.assert_allclose(o.benefits[:, W], o.component[:, resource].sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(o.benefits[:, W], o.stakeholder_benefits.sum(axis=1), rtol=1e-11)
    transfers = o.component[:, ~resource]
    assert np.all(np.abs(transfers).sum(axis=1) > 0)  # there are transfers to net out
    np.testing.assert_allclose(o.costs[:, W], o.stakeholder_costs.sum(axis=1), rtol=1e-12)


# --- kernel against the NumPy reference ----------------------------------------------------


def _both(m, draws: int = 300, seed: int = 7):  # type: ignore[no-untyped-def]
    u = engine.uniforms(m, 0, draws, seed=seed, sampler="random", chunk=0, chunk_size=draws)
    theta = m.theta(u)
    fast = engine.raw_chunk(m, theta, "numba")
    slow = engine.raw_chunk(m, theta, "numpy")
    return fast, slow


def _assert_equal(fast, slow) -> None:  # type: ignore[no-untyped-def]
    for a, b in zip(fast, slow, strict=True):
        scale = max(float(np.abs(b).max()), 1.0)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * scale)


REFERENCE_CASES = {
    "reference": {},
    "half_budget": {"variant": "half_budget"},
    "no_governance": {"variant": "no_governance"},
    "ten_years": {"variant": "ten_years"},
    "physical_only": {"variant": "physical_only"},
    "schedule": {
        "updates": {
            "discount_rate": {"schedule": {2021: 0.0225, 2030: 0.01}, "streams": {"housing": 0.03}}
        }
    },
    "zero_effect": {
        "updates": {
            "overrides": {"streams.*.effect": {"value": 0.0, "assumption": "no effect at all"}},
            # fixed effects cannot be correlated: drop the programme-quality correlations
            "correlations": [],
        }
    },
    "infinite_half_life": {
        "updates": {
            "overrides": {
                "streams.*.half_life": {"value": math.inf, "assumption": "structural effects"}
            }
        }
    },
    "lag_beyond_horizon": {
        "updates": {
            "overrides": {"streams.*.lag": {"value": 40, "assumption": "effects after the horizon"}}
        }
    },
    "fractional_lag": {
        "updates": {"overrides": {"streams.*.lag": {"value": 1.5, "assumption": "half-year lags"}}}
    },
    "one_area": {"areas": ["rotterdam-zuid"]},
    "area_budgets_differ": {"updates": {"budget": {"area_weights": "low_financial_welfare_share"}}},
}


@pytest.mark.parametrize("case", sorted(REFERENCE_CASES))
def test_kernel_equals_numpy_reference(case: str, tmp_path: Path) -> None:
    spec = REFERENCE_CASES[case]
    path = REFERENCE
    if "areas" in spec:
        text = REFERENCE.read_text()
        start = text.index("areas = [")
        end = text.index("]", start) + 1
        text = text[:start] + f"areas = {spec['areas']!r}".replace("'", '"') + text[end:]
        text = text.replace(
            'parameters = "../parameters"', f'parameters = "{REFERENCE.parents[1] / "parameters"}"'
        )
        text = text.replace(
            'calibration = "../parameters/calibration/reference-2021.toml"',
            f'calibration = "{REFERENCE.parents[1] / "parameters" / "calibration" / "reference-2021.toml"}"',
        )
        path = tmp_path / "one_area.toml"
        path.write_text(text)
    m = lower(load_scenario(path, variant=spec.get("variant"), updates=spec.get("updates")))
    fast, slow = _both(m)
    _assert_equal(fast, slow)
    if case == "zero_effect":
        assert np.all(fast[0] == 0)
    if case == "lag_beyond_horizon":
        assert np.all(fast[0] == 0)


def test_kernel_equals_numpy_one_year() -> None:
    m = tiny(horizon=2021, budget={"profile": [1]})
    assert list(m.years) == [2020, 2021]
    _assert_equal(*_both(m))
    m0 = tiny(base_year=2021, horizon=2021, budget={"profile": [1]})
    assert list(m0.years) == [2021]
    _assert_equal(*_both(m0))


def test_kernel_equals_numpy_tiny_variants() -> None:
    for v in (None, "half", "no_gov"):
        _assert_equal(*_both(tiny(v)))
