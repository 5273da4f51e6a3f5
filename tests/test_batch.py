"""Batches: identical results on every backend, after a lost worker and after resume;
failures reported without stopping the batch; common random numbers in comparisons."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mkba import batch as bt
from mkba import compare as cmp
from mkba import engine, results
from mkba.errors import InputError
from mkba.load import load_scenario
from mkba.model import lower

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"
SMALL = {"chunk_size": 512}  # several chunks per job with few draws


def jobs() -> list[bt.Job]:
    return [
        bt.Job(REFERENCE, None, SMALL, "small"),
        bt.Job(REFERENCE, "half_budget", SMALL),
        bt.Job(REFERENCE, "no_governance", SMALL),
    ]


def draws_of(res: bt.BatchResult) -> dict[str, pd.DataFrame]:
    return {
        jr.job.label: pd.read_parquet(jr.output_dir / "draws.parquet") for jr in res.jobs if jr.ok
    }


def summaries_of(res: bt.BatchResult) -> dict[str, dict]:
    """Each job's summary.json as written, without the folder it names (runs differ in that)."""
    docs = {}
    for jr in res.jobs:
        assert jr.output_dir is not None
        doc = json.loads((jr.output_dir / "summary.json").read_text())
        doc.pop("output_dir")
        docs[jr.job.label] = doc
    return docs


def assert_same(a: bt.BatchResult, b: bt.BatchResult) -> None:
    da, db = draws_of(a), draws_of(b)
    assert da.keys() == db.keys() and len(da) == 3
    for k in da:
        pd.testing.assert_frame_equal(da[k], db[k], check_exact=True)
        for col in da[k].columns:  # bit for bit, NaN in the same places
            assert np.array_equal(da[k][col].to_numpy(), db[k][col].to_numpy(), equal_nan=True)
    assert summaries_of(a) == summaries_of(b)
    assert a.comparison is not None and b.comparison is not None
    pd.testing.assert_frame_equal(a.comparison, b.comparison, check_exact=True)


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> bt.BatchResult:
    return bt.run_batch(jobs(), out=tmp_path_factory.mktemp("inproc"), draws=2048, seed=7)


def test_batch_matches_a_plain_run(in_process: bt.BatchResult) -> None:
    spec = load_scenario(REFERENCE, variant="half_budget", updates=SMALL)
    run = engine.simulate(lower(spec), draws=2048, seed=7)
    direct = results.draws_table(run)
    pd.testing.assert_frame_equal(
        draws_of(in_process)["reference-2021:half_budget"], direct, check_exact=True
    )
    table = in_process.comparison
    assert table is not None and len(table) == 3 * 3
    assert {
        "npv_p50",
        "bcr_p50",
        "costs_pv_p5",
        "benefits_pv_p95",
        "prob_npv_positive",
        "payback_p50",
    } <= set(table)
    assert (in_process.out / "summary" / "comparison.parquet").is_file()


def test_local_cluster_of_two_workers_is_bit_identical(
    in_process: bt.BatchResult, tmp_path: Path
) -> None:
    ex = bt.DaskExecutor(workers=2)
    res = bt.run_batch(jobs(), out=tmp_path, draws=2048, seed=7, executor=ex)
    assert_same(in_process, res)


