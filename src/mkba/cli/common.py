"""Shared pieces of the command line: consoles and number formatting."""

from __future__ import annotations

import math
from collections.abc import Iterable

from rich.console import Console

out_console = Console(highlight=False, soft_wrap=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)  # one line per message


def bn(x: float | None, digits: int = 2) -> str:
    """Euros as billions, e.g. ``3.80``; blank for missing values."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x / 1e9:,.{digits}f}"


class Money:
    """One scale for all amounts of a table (see :func:`mkba.report.format.table_scale`):
    ``Money(values)(x)`` is the figure, ``.unit`` the heading (``EUR million``)."""

    def __init__(self, values: Iterable[float | None]) -> None:
        from mkba.report.format import table_scale, table_unit

        self.scale, self.digits = table_scale(list(values))
        self.unit = table_unit(self.scale)

    def __call__(self, x: float | None) -> str:
        from mkba.report.format import SCALES, format_number

        if x is None or (isinstance(x, float) and math.isnan(x)):
            return "-"
        return format_number(x / SCALES[self.scale], "en", self.digits, minus="-")


def stat_values(
    *docs: dict[str, float], keys: tuple[str, ...] = ("mean", "p5", "p50", "p95")
) -> list[float]:
    """The amounts of summary statistics documents, for :class:`Money`."""
    return [d[k] for d in docs for k in keys if k in d]


def num(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:,.{digits}f}"
