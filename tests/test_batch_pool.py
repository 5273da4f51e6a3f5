"""The batch's array pool (issue 17, target 5): a job's per-draw arrays carved out of one
memory mapping that the next job reuses; the arrays are those :func:`mkba.batch._job_arrays`
would give (shapes, types, orders), apart from each other, and a job's numbers do not depend
on whether its memory was used before (tests/test_after_run.py and test_batch.py compare the
files of pooled jobs with jobs run alone and on Dask)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from mkba import batch as bt
from mkba import engine
from mkba.checks import runnable
from mkba.model import Model

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"


def _models() -> dict[str, Model]:
    jobs = bt.expand_jobs([REFERENCE], ["wlo_high"])
    return {j.label: runnable(j.load()) for j in jobs}


def _layout(a: np.ndarray) -> tuple[object, ...]:
    return (a.shape, a.dtype, a.flags.c_contiguous, a.flags.f_contiguous, a.strides)


def _arrays(out: engine.Outcomes, samples: np.ndarray) -> list[np.ndarray]:
    return [*out.fields().values(), samples]


@pytest.mark.parametrize("draws", [1, 7, 1500])
def test_pool_arrays_have_the_fresh_layout_and_do_not_overlap(draws: int) -> None:
    """n = 1 and an odd n as well: every array has the shape, type, order and strides of a
    fresh one, starts on a 64-byte boundary inside the mapping, and shares no byte with
    another (writing one leaves the others as they were)."""
    model = next(iter(_models().values()))
    pool = bt._ArrayPool()
    out, samples = pool.take(draws, model)
    fresh_out, fresh_samples = bt._job_arrays(draws, model)
    got, want = _arrays(out, samples), _arrays(fresh_out, fresh_samples)
    assert [_layout(a) for a in got] == [_layout(a) for a in want]
    assert list(out.fields()) == list(fresh_out.fields())
    assert pool._slab is not None
    base = np.frombuffer(pool._slab, dtype=np.uint8)
    start = base.__array_interface__["data"][0]
    for a in got:
        at = a.__array_interface__["data"][0]
        assert (at - start) % bt._ArrayPool.ALIGN == 0
        assert at - start + a.nbytes <= pool.size
    for a, b in itertools.combinations([a for a in got if a.size], 2):
        assert not np.shares_memory(a, b)
    for k, a in enumerate(got):
        a[...] = k
    for k, a in enumerate(got):
        assert np.all(a == k)


def test_pool_reuses_its_mapping_for_the_next_job_and_grows_when_needed() -> None:
    """After :meth:`give` the next job of the same model gets the same memory; a variant
    sampling more parameters (wlo_high: 91 rather than 86) fits in the room to spare; a job
    more than that larger gets a new mapping; while a job holds the mapping, another gets fresh
    arrays elsewhere."""
    base, wlo = _models().values()
    pool = bt._ArrayPool()
    out, samples = pool.take(1000, base)
    first = pool._slab
    other_out, other_samples = pool.take(1000, base)  # lent: fresh
    for a, b in zip(_arrays(out, samples), _arrays(other_out, other_samples), strict=True):
        assert not np.shares_memory(a, b)
    assert pool._slab is first
    pool.give()
    _, again_samples = pool.take(1000, base)
    assert pool._slab is first
    assert again_samples.__array_interface__["data"] == samples.__array_interface__["data"]
    pool.give()
    assert samples.shape[1] < pool.take(1000, wlo)[1].shape[1]
    assert pool._slab is first  # more parameters, the same mapping
    pool.give()
    pool.take(2000, base)  # twice the draws: a new mapping
    assert first is not None and pool._slab is not first and pool.size >= 2 * len(first)
    pool.clear()
    assert pool.size == 0 and not pool._lent


def test_a_failed_job_gives_its_memory_back(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A job whose chunk fails is reported, and the next job still gets the pooled memory."""
    jobs = bt.expand_jobs([REFERENCE], ["half_budget"])
    calls = {"n": 0}
    real = engine.compute_chunk

    def fail_first(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return real(*args, **kwargs)

    pool = bt._ArrayPool()
    slabs: list[object] = []
    real_take = bt._ArrayPool.take

    def spy(self, draws, m):  # type: ignore[no-untyped-def]
        got = real_take(self, draws, m)
        slabs.append(self._slab)
        return got

    monkeypatch.setattr(engine, "compute_chunk", fail_first)
    monkeypatch.setattr(bt._ArrayPool, "take", spy)
    monkeypatch.setattr(bt, "_ArrayPool", lambda: pool)  # the executor's pool, to look at
    res = bt.run_batch(jobs, out=tmp_path / "a", draws=500, seed=1)
    assert [jr.ok for jr in res.jobs] == [False, True]
    assert "boom" in str(res.jobs[0].error)
    assert len(slabs) == 2 and slabs[1] is slabs[0]  # the failed job's memory, used again
    assert not pool._lent


def test_a_job_without_the_pools_memory_does_not_give_it_back(tmp_path: Path) -> None:
    """While one job holds the pooled memory, a job run beside it gets fresh arrays and, when
    it ends, leaves the memory with the job that holds it."""
    (job,) = bt.expand_jobs([REFERENCE])
    model = runnable(job.load())
    pool = bt._ArrayPool()
    pool.take(300, model)  # held by a job still running
    spec = bt.JobSpec(
        index=0,
        model=model,
        label=job.label,
        point=None,
        draws=300,
        seed=2,
        sampler="lhs",
        chunk_size=512,
        run_id="beside",
        run_dir=tmp_path / "runs" / "beside",
        chunk_root=tmp_path / "chunks",
        batch=None,
        resume=False,
        force=True,
    )
    token = bt._POOL.set(pool)
    try:
        outcome = bt.execute_job(spec)
    finally:
        bt._POOL.reset(token)
    assert outcome.error is None and outcome.summary is not None
    assert pool.lent


def test_the_mapping_is_private_memory() -> None:
    """Private anonymous memory, as malloc's own (``mmap.mmap(-1, n)`` alone would be shared
    memory: costlier faults, counted as shared)."""
    model = next(iter(_models().values()))
    pool = bt._ArrayPool()
    _, samples = pool.take(1000, model)
    at = samples.__array_interface__["data"][0]
    perms = None
    for line in Path("/proc/self/maps").read_text().splitlines():
        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
        if lo <= at < hi:
            perms = line.split()[1]
    assert perms is not None and perms.endswith("p"), perms
