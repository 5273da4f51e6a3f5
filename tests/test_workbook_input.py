"""The input workbook: `mkba template --xlsx`, read back through the same validation."""

from __future__ import annotations

import subprocess
from pathlib import Path

import openpyxl
import pytest

import cli_helpers
from mkba.errors import InputError
from mkba.workbook_input import (
    load_workbook_scenario,
    programme_folder,
    validate_workbook,
    write_template,
)

ROOT = Path(__file__).parents[1]
LIBRARY = ROOT / "parameters"


@pytest.fixture
def book(tmp_path: Path) -> Path:
    return write_template(tmp_path / "programme.xlsx", LIBRARY)


def _edit(path: Path, sheet: str, cell: str, value: object) -> None:
    wb = openpyxl.load_workbook(path)
    wb[sheet][cell] = value
    wb.save(path)


def test_template_reads_back_as_a_valid_scenario(book: Path) -> None:
    assert validate_workbook(book) == []
    spec = load_workbook_scenario(book)
    sc = spec.scenario
    assert sc.title_nl == "Schuldhulp in twee wijken"
    assert sc.areas == ["noord", "zuid"]
    assert tuple(spec.params.streams) == ("benefit_savings", "care_mental")
    assert list(spec.params.areas.numeric["population"]) == [12000.0, 8000.0]
    # values sheet -> scenario overrides, payers sheet -> payer shares, both from the scenario
    assert spec.quantities["streams.benefit_savings.effect"].dist.mode == 0.01
    assert spec.origin("streams.benefit_savings.effect")[0] == "scenario"
    assert spec.params.costs.domains["social"].payers.shares == {"municipalities": 1.0}
    # validating keeps nothing
    assert not programme_folder(book).exists()


def test_budget_sheet_is_the_budget(book: Path, tmp_path: Path) -> None:
    from mkba.model import lower

    spec = load_workbook_scenario(book, tmp_path / "kept")  # kept: lower reads budget.csv
    m = lower(spec)
    # the template's budget: EUR 2 m in 2025 prices (= the scenario's price year, index 1),
    # 60/40 over noord/zuid, 80/20 social/governance, a quarter in each year 2026-2029
    assert float(m.budget.sum()) == pytest.approx(2_000_000.0, rel=1e-12)
    a, d = m.areas.index("noord"), m.domains.index("social")
    t = [int(y) for y in m.years].index(2027)
    assert m.budget[a, d, t] == pytest.approx(2e6 * 0.6 * 0.8 / 4, rel=1e-12)


@pytest.mark.parametrize(
    ("sheet", "cell", "value", "expected"),
    [
        ("values", "D2", "many", "sheet 'values', row 2, column 'min': not a number (got 'many')"),
        ("values", "G2", "percent", "sheet 'values', row 2, column 'unit'"),
        (
            "budget",
            "A3",
            "atlantis",
            "sheet 'budget', row 3, column 'area_id': area not in sheet 'areas'",
        ),
        ("budget", "C4", 2060, "sheet 'budget', row 4, column 'year': outside start_year..horizon"),
        (
            "areas",
            "C3",
            -5,
            "sheet 'areas', row 3, column 'population': must be a non-negative number",
        ),
        ("payers", "C2", 0.7, "sheet 'payers', row 2"),
        (
            "scenario",
            "B7",
            2026,
            "sheet 'scenario', row 7, column 'value': after the last year of the CPI table (2025)",
        ),
        ("scenario", "A20", "colour", "sheet 'scenario', row 20, column 'key': unknown key"),
    ],
)
def test_problems_name_sheet_row_and_column(
    book: Path, sheet: str, cell: str, value: object, expected: str
) -> None:
    _edit(book, sheet, cell, value)
    if sheet == "scenario" and cell == "A20":
        _edit(book, "scenario", "B20", "blue")
    problems = validate_workbook(book)
    text = "\n".join(str(p) for p in problems)
    assert expected in text, text
    assert all(str(p).startswith(str(book.name)) or book.name in str(p) for p in problems), text
    with pytest.raises(InputError):
        load_workbook_scenario(book)


def test_payer_shares_must_sum_to_one(book: Path) -> None:
    _edit(book, "payers", "C2", 0.7)
    text = "\n".join(str(p) for p in validate_workbook(book))
    assert "sheet 'payers', row 2" in text and "shares must sum to 1" in text


def test_command_line_template_validate_run(tmp_path: Path) -> None:
    def mkba(*args: str) -> subprocess.CompletedProcess[str]:
        return cli_helpers.mkba(*args, cwd=tmp_path, columns=80)

    r = mkba("template", "--xlsx", "p.xlsx", "--library", str(LIBRARY))
    assert r.returncode == 0, r.stderr
    assert mkba("template", "--xlsx", "p.xlsx", "--library", str(LIBRARY)).returncode == 2
    assert mkba("validate", "p.xlsx").returncode == 0
    _edit(tmp_path / "p.xlsx", "values", "D2", "many")
    bad = mkba("validate", "p.xlsx")
    assert bad.returncode == 2 and "sheet 'values', row 2, column 'min'" in bad.stderr
    bad_run = mkba("run", "p.xlsx", "--no-write")
    assert bad_run.returncode == 2 and not (tmp_path / "p.mkba").exists()
    _edit(tmp_path / "p.xlsx", "values", "D2", 0.0)
    ok = mkba("run", "p.xlsx", "--draws", "200", "--out", "runs/p")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "p.mkba" / "scenarios" / "p.toml").is_file()
    assert (tmp_path / "runs" / "p" / "summary.json").is_file()
