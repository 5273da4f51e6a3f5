"""Monitoring: observations, projected volumes, importance sampling and SMC updates.

Expected numbers and where they come from:
- the tiny fixture (tests/fixtures/tiny): volume 1000 x 0.5 x 0.1 = 50 a year, trend 0; the
  programme (2021-2022, ramp 2, lag 0, no decay) removes effect 0.2 x (1 - 0.25) = 15 % at
  full strength, half of it in its first year: dV = 0, 3.75, 7.5, 7.5, ... (2020-2025);
- the conjugate normal case: prior N(m0, s0^2), observations y_j = c_j theta + N(0, sd_j^2)
  give the posterior precision 1/s0^2 + sum c_j^2/sd_j^2 and mean
  (m0/s0^2 + sum c_j y_j/sd_j^2) / precision (e.g. Gelman et al., BDA3, section 2.5);
- coverage: with the truth drawn from the prior, a 90 % posterior interval covers it with
  probability 0.90 exactly (averaged over the prior), so the share covered over R
  replications is Binomial(R, 0.9)/R.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cli_helpers
import monitor_helpers
from mkba import engine, reference
from mkba.errors import InputError
from mkba.load import load_scenario
from mkba.model import lower
from mkba.monitor import update as up
from mkba.monitor.api import monitor
from mkba.monitor.observations import load_observations
from mkba.monitor.projection import (
    net_effect,
    prior_theta,
    prior_z,
    theta_from_z,
    volume_columns,
    volumes,
)

ROOT = Path(__file__).parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny" / "scenarios" / "one.toml"
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"
EXAMPLE = ROOT / "examples" / "monitoring" / "observations.csv"

SIDECAR = """
title = "test observations"
[indicators.clients]
label = "Clients"
label_nl = "Cliënten"
stream = "s1"
unit = "person"
assumption = "Test data for hand calculations."
"""


def write_obs(folder: Path, rows: str, sidecar: str = SIDECAR, name: str = "obs") -> Path:
    return monitor_helpers.write_obs(folder, rows, sidecar, name)


def tiny_with_normal_rate(folder: Path, mean: float = 0.1, sd: float = 0.01) -> Path:
    """The tiny scenario with the volume rate uncertain: truncnormal(mean, sd) on [0, 1],
    ten sd and more from both ends, so normal for every practical purpose."""
    text = TINY.read_text(encoding="utf-8").replace(
        'parameters = "../parameters"', f'parameters = "{TINY.parents[1] / "parameters"}"'
    )
    text = text.replace("draws = 16", "draws = 20000").replace(
        "chunk_size = 16", "chunk_size = 4096"
    )
    text += f"""
[overrides."streams.s1.volume.rate"]
dist = {{ type = "truncnormal", mean = {mean}, sd = {sd}, min = 0.0, max = 1.0 }}
assumption = "Test: a normal prior for the conjugate check."
"""
    path = folder / "tiny-normal.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- projection --------------------------------------------------------------------------------


def test_volumes_by_hand_on_the_tiny_fixture() -> None:
    m = lower(load_scenario(TINY))
    V, dV = volumes(m, m.theta_fixed[None, :], ((0, 0),))
    np.testing.assert_allclose(V[0, 0], [50.0] * 6, rtol=1e-14)
    np.testing.assert_allclose(dV[0, 0], [0.0, 3.75, 7.5, 7.5, 7.5, 7.5], rtol=1e-14)
    # net effect share at full strength: 0.2 x 0.75 x R x G, R = G = 1 in the reference budget
    assert net_effect(m, m.theta_fixed[None, :], ((0, 0),))[0, 0] == pytest.approx(0.15, rel=1e-14)


def test_volume_change_valued_equals_the_reference_benefits() -> None:
    """dV of every area and stream, valued and discounted as mkba.reference does, gives the
    reference's benefits per area and component exactly (rtol 1e-12)."""
    m = lower(load_scenario(REFERENCE))
    theta = prior_theta(m, draws=64, seed=5, sampler="random", chunk_size=32)
    ben = reference.simulate_chunk(m, theta)[0]
    pairs = tuple((a, s) for a in range(len(m.areas)) for s in range(len(m.streams)))
    _V, dV = volumes(m, theta, pairs)
    dV = dV.reshape(64, len(m.areas), len(m.streams), -1)
    sl, C = m.slots, len(m.components)
    uv = theta[:, sl.component("unit_value") : sl.component("unit_value") + C]
    g = theta[:, sl.component("growth") : sl.component("growth") + C]
    years = m.years.astype(float) - m.spec.scenario.base_year
    value = uv[:, :, None] * (1.0 + g)[:, :, None] ** years[None, None, :]
    flows = dV[:, :, m.comp_stream, :] * value[:, None] * m.comp_sign[None, None, :, None]
    mine = (flows * m.df_stream[m.comp_stream][None, None]).sum(axis=3)
    np.testing.assert_allclose(mine, ben, rtol=1e-12, atol=0)


