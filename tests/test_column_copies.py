"""Statistics columns proven copies of another while a run is simulated
(``results.ColumnCopies``, issue 17 target 4): only columns with the very same bytes over
every row (and the same type) share statistics, and every column's statistics stay those of
the old code, byte for byte (the oracle: main 0a9a722's ``stats`` on the registry's column,
tests/stats_i19_oracle.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mkba import api, engine, results
from mkba.api import default_scenario
from mkba.checks import runnable
from mkba.load import load_scenario

sys.path.insert(0, str(Path(__file__).parent))
from test_stats_i20 import _check_against_oracle, _edge_run


@pytest.fixture(scope="module")
def model() -> Any:
    return runnable(load_scenario(default_scenario()))


def _found(run: engine.Run, block: int) -> results.ColumnCopies:
    """A ColumnCopies fed the run's rows in blocks of ``block`` and attached to it."""
    found = results.ColumnCopies(run.outcomes, results.statistics_keys(run))
    n = run.outcomes.flow.shape[0]
    for lo in range(0, n, block):
        found.block(lo, min(lo + block, n))
    found.attach(run)
    return found


def _plain_run(model: Any, n: int, seed: int = 3) -> engine.Run:
    return engine.simulate(model, draws=n, chunk_size=max(1, min(n, 512)), seed=seed)


def test_the_references_copies(model: Any) -> None:
    """The reference's columns that are the same by construction (a stream with one
    component, a stream weighted alike in several perspectives, two areas with the same
    inputs, stakeholders and streams of only zeros), as the test finds them by comparing the
    registry's columns whole."""
    run = _plain_run(model, 3000)
    got = _found(run, 512).copies()
    keys = results.statistics_keys(run)
    cols = {k: results._column(run, k) for k in keys}
    for k, rep in got.items():
        a, b = cols[k], cols[rep]
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), (k, rep)
        assert rep not in got  # a representative is itself no copy
        assert keys.index(rep) < keys.index(k)
    # every stored column equal to an earlier one is found (the differences: areas)
    stored = [
        k for k in keys if k[0] in results._STORED or k[2:] in (("benefits_pv",), ("costs_pv",))
    ]
    for i, k in enumerate(stored):
        if any(cols[k].tobytes() == cols[e].tobytes() for e in stored[:i]):
            assert k in got, k
    assert ("component", 6) in got and ("area_npv", 15) in got
    assert len(got) == 20  # at 3000 draws of the reference (20 at 20k too)


def test_a_difference_in_a_later_block_is_no_copy(model: Any) -> None:
    run = _plain_run(model, 2000)
    o = run.outcomes
    o.component[:, 3] = o.component[:, 2]
    o.component[1999, 3] = np.nextafter(o.component[1999, 3], np.inf)  # the last row only
    o.component[:, 4] = o.component[:, 2]
    o.component[700, 4] = -0.0 if o.component[700, 2] == 0.0 else o.component[700, 4]
    o.area_benefits[:, 5] = o.area_benefits[:, 4]
    o.area_benefits[600, 5] = 0.0
    o.area_benefits[600, 4] = -0.0  # equal as numbers, not as bytes
    got = _found(run, 512).copies()
    assert ("component", 3) not in got
    assert ("area_benefits", 5) not in got
    assert ("area_npv", 5) not in got


def test_nan_payloads_and_signed_zeros_count(model: Any) -> None:
    run = _plain_run(model, 700)
    o = run.outcomes
    o.component[:, 1] = o.component[:, 0]
    o.component[:, 2] = o.component[:, 0]
    other_nan = np.frombuffer(np.array([0x7FF8000000000001], dtype=np.int64).tobytes())[0]
    o.component[650, 1] = np.nan
    o.component[650, 2] = other_nan  # a NaN, but not the same bytes
    o.component[650, 0] = np.nan
    o.stakeholder_costs[:, 0] = 0.0
    o.stakeholder_costs[:, 1] = -0.0
    got = _found(run, 512).copies()
    assert got.get(("component", 1)) == ("component", 0)
    assert ("component", 2) not in got
    assert ("stakeholder_costs", 1) not in got


def test_float32_areas_are_no_copies_of_float64_columns(model: Any) -> None:
    run = engine.simulate(model, draws=600, chunk_size=512, seed=2, area_dtype=np.float32)
    o = run.outcomes
    assert o.area_benefits.dtype == np.float32
    o.area_costs[:, 1] = o.area_costs[:, 0]
    got = _found(run, 512).copies()
    assert got.get(("area_costs", 1)) == ("area_costs", 0)
    assert all(k[0].startswith("area") == v[0].startswith("area") for k, v in got.items())


def test_nothing_before_every_row_is_seen(model: Any) -> None:
    run = _plain_run(model, 1100)
    found = results.ColumnCopies(run.outcomes, results.statistics_keys(run))
    found.block(0, 512)
    assert found.copies() == {}
    found.block(512, 1024)
    assert found.copies() == {}
    with pytest.raises(ValueError, match="in order"):
        found.block(0, 512)
    found.block(1024, 1100)
    assert found.copies()


def test_attached_to_other_outcomes_is_not_used(model: Any) -> None:
    run = _plain_run(model, 600)
    other = _plain_run(model, 600, seed=4)
    found = results.ColumnCopies(other.outcomes, results.statistics_keys(other))
    found.block(0, 600)
    found.attach(run)
    assert "_column_copies" not in run.__dict__


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf - inf in a worker thread
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("n", [1, 2, 3, 7, 1001])
def test_edge_runs_with_copies_equal_the_old_statistics(
    model: Any, n: int, threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _edge_run(model, n, seed=n)
    o = run.outcomes
    o.component[:, 9] = o.stream[:, 0, 2]  # a copy across arrays, with the edge values
    o.area_benefits[:, 8] = o.area_benefits[:, 3]  # with a NaN
    o.area_costs[:, 8] = o.area_costs[:, 3]
    o.stakeholder_benefits[:, 2] = o.component[:, 5]  # with a -0.0
    found = _found(run, 2)
    if n >= 2:
        assert found.copies().get(("area_npv", 8)) == ("area_npv", 3)
    _check_against_oracle(run, threads, monkeypatch)


def test_reference_run_with_copies_equals_the_old_statistics(
    model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _plain_run(model, 20_000)
    assert len(_found(run, 4096).copies()) == 20
    _check_against_oracle(run, 2, monkeypatch)


def test_a_proven_copy_not_asked_for_is_computed_on_its_own(model: Any) -> None:
    run = _plain_run(model, 900)
    _found(run, 512)
    keys = [("component", 6), ("area_npv", 15)]  # copies whose representatives are not asked
    with results.shared_statistics():
        results.precompute_statistics(run, keys)
        for k in keys:
            want = results.stats(results._column(run, k))
            got = results.column_stats(run, *k)
            assert {a: np.float64(b).tobytes() for a, b in got.items()} == {
                a: np.float64(b).tobytes() for a, b in want.items()
            }


def test_a_whole_run_attaches_its_copies(tmp_path: Path) -> None:
    res = api.run_scenario(default_scenario(), draws=5000, write=False, companion=True)
    found = res.run.__dict__["_column_copies"]
    assert len(found.copies()) == 20
