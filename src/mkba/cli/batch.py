"""``mkba batch`` and ``mkba compare``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich import box
from rich.table import Table

from mkba.cli.common import Money, err_console, num, out_console, stat_values
from mkba.cli.options import draws_option, out_option, progress_bar, seed_option
from mkba.errors import EXIT_PARTIAL
from mkba.output import to_json

if TYPE_CHECKING:
    from mkba import batch as bt


def _comparison_table(res: bt.BatchResult) -> Table:
    """One row per job; fits 80 columns (job names wrap, never cut)."""
    done = [jr.summary for jr in res.jobs if jr.ok and jr.summary is not None]
    m = Money(
        stat_values(*(d[k] for d in done for k in ("costs_pv", "benefits_pv")), keys=("p50",))
        + stat_values(*(d["npv"] for d in done), keys=("p5", "p50", "p95"))
    )
    persps = sorted({d["perspective"] for d in done})
    one = len(persps) == 1
    t = Table(
        title=f"Batch {res.out}: P50 (NPV also P5, P95; P>0 = P(NPV > 0)), {m.unit}"
        + (f"; {persps[0]} perspective" if one else "; each job in its own perspective"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for col in (
        "job",
        "costs",
        "benefits",
        "NPV",
        "P5",
        "P95",
        "BCR",
        "P>0",
        "payback",
    ):
        t.add_column(
            col,
            justify="left" if col == "job" else "right",
            overflow="fold",
            min_width=14 if col == "job" else None,
        )
    for jr in res.jobs:
        if not jr.ok or jr.summary is None:
            t.add_row(jr.job.label, "FAILED", "", "", "", "", "", "", "")
            continue
        d = jr.summary
        t.add_row(
            jr.job.label if one else f"{jr.job.label} ({d['perspective']})",
            m(d["costs_pv"]["p50"]),
            m(d["benefits_pv"]["p50"]),
            m(d["npv"]["p50"]),
            m(d["npv"]["p5"]),
            m(d["npv"]["p95"]),
            num(d["bcr"]["p50"]),
            f"{d['prob_npv_positive']:.0%}",
            payback_cell(d["payback_year"]),
        )
    return t


def payback_cell(pb: dict) -> str:
    """The median payback year of the draws that pay back, with their share."""
    from mkba.results import share_pay_back

    share = share_pay_back(pb)
    if share == 0:
        return "never"
    return f"{pb['p50']:.0f} ({share:.0%} pay back)"


def _is_scenario_argument(text: str) -> bool:
    path, sep, _ = text.partition(":")
    return text.endswith(".toml") or (sep and path.endswith(".toml")) or Path(text).exists()


def split_variant_arguments(
    arguments: list[str], variants: list[str] | None
) -> tuple[list[str], list[str] | None]:
    """Scenario files and variant names. ``--variants`` takes one or more names: with it,
    ``--variants a b`` and ``--variants a,b`` mean variants a and b; an argument that is not a
    scenario (no ``.toml``, not an existing file) is taken as one more variant name."""
    if not variants:
        return list(arguments), None
    names = [n.strip() for v in variants for n in v.split(",") if n.strip()]
    files = [a for a in arguments if _is_scenario_argument(a)]
    names += [a for a in arguments if not _is_scenario_argument(a)]
    if not files:
        raise typer.BadParameter("no scenario file given", param_hint="SCENARIOS")
    return files, list(dict.fromkeys(names))


def register(app: typer.Typer) -> None:
    @app.command()
    def batch(
        scenarios: list[str] = typer.Argument(..., help="Scenario files, or file.toml:variant."),
        variants: list[str] = typer.Option(
            None,
            "--variants",
            help="'all' or variant names to run besides each base scenario: "
            "--variants a b, --variants a,b or --variants a --variants b.",
        ),
        grid: bool = typer.Option(
            False, "--grid", help="Also run every point of each scenario's [grid]."
        ),
        draws: int = draws_option("Draws per scenario (default: each scenario's)."),
        seed: int = seed_option("Seed for every scenario (default: each scenario's)."),
        out: Path = out_option("Batch directory (default: runs/batch-<id>)."),
        workers: int = typer.Option(
            None,
            "--workers",
            min=1,
            help="Start a Dask LocalCluster with this many worker processes.",
        ),
        scheduler: str = typer.Option(
            None,
            "--scheduler",
            help="Address of an existing Dask scheduler (tcp://host:8786); its workers write "
            "the run directories, so they must see the batch folder (--out).",
        ),
        resume: bool = typer.Option(
            False, "--resume", help="Skip chunks already finished in the batch directory."
        ),
        as_json: bool = typer.Option(
            False, "--json", help="Print one JSON document (summaries and failures)."
        ),
        json_lines: bool = typer.Option(
            False, "--json-lines", help="Stream one JSON object per finished scenario."
        ),
        force: bool = typer.Option(
            False, "--force", help="Replace finished outputs in the batch folder (see the README)."
        ),
    ) -> None:
        """Run many scenarios, variants and grid points; write one comparison table.

        Exit code 4 when some scenarios failed (the others are finished and written)."""
        from mkba.cli import engine_imports

        # imported here, not at the top: `mkba --help` must not load the engine (issue 17)
        with engine_imports():
            from mkba import batch as bt

        files, names = split_variant_arguments(scenarios, variants)
        # a LocalCluster (--workers) starts while the scenarios are read
        jobs, executor = bt.make_executor_while(
            lambda: bt.expand_jobs(files, names, grid), workers, scheduler
        )
        out_dir = out if out is not None else bt.default_out(jobs)

        def job_done(jr: bt.JobResult) -> None:
            if json_lines:
                typer.echo(bt.json_line(jr))
            if not jr.ok:
                err_console.print(f"failed: {jr.job.label}: {jr.error}", markup=False)

        with progress_bar(f"batch ({executor.name})", unit="chunks") as bar:
            task = bar.add_task("batch", total=None)
            res = bt.run_batch(
                jobs,
                out=out_dir,
                draws=draws,
                seed=seed,
                executor=executor,
                resume=resume,
                progress=lambda d, t: bar.update(task, completed=d, total=t),
                on_job_done=job_done,
                force=force,
            )
        if as_json:
            typer.echo(to_json(res.document()), nl=False)
        elif not json_lines:
            out_console.print(_comparison_table(res))
            err_console.print(
                f"written: {out_dir / 'summary'} (comparison.csv, comparison.parquet, batch.json); runs in {out_dir / 'runs'}"
            )
        if res.failures:
            err_console.print(f"{len(res.failures)} of {len(res.jobs)} scenario(s) failed")
            raise typer.Exit(EXIT_PARTIAL)

    @app.command()
    def compare(
        a: str = typer.Argument(
            ..., help="Scenario file, file.toml:variant, or a finished run directory."
        ),
        b: str = typer.Argument(..., help="The same for B."),
        draws: int = draws_option("Draws when running scenarios (default: A's)."),
        seed: int = seed_option("Seed when running scenarios (default: A's)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Compare A and B draw by draw (common random numbers): the distribution of A - B."""
        from mkba.cli import engine_imports

        with engine_imports():  # here, not at the top: keeps `mkba --help` light
            from mkba import compare as cmp

        doc = cmp.compare(a, b, draws=draws, seed=seed)
        if as_json:
            typer.echo(to_json(doc), nl=False)
            return
        m = Money(
            stat_values(
                *(v["npv_difference"] for v in doc["perspectives"].values()),
                keys=("p5", "p50", "p95"),
            )
            + [v["costs_difference"]["p50"] for v in doc["perspectives"].values()]
        )
        t = Table(
            title=f"{doc['a']} minus {doc['b']}, {m.unit} ({doc['draws']:,} draws; common random numbers: {'yes' if doc['common_random_numbers'] else 'NO'})",
            title_justify="left",
        )
        for col in ("perspective", "NPV diff P50", "P5", "P95", "costs diff P50", "P(A better)"):
            t.add_column(col, justify="left" if col == "perspective" else "right", overflow="fold")
        for p, v in doc["perspectives"].items():
            if p == "study" and doc.get("stream_perspective") != "study":
                continue  # the 2021 headline's accounting only where the scenario declares it
            d = v["npv_difference"]
            t.add_row(
                p,
                m(d["p50"]),
                m(d["p5"]),
                m(d["p95"]),
                m(v["costs_difference"]["p50"]),
                f"{v['prob_a_better']:.0%}",
            )
        items = [
            (kind, name, st)
            for kind in ("by_stream", "by_stakeholder")
            for name, st in doc[kind].items()
        ]
        ms = Money(stat_values(*(st for _, _, st in items), keys=("p5", "p50", "p95")))
        s = Table(
            title=f"Difference by stream ({doc['stream_perspective']}) and stakeholder (net), {ms.unit}",
            title_justify="left",
        )
        s.add_column("item", overflow="fold")
        s.add_column("P50", justify="right")
        s.add_column("P5", justify="right")
        s.add_column("P95", justify="right")
        for kind, name, st in items:
            s.add_row(f"{kind[3:]}: {name}", ms(st["p50"]), ms(st["p5"]), ms(st["p95"]))
        out_console.print(t)
        out_console.print(s)
        for w in doc["warnings"]:
            err_console.print(f"warning: {w}")