def test_prior_theta_is_the_runs_own_draws() -> None:
    m = lower(load_scenario(REFERENCE))
    run = engine.simulate(m, draws=300, seed=3, sampler="lhs", chunk_size=128)
    theta = prior_theta(m, draws=300, seed=3, sampler="lhs", chunk_size=128)
    assert run.samples is not None
    np.testing.assert_array_equal(
        theta[:, m.uncertain_slot] / m.uncertain_scale[None, :], run.samples
    )
    # the normal coordinates map back to the same parameters (to rounding of Phi(Phi^-1(u)))
    z = prior_z(m, draws=300, seed=3, sampler="lhs", chunk_size=128)
    # the reference correlates its effect sizes (programme quality): the copula is part of it
    factor = engine.correlation_factor(m)
    np.testing.assert_allclose(theta_from_z(m, z, factor), theta, rtol=1e-9)
    cols = volume_columns(m, ((0, 0),))
    sub = theta_from_z(m, z, factor, cols)
    slots = m.uncertain_slot[cols]
    np.testing.assert_allclose(sub[:, slots], theta[:, slots], rtol=1e-9)


# --- updating: conjugate normal ----------------------------------------------------------------


def conjugate(m0: float, s0: float, c: np.ndarray, y: np.ndarray, sd: np.ndarray):  # type: ignore[no-untyped-def]
    prec = 1 / s0**2 + np.sum(c**2 / sd**2)
    mean = (m0 / s0**2 + np.sum(c * y / sd**2)) / prec
    return float(mean), float(1 / math.sqrt(prec))


def test_importance_sampling_matches_the_conjugate_normal_posterior() -> None:
    rng = np.random.default_rng(11)
    m0, s0 = 2.0, 1.0
    c = np.array([1.0, 1.0, 2.0])
    y = np.array([2.9, 2.4, 5.6])
    sd = np.array([1.0, 1.5, 2.0])
    mean, post_sd = conjugate(m0, s0, c, y, sd)
    theta = m0 + s0 * rng.standard_normal(200_000)
    w = up.normalise(up.log_likelihood(theta[:, None] * c[None, :], y, sd))
    s = up.weighted_stats(theta, w)
    e = up.ess(w)
    # Monte Carlo error of a weighted mean is about post_sd / sqrt(ESS)
    assert s["mean"] == pytest.approx(mean, abs=4 * post_sd / math.sqrt(e))
    assert s["sd"] == pytest.approx(post_sd, rel=4 / math.sqrt(e))
    assert s["p50"] == pytest.approx(mean, abs=5 * post_sd / math.sqrt(e))
    # ESS of normal weights: n / E[w^2] = n * sqrt(1 - r^2)... at least a sizeable share here
    assert 0.2 * theta.size < e < theta.size


def test_smc_matches_the_conjugate_posterior_where_importance_weights_collapse() -> None:
    """Two coordinates, one sharply observed (sd 0.02 on a N(0, 1) prior: ESS ~ 1 % of the
    draws), the other not at all: SMC must give the analytic posterior of the first and
    leave the second at its prior."""
    rng = np.random.default_rng(3)
    n = 4000
    z0 = rng.standard_normal((n, 2))
    y = np.array([0.7, 0.66, 0.74])
    sd = np.array([0.02, 0.02, 0.02])
    c = np.ones(3)

    def loglik(z: np.ndarray) -> np.ndarray:
        return up.log_likelihood(z[:, [0]] * c[None, :], y, sd)

    assert up.ess(up.normalise(loglik(z0))) < 0.02 * n
    res = up.tempered_smc(loglik, z0, rng)
    mean, post_sd = conjugate(0.0, 1.0, c, y, sd)
    # SMC particles are correlated: allow a Monte Carlo error as for n/10 independent draws
    se = post_sd / math.sqrt(n / 10)
    assert res.z[:, 0].mean() == pytest.approx(mean, abs=4 * se)
    assert res.z[:, 0].std() == pytest.approx(post_sd, rel=0.1)
    assert res.z[:, 1].mean() == pytest.approx(0.0, abs=4 / math.sqrt(n / 10))
    assert res.z[:, 1].std() == pytest.approx(1.0, rel=0.1)
    assert res.stages[-1]["phi"] == 1.0 and len(res.stages) > 1


