"""``mkba test``: run analyst-written model test cases (TOML) and report them like tests."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from mkba.cli.common import err_console, out_console
from mkba.errors import EXIT_OK, EXIT_PARTIAL

CASES_HELP = (
    "Case files (.toml, one or more [[case]] tables each) or folders of them. "
    "Default: tests/cases/."
)


def _num(x: float) -> str:
    return f"{x:.10g}"


def register(app: typer.Typer) -> None:
    @app.command(name="test")
    def test_cases(
        files: list[Path] = typer.Argument(None, help=CASES_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print the results as one JSON list."),
    ) -> None:
        """Run model test cases: for each, a scenario (and variant, seed, draws), an output, a
        statistic, the expected value with its tolerance and the source of the expectation.

        Prints a pass/fail table. Exit codes: 0 every case passed; 4 some cases failed;
        2 a case file is invalid (file: case[N].key: message, N from 0; nothing is run).
        """
        from mkba.cli import engine_imports

        with engine_imports():  # here, not at the top: keeps `mkba --help` light
            from mkba.modeltest import case_files, load_cases, run_cases

        paths = case_files(list(files) if files else [Path("tests/cases")])
        prepared = load_cases(paths)
        outcomes = run_cases(prepared)
        failed = [o for o in outcomes if not o.passed]
        if as_json:
            typer.echo(json.dumps([o.as_dict() for o in outcomes], indent=2))
        else:
            for o in outcomes:
                c = o.prepared.case
                variant = f" [{c.variant}]" if c.variant else ""
                out_console.print(
                    f"{'pass' if o.passed else 'FAIL'}  {o.prepared.file} case[{o.prepared.index}] "
                    f"{c.name}{variant}: {c.output} {c.statistic} = {_num(o.actual)} "
                    f"(expected {_num(c.expected)} +/- {o.tolerance:.3g})",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
            for o in failed:
                c = o.prepared.case
                err_console.print(
                    f"FAIL {o.prepared.label}: source of the expectation: {c.source}",
                    markup=False,
                    highlight=False,
                )
        err_console.print(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
        raise typer.Exit(EXIT_PARTIAL if failed else EXIT_OK)
