"""The IRR of every draw computed beside the simulation (``decide.irr.IrrAlongside``, issue 17
target 4): the same numbers as :func:`mkba.decide.irr.irr` computed afterwards, byte for
byte, whatever the order and size of the row reports, and in a whole run (twin pass and
``MKBA_TWIN=0``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mkba import api
from mkba.decide import irr as irr_mod
from mkba.decide.irr import IrrAlongside, irr, run_irr, run_offsets

REFERENCE = Path(__file__).resolve().parents[1] / "scenarios" / "reference-2021.toml"


def _same(a: irr_mod.IrrResult, b: irr_mod.IrrResult) -> bool:
    """Whether two IRR results hold the same bytes (NaN payloads and signed zeros count)."""
    return (
        a.irr.dtype == b.irr.dtype
        and a.irr.tobytes() == b.irr.tobytes()
        and np.array_equal(a.roots, b.roots)
        and a.roots.dtype == b.roots.dtype
    )


def _flows(n: int, years: int, seed: int) -> np.ndarray:
    """Rows of every kind the IRR meets: an investment then returns (one root), noise (several
    roots, the grid NPVs' path), all zero (an exact zero on every grid point), NaN, inf, a
    single nonzero year, tiny and huge values (beyond the proven range)."""
    rng = np.random.default_rng(seed)
    f = np.cumsum(rng.standard_normal((n, years)), axis=1)
    f[:, :1] -= 3.0
    if n >= 10:
        f[: n // 5] = rng.standard_normal((n // 5, years))
        f[n // 5] = 0.0
        f[n // 5 + 1, 3] = np.nan
        f[n // 5 + 2, 0] = -np.inf
        f[n // 5 + 3] = 0.0
        f[n // 5 + 3, 2] = -1.0
        f[n // 5 + 4] *= 1e-300
        f[n // 5 + 5] *= 1e200
        f[n // 5 + 6] = -0.0
    return f


def _fed(flow: np.ndarray, offsets: np.ndarray, steps: list[int], chunk: int) -> irr_mod.IrrResult:
    """An :class:`IrrAlongside` fed as a simulation feeds it: rows are written into an empty
    array only just before they are reported done (so a block computed too early would read
    garbage and differ)."""
    target = np.full_like(flow, np.nan)
    along = IrrAlongside(target, offsets, chunk=chunk)
    done = 0
    for hi in steps:
        if hi > done:
            target[done:hi] = flow[done:hi]
            done = hi
        along.rows_done(hi)
    target[done:] = flow[done:]
    return along.result()


@pytest.mark.parametrize("n", [1, 2, 3, 7, 100, 4095, 4096, 4097, 10_001])
def test_equals_irr_afterwards_for_chunked_reports(n: int) -> None:
    flow = _flows(n, 30, n)
    offsets = np.arange(30.0)
    want = irr(flow, offsets)
    # reports after every simulated chunk of 4096 (the reference's chunk size), of 1000 (a
    # block done over several reports), of 5000 (several blocks at once), and one at the end
    for step in (4096, 1000, 5000, n):
        steps = [*range(step, n, step), n]
        assert _same(_fed(flow, offsets, steps, 4096), want), step


def test_reports_out_of_order_and_repeated() -> None:
    n = 9000
    flow = _flows(n, 12, 5)
    offsets = np.arange(12.0)
    got = _fed(flow, offsets, [10, 4096, 4096, 2000, 8192, 7000, n], 4096)
    assert _same(got, irr(flow, offsets))


def test_result_without_reports_takes_every_row_as_done() -> None:
    flow = _flows(5000, 8, 1)
    offsets = np.arange(8.0)
    along = IrrAlongside(flow, offsets)
    assert _same(along.result(), irr(flow, offsets))
    assert along.cpu_s >= 0.0 and along.seconds >= 0.0


@pytest.mark.parametrize("chunk", [1, 3, 64])
def test_small_blocks(chunk: int) -> None:
    flow = _flows(200, 6, chunk)
    offsets = np.arange(6.0)
    steps = [*range(7, 200, 7), 200]
    assert _same(_fed(flow, offsets, steps, chunk), irr(flow, offsets, chunk=chunk))


def test_offsets_not_consecutive_take_the_numpy_path() -> None:
    flow = _flows(300, 5, 9)
    offsets = np.array([0.0, 1.0, 3.0, 4.0, 7.5])
    steps = [100, 200, 300]
    assert _same(_fed(flow, offsets, steps, 128), irr(flow, offsets, chunk=128))


def test_one_row_by_hand() -> None:
    # -100 then 30 a year for five years: 30 * (1 - 1.15238^-5) / 0.15238 = 100 (the annuity
    # factor 3.3333 at r = 15.24 %)
    flow = np.array([[-100.0, 30.0, 30.0, 30.0, 30.0, 30.0]])
    res = _fed(flow, np.arange(6.0), [1], 4096)
    assert res.roots[0] == 1
    r = res.irr[0]
    assert abs(r - 0.15238) < 1e-5
    assert abs(30.0 * (1.0 - (1.0 + r) ** -5) / r - 100.0) < 1e-9


def test_abort_ends_the_thread_without_a_result() -> None:
    along = IrrAlongside(np.zeros((10_000, 4)), np.arange(4.0))
    along.rows_done(4096)
    along.abort()
    assert not along._thread.is_alive()


def test_an_error_in_a_block_is_raised_by_result(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object) -> None:
        raise FloatingPointError("block failed")

    monkeypatch.setattr(irr_mod, "_irr_block", boom)
    along = IrrAlongside(np.zeros((10, 4)), np.arange(4.0))
    with pytest.raises(FloatingPointError, match="block failed"):
        along.result()


def test_needs_a_two_dimensional_flow() -> None:
    with pytest.raises(ValueError, match="draws, years"):
        IrrAlongside(np.zeros(5), np.arange(5.0))


@pytest.mark.parametrize("twin", ["1", "0"])
def test_a_whole_run_has_the_irr_computed_afterwards(
    twin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(api.TWIN_ENV, twin)
    res = api.run_scenario(REFERENCE, draws=9000, out=tmp_path / "run", companion=True)
    run = res.run
    pending = run.__dict__.get("_irr_alongside", "absent")
    assert pending is None  # the alongside was attached and its result taken by run_irr
    got = run_irr(run)
    want = irr(run.outcomes.flow, run_offsets(run.model))
    assert _same(got, want)
    timings = json.loads((tmp_path / "run" / "manifest.json").read_text())["timings"]
    assert timings["statistics_alongside_cpu_s"] >= 0.0
    assert timings["statistics_alongside_s"] >= 0.0
    assert 0.0 <= timings["statistics_alongside_left"] <= 1.0


def test_attach_to_another_runs_flows_is_refused() -> None:
    res = api.run_scenario(REFERENCE, draws=300, write=False)
    along = IrrAlongside(np.zeros((300, 4)), np.arange(4.0))
    with pytest.raises(ValueError, match="another run"):
        along.attach(res.run)


def test_a_simulation_that_fills_other_arrays_gets_the_irr_afterwards(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mkba import engine

    monkeypatch.setenv(api.TWIN_ENV, "0")
    monkeypatch.setattr(engine, "same_layout", lambda a, b: False)  # reuse= never taken
    res = api.run_scenario(REFERENCE, draws=3000, write=False, companion=True)
    run = res.run
    assert "_irr_alongside" not in run.__dict__  # the thread was stopped, not attached
    assert "_column_copies" not in run.__dict__
    assert _same(run_irr(run), irr(run.outcomes.flow, run_offsets(run.model)))


def test_the_caller_takes_over_what_the_thread_has_not_done() -> None:
    flow = _flows(10_000, 10, 4)
    offsets = np.arange(10.0)
    along = IrrAlongside(flow, offsets)  # no rows reported: the thread computes nothing
    got = along.result()
    assert along.taken_over == 3 == along.blocks and along.cpu_s == 0.0
    assert _same(got, irr(flow, offsets))
    assert along.result() is got  # once


@pytest.mark.parametrize("before", [0, 1, 2, 3])
def test_also_is_called_block_after_block_whoever_computes(before: int) -> None:
    import time

    flow = _flows(4 * 512 + 100, 8, before)
    offsets = np.arange(8.0)
    calls: list[tuple[int, int]] = []
    along = IrrAlongside(flow, offsets, chunk=512, also=lambda lo, hi: calls.append((lo, hi)))
    along.rows_done(before * 512)
    deadline = time.monotonic() + 30
    while len(calls) < before and time.monotonic() < deadline:
        time.sleep(0.001)
    got = along.result()
    assert calls == [(0, 512), (512, 1024), (1024, 1536), (1536, 2048), (2048, 2148)]
    assert along.taken_over == 5 - before  # the thread could do only the reported blocks
    assert _same(got, irr(flow, offsets, chunk=512))


def test_the_thread_runs_at_the_lowest_priority_on_linux() -> None:
    import os
    import sys
    import threading
    import time

    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    along = IrrAlongside(np.zeros((100, 4)), np.arange(4.0))
    deadline = time.monotonic() + 30
    while along.native_id is None and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(0.05)  # (the priority is set right after the id)
    if sys.platform.startswith("linux"):
        assert along.native_id is not None
        assert os.getpriority(os.PRIO_PROCESS, along.native_id) == 19
        # that thread only: the calling thread keeps its own
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine
    along.abort()
