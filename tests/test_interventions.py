"""Bottom-up interventions (docs/model.md §3) against hand calculations, and kernel against oracle.

Fixture tests/fixtures/programme (the tiny fixture plus a transfer-only stream and two measures):
- area a1: stream s1 volume 1000 x 0.5 x 0.1 = 50 persons (components: resource ``gain``
  EUR 1000/person/year to gov; transfer ``benefit`` EUR 500 from res to gov); stream s2 volume
  1000 x 0.5 x 0.2 = 100 persons (transfer ``allowance`` EUR 200 from res to gov). No trend,
  no real growth, discount rate 3 %, base year 2020, horizon 2025.
- measure ``help``: target group = s1's volume (50), EUR 1000 per participant (2020 prices),
  paid by gov. On s1: probability 0.4, deadweight 0.25 (so 0.3 per participant), lag 1 year,
  half-life 2 years (q = 2^-1/2). On s2: 0.5 persons per participant, attribution 0.2, grade
  "eerste aanwijzingen" (haircut 0.2): 0.5 x 0.8 x 0.8 = 0.32; no lag; profile [-0.5, 1.0]
  (lock-in in the year of participation, the full effect the year after, then nothing).
- measure ``team``: 50 persons per area (count), EUR 500 per participant plus EUR 2000 per
  area-year, paid half by gov, half by res; on s1: 0.5 per participant, no lag, no decay.
- scenario: ``help`` with EUR 10,000 a year in 2021-2023: 10 participants a year (three cohorts).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from mkba import engine
from mkba.errors import InputError
from mkba.load import load_scenario
from mkba.model import lower
from mkba.schema.scenario import PERSPECTIVES

PROG = Path(__file__).parent / "fixtures" / "programme" / "scenarios" / "programme.toml"
W, F, S = (PERSPECTIVES.index(p) for p in ("welfare", "fiscal", "study"))
Q = 2.0**-0.5  # yearly retention of a 2-year half-life


def model(variant: str | None = None, **updates: object):  # type: ignore[no-untyped-def]
    return lower(load_scenario(PROG, variant=variant, updates=updates or None))


def fixed(m, backend: str = "numba") -> engine.Outcomes:  # type: ignore[no-untyped-def]
    return engine.evaluate(m, m.theta_fixed[None, :], backend=backend)


def df(t: int) -> float:
    return 1.03 ** -(t - 2020)


# hand calculation of the three cohorts (years 2020..2025)
# s1: stock X(t) = q X(t-1) + P(t-1), P = 10 in 2021-2023:
#   X(2022) = 10, X(2023) = 10q + 10, X(2024) = q(10q + 10) + 10, X(2025) = q X(2024)
X1 = {2022: 10.0, 2023: 10 * Q + 10, 2024: Q * (10 * Q + 10) + 10}
X1[2025] = Q * X1[2024]
U1 = {t: 0.3 * x for t, x in X1.items()}  # 3, 5.1213, 6.6213, 4.6820 persons off s1
# s2: X(t) = -0.5 P(t) + 1.0 P(t-1): 2021: -5, 2022: 5, 2023: 5, 2024: 10, 2025: 0
U2 = {2021: 0.32 * -5, 2022: 0.32 * 5, 2023: 0.32 * 5, 2024: 0.32 * 10, 2025: 0.0}
COSTS = 10_000 * (df(2021) + df(2022) + df(2023))


def test_one_measure_three_cohorts_lag_decay_two_outcomes_by_hand() -> None:
    m = model()
    pr = m.programme
    assert pr is not None
    np.testing.assert_array_equal(pr.participants[0, 0], [0, 10, 10, 10, 0, 0])
    o = fixed(m)
    phys = o.physical[0]  # (links, areas, years)
    assert phys[0, 0] == pytest.approx([0, 0, *U1.values()], rel=1e-14)
    assert U1[2023] == pytest.approx(5.121320343559643, rel=1e-15)
    assert phys[1, 0] == pytest.approx([0, *U2.values()], rel=1e-14, abs=1e-15)
    # welfare: the resource gain only (both transfers net to zero)
    welfare = sum(1000 * u * df(t) for t, u in U1.items())
    # fiscal: gov gains the resource and receives both transfers (res is private)
    fiscal = welfare + sum(500 * u * df(t) for t, u in U1.items())
    fiscal += sum(200 * u * df(t) for t, u in U2.items())
    assert o.benefits[0, W] == pytest.approx(welfare, rel=1e-12)
    assert o.benefits[0, S] == pytest.approx(welfare, rel=1e-12)
    assert o.benefits[0, F] == pytest.approx(fiscal, rel=1e-12)
    assert o.costs[0, W] == pytest.approx(COSTS, rel=1e-12)
    assert o.costs[0, F] == pytest.approx(COSTS, rel=1e-12)  # gov pays all
    # the one measure carries everything
    assert o.int_benefits[0, 0] == pytest.approx(o.benefits[0], rel=1e-12)
    assert o.int_costs[0, 0] == pytest.approx(o.costs[0], rel=1e-12)
    # stakeholders: res loses the transfers it no longer receives
    k_res = m.stakeholders.index("res")
    res = -sum(500 * u * df(t) for t, u in U1.items()) - sum(200 * u * df(t) for t, u in U2.items())
    assert o.stakeholder_benefits[0, k_res] == pytest.approx(res, rel=1e-12)
    # yearly net flow (welfare): gain minus spend
    flow = {
        t: 1000 * U1.get(t, 0.0) - (10_000 if t in (2021, 2022, 2023) else 0)
        for t in range(2020, 2026)
    }
    assert o.flow[0] == pytest.approx(list(flow.values()), rel=1e-12, abs=1e-9)


def test_budget_and_reach_driven_agree() -> None:
    # EUR 10,000 / EUR 1000 = 10 participants a year, the same as reach = [10, 10, 10]
    a, b = fixed(model()), fixed(model("reach"))
    for k, v in a.fields().items():
        np.testing.assert_allclose(getattr(b, k), v, rtol=1e-12, atol=1e-9, err_msg=k)


def test_half_the_money_half_the_participants() -> None:
    full, half = model(), model("half")
    np.testing.assert_allclose(half.programme.participants, full.programme.participants / 2)
    a, b = fixed(full), fixed(half)
    # no cap is reached and the model is linear in participants: everything halves
    np.testing.assert_allclose(b.benefits, a.benefits / 2, rtol=1e-12)
    np.testing.assert_allclose(b.costs, a.costs / 2, rtol=1e-12)


def test_overrun_raises_costs_only() -> None:
    over = {
        "interventions.team.cost.overrun": {
            "value": 1.5,
            "assumption": "Test: a 50 % cost overrun.",
        }
    }
    base, high = model("with_team"), model("with_team", overrides=over)
    np.testing.assert_array_equal(high.programme.participants, base.programme.participants)
    a, b = fixed(base), fixed(high)
    np.testing.assert_array_equal(b.benefits, a.benefits)
    np.testing.assert_array_equal(b.physical, a.physical)
    # team: (40 x EUR 500 + EUR 2000 fixed) in 2021 x 1.5; help unchanged
    team = 22_000 * df(2021)
    assert a.int_costs[0, 1, W] == pytest.approx(team, rel=1e-12)
    assert a.int_costs[0, 1, F] == pytest.approx(team / 2, rel=1e-12)  # gov's half
    assert b.int_costs[0, 1, W] == pytest.approx(1.5 * team, rel=1e-12)
    assert b.costs[0, W] == pytest.approx(COSTS + 1.5 * team, rel=1e-12)


def test_two_measures_on_one_outcome_combine_sequentially() -> None:
    o = fixed(model("with_team"))
    phys = o.physical[0]
    # team: 40 participants in 2021 x 0.5 = 20 persons from 2021 on (no lag, no decay)
    # 2021: help has no effect yet (lag 1): help 0, team 20
    assert phys[0, 0, 1] == 0.0
    assert phys[2, 0, 1] == pytest.approx(20.0, rel=1e-14)
    # 2022: help alone 3 (share 3/50 = 0.06); team acts on the rest: 50 x 0.4 x 0.94 = 18.8
    assert phys[0, 0, 2] == pytest.approx(3.0, rel=1e-14)
    assert phys[2, 0, 2] == pytest.approx(18.8, rel=1e-14)
    # together 50 x (1 - 0.94 x 0.6) = 21.8, less than 3 + 20
    assert phys[0, 0, 2] + phys[2, 0, 2] == pytest.approx(21.8, rel=1e-14)


def test_combination_never_exceeds_the_target_group() -> None:
    # team reaching far beyond its target (capped at the count, 50) with a certain effect
    over = {
        "interventions.team.effects.s1.effect": {"value": 1.0, "assumption": "Test: certain."},
    }
    m = model("with_team", overrides=over, interventions={"team": {"reach": [1000]}})
    assert m.programme.participants[1, 0].sum() == 50.0  # each person takes part once
    o = fixed(m)
    total = o.physical[0, 0, 0] + o.physical[0, 2, 0]  # both links on s1 in a1
    assert np.all(total <= 50.0 + 1e-12)
    assert total[1:] == pytest.approx(50.0, rel=1e-14)  # all 50 changed, nobody twice


def test_spreading_the_same_budget_never_raises_benefits_or_npv() -> None:
    # EUR 30,000 over 3 years or over 6 years, horizon 2040 so no cohort is cut off.
    # Benefits only move later, so their PV cannot rise; the NPV cannot rise where each
    # cohort's own NPV is positive (fiscal perspective here: +EUR 424 per participant at
    # the start; a money-losing measure does gain from being postponed, as discounting says).
    short = model(horizon=2040)
    spread = model(horizon=2040, interventions={"help": {"budget": [5000] * 6}})
    np.testing.assert_allclose(spread.programme.participants.sum(), 30.0)
    a, b = fixed(short), fixed(spread)
    assert np.all(b.benefits[0] <= a.benefits[0] + 1e-9)
    assert b.npv[0, F] < a.npv[0, F]
    assert b.npv[0, F] > 0  # still worthwhile, just less


def test_kernel_equals_numpy_oracle_with_uncertain_values() -> None:
    unc = {
        "interventions.help.effects.s1.effect": {
            "dist": {"type": "pert", "min": 0.1, "mode": 0.4, "max": 0.6},
            "assumption": "Test: uncertain effect.",
        },
        "interventions.help.effects.s1.half_life": {
            "dist": {"type": "lognormal", "median": 2, "high": 8},
            "assumption": "Test: uncertain persistence.",
        },
        "interventions.help.cost.per_participant": {
            "dist": {"type": "triangular", "min": 800, "mode": 1000, "max": 1600},
            "assumption": "Test: uncertain cost.",
        },
        "interventions.team.effects.s1.effect": {
            "dist": {"type": "uniform", "min": 0.2, "max": 1.0},
            "assumption": "Test: uncertain effect.",
        },
    }
    m = model("with_team", overrides=unc, draws=203, chunk_size=64)
    assert len(m.uncertain) == 4
    run_n = engine.simulate(m, backend="numba")
    run_p = engine.simulate(m, backend="numpy")
    for k, v in run_n.outcomes.fields().items():
        np.testing.assert_allclose(getattr(run_p.outcomes, k), v, rtol=1e-12, atol=1e-6, err_msg=k)
    # the cost draw raises costs only: participants are planned at the base cost
    assert np.ptp(run_n.outcomes.costs[:, W]) > 0


def test_bit_identical_for_any_thread_count() -> None:
    import numba

    unc = {
        "interventions.help.effects.s1.effect": {
            "dist": {"type": "pert", "min": 0.1, "mode": 0.4, "max": 0.6},
            "assumption": "Test: uncertain effect.",
        },
    }
    m = model("with_team", overrides=unc, draws=300, chunk_size=128)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = engine.simulate(m).outcomes
        numba.set_num_threads(max(2, before))
        many = engine.simulate(m).outcomes
    finally:
        numba.set_num_threads(before)
    for k, v in one.fields().items():
        np.testing.assert_array_equal(getattr(many, k), v, err_msg=k)


def test_unknown_intervention_is_a_clear_error() -> None:
    with pytest.raises(InputError) as exc:
        load_scenario(PROG, updates={"interventions": {"nope": {"reach": [1]}}})
    msg = str(exc.value)
    assert "programme.toml" in msg and "interventions.nope" in msg and "unknown intervention" in msg


def test_entry_needs_budget_or_reach() -> None:
    with pytest.raises(InputError) as exc:
        load_scenario(PROG, updates={"interventions": {"team": {"areas": ["a1"]}}})
    assert "interventions.team" in str(exc.value)


def test_persistence_helper() -> None:
    from mkba.interventions import persistence

    assert persistence(2.0) == pytest.approx(Q)
    assert persistence(math.inf) == 1.0
    assert persistence(0.0) == 0.0


def test_bad_intervention_file_names_file_key_and_value(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "programme"
    shutil.copytree(PROG.parents[1], root)
    bad = root / "parameters" / "interventions" / "help.toml"
    good = bad.read_text()
    bad.write_text(good.replace('evidence = "sterke_aanwijzingen"', 'evidence = "bewezen"'))
    with pytest.raises(InputError) as exc:
        load_scenario(root / "scenarios" / "programme.toml")
    msg = str(exc.value)
    assert "interventions/help.toml" in msg
    assert "effects.s1.evidence" in msg and "bewezen" in msg
    bad.write_text(good.replace("[effects.s2]", "[effects.s9]"))
    with pytest.raises(InputError) as exc:
        load_scenario(root / "scenarios" / "programme.toml")
    msg = str(exc.value)
    assert "interventions/help.toml: effects.s9: unknown stream" in msg


def test_physical_effects_keep_the_first_draws_when_large(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    unc = {
        "interventions.help.effects.s1.effect": {
            "dist": {"type": "uniform", "min": 0.1, "max": 0.5},
            "assumption": "Test: uncertain effect.",
        },
    }
    m = model("with_team", overrides=unc, draws=3000, chunk_size=512)
    full = engine.simulate(m).outcomes
    assert full.physical.shape[0] == 3000
    # 3 links x 1 area x 6 years x 8 bytes x 1500 draws: only the first 1500 draws are kept
    monkeypatch.setattr(engine, "PHYSICAL_BYTES", 8 * 3 * 6 * 1500)
    part = engine.simulate(m).outcomes
    assert part.physical.shape[0] == 1500
    np.testing.assert_array_equal(part.physical, full.physical[:1500])
    np.testing.assert_array_equal(part.benefits, full.benefits)


def test_outputs_in_summary_run_directory_workbook_and_report(tmp_path: Path) -> None:
    import json

    import openpyxl

    from mkba import api
    from mkba.report.build import make_report

    res = api.run_scenario(PROG, variant="with_team", out=tmp_path / "run")
    s = res.summary
    assert list(s["by_intervention"]) == ["help", "team"]
    helped = s["by_intervention"]["help"]
    assert helped["participants"] == 30.0
    assert helped["costs_pv"]["mean"] == pytest.approx(COSTS, rel=1e-12)
    assert helped["evidence"]["s2"]["haircut"] == 0.2
    tot = s["physical"]["totals"]["help"]
    assert tot["participants"] == 30.0
    # sum over the years of the persons off s1 (help comes first in the combination)
    assert tot["s1"]["mean"] == pytest.approx(sum(U1.values()), rel=1e-12)
    assert tot["s1"]["unit"] == "person-year"
    doc = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert doc["by_intervention"]["team"]["participants"] == 40.0
    assert (tmp_path / "run" / "physical.csv").is_file()
    assert (tmp_path / "run" / "by_intervention.csv").is_file()
    make_report(tmp_path / "run", formats=["md", "xlsx"], lang="nl", charts=False)
    wb = openpyxl.load_workbook(tmp_path / "run" / "workbook.xlsx")
    assert "Maatregelen" in wb.sheetnames and "Fysieke effecten" in wb.sheetnames
    md = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    assert "## Maatregelen: geld en fysieke effecten" in md
    assert "| Hulp | 30 |" in md


def test_override_of_lag_must_stay_a_whole_number() -> None:
    over = {"interventions.help.effects.s1.lag": {"value": 1.5, "assumption": "Test: half years."}}
    with pytest.raises(InputError) as exc:
        load_scenario(PROG, updates={"overrides": over})
    assert "overrides.interventions.help.effects.s1.lag" in str(exc.value)
