"""Monitoring a programme of bottom-up measures (interventions).

Expected numbers and where they come from:
- tests/fixtures/programme (see tests/test_interventions.py for the same arithmetic): area a1,
  stream s1 volume 1000 x 0.5 x 0.1 = 50 persons; measure ``help`` reaches 10 participants a
  year 2021-2023 (EUR 10,000 / EUR 1,000), effect 0.4 x (1 - 0.25) = 0.3 per participant, lag
  1, half-life 2 (q = 2^-1/2): cohort stock X = 0, 0, 10, 10q + 10, q(10q + 10) + 10,
  q(q(10q + 10) + 10) in 2020-2025, so the volume with the programme is 50 - 0.3 X;
- the planned participants are the plan of the lowered model (10 a year 2021-2023).
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

import cli_helpers
import monitor_helpers
from mkba import engine
from mkba.errors import InputError
from mkba.load import load_scenario
from mkba.model import lower
from mkba.monitor.api import monitor
from mkba.monitor.observations import load_observations
from mkba.monitor.projection import prior_theta, prior_z, theta_from_z, volume_columns, volumes

ROOT = Path(__file__).parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "programme" / "scenarios" / "programme.toml"
EXAMPLE_SCENARIO = ROOT / "scenarios" / "wijkprogramma-example.toml"
EXAMPLE_OBS = ROOT / "examples" / "monitoring" / "programme" / "observations.csv"


def test_programme_volumes_by_hand_on_the_fixture() -> None:
    m = lower(load_scenario(FIXTURE))
    V, dV = volumes(m, m.theta_fixed[None, :], ((0, m.streams.index("s1")),))
    q = 0.5**0.5
    x = np.array([0.0, 0.0, 10.0, 10 * q + 10, q * (10 * q + 10) + 10, 0.0])
    x[5] = q * x[4]
    np.testing.assert_allclose(V[0, 0], [50.0] * 6, rtol=1e-14)
    np.testing.assert_allclose(dV[0, 0], 0.3 * x, rtol=1e-12, atol=1e-12)
    # the hand figures of issue 12: 3, 5.12132, 6.62132, 4.68198 persons off s1 in 2022-2025
    np.testing.assert_allclose(dV[0, 0, 2:], [3.0, 5.12132, 6.62132, 4.68198], atol=1e-5)


@pytest.mark.parametrize("scenario", [FIXTURE, EXAMPLE_SCENARIO])
def test_programme_volume_change_valued_equals_the_engine_benefits(scenario: Path) -> None:
    """dV of every area and stream (top-down plus measures), valued and discounted as the
    reference does, equals the engine's benefits per area and component and per perspective
    (numba kernel and NumPy oracle) at rtol 1e-12, draw by draw."""
    m = lower(load_scenario(scenario))
    assert m.programme is not None
    n = 64
    theta = prior_theta(m, draws=n, seed=5, sampler="random", chunk_size=32)
    pairs = tuple((a, s) for a in range(len(m.areas)) for s in range(len(m.streams)))
    _V, dV = volumes(m, theta, pairs)
    dV = dV.reshape(n, len(m.areas), len(m.streams), -1)
    sl, C = m.slots, len(m.components)
    uv = theta[:, sl.component("unit_value") : sl.component("unit_value") + C]
    g = theta[:, sl.component("growth") : sl.component("growth") + C]
    years = m.years.astype(float) - m.spec.scenario.base_year
    value = uv[:, :, None] * (1.0 + g)[:, :, None] ** years[None, None, :]
    flows = dV[:, :, m.comp_stream, :] * value[:, None] * m.comp_sign[None, None, :, None]
    mine = (flows * m.df_stream[m.comp_stream][None, None]).sum(axis=3)  # (n, A, C)
    assert np.abs(mine).max() > 0
    for backend in ("numba", "numpy"):
        ben = engine.raw_chunk(m, theta, backend)[0]
        np.testing.assert_allclose(mine, ben, rtol=1e-12, atol=0)
    out = engine.evaluate(m, theta)
    per_perspective = np.einsum("nac,pc->np", mine, m.benefit_weights)
    np.testing.assert_allclose(per_perspective, out.benefits, rtol=1e-12, atol=0)


# --- updating the measures' effect parameters ---------------------------------------------------

SIDECAR = """
title = "test observations of a programme"
[indicators.clients]
label = "Clients"
label_nl = "Cliënten"
stream = "s1"
unit = "person"
assumption = "Test data for hand calculations."
[indicators.reached]
label = "Participants reached"
label_nl = "Bereikte deelnemers"
observes = "participants"
unit = "participant"
assumption = "Test data for hand calculations."
"""


def write_obs(folder: Path, rows: str, sidecar: str = SIDECAR, name: str = "obs") -> Path:
    return monitor_helpers.write_obs(folder, rows, sidecar, name)


def fixture_with_normal_effect(folder: Path, mean: float = 0.4, sd: float = 0.05) -> Path:
    """The programme fixture with the effect per participant of ``help`` on s1 uncertain:
    truncnormal(mean, sd) on [0, 1], eight sd and more from both ends (normal for every
    practical purpose)."""
    text = FIXTURE.read_text(encoding="utf-8").replace(
        'parameters = "../parameters"', f'parameters = "{FIXTURE.parents[1] / "parameters"}"'
    )
    text = text.replace("draws = 16", "draws = 20000").replace(
        "chunk_size = 16", "chunk_size = 4096"
    )
    text += f"""
