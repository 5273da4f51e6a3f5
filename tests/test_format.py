"""Dutch and English number formatting of our own (mkba.report.format), not the locale's."""

from __future__ import annotations

import locale
import math
import os
import subprocess
import sys

import pytest

from mkba.report.format import (
    MINUS,
    check_lang,
    choose_scale,
    format_eur,
    format_eur_range,
    format_int,
    format_number,
    format_pct,
    format_plain,
    format_ratio,
    format_year,
    scale_label,
    tick_formatter,
)

# The two examples of the issue, and their English counterparts.
HEADLINE_CASES = [
    (3.8e9, "nl", "€ 3,8 mld"),
    (1_234e6, "nl", "€ 1.234 mln"),
    (3.8e9, "en", "€3.8 bn"),
    (1_234e6, "en", "€1,234 m"),
]


@pytest.mark.parametrize(("x", "lang", "expected"), HEADLINE_CASES)
def test_issue_examples(x: float, lang: str, expected: str) -> None:
    assert format_eur(x, lang) == expected


@pytest.mark.parametrize(
    ("x", "nl", "en"),
    [
        # thresholds: mld from 1e9, mln from 1e6, whole euros below
        (5.8e9, "€ 5,8 mld", "€5.8 bn"),
        (1e9, "€ 1 mld", "€1 bn"),
        (3e9, "€ 3 mld", "€3 bn"),  # exactly whole: no ",0"
        (1.99e9, "€ 2,0 mld", "€2.0 bn"),  # rounded to whole: the decimal stays
        (12.34e9, "€ 12,3 mld", "€12.3 bn"),
        (123.4e9, "€ 123 mld", "€123 bn"),
        (1.25e9, "€ 1.250 mln", "€1,250 m"),  # 1,3 mld would hide 4 %
        (2.152e9, "€ 2.152 mln", "€2,152 m"),
        (999_999_999.0, "€ 1.000 mln", "€1,000 m"),
        (1e6, "€ 1 mln", "€1 m"),
        (1.5e6, "€ 1,5 mln", "€1.5 m"),
        (25.4e6, "€ 25,4 mln", "€25.4 m"),
        (250e6, "€ 250 mln", "€250 m"),
        (1_234_500.0, "€ 1.234.500", "€1,234,500"),  # 1,2 mln would hide 2.8 %
        (999_999.0, "€ 999.999", "€999,999"),
        (14_000.0, "€ 14.000", "€14,000"),
        (950.0, "€ 950", "€950"),
        (12.5, "€ 12,50", "€12.50"),
        (0.0, "€ 0", "€0"),
    ],
)
def test_format_eur_thresholds(x: float, nl: str, en: str) -> None:
    assert format_eur(x, "nl") == nl
    assert format_eur(x, "en") == en


def test_negative_amounts_use_a_true_minus_after_the_currency() -> None:
    assert format_eur(-3.8e9, "nl") == f"€ {MINUS}3,8 mld"
    assert format_eur(-2.5e6, "en") == f"€{MINUS}2.5 m"
    assert format_eur(-1_234e6, "nl") == f"€ {MINUS}1.234 mln"
    assert format_eur(-3.8e9, "nl", minus="-") == "€ -3,8 mld"
    assert MINUS == "\u2212"
    # a negative amount that rounds to zero has no sign
    assert format_eur(-0.001, "nl") == "€ 0,00"
    assert format_eur(-0.0, "en") == "€0"


def test_sign_for_changes() -> None:
    assert format_eur(2.15e9, "nl", sign=True) == "€ +2.150 mln"
    assert format_eur(2.1e9, "nl", sign=True) == "€ +2,1 mld"
    assert format_eur(-2.1e9, "nl", sign=True) == f"€ {MINUS}2,1 mld"
    assert format_eur(0.0, "nl", sign=True) == "€ 0"
    assert format_number(0.5, "en", 1, sign=True) == "+0.5"


def test_fixed_scale_and_digits() -> None:
    assert format_eur(3.8e9, "nl", scale="m") == "€ 3.800 mln"
    assert format_eur(3.8e9, "nl", scale="bn", digits=2) == "€ 3,80 mld"
    assert format_eur(3.8e9, "en", scale="bn", digits=2) == "€3.80 bn"
    assert format_eur(14_250.0, "nl", scale="k") == "€ 14,3 k"
    assert format_eur(14_250.0, "en", scale="unit") == "€14,250"
    assert format_eur(3.8e9, "nl", scale="bn", digits=1, unit=False) == "€ 3,8"
    with pytest.raises(ValueError, match="scale"):
        format_eur(1.0, "nl", scale="mld")


def test_missing_and_infinite() -> None:
    for f in (format_eur, format_number, format_pct, format_ratio):
        assert f(None, "nl") == "\u2013"
        assert f(math.nan, "en") == "\u2013"
    assert format_year(math.nan) == "\u2013"
    assert format_year(2034.0) == "2034"
    assert format_eur(math.inf, "nl") == "€ \u221e"
    assert format_number(-math.inf, "nl") == f"{MINUS}\u221e"


