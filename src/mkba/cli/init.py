"""``mkba init``: scaffold a programme folder on the parameter library."""

from __future__ import annotations

from pathlib import Path

import typer

from mkba.cli.common import err_console, out_console
from mkba.scaffold import init_programme
from mkba.tomlio import display_path


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        folder: Path = typer.Argument(..., help="The programme folder to create."),
        library: Path = typer.Option(
            Path("parameters"),
            "--library",
            "-l",
            help="The parameter library to extend (default: parameters/ here, the shipped one).",
        ),
        title: str = typer.Option(None, "--title", help="Title of the programme."),
        force: bool = typer.Option(False, "--force", help="Write into a non-empty folder."),
    ) -> None:
        """Create a programme folder (areas, a stream, a scenario with a variant, a README)
        that extends the parameter library and validates and runs at once."""
        files = init_programme(folder, library, title=title, force=force)
        for f in files:
            out_console.print(display_path(f), markup=False, highlight=False)
        scenario = display_path(folder / "scenarios" / "base.toml")
        err_console.print(f"next: mkba validate {scenario} && mkba run {scenario}", markup=False)
