"""Every shipped value has a unit, a price year where it is money, and a source or a labelled
assumption; every areas.csv column has a unit and a source."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from mkba.load import load_parameters

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def params():  # type: ignore[no-untyped-def]
    return load_parameters(ROOT / "parameters")


def test_every_quantity_is_sourced_or_an_assumption(params) -> None:  # type: ignore[no-untyped-def]
    quantities = params.quantities()
    assert len(quantities) > 100
    for path, q in quantities.items():
        assert q.unit, path
        assert q.source or (q.assumption and len(q.assumption) >= 10), path
        for s in q.source or []:
            assert s.url.startswith("http") and s.title and s.year, path
        if q.is_money:
            assert q.price_year in params.cpi.values, path
            assert q.per in ("year", "once"), path


def test_tables_and_area_columns_have_provenance(params) -> None:  # type: ignore[no-untyped-def]
    for d, dc in params.costs.domains.items():
        assert dc.payers.source or dc.payers.assumption, d
    for s, st in params.streams.items():
        assert st.response.source or st.response.assumption, s
    for col, meta in params.areas.sidecar.columns.items():
        assert meta.unit and (meta.source or meta.assumption), col
        if meta.estimated is not None:
            assert len(meta.estimated.method) > 50, col  # the estimation is explained
    assert params.cpi.source.table == "83131NED"


def test_twenty_areas_with_published_population(params) -> None:  # type: ignore[no-untyped-def]
    pop = dict(zip(params.areas.ids, params.areas.numeric["population"], strict=True))
    assert len(pop) == 20
    # CBS, 1 January 2025 (shared/reference/FACTS.md), in persons
    assert pop["rotterdam-zuid"] == 215_000 and pop["vlaardingen-westwijk"] == 14_000
    assert sum(pop.values()) == 1_192_000
    flag = dict(zip(params.areas.ids, params.areas.text["programme_2019"], strict=True))
    assert sum(v == "yes" for v in flag.values()) == 16


def test_calibrated_values_keep_their_prior_provenance() -> None:
    record = tomllib.loads(
        (ROOT / "parameters" / "calibration" / "reference-2021.toml").read_text()
    )
    assert record["record"]["targets"] and record["record"]["date"]
    for path, q in record["values"].items():
        assert "calibrated" in q and (q.get("source") or q.get("assumption")), path
