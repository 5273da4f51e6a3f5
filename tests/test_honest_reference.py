"""Issue 14: corrections of the parameter data, the residual value, and what a run implies in
physical units (mkba.implied). Expected numbers are hand calculations stated in each test."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from mkba import engine, implied, reference
from mkba.load import load_scenario
from mkba.model import lower, residual_value
from mkba.schema.scenario import PERSPECTIVES

ROOT = Path(__file__).resolve().parents[1]
EVIDENCE = ROOT / "scenarios" / "evidence-2021.toml"
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return lower(load_scenario(EVIDENCE))


@pytest.fixture(scope="module")
def small_run(model):  # type: ignore[no-untyped-def]
    return engine.simulate(model, draws=256, chunk_size=128)


def test_residual_value_by_hand() -> None:
    # Years 2021..2025 (horizon 2025). Domain 0 (life 10): 100 spent in 2022 has served
    # 2025.5 - 2022 = 3.5 years, 0.65 left = 65; 50 spent in 2025 has served 0.5, 0.95 left =
    # 47.5; total 112.5. Domain 1 (life 2): 100 in 2022 served 3.5 > 2 -> 0. Domain 2 (life 0,
    # not durable) -> 0.
    years = np.arange(2021, 2026)
    B = np.zeros((1, 3, 5))
    B[0, 0, 1] = 100.0
    B[0, 0, 4] = 50.0
    B[0, 1, 1] = 100.0
    B[0, 2, 1] = 100.0
    got = residual_value(B, years, np.array([10.0, 2.0, 0.0]))
    np.testing.assert_allclose(got, [[112.5, 0.0, 0.0]], rtol=1e-15)


def test_residual_value_booked_in_the_horizon_year(model) -> None:  # type: ignore[no-untyped-def]
    # Physical money is spent 2022-2027 only; its 2050 entry is minus the book value left:
    # spend in year y has served 2050.5 - y years of 40, so (1 - (2050.5 - y) / 40) is left.
    phys = model.domains.index("physical")
    spend = model.budget[:, phys, :-1]
    left = 1.0 - (2050.5 - model.years[:-1]) / 40.0
    expected = -(spend * np.clip(left, 0, 1)[None, :]).sum(axis=1)
    np.testing.assert_allclose(model.budget[:, phys, -1], expected, rtol=1e-12)
    assert np.all(expected < 0)
    for d in model.domains:  # no other domain is durable
        if d != "physical":
            assert np.all(model.budget[:, model.domains.index(d), -1] == 0.0)


def test_bijstand_exit_through_education_is_counted_once(model) -> None:  # type: ignore[no-untyped-def]
    s_bs = model.streams.index("benefit_savings")
    d_edu = model.domains.index("education")
    # education money does not move bijstand: that channel is the education stream's own
    assert model.response_w[s_bs, d_edu] == 0.0
    # an education-only programme: the benefit-savings stream must be exactly zero
    ratio = np.zeros_like(model.budget_ratio)
    ratio[:, d_edu] = 1.0
    m = dataclasses.replace(model, budget_ratio=ratio, gov_ratio=np.ones(len(model.areas)))
    ben, _, _, _ = reference.simulate_chunk(m, model.theta_fixed[None, :].copy())
    comps = list(model.components)
    bs = [i for i, c in enumerate(comps) if c.startswith("benefit_savings.")]
    edu = {c.split(".")[1]: i for i, c in enumerate(comps) if c.startswith("education.")}
    assert np.all(ben[:, :, bs] == 0.0)
    assert np.all(ben[:, :, edu["earnings"]] > 0.0)
    # each perspective counts the diploma-holder's work once: the study perspective the
    # earnings only (not also the benefits and taxes that are part of them), welfare the
    # earnings less leisure and schooling, fiscal the benefits and taxes less schooling
    w = {p: model.benefit_weights[PERSPECTIVES.index(p)] for p in PERSPECTIVES}
    assert w["study"][edu["earnings"]] == 1.0 and w["study"][edu["public_finance"]] == 0.0
    assert w["welfare"][edu["public_finance"]] == 0.0 and w["welfare"][edu["earnings"]] == 1.0
    assert w["fiscal"][edu["earnings"]] == 0.0 and w["fiscal"][edu["public_finance"]] == 1.0
    assert model.comp_sign[edu["lost_leisure"]] == -1.0
    assert model.comp_sign[edu["schooling_cost"]] == -1.0


def test_buig_split_sums_to_the_benefit(model) -> None:  # type: ignore[no-untyped-def]
    # 10 % municipal (1,400) + 90 % national (12,600) = the EUR 14,000 paid per recipient (2018)
    q = model.quantities
    base = "streams.benefit_savings.components."
    mun = q[base + "benefit_payment.unit_value"].dist
    nat = q[base + "benefit_payment_national.unit_value"].dist
    assert mun.mode + nat.mode == pytest.approx(14000)  # type: ignore[union-attr]
    comps = list(model.components)
    k = list(model.stakeholders)
    i_mun = comps.index("benefit_savings.benefit_payment")
    i_nat = comps.index("benefit_savings.benefit_payment_national")
    assert model.stakeholder_weights[k.index("municipalities"), i_mun] == 1.0
    assert model.stakeholder_weights[k.index("national_government"), i_nat] == 1.0


def test_volume_changes_match_the_reference(model, small_run) -> None:  # type: ignore[no-untyped-def]
    # PV of a component = sum_t dV[s, t] * value[c, t] * sign * DF[s, t]: rebuilt from the
    # volume changes, it must equal the NumPy reference's PV summed over areas.
    theta = implied.theta_of_run(small_run)[:64]
    dv = implied.volume_changes(model, theta)  # (n, S, T)
    ben, _, _, _ = reference.simulate_chunk(model, theta)
    sl = model.slots
    C = sl.C
    uv = theta[:, sl.component("unit_value") : sl.component("unit_value") + C]
    g = theta[:, sl.component("growth") : sl.component("growth") + C]
    t = (model.years - model.spec.scenario.base_year).astype(float)
    value = uv[:, :, None] * (1.0 + g[:, :, None]) ** t[None, None, :]
    pv = (
        np.einsum(
            "nct,nct,ct->nc",
            dv[:, model.comp_stream, :],
            value,
            model.df_stream[model.comp_stream],
        )
        * model.comp_sign[None, :]
    )
    np.testing.assert_allclose(pv, ben.sum(axis=1), rtol=1e-10)


def test_baseline_bijstand_volume(model) -> None:  # type: ignore[no-untyped-def]
    # at the medians: sum over areas of population x low-financial-welfare share x 0.432 x the
    # factor median (triangular 0.85/1.07/1.5)
    base = implied.baseline_volumes(model, model.theta_fixed[None, :])
    s = model.streams.index("benefit_savings")
    f = model.theta_fixed[model.slots.stream("factor") + s]
    expected = model.volume0[:, s].sum() * 0.432 * f
    assert base[0, s] == pytest.approx(expected, rel=1e-12)


def test_switching_value_in_physical_units_sets_mean_npv_to_zero(model, small_run) -> None:  # type: ignore[no-untyped-def]
    # Scaling the bijstand effect by the factor k* must make the mean welfare NPV zero (the NPV
    # is linear in one stream's effect size).
    sw = implied.switching_physical(small_run, "benefit_savings", "welfare")
    theta = implied.theta_of_run(small_run)
    slot = model.slots.stream("effect") + model.streams.index("benefit_savings")
    theta[:, slot] *= sw["factor"]
    out = engine.evaluate(model, theta)
    p = PERSPECTIVES.index("welfare")
    mean_npv = float(np.mean(out.benefits[:, p] - out.costs[:, p]))
    assert abs(mean_npv) < 1e-9 * float(np.mean(out.costs[:, p]))
    assert sw["needed_at_full_strength"] == pytest.approx(
        sw["factor"] * sw["mean_at_full_strength"], rel=1e-12
    )


def test_headline_probability_counts_draws(small_run) -> None:  # type: ignore[no-untyped-def]
    # thresholds at -inf and +inf give shares 1 and 0
    lo = implied.headline_probability(small_run, -np.inf, -np.inf)
    hi = implied.headline_probability(small_run, np.inf, np.inf)
    assert lo["share_both"] == 1.0 and hi["share_both"] == 0.0


def test_run_with_companion_shows_evidence_first(tmp_path: Path) -> None:
    # run the reconstruction: its companion (the evidence) is still shown first, and the
    # report and workbook open with both side by side
    from mkba import api
    from mkba.report.build import make_report

    res = api.run_scenario(REFERENCE, draws=256, out=tmp_path / "run", companion=True)
    sides = res.summary["side_by_side"]
    assert [d["role"] for d in sides] == ["evidence", "reconstruction"]
    assert [d["scenario"] for d in sides] == ["evidence-2021", "reference-2021"]
    assert [f["factor"] for f in sides[1]["calibration_factors"]] == pytest.approx(
        [4.211816, 3.521130], rel=1e-6
    )
    assert sides[0]["perspectives"]["welfare"]["costs_pv"]["p50"] == pytest.approx(
        sides[1]["perspectives"]["welfare"]["costs_pv"]["p50"], rel=1e-12
    )  # same budget
    make_report(tmp_path / "run", formats=("md", "xlsx"), lang="nl", charts=False)
    md = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    first = md.index("## ")
    assert md[first:].startswith("## Eerst het bewijs, dan de claim van 2021")
    assert md.index("bewijs (geen kalibratie)") < md.index("reconstructie van de claim")
    assert "mensen uit de bijstand moeten houden" in md  # switching value in physical units
    sw = sides[0]["switching_welfare"]["benefit_savings"]
    assert sw["needed_at_full_strength"] > sw["mean_at_full_strength"]  # evidence NPV < 0
    import openpyxl

    wb = openpyxl.load_workbook(tmp_path / "run" / "workbook.xlsx")
    assert wb.sheetnames[0] == "Bewijs en claim"
    ws = wb["Bewijs en claim"]
    assert "tblEvidenceandclaim" in ws.tables  # a real Excel table (names have no spaces)
    # six rows: welfare, fiscal, study x evidence, reconstruction; welfare first
    rows = [r for r in ws.iter_rows(values_only=True) if r and r[0] in ("welvaart", "Welvaart")]
    assert len(rows) == 2