@pytest.mark.parametrize("method", ["is", "smc"])
def test_monitor_end_to_end_conjugate_on_the_model(tmp_path: Path, method: str) -> None:
    """The rate of the tiny fixture with a normal prior N(0.1, 0.01^2): the observed volume
    with the programme is linear in it, y_t = c_t rate with c_t = 500 (1 - 0.15 ramp_t), so
    the posterior of the rate is the conjugate normal one."""
    scenario = tiny_with_normal_rate(tmp_path)
    years = np.arange(2020, 2024)
    c = 500.0 * (1 - 0.15 * np.array([0.0, 0.5, 1.0, 1.0]))
    y = np.array([46.0, 42.5, 40.0, 39.0])
    sd = np.array([2.0, 2.0, 1.5, 1.5])
    rows = "indicator,area_id,year,value,sd,baseline\n" + "".join(
        f"clients,a1,{t},{v},{s},{'yes' if t == 2020 else 'no'}\n"
        for t, v, s in zip(years, y, sd, strict=True)
    )
    obs = write_obs(tmp_path, rows)
    res = monitor(scenario, obs, method=method, write=False)
    mean, post_sd = conjugate(0.1, 0.01, c, y, sd)
    row = res.parameters.set_index("name").loc["streams.s1.volume.rate"]
    n = res.prior_draws
    e = res.ess if method == "is" else n / 10
    assert row["post_mean"] == pytest.approx(mean, abs=4 * post_sd / math.sqrt(e))
    assert row["post_sd"] == pytest.approx(post_sd, rel=0.1)
    assert row["prior_mean"] == pytest.approx(0.1, abs=4 * 0.01 / math.sqrt(n))
    assert res.method == method


# --- updating: synthetic data from the model ---------------------------------------------------


def _one_area_reference():  # type: ignore[no-untyped-def]
    # horizon 2027: the volumes of 2021-2027 do not depend on it, and arrays are shorter
    return lower(load_scenario(REFERENCE, updates={"areas": ["rotterdam-zuid"], "horizon": 2027}))


def test_posterior_concentrates_and_covers_the_true_effect() -> None:
    """Observations of bijstand recipients in one area, generated by the model at a known
    parameter vector plus 3 % measurement noise. As years are added (2021 only, to 2023, to
    2027) the posterior of the net effect narrows around the truth; over 100 synthetic data
    sets with the truth drawn from the prior, the 90 % interval covers the truth ~90 %."""
    m = _one_area_reference()
    pair = ((0, m.streams.index("benefit_savings")),)
    n = 20_000
    theta = prior_theta(m, draws=n, seed=101, sampler="random", chunk_size=4096)
    V, dV = volumes(m, theta, pair)
    mu_all = (V - dV)[:, 0, :]  # (n, T)
    ne = net_effect(m, theta, pair)[:, 0]
    eff_col = m.uncertain.index("streams.benefit_savings.effect")
    eff = theta[:, m.uncertain_slot[eff_col]] / m.uncertain_scale[eff_col]
    truths = prior_theta(m, draws=100, seed=202, sampler="random", chunk_size=100)
    Vt, dVt = volumes(m, truths, pair)
    mu_true = (Vt - dVt)[:, 0, :]
    ne_true = net_effect(m, truths, pair)[:, 0]
    eff_true = truths[:, m.uncertain_slot[eff_col]] / m.uncertain_scale[eff_col]
    rng = np.random.default_rng(303)
    cv = 0.03
    t_idx = {last: np.arange(2021 - 2021, last - 2021 + 1) for last in (2021, 2023, 2027)}
    covered = {"net": 0, "effect": 0}
    widths = {last: [] for last in t_idx}
    errors = {last: [] for last in t_idx}
    ess_all = []
    for r in range(100):
        noise = rng.standard_normal(mu_true.shape[1])
        for last, ti in t_idx.items():
            y = mu_true[r, ti] * (1 + cv * noise[ti])
            sd = cv * y
            w = up.normalise(up.log_likelihood(mu_all[:, ti], y, sd))
            ess_all.append(up.ess(w))
            lo, hi = up.weighted_quantile(ne, w, np.array([0.05, 0.95]))
            widths[last].append(hi - lo)
            errors[last].append(abs(float(np.sum(w * ne)) - ne_true[r]))
            if last == 2027:
                covered["net"] += lo <= ne_true[r] <= hi
                elo, ehi = up.weighted_quantile(eff, w, np.array([0.05, 0.95]))
                covered["effect"] += elo <= eff_true[r] <= ehi
    # Binomial(100, 0.9): P(X < 81) + P(X > 97) is about 0.3 %; the seeds are fixed
    assert 0.81 <= covered["net"] / 100 <= 0.97, covered
    assert 0.81 <= covered["effect"] / 100 <= 0.97, covered
    # the importance weights hold up (a few tail truths give small ESS; coverage counts them)
    assert float(np.median(ess_all)) > 500
    # concentration: the interval narrows and the error shrinks as years are added
    w21, w23, w27 = (float(np.median(widths[k])) for k in (2021, 2023, 2027))
    assert w27 < w23 < w21
    e23, e27 = (float(np.median(errors[k])) for k in (2023, 2027))
    assert e27 < e23
    print(
        f"coverage of 90 % intervals over 100 data sets: {covered}; median width {w21:.4f} "
        f"(2021) {w23:.4f} (to 2023) {w27:.4f} (to 2027); ESS median {np.median(ess_all):.0f}, "
        f"min {min(ess_all):.0f}"
    )


