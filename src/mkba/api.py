"""The library calls behind the command line: one function per command."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mkba import engine, implied, prefault, results
from mkba.checks import runnable
from mkba.constants import DEFAULT_SCENARIO
from mkba.decide.irr import IrrAlongside, run_offsets
from mkba.drawstream import STREAM_GROUP_ROWS, DrawsStream, DrawsWriter
from mkba.engine import Progress, Run
from mkba.load import Spec, load_scenario
from mkba.output import (
    PARQUET_GROUP_ROWS,
    run_directory,
    versions,
    write_json,
    write_table,
)
from mkba.paths import check_target, safe_name
from mkba.report.inputs import InputsAhead, write_inputs
from mkba.runinfo import hash_id, manifest_head, portable_path
from mkba.spill import SPILL_BYTES

DRAWS_STREAM_ENV = "MKBA_DRAWS_STREAM"
"""``MKBA_DRAWS_STREAM=0`` in the environment: a large run (:data:`~mkba.spill.SPILL_BYTES`)
written by :func:`run_scenario` spills its sampled values to a temporary file and writes
``draws.parquet`` after the simulation, as before :mod:`mkba.drawstream`; otherwise the file is
written while the run is simulated. The same file either way (for comparisons)."""

TWIN_ENV = "MKBA_TWIN"
"""``MKBA_TWIN=0`` in the environment: :func:`run_scenario` always simulates a companion in a
pass of its own; otherwise it simulates the companion in the run's own sampling pass when it
can (:func:`mkba.engine.twin_of`); the same numbers either way. On by default since the console
script keeps freed memory in the process (:mod:`mkba.memory`): the twin pass then costs only
the companion's light outcome arrays as fresh memory (about 20,000 more page faults at 1M
draws) and saves its sampling; on the busy 2-core machine, alternated runs of the console
script took 15.5 against 17.3 s wall at 300k (medians of 6 pairs, 5 of them faster) and 46.5
against 57.9 s at 1M (4 pairs), and a 10M run peaked at 15.6 GiB (benchmarks/README.md,
"i20-mem"). Before that it was opt-in: with glibc returning freed memory, the run's outcome
arrays were fresh memory in the twin pass and cost as much system CPU as it saved."""


def default_scenario() -> Path:
    """``scenarios/reference-2021.toml`` of the working directory (the repository root)."""
    return DEFAULT_SCENARIO


AREA_DRAWS = ("all", "float32", "none")
"""What ``draws.parquet`` holds per area and draw (``mkba run --area-draws``):

- ``all`` (default): every area's benefits and costs per draw, float64;
- ``float32``: the same columns in single precision, and the run keeps its per-area outcomes in
  float32 (half the memory; the per-area statistics are taken over the rounded values, about
  7 significant digits; every total is unchanged, summed in float64 in the kernel);
