"""Command-line options and the progress bar that several commands share, defined once.

Each factory returns a ``typer.Option`` whose help text the command gives (the meaning of
``--draws`` differs between ``mkba run``, ``batch``, ``compare`` and ``calibrate``); the limits
(``--draws`` between 1 and :data:`~mkba.constants.MAX_DRAWS`, ``--seed`` from 0) are the same
everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from mkba.cli.common import err_console
from mkba.constants import MAX_DRAWS

if TYPE_CHECKING:
    from rich.progress import Progress

SEED_HELP = "Seed (default: the scenario's)."


def draws_option(help: str, *, min: int = 1) -> Any:
    """``--draws/-n``: a whole number of draws, default None (the scenario's)."""
    return typer.Option(None, "--draws", "-n", min=min, max=MAX_DRAWS, help=help)


def seed_option(help: str = SEED_HELP) -> Any:
    """``--seed``: the root seed, default None (the scenario's)."""
    return typer.Option(None, "--seed", min=0, help=help)


def out_option(help: str) -> Any:
    """``--out/-o``: where to write, default None (the command's own default)."""
    return typer.Option(None, "--out", "-o", help=help)


def progress_bar(label: str, *, unit: str = "", disable: bool = False) -> Progress:
    """The progress bar of a long command on stderr (only on a terminal): ``label``, the bar,
    done/total (``unit``), elapsed time."""
    # imported here, not at the top: `mkba --help` must not load rich.progress (issue 17)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn()]
    if unit:
        columns.append(TextColumn(unit))
    return Progress(
        *columns,
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=disable or not err_console.is_terminal,
    )