[overrides."interventions.help.effects.s1.effect"]
unit = "fraction"
dist = {{ type = "truncnormal", mean = {mean}, sd = {sd}, min = 0.0, max = 1.0 }}
assumption = "Test: a normal prior for the conjugate check."
"""
    path = folder / "programme-normal.toml"
    path.write_text(text, encoding="utf-8")
    return path


def conjugate(m0: float, s0: float, c: np.ndarray, y: np.ndarray, sd: np.ndarray):  # type: ignore[no-untyped-def]
    """Posterior of theta ~ N(m0, s0^2) given y_j = c_j theta + N(0, sd_j^2) (BDA3 2.5)."""
    prec = 1 / s0**2 + np.sum(c**2 / sd**2)
    mean = (m0 / s0**2 + np.sum(c * y / sd**2)) / prec
    return float(mean), float(1 / math.sqrt(prec))


@pytest.mark.parametrize("method", ["is", "smc"])
def test_monitor_updates_the_effect_per_participant_conjugate(tmp_path: Path, method: str) -> None:
    """s1 with the programme is 50 - 0.75 e X(t) (module docstring), linear in the effect
    per participant e: with a normal prior the posterior of e is the conjugate normal one
    (y' = 50 - y = c e + noise, c = 0.75 X). Participants rows change nothing."""
    scenario = fixture_with_normal_effect(tmp_path)
    q = 0.5**0.5
    x = np.array([10.0, 10 * q + 10, q * (10 * q + 10) + 10])
    x = np.append(x, q * x[-1])  # 2022-2025
    c = 0.75 * x
    y = np.array([47.2, 44.9, 43.6, 45.1])
    sd = np.array([0.8, 0.8, 1.0, 1.0])
    rows = "indicator,area_id,year,value,sd,baseline,intervention\nclients,a1,2020,50,1,yes,\n"
    rows += "".join(
        f"clients,a1,{t},{v},{s},no,\n" for t, v, s in zip(range(2022, 2026), y, sd, strict=True)
    )
    rows += "reached,a1,2021,9,1,no,help\nreached,a1,2022,11,1,no,help\n"
    res = monitor(scenario, write_obs(tmp_path, rows), method=method, write=False)
    mean, post_sd = conjugate(0.4, 0.05, c, 50.0 - y, sd)
    p = res.parameters.set_index("name")
    row = p.loc["interventions.help.effects.s1.effect"]
    n = res.prior_draws
    e = res.ess if method == "is" else n / 10
    assert row["post_mean"] == pytest.approx(mean, abs=4 * post_sd / math.sqrt(e))
    assert row["post_sd"] == pytest.approx(post_sd, rel=0.1)
    assert row["prior_mean"] == pytest.approx(0.4, abs=4 * 0.05 / math.sqrt(n))
    # net effect per participant e (1 - 0.25): the same posterior scaled by 0.75
    ne = p.loc["interventions.help.effects.s1.net_effect"]
    assert ne["post_mean"] == pytest.approx(0.75 * row["post_mean"], rel=1e-9)
    # no top-down budget: the streams' top-down effect parameters are not in the table
    assert "streams.s1.effect" not in p.index and "programme.elasticity" not in p.index
    # participants: the plan (10) in every draw; 9 +- 1.645 and 11 +- 1.645 include it
    b = res.bands[res.bands["intervention"] == "help"].set_index("year")
    assert b.loc[2021, "prog_p5"] == b.loc[2021, "prog_p95"] == pytest.approx(10.0, rel=1e-12)
    assert b.loc[2021, "null_p50"] == 0.0 and b.loc[2024, "prog_p50"] == 0.0
    assert b.loc[2021, "flag"] == "" and b.loc[2022, "flag"] == ""


def test_participants_against_the_plan_flags_and_leave_the_weights(tmp_path: Path) -> None:
    scenario = fixture_with_normal_effect(tmp_path)
    base = "indicator,area_id,year,value,sd,baseline,intervention\nclients,a1,2023,45,1,no,\n"
    r0 = monitor(scenario, write_obs(tmp_path / "a", base), method="is", draws=2000, write=False)
    # 7 +- 1.645 x 1 = 5.4-8.6 leaves the plan 10 out: below; 12.5 +- 1.645: 10.9-14.1, above
    rows = base + "reached,a1,2021,7,1,no,help\nreached,a1,2022,12.5,1,no,help\n"
    r1 = monitor(scenario, write_obs(tmp_path / "b", rows), method="is", draws=2000, write=False)
    np.testing.assert_allclose(r1.weights, r0.weights, rtol=1e-12)
    b = r1.bands[r1.bands["intervention"] == "help"].set_index("year")
    assert b.loc[2021, "flag"] == "below" and b.loc[2022, "flag"] == "above"
    assert any("differ from the plan" in w for w in r1.warnings), r1.warnings
    # participants alone inform no parameter: an empty parameter table, the prior outcomes
    only = "indicator,area_id,year,value,sd,intervention\nreached,a1,2021,9,1,help\n"
    r2 = monitor(scenario, write_obs(tmp_path / "c", only), method="is", draws=500, write=False)
    assert len(r2.parameters) == 0 and r2.ess == pytest.approx(500.0)
    # the SMC parameter columns include the measure's effect slots on the observed stream
    m = lower(load_scenario(scenario))
    cols = volume_columns(m, ((0, m.streams.index("s1")),))
    j = m.uncertain.index("interventions.help.effects.s1.effect")
    assert j in cols
    z = prior_z(m, draws=50, seed=1, sampler="random", chunk_size=50)
    th = theta_from_z(m, z, None, cols)
    full = theta_from_z(m, z)
    np.testing.assert_allclose(th[:, m.uncertain_slot[j]], full[:, m.uncertain_slot[j]])


# --- validation of participants rows -----------------------------------------------------------


def test_participants_rows_are_validated(tmp_path: Path) -> None:
    m = lower(load_scenario(FIXTURE))
    rows = (
        "indicator,area_id,year,value,sd,baseline,intervention\n"
        "reached,a1,2021,10,1,no,nope\n"  # unknown intervention
        "reached,a1,2022,10,1,no,\n"  # participants without an intervention
        "reached,a1,2023,10,1,yes,help\n"  # a baseline of participants
        "clients,a1,2022,50,1,no,help\n"  # a volume indicator naming an intervention
        "reached,a1,2021,10,1,no,team\n"  # a measure of the parameter folder, not the scenario
    )
    with pytest.raises(InputError) as err:
        load_observations(write_obs(tmp_path, rows), m)
    got = [str(p) for p in err.value.problems]
    expect = [
        "obs.csv: line 2.intervention: unknown intervention (scenario measures: help) (got 'nope')",
        "obs.csv: line 3.intervention: a participants indicator needs the intervention",
        "obs.csv: line 4.baseline: participants have no baseline",
        "obs.csv: line 5.intervention: only participants indicators name an intervention",
        "obs.csv: line 6.intervention: not a measure of this scenario (scenario measures: help)",
    ]
    for e in expect:
        assert any(e in g for g in got), (e, got)
    assert len(got) == len(expect), got
    bad = SIDECAR.replace('unit = "participant"', 'unit = "person"\nstream = "s1"')
    with pytest.raises(InputError) as err:
        load_observations(write_obs(tmp_path, "indicator,area_id,year,value,sd\n", bad), m)
    assert any("indicators.reached" in str(p) for p in err.value.problems)


def mkba(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return cli_helpers.mkba(*args, cwd=cwd, columns=160)


def test_cli_unknown_intervention_exit_2_and_write_nothing(tmp_path: Path) -> None:
    obs = write_obs(
        tmp_path, "indicator,area_id,year,value,sd,intervention\nreached,a1,2021,9,1,nope\n"
    )
    out = tmp_path / "post"
    r = mkba("monitor", str(FIXTURE), str(obs), "--out", str(out), cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "obs.csv: line 2.intervention: unknown intervention" in r.stderr
    assert not out.exists()


def test_shipped_programme_example_is_valid_and_illustrative() -> None:
    m = lower(load_scenario(EXAMPLE_SCENARIO))
    obs = load_observations(EXAMPLE_OBS, m)
    assert obs.sidecar.illustrative
    assert len(obs) == 16 and obs.baseline.sum() == 2
    assert set(obs.intervention) == {"", "schuldhulp", "buurtteam"}
    # the first two years: volume rows keep their (area, stream) pairs, participants none
    early = obs.through(2026)
    assert len(early) == 8 and len(early.pairs) == 2
    for j in range(len(early)):
        if early.intervention[j]:
            assert early.pair[j] == -1 and early.entry[j] >= 0
        else:
            stream = early.sidecar.indicators[early.indicator[j]].stream
            assert m.streams[early.pairs[early.pair[j]][1]] == stream
