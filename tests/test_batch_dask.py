"""Dask batches (issue 17, target 5): the workers' environment, their array pool and their
warm-up change no number and leave nothing behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from mkba import batch as bt
from mkba.checks import runnable
from test_batch import assert_same, jobs

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"


def _worker_state() -> dict[str, object]:
    """Run on a worker: what its environment and array pool are."""
    import numpy

    from mkba import batch

    return {
        "hugepage_env": os.environ.get("NUMPY_MADVISE_HUGEPAGE"),
        "numpy_madvise": bool(numpy._core.multiarray._get_madvise_hugepage()),
        "malloc": {k: os.environ.get(k) for k in batch.WORKER_MALLOC},
        "numba_threads": os.environ.get("NUMBA_NUM_THREADS"),
        "pool_empty": batch._WORKER_POOL.size == 0,
    }


def test_one_worker_reuses_arrays_gives_the_same_and_lets_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One worker runs the three jobs one after another, each (after the first) in the arrays
    of the one before, as in process: the same files. When the batch ends the worker holds no
    job's arrays. The workers get the client's hugepage switch (the console script's), glibc
    settings :data:`mkba.batch.WORKER_MALLOC` (where the environment sets none) and the job's
    threads as in process (no ``NUMBA_NUM_THREADS`` of their own)."""
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "0")
    for k in bt.WORKER_MALLOC:
        monkeypatch.delenv(k, raising=False)
    numba_threads = os.environ.get("NUMBA_NUM_THREADS")
    in_process = bt.run_batch(jobs(), out=tmp_path / "in", draws=2048, seed=7)
    ex = bt.DaskExecutor(workers=1)
    try:
        keep = _KeepOpen(ex)
        res = bt.run_batch(jobs(), out=tmp_path / "dask", draws=2048, seed=7, executor=keep)
        assert not res.failures
        assert_same(in_process, res)
        (state,) = ex.client.run(_worker_state).values()
    finally:
        ex.close()
    assert state == {
        "hugepage_env": "0",
        "numpy_madvise": False,
        "malloc": bt.WORKER_MALLOC,
        "numba_threads": numba_threads,
        "pool_empty": True,
    }


class _KeepOpen:
    """The executor for one batch without closing its cluster (asked about its worker after)."""

    name = "dask"

    def __init__(self, ex: bt.DaskExecutor) -> None:
        self.ex = ex

    def warm(self, *args: object) -> None:
        self.ex.warm(*args)  # type: ignore[arg-type]  # forwarded unchanged

    def run(self, *args: object) -> None:
        self.ex.run(*args)  # type: ignore[arg-type]  # forwarded unchanged

    def close(self) -> None:
        pass


def test_warm_up_job_leaves_nothing_and_takes_no_pooled_arrays() -> None:
    """The worker's throw-away warm-up job writes into a temporary folder it removes, and
    neither takes nor gives the worker's pooled memory (the next job's arrays stay where they
    would have been)."""
    model = runnable(bt.expand_jobs([REFERENCE])[0].load())
    bt._WORKER_POOL.take(300, model)  # memory of a job before
    bt._WORKER_POOL.give()
    slab = bt._WORKER_POOL._slab
    shm = "/dev/shm"
    where = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()
    before = {p.name for p in Path(where).glob(f"mkba-warm-{os.getpid()}-*")}
    try:
        bt._warm_worker(model, "lhs", 512)
        assert bt._WORKER_POOL._slab is slab and not bt._WORKER_POOL._lent
        assert {p.name for p in Path(where).glob(f"mkba-warm-{os.getpid()}-*")} == before
    finally:
        bt._WORKER_POOL.clear()


def test_release_worker_memory_empties_the_pool() -> None:
    model = runnable(bt.expand_jobs([REFERENCE])[0].load())
    bt._WORKER_POOL.take(300, model)
    assert bt._WORKER_POOL.size > 0
    bt._release_worker_memory()
    assert bt._WORKER_POOL.size == 0 and not bt._WORKER_POOL._lent


def test_worker_malloc_is_the_console_scripts_setting() -> None:
    """The workers get, as environment variables, what the console script sets in its own
    process with ``mallopt`` (mkba.memory.SETTINGS): one arena, no mmap, trim beyond 2 GiB."""
    from mkba import memory

    names = {
        memory.M_ARENA_MAX: "MALLOC_ARENA_MAX",
        memory.M_MMAP_MAX: "MALLOC_MMAP_MAX_",
        memory.M_TRIM_THRESHOLD: "MALLOC_TRIM_THRESHOLD_",
    }
    assert {names[p]: str(v) for p, v in memory.SETTINGS} == bt.WORKER_MALLOC
    assert all(k in memory.USER_ENV for k in bt.WORKER_MALLOC)


def test_orphan_warm_up_folders_are_removed(tmp_path: Path) -> None:
    """A warm-up folder whose worker process is gone is removed by the next warm-up; one of a
    live process stays."""
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    gone = tmp_path / f"mkba-warm-{pid_max + 1}-abc"  # above pid_max: no such process
    alive = tmp_path / f"mkba-warm-{os.getpid()}-abc"
    other = tmp_path / "mkba-warm-notapid"
    for folder in (gone, alive, other):
        (folder / "run").mkdir(parents=True)
    bt._remove_orphan_warm_ups(tmp_path)
    assert not gone.exists() and alive.is_dir() and other.is_dir()


def test_workers_share_the_cores_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each of a LocalCluster's workers gets ``cpus // workers`` numba threads (at least 1); one
    worker, or a user's own ``NUMBA_NUM_THREADS``, leaves the threads as in process (None).
    Expected values by hand: 2 cores / 2 workers = 1, 8 / 3 = 2 (floor), 2 / 4 -> 1."""
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    assert bt.worker_numba_threads(2, cpus=2) == 1
    assert bt.worker_numba_threads(3, cpus=8) == 2
    assert bt.worker_numba_threads(4, cpus=2) == 1
    assert bt.worker_numba_threads(1, cpus=8) is None
    assert bt.worker_numba_threads(2) == max(1, len(os.sched_getaffinity(0)) // 2)
    monkeypatch.setenv("NUMBA_NUM_THREADS", "3")
    assert bt.worker_numba_threads(2, cpus=2) is None


def test_usable_cpus_is_the_affinity() -> None:
    """The CPUs the statistics, the IRR and the cluster's workers share out: this process's
    affinity set (Linux)."""
    from mkba.sampling import usable_cpus

    assert usable_cpus() == len(os.sched_getaffinity(0))


def test_a_cluster_serves_http_on_a_free_loopback_port_not_dasks_8787() -> None:
    """The LocalCluster's scheduler serves its HTTP routes (no dashboard) on a free loopback
    port (:data:`mkba.batch.HTTP_ADDRESS`): with port 8787 taken (here by this test, as by a
    notebook's cluster or a second batch), Dask gives no "Port 8787 is already in use"
    warning, and nothing listens beyond loopback."""
    import socket
    import warnings

    held = socket.socket()
    try:
        held.bind(("127.0.0.1", 8787))
        held.listen()
    except OSError:
        pass  # 8787 is taken already: the same case
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            ex = bt.DaskExecutor(workers=1)
            try:
                assert ex.cluster is not None
                addresses = [
                    s.getsockname() for s in ex.cluster.scheduler.http_server._sockets.values()
                ]
            finally:
                ex.close()
    finally:
        held.close()
    assert not [w for w in seen if "8787" in str(w.message)]
    assert addresses and all(host == "127.0.0.1" and port != 8787 for host, port in addresses)
