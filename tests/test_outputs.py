"""The output registry (mkba.outputs): every name has one meaning, the same in summary.json,
mkba calibrate, mkba sensitivity and the decisions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mkba import calibrate, engine, outputs, results
from mkba.checks import runnable
from mkba.errors import InputError
from mkba.load import load_scenario

REFERENCE = "scenarios/reference-2021.toml"
PROGRAMME = "scenarios/wijkprogramma-example.toml"


@pytest.fixture(scope="module")
def run() -> engine.Run:
    return engine.simulate(runnable(load_scenario(REFERENCE)), draws=64, seed=3)


@pytest.fixture(scope="module")
def prog_run() -> engine.Run:
    return engine.simulate(runnable(load_scenario(PROGRAMME)), draws=32, seed=5)


def test_every_name_parses_and_has_a_label_and_unit(run: engine.Run) -> None:
    m = run.model
    names = outputs.names_of(m)
    assert "by_area.rotterdam-zuid" in names and "irr" in names
    for name in names:
        ref = outputs.parse_output(m, name)
        assert ref.unit in ("EUR", "ratio", "1/year", "year")
        assert outputs.label(ref, "nl") and outputs.label(ref, "en")
        arr = outputs.output_array(run.outcomes, m, ref)
        assert arr.shape == (run.draws,)


def test_names_mean_what_summary_json_says(run: engine.Run) -> None:
    """summary.json's by_area is the area's benefits: so is the output by_area.A, in the
    registry, in calibrate and in sensitivity; the NPV is by_area.A.npv (summary by_area_npv)."""
    m, o = run.model, run.outcomes
    s = results.summary(run)
    for a in m.areas:
        ben = outputs.output_array(o, m, f"by_area.{a}")
        assert results.stats(ben)["mean"] == s["by_area"][a]["mean"]
        npv = outputs.output_array(o, m, f"by_area.{a}.npv")
        assert results.stats(npv)["mean"] == s["by_area_npv"][a]["mean"]
        assert calibrate.statistic(run, f"by_area.{a}.mean") == s["by_area"][a]["mean"]
        assert calibrate.statistic(run, f"by_area.{a}.npv.p50") == s["by_area_npv"][a]["p50"]
    for k in m.stakeholders:
        net = outputs.output_array(o, m, f"by_stakeholder.{k}")
        assert results.stats(net)["mean"] == s["by_stakeholder"][k]["mean"]
    for key in ("npv", "bcr", "costs_pv", "benefits_pv"):
        assert calibrate.statistic(run, f"{key}.mean") == s[key]["mean"]
        assert (
            calibrate.statistic(run, f"fiscal.{key}.p50")
            == (s["perspectives"]["fiscal"][key]["p50"])
        )
    assert calibrate.statistic(run, "prob_npv_positive") == s["prob_npv_positive"]
    # the IRR of the registry is the one summary.json reports
    irr = outputs.output_array(o, m, "irr")
    ok = irr[~np.isnan(irr)]
    assert float(np.median(ok)) == pytest.approx(s["irr"]["p50"], rel=1e-12)
    pay = outputs.output_array(o, m, "payback_year")
    assert np.array_equal(pay, o.payback, equal_nan=True)


def test_by_intervention(prog_run: engine.Run) -> None:
    m, o = prog_run.model, prog_run.outcomes
    s = results.summary(prog_run)
    assert m.programme is not None
    for key in m.programme.ids:
        for part in ("npv", "costs_pv", "benefits_pv"):
            arr = outputs.output_array(o, m, f"by_intervention.{key}.{part}")
            assert results.stats(arr)["mean"] == s["by_intervention"][key][part]["mean"]
        fis = outputs.output_array(o, m, f"fiscal.by_intervention.{key}.npv")
        want = s["by_intervention"][key]["npv_by_perspective"]["fiscal"]["mean"]
        assert math.isclose(results.stats(fis)["mean"], want, rel_tol=0, abs_tol=0)


@pytest.mark.parametrize(
    ("name", "msg"),
    [
        ("by_area.nowhere", "unknown area"),
        ("fiscal.irr", "only available in the scenario's perspective"),
        ("by_intervention.x.npv", "no programme"),
        ("by_area.rotterdam-zuid.net", "an area's output is one of"),
    ],
)
def test_bad_names(run: engine.Run, name: str, msg: str) -> None:
    with pytest.raises(InputError, match=msg):
        outputs.parse_output(run.model, name)


def test_calibrate_names_errors_as_targets(run: engine.Run) -> None:
    with pytest.raises(InputError, match="--target"):
        calibrate.statistic(run, "by_area.nowhere.mean")
    with pytest.raises(InputError, match="must end in one of"):
        calibrate.statistic(run, "npv")
