"""Number formatting for reports, charts and tables, in Dutch and English.

Our own formatter, never the machine's locale: the same run gives the same text on every
machine. Python's ``format(x, ",.1f")`` groups digits with "," and "." whatever the locale
(only the ``"n"`` presentation type reads it); we then swap the separators for Dutch.

=========================  ======================  ==================
value                      ``lang="nl"``            ``lang="en"``
=========================  ======================  ==================
``format_eur(3.8e9)``      ``€ 3,8 mld``            ``€3.8 bn``
``format_eur(1_234e6)``    ``€ 1.234 mln``          ``€1,234 m``
``format_eur(-2.5e6)``     ``€ −2,5 mln``           ``€−2.5 m``
``format_eur(14_000)``     ``€ 14.000``             ``€14,000``
``format_pct(0.9659)``     ``97%``                  ``97%``
``format_number(1.52, 2)`` ``1,52``                 ``1.52``
=========================  ======================  ==================

Choosing the unit (``scale="auto"``): the candidates are billions (``mld``/``bn``) from
1e9, millions (``mln``/``m``) from 1e6, and whole euros. The largest candidate is taken whose
rounded figure is within ``max_rounding`` (1 % by default) of the exact value; otherwise
the next smaller unit. So 3.8e9 reads ``€ 3,8 mld`` but 1.234e9 reads ``€ 1.234 mln``
(``€ 1,2 mld`` would hide 2.8 %). Thousands (``k``) are used only on request
(``scale="k"``). Figures in a unit are shown with one decimal below 100 and none above,
and a trailing ``,0`` is dropped for whole numbers (``€ 3 mld`` for exactly 3e9, but
``€ 2,0 mld`` for 1.99e9) unless ``digits`` is given.

Rounding is half away from zero (``14,25`` -> ``14,3``), as readers and spreadsheets round,
not Python's round-half-to-even.

Negative numbers carry a true minus sign (U+2212) between the currency sign and the figure,
``€ −3,8 mld`` (``€−3.8 bn``), in single amounts and ranges alike (``€ −0,2 tot 1,4 mld``);
``minus="-"`` gives an ASCII hyphen-minus instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from mkba.texts import LANGS as LANGS
from mkba.texts import Lang as Lang
from mkba.texts import check_lang as check_lang

Scale = Literal["auto", "bn", "m", "k", "unit"]

MINUS = "\u2212"
DASH = "\u2013"  # en dash: ranges (P5–P95) and missing values
MISSING = DASH

SCALES: dict[str, float] = {"bn": 1e9, "m": 1e6, "k": 1e3, "unit": 1.0}
"""Divisor of each unit."""

SCALE_WORDS: dict[str, dict[str, str]] = {
    "nl": {"bn": "mld", "m": "mln", "k": "k", "unit": ""},
    "en": {"bn": "bn", "m": "m", "k": "k", "unit": ""},
}
"""Abbreviation of each unit: Dutch ``mld`` (miljard), ``mln`` (miljoen)."""

AUTO_SCALES: tuple[str, ...] = ("bn", "m", "unit")
"""Candidates of ``scale="auto"``, largest first; each applies from its divisor upwards."""


def currency_prefix(lang: str) -> str:
    """The euro sign before a figure: ``€ `` with a space in Dutch, ``€`` in English."""
    return "€ " if check_lang(lang) == "nl" else "€"


def list_separator(lang: str) -> str:
    """Between the items of a list of numbers: ``; `` in Dutch (the comma is the decimal
    sign there), ``, `` in English."""
    return "; " if check_lang(lang) == "nl" else ", "


def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _digits_for(scaled: float, scale: str) -> int:
    """Default decimals: whole euros above 100, cents below; in units, 1 decimal below 100."""
    a = abs(scaled)
    if scale == "unit":
        return 0 if a >= 100 or a == round(a) else 2
    return 1 if a < 100 else 0


def format_number(
    x: float | None,
    lang: str = "en",
    digits: int = 0,
    *,
    minus: str = MINUS,
    sign: bool = False,
    strip_zeros: bool = False,
) -> str:
    """A number with grouped thousands: ``1.234,5`` (nl) or ``1,234.5`` (en).

    Parameters
    ----------
    x : float or None
        The number; ``None`` or NaN gives an en dash.
    lang : {"nl", "en"}
    digits : int
        Decimals [-].
    minus : str
        The minus sign (U+2212 by default).
    sign : bool
        Put ``+`` before positive numbers (for changes).
    strip_zeros : bool
        Drop trailing decimal zeros (``3,0`` -> ``3``).
    """
    check_lang(lang)
    if _missing(x):
        return MISSING
    assert x is not None
    if math.isinf(x):
        return ("" if x > 0 else minus) + "\u221e"
    text = f"{_half_up(abs(x), max(digits, 0)):,.{max(digits, 0)}f}"
    if strip_zeros and "." in text:
        text = text.rstrip("0").rstrip(".")
    negative = x < 0 and any(ch not in "0.," for ch in text)  # -0.0 and -0.04 -> "0"
    if lang == "nl":
        text = text.translate(str.maketrans(",.", ".,"))
    if negative:
        return minus + text
    return ("+" + text) if sign and x > 0 and any(ch not in "0.," for ch in text) else text


def _half_up(x: float, digits: int) -> Decimal:
    """``x`` rounded half away from zero, as a reader rounds (14,25 -> 14,3), from its
    shortest decimal form (so 2.675, stored as 2.67499..., also gives 2,68)."""
    return Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def choose_scale(values: Iterable[float | None]) -> str:
    """One unit for a whole axis or table column: by the largest absolute value.

    ``bn`` from 1e9, ``m`` from 1e6, ``k`` from 1e4, else ``unit`` (whole euros).
    """
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    top = max(finite, default=0.0)
    if top >= 1e9:
        return "bn"
    if top >= 1e6:
        return "m"
    if top >= 1e4:
        return "k"
    return "unit"


SCALE_NAMES: dict[str, dict[str, str]] = {
    "nl": {"bn": "miljard", "m": "miljoen", "k": "duizend", "unit": ""},
    "en": {"bn": "billion", "m": "million", "k": "thousand", "unit": ""},
}
"""The unit in words, for a table heading (``EUR million``, ``€ miljoen``)."""

TABLE_SCALES: tuple[str, ...] = ("bn", "m", "k", "unit")


def table_scale(
    values: Iterable[float | None], *, sig: int = 2, max_digits: int = 2
) -> tuple[str, int]:
    """One unit and one number of decimals for every amount of a table.

    The rule: start from the largest unit not above the largest amount (``bn`` from 1e9,
    ``m`` from 1e6, ``k`` from 1e3); take the fewest decimals (at most ``max_digits``) that
    show the smallest non-zero amount with at least ``sig`` significant digits; if even
    ``max_digits`` decimals cannot, take the next smaller unit. Amounts below a millionth of
    the largest are treated as zero (rounding noise). So a EUR 3.8 bn programme whose
    smallest row is EUR 0.25 bn reads in ``bn`` with two decimals, one whose smallest row is
    EUR 40 m reads in ``m`` (``3,800`` and ``40``), and a EUR 2 m programme reads in ``m``
    (``1.90``) or ``k`` when its smallest row is below EUR 0.1 m.

    Returns
    -------
    (scale, digits) : for :func:`format_eur` / :func:`format_number` on ``value / SCALES[scale]``.
    """
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    top = max(finite, default=0.0)
    if top == 0:
        return "unit", 0
    small = min(v for v in finite if v >= top * 1e-6)
    first = next(i for i, sc in enumerate(TABLE_SCALES) if top >= SCALES[sc] or sc == "unit")
    need = 10 ** (sig - 1)
    for scale in TABLE_SCALES[first:]:
        for d in range(max_digits + 1):
            if small / SCALES[scale] * 10**d >= need:  # before rounding: 0.095 is not "0.10"
                return scale, d
    return "unit", max_digits


def table_unit(scale: str, lang: str = "en", currency: str = "EUR") -> str:
    """Heading of a table's amounts: ``EUR million`` (en), ``€ miljoen`` (nl), ``EUR``."""
    check_lang(lang)
    word = SCALE_NAMES[lang][scale]
    cur = "€" if lang == "nl" else currency
    return f"{cur} {word}" if word else cur


