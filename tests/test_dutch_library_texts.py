"""The parameter library's free texts have Dutch twins (issue 11), and the reports use them.

Every ``assumption`` and ``note`` under parameters/ (and the description and estimation method
of each column of areas.toml) carries an ``..._nl`` twin; a Dutch report of a run shows the
Dutch text as plain Dutch, an English report the English text, and the run directory's
``inputs.json`` holds both, so that a copied run directory reports the same.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mkba import api
from mkba.load import apply_override, deep_merge
from mkba.report import make_report
from mkba.schema.quantity import Quantity

ROOT = Path(__file__).parents[1]
PARAMETERS = ROOT / "parameters"
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"

# a known parameter: streams/care_youth.toml, [lag]
PATH = "streams.care_youth.lag"
EN = "Prevention needs a year to reach families."
NL = "Preventie heeft een jaar nodig om gezinnen te bereiken."


def _tables(doc: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every table (dict) of a parsed TOML document with its key path."""
    if isinstance(doc, dict):
        yield where, doc
        for k, v in doc.items():
            yield from _tables(v, f"{where}.{k}" if where else str(k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _tables(v, f"{where}[{i}]")


def _missing_twins() -> list[str]:
    missing = []
    files = sorted(PARAMETERS.rglob("*.toml"))
    assert len(files) > 10  # the library is where we think it is
    for f in files:
        doc = tomllib.loads(f.read_text("utf-8"))
        for where, t in _tables(doc, ""):
            keys = ["assumption", "note"]
            if f.name == "areas.toml" and where.startswith("columns."):
                keys += ["description", "method"]
            for k in keys:
                en = t.get(k)
                if not isinstance(en, str):
                    continue
                nl = t.get(f"{k}_nl")
                if not isinstance(nl, str) or not nl.strip() or nl == en:
                    missing.append(f"{f.relative_to(ROOT)}: {where}.{k}")
    return missing


def test_every_library_text_has_its_dutch_twin() -> None:
    assert _missing_twins() == []


def test_the_known_parameter_has_the_texts_this_file_checks() -> None:
    doc = tomllib.loads((PARAMETERS / "streams" / "care_youth.toml").read_text("utf-8"))
    assert doc["lag"]["assumption"] == EN
    assert doc["lag"]["assumption_nl"] == NL


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("texts") / "run"
    api.run_scenario(REFERENCE, draws=64, out=out)
    return out


def _report(run_dir: Path, lang: str, out: Path) -> str:
    make_report(run_dir, formats=("md", "html"), lang=lang, out=out, charts=False)
    return (out / "report.md").read_text("utf-8") + (out / "report.html").read_text("utf-8")


def test_dutch_report_shows_the_dutch_text_unmarked_english_report_the_english(
    run: Path, tmp_path: Path
) -> None:
    nl = _report(run, "nl", tmp_path / "nl")
    assert NL in nl
    assert EN not in nl
    assert f'<span lang="en">{NL}' not in nl  # Dutch text is not marked as English
    en = _report(run, "en", tmp_path / "en")
    assert EN in en
    assert NL not in en
    assert '<span lang="en">' not in en  # nothing is foreign in an English report


def test_a_copied_run_directory_keeps_the_dutch_texts(run: Path, tmp_path: Path) -> None:
    inputs = json.loads((run / "inputs.json").read_text("utf-8"))
    rows = {r["path"]: r for r in inputs["assumptions"]["nl"]}
    assert rows[PATH]["assumption"] == NL
    assert "assumption" in rows[PATH]["translated"]
    assert {r["path"]: r for r in inputs["assumptions"]["en"]}[PATH]["assumption"] == EN
    copy = tmp_path / "elsewhere" / "run"
    shutil.copytree(run, copy)
    assert NL in _report(copy, "nl", tmp_path / "out")


def test_a_run_stored_before_the_dutch_twins_still_marks_its_english(
    run: Path, tmp_path: Path
) -> None:
    """inputs.json of an older run has English texts in its Dutch table and no ``translated``
    column: they stay marked as English, with the note that says so."""
    copy = tmp_path / "old"
    shutil.copytree(run, copy)
    doc = json.loads((copy / "inputs.json").read_text("utf-8"))
    en_rows = {r["path"]: r for r in doc["assumptions"]["en"]}
    for r in doc["assumptions"]["nl"]:
        r.pop("translated", None)
        if r["path"] == PATH:
            r["assumption"] = en_rows[PATH]["assumption"]
    (copy / "inputs.json").write_text(json.dumps(doc), "utf-8")
    _report(copy, "nl", tmp_path / "out")
    html = (tmp_path / "out" / "report.html").read_text("utf-8")
    assert f'<span lang="en">{EN}</span>' in html
    assert "in het Engels" in html  # the note on quoted English (catalogue key as.english)


# --- overrides: a new English text makes the library's Dutch twin stale -----------------------


def _quantity() -> Quantity:
    return Quantity.model_validate(
        {
            "unit": "year",
            "value": 1.0,
            "assumption": EN,
            "assumption_nl": NL,
            "note": "A note in English.",
            "note_nl": "Een toelichting in het Nederlands.",
        }
    )


def test_an_override_with_a_new_assumption_drops_the_old_dutch_twin() -> None:
    q = apply_override(_quantity(), {"value": 2.0, "assumption": "Two years, say the experts."})
    assert (q.assumption, q.assumption_nl) == ("Two years, say the experts.", None)
    assert q.note_nl == "Een toelichting in het Nederlands."  # the note was not changed
    q = apply_override(
        _quantity(),
        {"value": 2.0, "source": {"title": "A study", "year": 2020, "url": "https://x.nl"}},
    )
    assert (q.assumption, q.assumption_nl) == (None, None)  # valid: no Dutch without English
    q = apply_override(_quantity(), {"note": "Another note."})
    assert (q.note, q.note_nl, q.assumption_nl) == ("Another note.", None, NL)
    both = {"value": 2.0, "assumption": "Two years.", "assumption_nl": "Twee jaar, zo gezegd."}
    assert apply_override(_quantity(), both).assumption_nl == "Twee jaar, zo gezegd."


def test_a_scaled_quantity_notes_the_scale_in_both_languages() -> None:
    q = apply_override(_quantity(), {"scale": 0.5})
    assert q.note == "A note in English. [scaled x0.5]"
    assert q.note_nl == "Een toelichting in het Nederlands. [geschaald x0,5]"


def test_a_merged_table_with_a_new_english_text_drops_the_old_dutch_twin() -> None:
    base = {"budget": {"assumption": EN, "assumption_nl": NL, "total": 1.0}}
    out = deep_merge(base, {"budget": {"assumption": "New."}})
    assert out["budget"] == {"assumption": "New.", "total": 1.0}
    assert deep_merge(base, {"budget": {"total": 2.0}})["budget"]["assumption_nl"] == NL
