"""Issue 17, target 3 (i18-stats): the IRR of every draw computed in draw order on its own
thread (:mod:`mkba.draws_irr`), so that draws.parquet's writer starts before the last IRR is
known, gives exactly :func:`mkba.decide.irr.run_irr`'s numbers and the same file.

Comparisons are ``np.array_equal`` (NaN equal where both are NaN) and byte equality.
"""

from __future__ import annotations

import inspect
import threading
from pathlib import Path

import numpy as np
import pytest

from mkba import api, draws_irr, engine, results
from mkba.checks import runnable
from mkba.decide import irr as irr_mod
from mkba.load import load_scenario
from mkba.output import write_columns

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"
PROGRAMME = ROOT / "scenarios" / "wijkprogramma-example.toml"


def _whole(run: engine.Run) -> irr_mod.IrrResult:
    m = run.model
    return irr_mod.irr(run.outcomes.flow, m.years.astype(float) - float(m.spec.scenario.base_year))


def test_block_is_the_irr_default_chunk() -> None:
    assert inspect.signature(irr_mod.irr).parameters["chunk"].default == draws_irr.IRR_BLOCK


@pytest.mark.parametrize(
    ("draws", "piece_blocks"), [(1, 16), (4095, 1), (4097, 1), (9000, 1), (13000, 2), (70000, 16)]
)
def test_in_order_equals_the_whole_irr(
    monkeypatch: pytest.MonkeyPatch, draws: int, piece_blocks: int
) -> None:
    monkeypatch.setattr(draws_irr, "PIECE_BLOCKS", piece_blocks)
    run = engine.simulate(runnable(load_scenario(REFERENCE)), draws=draws, keep_samples=False)
    want = _whole(run)
    task = draws_irr.IrrInOrder(run).start()
    task.wait_rows(min(draws, 10))
    got = task.finish()
    assert np.array_equal(got.irr, want.irr, equal_nan=True)
    assert np.array_equal(got.roots, want.roots)
    assert irr_mod.run_irr(run) is got  # cached on the run, as run_irr does


def test_in_order_equals_the_whole_irr_on_hard_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows with no, one and several sign changes, zeros and a NaN, spread over pieces (each
    block's bisection runs until all its rows are narrow: the blocks must hold the same rows)."""
    monkeypatch.setattr(draws_irr, "PIECE_BLOCKS", 1)
    run = engine.simulate(runnable(load_scenario(REFERENCE)), draws=9000, keep_samples=False)
    f = run.outcomes.flow
    rng = np.random.default_rng(3)
    f[100] = 0.0
    f[4200, :] = 1.0  # never negative: no root
    f[5000] = rng.normal(size=f.shape[1]) * 1e6  # several sign changes
    f[8999, 3] = np.nan
    f[4095] = f[4096] = -f[4097]
    want = _whole(run)
    got = draws_irr.IrrInOrder(run).start().finish()
    assert np.array_equal(got.irr, want.irr, equal_nan=True)
    assert np.array_equal(got.roots, want.roots)


def test_programme_scenario_equals_the_whole_irr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(draws_irr, "PIECE_BLOCKS", 1)
    run = engine.simulate(runnable(load_scenario(PROGRAMME)), draws=5000, keep_samples=False)
    want = _whole(run)
    got = draws_irr.IrrInOrder(run).start().finish()
    assert np.array_equal(got.irr, want.irr, equal_nan=True)
    assert np.array_equal(got.roots, want.roots)


def test_a_failing_irr_wakes_the_waiting_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(draws_irr, "PIECE_BLOCKS", 1)
    real = draws_irr.irr
    calls = []

    def second_fails(flow, offsets):  # type: ignore[no-untyped-def]
        calls.append(flow.shape[0])
        if len(calls) == 2:
            raise FloatingPointError("irr failed")
        return real(flow, offsets)

    monkeypatch.setattr(draws_irr, "irr", second_fails)
    run = engine.simulate(runnable(load_scenario(REFERENCE)), draws=9000, keep_samples=False)
    task = draws_irr.IrrInOrder(run).start()
    task.wait_rows(4096)  # the first piece is done
    with pytest.raises(draws_irr.IrrStopped) as err:
        task.wait_rows(9000)
    assert isinstance(err.value.__cause__, FloatingPointError)
    with pytest.raises(FloatingPointError, match="irr failed"):
        task.finish()
    assert getattr(run, "_irr", None) is None  # nothing half-done cached


def test_stopped_irr_wakes_the_waiting_writer() -> None:
    run = engine.simulate(runnable(load_scenario(REFERENCE)), draws=3000, keep_samples=False)
    task = draws_irr.IrrInOrder(run)  # never started: nothing will come
    task.stop()
    with pytest.raises(draws_irr.IrrStopped):
        task.wait_rows(1)
    task.stop()  # again: harmless


def test_draws_parquet_is_the_file_of_the_whole_irr(tmp_path: Path) -> None:
    res = api.run_scenario(REFERENCE, draws=70000, out=tmp_path / "r")
    run = res.run
    object.__setattr__(run, "_irr", None)  # the old path: run_irr over all rows first
    old = tmp_path / "old"
    old.mkdir()
    write_columns(old, "draws", results.draws_columns(run), group_rows=api.draws_group_rows(run))
    assert (old / "draws.parquet").read_bytes() == (tmp_path / "r" / "draws.parquet").read_bytes()


def test_a_failing_irr_fails_the_run_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def boom(flow, offsets):  # type: ignore[no-untyped-def]
        raise FloatingPointError("irr failed")

    monkeypatch.setattr(draws_irr, "irr", boom)
    with pytest.raises(FloatingPointError, match="irr failed"):
        api.run_scenario(REFERENCE, draws=3000, out=tmp_path / "r")
    assert list(tmp_path.iterdir()) == []
    names = {t.name for t in threading.enumerate()}
    assert "mkba-draws" not in names and "mkba-irr" not in names


def test_failed_statistics_stop_the_irr_thread(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def boom(run):  # type: ignore[no-untyped-def]
        raise RuntimeError("statistics failed")

    monkeypatch.setattr(results, "precompute_statistics", boom)
    with pytest.raises(RuntimeError, match="statistics failed"):
        api.run_scenario(REFERENCE, draws=70000, out=tmp_path / "r")
    assert list(tmp_path.iterdir()) == []
    names = {t.name for t in threading.enumerate()}
    assert "mkba-draws" not in names and "mkba-irr" not in names
