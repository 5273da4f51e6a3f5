"""One money scale per table: k / mln / mld (nl), thousand / million / billion (en)."""

from __future__ import annotations

import pytest

from mkba.cli.common import Money
from mkba.report.format import table_scale, table_unit


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # the reference: largest 5.8 bn, smallest row 0.24 bn -> bn, two decimals (0.24)
        ([5.8e9, 3.8e9, 0.24e9], ("bn", 2)),
        # smallest row 0.04 bn: 0.04 has one significant digit -> millions (40)
        ([5.8e9, 0.04e9], ("m", 0)),
        # a EUR 2 m programme: 1.99 m and 0.31 m -> m with two decimals (0.31)
        ([1.99e6, 0.31e6], ("m", 2)),
        # smallest row 95 k: 0.095 m shows one digit at two decimals -> k (95)
        ([1.99e6, 95e3], ("k", 0)),
        # a large smallest row: one decimal suffices (12.0 and 3.8 bn -> 3.8)
        ([12e9, 3.8e9], ("bn", 1)),
        # tens of euros: whole euros
        ([850.0, 12.0], ("unit", 0)),
        # zero rows and rounding noise do not force a smaller unit
        ([3.8e9, 0.0, 1e-3, -2.4e9], ("bn", 1)),
        ([], ("unit", 0)),
    ],
)
def test_table_scale(values: list[float], expected: tuple[str, int]) -> None:
    assert table_scale(values) == expected


def test_units_in_words() -> None:
    assert table_unit("m") == "EUR million"
    assert table_unit("bn", "nl") == "€ miljard"
    assert table_unit("k", "nl") == "€ duizend"
    assert table_unit("unit") == "EUR"


def test_money_column_formats_every_row_in_one_unit() -> None:
    m = Money([1.99e6, 0.31e6, -0.76e6])
    assert (m.unit, m(1.99e6), m(0.31e6), m(-0.76e6), m(None)) == (
        "EUR million",
        "1.99",
        "0.31",
        "-0.76",
        "-",
    )
