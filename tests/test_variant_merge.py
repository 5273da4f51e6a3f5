"""Variant merge rules (docs/model.md §9): tables merge key by key; ``replace = true`` replaces
a table whole; a variant can switch a discount schedule to one rate."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mkba.errors import InputError
from mkba.load import deep_merge, load_scenario
from mkba.model import lower

TINY = Path(__file__).parent / "fixtures" / "tiny"


def test_deep_merge_key_by_key_and_replace() -> None:
    base = {"budget": {"total": 1, "domains": {"main": 0.9, "gov": 0.1}}, "x": [1, 2]}
    merged = deep_merge(base, {"budget": {"domains": {"main": 1.0}}, "x": [3]})
    assert merged == {"budget": {"total": 1, "domains": {"main": 1.0, "gov": 0.1}}, "x": [3]}
    replaced = deep_merge(base, {"budget": {"domains": {"replace": True, "main": 1.0}}})
    assert replaced == {"budget": {"total": 1, "domains": {"main": 1.0}}, "x": [1, 2]}
    # replace = false is the same as no marker; the marker never reaches the result
    assert deep_merge(base, {"budget": {"replace": False, "total": 2}})["budget"] == {
        "total": 2,
        "domains": {"main": 0.9, "gov": 0.1},
    }
    # a marker in a table the base does not have is removed too
    assert deep_merge({}, {"t": {"u": {"replace": True, "a": 1}}}) == {"t": {"u": {"a": 1}}}
    assert base["budget"]["domains"] == {"main": 0.9, "gov": 0.1}  # base untouched


def _scenario(tmp_path: Path, extra: str, head_discount: str = "discount_rate = 0.03") -> Path:
    shutil.copytree(TINY, tmp_path / "tiny")
    p = tmp_path / "tiny" / "scenarios" / "one.toml"
    text = p.read_text().replace("discount_rate = 0.03", head_discount)
    p.write_text(text + "\n" + extra)
    return p


def test_variant_replaces_budget_domains(tmp_path: Path) -> None:
    p = _scenario(
        tmp_path,
        "[variants.merged]\nbudget.domains = { main = 0.5 }\n"
        "[variants.replaced]\nbudget.domains = { replace = true, main = 0.5 }\n",
    )
    merged = load_scenario(p, variant="merged").scenario.budget
    replaced = load_scenario(p, variant="replaced").scenario.budget
    assert merged is not None and replaced is not None
    assert merged.domains == {"main": 0.5, "gov": 0.1}  # key by key: gov kept
    assert replaced.domains == {"main": 0.5}  # whole table: gov gone
    assert replaced.total == 10000  # the rest of budget still merged


SCHEDULE = "discount_rate = { schedule = { 2020 = 0.03, 2023 = 0.02 } }"


def test_variant_switches_a_schedule_to_a_rate(tmp_path: Path) -> None:
    p = _scenario(
        tmp_path,
        "[variants.flat]\ndiscount_rate = { replace = true, rate = 0.03 }\n"
        "[variants.flat_scalar]\ndiscount_rate = 0.03\n",
        head_discount=SCHEDULE,
    )
    base = lower(load_scenario(p))
    flat = lower(load_scenario(p, variant="flat"))
    scalar = lower(load_scenario(p, variant="flat_scalar"))
    years = np.arange(2020, 2026)
    # hand calculation: 1.03^-(t - 2020) for the flat rate
    np.testing.assert_array_equal(flat.df_cost, 1.03 ** -(years - 2020).astype(float))
    np.testing.assert_array_equal(scalar.df_cost, flat.df_cost)
    # the base keeps its schedule: 3 % for 2021-2022, 2 % from 2023
    expect = [1.0, 1 / 1.03, 1 / 1.03**2, 1 / 1.03**2 / 1.02, 1 / 1.03**2 / 1.02**2]
    np.testing.assert_allclose(base.df_cost[:5], expect, rtol=1e-15)


def test_merging_a_rate_into_a_schedule_still_fails_with_the_hint(tmp_path: Path) -> None:
    p = _scenario(tmp_path, "[variants.bad]\ndiscount_rate = { rate = 0.03 }\n", SCHEDULE)
    with pytest.raises(InputError) as e:
        load_scenario(p)
    text = str(e.value)
    assert "variants.bad" in text and "exactly one of 'rate' or 'schedule'" in text
