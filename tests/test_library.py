"""A programme folder on the parameter library: overlay, selection, origins, `mkba init`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

import cli_helpers
from mkba import api
from mkba.errors import InputError
from mkba.load import load_parameters, load_scenario
from mkba.scaffold import init_programme

ROOT = Path(__file__).parents[1]
LIBRARY = ROOT / "parameters"


def mkba(*args: str) -> subprocess.CompletedProcess[str]:
    """The real console entry point, as a user runs it (80 columns)."""
    return cli_helpers.mkba(*args, columns=80)


@pytest.fixture
def programme(tmp_path: Path) -> Path:
    init_programme(tmp_path / "prog", LIBRARY, title="Test")
    return tmp_path / "prog"


def test_programme_extends_the_library_without_copying(programme: Path) -> None:
    assert not (programme / "model.toml").exists()
    p = load_parameters(programme)
    # [use] selects and orders the streams: one of the programme, one of the library
    assert tuple(p.streams) == ("debt_help", "benefit_savings")
    assert p.areas.ids == ("noord", "zuid")
    assert list(p.areas.numeric["population"]) == [12000.0, 8000.0]
    # the programme's costs.toml replaces the social payer shares as a whole ...
    assert p.costs.domains["social"].payers.shares == {"municipalities": 1.0}
    # ... and the rest of costs.toml comes from the library
    lib = load_parameters(LIBRARY)
    assert p.costs.domains["physical"] == lib.costs.domains["physical"]
    assert p.model == lib.model and p.cpi == lib.cpi
    assert p.origin_kind("costs.social.payers") == "programme"
    assert p.origin("costs.social.payers").endswith("prog/costs.toml")
    assert p.origin_kind("costs.social.overrun") == "library"
    assert p.origin_kind("streams.debt_help.effect") == "programme"
    assert p.origin_kind("streams.benefit_savings.effect") == "library"
    assert p.origin("streams.benefit_savings.effect").endswith(
        "parameters/streams/benefit_savings.toml"
    )


def test_library_alone_is_unchanged() -> None:
    lib = load_parameters(LIBRARY)
    assert lib.origin_kind("costs.social.payers") == "library"
    assert tuple(lib.streams) == tuple(sorted(p.stem for p in (LIBRARY / "streams").glob("*.toml")))


def test_overlay_of_a_quantity_replaces_it_whole(programme: Path) -> None:
    # the library's effect is a distribution; a fixed value must not keep the old 'dist'
    (programme / "streams" / "benefit_savings.toml").write_text(
        '[effect]\nunit = "fraction"\nvalue = 0.02\nassumption = "Local evaluation of the debt-help team."\n'
    )
    p = load_parameters(programme)
    eff = p.streams["benefit_savings"].effect
    assert eff.value == 0.02 and eff.dist is None and eff.source is None
    assert p.origin_kind("streams.benefit_savings.effect") == "programme"
    # the other keys of the stream stay the library's
    lib = load_parameters(LIBRARY)
    assert p.streams["benefit_savings"].components == lib.streams["benefit_savings"].components
    assert p.origin_kind("streams.benefit_savings.deadweight") == "library"


def test_scenario_origins(programme: Path) -> None:
    spec = load_scenario(programme / "scenarios" / "base.toml")
    kind, file = spec.origin("streams.benefit_savings.effect")
    assert kind == "scenario" and file.endswith("base.toml")
    assert spec.origin("streams.benefit_savings.trend")[0] == "library"
    assert spec.origin("streams.debt_help.trend")[0] == "programme"
    ref = load_scenario(ROOT / "scenarios" / "reference-2021.toml")
    assert ref.origin("streams.benefit_savings.effect")[0] == "calibration"


def test_unknown_entry_in_use_names_the_manifest(programme: Path) -> None:
    text = (programme / "mkba.toml").read_text().replace('"debt_help"', '"debt_hlep"')
    (programme / "mkba.toml").write_text(text)
    with pytest.raises(InputError) as exc:
        load_parameters(programme)
    msg = str(exc.value)
    assert "mkba.toml: use.streams[0]: no such entry" in msg and "debt_hlep" in msg


def test_scenario_use_selects_streams() -> None:
    spec = load_scenario(
        ROOT / "scenarios" / "reference-2021.toml",
        updates={"use": {"streams": ["safety", "housing"]}},
        use_calibration=False,
    )
    assert tuple(spec.params.streams) == ("safety", "housing")
    assert not any(p.startswith("streams.education") for p in spec.quantities)


def test_payer_shares_from_a_scenario() -> None:
    change = {
        "overrides": {
            "costs.social.payers": {
                "shares": {"municipalities": 0.8, "national_government": 0.2},
                "assumption": "A municipal programme with a small national grant.",
            }
        }
    }
    spec = load_scenario(ROOT / "scenarios" / "reference-2021.toml", updates=change)
    shares = spec.params.costs.domains["social"].payers.shares
    assert shares == {"municipalities": 0.8, "national_government": 0.2}
    assert spec.origin("costs.social.payers")[0] == "scenario"
    # the other domains and the parameter quantities are untouched
    ref = load_scenario(ROOT / "scenarios" / "reference-2021.toml")
    assert spec.params.costs.domains["physical"] == ref.params.costs.domains["physical"]
    assert spec.quantities == ref.quantities


def test_bad_payer_shares_from_a_scenario_are_reported() -> None:
    change = {
        "overrides": {
            "costs.social.payers": {"shares": {"municipalities": 0.8}, "assumption": "Too little."},
            "costs.nonsense.payers": {
                "shares": {"municipalities": 1.0},
                "assumption": "No domain.",
            },
        }
    }
    with pytest.raises(InputError) as exc:
        load_scenario(ROOT / "scenarios" / "reference-2021.toml", updates=change)
    msg = str(exc.value)
    assert "overrides.costs.social.payers.shares: shares must sum to 1" in msg
    assert "overrides.costs.nonsense.payers: unknown domain" in msg


def test_scaffold_runs_and_costs_match_a_hand_calculation(programme: Path) -> None:
    # with overruns fixed at 1, the cost PV (all payers, welfare) is the budget discounted:
    # EUR 0.5 m a year 2026-2029 at 2.25 % to 2025
    fixed = {
        "overrides": {
            "costs.*.overrun": {"value": 1.0, "assumption": "Fixed for the hand calculation."}
        }
    }
    spec = load_scenario(programme / "scenarios" / "base.toml", updates=fixed)
    from mkba import engine
    from mkba.model import lower

    run = engine.simulate(lower(spec), draws=64, seed=1)
    from mkba.results import summary

    s = summary(run)
    expected = sum(0.5e6 / 1.0225 ** (t - 2025) for t in range(2026, 2030))
    assert s["costs_pv"]["p50"] == pytest.approx(expected, rel=1e-12)
    # the programme pays everything municipally (costs.toml of the programme)
    assert s["by_stakeholder_costs"]["municipalities"]["p50"] == pytest.approx(expected, rel=1e-12)
    assert s["by_stakeholder_costs"]["national_government"]["p50"] == 0.0
    assert np.isfinite(s["benefits_pv"]["mean"]) and s["benefits_pv"]["mean"] > 0


def test_scaffold_validates_and_runs_from_the_command_line(tmp_path: Path) -> None:
    r = mkba("init", str(tmp_path / "p"), "--library", str(LIBRARY))
    assert r.returncode == 0, r.stderr
    scen = str(tmp_path / "p" / "scenarios" / "base.toml")
    v = mkba("validate", scen)
    assert v.returncode == 0, v.stderr
    r = mkba("run", scen, "--no-write", "--draws", "200", "--json")
    assert r.returncode == 0, r.stderr
    r2 = mkba("run", scen, "--variant", "half_budget", "--no-write", "--draws", "200", "--json")
    assert r2.returncode == 0, r2.stderr
    again = mkba("init", str(tmp_path / "p"), "--library", str(LIBRARY))
    assert again.returncode == 2 and "not empty" in again.stderr


def test_api_runs_a_programme(programme: Path) -> None:
    res = api.run_scenario(programme / "scenarios" / "base.toml", draws=100, write=False)
    assert res.summary["costs_pv"]["mean"] > 0


def test_a_price_year_after_the_cpi_table_says_what_to_do(programme: Path) -> None:
    # CBS publishes the 2025 annual CPI in January 2026 (3.3 %, 83131NED); 2026 is not there yet
    with pytest.raises(InputError) as exc:
        load_scenario(programme / "scenarios" / "base.toml", updates={"price_year": 2026})
    msg = str(exc.value)
    assert "price_year: after the last year of the CPI table (2025)" in msg
    assert "Give amounts in 2025 prices" in msg and "(got 2026)" in msg
    # the stated rule: a programme's own cpi.toml adds the year (merged onto the library's)
    (programme / "cpi.toml").write_text(
        'note = "2026: CBS 2025 level x 1.025, the CPB forecast of 2.5 % (assumption for the test)."\n'
        "[values]\n2026 = 137.88\n"
    )
    spec = load_scenario(programme / "scenarios" / "base.toml", updates={"price_year": 2026})
    assert spec.params.cpi.values[2026] == 137.88 and spec.params.cpi.values[2025] == 134.52
    assert spec.params.origin("cpi.values").endswith("parameters/cpi.toml")


def test_pm_items_are_checked() -> None:
    bad = {
        "pm": {
            "calm": {
                "label": "Calm",
                "label_nl": "Rust",
                "sign": "+",
                "related": "unicorns",
                "why": "Quieter streets.",
                "why_nl": "Rustigere straten.",
            },
            "odd": {
                "label": "Odd",
                "label_nl": "Vreemd",
                "sign": "up",
                "why": "x" * 12,
                "why_nl": "y" * 12,
            },
        }
    }
    with pytest.raises(InputError) as exc:
        load_scenario(ROOT / "scenarios" / "reference-2021.toml", updates=bad)
    msg = str(exc.value)
    assert "pm.odd.sign" in msg
    spec_bad = {"pm": {"calm": bad["pm"]["calm"]}}
    with pytest.raises(InputError) as exc2:
        load_scenario(ROOT / "scenarios" / "reference-2021.toml", updates=spec_bad)
    assert "pm.calm.related: unknown stream (got 'unicorns')" in str(exc2.value)


def test_table_overrides_of_both_kinds_are_validated_alike() -> None:
    """Payer shares and response weights share one override validator: each names an unknown
    entry (domain, stream) and an unknown id inside the table (stakeholder, domain)."""
    good = {
        "overrides": {
            "streams.care_mental.response": {
                "weights": {"social": 0.5, "work": 0.5},
                "assumption": "Half social, half work.",
            }
        }
    }
    spec = load_scenario(ROOT / "scenarios" / "reference-2021.toml", updates=good)
    assert spec.params.streams["care_mental"].response.weights == {"social": 0.5, "work": 0.5}
    assert spec.origin("streams.care_mental.response")[0] == "scenario"
    bad = {
        "overrides": {
            "costs.social.payers": {"shares": {"nobody": 1.0}, "assumption": "Unknown payer."},
            "streams.nowhere.response": {"weights": {"social": 1.0}, "assumption": "No stream."},
            "streams.care_mental.response": {
                "weights": {"sociall": 1.0},
                "assumption": "Misspelt domain.",
            },
        }
    }
    with pytest.raises(InputError) as exc:
        load_scenario(ROOT / "scenarios" / "reference-2021.toml", updates=bad)
    msg = str(exc.value)
    assert "overrides.costs.social.payers.shares.nobody: unknown stakeholder" in msg
    assert "overrides.streams.nowhere.response: unknown stream" in msg
    assert "overrides.streams.care_mental.response.weights.sociall: unknown domain" in msg
