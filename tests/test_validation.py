"""Deliberately broken input files, each checked for the message it must produce.

``tests/broken/scenarios/`` holds broken scenario files: each is ``tests/broken/template.toml``
(a small valid scenario on the shipped ``parameters/``) with one break, described in its first
comment line. Broken parameter folders are made on the fly: the shipped ``parameters/`` folder is
copied to a temporary folder and one edit (or a few) is applied (``PARAMETER_CASES``).

Each case is checked twice: ``mkba.load.validate_paths`` must return a problem that names the
file, the key path, what is wrong and (where it helps) the offending value; and ``mkba validate``
must exit with code 2 and print that same problem, without a traceback.

"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mkba.cli import app, main
from mkba.errors import Problem
from mkba.load import validate_paths

REPO = Path(__file__).resolve().parents[1]
PARAMETERS = REPO / "parameters"
SHIPPED_SCENARIOS = sorted((REPO / "scenarios").glob("*.toml"))
BROKEN = Path(__file__).resolve().parent / "broken"
TEMPLATE = BROKEN / "template.toml"
SCENARIOS = BROKEN / "scenarios"

EXIT_INVALID_INPUT = 2


@dataclass(frozen=True)
class Expect:
    """One problem a broken file must produce.

    ``key``: the key path exactly as printed ("" for none, ``None`` for "any");
    ``message``: a part of the message; ``got``: the printed offending value (after "got ");
    ``file``: the end of the reported file's path when it is not the broken file itself.
    """

    key: str | None
    message: str
    got: str | None = None
    file: str | None = None

    def matches(self, problem: Problem, default_file: str) -> bool:
        text = str(problem)
        return (
            problem.file.endswith(self.file or default_file)
            and (self.key is None or problem.key == self.key)
            and self.message in problem.message
            and (self.got is None or f"(got {self.got}" in text)
        )

    def fragments(self, default_file: str) -> list[str]:
        """Parts of the printed line ``error: file: key: message (got VALUE)``."""
        parts = [self.file or default_file, self.message]
        if self.key:
            parts.append(f"{self.key}: ")
        if self.got is not None:
            parts.append(f"(got {self.got}")
        return parts


def _squash(text: str) -> str:
    # Compare without whitespace: messages may contain wrapped or aligned text.
    return "".join(text.split())


def _check_problems(problems: list[Problem], expects: list[Expect], default_file: str) -> None:
    shown = "\n".join(str(p) for p in problems) or "(no problems)"
    for e in expects:
        assert any(e.matches(p, default_file) for p in problems), f"expected {e}, got:\n{shown}"
    # One break, one problem: anything else means the file is broken in another way too.
    assert len(problems) == len(expects), f"expected {len(expects)} problem(s), got:\n{shown}"


def _run_cli(args: list[str]):
    result = CliRunner().invoke(app, args)
    err = result.stderr if hasattr(result, "stderr") else result.output
    return result, err


def _check_cli(args: list[str], expects: list[Expect], default_file: str) -> None:
    result, err = _run_cli(["validate", *args])
    assert result.exit_code == EXIT_INVALID_INPUT, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output + err
    assert result.stdout == ""  # messages go to stderr; stdout is for data
    squashed = _squash(err)
    assert _squash("nothing was computed or written") in squashed
    assert squashed.count("error:") == len(expects), err
    for e in expects:
        for part in e.fragments(default_file):
            assert _squash(part) in squashed, f"{part!r} not in:\n{err}"


# --- broken scenario files -----------------------------------------------------------------------

CPI_RANGE = "outside the CPI table (2010-2025)"

SCENARIO_CASES: dict[str, list[Expect]] = {
    "malformed_toml": [Expect("line 8, column 11", "malformed TOML: Invalid value")],
    "duplicate_key": [
        Expect("line 11, column 12", "duplicate key 'draws' (already defined above)")
    ],
    "unknown_key": [Expect("draw_count", "unknown key", "5")],
    "missing_key": [Expect("horizon", "missing required key")],
    "wrong_type": [Expect("draws", "Input should be a valid integer", "'many'")],
    "wrong_type_areas": [Expect("areas", "Input should be a valid list", "'rotterdam-zuid'")],
    "negative_budget": [
        Expect("budget.total", "Input should be greater than or equal to 0", "-1000000000.0")
    ],
    "unknown_area": [
        Expect("areas[1]", "unknown area (known: amsterdam-nieuw-west", "'atlantis-noord'")
    ],
    "unknown_stream_discount_rate": [
        Expect("discount_rate.streams.unicorns", "unknown stream", "'unicorns'")
    ],
    "unknown_parameter_override": [
        Expect(
            "overrides.streams.unicorns.effect", "unknown parameter", "'streams.unicorns.effect'"
        )
    ],
    "override_unknown_key": [
        Expect("overrides.streams.care_youth.effect.valeu", "unknown key", "0.1")
    ],
    "fraction_above_one": [
        Expect(
            "overrides.streams.care_youth.effect",
            "value 1.5 outside [0.0, 1.0] for unit 'fraction'",
        )
    ],
    "min_above_mode": [
        Expect(
            "overrides.streams.care_youth.effect.dist",
            "need min <= mode <= max and min < max (min=0.3, mode=0.1, max=0.5)",
        )
    ],
    "mode_above_max": [
        Expect(
            "overrides.streams.care_youth.effect.dist",
            "need min <= mode <= max and min < max (min=0.02, mode=0.2, max=0.1)",
        )
    ],
    "sd_zero": [Expect("overrides.streams.care_youth.trend.dist.sd", "greater than 0", "0")],
    "override_without_source": [
        Expect(
            "overrides.streams.care_youth.effect",
            "an override of the value needs its own 'source' or 'assumption'",
            "{'value': 0.1}",
        )
    ],
    "override_price_year_1990": [
        Expect(
            "streams.care_youth.components.execution.unit_value.price_year",
            f"price year {CPI_RANGE}",
            "1990",
        )
    ],
    "budget_price_year_1990": [
        Expect("budget.price_year", f"{CPI_RANGE}; cannot index it", "1990")
    ],
    "budget_without_provenance": [
        Expect(
            "budget", "no provenance: give a 'source' (title, year, url) or label it 'assumption'"
        )
    ],
    "budget_total_and_per_resident": [
        Expect("budget", "give exactly one of 'total' or 'per_resident' (or a 'table')")
    ],
    "unknown_budget_domain": [Expect("budget.domains.sociall", "unknown domain", "'sociall'")],
    "profile_past_horizon": [Expect("budget.profile", "programme runs past the horizon", "2")],
    "horizon_before_start": [Expect("horizon", "must not be before start_year (2022)", "2020")],
    "variant_changes_areas": [
        Expect(
            "variants.more_areas.areas",
            "may only select a subset of the scenario's areas",
            "['arnhem-oost']",
        )
    ],
    "variant_unknown_key": [Expect("variants.typo.budget.scael", "unknown key", "0.5")],
    "variant_bad_value": [
        Expect("variants.steep.discount_rate.rate", "Input should be less than 0.5", "0.9")
    ],
    "correlation_fixed_parameter": [
        Expect(
            "correlations[0].params",
            "parameter is fixed, not uncertain",
            "'streams.care_youth.lag'",
        )
    ],
    "correlation_unknown_parameter": [
        Expect("correlations[0].params", "unknown parameter", "'streams.unicorns.effect'")
    ],
    "parameters_folder_missing": [
        Expect("", "parameter folder not found", file="scenarios/no-such-parameters")
    ],
    "calibration_missing": [
        Expect("calibration", "calibration record not found", "'no-such-record.toml'")
    ],
    "override_changes_unit": [
        Expect(
            "overrides.streams.care_youth.effect.unit",
            "unit differs from the parameter's (fraction)",
            "'EUR/client/year'",
        )
    ],
    "text_for_number": [Expect("draws", "Input should be a valid integer", "'100'")],
    "variant_override_unknown_parameter": [
        Expect("variants.x.overrides.streams.unicorns.effect", "unknown parameter")
    ],
    "several_schema_problems": [
        Expect("draws", "Input should be a valid integer", "'many'"),
        Expect("flavour", "unknown key", "'vanilla'"),
        Expect("budget", "give exactly one of 'total' or 'per_resident'"),
    ],
    "schema_and_reference_problems": [
        Expect("horizon", "must not be before start_year (2022)", "2020"),
        Expect("areas[1]", "unknown area", "'atlantis-noord'"),
    ],
    "budget_scale_infinite": [Expect("budget.scale", "Input should be a finite number", "inf")],
    "per_resident_huge": [Expect("budget.per_resident", "is larger in size than 1e+15", "1e+308")],
    "per_resident_zero": [Expect("budget", "areas without any budget")],
    "domain_share_nan": [
        Expect("budget.domains.physical", "Input should be a finite number", "nan")
    ],
    "correlation_with_itself": [
        Expect("correlations[0].params", "a parameter correlated with itself")
    ],
    "correlation_pair_twice": [
        Expect("correlations[1].params", "pair already given in correlations[0]")
    ],
    "correlation_not_positive_definite": [
        Expect("correlations", "not a valid (positive definite) correlation matrix")
    ],
    "variant_empty_name": [Expect("variants", "variant names must be non-empty")],
    "calibration_misspelt_table": [
        Expect("valeus", "unknown key", file="misspelt_calibration.toml.txt")
    ],
    "several_reference_problems": [
        Expect("areas[1]", "unknown area", "'atlantis-noord'"),
        Expect("discount_rate.streams.unicorns", "unknown stream", "'unicorns'"),
        Expect("budget.price_year", CPI_RANGE, "1990"),
    ],
}


def test_every_broken_scenario_file_has_an_expectation() -> None:
    files = {p.stem for p in SCENARIOS.glob("*.toml")}
    assert files == set(SCENARIO_CASES)


def test_the_template_of_the_broken_files_is_valid() -> None:
    assert validate_paths([TEMPLATE]) == []


@pytest.mark.parametrize("case", sorted(SCENARIO_CASES))
def test_broken_scenario(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may be written to the working directory
    path = SCENARIOS / f"{case}.toml"
    expects = SCENARIO_CASES[case]
    _check_problems(validate_paths([path]), expects, path.name)
    _check_cli([str(path)], expects, path.name)
    assert list(tmp_path.iterdir()) == []


# --- broken parameter folders --------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` (which must occur exactly once) by ``new`` in ``file`` of the copy."""

    file: str
    old: str
    new: str


