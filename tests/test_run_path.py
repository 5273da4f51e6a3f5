"""Issue 17 (the `mkba run` path after sampling): faster implied effects, streamed statistics
and bounded output give exactly the numbers of the plain definitions.

Comparisons are equality (``np.array_equal`` / ``==``) unless a test says otherwise.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import mkba as _mkba
from mkba import engine, implied, reference
from mkba.checks import runnable
from mkba.load import load_scenario
from mkba.model import STREAM_SLOTS

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"
EVIDENCE = ROOT / "scenarios" / "evidence-2021.toml"


@pytest.fixture(scope="module")
def evidence():  # type: ignore[no-untyped-def]
    return runnable(load_scenario(EVIDENCE))


def _profile_per_area(m, st):  # type: ignore[no-untyped-def]
    """The effect timing as written before issue 17: one (n, A, S, T) expression over every
    area (docs/model.md), the definition the grouped computation must reproduce."""
    y = m.years.astype(float)[None, None, None, :]
    lag = st["lag"][:, None, :, None]
    start = m.prog_start[None, :, None, None] + lag
    end = m.prog_end[None, :, None, None] + lag
    ramp = st["ramp"][:, None, :, None]
    half_life = st["half_life"][:, None, :, None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ramp_share = np.where(ramp > 0, (np.minimum(y, end) - start + 1.0) / ramp, 1.0)
        ramp_share = np.minimum(ramp_share, 1.0)
        after = np.where(half_life == 0.0, 0.0, 0.5 ** ((y - end) / half_life))
    persist = np.where(y <= end, 1.0, after)
    return np.where(y >= start, ramp_share * persist, 0.0)


def _volume_changes_per_area(m, theta):  # type: ignore[no-untyped-def]
    """implied.volume_changes with the per-area profile above (the code before issue 17)."""
    sl = m.slots
    S = sl.S
    st = {name: theta[:, sl.stream(name) : sl.stream(name) + S] for name in STREAM_SLOTS}
    years = m.years.astype(float)
    profile = _profile_per_area(m, st)
    trend = (1.0 + st["trend"])[:, :, None] ** (years[None, None, :] - m.data_year[None, :, None])
    ratio = m.budget_ratio[None, :, None, :]
    beta = theta[:, sl.glob("elasticity")][:, None, None, None]
    with np.errstate(divide="ignore"):
        powered = np.where(ratio > 0, ratio**beta, 0.0)
    R = (m.response_w[None, None, :, :] * powered).sum(axis=3)
    gp = theta[:, sl.glob("governance_penalty")]
    G = 1.0 - gp[:, None] * np.maximum(0.0, 1.0 - m.gov_ratio)[None, :]
    amp = (
        m.volume0[None, :, :]
        * (
            st["rate"]
            * st["factor"]
            * st["effect"]
            * (1.0 - st["deadweight"])
            * (1.0 - st["displacement"])
        )[:, None, :]
        * R
        * G[:, :, None]
    )
    return np.einsum("nas,nast,nst->nst", amp, profile, trend)


def _with_periods(m):  # type: ignore[no-untyped-def]
    """The model with different programme periods and budget ratios among its areas."""
    ps, pe = m.prog_start.copy(), m.prog_end.copy()
    ps[3:7] += 1
    pe[5:9] += 2
    ps[12] -= 1
    br = m.budget_ratio.copy()
    br[2] *= 1.5
    br[10, 0] = 0.0
    return dataclasses.replace(m, prog_start=ps, prog_end=pe, budget_ratio=br)


def test_area_timing_groups(evidence) -> None:  # type: ignore[no-untyped-def]
    start, end, group = reference.area_timing_groups(evidence)
    assert start.size == 1  # the reference programme runs 2022-2027 in every area
    m = _with_periods(evidence)
    start, end, group = reference.area_timing_groups(m)
    # areas 0-2, 9-11, 13-15 (2022-2027); 3-4 (2023-2027); 5-6 (2023-2029); 7-8 (2022-2029);
    # 12 (2021-2027): five periods
    assert start.size == 5
    assert np.array_equal(start[group], m.prog_start)
    assert np.array_equal(end[group], m.prog_end)


@pytest.mark.parametrize("periods", ["one", "several"])
def test_profile_and_volume_changes_equal_the_per_area_definition(evidence, periods) -> None:  # type: ignore[no-untyped-def]
    m = evidence if periods == "one" else _with_periods(evidence)
    run = engine.simulate(evidence, draws=600, chunk_size=256)
    theta = implied.theta_of_run(run)
    sl = m.slots
    st = {name: theta[:, sl.stream(name) : sl.stream(name) + sl.S] for name in STREAM_SLOTS}
    assert np.array_equal(reference.effect_profile(m, st), _profile_per_area(m, st))
    assert np.array_equal(implied.volume_changes(m, theta), _volume_changes_per_area(m, theta))


def test_volume_changes_of_some_years_equal_those_columns(evidence) -> None:  # type: ignore[no-untyped-def]
    run = engine.simulate(evidence, draws=300, chunk_size=128)
    theta = implied.theta_of_run(run)
    whole = implied.volume_changes(evidence, theta)
    t = np.array([0, 6, 29])
    assert np.array_equal(implied.volume_changes(evidence, theta, t), whole[:, :, t])
    m = _with_periods(evidence)
    assert np.array_equal(
        implied.volume_changes(m, theta, t), implied.volume_changes(m, theta)[:, :, t]
    )


def test_theta_rows_and_physical_effects_by_chunk(evidence) -> None:  # type: ignore[no-untyped-def]
    run = engine.simulate(evidence, draws=1000, chunk_size=256)
    whole = implied.theta_of_run(run)
    assert np.array_equal(implied.theta_rows(run, 300, 700), whole[300:700])
    # chunking and skipping the yearly mean change nothing in the full-strength figures
    a = implied.physical_effects(run, chunk=1000)
    b = implied.physical_effects(run, chunk=97, mean_per_year=False)
    assert a["year_full_strength"] == b["year_full_strength"] == 2027
    for s, doc in a["streams"].items():
        assert "mean_per_year" not in b["streams"][s]
        for k in ("at_full_strength", "baseline", "share_of_baseline"):
            assert b["streams"][s][k] == doc[k]


def test_irr_blocks_on_threads_equal_one_thread(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mkba.decide import irr as irr_mod

    rng = np.random.default_rng(5)
    flow = rng.normal(size=(2500, 12))
    flow[:, :3] -= 2.0  # costs first: most rows have a root
    off = np.arange(12.0)
    monkeypatch.setattr(irr_mod, "_threads", lambda: 1)
    one = irr_mod.irr(flow, off, chunk=300)
    monkeypatch.setattr(irr_mod, "_threads", lambda: 3)
    three = irr_mod.irr(flow, off, chunk=300)
    assert np.array_equal(one.irr, three.irr, equal_nan=True)
    assert np.array_equal(one.roots, three.roots)
    assert np.isfinite(one.irr).mean() > 0.5
    # each root found is a zero of the NPV: sum_t f_t (1 + r)^-t = 0 (to the bisection's 1e-12)
    ok = np.isfinite(one.irr) & (one.roots == 1)
    r = one.irr[ok]
    npv = (flow[ok] * (1.0 + r)[:, None] ** -off[None, :]).sum(axis=1)
    slope = (flow[ok] * off[None, :] * (1.0 + r)[:, None] ** (-off[None, :] - 1)).sum(axis=1)
    assert np.all(np.abs(npv) <= 1e-9 * np.maximum(1.0, np.abs(slope)))


# --- bounded per-area output: mkba run --area-draws all|float32|none -------------------------


def test_area_draws_none_and_float32(tmp_path: Path) -> None:
    import json

    import pyarrow.parquet as pq

    from mkba import api

    kw = {"draws": 1500, "companion": False}
    full = api.run_scenario(REFERENCE, out=tmp_path / "all", **kw)  # type: ignore[arg-type]
    none = api.run_scenario(REFERENCE, out=tmp_path / "none", area_draws="none", **kw)  # type: ignore[arg-type]
    f32 = api.run_scenario(REFERENCE, out=tmp_path / "f32", area_draws="float32", **kw)  # type: ignore[arg-type]
    areas = full.run.model.areas
    cols_all = pq.read_schema(tmp_path / "all" / "draws.parquet")
    cols_none = pq.read_schema(tmp_path / "none" / "draws.parquet")
    cols_f32 = pq.read_schema(tmp_path / "f32" / "draws.parquet")
    area_cols = [f"area.{a}.{k}" for a in areas for k in ("benefits_pv", "costs_pv")]
    # none: exactly the per-area columns left out, every other column the same
    assert cols_none.names == [c for c in cols_all.names if c not in area_cols]
    assert set(area_cols) <= set(cols_all.names)
    a = pq.read_table(tmp_path / "all" / "draws.parquet")
    b = pq.read_table(tmp_path / "none" / "draws.parquet")
    for c in cols_none.names:
        x, y = a.column(c).to_numpy(), b.column(c).to_numpy()
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), c
    # none: the summary is the default run's, number for number (only id and folder differ)
    sa = json.loads((tmp_path / "all" / "summary.json").read_text())
    sn = json.loads((tmp_path / "none" / "summary.json").read_text())
    for k in ("run_id", "output_dir"):
        sa.pop(k), sn.pop(k)
    assert sa == sn
    assert full.summary["run_id"] != none.summary["run_id"] != f32.summary["run_id"]
    man = json.loads((tmp_path / "none" / "manifest.json").read_text())
    assert man["area_draws"] == "none"
    assert "area_draws" not in json.loads((tmp_path / "all" / "manifest.json").read_text())
    # float32: per-area columns in single precision, equal to the float64 values rounded once
    # (the kernel sums each area in float64 and stores it rounded); totals unchanged
    for c in area_cols:
        assert str(cols_f32.field(c).type) == "float"
    o64, o32 = full.run.outcomes, f32.run.outcomes
    assert o32.area_benefits.dtype == np.float32
    assert np.array_equal(o32.area_benefits, o64.area_benefits.astype(np.float32))
    assert np.array_equal(o32.area_costs, o64.area_costs.astype(np.float32))
    for k in ("benefits", "costs", "stream", "component", "flow", "dflow", "payback"):
        assert np.array_equal(getattr(o32, k), getattr(o64, k), equal_nan=True), k
    assert f32.summary["npv"] == full.summary["npv"]
    a1 = areas[0]
    got, exp = f32.summary["by_area"][a1]["mean"], full.summary["by_area"][a1]["mean"]
    assert got == pytest.approx(exp, rel=1e-6)  # float32 rounding: about 7 digits


def test_area_draws_bad_value_exit_2_nothing_written(tmp_path: Path) -> None:
    r = _mkba(
        "run", str(REFERENCE), "--area-draws", "half", "--out", str(tmp_path / "o"), cwd=tmp_path
    )
    assert r.returncode == 2, r.stderr
    assert "--area-draws" in r.stderr and "'half'" in r.stderr and "all, float32, none" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()


def test_areas_listed_twice_are_named(tmp_path: Path) -> None:
    # the duplicate check is linear in the areas (was quadratic: 3 s at 3,000 areas)
    from mkba.errors import InputError

    tiny = ROOT / "tests" / "fixtures" / "tiny" / "scenarios" / "one.toml"
    bad = tmp_path / "dup.toml"
    bad.write_text(
        tiny.read_text()
        .replace('areas = ["a1"]', 'areas = ["a1", "a1"]')
        .replace('"../parameters"', f'"{tiny.parents[1] / "parameters"}"')
    )
    with pytest.raises(InputError, match=r"areas listed twice: \['a1'\]"):
        load_scenario(bad)


@pytest.mark.parametrize("threads", [1, 3])
def test_statistics_on_threads_equal_one_column_at_a_time(monkeypatch, threads) -> None:  # type: ignore[no-untyped-def]
    from mkba import results
    from mkba.schema.scenario import PERSPECTIVES

    run = engine.simulate(runnable(load_scenario(REFERENCE)), draws=2000, chunk_size=512)
    o = run.outcomes

    # every column, computed by the output registry, equals its direct definition
    def col(*key):  # type: ignore[no-untyped-def]
        return results._column(run, key)

    for p, name in enumerate(PERSPECTIVES):
        arr = results.perspective_arrays(run, name)
        for k, v in arr.items():
            assert np.array_equal(col("perspective", p, k), v, equal_nan=True)
        for i in range(len(run.model.streams)):
            assert np.array_equal(col("stream", p, i), o.stream[:, p, i])
    for i in range(len(run.model.areas)):
        assert np.array_equal(col("area_benefits", i), o.area_benefits[:, i])
        assert np.array_equal(col("area_costs", i), o.area_costs[:, i])
        assert np.array_equal(col("area_npv", i), o.area_benefits[:, i] - o.area_costs[:, i])
    for i in range(len(run.model.stakeholders)):
        b, c = o.stakeholder_benefits[:, i], o.stakeholder_costs[:, i]
        assert np.array_equal(col("stakeholder_benefits", i), b)
        assert np.array_equal(col("stakeholder_costs", i), c)
        assert np.array_equal(col("stakeholder_npv", i), b - c)
    for i in range(len(run.model.components)):
        assert np.array_equal(col("component", i), o.component[:, i])
    assert results.output_ref(run, ("area_npv", 0)).name == f"area.{run.model.areas[0]}.npv"
    plain = {k: results.stats(results._column(run, k)) for k in results.statistics_keys(run)}
    monkeypatch.setattr(results, "statistics_threads", lambda: threads)
    with results.shared_statistics():
        results.precompute_statistics(run)
        got = {k: results.column_stats(run, *k) for k in plain}
        summ = results.summary(run)
    assert got == plain
    assert len(plain) == 3 * (4 + len(run.model.streams)) + 3 * len(run.model.areas) + 3 * len(
        run.model.stakeholders
    ) + len(run.model.components)
    assert summ["by_area_npv"][run.model.areas[0]] == results.stats(
        o.area_benefits[:, 0] - o.area_costs[:, 0]
    )
    # without shared_statistics there is nowhere to keep them: nothing happens, no error
    results.precompute_statistics(run)


def test_area_table_index_is_the_first_row_of_the_id() -> None:
    # constant-time lookups (a dict) with tuple.index's answers: first row; unknown id an error
    from mkba.load import AreaTable

    spec = load_scenario(REFERENCE)
    table = spec.params.areas
    for i, a in enumerate(table.ids):
        assert table.index(a) == table.ids.index(a) == i
    t = AreaTable(ids=("a", "b", "a"), text={}, numeric={}, sidecar=table.sidecar)
    assert t.index("a") == 0 and t.index("b") == 1
    with pytest.raises(ValueError, match="'c'"):
        t.index("c")


def test_versions_do_not_import_packages() -> None:
    # the manifest's versions come from installed metadata when a package is not loaded
    code = (
        "import sys; from mkba.output import versions; v = versions(); "
        "import importlib.metadata as md; "
        "assert 'scipy' not in sys.modules and 'pandas' not in sys.modules, sorted(sys.modules); "
        "assert v['scipy'] == md.version('scipy') and v['pandas'] == md.version('pandas'); "
        "import scipy, pandas; w = versions(); "
        "assert w['scipy'] == scipy.__version__ == v['scipy'] and w['pandas'] == pandas.__version__"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr


# --- sampled values spilled to a temporary file (large runs) ---------------------------------


def test_spilled_rows_read_back_what_was_written() -> None:
    from mkba.spill import SpilledRows

    rng = np.random.default_rng(3)
    whole = rng.normal(size=(1000, 7))
    whole[5, 2] = np.nan
    sp = SpilledRows(1000, 7)
    for lo in range(0, 1000, 300):  # written by chunks, as simulate does
        sp.write_rows(lo, whole[lo : lo + 300])
    assert np.array_equal(sp[0:1000], whole, equal_nan=True)
    assert np.array_equal(sp[250:700], whole[250:700])
    assert np.array_equal(sp[250:700, 3], whole[250:700, 3])
    col = sp.column(4)
    assert len(col) == 1000 and col.dtype == np.float64
    assert np.array_equal(col[100:200], whole[100:200, 4])
    assert np.array_equal(np.asarray(col), whole[:, 4])
    assert np.array_equal(np.asarray(sp), whole, equal_nan=True)
    with pytest.raises(TypeError):
        sp[[1, 2]]
    with pytest.raises(ValueError):
        sp.write_rows(900, whole[:200])
    sp.close()


def test_spilled_run_writes_the_same_run_directory(tmp_path: Path) -> None:
    from mkba import api

    spec = load_scenario(REFERENCE)
    m = runnable(spec)
    mem = engine.simulate(m, draws=3000, chunk_size=512)
    spl = engine.simulate(m, draws=3000, chunk_size=512, spill_samples=True)
    assert spl.samples is None and spl.spilled is not None and mem.spilled is None
    assert np.array_equal(np.asarray(spl.spilled), mem.samples)
    for k, v in mem.outcomes.fields().items():
        assert np.array_equal(getattr(spl.outcomes, k), v, equal_nan=True), k
    assert np.array_equal(implied.theta_rows(spl, 700, 1900), implied.theta_rows(mem, 700, 1900))
    assert implied.side_summary(spl) == implied.side_summary(mem)
    kw = {"write": True, "timings": {}, "t0": 0.0, "rid": "x"}
    api.finish_run(mem, spec, out=tmp_path / "mem", **kw)  # type: ignore[arg-type]
    api.finish_run(spl, spec, out=tmp_path / "spl", **kw)  # type: ignore[arg-type]
    for name in ("draws.parquet", "breakdown.parquet", "yearly_quantiles.csv"):
        assert (tmp_path / "mem" / name).read_bytes() == (tmp_path / "spl" / name).read_bytes()
    a = (tmp_path / "mem" / "summary.json").read_text().replace('"mem"', '"spl"')
    assert a == (tmp_path / "spl" / "summary.json").read_text()


def test_mkba_run_spills_only_large_runs(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mkba import api

    small = api.run_scenario(REFERENCE, draws=500, out=tmp_path / "a", companion=False)
    assert small.run.samples is not None and small.run.spilled is None
    monkeypatch.setattr(api, "SPILL_BYTES", 1000)  # as if 500 draws were large
    monkeypatch.setenv("MKBA_DRAWS_STREAM", "0")  # spilled, draws.parquet written after
    big = api.run_scenario(REFERENCE, draws=500, out=tmp_path / "b", companion=True)
    assert big.run.samples is None and big.run.spilled is not None
    monkeypatch.setenv("MKBA_DRAWS_STREAM", "1")  # written while simulated: nothing kept
    streamed = api.run_scenario(REFERENCE, draws=500, out=tmp_path / "c", companion=True)
    assert streamed.run.samples is None and streamed.run.spilled is None
    a = (tmp_path / "a" / "draws.parquet").read_bytes()
    assert a == (tmp_path / "b" / "draws.parquet").read_bytes()
    assert a == (tmp_path / "c" / "draws.parquet").read_bytes()


def test_yearly_quantiles_on_threads_equal_one_thread(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # the three series of yearly_quantiles.parquet are computed on threads (the cumulative one
    # first); the table must be the one a single thread computes, and each series must equal
    # np.quantile / mean over the draws of that year (np.cumsum for the cumulative series)
    from mkba import results

    run = engine.simulate(runnable(load_scenario(REFERENCE)), draws=3000, chunk_size=512)
    monkeypatch.setattr(results, "statistics_threads", lambda: 1)
    one = results.yearly_quantiles(run)
    monkeypatch.setattr(results, "statistics_threads", lambda: 3)
    three = results.yearly_quantiles(run)
    assert one.equals(three)
    o = run.outcomes
    for series, arr in (
        ("net_flow", o.flow),
        ("discounted_net_flow", o.dflow),
        ("cumulative_discounted", np.cumsum(o.dflow, axis=1)),
    ):
        part = three[three.series == series]
        assert np.array_equal(part["p50"].to_numpy(), np.quantile(arr, 0.5, axis=0))
        assert np.allclose(part["mean"].to_numpy(), arr.mean(axis=0), rtol=1e-14, atol=0)