def _pick_scale(x: float, max_rounding: float) -> str:
    a = abs(x)
    for scale in AUTO_SCALES:
        div = SCALES[scale]
        if a < div and scale != "unit":
            continue
        scaled = a / div
        shown = float(_half_up(scaled, _digits_for(scaled, scale)))
        if scale == "unit" or abs(shown - scaled) <= max_rounding * scaled:
            return scale
    return "unit"  # pragma: no cover - the loop always returns at "unit"


def format_eur(
    x: float | None,
    lang: str = "en",
    *,
    scale: str = "auto",
    digits: int | None = None,
    max_rounding: float = 0.01,
    minus: str = MINUS,
    sign: bool = False,
    unit: bool = True,
) -> str:
    """Euros in words a reader expects: ``€ 3,8 mld`` (nl) or ``€3.8 bn`` (en).

    Parameters
    ----------
    x : float or None
        Amount [EUR]; ``None`` or NaN gives an en dash.
    lang : {"nl", "en"}
    scale : {"auto", "bn", "m", "k", "unit"}
        Unit of the figure; ``"auto"`` picks one per value (see the module docstring).
        Give one scale for every number of a table or axis.
    digits : int, optional
        Decimals. Default: 1 below 100 in a unit (trailing zero dropped), else 0; whole
        euros above 100, cents below.
    max_rounding : float
        For ``scale="auto"``: the largest relative rounding a unit may hide [-].
    minus : str
        The minus sign (U+2212 by default).
    sign : bool
        ``+`` before positive amounts (changes, waterfall steps): ``€ +2,1 mld``.
    unit : bool
        Append the unit word (``mld``); ``False`` gives ``€ 3,8`` for a labelled column.
    """
    lang = check_lang(lang)
    if _missing(x):
        return MISSING
    assert x is not None
    if scale not in SCALES and scale != "auto":
        raise ValueError(f"scale must be one of auto, {', '.join(SCALES)} (got {scale!r})")
    if math.isinf(x):
        body = "\u221e"
        chosen = "unit"
        scaled = x
    else:
        chosen = _pick_scale(x, max_rounding) if scale == "auto" else scale
        scaled = x / SCALES[chosen]
        d = _digits_for(scaled, chosen) if digits is None else digits
        whole = abs(scaled - round(scaled)) <= 1e-9 * max(abs(scaled), 1.0)
        body = format_number(abs(scaled), lang, d, strip_zeros=digits is None and whole)
    shown = body.strip("0,.") != ""
    if x < 0 and shown:
        body = minus + body
    elif sign and x > 0 and shown:
        body = "+" + body
    word = SCALE_WORDS[lang][chosen] if unit else ""
    cur = currency_prefix(lang)
    return f"{cur}{body}" + (f" {word}" if word else "")


