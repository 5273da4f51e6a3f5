"""``mkba chart`` and ``mkba report``: charts, the Excel workbook and the report of a run."""

from __future__ import annotations

from pathlib import Path

import typer

from mkba.cli.common import err_console

KIND_HELP = (
    "Chart kind; repeat for several. Default: every chart the run has data for. "
    "summary, waterfall, stakeholders, areas, cashflow, fan, npv, drivers; "
    "tornado and discount need a sensitivity run, variants a batch comparison."
)
SENSITIVITY_HELP = (
    "Folder with the tables of a sensitivity run (tornado, switching, discount as .csv or "
    ".parquet), e.g. the run directories of `mkba sensitivity`; repeat for several. Default: "
    "looked for in the run directory and its sensitivity/ folder."
)
BATCH_HELP = (
    "Folder with a batch comparison table (comparison.csv or .parquet). Default: looked for "
    "in the run directory and its batch/ folder."
)


def register(app: typer.Typer) -> None:
    @app.command()
    def chart(
        run_dir: Path = typer.Argument(..., help="A run directory written by `mkba run`."),
        kind: list[str] = typer.Option(None, "--kind", "-k", help=KIND_HELP),
        fmt: list[str] = typer.Option(
            None, "--format", "-f", help="png or svg; repeat for both. Default: both."
        ),
        lang: str = typer.Option("en", "--lang", help="Language of labels and titles: nl or en."),
        out: Path = typer.Option(
            None, "--out", "-o", help="Folder for the chart files (default: RUN_DIR/charts)."
        ),
        sensitivity: list[Path] = typer.Option(None, "--sensitivity", help=SENSITIVITY_HELP),
        batch: Path = typer.Option(None, "--batch", help=BATCH_HELP),
    ) -> None:
        """Draw charts of a run as PNG and SVG files (the same run gives the same bytes).

        Prints the path of every file written, one per line.
        """
        from mkba.report import make_charts

        paths = make_charts(
            run_dir,
            kinds=kind or None,
            formats=fmt or ("png", "svg"),
            lang=lang,
            out=out,
            sensitivity=sensitivity or None,
            batch=batch,
        )
        for p in paths:
            typer.echo(str(p))
        err_console.print(f"{len(paths)} chart files written")

    @app.command()
    def report(
        run_dir: Path = typer.Argument(..., help="A run directory written by `mkba run`."),
        fmt: list[str] = typer.Option(
            None,
            "--format",
            "-f",
            help="html, md or xlsx; repeat for several. Default: html and xlsx.",
        ),
        lang: str = typer.Option("en", "--lang", help="Language of the report: nl or en."),
        out: Path = typer.Option(
            None, "--out", "-o", help="Folder for the report (default: the run directory)."
        ),
        sensitivity: list[Path] = typer.Option(None, "--sensitivity", help=SENSITIVITY_HELP),
        batch: Path = typer.Option(None, "--batch", help=BATCH_HELP),
        no_charts: bool = typer.Option(
            False, "--no-charts", help="Do not write chart files (html embeds them anyway)."
        ),
        decide: list[Path] = typer.Option(
            None,
            "--decide",
            help="Decision run directories (mkba voi, allocate, discover, acceptability): "
            "adds a Deciding section and workbook sheet. Repeatable.",
        ),
    ) -> None:
        """Write the report of a run: a self-contained HTML report (charts inline, no network
        access), the Excel workbook and every chart as PNG and SVG, into the run directory.

        Prints the path of every file written, one per line.
        """
        from mkba.report import make_report

        paths = make_report(
            run_dir,
            formats=fmt or ("html", "xlsx"),
            lang=lang,
            out=out,
            sensitivity=sensitivity or None,
            batch=batch,
            charts=not no_charts,
            decide=decide or None,
        )
        for p in paths:
            typer.echo(str(p))
        err_console.print(f"report written: {len(paths)} files")
