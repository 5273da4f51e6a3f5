"""Issue 17 (part A): the faster statistics and output give exactly the old numbers.

Every comparison here is equality, not closeness: the statistics must stay bit-identical.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from mkba import api, compile_notice, engine, results
from mkba.checks import runnable
from mkba.load import load_scenario
from mkba.output import write_columns, write_table
from mkba.schema.scenario import PERSPECTIVES

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"
PROGRAMME = ROOT / "scenarios" / "wijkprogramma-example.toml"


def _run(path: Path, draws: int = 3000) -> engine.Run:
    return engine.simulate(runnable(load_scenario(path)), draws=draws, chunk_size=512)


def _stats_each_time(run: engine.Run) -> dict:  # type: ignore[type-arg]
    """The statistics as computed before issue 17: stats() on every column, every time."""
    o = run.outcomes
    out = {}
    for p in range(len(PERSPECTIVES)):
        for metric, arr in results.perspective_arrays(run, PERSPECTIVES[p]).items():
            out[("perspective", p, metric)] = results.stats(arr)
        for i in range(o.stream.shape[2]):
            out[("stream", p, i)] = results.stats(o.stream[:, p, i])
    for i in range(o.area_benefits.shape[1]):
        out[("area_benefits", i)] = results.stats(o.area_benefits[:, i])
        out[("area_costs", i)] = results.stats(o.area_costs[:, i])
        out[("area_npv", i)] = results.stats(o.area_benefits[:, i] - o.area_costs[:, i])
    for i in range(o.stakeholder_benefits.shape[1]):
        b, c = o.stakeholder_benefits[:, i], o.stakeholder_costs[:, i]
        out[("stakeholder_benefits", i)] = results.stats(b)
        out[("stakeholder_costs", i)] = results.stats(c)
        out[("stakeholder_npv", i)] = results.stats(b - c)
    for i in range(o.component.shape[1]):
        out[("component", i)] = results.stats(o.component[:, i])
    return out


def _stats_before_issue_17(x: np.ndarray) -> dict[str, float]:
    """results.stats as it was: masked copy, std, quantiles, then the mean."""
    x = np.asarray(x, dtype=float)
    ok = x[~np.isnan(x)]
    n = ok.size
    if n == 0:
        return dict.fromkeys(("mean", "se", "p5", "p50", "p95", "sd"), np.nan)
    sd = float(ok.std(ddof=1)) if n > 1 else 0.0
    q = np.quantile(ok, results.QUANTILES)
    out = {
        "mean": float(ok.mean()),
        "se": sd / np.sqrt(n) if n > 1 else np.nan,
        "p5": float(q[0]),
        "p50": float(q[1]),
        "p95": float(q[2]),
        "sd": sd,
    }
    if n != x.size:
        out["share_defined"] = n / x.size
    return out


def test_stats_equal_the_old_definition_exactly() -> None:
    rng = np.random.default_rng(17)
    base = rng.lognormal(3.0, 2.0, size=(5001, 3)) - 40.0
    with_nan = base[:, 1].copy()
    with_nan[rng.integers(0, 5001, 700)] = np.nan
    cases = [base[:, 0], base[:, 2], with_nan, base[:2, 0], base[:1, 0], np.array([np.nan])]
    for x in cases:
        before = x.copy()
        got, want = results.stats(x), _stats_before_issue_17(x)
        assert got.keys() == want.keys()
        for k in want:
            assert got[k] == want[k] or (np.isnan(got[k]) and np.isnan(want[k])), k
        assert np.array_equal(x, before, equal_nan=True)  # the caller's array is untouched
    contiguous = np.ascontiguousarray(base[:, 0])
    keep = contiguous.copy()
    results.stats(contiguous)
    assert np.array_equal(contiguous, keep)


def test_shared_statistics_equal_the_statistics_of_each_column() -> None:
    run = _run(REFERENCE)
    expected = _stats_each_time(run)
    plain = results.summary(run)
    with results.shared_statistics():
        for key, want in expected.items():
            assert results.column_stats(run, *key) == want, key
            assert results.column_stats(run, *key) == want, key  # second time from the memo
        shared = results.summary(run)
        table = results.summary_table(run)
        breakdown = results.breakdown_table(run)
    assert shared == plain
    assert results.summary_table(run).equals(table)
    assert results.breakdown_table(run).equals(breakdown)


def test_memo_is_not_used_outside_the_block_or_for_another_run() -> None:
    a, b = _run(REFERENCE, 600), _run(REFERENCE, 700)
    with results.shared_statistics():
        sa = results.column_stats(a, "perspective", 0, "npv")
        sb = results.column_stats(b, "perspective", 0, "npv")
    assert sa == results.stats(a.outcomes.npv[:, 0])
    assert sb == results.stats(b.outcomes.npv[:, 0])
    assert sa != sb
    a.outcomes.npv[:, 0] += 1.0  # outside the block nothing is remembered
    assert results.column_stats(a, "perspective", 0, "npv") == results.stats(a.outcomes.npv[:, 0])


def test_yearly_quantiles_equal_numpy_quantiles_along_the_draws() -> None:
    run = _run(REFERENCE)
    o = run.outcomes
    got = results.yearly_quantiles(run)
    for series, arr in (
        ("net_flow", o.flow),
        ("discounted_net_flow", o.dflow),
        ("cumulative_discounted", np.cumsum(o.dflow, axis=1)),
    ):
        want = np.quantile(arr, results.FAN_QUANTILES, axis=0)  # the definition before issue 17
        rows = got[got.series == series]
        assert np.array_equal(rows["mean"].to_numpy(), arr.mean(axis=0)), series
        for k, q in enumerate(results.FAN_QUANTILES):
            assert np.array_equal(rows[f"p{round(q * 100)}"].to_numpy(), want[k]), (series, q)


def test_cumulative_year_statistics_equal_the_whole_array() -> None:
    rng = np.random.default_rng(3)
    for n, years in ((10_000, 30), (777, 5), (3, 4), (1, 3), (70_000, 3)):
        d = rng.lognormal(0.0, 3.0, (n, years)) * rng.choice([-1.0, 1.0], (n, years))
        if n == 777:
            d[:, 0] = -0.0  # a year of negative zeros only: the mean over the draws is +0
            d[5, 3] = np.nan
        cum = np.cumsum(d, axis=1)
        qs, mean, dqs = results._cumulative_year_stats(d, d.mean(axis=0))
        assert np.array_equal(qs, np.quantile(cum, results.FAN_QUANTILES, axis=0), equal_nan=True)
        assert np.array_equal(dqs, np.quantile(d, results.FAN_QUANTILES, axis=0), equal_nan=True)
        want = cum.mean(axis=0)
        assert np.array_equal(mean, want, equal_nan=True)
        assert np.array_equal(np.signbit(mean), np.signbit(want))


def test_draws_parquet_holds_the_draws_table_exactly(tmp_path: Path) -> None:
    run = _run(PROGRAMME, 2500)
    cols = results.draws_columns(run)
    write_columns(tmp_path, "draws", cols, group_rows=1024)
    back = pd.read_parquet(tmp_path / "draws.parquet")
    pd.testing.assert_frame_equal(back, results.draws_table(run), check_exact=True)
    meta = pq.ParquetFile(tmp_path / "draws.parquet").metadata
    assert meta.num_rows == 2500
    assert meta.num_row_groups == 3  # 1024 + 1024 + 452 rows, one group at a time
    for j in range(meta.num_columns):  # floats plain, not dictionary encoded
        col = meta.row_group(0).column(j)
        if col.physical_type == "DOUBLE":
            assert not any("DICT" in e for e in col.encodings), col.path_in_schema


def test_written_tables_read_back_equal(tmp_path: Path) -> None:
    df = pd.DataFrame({"name": ["a", "=b", "c"], "x": [0.1, -2.5, np.nan], "n": [1, 2, 3]})
    write_table(tmp_path, "t", df)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), df, check_exact=True)
    buf = io.StringIO((tmp_path / "t.csv").read_text())
    assert pd.read_csv(buf)["name"].tolist() == ["a", "'=b", "c"]


def test_run_directory_draws_equal_the_runs_draws(tmp_path: Path) -> None:
    res = api.run_scenario(REFERENCE, draws=1500, out=tmp_path / "r")
    back = pd.read_parquet(tmp_path / "r" / "draws.parquet")
    pd.testing.assert_frame_equal(back, results.draws_table(res.run), check_exact=True)


class _FakeDispatcher:
    """Stands in for a numba dispatcher: compiled in-process or not, cache index or not."""

    def __init__(self, overloads: dict, index: dict | None) -> None:  # type: ignore[type-arg]
        self.overloads = overloads
        self._index = index

        class _File:
            def _load_index(inner) -> dict:  # type: ignore[no-untyped-def,type-arg]  # noqa: N805
                if self._index is None:
                    raise AttributeError("moved")
                return self._index

        class _Cache:
            _cache_file = _File()

        class _Codegen:
            def magic_tuple(self) -> tuple[str, str, str]:
                return ("x86_64", "cpu", "+avx")

        class _Ctx:
            def codegen(self) -> _Codegen:
                return _Codegen()

        self._cache = _Cache()
        self.targetctx = _Ctx()


def test_compile_notice_only_when_the_engine_is_not_cached(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    here = ("x86_64", "cpu", "+avx")
    cached = _FakeDispatcher({}, {("sig", here, ("h", "h")): "file"})
    other_cpu = _FakeDispatcher({}, {("sig", ("x86_64", "old", ""), ("h", "h")): "file"})
    loaded = _FakeDispatcher({"sig": object()}, {})
    unknown = _FakeDispatcher({}, None)
    assert compile_notice.is_cached(cached)
    assert not compile_notice.is_cached(other_cpu)
    assert not compile_notice.is_cached(_FakeDispatcher({}, {}))  # no index, or a stale one
    assert compile_notice.is_cached(loaded)
    assert compile_notice.is_cached(unknown)  # cannot tell: say nothing

    monkeypatch.setattr(compile_notice, "_announced", False)
    assert not compile_notice.announce([cached, loaded])
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(compile_notice, "_announced", False)
    assert compile_notice.announce([cached, other_cpu])
    err = capsys.readouterr().err
    assert "compiling the simulation engine once" in err and "s on a 2-core machine" in err
    assert not compile_notice.announce([other_cpu])  # once per process
    assert capsys.readouterr().err == ""


def test_real_engine_is_found_in_the_disk_cache_by_a_new_process() -> None:
    m = runnable(load_scenario(REFERENCE))
    engine.simulate(m, draws=64, chunk_size=64)  # compiles or loads: the cache is on disk now
    probe = (
        "from mkba import compile_notice, kernel; "
        "print(compile_notice.is_cached(kernel.simulate_chunk), "
        "compile_notice.is_cached(kernel.aggregate), bool(kernel.simulate_chunk.overloads))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "False"]  # on disk, not loaded yet


def test_a_part_compiled_later_is_announced_once_when_not_cached(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """compile_notice.announce_part: a line on stderr naming the part and its estimate when
    the dispatcher is not cached, once per process for that part; nothing when cached."""
    here = ("x86_64", "cpu", "+avx")
    cached = _FakeDispatcher({}, {("sig", here, ("h", "h")): "file"})
    cold = _FakeDispatcher({}, {})
    monkeypatch.setattr(compile_notice, "_parts", set())
    assert not compile_notice.announce_part(cached, "the IRR", "about 10 s")
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(compile_notice, "_parts", set())
    assert compile_notice.announce_part(cold, "the IRR", "about 10 s")
    err = capsys.readouterr().err
    assert err == "mkba: compiling the IRR once (about 10 s); later runs load it from the cache\n"
    assert not compile_notice.announce_part(cold, "the IRR", "about 10 s")  # once
    assert compile_notice.announce_part(cold, "another part", "1 s")  # each part once
    capsys.readouterr()


def test_the_irr_announces_its_compile_only_when_it_compiles(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The IRR's compiled path asks compile_notice about _scan_bisect (once per process): a
    message when it is not cached; the same numbers either way (the compiled IRR)."""
    from mkba.decide import irr as irr_mod

    asked: list[object] = []

    def not_cached(d: object) -> bool:
        asked.append(d)
        return False

    monkeypatch.setattr(compile_notice, "_parts", set())
    monkeypatch.setattr(compile_notice, "is_cached", not_cached)
    flows = np.array([[-100.0, 30.0, 40.0, 50.0, 20.0], [-50.0, 10.0, 10.0, 10.0, 40.0]])
    offsets = np.arange(5, dtype=np.int64)
    first = irr_mod.irr(flows, offsets)
    second = irr_mod.irr(flows, offsets)
    assert asked == [irr_mod._scan_bisect]  # checked once per process
    err = capsys.readouterr().err
    assert err.count("mkba: compiling the IRR once (about 10 s)") == 1
    np.testing.assert_array_equal(first.irr, second.irr)
    # the same as the NumPy twin (tests/test_irr_compile.py compares the two in general)
    want_irr, want_roots = np.empty(2), np.empty(2, dtype=np.int64)
    v = irr_mod._npv_one_blas_thread(flows, offsets)
    irr_mod._scan_bisect_numpy(flows, offsets, v, 0, 2, want_irr, want_roots)
    np.testing.assert_array_equal(first.irr, want_irr)
    assert first.irr[0] > 0 and first.irr[1] > 0  # both flows pay back: a root each