def format_eur_range(
    lo: float | None,
    hi: float | None,
    lang: str = "en",
    *,
    scale: str | None = None,
    digits: int | None = None,
    minus: str = MINUS,
) -> str:
    """A range in one unit: ``€ 3,6–4,1 mld`` (nl) or ``€3.6–4.1 bn`` (en).

    The unit is that of the larger end unless ``scale`` is given. A negative lower end is
    joined with a word instead of a dash: ``€ −0,2 tot 1,4 mld``, ``€−0.2 to 1.4 bn``.
    """
    lang = check_lang(lang)
    if _missing(lo) or _missing(hi):
        return MISSING
    assert lo is not None and hi is not None
    sc = scale or choose_scale([lo, hi])
    if sc == "k" and scale is None:
        sc = "unit"  # thousands only on request, as in format_eur
    a, b = lo / SCALES[sc], hi / SCALES[sc]
    if digits is None:
        digits = _digits_for(max(abs(a), abs(b)), sc)
    fa = format_number(a, lang, digits, minus=minus)
    fb = format_number(b, lang, digits, minus=minus)
    word = SCALE_WORDS[lang][sc]
    cur = currency_prefix(lang)
    # a dash between signed numbers reads badly (−1,5–2,6): write "to" then
    sep = DASH if lo >= 0 else (" tot " if lang == "nl" else " to ")
    return f"{cur}{fa}{sep}{fb}" + (f" {word}" if word else "")


