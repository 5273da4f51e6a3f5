"""The product's fixed words in Dutch and English: one catalogue, ``catalogue.toml``.

Every user-facing text of the report, workbook, charts and command-line tables lives there
once, as ``"key" = { en = "...", nl = "..." }``, with ``{placeholders}`` in ``str.format``
style. :func:`text` looks a key up. The names of the model's own things (streams, areas,
stakeholders) are not here: they come from the parameter files (``label``/``label_nl``).

Keys are grouped by where they are used (``chart.``, ``doc.``, ``wb.`` for the workbook,
``decide.``, ``monitor.``, ``param.`` for the words of a parameter path, ``unit.`` for the
words of a unit). ``tests/test_texts.py`` checks that every key has both languages with the
same placeholders, that every key the code asks for exists and that no key is unused (a key
looked up with a computed suffix, ``f"param.{key}"``, counts as used through its prefix).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Literal, cast

Lang = Literal["nl", "en"]
LANGS: tuple[str, ...] = ("nl", "en")


def check_lang(lang: str) -> Lang:
    """``lang`` if it is ``"nl"`` or ``"en"``; else a :class:`ValueError`."""
    if lang not in LANGS:
        raise ValueError(f"language must be one of {', '.join(LANGS)} (got {lang!r})")
    return cast(Lang, lang)


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """Key -> {"en": ..., "nl": ...}, read once from the package's ``catalogue.toml``."""
    from mkba import tomlcache  # the parsed catalogue from the on-disk cache when it is there

    raw = tomlcache.loads(files("mkba.texts").joinpath("catalogue.toml").read_text("utf-8"))
    out: dict[str, dict[str, str]] = {}
    for key, entry in raw.items():
        if not isinstance(entry, dict) or set(entry) != {"en", "nl"}:
            raise ValueError(f"catalogue.toml: {key!r} must have exactly 'en' and 'nl'")
        out[key] = {"en": str(entry["en"]), "nl": str(entry["nl"])}
    return out


def has(key: str) -> bool:
    """Whether the catalogue holds ``key``."""
    return key in catalogue()


def text(key: str, lang: str, **kw: object) -> str:
    """The text of ``key`` in ``lang``, with ``{placeholders}`` filled from ``kw``."""
    s = catalogue()[key][check_lang(lang)]
    return s.format(**kw) if kw else s


def text_or(key: str, lang: str, fallback: str) -> str:
    """The text of ``key`` in ``lang``, or ``fallback`` when the catalogue lacks the key."""
    entry = catalogue().get(key)
    return fallback if entry is None else entry[check_lang(lang)]


def group(prefix: str, lang: str) -> dict[str, str]:
    """Every text whose key starts with ``prefix``, by the rest of its key, in ``lang``
    (``group("cli.monitor.", "nl")["year"]`` is ``Jaar``)."""
    lang = check_lang(lang)
    return {k[len(prefix) :]: v[lang] for k, v in catalogue().items() if k.startswith(prefix)}
