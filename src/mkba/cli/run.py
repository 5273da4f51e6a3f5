"""``mkba run``: one Monte Carlo run of a scenario.

:func:`run_command` is the command's body. typer registers it (:func:`register`); the console
script also calls it directly, without typer, when the arguments are of the plain forms
:func:`direct_arguments` reads (``mkba run``, ``mkba run FILE -n 5000 --out DIR --force`` ...):
the same values typer would pass, and typer (with pydantic's validators, about 0.1 CPU-s of a
default run) is then never imported. Anything else goes through typer as before.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mkba.cli.common import err_console, out_console
from mkba.constants import MAX_DRAWS
from mkba.output import to_json

if TYPE_CHECKING:
    import typer


@contextlib.contextmanager
def _progress_bar(show: bool) -> Iterator[Callable[[int, int], None] | None]:
    """The run's progress bar on stderr (a terminal only, not with --json): the callback for
    :func:`mkba.api.run_scenario`, or None when there is no bar (rich's progress module is
    then not imported)."""
    if not show:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("run", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield progress


def start_platform_probe() -> None:
    """Ask :func:`platform.platform` (recorded in the manifest, :func:`mkba.output.versions`)
    on a thread of its own, while the engine is imported: on Linux it runs ``uname -p`` as a
    child process (7-50 ms of waiting measured on the project machine), and the main thread
    then finds its answer in ``platform``'s cache, the same text. If the thread is not done
    by then, the main thread asks on its own (the same answer again)."""

    def probe() -> None:
        import platform

        with contextlib.suppress(Exception):  # a probe only: the manifest asks again
            platform.platform()

    threading.Thread(target=probe, name="mkba-platform", daemon=True).start()


def run_command(
    scenario: Path | None = None,
    variant: str | None = None,
    draws: int | None = None,
    seed: int | None = None,
    out: Path | None = None,
    as_json: bool = False,
    no_write: bool = False,
    force: bool = False,
    companion: bool = True,
    area_draws: str = "all",
) -> None:
    """The body of ``mkba run`` (its parameters are the command's, see :func:`register`)."""
    from mkba import prefault
    from mkba.cli import engine_imports, exit_when_done, own_process
    from mkba.output import remove_replaced_beside

    start_platform_probe()
    if own_process():  # a replaced run folder removed while the process ends
        remove_replaced_beside()
    # a large run's memory made resident on the other core while the engine is imported
    prefault.early(scenario, variant, draws, area_draws)
    show_bar = not as_json and err_console.is_terminal
    # imported here, not at the top: `mkba --help` must not load the engine (issue 17)
    with engine_imports():
        from mkba import api
        from mkba.cli.tables import summary_renderable
        from mkba.load import shared_parameters

    path = scenario if scenario is not None else api.default_scenario()
    # the scenario and its companion read and validate their parameter library once
    with _progress_bar(show_bar) as progress, shared_parameters():
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
        import typer

        typer.echo(to_json(res.summary), nl=False)
    else:
        out_console.print(summary_renderable(res.summary))
    exit_when_done()  # every file is closed: the console script's process may end at once


_WHOLE_NUMBER = re.compile(r"0|[1-9][0-9]*")

_FLAGS: dict[str, tuple[str, bool]] = {
    "--json": ("as_json", True),
    "--no-write": ("no_write", True),
    "--force": ("force", True),
    "--companion": ("companion", True),
    "--no-companion": ("companion", False),
}
"""The flags :func:`direct_arguments` reads: option -> (parameter, value)."""

_VALUED: dict[str, str] = {
    "--variant": "variant",
    "-v": "variant",
    "--draws": "draws",
    "-n": "draws",
    "--seed": "seed",
    "--out": "out",
    "-o": "out",
    "--area-draws": "area_draws",
}
"""The options with a value (the next argument) :func:`direct_arguments` reads."""


def direct_arguments(args: list[str]) -> dict[str, Any] | None:
    """The parameters of :func:`run_command` for the arguments after ``run`` when each is of a
    plain form, the values typer gives for them (tests/test_cli_direct.py compares the two):
    at most one scenario file; each option at most once, as a separate argument (``--out DIR``,
    ``-n 5000``; not ``--out=DIR`` or ``-n5000``); values that do not begin with ``-``; draws
    and seed as plain whole numbers in their ranges (1..MAX_DRAWS draws, a seed from 0).
    Anything else (``--help``, a bad value, a repeated option, ``--``, an argument that is not
    a string...) gives None: typer parses it, with its own messages."""
    if not all(isinstance(a, str) for a in args):  # e.g. a Path from a caller of main(argv)
        return None
    got: dict[str, Any] = {}
    value: Any
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _FLAGS:
            name, value = _FLAGS[arg]
            i += 1
        elif arg in _VALUED:
            name = _VALUED[arg]
            if i + 1 >= len(args):
                return None
            value = args[i + 1]
            i += 2
            if not value or value.startswith("-"):
                return None
            if name in ("draws", "seed"):
                if len(value) > 18 or not _WHOLE_NUMBER.fullmatch(value):
                    return None
                value = int(value)
                if value < (1 if name == "draws" else 0) or (name == "draws" and value > MAX_DRAWS):
                    return None
            elif name == "out":
                value = Path(value)
        elif arg and not arg.startswith("-"):
            name, value = "scenario", Path(arg)
            i += 1
        else:
            return None
        if name in got:
            return None
        got[name] = value
    return got


def register(app: typer.Typer) -> None:
    import typer

    from mkba.cli.options import draws_option, out_option, seed_option

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
        run_command(
            scenario,
            variant,
            draws,
            seed,
            out,
            as_json,
            no_write,
            force,
            companion,
            area_draws,
        )