def format_pct(
    x: float | None,
    lang: str = "en",
    digits: int = 0,
    *,
    minus: str = MINUS,
    sign: bool = False,
) -> str:
    """A fraction as a percentage: ``0.9659`` -> ``97%``; ``0.0225, digits=2`` -> ``2,25%`` (nl).

    No space before the sign, as the Dutch Taalunie advises and English usage has it.
    """
    check_lang(lang)
    if _missing(x):
        return MISSING
    assert x is not None
    return format_number(100 * x, lang, digits, minus=minus, sign=sign) + "%"


def format_ratio(x: float | None, lang: str = "en", digits: int = 2, *, minus: str = MINUS) -> str:
    """A ratio such as a benefit-cost ratio: ``1,52`` (nl) or ``1.52`` (en)."""
    return format_number(x, lang, digits, minus=minus)


def format_year(x: float | None) -> str:
    """A calendar year (``2034``); en dash when missing (e.g. no payback within the horizon)."""
    if _missing(x):
        return MISSING
    assert x is not None
    return f"{x:.0f}"


def format_int(x: float | None, lang: str = "en") -> str:
    """A count with grouped thousands: ``20.000`` (nl), ``20,000`` (en)."""
    return format_number(x, lang, 0)


def scale_label(scale: str, lang: str) -> str:
    """The unit of an axis or column: ``€ mld`` (nl), ``€ bn`` (en), ``€`` for whole euros."""
    check_lang(lang)
    word = SCALE_WORDS[lang][scale]
    return f"€ {word}" if word else "€"


def tick_formatter(
    scale: str, lang: str, digits: int | None = None
) -> Callable[[float, object], str]:
    """A function for matplotlib's ``FuncFormatter``: plain figures in ``scale``.

    With ``digits=None`` the decimals follow the tick spacing: whole numbers stay whole.
    """
    div = SCALES[scale]

    def fmt(value: float, _pos: object = None) -> str:
        v = value / div
        d = digits
        if d is None:
            d = 0 if abs(v - round(v)) < 1e-9 else (1 if abs(v * 10 - round(v * 10)) < 1e-6 else 2)
        return format_number(v, lang, d)

    return fmt


def format_plain(x: float | None, lang: str = "en", sig: int = 4, *, minus: str = MINUS) -> str:
    """A parameter value as written: up to ``sig`` significant digits, thousands grouped.

    ``0.0225`` -> ``0,0225`` (nl); ``14000`` -> ``14.000``; ``1.5`` -> ``1,5``.
    """
    check_lang(lang)
    if _missing(x):
        return MISSING
    assert x is not None
    if x == 0 or math.isinf(x):
        return format_number(x, lang, 0, minus=minus)
    mag = math.floor(math.log10(abs(x)))
    digits = max(sig - 1 - mag, 0)
    return format_number(x, lang, digits, minus=minus, strip_zeros=True)


def excel_money_format(scale: str, digits: int, lang: str) -> str:
    """Excel number format of amounts in euros shown in ``scale`` (``€ #,##0.0,, "mln"``);
    Excel itself shows the separators of the reader's locale."""
    commas = {"bn": ",,,", "m": ",,", "k": ",", "unit": ""}[scale]
    word = SCALE_WORDS[check_lang(lang)][scale]
    body = "#,##0" + ("." + "0" * digits if digits else "") + commas
    cur = currency_prefix(lang)
    unit = f' "{word}"' if word else ""
    return f"{cur}{body}{unit};[Red]-{cur}{body}{unit}"


