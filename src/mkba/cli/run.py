"""``mkba run``: one Monte Carlo run of a scenario."""

from __future__ import annotations

from pathlib import Path

import typer

from mkba.cli.common import err_console, out_console
from mkba.cli.options import draws_option, out_option, seed_option
from mkba.output import to_json


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        scenario: Path = typer.Argument(
            None,
            help="Scenario file. Default: scenarios/reference-2021.toml (the 16-area reference).",
        ),
        variant: str = typer.Option(
            None, "--variant", "-v", help="A named variant of the scenario."
        ),
        draws: int = draws_option("Number of Monte Carlo draws (default: the scenario's)."),
        seed: int = seed_option("Root random seed (default: the scenario's)."),
        out: Path = out_option("Run directory (default: runs/<scenario>-<run id>)."),
        as_json: bool = typer.Option(
            False, "--json", help="Print one JSON document on stdout instead of tables."
        ),
        no_write: bool = typer.Option(False, "--no-write", help="Do not write a run directory."),
        force: bool = typer.Option(
            False,
            "--force",
            help="Replace a finished run at --out (default: refuse, exit 2; see the README).",
        ),
        companion: bool = typer.Option(
            True,
            "--companion/--no-companion",
            help="Also run the scenario's companion (e.g. evidence-2021 with reference-2021) and "
            "show both side by side: the evidence first, the reconstruction of the 2021 claim "
            "second.",
        ),
        area_draws: str = typer.Option(
            "all",
            "--area-draws",
            help="Per-area columns of draws.parquet: all (default; float64), float32 (single "
            "precision, also in memory: per-area statistics over the rounded values) or none "
            "(left out; per-area statistics stay in summary.json). For runs over many areas.",
        ),
    ) -> None:
        """Run the Monte Carlo simulation of a scenario and write a run directory."""
        from mkba.cli import engine_imports, exit_when_done

        # imported here, not at the top: `mkba --help` must not load the engine (issue 17)
        with engine_imports():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            from mkba import api
            from mkba.cli.tables import summary_renderable
            from mkba.load import shared_parameters

        path = scenario if scenario is not None else api.default_scenario()
        with Progress(
            TextColumn("simulating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=as_json or not err_console.is_terminal,
        ) as bar:
            task = bar.add_task("run", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            # the scenario and its companion read and validate their parameter library once
            with shared_parameters():
                res = api.run_scenario(
                    path,
                    variant=variant,
                    draws=draws,
                    seed=seed,
                    out=out,
                    write=not no_write,
                    progress=progress,
                    force=force,
                    companion=companion,
                    area_draws=area_draws.strip().lower(),
                )
        if as_json:
            typer.echo(to_json(res.summary), nl=False)
        else:
            out_console.print(summary_renderable(res.summary))
        exit_when_done()  # every file is closed: the console script's process may end at once
