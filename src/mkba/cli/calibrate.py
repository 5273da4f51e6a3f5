"""``mkba calibrate``: fit free parameters to published targets and write the record."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer
from rich.table import Table

from mkba.cli.common import err_console, out_console
from mkba.constants import MAX_DRAWS
from mkba.errors import EXIT_RUN_FAILED
from mkba.output import to_json
from mkba.tomlio import read_toml


def register(app: typer.Typer) -> None:
    @app.command()
    def calibrate(
        scenario: Path = typer.Argument(
            ..., help="Scenario file to calibrate (its own calibration record is ignored)."
        ),
        target: list[str] = typer.Option(
            ...,
            "--target",
            "-t",
            help="NAME=VALUE, e.g. benefits_pv.p50=5.8e9 or by_stream.benefit_savings.p50=2e9.",
        ),
        free: list[str] = typer.Option(
            ...,
            "--free",
            "-f",
            help="A free parameter path, or several joined by commas sharing one factor "
            "(e.g. streams.care_youth.effect,streams.care_wmo.effect); budget.per_resident for the budget.",
        ),
        draws: int = typer.Option(
            None,
            "--draws",
            "-n",
            min=1,
            max=MAX_DRAWS,
            help="Draws per evaluation (default: the scenario's).",
        ),
        seed: int = typer.Option(None, "--seed", min=0, help="Seed (default: the scenario's)."),
        out: Path = typer.Option(
            None, "--out", "-o", help="Record to write (default: the scenario's calibration file)."
        ),
        check: bool = typer.Option(
            False, "--check", help="Fit again and compare with the stored record; write nothing."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the record as JSON on stdout."),
    ) -> None:
        """Fit the free parameters so that the target statistics are met, and write the record."""
        from mkba import calibrate as cal  # here, not at the top: keeps `mkba --help` light

        targets = [cal.parse_target(t) for t in target]
        groups = [[p.strip() for p in f.split(",") if p.strip()] for f in free]
        fit = cal.calibrate(scenario, targets, groups, draws=draws, seed=seed)
        command = (
            "mkba calibrate " + " ".join(shlex.quote(a) for a in sys.argv[2:])
            if len(sys.argv) > 2
            else ""
        )
        doc = cal.record(fit, command)
        dest = out
        if dest is None and fit.spec.base_scenario.calibration:
            dest = (fit.spec.path.parent / fit.spec.base_scenario.calibration).resolve()
        table = Table(
            title=f"Calibration of {fit.spec.name} ({fit.draws} draws, seed {fit.seed}): {fit.status}"
        )
        for col in ("target", "value", "fitted", "relative residual"):
            table.add_column(col, justify="left" if col == "target" else "right")
        for t in doc["record"]["targets"]:
            table.add_row(
                t["name"],
                f"{t['target']:.6g}",
                f"{t['fitted']:.6g}",
                f"{t['relative_residual']:.2e}",
            )
        for f in doc["record"]["free"]:
            table.add_row("factor: " + ", ".join(f["params"]), "", f"{f['factor']:.6f}", "")
        if check:
            if dest is None or not dest.exists():
                err_console.print("error: no stored record to check against")
                raise typer.Exit(EXIT_RUN_FAILED)
            diffs = cal.compare(fit, read_toml(dest))
            err_console.print(table)
            if diffs:
                for d in diffs:
                    err_console.print(f"differs: {d}")
                raise typer.Exit(EXIT_RUN_FAILED)
            err_console.print(f"reproduced: {dest}")
            return
        if dest is None:
            err_console.print("error: give --out: the scenario has no calibration key")
            raise typer.Exit(EXIT_RUN_FAILED)
        cal.write_record(dest, doc)
        if as_json:
            typer.echo(to_json(doc), nl=False)
        else:
            out_console.print(table)
        err_console.print(f"written: {dest}")
