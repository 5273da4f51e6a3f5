"""The analyst-written model test cases of tests/cases/*.toml, collected by pytest (one test
per case; the same cases ``mkba test`` runs), and the ``mkba test`` command itself."""

from __future__ import annotations

import functools
import json
import tomllib
from pathlib import Path

import pytest

from mkba.cli import main
from mkba.errors import EXIT_INVALID_INPUT, EXIT_OK, EXIT_PARTIAL
from mkba.modeltest import Outcome, load_cases, run_cases

CASES = Path(__file__).parent / "cases"
TINY = "../fixtures/tiny/scenarios/one.toml"


def _ids() -> list[tuple[Path, int, str]]:
    out = []
    for f in sorted(CASES.glob("*.toml")):
        for i, _c in enumerate(tomllib.loads(f.read_text())["case"]):
            out.append((f, i, f"{f.stem}[{i}]"))
    return out


@functools.cache
def _outcomes(path: Path) -> list[Outcome]:
    return run_cases(load_cases([path]))


@pytest.mark.parametrize(
    ("path", "index"), [(p, i) for p, i, _ in _ids()], ids=[n for *_, n in _ids()]
)
def test_model_case(path: Path, index: int) -> None:
    o = _outcomes(path)[index]
    c = o.prepared.case
    assert o.passed, (
        f"{c.name}: {c.output} {c.statistic} = {o.actual!r}, expected {c.expected!r} "
        f"+/- {o.tolerance:.3g} (source: {c.source})"
    )


def test_cases_are_shipped() -> None:
    assert len(_ids()) >= 20


def _write(tmp_path: Path, text: str) -> Path:
    # cases refer to the fixture relative to their own file: write them beside tests/cases
    d = tmp_path / "cases"
    d.mkdir()
    fx = Path(__file__).parent / "fixtures"
    p = d / "c.toml"
    p.write_text(text.replace(TINY, str(fx / "tiny" / "scenarios" / "one.toml")))
    return p


GOOD = f"""
[[case]]
name = "costs"
scenario = "{TINY}"
output = "welfare.costs_pv"
expected = 9567.348477707606
rel_tol = 1e-12
source = "hand calculation: 5000/1.03 + 5000/1.03^2"
"""


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(args)
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def test_cli_all_pass_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = _write(tmp_path, GOOD)
    code, out, err = _cli(["test", str(p)], capsys)
    assert code == EXIT_OK
    assert out.startswith("pass  ") and "welfare.costs_pv mean = 9567.348478" in out
    assert "1 passed, 0 failed" in err


def test_cli_failed_case_exit_4_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = GOOD + GOOD.replace("9567.348477707606", "9000").replace('"costs"', '"wrong"')
    p = _write(tmp_path, wrong)
    code, out, err = _cli(["test", str(p)], capsys)
    assert code == EXIT_PARTIAL
    assert "FAIL  " in out and "1 passed, 1 failed" in err
    assert "source of the expectation: hand calculation" in err
    code, out, _ = _cli(["test", "--json", str(p)], capsys)
    assert code == EXIT_PARTIAL
    doc = json.loads(out)
    assert [d["passed"] for d in doc] == [True, False]
    assert doc[1]["actual"] == pytest.approx(9567.348477707606, rel=1e-12)


@pytest.mark.parametrize(
    ("edit", "key", "message"),
    [
        (("rel_tol = 1e-12\n", ""), "case[0]", "give a tolerance"),
        (
            ('output = "welfare.costs_pv"', 'output = "welfare.nope"'),
            "case[0].output",
            "unknown output",
        ),
        (('scenario = "', 'scenario = "missing/'), "case[0].scenario", "scenario file not found"),
        (("[[case]]", '[[case]]\nvariant = "nope"'), "case[0].scenario", "unknown variant"),
        (("expected = 9567.348477707606", 'expected = "x"'), "case[0].expected", ""),
        (('source = "hand', 'sauce = "hand'), "case[0].sauce", ""),
        (
            ('output = "welfare.costs_pv"', 'output = "welfare.costs_pv"\nstatistic = "p42"'),
            "case[0]",
            "statistic must be one of",
        ),
    ],
)
def test_cli_bad_case_file_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: tuple[str, str],
    key: str,
    message: str,
) -> None:
    p = _write(tmp_path, GOOD.replace(*edit))
    code, out, err = _cli(["test", str(p)], capsys)
    assert code == EXIT_INVALID_INPUT
    assert out == ""
    assert f"c.toml: {key}" in err and message in err


def test_cli_missing_case_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["test", str(tmp_path / "none.toml")], capsys)
    assert code == EXIT_INVALID_INPUT and "case file not found" in err