def excel_axis_format(scale: str) -> str:
    """Excel number format of a chart axis in ``scale`` (whole figures, no unit word)."""
    return "#,##0" + {"bn": ",,,", "m": ",,", "k": ",", "unit": ""}[scale]


class Numbers:
    """One number style for one medium: the language, the minus sign and the mark of a
    missing value. Every number the report, workbook, charts and command line print goes
    through here (or the functions above it uses).

    ``Numbers("nl")`` writes as the report does (``1.234,5``, ``−3,8``, ``–`` when missing);
    :data:`CLI` writes plain English for a terminal (``1,234.5``, ``-3.8``, ``-``).
    """

    def __init__(
        self, lang: str = "en", *, minus: str = MINUS, missing: str = MISSING, dash: str = DASH
    ) -> None:
        self.lang = check_lang(lang)
        self.minus = minus
        self.missing = missing
        self.dash = dash

    def _gap(self, x: float | None) -> bool:
        return _missing(x)

    def num(self, x: float | None, digits: int = 2) -> str:
        """A plain figure with grouped thousands."""
        if self._gap(x):
            return self.missing
        return format_number(x, self.lang, digits, minus=self.minus)

    def count(self, x: float | None) -> str:
        """A count (draws, participants): whole, grouped thousands."""
        return self.num(x, 0)

    def pct(self, x: float | None, digits: int = 0) -> str:
        """A fraction as a percentage (``0.5`` -> ``50%``)."""
        if self._gap(x):
            return self.missing
        return format_pct(x, self.lang, digits, minus=self.minus)

    def ratio(self, x: float | None, digits: int = 2) -> str:
        """A ratio such as a benefit-cost ratio."""
        return self.num(x, digits)

    def year(self, x: float | None) -> str:
        """A calendar year, never grouped (``2034``)."""
        return self.missing if self._gap(x) else format_year(x)

    def plain(self, x: float | None, sig: int = 4) -> str:
        """A parameter value as written, up to ``sig`` significant digits."""
        return self.missing if self._gap(x) else format_plain(x, self.lang, sig, minus=self.minus)

    def eur(
        self, x: float | None, *, scale: str = "auto", digits: int | None = None, sign: bool = False
    ) -> str:
        """An amount in words (``€3.8 bn``); see :func:`format_eur`."""
        if self._gap(x):
            return self.missing
        return format_eur(x, self.lang, scale=scale, digits=digits, minus=self.minus, sign=sign)

    def interval(
        self, lo: float | None, hi: float | None, fmt: Callable[[float | None], str]
    ) -> str:
        """``lo–hi`` with each end written by ``fmt``; joined with a word (``to``, ``tot``)
        when the lower end is negative, as a dash between signed numbers reads badly."""
        if self._gap(lo) or self._gap(hi):
            return self.missing
        assert lo is not None
        sep = self.dash if lo >= 0 else (" tot " if self.lang == "nl" else " to ")
        return f"{fmt(lo)}{sep}{fmt(hi)}"

    def money(self, values: Iterable[float | None]) -> TableMoney:
        """One unit for every amount of a table (see :func:`table_scale`)."""
        return TableMoney(values, self)


class TableMoney:
    """The amounts of one table in one unit: ``m = TableMoney(values, nf)``; ``m(x)`` is the
    figure, ``m.unit`` the heading (``EUR million``, ``€ miljoen``)."""

    def __init__(self, values: Iterable[float | None], numbers: Numbers) -> None:
        self.numbers = numbers
        self.scale, self.digits = table_scale(list(values))
        self.unit = table_unit(self.scale, numbers.lang)

    def __call__(self, x: float | None) -> str:
        if _missing(x):
            return self.numbers.missing
        assert x is not None
        return self.numbers.num(x / SCALES[self.scale], self.digits)


CLI = Numbers("en", minus="-", missing="-", dash="-")
"""The command line's number style: English, ASCII minus, ``-`` for a missing value."""