- ``none``: no per-area columns (the per-area statistics in ``summary.json`` and
  ``breakdown.parquet`` stay, exact). For runs over many areas: 3,000 areas make 6,000
  per-area columns."""


def check_area_draws(value: str) -> str:
    """``value`` if it is one of :data:`AREA_DRAWS`, else an :class:`~mkba.errors.InputError`."""
    from mkba.errors import InputError, Problem

    if value not in AREA_DRAWS:
        raise InputError(
            [Problem("--area-draws", "", f"must be one of {', '.join(AREA_DRAWS)}", value)]
        )
    return value


def run_id(
    spec: Spec, draws: int, seed: int, sampler: str, chunk_size: int, area_draws: str = "all"
) -> str:
    """Deterministic id of a run: the same inputs and settings give the same id (a run with
    bounded per-area output, ``area_draws`` other than ``all``, has its own)."""
    key: tuple[str, ...] = (
        spec.digest,
        spec.variant or "",
        str(draws),
        str(seed),
        sampler,
        str(chunk_size),
    )
    if area_draws != "all":
        key += (f"area_draws={area_draws}",)
    return hash_id(key)


def default_run_dir(spec: Spec, rid: str, kind: str | None = None) -> Path:
    """``runs/<scenario>[--<variant>][-<kind>]-<run id>``, from :func:`mkba.paths.safe_name`."""
    tail = f"-{kind}-{rid}" if kind else f"-{rid}"
    return Path("runs") / (safe_name(spec.name, spec.variant) + tail)


@dataclass
class RunResult:
    run: Run
    summary: dict[str, Any]
    output_dir: Path | None
    manifest: dict[str, Any]


def draws_group_rows(chunk_size: int, *, streamed: bool = False) -> int:
    """Rows per Parquet row group of ``draws.parquet`` of a run in chunks of ``chunk_size``
    draws: whole chunks, about :data:`~mkba.output.PARQUET_GROUP_ROWS` rows, or
    :data:`~mkba.drawstream.STREAM_GROUP_ROWS` for a file written while the run is simulated
    (:class:`~mkba.drawstream.DrawsStream`: its buffers are held during the simulation)."""
    rows = STREAM_GROUP_ROWS if streamed else PARQUET_GROUP_ROWS
    return chunk_size * max(1, rows // chunk_size)


def finish_run(
    run: Run,
    spec: Spec,
    *,
    out: Path | None,
    write: bool,
    timings: dict[str, float],
    t0: float,
    extra: dict[str, Any] | None = None,
    rid: str | None = None,
    write_extra: Callable[[Path], list[str]] | None = None,
    force: bool = False,
    side_by_side: list[dict[str, Any]] | None = None,
    area_draws: str = "all",
    companion_side: dict[str, Any] | None = None,
    directory: tuple[Path, DrawsStream] | None = None,
) -> RunResult:
    """Summarise a finished run and (optionally) write its run directory atomically.

    ``rid`` replaces the run id derived from the inputs (e.g. for a posterior run), and
    ``write_extra(folder)`` writes further files into the directory before its manifest and
    returns their names. ``area_draws`` (:data:`AREA_DRAWS`): ``none`` leaves the per-area
    columns out of ``draws.parquet``. ``companion_side`` (the companion's
    :func:`mkba.implied.side_summary`): ``side_by_side`` becomes it and this run's side summary,
    in reading order (the run's side summary shares the statistics of its summary).
    ``directory``: the run directory's temporary folder, already open, and the
    :class:`~mkba.drawstream.DrawsStream` writing its ``draws.parquet`` since the simulation
    began (:func:`run_scenario`, a large run); the folder becomes ``out`` when the caller's
    block closes it.
    """
    with results.shared_statistics():  # each column's statistics computed once
        return _finish_run(
            run,
            spec,
            out=out,
            write=write,
            timings=timings,
            t0=t0,
            extra=extra,
            rid=rid,
            write_extra=write_extra,
            force=force,
            side_by_side=side_by_side,
            area_draws=area_draws,
            companion_side=companion_side,
            directory=directory,
        )


def _finish_run(
    run: Run,
    spec: Spec,
    *,
    out: Path | None,
    write: bool,
    timings: dict[str, float],
    t0: float,
    extra: dict[str, Any] | None,
    rid: str | None,
    write_extra: Callable[[Path], list[str]] | None,
    force: bool,
    side_by_side: list[dict[str, Any]] | None,
    area_draws: str,
    companion_side: dict[str, Any] | None,
    directory: tuple[Path, DrawsStream] | None,
) -> RunResult:
    check_area_draws(area_draws)
    if rid is None:
        rid = run_id(spec, run.draws, run.seed, run.sampler, run.chunk_size, area_draws)
    out_dir = None
    if write:
        out_dir = Path(out) if out is not None else default_run_dir(spec, rid)
    # folders the run directory's parent needs that do not exist yet: the run directory is
    # opened before the statistics (draws.parquet is written beside them), so if they fail
    # these are removed again (when empty): a failed summary leaves nothing, as before
    made = [] if out_dir is None or directory else [p for p in out_dir.parents if not p.exists()]
    stage = {"summarised": False}
    try:
        return _summarise_and_write(
            run,
            spec,
            out_dir,
            rid,
            stage,
            write=write,
            timings=timings,
            t0=t0,
            extra=extra,
            write_extra=write_extra,
            force=force,
            side_by_side=side_by_side,
            area_draws=area_draws,
            companion_side=companion_side,
            directory=directory,
        )
    except BaseException:
        for folder in made if not stage["summarised"] else ():  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _summarise_and_write(
    run: Run,
    spec: Spec,
    out_dir: Path | None,
    rid: str,
    stage: dict[str, bool],
    *,
    write: bool,
    timings: dict[str, float],
    t0: float,
    extra: dict[str, Any] | None,
    write_extra: Callable[[Path], list[str]] | None,
    force: bool,
    side_by_side: list[dict[str, Any]] | None,
    area_draws: str,
    companion_side: dict[str, Any] | None,
    directory: tuple[Path, DrawsStream] | None,
) -> RunResult:
    sc = spec.scenario
    # inputs.json's text made on a thread while this one waits for the statistics' threads
    # (used only if the summary's title and the manifest's calibration file are these)
    ahead = (
        None
        if out_dir is None
        else InputsAhead(
            spec,
            run.model.spec.scenario.title,
            run.model.spec.name,
            portable_path(spec.calibration_path),
        )
    )
    with contextlib.ExitStack() as stack:
        tmp = None
        draws_file: DrawsWriter | DrawsStream | None = None
        t_stats = time.perf_counter()  # from here: the IRR is computed for draws.parquet first
        c_stats = time.process_time()
        # the statistics' work done beside the simulation (mkba.decide.irr.IrrAlongside: the
        # IRR of every draw and mkba.results.ColumnCopies): its CPU seconds so far are counted
        # as the statistics' (the rest is in this window's)
        alongside = getattr(run, "_irr_alongside", None)
        irr_cpu_before = alongside.cpu_s if alongside is not None else 0.0
        if out_dir is not None and directory is not None:
            tmp, draws_file = directory  # draws.parquet written since the simulation began
        elif out_dir is not None:
            # the run directory is assembled under a temporary name from the start, so that
            # draws.parquet (the largest file, mostly waiting for the disk) is written on
            # another thread while the statistics are computed; on any error the writer is
            # stopped and nothing is left behind
            tmp = stack.enter_context(run_directory(out_dir, rid, force=force))
            # the columns, with the IRR of every draw, made here (the IRR is computed once per
            # run, on threads, and then shared with the summary)
            columns = results.draws_columns(run, areas=area_draws != "none")
            draws_file = stack.enter_context(
                DrawsWriter(tmp, columns, draws_group_rows(run.chunk_size))
            )
            del columns
        # the writer's CPU seconds before the statistics (a DrawsStream's, in the simulation)
        writer_cpu0 = draws_file.cpu_so_far() if draws_file is not None else 0.0
        # one set of column buffers for the statistics; the summary's other parts and the
        # yearly table (when written) on a thread beside them (a large run; the same numbers)
        with (
            results.shared_scratch(),
            results.beside_statistics(run, write) as yearly_table,
        ):
            results.precompute_statistics(run)  # every column's statistics, on threads
            if companion_side is not None:
                side_by_side = implied.ordered(implied.side_summary(run), companion_side)
            summ = results.summary(run)
            results.check_finite(summ, spec.label)
            conv = results.convergence(run)
            yearly = yearly_table()
        stats_s = time.perf_counter() - t_stats
        # the statistics' CPU seconds: the process's in that time less draws.parquet's writer,
        # which runs beside them from the IRR on (its threads' CPU so far)
        stats_cpu_s = time.process_time() - c_stats
        if draws_file is not None:
            stats_cpu_s -= draws_file.cpu_so_far() - writer_cpu0
        stats_cpu_s += irr_cpu_before
        # that thread's busy seconds and CPU seconds (both beside the simulation, mostly)
        irr_timings = (
            {}
            if alongside is None
            else {
                "statistics_alongside_s": alongside.seconds,
                "statistics_alongside_cpu_s": alongside.cpu_s,
                # the share of its blocks left to the statistics (it yields to busier threads)
                "statistics_alongside_left": alongside.taken_over / max(1, alongside.blocks),
            }
        )
        summ["run_id"] = rid
        summ["scenario_hash"] = spec.digest
        summ["convergence"] = {k: v for k, v in conv.items() if k != "running"}
        if side_by_side is not None:
            summ["side_by_side"] = side_by_side
        if out_dir is not None:
            summ["output_dir"] = portable_path(out_dir)
        manifest = {
            **manifest_head(spec, rid),
            "draws": run.draws,
            "seed": run.seed,
            "sampler": run.sampler,
            "chunk_size": run.chunk_size,
            **({"area_draws": area_draws} if area_draws != "all" else {}),
            "base_year": sc.base_year,
            "price_year": sc.price_year,
            "uncertain_parameters": list(run.model.uncertain),
            "versions": versions(),
            "timings": {
                **timings,
                **run.timings,
                "statistics_s": stats_s,
                "statistics_cpu_s": stats_cpu_s,
                **irr_timings,
            },
            "convergence": conv,
            **(extra or {}),
            "files": [],
        }
        stage["summarised"] = True
        if tmp is not None and draws_file is not None:
            t_write = time.perf_counter()  # the tables' statistics are shared, computed above
            files = []
            write_json(tmp / "summary.json", summ)
            files.append("summary.json")
            files += write_table(tmp, "summary", results.summary_rows(run))
            files += write_table(tmp, "breakdown", results.breakdown_rows(run))
            files.append("draws.parquet")  # on its thread; waited for below
            assert yearly is not None  # computed above when writing
            files += write_table(tmp, "yearly_quantiles", yearly)
            files += write_inputs(tmp, spec, manifest, summ, ahead)
            if run.model.programme is not None:
                from mkba import programme_results

                files += write_table(
                    tmp, "by_intervention", programme_results.by_intervention_table(run)
                )
                files += write_table(tmp, "physical", programme_results.physical_table(run))
            if write_extra is not None:
                files += write_extra(tmp)
            t_wait = time.perf_counter()
            draws_file.wait()
            manifest["files"] = files
            manifest["timings"]["write_s"] = time.perf_counter() - t_write
            # of which waiting for draws.parquet's thread (the rest: the other files)
            manifest["timings"]["draws_parquet_wait_s"] = time.perf_counter() - t_wait
            manifest["timings"]["draws_parquet_s"] = draws_file.seconds
            manifest["timings"]["draws_parquet_cpu_s"] = draws_file.cpu.get("cpu_s", math.nan)
            if isinstance(draws_file, DrawsStream):
                # row groups whose sampled values went through a temporary file (the writer
                # was more than drawstream.PARAM_GROUPS row groups behind the simulation)
                manifest["timings"]["draws_parquet_spilled_groups"] = draws_file.spilled_groups
            manifest["timings"]["total_s"] = time.perf_counter() - t0
            write_json(tmp / "manifest.json", manifest)
    return RunResult(run=run, summary=summ, output_dir=out_dir, manifest=manifest)


@contextlib.contextmanager
def _early_run_directory(out_dir: Path, rid: str, *, force: bool) -> Iterator[Path]:
    """:func:`mkba.output.run_directory` opened before the simulation (for a ``draws.parquet``
    written while the run is simulated); on an error, the folders above it that it made are
    removed again when empty, as :func:`finish_run` does for its own."""
    made = [p for p in out_dir.parents if not p.exists()]
    try:
        with run_directory(out_dir, rid, force=force) as tmp:
            yield tmp
    except BaseException:
        for folder in made:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _irr_alongside(
    m: Any,
    draws: int,
    area_dtype: type | np.dtype,
    reuse: engine.Outcomes | None,
    stream: DrawsStream | None = None,
) -> tuple[engine.Outcomes, IrrAlongside, results.ColumnCopies]:
    """The outcome arrays a run of ``m`` will fill (``reuse``'s when they fit, as
    :func:`mkba.engine.simulate` would choose; new ones otherwise, given to the simulation as
    its ``reuse``), an :class:`~mkba.decide.irr.IrrAlongside` on their flows, and the
    :class:`~mkba.results.ColumnCopies` it looks for block by block. ``stream``: told of each
    block of rows whose IRR is final, and started on these arrays."""
    target = engine.outcomes_for(draws, m, area_dtype, reuse)
    copies = results.ColumnCopies(target, results.model_statistics_keys(m))
    also = copies.block if stream is None else _both(copies.block, stream.irr_done)
    # with a stream, the IRR at the simulation's priority: a row group is written only once its
    # IRR is final, and at the lowest priority the IRR fell row groups behind on a busy machine
    # (their sampled values then go through the temporary file)
    alongside = IrrAlongside(
        target.flow, run_offsets(m), also=also, nice=19 if stream is None else None
    )
    if stream is not None:
        stream.start(target, alongside.filling)
    return target, alongside, copies


def _both(first: Callable[..., None], second: Callable[..., None] | None) -> Callable[..., None]:
    """A callable that calls ``first`` and then ``second`` (when given) with its arguments."""
    if second is None:
        return first

    def both(*args: Any) -> None:
        first(*args)
        second(*args)

    return both


def _attach_alongside(
    run: Run,
    target: engine.Outcomes,
    alongside: IrrAlongside,
    copies: results.ColumnCopies,
    stream: DrawsStream | None = None,
) -> None:
    """Hand the IRR and the copies found beside the simulation to ``run`` when it filled
    ``target``; else (not expected: the simulation chose other arrays) stop the thread, and
    the IRR is computed afterwards as without it (an error with a ``stream``, which writes
    ``target``'s rows)."""
    if run.outcomes is target:
        alongside.attach(run)
        copies.attach(run)
    else:
        alongside.abort()
        if stream is not None:
            raise RuntimeError(
                "the simulation did not fill the arrays draws.parquet is written from"
            )


def _feeding(progress: Progress | None, alongside: IrrAlongside) -> Progress:
    """``progress`` that also tells ``alongside`` which rows are done (a simulation reports
    ``progress(hi, draws)`` after each chunk, in order: rows ``0 .. hi - 1`` are final)."""

    def report(hi: int, total: int) -> None:
        alongside.rows_done(hi)
        if progress is not None:
            progress(hi, total)

    return report


def _simulate_beside(
    sink: implied.FullStrengthSink, m: Any, stream: DrawsStream | None = None, **kwargs: Any
) -> Run:
    """``engine.simulate(m, on_samples=sink, **kwargs)`` with the sink on a thread of its own
    (:class:`mkba.implied.BackgroundSink`, the same numbers); ``sink.handover_s`` is then the
    simulating thread's time for it. ``stream`` gets each chunk's samples first."""
    bg = implied.BackgroundSink(sink)
    try:
        run = engine.simulate(m, on_samples=bg if stream is None else _both(stream, bg), **kwargs)
    except BaseException:
        bg.abort()
        raise
    bg.close()
    sink.handover_s = bg.seconds
    sink.thread_cpu_s = bg.cpu_s
    return run


def _simulate_twin_beside(
    own: implied.FullStrengthSink,
    osink: implied.FullStrengthSink,
    m: Any,
    twin: engine.Twin,
    stream: DrawsStream | None = None,
    **kwargs: Any,
) -> tuple[Run, Run]:
    """``engine.simulate_twin(m, twin, on_samples=own, other_on_samples=osink, **kwargs)``
    with both sinks on one thread of their own, which reads each chunk's samples where the
    pass made them, while the kernels run (:meth:`mkba.implied.TwinSink.sampled`, the same
    numbers); each sink's ``handover_s`` is then the simulating thread's time for it.
    ``stream`` gets each chunk's samples (the run's) after the kernels (``on_samples``)."""
    pair = implied.TwinSink(own, osink, twin.cols)
    try:
        # each chunk's samples read by the sinks' thread during the kernels, not copied
        runs = engine.simulate_twin(m, twin, on_sampled=pair.sampled, on_samples=stream, **kwargs)
    except BaseException:
        pair.abort()
        raise
    pair.close()
    own.handover_s, osink.handover_s = pair.seconds, pair.other_seconds
    return runs


def run_scenario(
    scenario: Path | str,
    *,
    variant: str | None = None,
    draws: int | None = None,
    seed: int | None = None,
    out: Path | None = None,
    write: bool = True,
    progress: Progress | None = None,
    force: bool = False,
    companion: bool = False,
    area_draws: str = "all",
) -> RunResult:
    """Load, validate, simulate and (optionally) write a run directory.

    A finished output in the way is found before simulating (see
    :func:`mkba.paths.check_target`): it is replaced only by the same run or with ``force``.

    ``scenario`` is a scenario file or an input workbook (``.xlsx``, see
    :mod:`mkba.workbook_input`); a workbook's programme folder is kept beside it
    (``FILE.mkba/``) when the run is written, so that a report finds its scenario.

    ``companion=True`` also runs the scenario's ``companion`` (if it names one; same number of
    draws when ``draws`` is given) and puts both side summaries (evidence first, the
    reconstruction second; :func:`mkba.implied.side_summary`) under ``side_by_side`` in the
    summary. When the two draw the same uniforms (:func:`mkba.engine.twin_of`: the
    same draws, seed, sampler, chunk size, parameter columns, copula and fixed values;
    reference-2021 and evidence-2021 differ only in six calibrated effect columns), both are
    simulated in one sampling pass (:func:`mkba.engine.simulate_twin`, the same numbers; not
    with ``MKBA_TWIN=0``, :data:`TWIN_ENV`); otherwise the companion is simulated first, then
    the run.

    ``area_draws`` bounds the per-area output of many-area runs (:data:`AREA_DRAWS`).
    """
    check_area_draws(area_draws)
    if Path(scenario).suffix.lower() == ".xlsx":
        from mkba import workbook_input

        if write:
            scenario = workbook_input.prepare_run(Path(scenario))
        else:
            import shutil
            import tempfile

            tmp = Path(tempfile.mkdtemp(prefix="mkba-xlsx-"))
            try:
                scen = workbook_input.load_workbook_scenario(Path(scenario), tmp).path
                return run_scenario(
                    scen,
                    variant=variant,
                    draws=draws,
                    seed=seed,
                    out=out,
                    write=False,
                    progress=progress,
                    area_draws=area_draws,
                )
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    t0 = time.perf_counter()
    spec = load_scenario(scenario, variant=variant)
    model = runnable(spec)
    sc = spec.scenario
    n_draws = sc.draws if draws is None else draws
    run_seed = sc.seed if seed is None else seed
    if write:
        rid = run_id(spec, n_draws, run_seed, sc.sampler, sc.chunk_size, area_draws)
        check_target(Path(out) if out is not None else default_run_dir(spec, rid), rid, force=force)
    area_dtype = np.float32 if area_draws == "float32" else np.float64
    # large runs keep their sampled values in a temporary file (mkba.spill), not in memory
    spill = write and n_draws * len(model.uncertain) * 8 > SPILL_BYTES
    # the run's outcome arrays made resident on another core meanwhile (console script only)
    prefault.for_run(model, n_draws, area_dtype)
    # a large run written: draws.parquet is written while it is simulated (mkba.drawstream),
    # its sampled values neither held whole nor read back (MKBA_DRAWS_STREAM=0: spilled, and
    # the file written after the simulation, as before; the same file)
    stream_draws = spill and os.environ.get(DRAWS_STREAM_ENV, "1") != "0"
    with contextlib.ExitStack() as stack:
        stream = directory = None
        if stream_draws:
            out_dir = Path(out) if out is not None else default_run_dir(spec, rid)
            folder = stack.enter_context(_early_run_directory(out_dir, rid, force=force))
            stream = stack.enter_context(
                DrawsStream(
                    folder,
                    model,
                    n_draws,
                    sc.chunk_size,
                    draws_group_rows(sc.chunk_size, streamed=True),
                    seed=run_seed,
                    sampler=sc.sampler,
                    areas=area_draws != "none",
                )
            )
            directory = (folder, stream)
            spill = False
        t1 = time.perf_counter()
        c1 = time.process_time()  # CPU of the process from here (simulate_cpu_s)
        timings = {"load_s": t1 - t0}
        other_side = None
        reuse = None
        side = bool(companion and spec.scenario.companion)
        twin = None
        # the twin pass where it can be used, unless MKBA_TWIN=0 (see TWIN_ENV)
        twin_allowed = os.environ.get(TWIN_ENV, "1") != "0"
        if side and spec.scenario.companion:
            t_load = time.perf_counter()
            other = load_scenario((spec.path.parent / spec.scenario.companion).resolve())
            omodel = runnable(other)
            osc = omodel.spec.scenario
            # the companion in the run's own sampling pass, when the two draw the same uniforms
            # (engine.twin_of checks everything that determines them): the same numbers as the
            # two passes below, with the sampling done once
            twin = (
                None
                if not twin_allowed
                else engine.twin_of(
                    model,
                    omodel,
                    draws=n_draws,
                    seed=run_seed,
                    sampler=sc.sampler,
                    chunk_size=sc.chunk_size,
                    other_draws=osc.draws if draws is None else draws,
                    other_seed=osc.seed,
                    other_sampler=osc.sampler,
                    other_chunk_size=osc.chunk_size,
                )
            )
            t_load = time.perf_counter() - t_load
        if twin is not None:
            # the companion's light outcome arrays made resident too, after the run's
            prefault.for_twin(model, twin.other, n_draws, area_dtype)
            mine = implied.FullStrengthSink(model, n_draws)
            osink = implied.FullStrengthSink(twin.other, n_draws)
            target, alongside, copies = _irr_alongside(model, n_draws, area_dtype, None, stream)
            try:
                run, orun = _simulate_twin_beside(
                    mine,
                    osink,
                    model,
                    twin,
                    stream,
                    draws=n_draws,
                    seed=run_seed,
                    sampler=sc.sampler,
                    chunk_size=sc.chunk_size,
                    progress=_feeding(progress, alongside),
                    area_dtype=area_dtype,
                    spill_samples=spill,
                    keep_samples=stream is None,
                    reuse=target,
                )
            except BaseException:
                alongside.abort()
                raise
            _attach_alongside(run, target, alongside, copies, stream)
            t_side = time.perf_counter()
            with results.shared_statistics():  # its statistics on threads
                other_side = implied.side_summary(osink.attach(orun))
            # the companion's share: loading it, its own columns, kernel and aggregation in the
            # shared pass, handing its samples to its sink, and its side summary
            companion_s = (
                t_load
                + sum(orun.timings.values())
                + osink.handover_s
                + time.perf_counter()
                - t_side
            )
            del orun, osink
            t_attach = time.perf_counter()
            mine.attach(run)
            timings["companion_s"] = companion_s
            timings["side_physical_s"] = mine.handover_s + time.perf_counter() - t_attach
            timings["side_physical_busy_s"] = mine.seconds
            t2 = time.perf_counter()
            # simulate_s: the shared pass less the companion's share and the run's implied effects
            timings["simulate_s"] = t2 - t1 - companion_s - timings["side_physical_s"]
            # the shared pass's CPU cannot be split between the run and the companion
            timings["simulate_cpu_s"] = math.nan
            return finish_run(
                run,
                spec,
                out=out,
                write=write,
                timings=timings,
                t0=t0,
                force=force,
                area_draws=area_draws,
                companion_side=other_side,
                directory=directory,
            )
        if side and spec.scenario.companion:
            # the companion first, summarised and let go before the run itself: only one run's
            # per-draw arrays are ever held (half the peak memory of a large run). Its sampled
            # values are used only for its implied physical effects, computed chunk by chunk as
            # it is simulated (implied.FullStrengthSink), so they are not kept.
            o_draws = omodel.spec.scenario.draws if draws is None else draws
            sink = implied.FullStrengthSink(omodel, o_draws)
            orun = _simulate_beside(
                sink, omodel, draws=draws, area_dtype=area_dtype, keep_samples=False
            )
            with results.shared_statistics():  # its statistics on threads
                other_side = implied.side_summary(sink.attach(orun))
            # its outcome arrays become the run's when they fit (engine.simulate's ``reuse``):
            # no fresh memory mapped and cleared for the run (1.2 GB per million draws)
            reuse = orun.outcomes
            del orun, sink
            t1 = time.perf_counter()
            c1 = time.process_time()
            timings["companion_s"] = t1 - t0 - timings["load_s"]
        # the run's own implied effects likewise, while it is simulated (its side summary is made
        # in finish_run, beside its summary)
        own = implied.FullStrengthSink(model, n_draws) if side else None
        # the IRR of every draw on a thread of its own, chunk by chunk as the flows are made
        target, alongside, copies = _irr_alongside(model, n_draws, area_dtype, reuse, stream)
        kwargs: dict[str, Any] = {
            "draws": draws,
            "seed": seed,
            "progress": _feeding(progress, alongside),
            "area_dtype": area_dtype,
            "spill_samples": spill,
            "keep_samples": stream is None,
            "reuse": target,
        }
        try:
            run = (
                engine.simulate(model, on_samples=stream, **kwargs)
                if own is None
                else _simulate_beside(own, model, stream, **kwargs)
            )
        except BaseException:
            alongside.abort()
            raise
        _attach_alongside(run, target, alongside, copies, stream)
        del reuse, kwargs, target
        # the simulation's CPU seconds (its threads; not the implied-effects sink's thread, nor
        # the IRR's, which are counted in the statistics' CPU seconds)
        simulate_cpu_s = (
            time.process_time()
            - c1
            - (own.thread_cpu_s if own is not None else 0.0)
            - alongside.cpu_s
            - (stream.cpu_so_far() if stream is not None else 0.0)
        )
        if own is not None:
            t_attach = time.perf_counter()
            own.attach(run)
            # what the run's wall paid for the implied effects (handing the samples over, waiting
            # for the last chunk, the statistics of attach) is not the simulation's time; the
            # sink's own time on its thread is side_physical_busy_s
            timings["side_physical_s"] = own.handover_s + time.perf_counter() - t_attach
            timings["side_physical_busy_s"] = own.seconds
        t2 = time.perf_counter()
        return finish_run(
            run,
            spec,
            out=out,
            write=write,
            timings={
                **timings,
                "simulate_s": t2 - t1 - timings.get("side_physical_s", 0.0),
                "simulate_cpu_s": simulate_cpu_s,
            },
            t0=t0,
            force=force,
            area_draws=area_draws,
            companion_side=other_side,
            directory=directory,
        )
