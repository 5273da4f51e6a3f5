"""Self-contained, stamped run directories (issue 11): the report of a run directory copied
elsewhere, without the scenario and parameter files, is the report of the original; tables of
another scenario or output are refused; no absolute path in any output."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mkba import api
from mkba.errors import InputError
from mkba.report import data as rd
from mkba.report.document import build_document
from mkba.report.markdown import render_markdown
from mkba.runinfo import hash_id, portable_path

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stamped") / "run"
    api.run_scenario(REFERENCE, draws=200, seed=7, out=out)
    return out


def _report(run_dir: Path, lang: str) -> str:
    run = rd.load_run(run_dir)
    return render_markdown(build_document(run, lang, set(), run_dir_text="RUN"), {})


def test_the_report_needs_nothing_outside_the_run_directory(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = {lang: _report(run_dir, lang) for lang in ("nl", "en")}
    # the same report as the one built from the scenario files (a run of an older version)
    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    (old / "inputs.json").unlink()
    monkeypatch.chdir(ROOT)
    for lang in ("nl", "en"):
        assert _report(old, lang) == here[lang]
    # copied elsewhere, working folder elsewhere: the scenario cannot be found, and need not be
    away = tmp_path / "elsewhere" / "copy"
    shutil.copytree(run_dir, away)
    monkeypatch.chdir(tmp_path / "elsewhere")
    run = rd.load_run(Path("copy"))
    assert run.spec is None and run.inputs is not None
    for lang in ("nl", "en"):
        assert _report(Path("copy"), lang) == here[lang]
    assert "Veronderstellingen" in here["nl"] or "aannames" in here["nl"].lower()


def test_no_absolute_path_in_any_output(run_dir: Path) -> None:
    for f in run_dir.iterdir():
        if f.suffix in (".json", ".csv"):
            text = f.read_text(encoding="utf-8")
            assert str(ROOT) not in text, f.name
            assert str(run_dir.parent) not in text, f.name


def test_run_ids_and_portable_paths() -> None:
    # the ids are the same as before they were written by one function (hand-checked digests)
    import hashlib

    parts = ("a", "b", "c")
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() + b"\0")
    assert hash_id(parts) == h.hexdigest()[:12]
    assert hash_id(parts, terminated=False) == hashlib.sha256(b"a\0b\0c").hexdigest()[:12]
    assert portable_path(None) is None
    assert portable_path("runs/x") == "runs/x"
    assert portable_path(Path(os.getcwd()) / "runs" / "x") == "runs/x"
    assert portable_path("/elsewhere/on/this/machine/run") == "run"


def _table(run_dir: Path, folder: Path, name: str, **cols: object) -> None:
    base = {
        "tornado": {
            "name": ["streams.safety.effect"],
            "low": [0.1],
            "high": [0.3],
            "output_low": [1.0],
            "output_high": [3.0],
            "base_output": [2.0],
        },
        "switching": {
            "name": ["streams.safety.effect"],
            "base": [0.2],
            "switching_value": [0.1],
            "ratio": [0.5],
        },
    }[name]
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({**base, **{k: [v] for k, v in cols.items()}}).to_csv(
        folder / f"{name}.csv", index=False
    )


def test_tables_of_another_scenario_or_output_are_refused(run_dir: Path, tmp_path: Path) -> None:
    own = json.loads((run_dir / "manifest.json").read_text())["scenario_hash"]
    ok = tmp_path / "ok"
    _table(run_dir, ok, "tornado", output="npv", output_perspective="welfare", scenario_hash=own)
    _table(run_dir, ok, "switching", output="npv", output_perspective="welfare", scenario_hash=own)
    run = rd.load_run(run_dir, sensitivity=ok)
    assert set(run.extras) >= {"tornado", "switching"}

    other = tmp_path / "other"
    _table(run_dir, other, "tornado", output="npv", scenario_hash="f" * 64)
    with pytest.raises(InputError, match="another scenario"):
        rd.load_run(run_dir, sensitivity=other)

    mixed = tmp_path / "mixed"
    _table(run_dir, mixed, "tornado", output="npv", output_perspective="study", scenario_hash=own)
    _table(
        run_dir, mixed, "switching", output="npv", output_perspective="welfare", scenario_hash=own
    )
    with pytest.raises(InputError, match="cannot be merged into a tornado"):
        rd.load_run(run_dir, sensitivity=mixed)


def test_real_sensitivity_tables_are_stamped_and_checked(run_dir: Path, tmp_path: Path) -> None:
    """mkba sensitivity stamps its tables; a study tornado is not merged with welfare
    switching values (the fault that started this)."""
    from mkba.sensitivity.api import run_sensitivity

    p = ["streams.safety.effect", "costs.physical.overrun"]
    t = run_sensitivity(REFERENCE, "tornado", params=p, outputs=("study.npv",),
                        out=tmp_path / "t")  # fmt: skip
    s = run_sensitivity(REFERENCE, "switching", params=p, outputs=("welfare.npv",),
                        out=tmp_path / "s")  # fmt: skip
    tab = pd.read_parquet(Path(str(t.output_dir)) / "tornado.parquet")
    own = json.loads((run_dir / "manifest.json").read_text())["scenario_hash"]
    assert set(tab["scenario_hash"]) == {own} and set(tab["output_perspective"]) == {"study"}
    assert rd.load_run(run_dir, sensitivity=[t.output_dir]).extras["tornado"] is not None
    with pytest.raises(InputError, match="cannot be merged into a tornado"):
        rd.load_run(run_dir, sensitivity=[t.output_dir, s.output_dir])
