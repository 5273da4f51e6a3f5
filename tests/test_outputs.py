"""The output registry (mkba.outputs): every name has one meaning, the same in summary.json,
mkba calibrate, mkba sensitivity and the decisions."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mkba import calibrate, compare, engine, outputs, results
from mkba.checks import runnable
from mkba.errors import InputError
from mkba.load import load_scenario
from mkba.schema.scenario import PERSPECTIVES

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


def _old_compare_sections(da: pd.DataFrame, db: pd.DataFrame, p: str) -> dict[str, Any]:
    """compare.compare_sides' own column arithmetic before it read the registry (verbatim),
    to show that the registry gives the same numbers bit for bit."""

    def _diff(col: str) -> np.ndarray:
        return da[col].to_numpy() - db[col].to_numpy()

    doc: dict[str, Any] = {"perspectives": {}, "by_stream": {}, "by_area_npv": {}}
    doc["by_stakeholder"] = {}
    for q in PERSPECTIVES:
        npv = _diff(f"{q}.npv")
        doc["perspectives"][q] = {
            "npv_difference": results.stats(npv),
            "costs_difference": results.stats(_diff(f"{q}.costs_pv")),
            "benefits_difference": results.stats(_diff(f"{q}.benefits_pv")),
            "prob_a_better": float(np.mean(npv > 0)),
            "npv_a": results.stats(da[f"{q}.npv"].to_numpy()),
            "npv_b": results.stats(db[f"{q}.npv"].to_numpy()),
        }
    for col in da.columns:
        if col.startswith(f"{p}.stream.") and col in db.columns:
            doc["by_stream"][col.split(".", 2)[2]] = results.stats(_diff(col))
        if col.startswith("area.") and col.endswith(".benefits_pv") and col in db.columns:
            area = col[len("area.") : -len(".benefits_pv")]
            npv_a = da[col].to_numpy() - da[f"area.{area}.costs_pv"].to_numpy()
            npv_b = db[col].to_numpy() - db[f"area.{area}.costs_pv"].to_numpy()
            doc["by_area_npv"][area] = results.stats(npv_a - npv_b)
        if col.startswith("stakeholder.") and col.endswith(".benefits_pv") and col in db.columns:
            k = col[len("stakeholder.") : -len(".benefits_pv")]
            net_a = da[col].to_numpy() - da[f"stakeholder.{k}.costs_pv"].to_numpy()
            net_b = db[col].to_numpy() - db[f"stakeholder.{k}.costs_pv"].to_numpy()
            doc["by_stakeholder"][k] = results.stats(net_a - net_b)
    return doc


def test_compare_reads_the_registry_bit_identical(run: engine.Run) -> None:
    """mkba compare reads registry outputs from the draws tables: same numbers as its old
    column arithmetic (assert ==, not approx) and as output_array on the outcomes."""
    spec_b = load_scenario(REFERENCE, variant="half_budget")
    run_b = engine.simulate(runnable(spec_b), draws=64, seed=3)
    meta = {"perspective": run.model.spec.scenario.perspective}
    da, db = results.draws_table(run), results.draws_table(run_b)
    doc = compare.compare_sides(compare.Side("a", da, meta), compare.Side("b", db, meta))
    old = _old_compare_sections(da, db, meta["perspective"])
    assert old["by_area_npv"] and old["by_stakeholder"] and old["by_stream"]
    for key in ("perspectives", "by_stream", "by_area_npv", "by_stakeholder"):
        assert doc[key] == old[key], key
    # the table's columns and the outcomes give the same output arrays
    m = run.model
    ids = outputs.table_names(da.columns, meta["perspective"])
    assert ids.areas == tuple(m.areas) and ids.stakeholders == tuple(m.stakeholders)
    assert ids.streams == tuple(m.streams) and ids.components == tuple(m.components)
    for name in outputs.names_of(m):
        ref = outputs.parse_output(m, name)
        if ref.kind in ("intervention", "cumulative", "irr", "payback"):
            with pytest.raises(InputError):
                outputs.table_array(da, outputs.parse_output(ids, name))
            continue
        got = outputs.table_array(da, outputs.parse_output(ids, name))
        assert np.array_equal(got, outputs.output_array(run.outcomes, m, ref), equal_nan=True)


def test_readme_table_is_the_registry() -> None:
    """The README's table of output names is the registry's rows (outputs.readme_table)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("### Output names", 1)[1].split("\n## ", 1)[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|")) + "\n"
    assert table == outputs.readme_table()
    assert table.count("\n") == len(outputs.REGISTRY) + 2


def test_monitor_outcome_table_reads_the_registry_bit_identical(run: engine.Run) -> None:
    """monitor's prior/posterior outcome table reads registry outputs: the same numbers as its
    old column arithmetic on the Outcomes (copied here), compared with ==."""
    from types import SimpleNamespace

    from mkba.monitor import api as mon
    from mkba.monitor import update as up

    m, o0 = run.model, run.outcomes
    o1 = engine.simulate(runnable(load_scenario(REFERENCE)), draws=64, seed=4).outcomes
    w = np.random.default_rng(0).dirichlet(np.ones(64))
    post = mon.Draws(theta=np.zeros((64, 1)), samples=np.zeros((64, 1)), outcomes=o1, w=w)
    obs = SimpleNamespace(pairs=[(0, 0), (len(m.areas) - 1, 0)])
    got = mon._outcome_table(m, obs, o0, post)  # type: ignore[arg-type]  # only .pairs is read
    rows = []
    for p, name in enumerate(PERSPECTIVES):
        for metric, x0, x1 in (
            ("costs_pv", o0.costs[:, p], o1.costs[:, p]),
            ("benefits_pv", o0.benefits[:, p], o1.benefits[:, p]),
            ("npv", o0.npv[:, p], o1.npv[:, p]),
            ("bcr", o0.bcr[:, p], o1.bcr[:, p]),
        ):
            rows.append({"perspective": name, **mon._stat_row("outcome", metric, "", x0, x1, w)})
        rows.append(
            {
                "perspective": name,
                "kind": "outcome",
                "name": "prob_npv_positive",
                "area_id": "",
                "prior_mean": float(np.mean(o0.npv[:, p] > 0)),
                "post_mean": float(np.sum(w * (o1.npv[:, p] > 0))),
            }
        )
    for a in sorted({p[0] for p in obs.pairs}):
        x0 = o0.area_benefits[:, a] - o0.area_costs[:, a]
        x1 = o1.area_benefits[:, a] - o1.area_costs[:, a]
        row = mon._stat_row("area", "npv", m.areas[a], x0, x1, w)
        rows.append({"perspective": m.spec.scenario.perspective, **row})
    pd.testing.assert_frame_equal(got, pd.DataFrame(rows), check_exact=True)
    assert up.weighted_stats(o0.npv[:, 0])["mean"] == got.iloc[2]["prior_mean"]


def test_programme_results_read_the_registry_bit_identical(prog_run: engine.Run) -> None:
    """programme_results.by_intervention reads registry outputs: equal (==) to its old
    arithmetic on int_benefits / int_costs (copied here)."""
    from mkba import programme_results

    m, o = prog_run.model, prog_run.outcomes
    assert m.programme is not None
    doc = programme_results.by_intervention(prog_run)
    p0 = PERSPECTIVES.index(m.spec.scenario.perspective)
    for mi, key in enumerate(m.programme.ids):
        ben, cost = o.int_benefits[:, mi, p0], o.int_costs[:, mi, p0]
        with np.errstate(divide="ignore", invalid="ignore"):
            bcr = np.where(cost > 0, ben / cost, np.nan)
        d = doc[key]
        assert d["costs_pv"] == results.stats(cost) and d["benefits_pv"] == results.stats(ben)
        assert d["npv"] == results.stats(ben - cost)
        for stat, want_bcr in results.stats(bcr).items():
            assert np.array_equal(d["bcr"][stat], want_bcr, equal_nan=True), stat
        assert d["prob_npv_positive"] == float(np.mean(ben - cost > 0))
        for j, p in enumerate(PERSPECTIVES):
            want = results.stats(o.int_benefits[:, mi, j] - o.int_costs[:, mi, j])
            assert d["npv_by_perspective"][p] == want
