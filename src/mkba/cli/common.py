"""Shared pieces of the command line: consoles and the command line's number style."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console

from mkba.report.format import CLI, TableMoney

out_console = Console(highlight=False, soft_wrap=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)  # one line per message


class Money(TableMoney):
    """One scale for all amounts of a command-line table (:class:`TableMoney` in the style
    :data:`~mkba.report.format.CLI`): ``Money(values)(x)`` is the figure, ``.unit`` the
    heading (``EUR million``)."""

    def __init__(self, values: Iterable[float | None]) -> None:
        super().__init__(values, CLI)


def stat_values(
    *docs: dict[str, float], keys: tuple[str, ...] = ("mean", "p5", "p50", "p95")
) -> list[float]:
    """The amounts of summary statistics documents, for :class:`Money`."""
    return [d[k] for d in docs for k in keys if k in d]


def num(x: float | None, digits: int = 2) -> str:
    """A plain figure in the command line's style (``1,234.57``; ``-`` when missing)."""
    return CLI.num(x, digits)
