"""Issue 17, target 3 (a million draws): the side summary, draws.parquet and the run's
orchestration made faster give exactly what the plain definitions give.

Comparisons are equality (``np.array_equal`` / ``==`` / the same bytes).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mkba import api, engine, implied, output, pqwrite, results
from mkba.checks import runnable
from mkba.load import load_scenario
from mkba.output import RowGroups, atomic_writer, write_columns
from mkba.schema.scenario import PERSPECTIVES
from mkba.spill import SpilledRows
from test_run_path import _with_periods

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"
EVIDENCE = ROOT / "scenarios" / "evidence-2021.toml"


@pytest.fixture(scope="module")
def evidence():  # type: ignore[no-untyped-def]
    return runnable(load_scenario(EVIDENCE))


@pytest.fixture(scope="module")
def evidence_run(evidence):  # type: ignore[no-untyped-def]
    return engine.simulate(evidence, draws=1500, chunk_size=512)


# --- implied physical effects at full strength -------------------------------------------------


@pytest.mark.parametrize("periods", ["one", "several"])
def test_full_strength_equals_volume_changes_of_that_year(evidence, evidence_run, periods) -> None:  # type: ignore[no-untyped-def]
    m = evidence if periods == "one" else _with_periods(evidence)
    theta = implied.theta_of_run(evidence_run)
    last = int(m.prog_end.max() - m.years[0])
    for t in (last, 0, 3, len(m.years) - 1):
        fs = implied.FullStrength(m, t)
        for rows in (slice(None), slice(0, 1), slice(7, 8), slice(100, 611)):  # n = 1 too
            full, base = fs(theta[rows])
            want = implied.volume_changes(m, theta[rows], np.array([t]))[:, :, 0]
            assert np.array_equal(full, want)
            assert np.array_equal(base, implied.baseline_volumes(m, theta[rows]))


def test_full_strength_with_nan_and_zero_effects(evidence, evidence_run) -> None:  # type: ignore[no-untyped-def]
    # NaN parameters propagate as in the NumPy expression; a zero effect (signed zeros in the
    # products) sums to the same zero
    theta = implied.theta_of_run(evidence_run)[:50].copy()
    sl = evidence.slots
    theta[3, sl.stream("effect") + 1] = np.nan
    theta[4, sl.stream("effect") : sl.stream("effect") + sl.S] = 0.0
    theta[5, sl.stream("deadweight") + 2] = 1.0
    theta[6, sl.glob("elasticity")] = np.nan
    last = int(evidence.prog_end.max() - evidence.years[0])
    full, _ = implied.FullStrength(evidence, last)(theta)
    want = implied.volume_changes(evidence, theta, np.array([last]))[:, :, 0]
    assert np.array_equal(full, want, equal_nan=True)
    assert np.array_equal(np.signbit(full), np.signbit(want))
    assert np.isnan(full[3, 1])


def test_physical_effects_full_strength_alone_equal_the_whole_computation(evidence_run) -> None:  # type: ignore[no-untyped-def]
    whole = implied.physical_effects(evidence_run, chunk=700)  # every year, the old path
    for chunk in (None, 1, 333, 5000):
        fast = implied.physical_effects(evidence_run, chunk=chunk, mean_per_year=False)
        assert fast["year_full_strength"] == whole["year_full_strength"]
        for s, doc in whole["streams"].items():
            want = {k: v for k, v in doc.items() if k != "mean_per_year"}
            assert fast["streams"][s] == want
    lean = implied.physical_effects(evidence_run, mean_per_year=False, share=False)
    for s, doc in lean["streams"].items():
        assert "share_of_baseline" not in doc
        assert doc["at_full_strength"] == whole["streams"][s]["at_full_strength"]


def test_quantiles_on_threads_equal_one_at_a_time(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(5)
    cols = {k: rng.lognormal(size=1001) for k in range(9)}
    cols[9] = np.array([1.0])
    want = {k: implied._q(v) for k, v in cols.items()}
    monkeypatch.setattr(results, "statistics_threads", lambda: 3)
    assert implied._quantiles_on_threads(cols) == want
    monkeypatch.setattr(results, "statistics_threads", lambda: 1)
    assert implied._quantiles_on_threads(cols) == want


# --- the side summary --------------------------------------------------------------------------


def test_side_summary_perspectives_are_the_plain_statistics(evidence_run) -> None:  # type: ignore[no-untyped-def]
    # what side_summary gave before issue 17's third round: stats() of perspective_arrays
    plain = {
        p: {k: results.stats(v) for k, v in results.perspective_arrays(evidence_run, p).items()}
        | {
            "prob_npv_positive": float(
                np.mean(results.perspective_arrays(evidence_run, p)["npv"] > 0)
            )
        }
        for p in PERSPECTIVES
    }
    alone = implied.side_summary(evidence_run)
    with results.shared_statistics():
        shared = implied.side_summary(evidence_run)
        # inside a run's block, its summary finds the statistics computed
        assert (
            results.column_stats(evidence_run, "perspective", 0, "npv")
            == plain[PERSPECTIVES[0]]["npv"]
        )
    assert alone == shared
    assert alone["perspectives"] == plain


def test_run_with_companion_side_by_side_as_before(tmp_path: Path) -> None:
    # the companion is summarised on its own, the run's side summary inside finish_run
    res = api.run_scenario(REFERENCE, draws=800, out=tmp_path / "r", companion=True)
    other = runnable(load_scenario(EVIDENCE))
    orun = engine.simulate(other, draws=800)
    want = implied.ordered(implied.side_summary(res.run), implied.side_summary(orun))
    assert res.summary["side_by_side"] == want
    assert [d["role"] for d in res.summary["side_by_side"]] == ["evidence", "reconstruction"]


# --- draws.parquet: row groups made contiguous ---------------------------------------------------


def _plain_write(folder: Path, columns: dict, group_rows: int) -> bytes:  # type: ignore[type-arg]
    """write_columns as it was before RowGroups (one strided copy per column and row group,
    through the page cache), with its compression per column (decided on the first row group),
    through the same Parquet writer (mkba.pqwrite; tests/test_pqwrite.py compares its files with
    pyarrow's writer's)."""
    schema = pa.schema([(k, pa.from_numpy_dtype(v.dtype)) for k, v in columns.items()])
    n = len(next(iter(columns.values())))
    first = [np.ascontiguousarray(v[:group_rows]) for v in columns.values()]
    codecs = output.column_compression(schema, first)
    dtypes = [v.dtype for v in columns.values()]
    with atomic_writer(folder / "plain.parquet") as fh:
        writer = pqwrite.ColumnsWriter(fh, schema, dtypes, codecs, created_by=output._created_by())
        for lo in range(0, n, group_rows):
            hi = min(n, lo + group_rows)
            writer.write_row_group([np.ascontiguousarray(v[lo:hi]) for v in columns.values()])
        writer.close()
    return (folder / "plain.parquet").read_bytes()


def _columns(n: int) -> dict:  # type: ignore[type-arg]
    rng = np.random.default_rng(11)
    three = rng.normal(size=(n, 4, 3))
    two = rng.normal(size=(n, 5))
    two[min(2, n - 1), 1] = np.nan
    fortran = np.asfortranarray(rng.normal(size=(n, 3)).astype(np.float32))
    wide = rng.normal(size=(n + 3, 2))
    return {
        "draw": np.arange(n),
        "a.0": two[:, 0],
        "three.1.2": three[:, 1, 2],
        "a.4": two[:, 4],
        "three.0.0": three[:, 0, 0],
        "a.1": two[:, 1],
        "f32.2": fortran[:, 2],  # contiguous column: handed over as it is
        "rows": wide[3:, 1],  # a view of some rows: not its owner's column, copied plainly
        "every": rng.normal(size=2 * n)[::2],  # strided view of a 1-D array: copied plainly
        "plain": rng.normal(size=n),
        "ints": rng.integers(0, 5, n),
    }


@pytest.mark.parametrize(("n", "group"), [(2500, 1024), (1024, 1024), (1, 7), (3000, 5000)])
def test_write_columns_same_file_as_one_copy_per_column(tmp_path: Path, n: int, group: int) -> None:
    cols = _columns(n)
    sp = SpilledRows(n, 4)
    sp.write_rows(0, np.random.default_rng(2).normal(size=(n, 4)))
    cols |= {f"param.{j}": sp.column(j) for j in (2, 0, 3)}
    plain = {k: (np.asarray(v) if k.startswith("param.") else v) for k, v in cols.items()}
    want = _plain_write(tmp_path, plain, group)
    write_columns(tmp_path, "draws", cols, group_rows=group)
    assert (tmp_path / "draws.parquet").read_bytes() == want
    assert pq.read_table(tmp_path / "draws.parquet").num_rows == n


def test_row_groups_share_one_transposition_per_array() -> None:
    n = 3000
    three = np.random.default_rng(1).normal(size=(n, 2, 3))
    cols = [three[:, 1, 0], three[:, 0, 2], np.arange(n)]
    groups = RowGroups(cols, 1024)
    assert [k for k, _, _ in groups.plan] == ["parent", "parent", "plain"]
    assert len(groups.parents) == 1  # both columns come from one transposed block
    for lo in range(0, n, 1024):
        got = groups.rows(lo, lo + 1024)
        for v, g in zip(cols, got, strict=True):
            assert g.flags.c_contiguous and np.array_equal(g, v[lo : lo + 1024])
    # rows asked in any order and size (the buffers grow when needed)
    small = RowGroups(cols, 1024)
    for lo, hi in ((2990, 3000), (0, 2500), (7, 8)):
        for v, g in zip(cols, small.rows(lo, hi), strict=True):
            assert np.array_equal(g, v[lo:hi])


def test_spilled_rows_read_into_a_buffer() -> None:
    whole = np.random.default_rng(4).normal(size=(50, 3))
    sp = SpilledRows(50, 3)
    sp.write_rows(0, whole)
    buf = np.empty((20, 3))
    sp.read_rows(10, 30, buf)
    assert np.array_equal(buf, whole[10:30])
    assert sp.column(1).rows_source() == (sp, 1)
    with pytest.raises(ValueError):
        sp.read_rows(40, 60, buf)
    with pytest.raises(ValueError):
        sp.read_rows(0, 20, np.empty((20, 3), dtype=np.float32))
    sp.close()


def test_write_columns_stops_when_cancelled(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(output.WriteCancelledError):
        write_columns(tmp_path, "draws", _columns(100), group_rows=10, cancel=stop)
    assert list(tmp_path.iterdir()) == []  # not even a temporary file


# --- the run directory with draws.parquet written on its own thread -----------------------------


def test_failed_statistics_leave_nothing_and_stop_the_writer(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def boom(run):  # type: ignore[no-untyped-def]
        raise RuntimeError("statistics failed")

    monkeypatch.setattr(results, "convergence", boom)
    with pytest.raises(RuntimeError, match="statistics failed"):
        api.run_scenario(REFERENCE, draws=3000, out=tmp_path / "r")
    assert list(tmp_path.iterdir()) == []
    # folders made for the run directory go too (as before: nothing was made before the
    # statistics); a folder that was there stays
    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError, match="statistics failed"):
        api.run_scenario(REFERENCE, draws=600, out=tmp_path / "kept" / "new" / "deeper" / "r")
    assert list(tmp_path.iterdir()) == [tmp_path / "kept"]
    assert list((tmp_path / "kept").iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name == "mkba-draws"]


def test_failed_draws_writer_fails_the_run(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def full_disk(*a, **k):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    from mkba import drawstream

    monkeypatch.setattr(drawstream, "write_columns", full_disk)  # the writer's thread calls it
    with pytest.raises(OSError, match="No space"):
        api.run_scenario(REFERENCE, draws=600, out=tmp_path / "r")
    assert list(tmp_path.iterdir()) == []


def test_run_directory_files_in_their_order(tmp_path: Path) -> None:
    res = api.run_scenario(REFERENCE, draws=700, out=tmp_path / "r")
    files = res.manifest["files"]
    assert files[: files.index("draws.parquet") + 2] == [
        "summary.json",
        "summary.parquet",
        "summary.csv",
        "breakdown.parquet",
        "breakdown.csv",
        "draws.parquet",
        "yearly_quantiles.parquet",
    ]
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == sorted([*files, "manifest.json"])
    t = res.manifest["timings"]
    assert t["draws_parquet_s"] >= 0.0
    assert t["draws_parquet_cpu_s"] > 0.0  # the writer's CPU, its writing thread included
    assert 0.0 <= t["draws_parquet_wait_s"] <= t["write_s"]  # write_s's wait for the writer
    # CPU seconds of the statistics (the process's over their span, less draws.parquet's writer
    # as /proc counts it, in 10 ms ticks) and of the simulation (less the sink's thread)
    assert t["statistics_cpu_s"] > -0.05
    assert t["simulate_cpu_s"] > 0.0


def test_thread_cpu_s_counts_a_busy_thread_only() -> None:
    import threading
    import time

    from mkba.output import thread_cpu_s

    ids: list[int] = []
    spun, done = threading.Event(), threading.Event()

    def busy() -> None:
        ids.append(threading.get_native_id())
        end = time.thread_time() + 0.3  # 0.3 s of this thread's own CPU
        while time.thread_time() < end:
            pass
        spun.set()
        done.wait()  # alive, idle, while it is read

    th = threading.Thread(target=busy)
    th.start()
    spun.wait()
    seen = thread_cpu_s(ids)
    done.set()
    th.join()
    # 0.3 s spun, counted in ticks of 10 ms (and the thread's start and wait add a little)
    assert 0.28 <= seen < 0.5
    # a thread id with no entry under /proc/self/task (above the system's largest id) counts 0
    absent = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    assert thread_cpu_s([absent]) == 0.0
    assert thread_cpu_s([]) == 0.0


# --- implied effects computed while simulating ---------------------------------------------------


def test_full_strength_sink_equals_physical_effects_afterwards(evidence) -> None:  # type: ignore[no-untyped-def]
    plain = engine.simulate(evidence, draws=1300, chunk_size=512)
    want = implied.physical_effects(plain, mean_per_year=False)
    sink = implied.FullStrengthSink(evidence, 1300)
    run = engine.simulate(evidence, draws=1300, chunk_size=512, keep_samples=False, on_samples=sink)
    assert run.samples is None and run.spilled is None  # nothing kept
    for k, v in plain.outcomes.fields().items():  # the simulation itself is unchanged
        assert np.array_equal(getattr(run.outcomes, k), v, equal_nan=True), k
    with pytest.raises(ValueError, match="keep_samples"):
        implied.physical_effects(run, mean_per_year=False)  # no samples to read back
    sink.attach(run)
    lean = {
        s: {k: v for k, v in d.items() if k != "share_of_baseline"}
        for s, d in want["streams"].items()
    }
    assert run._side_physical == {"year_full_strength": want["year_full_strength"], "streams": lean}  # type: ignore[attr-defined]
    assert implied.side_summary(run) == implied.side_summary(plain)
    # the every-year figures still need the samples
    with pytest.raises(ValueError, match="keep_samples"):
        implied.physical_effects(run)


def test_full_strength_sink_checks_its_run(evidence) -> None:  # type: ignore[no-untyped-def]
    sink = implied.FullStrengthSink(evidence, 700)
    spilled = engine.simulate(evidence, draws=600, spill_samples=True, on_samples=sink)
    assert spilled.spilled is not None  # spilled samples pass by the sink too
    with pytest.raises(ValueError, match="other draws"):
        sink.attach(spilled)
    big = implied.FullStrengthSink(evidence, 5000)
    run = engine.simulate(evidence, draws=5000, chunk_size=4096, spill_samples=True, on_samples=big)
    assert implied.side_summary(big.attach(run)) == implied.side_summary(
        engine.simulate(evidence, draws=5000, chunk_size=4096)
    )


def test_write_columns_small_steps_same_file(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # transposition and reading in steps that do not divide the row group
    monkeypatch.setattr(output, "TRANSPOSE_ROWS", 300)
    monkeypatch.setattr(output, "READ_ROWS", 700)
    n = 2600
    cols = _columns(n)
    sp = SpilledRows(n, 5)
    sp.write_rows(0, np.random.default_rng(8).normal(size=(n, 5)))
    cols |= {f"param.{j}": sp.column(j) for j in range(5)}
    plain = {k: (np.asarray(v) if k.startswith("param.") else v) for k, v in cols.items()}
    want = _plain_write(tmp_path, plain, 1024)
    write_columns(tmp_path, "draws", cols, group_rows=1024)
    assert (tmp_path / "draws.parquet").read_bytes() == want


@pytest.mark.parametrize("periods", ["one", "several"])
def test_full_strength_of_samples_equals_of_theta(evidence, periods) -> None:  # type: ignore[no-untyped-def]
    m = evidence if periods == "one" else _with_periods(evidence)
    ref = runnable(load_scenario(REFERENCE))
    for model, run in (
        (m, engine.simulate(evidence, draws=2100, chunk_size=512)),
        (ref, engine.simulate(ref, draws=900)),
    ):
        assert run.samples is not None
        fs = implied.FullStrength(model, implied.full_strength_index(model))
        for rows in (slice(None), slice(0, 1), slice(5, 6), slice(300, 1111)):
            block = run.samples[rows]
            a = fs.of_samples(block)
            b = fs(implied.theta_of_samples(model, block))
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_run_directory_entries_synced_once(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # every file's data is fsync'ed as it is written; the folder's entries once, before the
    # folder is renamed into place, then its parent (not after every file)
    synced: list[str] = []
    files: list[int] = []
    monkeypatch.setattr(output, "_fsync_dir", lambda p: synced.append(Path(p).name))
    real = output.os.fsync
    monkeypatch.setattr(output.os, "fsync", lambda fd: (files.append(fd), real(fd))[1])
    final = tmp_path / "run"
    with output.run_directory(final) as tmp:
        for name in ("a.json", "b.json", "c.json"):
            output.write_json(tmp / name, {"x": 1})
        output.write_json(tmp / "sub" / "d.json", {"y": 2})  # a subfolder syncs its own
        assert synced == ["sub"]
        assert tmp in output._SYNCED_LATER
    assert synced == ["sub", tmp.name, tmp_path.name]
    assert len(files) == 4  # one per file
    assert not output._SYNCED_LATER
    assert sorted(p.name for p in final.iterdir()) == ["a.json", "b.json", "c.json", "sub"]
    # outside a run directory a file's folder is synced after each rename, as before
    synced.clear()
    output.write_json(tmp_path / "alone.json", {})
    assert synced == [tmp_path.name]


# --- batches in process: a job reuses the arrays of the one before ------------------------------


def test_batch_jobs_reuse_arrays_and_write_what_they_write_alone(
    monkeypatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from mkba import batch as bt

    jobs = bt.expand_jobs([REFERENCE], ["half_budget", "wlo_high"])
    taken: list[bool] = []
    real_take = bt._ArrayPool.take

    def spy(self, draws, m):  # type: ignore[no-untyped-def]
        before = self._slab
        got = real_take(self, draws, m)
        taken.append(before is not None and self._slab is before)
        return got

    monkeypatch.setattr(bt._ArrayPool, "take", spy)
    together = bt.run_batch(jobs, out=tmp_path / "together", draws=1500, seed=3)
    # the base job and two variants in one memory mapping: wlo_high samples more parameters
    # (91, not 86) and still fits (the mapping's room to spare)
    assert taken == [False, True, True]
    assert bt._POOL.get() is None  # let go when the batch ends
    for job, jr in zip(jobs, together.jobs, strict=True):
        alone = bt.run_batch([job], out=tmp_path / f"alone-{job.label}", draws=1500, seed=3)
        a, b = jr.output_dir, alone.jobs[0].output_dir
        assert a is not None and b is not None
        for name in ("draws.parquet", "breakdown.parquet", "yearly_quantiles.parquet"):
            assert (a / name).read_bytes() == (b / name).read_bytes(), (job.label, name)
        sa = (a / "summary.json").read_text().replace(str(a), "X").replace(a.name, "X")
        sb = (b / "summary.json").read_text().replace(str(b), "X").replace(b.name, "X")
        assert sa == sb


def test_one_perspective_npv_and_bcr_equal_the_whole_arrays_columns():
    """Outcomes.npv_of / bcr_of (one perspective, used on the run path) give exactly the
    columns of the all-perspective properties, including costs of zero (BCR NaN)."""
    from mkba import engine

    m = runnable(load_scenario(EVIDENCE))
    o = engine.simulate(m, draws=300, keep_samples=False).outcomes
    o.costs[:3] = 0.0  # BCR undefined there
    for p in range(len(PERSPECTIVES)):
        assert np.array_equal(o.npv_of(p), o.npv[:, p])
        assert np.array_equal(o.bcr_of(p), o.bcr[:, p], equal_nan=True)
    assert np.isnan(o.bcr_of(0)[:3]).all()
