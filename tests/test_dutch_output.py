"""Dutch output is Dutch: the report (markdown, HTML) and workbook of a small run in Dutch hold
no English word outside what is marked or named as such.

What may stay English, and why:
- text the scenario writes in English and the calibration records: quoted as written and
  marked ``<span lang="en">`` in the report; in the workbook the columns that hold it are named
  in the sheet's heading note. The parameter library's assumptions, notes and area
  descriptions have Dutch twins (``assumption_nl``, ...) and are shown in Dutch;
- the titles of sources (a publication's title is its name) and URLs;
- identifiers: parameter paths, stream and area ids, file names, commands (any token with
  ``_``, ``.``, ``/`` or a digit, code spans, and the workbook's id, path and manifest columns).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import openpyxl
import pytest

from mkba import api
from mkba.batch import Job, JobResult, comparison_table, job_titles
from mkba.report import data as rd
from mkba.report import make_report
from mkba.report.labels import Labels

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"

ENGLISH = {
    "year",
    "years",
    "yearly",
    "deadweight",
    "benefit",
    "benefits",
    "cost",
    "costs",
    "draw",
    "draws",
    "the",
    "and",
    "with",
    "without",
    "schedule",
    "mean",
    "median",
    "share",
    "rate",
    "growth",
    "value",
    "values",
    "none",
    "payback",
    "people",
    "person",
    "resident",
    "residents",
    "frontier",
    "coverage",
    "density",
    "overrun",
    "discount",
    "welfare",
    "fiscal",
    "study",
    "perspective",
    "stakeholder",
    "stream",
    "areas",
    "evidence",
    "reconstruction",
    "budget-only",
    "assumption",
    "source",
}
"""English words that are not also Dutch words (``of``, ``per``, ``effect``, ``budget``,
``variant``, ``half`` and ``factor`` are Dutch too and not listed)."""

VARIANT_IDS = (
    "half_budget",
    "physical_only",
    "social_only",
    "no_governance",
    "ten_years",
    "wlo_high",
    "wlo_low",
    "discount_3pct",
)


def library_english() -> set[str]:
    """Every English assumption and note of parameters/ (each has a Dutch twin)."""
    out: set[str] = set()

    def walk(x: object) -> None:
        if isinstance(x, dict):
            out.update(str(x[k]) for k in ("assumption", "note") if isinstance(x.get(k), str))
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    for f in (ROOT / "parameters").rglob("*.toml"):
        walk(tomllib.loads(f.read_text("utf-8")))
    return out


def english_words(text: str) -> list[str]:
    """The words of ``text`` from :data:`ENGLISH`, outside marked English, links and ids."""
    text = re.sub(r'<span lang="en">.*?</span>', " ", text, flags=re.S)
    text = re.sub(r"<(style|script)\b.*?</\1>", " ", text, flags=re.S)
    text = re.sub(r"<svg\b.*?</svg>", " ", text, flags=re.S)  # charts: drawn glyphs, ids
    text = re.sub(r"<pre><code>.*?</code></pre>|```.*?```", " ", text, flags=re.S)
    text = re.sub(r"<code>.*?</code>|`[^`]*`", " ", text, flags=re.S)
    text = re.sub(r"<a [^>]*>.*?</a>", " ", text, flags=re.S)  # source titles
    text = re.sub(r"\[[^\]]*\]\([^)]*\)", " ", text)  # markdown links: source titles
    text = re.sub(r"(https?|data):[^\s\"'<>)]+", " ", text)
    text = re.sub(r"<small>[^\s<]+</small>", " ", text)  # a key or path after its name
    text = re.sub(r"<[^>]+>", " ", text)
    text = text.replace("\\_", "_")
    tokens = re.findall(r"[A-Za-z][A-Za-z0-9_.\-/]*", text)
    return [t for t in tokens if not re.search(r"[_./0-9]", t) and t.lower() in ENGLISH]


@pytest.fixture(scope="module")
def dutch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small reference run with a batch comparison of every variant, reported in Dutch."""
    out = tmp_path_factory.mktemp("nl") / "run"
    api.run_scenario(REFERENCE, draws=64, out=out)
    summary = rd.load_run(out).summary
    jobs = [JobResult(Job(REFERENCE, None), True, summary)]
    jobs += [JobResult(Job(REFERENCE, v), True, {**summary, "variant": v}) for v in VARIANT_IDS]
    (out / "batch").mkdir()
    comparison_table(jobs).to_csv(out / "batch" / "comparison.csv", index=False)
    make_report(out, formats=("html", "md", "xlsx"), lang="nl", charts=False)
    return out


