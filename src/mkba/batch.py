"""Scenario batches: many scenarios, variants and grid points, on one machine or a Dask
cluster, with resume after an interruption.

The unit of work is one job (a scenario, variant or grid point), run whole where it is put
(:func:`execute_job`): its chunks of draws (each computed by :func:`mkba.engine.compute_chunk`,
into the job's arrays as :func:`mkba.engine.simulate` does), its statistics and its run
directory, written atomically. On a Dask cluster a worker does all of that and sends back only
the job's summary row, so the client neither computes statistics nor writes, and no worker
holds more than the job it is running. A batch gives bit-identical numbers in-process, on any
number of Dask workers, after a lost worker, or after ``--resume``.

Every computed chunk is stored as a checkpoint in ``<out>/chunks/<run id>/chunk-<j>.npy``; the
run id hashes the scenario (files, calibration, variant), draws, seed, sampler and chunk size.
When the job's run directory is complete its checkpoints are removed and ``done.json`` keeps
its summary. ``resume=True`` skips finished jobs and reuses stored chunks of the others. A job
whose loading or computation fails is reported and the others go on (exit code 4 for a
partial failure).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import mmap
import os
import queue
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from mkba import api, engine, memory, prefault, results
from mkba.checks import runnable
from mkba.engine import Outcomes, Run
from mkba.errors import InputError, MkbaError, Problem
from mkba.load import Spec, grid_points, load_scenario, shared_parameters
from mkba.model import Model
from mkba.output import (
    atomic_write_bytes,
    glob_escape,
    json_default,
    run_directory,
    to_json,
    write_json,
    write_table,
)
from mkba.outputs import TOTALS
from mkba.paths import check_target, safe_name
from mkba.runinfo import hash_id, portable_path
from mkba.sampling import chunk_bounds, usable_cpus
from mkba.schema.scenario import PERSPECTIVES

_T = TypeVar("_T")


@dataclass(frozen=True)
class Job:
    """One scenario to run: a file, optionally a named variant or a grid point."""

    scenario: Path
    variant: str | None = None
    updates: dict[str, Any] | None = None
    point: str | None = None  # the grid point's label

    @property
    def label(self) -> str:
        tail = self.variant if self.variant is not None else self.point
        return f"{self.scenario.stem}:{tail}" if tail is not None else self.scenario.stem

    @property
    def folder(self) -> str:
        """The job's run folder under ``runs/``: :func:`mkba.paths.safe_name` of its label
        parts, so two jobs never share a folder and none escapes the batch folder."""
        return safe_name(
            self.scenario.stem, self.variant if self.variant is not None else self.point
        )

    def load(self) -> Spec:
        return load_scenario(self.scenario, variant=self.variant, updates=self.updates)


def parse_job(text: str) -> Job:
    """``path.toml`` or ``path.toml:variant``."""
    path, sep, variant = text.partition(":")
    if sep and variant and not path.endswith(".toml") and Path(text).exists():
        return Job(Path(text))
    return Job(Path(path), variant or None)


def expand_jobs(
    paths: Iterable[Path | str], variants: list[str] | None = None, grid: bool = False
) -> list[Job]:
    """Jobs for scenario files: the base scenario, the named variants (``["all"]`` for every
    one), and with ``grid`` every grid point. Every file is loaded here, so that a missing
    file or an unknown variant is an input error (:class:`InputError`, all problems at once)
    before anything is computed; the same job asked for twice is run once."""
    jobs: list[Job] = []
    problems: list[Problem] = []
    for p in paths:
        job = parse_job(str(p))
        if job.variant is not None:
            jobs.append(job)
            continue
        jobs.append(job)
        if not variants and not grid:
            continue
        try:
            base = load_scenario(job.scenario)
        except InputError as exc:
            problems.extend(x for x in exc.problems if x not in problems)
            continue
        names = list(base.base_scenario.variants) if variants == ["all"] else (variants or [])
        for v in names:
            jobs.append(Job(job.scenario, v))
        if grid:
            for label, upd in grid_points(base.base_scenario):
                jobs.append(Job(job.scenario, None, upd, label))
    if problems:
        raise InputError(problems)
    unique: dict[tuple[str, str], Job] = {}
    for j in jobs:
        unique.setdefault((str(j.scenario.resolve()), j.label), j)
    return list(unique.values())


@dataclass
class Plan:
    """A loaded job with its run settings."""

    job: Job
    spec: Spec
    model: Model
    draws: int
    seed: int
    sampler: str
    chunk_size: int
    run_id: str

    @property
    def n_chunks(self) -> int:
        return len(chunk_bounds(self.draws, self.chunk_size))


@dataclass
class JobResult:
    job: Job
    ok: bool
    summary: dict[str, Any] | None = None
    error: str | None = None
    output_dir: Path | None = None
    chunks_computed: int = 0
    chunks_resumed: int = 0


@dataclass
class BatchResult:
    out: Path
    jobs: list[JobResult] = field(default_factory=list)
    comparison: pd.DataFrame | None = None

    @property
    def failures(self) -> list[JobResult]:
        return [j for j in self.jobs if not j.ok]

    def document(self) -> dict[str, Any]:
        return {
            "batch": str(self.out),
            "jobs": [j.summary for j in self.jobs if j.ok],
            "failures": [{"job": j.job.label, "error": j.error} for j in self.failures],
            "comparison": []
            if self.comparison is None
            else self.comparison.to_dict(orient="records"),
        }


# --- chunk store ---------------------------------------------------------------------------------


class ChunkStore:
    """Finished chunks of one run on disk, one file each, written atomically.

    A chunk file is only a checkpoint for ``--resume``: the chunk's arrays one after another
    in NumPy's ``.npy`` format (no zip, no checksum pass over the data), written without
    ``fsync`` (a file cut short by a crash does not load and is computed again), and removed
    with the rest of the job's chunks once the job's run directory is complete. ``done.json``
    then keeps the job's summary (exactly, NaN included), so that a resumed batch need not run
    the job again.
    """

    DONE = "done.json"

    def __init__(self, root: Path, run_id: str) -> None:
        self.dir = Path(root) / run_id

    def path(self, index: int) -> Path:
        return self.dir / f"chunk-{index:06d}.npy"

    def has(self, index: int) -> bool:
        return self.path(index).is_file()

    @staticmethod
    def _arrays(outcomes: Outcomes, samples: np.ndarray | None) -> list[tuple[str, np.ndarray]]:
        arrays = list(outcomes.fields().items())
        return arrays if samples is None else [*arrays, ("samples", samples)]

    def save(self, index: int, outcomes: Outcomes, samples: np.ndarray | None) -> None:
        """Store chunk ``index`` (``outcomes`` and ``samples`` are its rows, views are fine)."""
        arrays = self._arrays(outcomes, samples)
        path = self.path(index)
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                head = {"index": index, "fields": [k for k, _ in arrays]}
                np.lib.format.write_array(fh, np.array(json.dumps(head)), allow_pickle=False)
                for _, v in arrays:
                    np.lib.format.write_array(fh, v, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def load_into(self, index: int, outcomes: Outcomes, samples: np.ndarray | None) -> bool:
        """Copy the stored chunk into ``outcomes``/``samples`` (its rows); False if it is
        missing, unreadable or of another shape (then it is computed again)."""
        arrays = self._arrays(outcomes, samples)
        try:
            with open(self.path(index), "rb") as fh:
                head = json.loads(str(np.lib.format.read_array(fh, allow_pickle=False)))
                if head != {"index": index, "fields": [k for k, _ in arrays]}:
                    return False
                for _, dst in arrays:
                    src = np.lib.format.read_array(fh, allow_pickle=False)
                    if src.shape != dst.shape or src.dtype != dst.dtype:
                        return False
                    dst[...] = src
                return True
        except (OSError, ValueError, EOFError):
            return False

    def clean_temporary(self) -> None:
        """Remove temporary files of chunk writes that a killed run left behind."""
        for tmp in self.dir.glob(".chunk-*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()

    def mark_done(self, summary: dict[str, Any]) -> None:
        """Keep the finished job's summary and drop its chunk files (the run directory, now
        complete, holds the results)."""
        text = json.dumps(summary, default=json_default, allow_nan=True)
        atomic_write_bytes(self.dir / self.DONE, text.encode("utf-8"))
        for f in self.dir.glob("chunk-*.np[yz]"):
            with contextlib.suppress(OSError):
                f.unlink()
        self.clean_temporary()

    def done(self) -> dict[str, Any] | None:
        """The summary of a job finished before, or None."""
        try:
            doc = json.loads((self.dir / self.DONE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None


# --- one job: every chunk, statistics, run directory -----------------------------------------------


@dataclass(frozen=True)
class JobSpec:
    """Everything needed to run one job anywhere (it pickles: the lowered model, no files)."""

    index: int  # the job's plan index in the batch
    model: Model
    label: str
    point: str | None
    draws: int
    seed: int
    sampler: str
    chunk_size: int
    run_id: str
    run_dir: Path  # absolute: <batch>/runs/<folder>
    chunk_root: Path  # absolute: <batch>/chunks
    batch: str | None  # the batch folder as written in manifests
    resume: bool
    force: bool
    checkpoint_s: float = 0.0  # store computed chunks at most this often (0: each one)
    marker: Path | None = None  # a file the batch made: whoever runs the job must see it

    @property
    def n_chunks(self) -> int:
        return len(chunk_bounds(self.draws, self.chunk_size))


@dataclass
class JobOutcome:
    """What a job sends back: a summary row, never its per-draw results."""

    summary: dict[str, Any] | None = None
    error: str | None = None
    output_dir: Path | None = None
    chunks_computed: int = 0
    chunks_resumed: int = 0


def execute_job(job: JobSpec, on_chunk: Callable[[int], None] | None = None) -> JobOutcome:
    """Run one job from start to end where it is called (this process or a Dask worker):
    compute its chunks into the run's arrays (stored chunks are reused with ``resume``),
    store them as checkpoints, summarise, write the run directory atomically (it appears
    complete or not at all), then drop the checkpoints. ``on_chunk(j)`` is called after
    chunk ``j`` is computed (or loaded).

    Computed chunks are stored once ``job.checkpoint_s`` seconds have passed since the job
    started or last stored (``0``: each chunk at once): an interruption loses at most that
    much computing, and a job shorter than that writes no checkpoint at all (a checkpoint is
    all of a chunk's per-draw results, 1.8 kB a draw for the reference).

    The numbers are those of :func:`mkba.engine.simulate` (the same chunks into the same
    arrays), so they do not depend on where or in which order jobs run."""
    pool = _POOL.get()
    mine = pool is not None and not pool.lent  # (else another job holds the pool's memory)
    try:
        return _execute_job(job, on_chunk, pool)
    finally:
        if mine:  # the next job in this process writes into this memory
            assert pool is not None
            pool.give()


def _execute_job(
    job: JobSpec, on_chunk: Callable[[int], None] | None, pool: _ArrayPool | None
) -> JobOutcome:
    t0 = time.perf_counter()
    m = job.model
    store = ChunkStore(job.chunk_root, job.run_id)
    outcome = JobOutcome()
    if job.marker is not None and not job.marker.is_file():
        outcome.error = (
            f"this worker does not see the batch folder {job.chunk_root.parent}: the workers "
            "write the run directories themselves, so the batch folder (--out) must be on a "
            "file system they share with this machine"
        )
        return outcome
    out, samples = pool.take(job.draws, m) if pool is not None else _job_arrays(job.draws, m)
    bounds = chunk_bounds(job.draws, job.chunk_size)
    args = engine._kernel_args(m)
    fused = m.programme is None
    scratch = None if fused else engine._scratch(m, min(job.draws, job.chunk_size))
    timings = {"sampling_s": 0.0, "kernel_s": 0.0, "aggregate_s": 0.0}
    chunk_means = np.empty(len(bounds))
    unsaved: list[int] = []
    saved_at = t0
    for j, (lo, hi) in enumerate(bounds):
        rows = out.take(slice(lo, hi))
        if job.resume and store.has(j) and store.load_into(j, rows, samples[lo:hi]):
            outcome.chunks_resumed += 1
        else:
            try:
                res = engine.compute_chunk(
                    m,
                    j,
                    draws=job.draws,
                    seed=job.seed,
                    sampler=job.sampler,
                    chunk_size=job.chunk_size,
                    out=rows,
                    samples_out=samples[lo:hi],
                    args=args,
                    scratch=scratch,
                )
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # reported per job; the batch goes on
                outcome.error = f"chunk {j} failed: {type(exc).__name__}: {exc}"
                return outcome
            for k in timings:
                timings[k] += res.timings[k]
            unsaved.append(j)
            outcome.chunks_computed += 1
            if time.perf_counter() - saved_at >= job.checkpoint_s:
                for i in unsaved:
                    a, b = bounds[i]
                    store.save(i, out.take(slice(a, b)), samples[a:b])
                unsaved.clear()
                saved_at = time.perf_counter()
        chunk_means[j] = engine.chunk_mean_npv(m, rows)
        if on_chunk is not None:
            on_chunk(j)
    run = Run(
        model=m,
        outcomes=out,
        draws=job.draws,
        seed=job.seed,
        sampler=job.sampler,
        chunk_size=job.chunk_size,
        samples=samples,
        timings=timings,
        chunk_means=chunk_means,
    )
    try:
        done = api.finish_run(
            run,
            m.spec,
            out=job.run_dir,
            write=True,
            timings={},
            t0=t0,
            extra={"batch": job.batch, "job": job.label, "grid_point": job.point},
            force=job.force,
        )
    except MkbaError as exc:
        outcome.error = str(exc)
        return outcome
    del run, out, samples  # else the per-draw results go before the next job starts
    outcome.summary = {**done.summary, "job": job.label}
    outcome.output_dir = done.output_dir
    store.mark_done(outcome.summary)
    return outcome


def _resumed_job(job: JobSpec) -> JobOutcome | None:
    """With ``resume``: the outcome of a job whose run directory was completed before (its
    summary kept by :meth:`ChunkStore.mark_done`), or None."""
    summary = ChunkStore(job.chunk_root, job.run_id).done()
    if summary is None or not (job.run_dir / "manifest.json").is_file():
        return None
    try:
        check_target(job.run_dir, job.run_id)
    except MkbaError:
        return None
    for stale in job.run_dir.parent.glob(f"{glob_escape(job.run_dir.name)}.partial-*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed writer
    return JobOutcome(summary=summary, output_dir=job.run_dir, chunks_resumed=job.n_chunks)


# --- executors -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """A finished chunk (computed or loaded), as reported to ``on_chunk``: chunk ``chunk`` of
    plan ``job``."""

    job: int  # index into the plans
    chunk: int


ChunkFn = Callable[[int, int], None]  # (plan index, chunk index)
DoneFn = Callable[[int, "JobOutcome | BaseException"], None]


def _job_arrays(draws: int, m: Model) -> tuple[Outcomes, np.ndarray]:
    """A job's per-draw arrays, uninitialised (every value is written before it is read); the
    sampled values column-major, as the sampler writes them (:func:`engine.column_major`)."""
    return Outcomes.empty(draws, m), engine.column_major(draws, len(m.uncertain))


class _ArrayPool:
    """Memory for the per-draw arrays of one job at a time, handed from a finished job to the
    next (:class:`InProcessExecutor`, and a Dask worker's jobs).

    The arrays live in one anonymous memory mapping of their own (:meth:`take` carves them out
    of it), not in ``malloc``'s heap: the next job writes into the pages the last one touched
    (uninitialised arrays: every value is written before it is read), so the operating system
    neither maps nor clears fresh memory for it (0.2 GB per 100,000 draws of the reference),
    and the heap holds only the jobs' temporaries (statistics, writers). Before, the pool kept
    the arrays themselves, inside the heap where ``malloc`` put them: a job whose arrays did not
    have the last one's shapes (a variant sampling more parameters) took fresh ones beside the
    kept ones, and the holes left in the heap made the process's peak grow from job to job
    (nine 100k-draw jobs in one process: +160 MiB with the console script's ``malloc``
    settings, +75-95 MiB with a Dask worker's). The mapping is made with some room to spare
    (:data:`SLACK`; untouched pages cost nothing), so a job a little larger than the last still
    fits; a job that does not gets a new mapping, and the old one is unmapped as soon as the
    last job's arrays are gone. Holds one mapping at most, until :meth:`clear` or the pool
    goes."""

    SLACK = 1.25
    """A new mapping is this much larger than the job that asked for it needs."""

    ALIGN = 64
    """Every array starts on a multiple of this many bytes (a cache line)."""

    def __init__(self) -> None:
        self._slab: mmap.mmap | None = None
        self._lent = False

    @property
    def lent(self) -> bool:
        """Whether a running job holds the mapping."""
        return self._lent

    @property
    def size(self) -> int:
        """Bytes of the kept mapping (0: none)."""
        return 0 if self._slab is None else len(self._slab)

    def take(self, draws: int, m: Model) -> tuple[Outcomes, np.ndarray]:
        """Arrays for a job (the shapes, types and strides of :func:`_job_arrays`), in the kept
        mapping where it is large enough and not lent to a running job."""
        fresh_out, fresh_samples = _job_arrays(draws, m)  # not touched: no memory of its own yet
        if self._lent:  # (one job at a time holds the mapping; the others get fresh arrays)
            return fresh_out, fresh_samples
        arrays = [*fresh_out.fields().values(), fresh_samples]
        offsets, need = [], 0
        for a in arrays:
            offsets.append(need)
            need += -(-a.nbytes // self.ALIGN) * self.ALIGN
        if self._slab is None or len(self._slab) < need:
            self._slab = None  # unmapped once the last job's arrays are gone
            page = mmap.PAGESIZE
            size = max(page, -(-int(need * self.SLACK) // page) * page)
            # private, as malloc's own mappings (mmap's default for -1 is shared memory)
            self._slab = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            # the job's part made resident on another thread (console script only)
            prefault.start_mapping(self._slab, need)
        slab = self._slab
        views = [
            np.ndarray(a.shape, a.dtype, buffer=slab, offset=off, strides=a.strides)
            for a, off in zip(arrays, offsets, strict=True)
        ]
        self._lent = True
        out = Outcomes(**dict(zip(fresh_out.fields(), views[:-1], strict=True)))
        return out, views[-1]

    def give(self) -> None:
        """The job that took the arrays is finished with them: the next one may write there."""
        self._lent = False

    def clear(self) -> None:
        """Let go of the mapping (unmapped once no array of it is left)."""
        self._slab = None
        self._lent = False


_POOL: ContextVar[_ArrayPool | None] = ContextVar("mkba_batch_pool", default=None)

_WORKER_POOL = _ArrayPool()
"""The array pool of this process when it is a Dask worker (:func:`execute_job_on_worker`):
a worker runs one job after another, like :class:`InProcessExecutor`, and hands a finished
job's arrays to its next job. Emptied when the batch ends (:func:`_release_worker_memory`)."""

_WORKER_POOL_LOCK = threading.Lock()


class InProcessExecutor:
    """Jobs one after another in this process (numba threads inside each chunk); a job's
    per-draw arrays are in the memory of the one before (:class:`_ArrayPool`)."""

    name = "in-process"

    def warm(self, model: Model, sampler: str, chunk_size: int) -> None:
        """Nothing: the first job loads the engine in this process (see
        :meth:`DaskExecutor.warm`)."""

    def run(self, jobs: list[JobSpec], on_chunk: ChunkFn, on_done: DoneFn) -> None:
        token = _POOL.set(_ArrayPool())
        try:
            for job in jobs:
                outcome = execute_job(job, functools.partial(on_chunk, job.index))
                on_done(job.index, outcome)
        finally:
            _POOL.reset(token)

    def close(self) -> None:
        pass


def execute_job_on_worker(job: JobSpec, topic: str) -> JobOutcome:
    """:func:`execute_job` as a Dask task: each finished chunk is reported to the client as an
    event on ``topic`` (for its progress bar); only the summary row is returned."""
    from distributed import get_worker

    worker = get_worker()
    # a worker with one thread runs one job at a time; with more, one job at a time uses the
    # pool and the others take fresh arrays
    pooled = _WORKER_POOL_LOCK.acquire(blocking=False)
    token = _POOL.set(_WORKER_POOL if pooled else None)
    try:
        return execute_job(job, lambda j: worker.log_event(topic, {"job": job.index, "chunk": j}))
    finally:
        _POOL.reset(token)
        if pooled:
            _WORKER_POOL_LOCK.release()


def _release_worker_memory() -> None:
    """When a batch ends, on every worker: let go of the pooled memory of its last job and
    give the freed heap back to the operating system (``malloc_trim``), so that an idle
    worker holds no per-draw results."""
    import gc

    from mkba.memory import glibc

    with _WORKER_POOL_LOCK:
        _WORKER_POOL.clear()
    gc.collect()
    libc = glibc()
    if libc is not None:  # not glibc: nothing to trim
        libc.malloc_trim(0)


WARM_DRAWS = 256
"""Draws of the throw-away job with which each worker loads the engine (see
:meth:`DaskExecutor.warm`)."""


def _warm_worker(model: Model, sampler: str, chunk_size: int) -> None:
    """Run a small throw-away job of ``model`` into a temporary folder on this worker: it
    imports and loads from numba's cache everything a job of the batch needs (the kernel,
    the statistics, the writers), which the worker's first job would otherwise do. Its
    results are dropped; it uses no pooled arrays. It writes into memory (``/dev/shm``) where
    there is one: there ``fsync`` does not wait for a disk."""
    shm = "/dev/shm"
    where = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()
    _remove_orphan_warm_ups(Path(where))
    with tempfile.TemporaryDirectory(prefix=f"mkba-warm-{os.getpid()}-", dir=where) as tmp:
        execute_job(
            JobSpec(
                index=-1,
                model=model,
                label="warm-up",
                point=None,
                draws=min(WARM_DRAWS, chunk_size),
                seed=0,
                sampler=sampler,
                chunk_size=chunk_size,
                run_id="warm-up",
                run_dir=Path(tmp) / "run",
                chunk_root=Path(tmp) / "chunks",
                batch=None,
                resume=False,
                force=True,
                checkpoint_s=float("inf"),
            )
        )


def _remove_orphan_warm_ups(where: Path) -> None:
    """Remove the warm-up folders of worker processes that are gone (a worker killed during
    its warm-up leaves its folder behind; the folder's name holds the process id)."""
    for folder in where.glob("mkba-warm-*-*"):
        try:
            pid = int(folder.name.split("-")[2])
        except (IndexError, ValueError):
            continue
        try:
            os.kill(pid, 0)  # no signal: only whether the process exists
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # pragma: no cover - another user's process: not ours to remove
            continue


def _load_engine() -> None:
    """Import what a job needs on a worker (the numba cache loads with :func:`_warm_worker`,
    or else with the first chunk)."""
    import mkba.api
    import mkba.batch
    import mkba.kernel
    import mkba.report.inputs  # noqa: F401


WORKER_MALLOC = dict(memory.ENVIRON)
"""glibc's malloc settings of the LocalCluster's workers: those the console script sets in its
own process (:data:`mkba.memory.SETTINGS`: one arena, no separate ``mmap`` per block, the heap
trimmed only beyond 2 GiB), as environment variables (:data:`mkba.memory.ENVIRON`), so that a worker gets its memory as a
batch in process does (where this process's environment sets one, Dask passes that on instead).
Dask's own default, ``MALLOC_TRIM_THRESHOLD_=65536``, gave every freed block above 64 kB back to
the operating system at once: each job's temporaries were fresh memory again. With one arena
the threads of a job (kernel, statistics, writers) reuse each other's freed memory instead of
each growing an arena of its own. Nine 100k-draw reference variants one after another in one
process, with the array pool (:class:`_ArrayPool`), peak after job 1 -> job 9 and page faults:
these settings 619 -> 654 MiB, 136,000; the 32 MiB mmap and trim thresholds used before
634 -> 742 MiB, 269,000 (with the old pool, which kept the arrays in the heap, 633-636 ->
707-731 MiB, 311,000); benchmarks/README.md, "i22-dask". The pool's mapping and the heap are
given back when the batch ends (:func:`_release_worker_memory`: ``malloc_trim`` trims whatever
the threshold)."""


def worker_numba_threads(workers: int, cpus: int | None = None) -> int | None:
    """The sampling and kernel threads (``NUMBA_NUM_THREADS``) of each worker of a new
    LocalCluster of ``workers`` workers on this machine's ``cpus``: the cores shared out,
    ``max(1, cpus // workers)``, when there is more than one worker; ``None`` (the job's threads
    as in process) for one worker, or when the user set ``NUMBA_NUM_THREADS``. Two workers on
    two cores, each with the in-process two threads, overcommitted the cores: the nine
    reference variants at 100k draws took 1.23-1.28x the in-process time on the cluster, and
    0.88-1.00x with one thread each (benchmarks/README.md, seventh session). The numbers do
    not depend on the thread count."""
    if workers <= 1 or "NUMBA_NUM_THREADS" in os.environ:
        return None
    return max(1, (usable_cpus() if cpus is None else cpus) // workers)


HTTP_ADDRESS = "127.0.0.1:0"
"""Where a LocalCluster's scheduler serves HTTP (any free port on loopback)."""


class DaskExecutor:
    """Jobs as Dask tasks: a new ``LocalCluster`` (``workers``) or an existing scheduler.

    A task is a whole job (:func:`execute_job`: chunks, statistics, run directory) and returns
    only its summary, so the client does no statistics and no writing, and a worker holds one
    job's per-draw results at a time (and, between its jobs, the memory of the last job's
    arrays, which its next job writes into, as in process). The workers must see the batch folder (the same
    machine, or a shared file system). Dask reschedules the task of a lost worker
    (``retries`` covers transient errors), and as every task is a pure function of the model,
    draws and seed, the numbers do not change.

    The LocalCluster's workers have one task thread each; a job's sampling and kernel threads
    are the machine's cores shared out among the workers (:func:`worker_numba_threads`), its
    statistics threads as in process. :meth:`warm` loads the engine on every worker while the client plans the
    batch.
    """

    name = "dask"

    def __init__(
        self, *, workers: int | None = None, scheduler: str | None = None, retries: int = 2
    ) -> None:
        from distributed import Client, LocalCluster

        self.cluster = None
        self._warm: list[Any] = []
        if scheduler:
            self.client = Client(scheduler)
        else:
            import dask

            n = workers or 1
            spawn = {
                f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_MALLOC.items()
            }
            env = {"OMP_NUM_THREADS": "1"}
            threads = worker_numba_threads(n)
            if threads is not None:
                env["NUMBA_NUM_THREADS"] = str(threads)
            with dask.config.set(spawn):
                self.cluster = LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    # the scheduler's HTTP server (health and metrics; no dashboard) on a free
                    # loopback port, not on Dask's 8787: another cluster there (a notebook's,
                    # a second batch) would make Dask warn and pick another port anyway
                    scheduler_kwargs={"dashboard_address": HTTP_ADDRESS},
                    env=env,
                )
            self.client = Client(self.cluster)
        self.retries = retries
        self.client.run(_load_engine)  # imports on every worker now: part of the start-up

    def warm(self, model: Model, sampler: str, chunk_size: int) -> None:
        """Start a small throw-away job of ``model`` on every worker (:func:`_warm_worker`),
        without waiting: the workers load the engine while the client plans the batch, and
        each then starts its first job warm. A worker's jobs wait for its warm-up (one task
        thread); a warm-up that fails only leaves the loading to the first job."""
        for address in self.client.scheduler_info()["workers"]:
            self._warm.append(
                self.client.submit(
                    _warm_worker,
                    model,
                    sampler,
                    chunk_size,
                    key=f"mkba-warm-{uuid.uuid4().hex}",
                    workers=[address],
                    # a warm-up whose worker is lost runs elsewhere rather than waiting forever
                    allow_other_workers=True,
                    priority=1,  # before the jobs
                    pure=False,
                )
            )

    def run(self, jobs: list[JobSpec], on_chunk: ChunkFn, on_done: DoneFn) -> None:
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        topic = f"mkba-batch-{uuid.uuid4().hex}"

        def chunk_event(event: Any) -> None:  # runs in the client's event loop thread
            events.put(("chunk", event[1]))

        self.client.subscribe_topic(topic, chunk_event)
        try:
            futures = {}
            for job in jobs:
                fut = self.client.submit(
                    execute_job_on_worker,
                    job,
                    topic,
                    key=f"mkba-job-{job.index}-{job.run_id}",  # two jobs may share a run id
                    retries=self.retries,
                    pure=False,
                )
                futures[fut.key] = (job.index, fut)
                fut.add_done_callback(lambda f: events.put(("done", f.key)))
            while futures:
                try:
                    kind, msg = events.get(timeout=0.5)
                except queue.Empty:
                    continue
                if kind == "chunk":
                    on_chunk(int(msg["job"]), int(msg["chunk"]))
                    continue
                k, fut = futures.pop(msg)
                try:
                    res: JobOutcome | BaseException = fut.result()
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as exc:
                    res = exc
                fut.release()  # the worker may forget the result now
                on_done(k, res)
        finally:
            self.client.unsubscribe_topic(topic)
            running = []  # (only in a batch that ran no job) left to close() to wait for
            for fut in self._warm:
                if fut.done():
                    fut.release()
                else:
                    running.append(fut)
            self._warm = running
            with contextlib.suppress(Exception):  # a worker lost just now holds nothing
                self.client.run(_release_worker_memory)

    def close(self) -> None:
        if self._warm:  # a batch that ran no job: let the warm-ups end (and remove their folders)
            from distributed import wait

            with contextlib.suppress(Exception):
                wait(self._warm, timeout=60)
            self._warm.clear()
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(
    workers: int | None = None, scheduler: str | None = None
) -> InProcessExecutor | DaskExecutor:
    if scheduler or workers:
        return DaskExecutor(workers=workers, scheduler=scheduler)
    return InProcessExecutor()


def make_executor_while(
    work: Callable[[], _T], workers: int | None = None, scheduler: str | None = None
) -> tuple[_T, InProcessExecutor | DaskExecutor]:
    """``work()`` (the client's reading of the scenarios) and :func:`make_executor`: a new
    LocalCluster (``workers``) is started in a thread meanwhile, so that its worker processes
    start and import the engine while this process reads. If ``work`` raises, the cluster is
    closed (once started) and the error raised: bad input still ends the batch before
    anything runs or is written. An existing scheduler (``scheduler``) is connected to after
    ``work``, as before: one that cannot be reached does not hide an input error."""
    if scheduler or not workers:
        done = work()
        return done, make_executor(workers, scheduler)
    started: dict[str, Any] = {}
    # imported here, in the caller's thread: two threads importing modules at once can meet
    # in a circular import (a partially initialised module); the workers' start still overlaps
    import dask  # noqa: F401
    import distributed  # noqa: F401

    def start() -> None:
        try:
            started["executor"] = DaskExecutor(workers=workers)
        except BaseException as exc:  # raised in the caller's thread below
            started["error"] = exc

    thread = threading.Thread(target=start, name="mkba-cluster-start", daemon=True)
    thread.start()
    try:
        done = work()
    except BaseException:
        thread.join()
        if "executor" in started:
            started["executor"].close()
        raise
    thread.join()
    if "error" in started:
        raise started["error"]
    return done, started["executor"]


# --- the batch ------------------------------------------------------------------------------------

CHECKPOINT_S = 10.0
"""A job stores the chunks it computed at most this often: an interrupted batch loses at most
this much computing per job, and a shorter job writes no checkpoint."""

ProgressFn = Callable[[int, int], None]
JobDoneFn = Callable[[JobResult], None]


def run_batch(
    jobs: list[Job],
    *,
    out: Path,
    draws: int | None = None,
    seed: int | None = None,
    executor: InProcessExecutor | DaskExecutor | None = None,
    resume: bool = False,
    progress: ProgressFn | None = None,
    on_job_done: JobDoneFn | None = None,
    on_chunk: Callable[[Task], None] | None = None,
    force: bool = False,
    checkpoint_s: float = CHECKPOINT_S,
) -> BatchResult:
    """Run every job; write each job's run directory, the comparison table and
    ``batch.json`` into ``out``. ``on_chunk`` is called after every finished chunk.

    A job runs whole where the executor puts it (:func:`execute_job`): this process, or a
    Dask worker that also computes its statistics and writes its run directory and sends back
    only the summary.

    Every job is loaded and checked first: any input problem raises :class:`InputError`
    (all of them at once) before anything is computed or written. A finished output in the
    way is replaced only by the same run, on ``resume`` (the batch's summary), or with
    ``force`` (see :func:`mkba.paths.check_target`). With ``resume``, a job whose run
    directory was completed is not run again, and stored chunks of the others are reused;
    a job stores its computed chunks every ``checkpoint_s`` seconds (see :func:`execute_job`)."""
    t0 = time.perf_counter()
    out = Path(out)
    where = Path(os.path.abspath(out))  # workers may have another working folder
    executor = executor or InProcessExecutor()
    result = BatchResult(out=out)
    plans: list[Plan] = []
    job_of_plan: list[int] = []  # plan k belongs to job job_of_plan[k]
    job_results: list[JobResult] = []
    problems: list[Problem] = []
    try:  # until the jobs run (which close it): a batch refused here closes its executor
        with shared_parameters():  # the variants of a scenario read its parameters once
            for i, job in enumerate(jobs):
                jr = JobResult(job=job, ok=False)
                job_results.append(jr)
                try:
                    spec = job.load()
                    model = runnable(spec)
                except InputError as exc:
                    problems.extend(x for x in exc.problems if x not in problems)
                    continue
                sc = spec.scenario
                d = sc.draws if draws is None else draws
                s = sc.seed if seed is None else seed
                rid = api.run_id(spec, d, s, sc.sampler, sc.chunk_size)
                job_of_plan.append(i)
                plans.append(Plan(job, spec, model, d, s, sc.sampler, sc.chunk_size, rid))
                if len(plans) == 1:  # the workers load the engine while the others load here
                    executor.warm(model, sc.sampler, sc.chunk_size)
        folders = [job.folder for job in jobs]
        for f in sorted({f for f in folders if folders.count(f) > 1}):
            clash = [job.label for job in jobs if job.folder == f]
            problems.append(Problem("batch", "jobs", "two jobs would share one run folder", clash))
        if problems:
            raise InputError(problems)
        batch_id = hash_id((p.run_id for p in plans), terminated=False)
        check_target(out / "summary", batch_id, force=force or resume)
        for p in plans:
            check_target(out / "runs" / p.job.folder, p.run_id, force=force)
        specs = [
            JobSpec(
                index=k,
                model=p.model,
                label=p.job.label,
                point=p.job.point,
                draws=p.draws,
                seed=p.seed,
                sampler=p.sampler,
                chunk_size=p.chunk_size,
                run_id=p.run_id,
                run_dir=where / "runs" / p.job.folder,
                chunk_root=where / "chunks",
                batch=portable_path(out),
                resume=resume,
                force=force,
                checkpoint_s=checkpoint_s,
            )
            for k, p in enumerate(plans)
        ]
        total = sum(p.n_chunks for p in plans)
        counted = [0] * len(plans)  # chunks done per plan, as far as the client knows
        finished: set[int] = set()

        def report_progress() -> None:
            if progress is not None:
                progress(sum(counted), total)

        def job_done(k: int, res: JobOutcome | BaseException) -> None:
            jr = job_results[job_of_plan[k]]
            finished.add(k)
            if isinstance(res, BaseException):
                jr.error = f"{type(res).__name__}: {res}"
            else:
                jr.chunks_computed, jr.chunks_resumed = res.chunks_computed, res.chunks_resumed
                if res.error is not None:
                    jr.error = res.error
                else:
                    jr.ok, jr.summary = True, res.summary
                    jr.output_dir = out / "runs" / plans[k].job.folder
                    counted[k] = plans[k].n_chunks
            report_progress()
            if on_job_done is not None:
                on_job_done(jr)

        def chunk_done(k: int, j: int) -> None:
            if k in finished:
                return  # a late report of a job already done
            counted[k] += 1
            report_progress()
            if on_chunk is not None:
                on_chunk(Task(k, j))

        todo = []
        for k, js in enumerate(specs):
            before = _resumed_job(js) if resume else None
            if before is None:
                todo.append(js)
            else:
                job_done(k, before)
        report_progress()
        marker = where / "chunks" / f".batch-{uuid.uuid4().hex}"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except BaseException:
        with contextlib.suppress(Exception):  # the refusal is the error to show, not the close's
            executor.close()
        raise
    try:
        executor.run([replace(js, marker=marker) for js in todo], chunk_done, job_done)
    except BaseException:
        with contextlib.suppress(Exception):  # the run's error is the one to show
            executor.close()
        raise
    else:
        executor.close()
    finally:  # also when closing failed
        marker.unlink(missing_ok=True)
    for js in specs:
        ChunkStore(js.chunk_root, js.run_id).clean_temporary()
    result.jobs = job_results
    result.comparison = comparison_table([jr for jr in job_results if jr.ok])
    with run_directory(out / "summary", batch_id, force=force or resume) as tmp:
        write_table(tmp, "comparison", result.comparison)
        write_json(tmp / "batch.json", result.document())
        write_json(
            tmp / "manifest.json",
            {
                "run_id": batch_id,
                "executor": executor.name,
                "jobs": [jr.job.label for jr in job_results],
                "failures": [jr.job.label for jr in result.failures],
                "draws": draws,
                "seed": seed,
                "resumed_chunks": sum(jr.chunks_resumed for jr in job_results),
                "computed_chunks": sum(jr.chunks_computed for jr in job_results),
                "total_s": time.perf_counter() - t0,
            },
        )
    return result


def job_titles(job: Job) -> tuple[str | None, str | None]:
    """The English and Dutch name of a job: its variant's ``title``/``title_nl``, or for the
    base scenario (and a grid point) the scenario's own; ``None`` where not given."""
    import tomllib

    try:
        raw = tomllib.loads(job.scenario.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError):  # pragma: no cover - loaded before the run
        return None, None
    table = raw.get("variants", {}).get(job.variant, {}) if job.variant is not None else raw
    if not isinstance(table, dict):  # pragma: no cover - checked when loading
        return None, None
    en, nl = table.get("title"), table.get("title_nl")
    return (en if isinstance(en, str) else None), (nl if isinstance(nl, str) else None)


def comparison_table(jobs: list[JobResult]) -> pd.DataFrame:
    """One row per job and perspective: NPV, BCR, costs, benefits (mean, P5, P50, P95),
    P(NPV > 0); payback year (P50 of the draws that pay back) and the share of draws that pay
    back, and the IRR (P50), in the job's own perspective; the job's names in English and
    Dutch (``title``, ``title_nl``: see :func:`job_titles`)."""
    rows = []
    for jr in jobs:
        d = jr.summary
        assert d is not None
        title, title_nl = job_titles(jr.job)
        for p in PERSPECTIVES:
            v = d["perspectives"][p]
            row: dict[str, Any] = {
                "job": jr.job.label,
                "scenario": d["scenario"],
                "variant": d.get("variant"),
                "title": title,
                "title_nl": title_nl,
                "perspective": p,
                "scenario_hash": d.get("scenario_hash"),
            }
            for metric in TOTALS:  # the registry's names (mkba.outputs), as in summary.json
                for stat in ("mean", "p5", "p50", "p95"):
                    row[f"{metric}_{stat}"] = v[metric][stat]
            row["prob_npv_positive"] = v["prob_npv_positive"]
            own = p == d["perspective"]
            row["payback_p50"] = d["payback_year"]["p50"] if own else np.nan
            # the median above is taken over the draws that pay back; this is their share
            row["payback_share"] = results.share_pay_back(d["payback_year"]) if own else np.nan
            has_irr = own and "irr" in d
            row["irr_p50"] = d["irr"]["p50"] if has_irr else np.nan
            row["draws"] = d["draws"]
            row["seed"] = d["seed"]
            rows.append(row)
    return pd.DataFrame(rows)


def json_line(jr: JobResult) -> str:
    """One line of ``--json-lines``: a finished job's summary, or its failure."""
    doc = {"job": jr.job.label, "ok": jr.ok}
    if jr.ok:
        doc["summary"] = jr.summary
    else:
        doc["error"] = jr.error
    return to_json(doc).replace("\n", " ").strip()


def default_out(jobs: list[Job]) -> Path:
    h = hashlib.sha256("\0".join(j.label for j in jobs).encode()).hexdigest()[:8]
    return Path("runs") / f"batch-{h}"


__all__ = [
    "BatchResult",
    "ChunkStore",
    "DaskExecutor",
    "InProcessExecutor",
    "Job",
    "JobResult",
    "comparison_table",
    "default_out",
    "expand_jobs",
    "json_line",
    "make_executor",
    "make_executor_while",
    "run_batch",
    "worker_numba_threads",
]
