"""Scenario batches: many scenarios, variants and grid points, chunk by chunk, on one machine
or a Dask cluster, with resume after an interruption.

The unit of work is one fixed-size chunk of draws of one scenario job, computed by
:func:`mkba.engine.compute_chunk` wherever it runs, so a batch gives bit-identical numbers
in-process, on any number of Dask workers, after a lost worker, or after ``--resume``.

Every finished chunk is written atomically to ``<out>/chunks/<run id>/chunk-<j>.npz``; the run
id hashes the scenario (files, calibration, variant), draws, seed, sampler and chunk size.
``resume=True`` skips chunks whose file is already there. A job whose loading or computation
fails is reported and the others go on (exit code 4 for a partial failure).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mkba import api, engine, results
from mkba.checks import runnable
from mkba.engine import ChunkResult, Outcomes
from mkba.errors import InputError, MkbaError, Problem
from mkba.load import Spec, grid_points, load_scenario
from mkba.model import Model
from mkba.output import atomic_write_bytes, run_directory, to_json, write_json, write_table
from mkba.outputs import TOTALS
from mkba.paths import check_target, safe_name
from mkba.runinfo import hash_id, portable_path
from mkba.sampling import chunk_bounds
from mkba.schema.scenario import PERSPECTIVES


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
    """Finished chunks of one run on disk, one ``.npz`` file each, written atomically."""

    def __init__(self, root: Path, run_id: str) -> None:
        self.dir = Path(root) / run_id

    def path(self, index: int) -> Path:
        return self.dir / f"chunk-{index:06d}.npz"

    def has(self, index: int) -> bool:
        return self.path(index).is_file()

    def save(self, res: ChunkResult) -> None:
        arrays: dict[str, Any] = {f"o_{k}": v for k, v in res.outcomes.fields().items()}
        if res.samples is not None:
            arrays["samples"] = res.samples
        buf = io.BytesIO()
        np.savez(buf, index=res.index, lo=res.lo, hi=res.hi, **arrays)
        atomic_write_bytes(self.path(res.index), buf.getvalue())

    def clean_temporary(self) -> None:
        """Remove temporary files of chunk writes that a killed run left behind."""
        for tmp in self.dir.glob(".chunk-*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()

    def load(self, index: int) -> ChunkResult | None:
        """The stored chunk, or None if missing or unreadable (then it is computed again)."""
        try:
            with np.load(self.path(index)) as z:
                fields = {k[2:]: z[k] for k in z.files if k.startswith("o_")}
                samples = z["samples"] if "samples" in z.files else None
                return ChunkResult(
                    int(z["index"]), int(z["lo"]), int(z["hi"]), Outcomes(**fields), samples, {}
                )
        except (OSError, ValueError, KeyError, EOFError):
            return None


# --- executors -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    job: int  # index into the plans
    chunk: int


def run_task(
    model: Model, chunk: int, draws: int, seed: int, sampler: str, chunk_size: int
) -> ChunkResult:
    """One chunk of one scenario: the function workers run (module-level, so it pickles)."""
    return engine.compute_chunk(
        model, chunk, draws=draws, seed=seed, sampler=sampler, chunk_size=chunk_size
    )


def _model_task(model: Model) -> Model:
    return model


class InProcessExecutor:
    """Chunks one after another in this process (numba threads inside each chunk)."""

    name = "in-process"

    def run(
        self, plans: list[Plan], tasks: list[Task]
    ) -> Iterator[tuple[Task, ChunkResult | BaseException]]:
        for t in tasks:
            p = plans[t.job]
            try:
                yield t, run_task(p.model, t.chunk, p.draws, p.seed, p.sampler, p.chunk_size)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # reported per job; the batch goes on
                yield t, exc

    def close(self) -> None:
        pass


class DaskExecutor:
    """Chunks as Dask tasks: a new ``LocalCluster`` (``workers``) or an existing scheduler.

    The lowered model is one task per job that the chunk tasks depend on; a task is one chunk. Dask reschedules
    the tasks of a lost worker (``retries`` covers transient errors), and as every task is a
    pure function of the model, chunk index and seed, the numbers do not change.
    """

    name = "dask"

    def __init__(
        self, *, workers: int | None = None, scheduler: str | None = None, retries: int = 2
    ) -> None:
        from distributed import Client, LocalCluster

        self.cluster = None
        if scheduler:
            self.client = Client(scheduler)
        else:
            n = workers or 1
            # one numba thread per worker process: the workers are the parallelism
            self.cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
            )
            self.client = Client(self.cluster)
        self.retries = retries

    def run(
        self, plans: list[Plan], tasks: list[Task]
    ) -> Iterator[tuple[Task, ChunkResult | BaseException]]:
        from distributed import as_completed

        models: dict[int, Any] = {}
        futures = {}
        for t in tasks:
            p = plans[t.job]
            if t.job not in models:
                # The model as a task (not scattered data): if the worker holding it dies,
                # the scheduler can compute it again elsewhere from the task's own argument.
                models[t.job] = self.client.submit(
                    _model_task, p.model, key=f"mkba-model-{p.run_id}", pure=False
                )
            fut = self.client.submit(
                run_task,
                models[t.job],
                t.chunk,
                p.draws,
                p.seed,
                p.sampler,
                p.chunk_size,
                key=f"mkba-{p.run_id}-{t.chunk}",
                retries=self.retries,
                pure=False,
            )
            futures[fut] = t
        for fut in as_completed(list(futures)):
            t = futures[fut]
            try:
                yield t, fut.result()
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:
                yield t, exc

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(
    workers: int | None = None, scheduler: str | None = None
) -> InProcessExecutor | DaskExecutor:
    if scheduler or workers:
        return DaskExecutor(workers=workers, scheduler=scheduler)
    return InProcessExecutor()


# --- the batch ------------------------------------------------------------------------------------

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
) -> BatchResult:
    """Run every job, chunk by chunk; write each job's run directory, the comparison table
    and ``batch.json`` into ``out``. ``on_chunk`` is called after every stored chunk.

    Every job is loaded and checked first: any input problem raises :class:`InputError`
    (all of them at once) before anything is computed or written. A finished output in the
    way is replaced only by the same run, on ``resume`` (the batch's summary), or with
    ``force`` (see :func:`mkba.paths.check_target`)."""
    t0 = time.perf_counter()
    out = Path(out)
    executor = executor or InProcessExecutor()
    result = BatchResult(out=out)
    plans: list[Plan] = []
    job_of_plan: list[int] = []  # plan k belongs to job job_of_plan[k]
    job_results: list[JobResult] = []
    problems: list[Problem] = []
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
    stores = [ChunkStore(out / "chunks", p.run_id) for p in plans]
    tasks: list[Task] = []
    for k, p in enumerate(plans):
        for j in range(p.n_chunks):
            if resume and stores[k].has(j) and stores[k].load(j) is not None:
                job_results[job_of_plan[k]].chunks_resumed += 1
                continue
            tasks.append(Task(k, j))
    total = sum(p.n_chunks for p in plans)
    done = sum(jr.chunks_resumed for jr in job_results)
    remaining = {k: sum(1 for t in tasks if t.job == k) for k in range(len(plans))}
    failed: set[int] = set()
    if progress is not None:
        progress(done, total)

    def finish(k: int) -> None:
        jr = job_results[job_of_plan[k]]
        p = plans[k]
        try:
            loaded = [stores[k].load(j) for j in range(p.n_chunks)]
            chunks = [c for c in loaded if c is not None]
            if len(chunks) < len(loaded):
                raise MkbaError("a stored chunk could not be read; run again with --resume")
            run = engine.assemble(
                p.model,
                chunks,
                draws=p.draws,
                seed=p.seed,
                sampler=p.sampler,
                chunk_size=p.chunk_size,
            )
            res = api.finish_run(
                run,
                p.spec,
                out=out / "runs" / p.job.folder,
                write=True,
                timings={},
                t0=time.perf_counter(),
                extra={"batch": portable_path(out), "job": p.job.label, "grid_point": p.job.point},
                force=force,
            )
        except MkbaError as exc:
            jr.error = str(exc)
        else:
            jr.ok = True
            jr.summary = {**res.summary, "job": p.job.label}
            jr.output_dir = res.output_dir
        if on_job_done is not None:
            on_job_done(jr)

    for k in range(len(plans)):
        if remaining[k] == 0:
            finish(k)
    for jr in job_results:
        if jr.error is not None and on_job_done is not None:
            on_job_done(jr)
    try:
        for task, res in executor.run(plans, tasks):
            k = task.job
            jr = job_results[job_of_plan[k]]
            if k in failed:
                continue
            if isinstance(res, BaseException):
                failed.add(k)
                jr.error = f"chunk {task.chunk} failed: {type(res).__name__}: {res}"
                if on_job_done is not None:
                    on_job_done(jr)
                continue
            stores[k].save(res)
            jr.chunks_computed += 1
            remaining[k] -= 1
            done += 1
            if progress is not None:
                progress(done, total)
            if on_chunk is not None:
                on_chunk(task)
            if remaining[k] == 0:
                finish(k)
    finally:
        executor.close()
    for store in stores:
        store.clean_temporary()
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
    "run_batch",
]