def test_one_worker_gives_the_same_and_the_client_computes_nothing(
    in_process: bt.BatchResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Dask worker runs a job whole (chunks, statistics, run directory): the results do not
    depend on the number of workers, and the client never summarises or writes a job."""

    def not_here(*args: object, **kwargs: object) -> None:
        raise AssertionError("the client computed a job's statistics")

    monkeypatch.setattr(bt.api, "finish_run", not_here)
    monkeypatch.setattr(bt.engine, "compute_chunk", not_here)
    ex = bt.DaskExecutor(workers=1)
    res = bt.run_batch(jobs(), out=tmp_path, draws=2048, seed=7, executor=ex)
    assert not res.failures
    assert_same(in_process, res)


def test_worker_killed_mid_run(in_process: bt.BatchResult, tmp_path: Path) -> None:
    ex = bt.DaskExecutor(workers=2)
    victims: list[str] = []

    def kill_one(task: bt.Task) -> None:
        if victims:
            return
        pids = ex.client.run(os.getpid)  # worker address -> process id
        victim = sorted(pids)[0]
        victims.append(victim)
        # the worker process dies at once (SIGKILL); its nanny starts a new one and the
        # scheduler reschedules the tasks that were on it
        os.kill(pids[victim], signal.SIGKILL)

    res = bt.run_batch(jobs(), out=tmp_path, draws=2048, seed=7, executor=ex, on_chunk=kill_one)
    assert victims and not res.failures
    assert_same(in_process, res)


def test_interrupted_then_resumed(in_process: bt.BatchResult, tmp_path: Path) -> None:
    seen: list[bt.Task] = []

    def interrupt(task: bt.Task) -> None:
        seen.append(task)
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bt.run_batch(jobs(), out=tmp_path, draws=2048, seed=7, on_chunk=interrupt, checkpoint_s=0)
    # in process the jobs run one after another: the first (4 chunks) is finished, its run
    # folder complete and its chunk checkpoints replaced by done.json; the second has one
    # stored chunk; the third has not started
    stored = list((tmp_path / "chunks").rglob("chunk-*.npy"))
    assert len(stored) == 1
    assert len(list((tmp_path / "chunks").rglob("done.json"))) == 1
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["reference-2021--small"]
    assert not (tmp_path / "summary").exists() or not (tmp_path / "summary" / "batch.json").exists()
    res = bt.run_batch(jobs(), out=tmp_path, draws=2048, seed=7, resume=True)
    assert [(jr.chunks_resumed, jr.chunks_computed) for jr in res.jobs] == [(4, 0), (1, 3), (0, 4)]
    assert_same(in_process, res)
    # finished jobs keep no chunks: only each job's done.json
    assert not list((tmp_path / "chunks").rglob("chunk-*.npy"))
    assert len(list((tmp_path / "chunks").rglob("done.json"))) == 3


def test_short_jobs_write_no_checkpoint(in_process: bt.BatchResult, tmp_path: Path) -> None:
    """Chunks are stored every ``checkpoint_s`` seconds: a job shorter than that writes none,
    and an interruption then costs only the unfinished job."""
    seen: list[bt.Task] = []

    def interrupt(task: bt.Task) -> None:
        seen.append(task)
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bt.run_batch(
            jobs(), out=tmp_path, draws=2048, seed=7, on_chunk=interrupt, checkpoint_s=3600
        )
    assert not list((tmp_path / "chunks").rglob("chunk-*"))
    res = bt.run_batch(jobs(), out=tmp_path, draws=2048, seed=7, resume=True)
    assert [(jr.chunks_resumed, jr.chunks_computed) for jr in res.jobs] == [(4, 0), (0, 4), (0, 4)]
    assert_same(in_process, res)


def test_invalid_job_stops_the_batch_before_computing(tmp_path: Path) -> None:
    """Every job is checked before any computing: one invalid scenario is an input error
    (exit 2) naming the file and key, and nothing is written (README: exit codes)."""
    bad = tmp_path / "bad.toml"
    bad.write_text(
        REFERENCE.read_text()
        .replace('"rotterdam-zuid",', '"atlantis",')
        .replace("../parameters", str(ROOT / "parameters"))
    )
    with pytest.raises(InputError, match="unknown area"):
        bt.run_batch(
            [bt.Job(bad), bt.Job(REFERENCE, "half_budget", SMALL)],
            out=tmp_path / "b",
            draws=512,
            seed=1,
        )
    assert not (tmp_path / "b").exists()
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkba",
            "batch",
            str(bad),
            f"{REFERENCE}:half_budget",
            f"{REFERENCE}:no_such_variant",
            str(tmp_path / "missing.toml"),
            "-n",
            "256",
            "--out",
            str(tmp_path / "c"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 2, r.stderr
    assert "unknown area" in r.stderr and "unknown variant" in r.stderr
    assert "missing.toml: file not found" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "c").exists()


def test_grid_points_expand_and_run(tmp_path: Path) -> None:
    text = REFERENCE.read_text().replace("../parameters", str(ROOT / "parameters"))
    text += '\n[grid]\n"budget.scale" = [0.5, 1.0]\nareas = [["rotterdam-zuid"], ["rotterdam-zuid", "utrecht-overvecht"]]\n'
    path = tmp_path / "grid.toml"
    path.write_text(text)
    js = bt.expand_jobs([path], grid=True)
    points = [j.point for j in js if j.point]
    assert len(points) == 4 and "grid[budget.scale=0.5,areas=#1]" in points
    res = bt.run_batch(js, out=tmp_path / "g", draws=256, seed=3)
    assert not res.failures
    one = next(jr for jr in res.jobs if jr.job.point == "grid[budget.scale=1.0,areas=#1]")
    assert one.summary is not None and list(one.summary["by_area"]) == ["rotterdam-zuid"]


def test_common_random_numbers_shrink_the_noise_of_a_difference() -> None:
    """The standard error of the mean NPV difference between the reference and a variant:
    with common random numbers (same seed) against independent seeds. For WLO Hoog (only the
    growth rates differ) the shared effect, volume and cost uncertainty cancels almost
    entirely; for half the budget the difference is itself uncertain (about half the NPV), so
    the gain is smaller but still large (theory for B = A/2: sd ratio sqrt(0.25 / 1.25) = 0.45)."""
    n = 4000
    a = cmp.load_side(str(REFERENCE), n, 11)
    for variant, limit in (("wlo_high", 0.15), ("half_budget", 0.6)):
        crn = cmp.compare(str(REFERENCE), f"{REFERENCE}:{variant}", draws=n, seed=11)
        assert crn["common_random_numbers"]
        b = cmp.load_side(f"{REFERENCE}:{variant}", n, 12)
        indep = a.draws["study.npv"].to_numpy() - b.draws["study.npv"].to_numpy()
        se_crn = crn["perspectives"]["study"]["npv_difference"]["se"]
        se_indep = indep.std(ddof=1) / np.sqrt(n)
        assert se_crn < limit * se_indep, (variant, se_crn, se_indep)
    # and the CRN difference is exactly the difference of the two runs' draws
    same_b = cmp.load_side(f"{REFERENCE}:half_budget", n, 11)
    diff = a.draws["study.npv"].to_numpy() - same_b.draws["study.npv"].to_numpy()
    assert crn["perspectives"]["study"]["npv_difference"]["mean"] == pytest.approx(
        diff.mean(), rel=1e-12
    )


def test_compare_finished_runs(in_process: bt.BatchResult) -> None:
    dirs = {jr.job.label: jr.output_dir for jr in in_process.jobs}
    doc = cmp.compare(
        str(dirs["reference-2021:half_budget"]), str(dirs["reference-2021:no_governance"])
    )
    assert doc["common_random_numbers"] and doc["draws"] == 2048
    assert set(doc["by_stakeholder"]) >= {"municipalities", "national_government"}


def test_chunk_checkpoint_round_trip_and_damage(tmp_path: Path) -> None:
    """A stored chunk loads back bit for bit into the rows of a run; a file cut short (a
    crash while writing, no fsync), of another chunk or of another shape is not used."""
    m = lower(load_scenario(REFERENCE, updates=SMALL))
    res = engine.compute_chunk(m, 1, draws=1500, seed=3, sampler="random", chunk_size=512)
    store = bt.ChunkStore(tmp_path, "run")
    store.save(1, res.outcomes, res.samples)
    into = engine.Outcomes.empty(res.hi - res.lo, m)
    samples = np.empty_like(res.samples)
    assert store.load_into(1, into, samples)
    for k, v in res.outcomes.fields().items():
        assert np.array_equal(getattr(into, k), v, equal_nan=True), k
    assert np.array_equal(samples, res.samples)
    assert not store.load_into(2, into, samples)  # no such file
    store.path(1).rename(store.path(2))
    assert not store.load_into(2, into, samples)  # the file says it is chunk 1
    store.path(2).rename(store.path(1))
    assert not store.load_into(1, engine.Outcomes.empty(7, m), samples[:7])  # other shape
    data = store.path(1).read_bytes()
    store.path(1).write_bytes(data[: len(data) // 2])
    assert not store.load_into(1, into, samples)
    store.mark_done({"npv": float("nan"), "draws": np.int64(3)})
    assert not store.has(1) and store.done() == {
        "npv": pytest.approx(float("nan"), nan_ok=True),
        "draws": 3,
    }


def test_variants_of_a_batch_read_the_parameters_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside ``shared_parameters`` a scenario's variants read its parameter folder once; the
    specs equal those loaded on their own (same digest, same lowered arrays)."""
    from mkba import load

    alone = load_scenario(REFERENCE, variant="half_budget")
    calls: list[Path] = []
    real = load.load_parameters

    def counting(root: Path, **kw: object) -> load.ParameterSet:
        calls.append(root)
        return real(root, **kw)  # type: ignore[arg-type]  # kw is use= only

    monkeypatch.setattr(load, "load_parameters", counting)
    with load.shared_parameters():
        specs = [load_scenario(REFERENCE, variant=v) for v in (None, "half_budget", "wlo_high")]
    assert len(calls) == 1
    assert specs[1].digest == alone.digest
    a, b = lower(alone), lower(specs[1])
    assert np.array_equal(a.budget, b.budget) and np.array_equal(a.volume0, b.volume0)
    load_scenario(REFERENCE)
    assert len(calls) == 2  # outside the block every load reads the folder again


def test_a_worker_that_cannot_see_the_batch_folder_says_so(tmp_path: Path) -> None:
    """Workers write the run directories: a worker without the batch folder (another machine,
    no shared file system) fails the job with a clear message and writes nothing."""
    m = lower(load_scenario(REFERENCE, updates=SMALL))
    job = bt.JobSpec(
        index=0,
        model=m,
        label="reference-2021",
        point=None,
        draws=1024,
        seed=1,
        sampler=m.spec.scenario.sampler,
        chunk_size=512,
        run_id="r",
        run_dir=tmp_path / "runs" / "reference-2021",
        chunk_root=tmp_path / "chunks",
        batch="b",
        resume=False,
        force=False,
        marker=tmp_path / "chunks" / ".batch-elsewhere",
    )
    called: list[int] = []
    res = bt.execute_job(job, called.append)
    assert res.error is not None and "does not see the batch folder" in res.error
    assert str(tmp_path) in res.error and not called and not any(tmp_path.iterdir())
