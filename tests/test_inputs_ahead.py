"""inputs.json made ahead on a thread (mkba.report.inputs.InputsAhead): the same bytes as the
document made at write time (the expected text is write_inputs' own without ``ahead``), used
only when the summary's title and scenario and the manifest's calibration file are the ones
it was made for, and made again when its thread failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mkba.load import load_scenario
from mkba.report import inputs as inp
from mkba.runinfo import portable_path

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def spec() -> Any:
    # a calibrated scenario: from_spec also reads its calibration record
    return load_scenario(ROOT / "scenarios" / "reference-2021.toml")


def _parts(spec: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    summary = {"title": spec.scenario.title, "scenario": spec.name}
    manifest = {"calibration_file": portable_path(spec.calibration_path)}
    return manifest, summary


def _written(folder: Path, spec: Any, manifest: Any, summary: Any, ahead: Any) -> bytes:
    folder.mkdir()
    assert inp.write_inputs(folder, spec, manifest, summary, ahead) == [inp.FILE]
    return (folder / inp.FILE).read_bytes()


def test_the_text_made_ahead_is_the_document_made_at_write_time(spec: Any, tmp_path: Path) -> None:
    manifest, summary = _parts(spec)
    assert manifest["calibration_file"] is not None
    ahead = inp.InputsAhead(
        spec, summary["title"], summary["scenario"], manifest["calibration_file"]
    )
    made = _written(tmp_path / "ahead", spec, manifest, summary, ahead)
    assert ahead.text is not None
    assert made == _written(tmp_path / "now", spec, manifest, summary, None)


@pytest.mark.parametrize("changed", ["title", "scenario", "calibration_file"])
def test_another_title_or_calibration_file_is_not_served_the_text_made_ahead(
    spec: Any, tmp_path: Path, changed: str
) -> None:
    manifest, summary = _parts(spec)
    ahead = inp.InputsAhead(
        spec, summary["title"], summary["scenario"], manifest["calibration_file"]
    )
    if changed == "calibration_file":
        manifest = {"calibration_file": None}
    else:
        summary = {**summary, changed: "another"}
    assert ahead.result(manifest, summary) is None
    made = _written(tmp_path / "ahead", spec, manifest, summary, ahead)
    assert made == _written(tmp_path / "now", spec, manifest, summary, None)
    if changed == "title":  # the title is in the document: the text made ahead would differ
        assert b'"another"' in made


def test_a_failed_thread_leaves_the_document_to_write_time(
    spec: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest, summary = _parts(spec)
    real = inp.RunInputs.from_spec
    calls = []

    def once_failing(*args: Any) -> Any:
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("failed on its thread")
        return real(*args)

    monkeypatch.setattr(inp.RunInputs, "from_spec", staticmethod(once_failing))
    ahead = inp.InputsAhead(
        spec, summary["title"], summary["scenario"], manifest["calibration_file"]
    )
    assert ahead.result(manifest, summary) is None and len(calls) == 1
    made = _written(tmp_path / "ahead", spec, manifest, summary, ahead)
    assert len(calls) == 2
    monkeypatch.setattr(inp.RunInputs, "from_spec", real)
    assert made == _written(tmp_path / "now", spec, manifest, summary, None)
