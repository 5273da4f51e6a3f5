"""The "Beslissen / Deciding" report section and workbook sheet (issue 15, item 5)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from mkba import api
from mkba.decide import api as decide
from mkba.errors import InputError
from mkba.report import make_report

ROOT = Path(__file__).parents[1]
LINEAR = ROOT / "tests" / "fixtures" / "linear" / "scenarios" / "linear.toml"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("decide")
    out = {"run": root / "run"}
    api.run_scenario(LINEAR, draws=256, out=out["run"])
    decide.run_voi(LINEAR, draws=512, resamples=10, out=root / "voi")
    decide.run_allocate(LINEAR, draws=64, frontier=(0.5, 1.0), out=root / "allocate")
    decide.run_discover(LINEAR, draws=1000, out=root / "discover")
    decide.run_acceptability(LINEAR, draws=256, rates="0:0.06:0.01", out=root / "acceptability")
    for k in ("voi", "allocate", "discover", "acceptability"):
        out[k] = root / k
    return out


def test_report_without_decisions_has_no_section(runs: dict[str, Path], tmp_path: Path) -> None:
    make_report(runs["run"], formats=("md",), lang="en", out=tmp_path, charts=False)
    assert "Deciding" not in (tmp_path / "report.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("lang", "title"), [("en", "Deciding"), ("nl", "Beslissen")])
def test_deciding_section_and_sheet(
    runs: dict[str, Path], tmp_path: Path, lang: str, title: str
) -> None:
    folders = [runs[k] for k in ("voi", "allocate", "discover", "acceptability")]
    paths = make_report(
        runs["run"], formats=("md", "html", "xlsx"), lang=lang, out=tmp_path, decide=folders
    )
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert f"## {title}" in md
    for kind in ("voi", "allocate", "discover", "acceptability"):
        assert f"charts/decide_{kind}.png" in md
        assert (tmp_path / "charts" / f"decide_{kind}.png").is_file()
    assert "EVPPI" in md
    if lang == "nl":
        assert "Wat is meer kennis waard?" in md and "niets doen" in md
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert title in html
    wb = openpyxl.load_workbook(tmp_path / "workbook.xlsx")
    assert title in wb.sheetnames
    ws = wb[title]
    values = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    assert any(isinstance(v, str) and v.startswith("EVPPI") for v in values)
    assert tmp_path / "workbook.xlsx" in paths


def test_decide_folder_must_be_a_decision_run(runs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="decision run"):
        make_report(runs["run"], formats=("md",), out=tmp_path, decide=[runs["run"]])