def test_smc_covers_the_true_effect_where_importance_weights_collapse() -> None:
    """As above with 1 % measurement noise over 2021-2027: importance weights on 2,000 prior
    draws collapse (ESS of a few draws), tempered SMC regenerates them; over 40 synthetic
    data sets the 90 % interval of the net effect covers the truth ~90 %."""
    m = _one_area_reference()
    pair = ((0, m.streams.index("benefit_savings")),)
    n, reps, cv = 2000, 40, 0.01
    z0 = prior_z(m, draws=n, seed=404, sampler="random", chunk_size=n)
    cols = volume_columns(m, pair)
    truths = prior_theta(m, draws=reps, seed=505, sampler="random", chunk_size=reps)
    Vt, dVt = volumes(m, truths, pair)
    mu_true = (Vt - dVt)[:, 0, :7]
    ne_true = net_effect(m, truths, pair)[:, 0]
    rng = np.random.default_rng(606)
    covered, ess0 = 0, []
    for r in range(reps):
        y = mu_true[r] * (1 + cv * rng.standard_normal(7))
        sd = cv * y

        def loglik(z: np.ndarray, y: np.ndarray = y, sd: np.ndarray = sd) -> np.ndarray:
            V, dV = volumes(m, theta_from_z(m, z, None, cols), pair)
            return up.log_likelihood((V - dV)[:, 0, :7], y, sd)

        ess0.append(up.ess(up.normalise(loglik(z0))))
        res = up.tempered_smc(loglik, z0, rng)
        ne = net_effect(m, theta_from_z(m, res.z, None, cols), pair)[:, 0]
        lo, hi = np.quantile(ne, [0.05, 0.95])
        covered += lo <= ne_true[r] <= hi
    assert float(np.median(ess0)) < 50  # importance sampling alone would rest on a few draws
    # Binomial(40, 0.9): P(X < 31) is about 1 %; the seeds are fixed
    assert 31 <= covered <= 40, covered
    print(
        f"SMC coverage of 90 % intervals over {reps} data sets: {covered}; "
        f"median ESS of plain importance weights {np.median(ess0):.1f} of {n}"
    )


# --- observations: validation ------------------------------------------------------------------


def problems_of(tmp_path: Path, rows: str, sidecar: str = SIDECAR) -> list[str]:
    m = lower(load_scenario(TINY))
    with pytest.raises(InputError) as err:
        load_observations(write_obs(tmp_path, rows, sidecar), m)
    return [str(p) for p in err.value.problems]


