"""The text catalogue (src/mkba/texts/catalogue.toml): complete, consistent, all of it used."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from mkba import texts

SRC = Path(texts.__file__).resolve().parents[1]
LOOKUPS = {"tr", "text", "text_or", "t", "has"}
"""Names (or attributes) of the functions that take a catalogue key as first argument."""


def _placeholders(s: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(s) if name}


def _literal_keys() -> tuple[set[str], set[str]]:
    """(every string literal in src/mkba and every constant head of an f-string such as
    ``f"param.{key}"``, the literal keys passed to a lookup function)."""
    literals: set[str] = set()
    asked: set[str] = set()
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                literals.add(node.value)
                if re.fullmatch(r"[a-z_.]+\.", node.value):  # "design." + key
                    literals.add(f"{node.value}*")
            if isinstance(node, ast.JoinedStr) and node.values:
                head = node.values[0]
                if isinstance(head, ast.Constant) and str(head.value).endswith("."):
                    literals.add(f"{head.value}*")
            if isinstance(node, ast.Call) and node.args:
                f = node.func
                name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
                a = node.args[0]
                if name in LOOKUPS and isinstance(a, ast.Constant) and isinstance(a.value, str):
                    asked.add(a.value)
    return literals, asked


def test_every_key_has_both_languages_with_the_same_placeholders() -> None:
    cat = texts.catalogue()
    assert len(cat) > 300
    for key, entry in cat.items():
        assert entry["en"].strip() and entry["nl"].strip(), key
        assert _placeholders(entry["en"]) == _placeholders(entry["nl"]), key


def test_every_key_the_code_asks_for_exists() -> None:
    _, asked = _literal_keys()
    cat = texts.catalogue()
    missing = sorted(k for k in asked if k not in cat)
    assert not missing, missing


def test_no_key_is_unused() -> None:
    literals, _ = _literal_keys()
    unused = [
        k
        for k in texts.catalogue()
        if k not in literals and not any(k.startswith(p[:-1]) for p in literals if p[-2:] == ".*")
    ]
    assert not unused, unused


def test_lookup_fills_placeholders_and_checks_the_language() -> None:
    assert texts.text("chart.draws", "nl", n="2.000") == "2.000 trekkingen"
    assert texts.text("chart.draws", "en", n="2,000") == "2,000 draws"
    assert texts.text_or("param.no_such_key", "nl", "no_such_key") == "no_such_key"
    with pytest.raises(ValueError, match="language"):
        texts.text("chart.draws", "de", n="1")