YOUTH = "streams/care_youth.toml"
MENTAL = "streams/care_mental.toml"
NO_PROVENANCE = "no provenance: give a 'source' (title, year, url) or label it 'assumption'"
CBS_SOURCE = (
    'source = { title = "Sociale problematiek en bevolkingsdynamiek in de focusgebieden, '
    '3. Bevolkingsomvang", publisher = "CBS", year = 2026, url = "https://www.cbs.nl/nl-nl/'
    "longread/rapportages/2026/sociale-problematiek-en-bevolkingsdynamiek-in-de-focusgebieden/"
    '3-bevolkingsomvang" }'
)

PARAMETER_CASES: dict[str, tuple[list[Edit], list[Expect]]] = {
    "malformed_toml": (
        [Edit(YOUTH, 'label_nl = "Jeugdzorg"', 'label_nl = "Jeugdzorg')],
        [Expect("line 3, column 22", "malformed TOML: Illegal character", file=YOUTH)],
    ),
    "duplicate_key": (
        [Edit("model.toml", 'label_nl = "Rijk"', 'label_nl = "Rijk"\nlabel_nl = "Het Rijk"')],
        [Expect("line 8, column 22", "duplicate key 'label_nl'", file="model.toml")],
    ),
    "unknown_key": (
        [Edit("model.toml", 'label_nl = "Rijk"', 'label_nl = "Rijk"\ncolour = "blue"')],
        [
            Expect(
                "stakeholders.national_government.colour",
                "unknown key",
                "'blue'",
                file="model.toml",
            )
        ],
    ),
    "missing_key": (
        [Edit(YOUTH, "[effect]\n", "[effect_size]\n")],
        [
            Expect("effect", "missing required key", file=YOUTH),
            Expect("effect_size", "unknown key", file=YOUTH),
        ],
    ),
    "wrong_type_number": (
        [Edit("cpi.toml", "2021 = 110.40", '2021 = "high"')],
        [Expect("values.2021", "Input should be a valid number", "'high'", file="cpi.toml")],
    ),
    "wrong_type_boolean": (
        [
            Edit(
                "model.toml",
                'public = true\ndescription = "Ministries',
                'public = "maybe"\ndescription = "Ministries',
            )
        ],
        [
            Expect(
                "stakeholders.national_government.public",
                "Input should be a valid boolean",
                "'maybe'",
                file="model.toml",
            )
        ],
    ),
    "negative_population": (
        [Edit("areas.csv", "Rotterdam,yes,215000,", "Rotterdam,yes,-215000,")],
        [
            Expect(
                "line 16.population", "must be a non-negative number", "'-215000'", file="areas.csv"
            )
        ],
    ),
    "population_not_a_number": (
        [Edit("areas.csv", "Rotterdam,yes,215000,", "Rotterdam,yes,lots,")],
        [Expect("line 16.population", "not a number", "'lots'", file="areas.csv")],
    ),
    "fraction_above_one_in_areas_csv": (
        [Edit("areas.csv", "Rotterdam,yes,215000,0.139", "Rotterdam,yes,215000,1.39")],
        [
            Expect(
                "line 16.low_financial_welfare_share",
                "a fraction must lie in [0, 1]",
                "'1.39'",
                file="areas.csv",
            )
        ],
    ),
    "negative_unit_value": (
        [
            Edit(
                YOUTH,
                'dist = { type = "triangular", min = 287, mode = 574, max = 956 }',
                "value = -956",
            )
        ],
        [
            Expect(
                "components.execution.unit_value",
                "value -956.0 outside [0.0, inf] for unit 'EUR/client/year'",
                file=YOUTH,
            )
        ],
    ),
    "fraction_above_one": (
        [
            Edit(
                YOUTH,
                '[displacement]\nunit = "fraction"\nvalue = 0.0',
                '[displacement]\nunit = "fraction"\nvalue = 1.5',
            )
        ],
        [Expect("displacement", "value 1.5 outside [0.0, 1.0] for unit 'fraction'", file=YOUTH)],
    ),
    "distribution_outside_unit_range": (
        [
            Edit(
                YOUTH,
                '{ type = "pert", min = 0.02, mode = 0.05, max = 0.10 }',
                '{ type = "normal", mean = 0.05, sd = 0.02 }',
            )
        ],
        [
            Expect(
                "effect",
                "normal distribution ranges over [-inf, inf], outside [0.0, 1.0] allowed for unit "
                "'fraction'",
                file=YOUTH,
            )
        ],
    ),
    "min_above_mode": (
        [
            Edit(
                YOUTH, "min = -0.01, mode = 0.01, max = 0.03", "min = 0.02, mode = 0.01, max = 0.03"
            )
        ],
        [
            Expect(
                "trend.dist",
                "need min <= mode <= max and min < max (min=0.02, mode=0.01, max=0.03)",
                file=YOUTH,
            )
        ],
    ),
    "mode_above_max": (
        [Edit(YOUTH, "min = 0.02, mode = 0.05, max = 0.10", "min = 0.02, mode = 0.2, max = 0.10")],
        [
            Expect(
                "effect.dist",
                "need min <= mode <= max and min < max (min=0.02, mode=0.2, max=0.1)",
                file=YOUTH,
            )
        ],
    ),
    "sd_zero": (
        [
            Edit(
                YOUTH,
                '{ type = "triangular", min = -0.01, mode = 0.01, max = 0.03 }',
                '{ type = "truncnormal", mean = 0.01, sd = 0, min = -0.01, max = 0.03 }',
            )
        ],
        [Expect("trend.dist.sd", "Input should be greater than 0", "0", file=YOUTH)],
    ),
    "sd_negative": (
        [Edit(YOUTH, "median = 6, high = 20", "mean = 6, sd = -2")],
        [Expect("half_life.dist.sd", "Input should be greater than 0", "-2", file=YOUTH)],
    ),
    "unknown_distribution": (
        [
            Edit(
                YOUTH,
                '{ type = "pert", min = 0.02, mode = 0.05, max = 0.10 }',
                '{ type = "gamma", shape = 2 }',
            )
        ],
        [Expect("effect.dist", "Input tag 'gamma' found using 'type' does not match", file=YOUTH)],
    ),
    "money_without_price_year": (
        [Edit(YOUTH, "price_year = 2018\n", "")],
        [
            Expect(
                "components.execution.unit_value",
                "money (EUR/client/year) needs 'price_year'",
                file=YOUTH,
            )
        ],
    ),
    "price_year_1990": (
        [Edit(YOUTH, "price_year = 2018", "price_year = 1990")],
        [
            Expect(
                "components.execution.unit_value.price_year",
                f"price year {CPI_RANGE}; cannot index it",
                "1990",
                file=YOUTH,
            )
        ],
    ),
    "value_without_provenance": (
        # the English assumption and its Dutch twin removed
        [
            Edit(
                YOUTH,
                'assumption = "Prevention needs a year to reach families."\n'
                'assumption_nl = "Preventie heeft een jaar nodig om gezinnen te bereiken."\n',
                "",
            )
        ],
        [Expect("lag", NO_PROVENANCE, "{'unit': 'year', 'value': 1}", file=YOUTH)],
    ),
    "dutch_assumption_without_english": (
        [Edit(YOUTH, 'assumption = "Prevention needs a year to reach families."\n', "")],
        [Expect("lag", "'assumption_nl' given without 'assumption'", file=YOUTH)],
    ),
    "dutch_note_without_english": (
        [
            Edit(
                "areas.toml",
                'description = "Municipality."\ndescription_nl = "Gemeente."\n',
                'description = "Municipality."\ndescription_nl = "Gemeente."\n'
                'note_nl = "Een toelichting zonder Engelse tekst."\n',
            )
        ],
        [Expect("columns.municipality", "'note_nl' given without 'note'", file="areas.toml")],
    ),
    "areas_column_without_provenance": (
        [
            Edit(
                "areas.toml",
                f'description = "Municipality."\ndescription_nl = "Gemeente."\n{CBS_SOURCE}',
                'description = "Municipality."\ndescription_nl = "Gemeente."',
            )
        ],
        [Expect("columns.municipality", NO_PROVENANCE, file="areas.toml")],
    ),
    "areas_column_not_in_csv": (
        [
            Edit(
                "areas.toml",
                "[columns.name]",
                '[columns.households]\nunit = "household"\ndescription = "Households."\n'
                'assumption = "A column that areas.csv does not have."\n\n[columns.name]',
            )
        ],
        [Expect("columns.households", "no such column in areas.csv", file="areas.toml")],
    ),
    "neither_value_nor_dist": (
        [Edit(YOUTH, "value = 1\n", "")],
        [
            Expect(
                "lag", "give exactly one of 'value' (fixed) or 'dist' (a distribution)", file=YOUTH
            )
        ],
    ),
    "unit_with_spaces": (
        [Edit(YOUTH, 'unit = "client/resident"', 'unit = "client per resident"')],
        [
            Expect(
                "volume.rate.unit",
                "unit must not contain spaces",
                "'client per resident'",
                file=YOUTH,
            )
        ],
    ),
    "unknown_domain_in_response": (
        [Edit(YOUTH, "social = 0.6, education = 0.2", "sociall = 0.6, education = 0.2")],
        [Expect("response.weights.sociall", "unknown domain", "'sociall'", file=YOUTH)],
    ),
    "unknown_stakeholder": (
        [
            Edit(
                YOUTH,
                'gainer = "municipalities"\n[components.execution',
                'gainer = "municipality"\n[components.execution',
            )
        ],
        [
            Expect(
                "components.execution.gainer", "unknown stakeholder", "'municipality'", file=YOUTH
            )
        ],
    ),
    "payer_shares_not_summing_to_one": (
        [
            Edit(
                "costs.toml",
                "shares = { national_government = 0.55, municipalities = 0.45 }",
                "shares = { national_government = 0.55, municipalities = 0.55 }",
            )
        ],
        [
            Expect(
                "domains.social.payers.shares", "shares must sum to 1 (sum 1.1)", file="costs.toml"
            )
        ],
    ),
    # Problems in several files of one folder are all reported at once.
    "several_files": (
        [
            Edit("areas.csv", "Rotterdam,yes,215000,", "Rotterdam,yes,-215000,"),
            Edit("model.toml", 'label_nl = "Rijk"', 'label_nl = "Rijk"\ncolour = "blue"'),
            Edit(
                YOUTH, "min = 0.02, mode = 0.05, max = 0.10", "min = 0.02, mode = 0.2, max = 0.10"
            ),
            Edit(MENTAL, "price_year = 2019", "price_year = 1990"),
        ],
        [
            Expect(
                "line 16.population", "must be a non-negative number", "'-215000'", file="areas.csv"
            ),
            Expect("stakeholders.national_government.colour", "unknown key", file="model.toml"),
            Expect("effect.dist", "need min <= mode <= max", file=YOUTH),
            Expect(
                "components.treatment_cost.unit_value.price_year", CPI_RANGE, "1990", file=MENTAL
            ),
        ],
    ),
}


