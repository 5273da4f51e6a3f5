"""The command line: exit codes, messages, JSON documents, run directories."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cli_helpers import mkba

ROOT = Path(__file__).parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny" / "scenarios" / "one.toml"


def test_version_and_help_document_exit_codes() -> None:
    r = mkba("--version")
    assert r.returncode == 0 and r.stdout.startswith("mkba ")
    h = mkba("--help")
    assert h.returncode == 0
    for text in ("2 invalid input", "130 interrupted", "4 a batch finished"):
        assert text in " ".join(h.stdout.split())


def test_run_json_document_and_run_directory(tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = mkba("run", str(TINY), "--draws", "64", "--json", "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # stdout holds exactly one JSON document
    for key in (
        "run_id",
        "scenario",
        "draws",
        "seed",
        "perspective",
        "base_year",
        "price_year",
        "discount_rate",
        "output_dir",
    ):
        assert key in doc
    for key in ("costs_pv", "benefits_pv", "npv", "bcr"):
        assert set(doc[key]) >= {"mean", "p5", "p50", "p95"}
    assert set(doc["perspectives"]) == {"welfare", "fiscal", "study"}
    assert set(doc["perspectives"]["fiscal"]) >= {"npv", "bcr"}
    assert "s1" in doc["by_stream"] and "a1" in doc["by_area"] and "gov" in doc["by_stakeholder"]
    assert doc["draws"] == 64 and doc["discount_rate"] == 0.03
    manifest = json.loads((out / "manifest.json").read_text())
    assert (
        manifest["run_id"] == doc["run_id"] and manifest["seed"] == 1 and "convergence" in manifest
    )
    assert {"summary.csv", "summary.parquet", "draws.parquet", "yearly_quantiles.parquet"} <= set(
        manifest["files"]
    )
    draws = pd.read_parquet(out / "draws.parquet")
    assert len(draws) == 64 and "welfare.npv" in draws
    assert not list(tmp_path.glob("*.partial-*"))


def test_same_run_twice_gives_same_id_and_numbers(tmp_path: Path) -> None:
    a = json.loads(mkba("run", str(TINY), "-n", "32", "--json", "--no-write").stdout)
    b = json.loads(mkba("run", str(TINY), "-n", "32", "--json", "--no-write").stdout)
    assert a["run_id"] == b["run_id"] and a["npv"] == b["npv"]


def test_invalid_scenario_exit_code_and_nothing_written(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        TINY.read_text()
        .replace('areas = ["a1"]', 'areas = ["nowhere"]')
        .replace('"../parameters"', f'"{TINY.parents[1] / "parameters"}"')
    )
    r = mkba("run", str(bad), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 2
    assert "areas[0]: unknown area" in r.stderr and "'nowhere'" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "runs").exists()


def test_unknown_variant_and_usage_errors() -> None:
    r = mkba("run", str(TINY), "--variant", "nope", "--no-write")
    assert r.returncode == 2 and "unknown variant" in r.stderr and "half" in r.stderr
    r = mkba("run", str(TINY), "--draws", "0")
    assert r.returncode == 2


def test_refuses_to_overwrite_a_foreign_directory(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("precious")
    r = mkba("run", str(TINY), "-n", "16", "--out", str(target))
    assert r.returncode == 2 and "not an mkba run directory" in r.stderr
    assert (target / "notes.txt").read_text() == "precious"


@pytest.mark.parametrize(
    "args", [["run"], ["validate"], ["calibrate"], ["batch"], ["compare"], ["sensitivity"]]
)
def test_every_command_has_help(args: list[str]) -> None:
    r = mkba(*args, "--help")
    assert r.returncode == 0 and len(r.stdout) > 200