def test_bad_observation_rows_name_file_line_column_and_value(tmp_path: Path) -> None:
    rows = (
        "indicator,area_id,year,value,sd,cv,baseline\n"
        "clients,a1,2020,50,,0.02,yes\n"
        "clients,a9,2021,50,1,,no\n"  # unknown area
        "clients,a1,2030,50,1,,no\n"  # outside the years
        "clients,a1,2022,-5,1,,no\n"  # negative value
        "clients,a1,2023,40,1,0.1,no\n"  # both sd and cv
        "visits,a1,2023,40,1,,no\n"  # indicator not in the sidecar
        "clients,a1,2024,40,0,,no\n"  # sd zero
        "clients,a1,2025,40,1,,maybe\n"  # bad flag
        "clients,a1,2020,51,1,,no\n"  # duplicate
    )
    got = problems_of(tmp_path, rows)
    f = "obs.csv"
    expect = [
        "line 3.area_id: unknown area (scenario areas: a1) (got 'a9')",
        "line 4.year: outside the scenario's years 2020-2025 (base_year..horizon) (got 2030)",
        "line 5.value: must be a finite number >= 0 (got '-5')",
        "line 6.sd: give exactly one of sd or cv (the measurement error)",
        "line 7.indicator: not described in obs.toml (known: clients) (got 'visits')",
        "line 8.sd: must be a number > 0 (got '0')",
        "line 9.baseline: must be yes or no (got 'maybe')",
        "line 10: duplicate observation of clients in a1 in 2020 (also line 2)",
    ]
    for e in expect:
        assert any(f in g and e in g for g in got), (e, got)
    assert len(got) == len(expect)


def test_sidecar_and_baseline_rules(tmp_path: Path) -> None:
    side = SIDECAR.replace('stream = "s1"', 'stream = "s7"').replace(
        'assumption = "Test data for hand calculations."', ""
    )
    got = problems_of(tmp_path, "indicator,area_id,year,value,sd\nclients,a1,2020,1,1\n", side)
    assert any("obs.toml: indicators.clients: no provenance" in g for g in got), got
    side2 = SIDECAR.replace('unit = "person"', 'unit = "client"')
    got = problems_of(tmp_path, "indicator,area_id,year,value,sd\nclients,a1,2020,1,1\n", side2)
    assert got == [
        "obs.toml: indicators.clients.unit: must be the unit of the volume of stream 's1', "
        "'person' (got 'client')"
    ] or any("indicators.clients.unit" in g for g in got)
    rows = (
        "indicator,area_id,year,value,sd,baseline\n"
        "clients,a1,2020,50,1,no\n"
        "clients,a1,2022,50,1,yes\n"
    )
    got = problems_of(tmp_path, rows)
    assert len(got) == 1 and "line 3.baseline: the baseline must be the earliest" in got[0]
    got = problems_of(tmp_path, "indicator,area_id,year,value\nclients,a1,2020,50\n")
    assert any("needs a column 'sd' or 'cv'" in g for g in got)


def test_through_keeps_the_early_years(tmp_path: Path) -> None:
    m = lower(load_scenario(TINY))
    rows = "indicator,area_id,year,value,cv\n" + "".join(
        f"clients,a1,{t},50,0.05\n" for t in range(2020, 2026)
    )
    obs = load_observations(write_obs(tmp_path, rows), m)
    early = obs.through(2022)
    assert list(early.year) == [2020, 2021, 2022] and early.sd[0] == pytest.approx(2.5)
    with pytest.raises(InputError, match="no observations in or before 2019"):
        obs.through(2019)


# --- command line ------------------------------------------------------------------------------