def test_the_english_word_finder_finds_english_and_skips_what_is_marked() -> None:
    text = (
        "Netto baten per jaar, 2.000 draws; "
        '<span lang="en">the costs per year</span> [The costs of the year](https://x.nl) '
        "streams.x.deadweight `mkba run --draws 10` Gebieden <small>areas</small>"
    )
    assert english_words(text) == ["draws"]


@pytest.mark.parametrize("name", ["report.md", "report.html"])
def test_dutch_report_has_no_english_words(dutch: Path, name: str) -> None:
    text = (dutch / name).read_text("utf-8")
    assert english_words(text) == []
    # what is still English is marked: the scenario's own texts and the calibration records
    assert 'lang="en"' in text
    # the parameter library's texts have Dutch twins (issue 11): none of its English is left
    marked = re.findall(r'<span lang="en">(.*?)</span>', text, flags=re.S)
    english = library_english()
    assert len(english) > 100 and marked  # both sides of the check hold something
    left = [m for m in marked if m.strip() in english]
    assert left == []
    assert not [t for t in english if t in text]
    for v in VARIANT_IDS:  # variants by their Dutch titles, never by id
        assert v not in text.replace("\\_", "_")
    assert "Gespreid over tien jaar" in text


def test_dutch_workbook_has_no_english_words(dutch: Path) -> None:
    wb = openpyxl.load_workbook(dutch / "workbook.xlsx")
    # columns holding identifiers or the library's own English (named in the heading note)
    exempt = {"Id", "Perspectief (id)", "Pad", "URL", "Meer URL's", "Bestand", "Bron"}
    exempt |= {"Aanname", "Toelichting", "Gekalibreerd"}
    found = []
    for ws in wb.worksheets:
        if ws.title == "Manifest":  # manifest.json as it is: keys and values of the machine
            continue
        header: dict[int, str] = {}
        for row in ws.iter_rows():
            cells = [c for c in row if c.value is not None]
            if not header and len(cells) > 2 and all(isinstance(c.value, str) for c in cells):
                header = {c.column: str(c.value) for c in cells}
                continue
            area_row = any(c.value == "gebieden" for c in cells)  # descriptions of areas.csv
            for c in cells:
                col = header.get(c.column, "")
                if col in exempt or (area_row and col == "Parameter"):
                    continue
                words = english_words(str(c.value))
                if words:
                    found.append((ws.title, c.coordinate, words))
    assert found == []


def test_variant_titles_travel_from_scenario_to_batch_table_to_report(dutch: Path) -> None:
    assert job_titles(Job(REFERENCE, "ten_years")) == (
        "Spread over ten years",
        "Gespreid over tien jaar",
    )
    table = rd.load_run(dutch).extras["variants"]
    nl = rd.variants(table, perspective="welfare", lang="nl").frame
    en = rd.variants(table, perspective="welfare", lang="en").frame
    assert "Gespreid over tien jaar" in list(nl["label"])
    assert "Spread over ten years" in list(en["label"])
    assert Labels("nl").t("chart.variants") == "Investeringsvarianten vergeleken"


def test_a_variant_without_title_reads_as_its_id_in_words() -> None:
    assert rd.variant_label({"variant": "half_budget"}, "nl") == "half budget"
    assert rd.variant_label({"variant": "x", "title_nl": "Iks", "title": "Ex"}, "nl") == "Iks"
    assert rd.variant_label({"variant": "x", "title_nl": "Iks", "title": "Ex"}, "en") == "Ex"