def _broken_parameters(root: Path, edits: list[Edit]) -> Path:
    folder = root / "parameters"
    shutil.copytree(PARAMETERS, folder, ignore=shutil.ignore_patterns("calibration"))
    for e in edits:
        path = folder / e.file
        text = path.read_text(encoding="utf-8")
        assert text.count(e.old) == 1, f"{e.file}: {e.old!r} must occur exactly once"
        path.write_text(text.replace(e.old, e.new, 1), encoding="utf-8")
    return folder


@pytest.mark.parametrize("case", sorted(PARAMETER_CASES))
def test_broken_parameter_folder(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edits, expects = PARAMETER_CASES[case]
    folder = _broken_parameters(tmp_path, edits)
    monkeypatch.chdir(tmp_path)
    _check_problems(validate_paths([folder]), expects, "parameters")
    _check_cli([str(folder)], expects, "parameters")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parameters"]


def test_a_scenario_reports_the_problems_of_its_parameter_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _broken_parameters(tmp_path, [Edit(YOUTH, "price_year = 2018", "price_year = 1990")])
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(
        TEMPLATE.read_text(encoding="utf-8").replace('"../../parameters"', '"parameters"'),
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    expects = [Expect("components.execution.unit_value.price_year", CPI_RANGE, "1990", file=YOUTH)]
    # The folder's problems are reported once, also when it is given as well.
    _check_problems(validate_paths([scenario, folder]), expects, "")
    _check_cli([str(scenario)], expects, "")


# --- all problems at once, exit codes, nothing written --------------------------------------------


def test_all_problems_of_a_file_are_reported_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for case in ("several_schema_problems", "several_reference_problems"):
        problems = validate_paths([SCENARIOS / f"{case}.toml"])
        assert len(problems) == 3, "\n".join(map(str, problems))
        assert len({p.key for p in problems}) == 3


def test_all_problems_of_all_files_are_reported_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    files = [
        SCENARIOS / "unknown_area.toml",
        SCENARIOS / "missing_key.toml",
        SCENARIOS / "malformed_toml.toml",
    ]
    result, err = _run_cli(["validate", *map(str, files)])
    assert result.exit_code == EXIT_INVALID_INPUT
    squashed = _squash(err)
    for f in files:
        assert _squash(f.name) in squashed, err
    assert _squash("3 problem(s) found") in squashed


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_validate_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _broken_parameters(
        tmp_path / "copy", [Edit("areas.csv", "Rotterdam,yes,215000,", "Rotterdam,yes,-215000,")]
    )
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    before = _snapshot(BROKEN), _snapshot(folder), _snapshot(PARAMETERS)
    files = [str(folder), *map(str, sorted(SCENARIOS.glob("*.toml")))]
    result, _ = _run_cli(["validate", *files])
    assert result.exit_code == EXIT_INVALID_INPUT
    result, _ = _run_cli(["validate", str(PARAMETERS), *map(str, SHIPPED_SCENARIOS)])
    assert result.exit_code == 0
    assert not (cwd / "runs").exists()
    assert list(cwd.iterdir()) == []
    assert (_snapshot(BROKEN), _snapshot(folder), _snapshot(PARAMETERS)) == before


def test_shipped_files_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    assert validate_paths([PARAMETERS, *SHIPPED_SCENARIOS]) == []
    monkeypatch.chdir(REPO)
    result, err = _run_cli(["validate"])  # default: parameters/ and scenarios/*.toml
    assert result.exit_code == 0, err
    assert "error:" not in err
    assert _squash(f"valid: {1 + len(SHIPPED_SCENARIOS)} item(s) checked") in _squash(err)


def test_json_output_lists_the_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = SCENARIOS / "several_reference_problems.toml"
    result, _ = _run_cli(["validate", "--json", str(path)])
    assert result.exit_code == EXIT_INVALID_INPUT
    doc = json.loads(result.stdout)
    assert doc["valid"] is False
    assert {p["key"] for p in doc["problems"]} == {
        "areas[1]",
        "discount_rate.streams.unicorns",
        "budget.price_year",
    }
    assert all(p["file"].endswith(path.name) for p in doc["problems"])


def test_console_script_entry_point_exits_2_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``mkba`` runs :func:`mkba.cli.main`, which turns the exit into ``sys.exit``."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["validate", str(SCENARIOS / "unknown_stream_discount_rate.toml")])
    assert exc.value.code == EXIT_INVALID_INPUT
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert _squash("discount_rate.streams.unicorns: unknown stream (got 'unicorns')") in _squash(
        err
    )
    with pytest.raises(SystemExit) as exc:
        main(["validate", str(TEMPLATE)])
    assert exc.value.code == 0


def test_missing_scenario_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "nowhere.toml"
    expects = [Expect("", "file not found")]
    _check_problems(validate_paths([path]), expects, "nowhere.toml")
    _check_cli([str(path)], expects, "nowhere.toml")


def test_cli_prints_one_line_per_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mkba.cli import common

    monkeypatch.chdir(tmp_path)
    # The width of a console that is not a terminal (unless COLUMNS was set at import).
    monkeypatch.setattr(common.err_console, "width", 80)
    path = SCENARIOS / "several_reference_problems.toml"
    problems = validate_paths([path])
    _, err = _run_cli(["validate", str(path)])
    lines = err.splitlines()
    for p in problems:
        assert f"error: {p}" in lines
