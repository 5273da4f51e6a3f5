"""``mkba template --xlsx FILE``: an input workbook to fill in."""

from __future__ import annotations

from pathlib import Path

import typer

from mkba.cli.common import err_console, out_console
from mkba.errors import InputError, Problem
from mkba.tomlio import display_path


def register(app: typer.Typer) -> None:
    @app.command()
    def template(
        xlsx: Path = typer.Option(..., "--xlsx", help="The workbook to write (.xlsx)."),
        library: Path = typer.Option(
            Path("parameters"), "--library", "-l", help="The parameter library it builds on."
        ),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    ) -> None:
        """Write an input workbook (areas, budget, values with sources, payer shares) that
        `mkba validate FILE.xlsx` and `mkba run FILE.xlsx` read back."""
        if xlsx.suffix.lower() != ".xlsx":
            raise InputError([Problem(display_path(xlsx), "", "the file name must end in .xlsx")])
        if xlsx.exists() and not force:
            raise InputError([Problem(display_path(xlsx), "", "file exists (use --force)")])
        if not (library / "model.toml").is_file():
            raise InputError(
                [Problem(display_path(library), "", "not a parameter library (no model.toml)")]
            )
        from mkba.workbook_input import write_template  # here: keeps `mkba --help` light

        write_template(xlsx, library)
        out_console.print(display_path(xlsx), markup=False, highlight=False)
        err_console.print(
            f"next: fill it in, then mkba validate {display_path(xlsx)}", markup=False
        )