def test_numbers_percentages_ratios() -> None:
    assert format_number(1_234_567.891, "nl", 2) == "1.234.567,89"
    assert format_number(1_234_567.891, "en", 2) == "1,234,567.89"
    assert format_number(-1234.5, "nl", 1) == f"{MINUS}1.234,5"
    assert format_number(-0.004, "nl", 2) == "0,00"
    assert format_int(20_000, "nl") == "20.000"
    assert format_int(20_000, "en") == "20,000"
    assert format_pct(0.9659, "nl") == "97%"
    assert format_pct(0.9659, "en", 1) == "96.6%"
    assert format_pct(0.0225, "nl", 2) == "2,25%"
    assert format_pct(0.0225, "en", 2) == "2.25%"
    assert format_pct(-0.05, "nl") == f"{MINUS}5%"
    assert format_ratio(1.5227, "nl") == "1,52"
    assert format_ratio(1.5227, "en") == "1.52"
    # half away from zero, from the shortest decimal form
    assert format_number(2.675, "en", 2) == "2.68"
    assert format_number(0.125, "nl", 2) == "0,13"
    assert format_number(-0.125, "nl", 2) == f"{MINUS}0,13"


def test_ranges() -> None:
    assert format_eur_range(3.6e9, 4.1e9, "nl") == "€ 3,6–4,1 mld"
    assert format_eur_range(3.6e9, 4.1e9, "en") == "€3.6–4.1 bn"
    assert format_eur_range(-0.2e9, 1.4e9, "nl") == f"€ {MINUS}0,2 tot 1,4 mld"
    assert format_eur_range(-0.2e9, 1.4e9, "en") == f"€{MINUS}0.2 to 1.4 bn"
    assert format_eur_range(60e6, 956e6, "nl", scale="m", digits=0) == "€ 60–956 mln"
    assert format_eur_range(None, 1.0, "nl") == "\u2013"


def test_plain_values_of_parameters() -> None:
    assert format_plain(0.0225, "nl") == "0,0225"
    assert format_plain(14000, "nl") == "14.000"
    assert format_plain(1.5, "en") == "1.5"
    assert format_plain(4333.634, "nl") == "4.334"
    assert format_plain(0.07132796, "nl") == "0,07133"
    assert format_plain(0, "en") == "0"


def test_axis_helpers() -> None:
    assert choose_scale([3.8e9, 5.8e9]) == "bn"
    assert choose_scale([-2.5e8, 1e6]) == "m"
    assert choose_scale([20_000.0]) == "k"
    assert choose_scale([950.0, None, math.nan]) == "unit"
    assert scale_label("bn", "nl") == "€ mld"
    assert scale_label("m", "en") == "€ m"
    assert scale_label("unit", "nl") == "€"
    tick = tick_formatter("bn", "nl")
    assert tick(2.5e9) == "2,5"
    assert tick(3e9) == "3"
    assert tick(-1e9) == f"{MINUS}1"
    assert tick_formatter("m", "en")(1_250e6) == "1,250"


def test_unknown_language() -> None:
    assert check_lang("nl") == "nl"
    for f in (format_eur, format_number, format_pct):
        with pytest.raises(ValueError, match="language"):
            f(1.0, "de")


def _sample() -> list[str]:
    return [
        format_eur(3.8e9, "nl"),
        format_eur(1_234e6, "nl"),
        format_eur(1_234e6, "en"),
        format_number(1_234_567.891, "nl", 2),
        format_pct(0.0225, "nl", 2),
    ]


def test_does_not_depend_on_the_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = ["€ 3,8 mld", "€ 1.234 mln", "€1,234 m", "1.234.567,89", "2,25%"]
    assert _sample() == expected
    # a locale with other separators, where installed
    for name in ("nl_NL.UTF-8", "de_DE.UTF-8", "fr_FR.UTF-8", "C.UTF-8"):
        try:
            old = locale.setlocale(locale.LC_ALL)
            locale.setlocale(locale.LC_ALL, name)
        except locale.Error:
            continue
        try:
            assert _sample() == expected
        finally:
            locale.setlocale(locale.LC_ALL, old)

    # and a formatter that never asks the locale at all
    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("the locale was consulted")

    monkeypatch.setattr(locale, "localeconv", boom)
    monkeypatch.setattr(locale, "format_string", boom)
    monkeypatch.setattr(locale, "currency", boom)
    assert _sample() == expected


def test_same_text_in_a_process_with_another_locale() -> None:
    code = "from mkba.report.format import format_eur; print(format_eur(3.8e9, 'nl'))"
    env = dict(os.environ, LC_ALL="de_DE.UTF-8", LANG="de_DE.UTF-8", LC_NUMERIC="de_DE.UTF-8")
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "€ 3,8 mld"