def mkba(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return cli_helpers.mkba(*args, cwd=cwd, columns=160)


def test_cli_monitor_writes_a_posterior_run_that_report_reads(tmp_path: Path) -> None:
    scenario = tiny_with_normal_rate(tmp_path)
    rows = "indicator,area_id,year,value,sd,baseline\nclients,a1,2020,46,2,yes\nclients,a1,2022,40,2,no\n"
    obs = write_obs(tmp_path, rows)
    out = tmp_path / "post"
    r = mkba(
        "monitor",
        str(scenario),
        str(obs),
        "--draws",
        "2000",
        "--out",
        str(out),
        "--lang",
        "nl",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "Waargenomen" in r.stdout and "Effectieve steekproefomvang" in r.stdout
    for f in (
        "manifest.json",
        "summary.json",
        "draws.parquet",
        "monitor/bands.csv",
        "monitor/parameters.csv",
        "monitor/outcomes.csv",
        "monitor/bands.png",
        "monitor/posterior.svg",
    ):
        assert (out / f).is_file(), f
    man = pd.read_json(out / "manifest.json", typ="series")
    assert man["monitoring"]["method"] in ("is", "smc") and man["draws"] == 2000
    rep = mkba("report", str(out), "--format", "md", "--no-charts", cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    # same seed, same posterior draws (bit-identical)
    out2 = tmp_path / "post2"
    r2 = mkba(
        "monitor",
        str(scenario),
        str(obs),
        "--draws",
        "2000",
        "--out",
        str(out2),
        "--json",
        cwd=tmp_path,
    )
    assert r2.returncode == 0, r2.stderr
    a = pd.read_parquet(out / "draws.parquet")
    b = pd.read_parquet(out2 / "draws.parquet")
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_cli_bad_observations_exit_2_and_write_nothing(tmp_path: Path) -> None:
    obs = write_obs(tmp_path, "indicator,area_id,year,value,sd\nclients,zz,2020,46,2\n")
    out = tmp_path / "post"
    r = mkba("monitor", str(TINY), str(obs), "--out", str(out), cwd=tmp_path)
    assert r.returncode == 2
    assert "obs.csv: line 2.area_id: unknown area" in r.stderr
    assert not out.exists()
    r = mkba("monitor", str(TINY), str(obs), "--method", "mcmc", cwd=tmp_path)
    assert r.returncode == 2 and "--method" in r.stderr


def test_shipped_example_is_valid_and_illustrative() -> None:
    m = lower(load_scenario(REFERENCE))
    obs = load_observations(EXAMPLE, m)
    assert obs.sidecar.illustrative
    assert len(obs) == 15 and obs.baseline.sum() == 3
    assert {m.areas[a] for a, _s in obs.pairs} == {"rotterdam-zuid"}


def test_cli_monitor_help_and_bad_language(tmp_path: Path) -> None:
    h = mkba("monitor", "--help", cwd=tmp_path)
    assert h.returncode == 0 and "importance" in h.stdout and "--through" in h.stdout
    r = mkba("monitor", str(TINY), str(EXAMPLE), "--lang", "de", cwd=tmp_path)
    assert r.returncode == 2 and "--lang" in r.stderr


def test_likelihood_weights_and_resampling_by_hand() -> None:
    # mu 10, y 12, sd 1, discrepancy cv 0.1: variance 1 + (0.1 x 10)^2 = 2,
    # log L = -0.5 x 2^2 / 2 - 0.5 ln 2 = -1 - 0.34657...
    ll = up.log_likelihood(np.array([[10.0]]), np.array([12.0]), np.array([1.0]), np.array([0.1]))
    assert ll[0] == pytest.approx(-1.0 - 0.5 * math.log(2.0), rel=1e-14)
    # weights from log-weights far below zero do not underflow
    w = up.normalise(np.array([-1000.0, -1000.0 + math.log(3.0)]))
    np.testing.assert_allclose(w, [0.25, 0.75], rtol=1e-12)
    assert up.ess(np.array([0.25, 0.75])) == pytest.approx(1 / (0.25**2 + 0.75**2))
    # equal weights: the midpoint (Hazen) quantile of numpy
    x = np.random.default_rng(1).standard_normal(101)
    q = np.array([0.05, 0.5, 0.95])
    np.testing.assert_allclose(
        up.weighted_quantile(x, np.full(101, 1 / 101), q), np.quantile(x, q, method="hazen")
    )
    # systematic resampling takes each draw floor(n w) or ceil(n w) times
    w = np.array([0.5, 0.3, 0.15, 0.05])
    idx = up.systematic_resample(w, 20, np.random.default_rng(2))
    counts = np.bincount(idx, minlength=4)
    assert np.all(np.abs(counts - 20 * w) < 1.0) and counts.sum() == 20


def test_observations_outside_the_band_are_flagged(tmp_path: Path) -> None:
    scenario = tiny_with_normal_rate(tmp_path)
    # prior band of the volume with the programme in 2022: 500 x 0.85 x N(0.1, 0.01^2),
    # P5-P95 about 42.5 +- 1.645 x 4.25 = 35.5-49.5; 60 lies above, 30 below
    rows = (
        "indicator,area_id,year,value,sd\n"
        "clients,a1,2020,50,5\n"
        "clients,a1,2022,60,5\n"
        "clients,a1,2023,30,5\n"
    )
    res = monitor(scenario, write_obs(tmp_path, rows), method="is", draws=4000, write=False)
    b = res.bands.set_index("year")
    assert b.loc[2022, "flag"] == "above" and b.loc[2023, "flag"] == "below"
    assert b.loc[2020, "flag"] == ""
    assert b.loc[2022, "prog_p5"] == pytest.approx(42.5 - 1.645 * 4.25, abs=0.5)
    assert b.loc[2022, "null_p50"] == pytest.approx(50.0, abs=0.3)
    assert any("2 of 3 observations lie outside" in w for w in res.warnings)
