"""``mkba validate``: check parameter and scenario files."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from mkba.cli.common import err_console, out_console
from mkba.errors import _MISSING, EXIT_INVALID_INPUT, Problem
from mkba.tomlio import display_path


def _value(p: Problem) -> str | None:
    return None if p.value is _MISSING else repr(p.value)


def _shipped() -> list[Path]:
    root = Path.cwd()
    files = [root / "parameters"] if (root / "parameters").is_dir() else []
    files += sorted((root / "scenarios").glob("*.toml"))
    return files


def register(app: typer.Typer) -> None:
    @app.command()
    def validate(
        files: list[Path] = typer.Argument(
            None,
            help="Scenario files (.toml) or parameter folders. Default: parameters/ and scenarios/*.toml.",
        ),
        as_json: bool = typer.Option(
            False, "--json", help="Print the problems as one JSON document."
        ),
    ) -> None:
        """Validate scenario and parameter files; report every problem as file: key: message."""
        paths = list(files) if files else _shipped()
        if not paths:
            err_console.print(
                "error: nothing to validate (no parameters/ or scenarios/ here; give FILES)"
            )
            raise typer.Exit(EXIT_INVALID_INPUT)
        from mkba.load import validate_paths  # here, not at the top: keeps `mkba --help` light

        problems = validate_paths(paths)
        if as_json:
            doc = {
                "valid": not problems,
                "checked": [str(p) for p in paths],
                "problems": [
                    {"file": p.file, "key": p.key, "message": p.message, "text": str(p)}
                    for p in problems
                ],
            }
            out_console.print_json(json.dumps(doc))
        if problems:
            for p in problems:
                err_console.print(f"error: {p}", markup=False, highlight=False)
            err_console.print(f"{len(problems)} problem(s) found; nothing was computed or written.")
            raise typer.Exit(EXIT_INVALID_INPUT)
        if not as_json:
            names = ", ".join(display_path(p) for p in paths)
            err_console.print(f"valid: {len(paths)} item(s) checked ({names})", markup=False)
