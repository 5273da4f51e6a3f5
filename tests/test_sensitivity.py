"""Sensitivity methods against analytic truth (issue 7, item 8).

The fixture tests/fixtures/linear has one area, two streams and one cost domain; everything is
fixed except three independent uniform inputs, each the only uncertain factor of its term:

    U1 = streams.s1.components.gain.unit_value ~ U(500, 1500)   EUR/person/year
    U2 = streams.s2.components.gain.unit_value ~ U(200, 1000)   EUR/person/year
    U3 = costs.main.overrun                    ~ U(0.8, 1.6)

so that NPV = a1 U1 + a2 U2 - c U3, with (by hand; base year 2020, 3 %, flows 2021-2025)

    a1 = V0 x effect x sum_t DF(t) = (1000 x 0.1) x 0.1 x A = 10 A,  A = sum_{k=1..5} 1.03^-k
    a2 = (1000 x 0.05) x 0.2 x A = 10 A
    c  = 30,000 x (1.03^-1 + 1.03^-2)

and, the inputs being independent, S1_i = ST_i = a_i^2 Var(U_i) / sum_j a_j^2 Var(U_j) with
Var(U) = (max - min)^2 / 12 (Saltelli et al. 2008, Global Sensitivity Analysis: The Primer,
section 1.2.3). Monte Carlo tolerances: with N = 4096 base samples SALib's bootstrap 95 %
half-widths are about 0.02, so indices are checked to 0.03 (absolute).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from mkba import engine
from mkba.cli import main
from mkba.errors import InputError
from mkba.load import load_scenario
from mkba.model import lower
from mkba.sensitivity import (
    discount_sweep,
    morris,
    output_array,
    parse_output,
    resolve_groups,
    run_sensitivity,
    salib_problem,
    sobol,
    switching_values,
    tornado,
)

ROOT = Path(__file__).parents[1]
LINEAR = ROOT / "tests" / "fixtures" / "linear" / "scenarios" / "linear.toml"
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"
U1 = "streams.s1.components.gain.unit_value"
U2 = "streams.s2.components.gain.unit_value"
U3 = "costs.main.overrun"
RANGE = {U1: (500.0, 1500.0), U2: (200.0, 1000.0), U3: (0.8, 1.6)}
BASE = {U1: 1000.0, U2: 600.0, U3: 1.2}  # medians of the uniforms
A = sum(1.03**-k for k in range(1, 6))
COEF = {U1: 10 * A, U2: 10 * A, U3: -30_000 * (1.03**-1 + 1.03**-2)}  # dNPV / dU_i
TOL = 0.03  # absolute tolerance of Sobol indices at N = 4096 (see module docstring)


def shares(coef: dict[str, float]) -> dict[str, float]:
    v = {p: coef[p] ** 2 * (RANGE[p][1] - RANGE[p][0]) ** 2 / 12 for p in coef}
    total = sum(v.values())
    return {p: x / total for p, x in v.items()}


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return lower(load_scenario(LINEAR))


def npv_at(m, values: dict[str, float]) -> float:  # type: ignore[no-untyped-def]
    o = engine.evaluate(m, m.theta_at(values)[None, :])
    return float(output_array(o, m, "npv")[0])


def test_fixture_is_linear_with_the_hand_coefficients(model) -> None:  # type: ignore[no-untyped-def]
    assert model.uncertain == (U1, U2, U3)
    base = npv_at(model, {})
    assert base == pytest.approx(sum(COEF[p] * BASE[p] for p in COEF), rel=1e-12)
    for p in COEF:
        for dx in (-0.3, 0.2):
            step = dx * BASE[p]
            assert npv_at(model, {p: BASE[p] + step}) - base == pytest.approx(
                COEF[p] * step, rel=1e-10
            )


# --- Sobol ----------------------------------------------------------------------------------


def test_sobol_indices_match_the_closed_form(model) -> None:  # type: ignore[no-untyped-def]
    res = sobol(model, ["npv"], resolve_groups(model), n=4096, seed=11)
    truth = shares(COEF)
    t = res.table.set_index("name")
    for p, s in truth.items():
        assert t.loc[p, "S1"] == pytest.approx(s, abs=TOL)
        assert t.loc[p, "ST"] == pytest.approx(s, abs=TOL)
        assert 0 < t.loc[p, "ST_conf"] < 0.05
    assert res.convergence["converged"] and res.evaluations == 4096 * (3 + 2)
    assert res.design.shape == (4096 * 5, 3) and res.y["npv"].shape == (4096 * 5,)
    assert [set(r) for r in res.records()] == [{"name", "S1", "S1_conf", "ST", "ST_conf"}] * 3


def test_sobol_of_a_group_is_the_sum_of_its_members(model) -> None:  # type: ignore[no-untyped-def]
    g = resolve_groups(model, ["values=streams.*.unit_value"])
    assert g.names == ("values", U3) and g.members("values") == (U1, U2)
    assert salib_problem(g)["groups"] == ["values", "values", U3]
    res = sobol(model, ["npv"], g, n=4096, seed=3)
    t = res.table.set_index("name")
    truth = shares(COEF)
    assert t.loc["values", "ST"] == pytest.approx(truth[U1] + truth[U2], abs=TOL)
    assert t.loc[U3, "S1"] == pytest.approx(truth[U3], abs=TOL)


def test_sobol_of_another_output_and_of_a_constant_one(model) -> None:  # type: ignore[no-untyped-def]
    # benefits of stream s1 depend on U1 only; the cumulative NPV of the base year is 0
    res = sobol(model, ["by_stream.s1", "cumulative_npv.2020"], resolve_groups(model), n=1024)
    t = res.table.set_index(["output", "name"])
    assert t.loc[("by_stream.s1", U1), "ST"] == pytest.approx(1.0, abs=0.01)
    assert t.loc[("by_stream.s1", U3), "ST"] == pytest.approx(0.0, abs=1e-12)
    assert (t.loc["cumulative_npv.2020", "ST"] == 0).all()
    assert any("constant" in w for w in res.warnings)
    assert {"output", "name", "S1"} <= set(res.records()[0])


def test_correlated_inputs_are_grouped_by_default() -> None:
    m = lower(load_scenario(LINEAR, variant="correlated"))
    g = resolve_groups(m)
    assert len(g.names) == 2 and g.members(g.names[0]) == (U1, U2)
    assert g.pairs == ((U1, U2, 0.6),)
    assert any("assume independent inputs" in w for w in g.warnings)
    res = sobol(m, ["npv"], g, n=4096, seed=5)
    # group variance with the covariance: the copula makes Pearson(U1, U2) = Spearman = 0.6
    sd = {p: (RANGE[p][1] - RANGE[p][0]) / math.sqrt(12) for p in RANGE}
    var_g = (
        (COEF[U1] * sd[U1]) ** 2
        + (COEF[U2] * sd[U2]) ** 2
        + 2 * 0.6 * COEF[U1] * COEF[U2] * sd[U1] * sd[U2]
    )
    var_c = (COEF[U3] * sd[U3]) ** 2
    t = res.table.set_index("name")
    assert t.loc[g.names[0], "ST"] == pytest.approx(var_g / (var_g + var_c), abs=TOL)
    assert any("assume independent inputs" in w for w in res.warnings)
    # the alternative: correlations ignored, with a warning, the independent indices
    gi = resolve_groups(m, correlations="ignore")
    assert gi.pairs == () and gi.trivial and any("ignored" in w for w in gi.warnings)
    ti = sobol(m, ["npv"], gi, n=4096, seed=5).table.set_index("name")
    assert ti.loc[U2, "ST"] == pytest.approx(shares(COEF)[U2], abs=TOL)


def test_sobol_is_reproducible_even_with_seed_zero(model) -> None:  # type: ignore[no-untyped-def]
    a = sobol(model, ["npv"], resolve_groups(model), n=256, seed=0).table
    b = sobol(model, ["npv"], resolve_groups(model), n=256, seed=0).table
    pd.testing.assert_frame_equal(a, b)


def test_sobol_halving_check_and_non_convergence_warning(model) -> None:  # type: ignore[no-untyped-def]
    res = sobol(model, ["npv"], resolve_groups(model), n=64, seed=2, halving=True)
    assert "max_change_half_n" in res.convergence
    assert res.evaluations == 64 * 5 + 32 * 5
    assert not res.convergence["converged"]
    assert any("NOT converged" in w for w in res.warnings)
    with pytest.raises(InputError, match="power of two"):
        sobol(model, ["npv"], resolve_groups(model), n=1000)


# --- Morris -----------------------------------------------------------------------------------


def test_morris_effects_of_a_linear_model_are_exact(model) -> None:  # type: ignore[no-untyped-def]
    # per unit of cumulative probability: mu = dNPV/du = a_i x (max - min) for a uniform input
    res = morris(model, ["npv"], resolve_groups(model), trajectories=20, levels=4, seed=4)
    t = res.table.set_index("name")
    for p, a in COEF.items():
        width = RANGE[p][1] - RANGE[p][0]
        assert t.loc[p, "mu"] == pytest.approx(a * width, rel=1e-9)
        assert t.loc[p, "mu_star"] == pytest.approx(abs(a) * width, rel=1e-9)
        assert t.loc[p, "sigma"] == pytest.approx(0.0, abs=1e-6 * abs(a) * width)
    assert res.evaluations == 20 * 4 and res.convergence["converged"]
    assert set(res.records()[0]) == {"name", "mu_star", "mu_star_conf", "sigma"}
    # grid level k of p is evaluated at the centre of the k-th of p strata, never at 0 or 1
    u = (res.design * 3 + 0.5) / 4
    assert set(np.unique(u)) <= {0.125, 0.375, 0.625, 0.875}


# --- tornado ----------------------------------------------------------------------------------


def test_tornado_equals_direct_evaluation(model) -> None:  # type: ignore[no-untyped-def]
    res = tornado(model, "npv", grouping=resolve_groups(model))
    base = npv_at(model, {})
    assert res.base_output == pytest.approx(base, rel=1e-14)
    swings = list(res.table["swing"])
    assert swings == sorted(swings, reverse=True)
    for rec in res.records:
        p = rec["name"]
        lo, hi = RANGE[p]
        assert rec["low"] == pytest.approx(lo + 0.1 * (hi - lo), rel=1e-12)  # P10 of a uniform
        assert rec["high"] == pytest.approx(lo + 0.9 * (hi - lo), rel=1e-12)
        assert rec["output_low"] == pytest.approx(npv_at(model, {p: rec["low"]}), rel=1e-12)
        assert rec["output_high"] == pytest.approx(npv_at(model, {p: rec["high"]}), rel=1e-12)
        assert rec["output_high"] - rec["output_low"] == pytest.approx(
            COEF[p] * 0.8 * (hi - lo), rel=1e-9
        )
    assert set(res.records[0]) == {"name", "low", "high", "output_low", "output_high"}


def test_tornado_on_the_monte_carlo_mean_uses_common_random_numbers(model) -> None:  # type: ignore[no-untyped-def]
    det = tornado(model, "npv", grouping=resolve_groups(model)).table.set_index("name")
    mc = tornado(model, "npv", grouping=resolve_groups(model), mc=True, draws=512, seed=9)
    t = mc.table.set_index("name")
    # linear model + the same draws for every setting: the swing of the mean is exact
    for p in COEF:
        assert t.loc[p, "swing"] == pytest.approx(det.loc[p, "swing"], rel=1e-9)
    # and the base is the mean of `mkba run` with the same seed and draws
    run = engine.simulate(model, draws=512, seed=9)
    assert mc.base_output == pytest.approx(float(run.outcomes.npv[:, 0].mean()), rel=1e-12)
    assert mc.uniforms is not None and mc.uniforms.shape == (512, 3)


def test_tornado_groups_bounds_and_fixed_parameters(model) -> None:  # type: ignore[no-untyped-def]
    g = resolve_groups(model, ["values=streams.*.unit_value"])
    res = tornado(
        model, "npv", grouping=g, bounds={U3: (1.0, 1.4), "streams.s1.effect": (0.05, 0.15)}
    )
    recs = {r["name"]: r for r in res.records}
    assert recs["values"]["low"] == [pytest.approx(600.0), pytest.approx(280.0)]
    assert recs[U3]["low"] == 1.0 and recs[U3]["high"] == 1.4
    # a fixed parameter with bounds gets its own row: benefits of s1 scale with its effect
    eff = recs["streams.s1.effect"]
    assert eff["output_high"] - eff["output_low"] == pytest.approx(
        COEF[U1] * BASE[U1] * (0.15 - 0.05) / 0.1, rel=1e-9
    )


# --- switching values -------------------------------------------------------------------------


def test_switching_values_against_the_hand_solution(model) -> None:  # type: ignore[no-untyped-def]
    res = switching_values(model, "npv")
    recs = {r["name"]: r for r in res.records}
    # NPV = 0  <=>  U3* = (a1 u1 + a2 u2) / c
    u3 = (COEF[U1] * BASE[U1] + COEF[U2] * BASE[U2]) / -COEF[U3]
    assert recs[U3]["switching_value"] == pytest.approx(u3, rel=1e-10)
    assert recs[U3]["ratio"] == pytest.approx(u3 / 1.2, rel=1e-10)
    u1 = (-COEF[U3] * BASE[U3] - COEF[U2] * BASE[U2]) / COEF[U1]
    assert recs[U1]["switching_value"] == pytest.approx(u1, rel=1e-10)
    assert set(recs[U1]) == {"name", "base", "switching_value", "ratio"}
    # the probability of lying beyond it: P(U3 > u3) for a uniform
    t = res.table.set_index("name")
    assert t.loc[U3, "prob_beyond"] == pytest.approx((1.6 - u3) / 0.8, rel=1e-9)
    # BCR = 1 at the same point (threshold 1 by default for a ratio)
    bcr = switching_values(model, "bcr", params=[U3])
    assert bcr.threshold == 1.0
    assert bcr.records[0]["switching_value"] == pytest.approx(u3, rel=1e-9)


def test_switching_none_within_bounds_and_fixed_parameters(model) -> None:  # type: ignore[no-untyped-def]
    res = switching_values(model, "npv", params=[U3], bounds={U3: (0.8, 1.1)})
    assert res.records[0]["switching_value"] is None and res.records[0]["ratio"] is None
    assert res.table["status"].iloc[0] == "none within bounds"
    with pytest.raises(InputError, match="is fixed"):
        switching_values(model, "npv", params=["streams.s1.effect"])
    fixed = switching_values(
        model, "npv", params=["streams.s1.effect"], bounds={"streams.s1.effect": (0.0, 0.5)}
    )
    # benefits of s1 = 10 A u1 x effect / 0.1: NPV = 0 at effect* = 0.1 (1 - NPV / B1)
    b1 = COEF[U1] * BASE[U1]
    assert fixed.records[0]["switching_value"] == pytest.approx(
        0.1 * (1 - npv_at(model, {}) / b1), rel=1e-10
    )


# --- discount-rate sweep ------------------------------------------------------------------------


def test_discount_sweep_switches_at_the_internal_rate_of_return(model) -> None:  # type: ignore[no-untyped-def]
    # base flows by hand: 2021, 2022: 10 x 1000 + 10 x 600 - 30,000 x 1.2 = -20,000;
    # 2023-2025: +16,000. NPV(r) = 0 at the internal rate of return.
    def npv(r: float) -> float:
        return sum(f * (1 + r) ** -k for k, f in enumerate([-2e4, -2e4, 1.6e4, 1.6e4, 1.6e4], 1))

    irr = brentq(npv, 0.0, 0.5, xtol=1e-14)
    res = discount_sweep(model.spec, "npv", rates=np.linspace(0.0, 0.2, 9), draws=256)
    assert res.switching_rate == pytest.approx(irr, abs=1e-9)
    t = res.table.set_index("rate")
    assert t.loc[0.0, "output_base"] == pytest.approx(npv(0.0), rel=1e-12)
    assert t.loc[0.05, "output_base"] == pytest.approx(npv(0.05), rel=1e-12)
    # the mean over the same draws is linear in the uniforms: at their mean it is the base
    assert res.switching_rate_mean == pytest.approx(irr, abs=0.02)
    assert res.samples.shape == (256, 9)


# --- outputs and groups -------------------------------------------------------------------------


def test_output_names(model) -> None:  # type: ignore[no-untyped-def]
    o = engine.evaluate(model, model.theta_fixed[None, :])
    npv = output_array(o, model, "npv")[0]
    assert output_array(o, model, "welfare.npv")[0] == npv
    assert output_array(o, model, "by_area.a1")[0] == pytest.approx(npv, rel=1e-12)
    assert output_array(o, model, "cumulative_npv.2025")[0] == pytest.approx(npv, rel=1e-12)
    assert output_array(o, model, "cumulative_npv.2020")[0] == 0.0
    assert output_array(o, model, "by_stakeholder.gov")[0] == pytest.approx(npv, rel=1e-12)
    assert output_array(o, model, "bcr")[0] == pytest.approx(
        output_array(o, model, "benefits_pv")[0] / output_array(o, model, "costs_pv")[0]
    )
    assert output_array(o, model, "by_component.s2.gain")[0] == pytest.approx(
        COEF[U2] * BASE[U2], rel=1e-12
    )
    assert parse_output(model, "fiscal.bcr").is_ratio
    for bad, msg in [
        ("nope", "unknown output"),
        ("by_stream.s9", "unknown stream"),
        ("by_area.zz", "unknown area"),
        ("fiscal.by_area.a1", "only available in the scenario's perspective"),
        ("cumulative_npv.1999", "outside the model's years"),
        ("by_stakeholder.gov.nope", "stakeholder's output"),
    ]:
        with pytest.raises(InputError, match=msg):
            parse_output(model, bad)


def test_groupings_and_their_errors() -> None:
    m = lower(load_scenario(REFERENCE))
    # the reference correlates its seven effect sizes (programme quality): by default their
    # stream groups merge into one; with correlations ignored each stream is its own group
    merged = resolve_groups(m, ["stream"])
    assert any("benefit_savings" in n and "safety" in n for n in merged.names)
    s = resolve_groups(m, ["stream"], correlations="ignore")
    assert "benefit_savings" in s.names and "costs" in s.names and "programme" in s.names
    k = resolve_groups(m, ["kind"])
    assert set(k.members("effects")) == {p for p in m.uncertain if p.endswith(".effect")}
    mixed = resolve_groups(
        m, ["care=streams.care_*.components.*.unit_value", "kind"], correlations="ignore"
    )
    # treatment, support, informal care, care cost and two execution costs (issue 14)
    assert len(mixed.members("care")) == 6 and "unit_values" in mixed.names
    one = resolve_groups(m, correlations="ignore")
    assert one.trivial and len(one.names) == len(m.uncertain)
    for specs, msg in [
        (["streamz"], "expected one of"),
        (["x=nothing.*"], "matches no analysed parameter"),
        (["a=streams.*.effect", "b=streams.housing.*"], "already in group"),
        (["stream", "kind"], "at most one built-in"),
        (["=streams.*"], "NAME=PATTERN"),
    ]:
        with pytest.raises(InputError, match=msg):
            resolve_groups(m, specs)


def test_reference_drivers_smoke() -> None:
    """On the shipped reference: the tornado's top driver is the benefit-savings effect, and
    a small grouped Sobol design runs through the same sampling path."""
    m = lower(load_scenario(REFERENCE))
    t = tornado(m, "npv", grouping=resolve_groups(m, correlations="ignore"))
    assert t.records[0]["name"] == "streams.benefit_savings.effect"
    assert t.base_output == pytest.approx(npv_at(m, {}), rel=1e-12)
    # by default the correlated effect sizes are one group (programme quality)
    res = sobol(m, ["npv"], resolve_groups(m, ["stream"]), n=256, seed=1)
    top = res.table.sort_values("ST", ascending=False)["name"].iloc[0]
    assert "benefit_savings" in top and "safety" in top


# --- command line ---------------------------------------------------------------------------


def cli(capsys, *args: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        main(["sensitivity", *args])
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


@pytest.mark.parametrize(
    ("method", "keys"),
    [
        ("sobol", {"name", "S1", "S1_conf", "ST", "ST_conf"}),
        ("morris", {"name", "mu_star", "mu_star_conf", "sigma"}),
        ("tornado", {"name", "low", "high", "output_low", "output_high"}),
        ("switching", {"name", "base", "switching_value", "ratio"}),
    ],
)
def test_cli_json_documents(capsys, method: str, keys: set[str]) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(
        capsys, str(LINEAR), "--method", method, "--draws", "256", "--json", "--no-write"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert isinstance(doc, list) and len(doc) == 3
    assert all(set(d) == keys for d in doc)


def test_cli_writes_tables_and_raw_samples(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out_dir = tmp_path / "sobol"
    code, out, err = cli(
        capsys,
        str(LINEAR),
        "--method",
        "sobol",
        "--groups",
        "values=streams.*.unit_value",
        "--draws",
        "512",
        "--seed",
        "3",
        "--out",
        str(out_dir),
    )
    assert code == 0, err
    assert "Sobol' indices of npv" in out and "values" in out
    assert "written to" in err and "evaluate" in err
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert manifest["method"] == "sobol" and manifest["draws"] == 512 and manifest["seed"] == 3
    assert manifest["groups"] == {"values": [U1, U2], U3: [U3]}
    assert {"converged", "criterion"} <= set(manifest["convergence"])
    assert {"sample_s", "evaluate_s", "analyze_s"} <= set(manifest["timings"])
    assert {"indices.csv", "indices.parquet", "design.parquet", "outputs.parquet"} <= set(
        manifest["files"]
    )
    design = pd.read_parquet(out_dir / "design.parquet")
    assert design.shape == (512 * 4, 3) and list(design.columns) == [U1, U2, U3]
    assert len(pd.read_parquet(out_dir / "outputs.parquet")) == 512 * 4
    assert json.loads((out_dir / "result.json").read_text())[0]["name"] == "values"


def test_cli_discount_and_correlation_warning(capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(
        capsys, str(LINEAR), "--method", "discount", "--rates", "0:0.2:0.05", "-n", "64",
        "--json", "--no-write",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["switching_rate"] == pytest.approx(0.0761, abs=1e-3)
    assert [r["rate"] for r in doc["rates"]] == [0.0, 0.05, 0.1, 0.15, 0.2]
    code, out, err = cli(
        capsys, str(LINEAR), "--variant", "correlated", "--method", "sobol", "-n", "64",
        "--no-write",
    )  # fmt: skip
    assert code == 0 and "assume independent inputs" in err and "NOT converged" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "nope"], "expected one of tornado"),
        (["--method", "sobol", "--output", "nope"], "unknown output"),
        (["--method", "sobol", "--groups", "streamz"], "expected one of none"),
        (["--method", "tornado", "--output", "npv", "--output", "bcr"], "takes one output"),
        (["--method", "switching", "--groups", "stream"], "does not apply to switching"),
        (["--method", "switching", "--bounds", "costs.main.overrun=2:1"], "LOW < HIGH"),
        (["--method", "sobol", "--draws", "1000"], "power of two"),
    ],
)
def test_cli_input_errors_exit_2(capsys, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(capsys, str(LINEAR), *args, "--no-write")
    assert code == 2 and message in err and out == ""


def test_run_sensitivity_is_reproducible(tmp_path: Path) -> None:
    a = run_sensitivity(LINEAR, "morris", draws=10, out=tmp_path / "a")
    b = run_sensitivity(LINEAR, "morris", draws=10, write=False)
    assert a.manifest["run_id"] == b.manifest["run_id"] and a.document == b.document
