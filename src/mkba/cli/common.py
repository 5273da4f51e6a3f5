"""Shared pieces of the command line: consoles and number formatting."""

from __future__ import annotations

import math

from rich.console import Console

out_console = Console(highlight=False, soft_wrap=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)  # one line per message


def bn(x: float | None, digits: int = 2) -> str:
    """Euros as billions, e.g. ``3.80``; blank for missing values."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x / 1e9:,.{digits}f}"


def num(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:,.{digits}f}"
