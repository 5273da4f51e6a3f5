"""Issue 17, targets 3 and 4 (i18-stats): memory reused instead of fresh pages gives exactly
the numbers of fresh memory.

- ``engine.simulate(reuse=...)``: a finished run's outcome arrays (full of other values) used
  for a new run give the arrays a fresh run gives, bit for bit; arrays of another layout are
  not used.
- ``mkba.api.run_scenario`` with its companion: the run's outcomes are the companion's arrays
  (when they fit), and its summary is that of the run simulated alone.

Comparisons are ``np.array_equal`` (with NaN equal where both are NaN) or ``==``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mkba import api, engine, results
from mkba.checks import runnable
from mkba.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"
EVIDENCE = ROOT / "scenarios" / "evidence-2021.toml"
PROGRAMME = ROOT / "scenarios" / "wijkprogramma-example.toml"


def _equal_outcomes(a: engine.Outcomes, b: engine.Outcomes) -> None:
    for (name, x), y in zip(a.fields().items(), b.fields().values(), strict=True):
        assert x.shape == y.shape and x.dtype == y.dtype, name
        assert np.array_equal(x, y, equal_nan=True), name
        # signed zeros too: the same bits
        assert np.array_equal(np.signbit(x), np.signbit(y)), name


@pytest.mark.parametrize("path", [REFERENCE, EVIDENCE, PROGRAMME])
@pytest.mark.parametrize("garbage", [np.nan, -0.0, 1e300])
def test_simulate_into_a_finished_runs_arrays_equals_fresh(path: Path, garbage: float) -> None:
    m = runnable(load_scenario(path))
    fresh = engine.simulate(m, draws=1500, chunk_size=512)
    old = engine.Outcomes.empty(1500, m)
    for x in old.fields().values():
        x[...] = garbage  # what a finished run leaves behind: other values everywhere
    ids = {k: id(v) for k, v in old.fields().items()}
    again = engine.simulate(m, draws=1500, chunk_size=512, reuse=old)
    assert {k: id(v) for k, v in again.outcomes.fields().items()} == ids  # the same arrays
    _equal_outcomes(again.outcomes, fresh.outcomes)
    assert np.array_equal(again.chunk_means, fresh.chunk_means)


def test_arrays_of_another_layout_are_not_reused() -> None:
    m = runnable(load_scenario(REFERENCE))
    fresh = engine.simulate(m, draws=700, chunk_size=256)
    other = engine.Outcomes.empty(701, m)  # one draw more
    assert engine.simulate(m, draws=700, chunk_size=256, reuse=other).outcomes is not other
    f32 = engine.Outcomes.empty(700, m, np.float32)  # per-area values in single precision
    run = engine.simulate(m, draws=700, chunk_size=256, reuse=f32)
    assert run.outcomes.area_benefits is not f32.area_benefits
    _equal_outcomes(run.outcomes, fresh.outcomes)
    ro = engine.Outcomes.empty(700, m)
    ro.flow.flags.writeable = False  # e.g. a view someone else holds read-only
    assert engine.simulate(m, draws=700, chunk_size=256, reuse=ro).outcomes.flow is not ro.flow
    assert not engine.same_layout(other, engine.Outcomes.empty(700, m))
    assert engine.same_layout(engine.Outcomes.empty(700, m), engine.Outcomes.empty(700, m))


def test_run_with_companion_reuses_its_arrays_and_gives_the_same_summary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[engine.Outcomes | None] = []
    real = engine.simulate

    def spy(*a, **k):  # type: ignore[no-untyped-def]
        seen.append(k.get("reuse"))
        run = real(*a, **k)
        seen.append(run.outcomes)
        return run

    monkeypatch.setattr(engine, "simulate", spy)
    # the two passes (a companion that is not the run's twin; the twin: tests/test_twin.py)
    monkeypatch.setattr(engine, "twin_of", lambda *a, **k: None)
    both = api.run_scenario(REFERENCE, draws=3000, write=False, companion=True)
    # the companion simulated into fresh arrays; the run into the companion's
    assert seen[0] is None and seen[2] is seen[1] and seen[3] is seen[1]
    monkeypatch.setattr(engine, "simulate", real)
    alone = api.run_scenario(REFERENCE, draws=3000, write=False, companion=False)
    _equal_outcomes(both.run.outcomes, alone.run.outcomes)
    with results.shared_statistics():
        a = results.summary(alone.run)
    b = {k: v for k, v in both.summary.items() if k in a}
    for k in ("run_id", "scenario_hash", "convergence", "output_dir"):
        a.pop(k, None)
        b.pop(k, None)
    assert b == a


def test_transposed_into_reused_buffers_equals_the_strided_columns() -> None:
    rng = np.random.default_rng(7)
    src = rng.normal(size=(5000, 19))
    src[3, 4] = np.nan
    src[7, 5] = -0.0
    scratch = results.Scratch()
    for cols in ([0, 1, 2, 3, 4, 5, 6, 7], [16, 17, 18], [4, 5], [2, 9, 11], [18]):
        got = results._transposed(src, cols, scratch)
        want = np.ascontiguousarray(src[:, cols].T)
        assert got.flags.c_contiguous and got.shape == want.shape
        assert np.array_equal(got, want, equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(want))
        got[:] = 1e300  # the caller may reorder or overwrite it: the next call is unaffected
    a = results._transposed(src, [0, 1], scratch, "a")
    b = results._transposed(src, [2, 3], scratch, "b")  # two slots alive at once
    assert np.array_equal(a, src[:, [0, 1]].T) and np.array_equal(b, src[:, [2, 3]].T)


def test_statistics_with_reused_buffers_equal_one_column_at_a_time() -> None:
    m = runnable(load_scenario(REFERENCE))
    run = engine.simulate(m, draws=2049, chunk_size=512)
    with results.shared_statistics():
        results.precompute_statistics(run)
        shared = {k: results.column_stats(run, *k) for k in results.statistics_keys(run)}
    for k, v in shared.items():  # each column on its own, a new array (no shared buffer)
        assert v == results.stats(results._column(run, k), owned=True), k
    fresh = results._cumulative_year_stats(run.outcomes.dflow, run.outcomes.dflow.mean(axis=0))
    reused = results._cumulative_year_stats(
        run.outcomes.dflow, run.outcomes.dflow.mean(axis=0), results.Scratch()
    )
    for x, y in zip(fresh, reused, strict=True):
        assert x is not None and y is not None
        assert np.array_equal(x, y)
    q = results._year_quantiles(run.outcomes.flow, None, results.Scratch())
    assert np.array_equal(q, np.quantile(run.outcomes.flow, results.FAN_QUANTILES, axis=0))


# --- the implied-effects sink on a thread of its own (implied.BackgroundSink) -------------------


class _Recorder:
    """A sink that keeps a copy of every chunk it gets, in the order it gets them."""

    def __init__(self, delay: float = 0.0, fail_at: int | None = None) -> None:
        self.got: list[tuple[int, np.ndarray]] = []
        self.delay = delay
        self.fail_at = fail_at

    def __call__(self, lo: int, samples: np.ndarray) -> None:
        import time

        time.sleep(self.delay)
        if self.fail_at is not None and lo >= self.fail_at:
            raise ZeroDivisionError("sink failed")
        self.got.append((lo, samples.copy()))


@pytest.mark.parametrize("buffers", [1, 3])
def test_background_sink_gets_every_chunk_as_it_came(buffers: int) -> None:
    from mkba import implied

    m = runnable(load_scenario(REFERENCE))
    direct = _Recorder()
    engine.simulate(m, draws=3000, chunk_size=512, keep_samples=False, on_samples=direct)
    slow = _Recorder(delay=0.01)  # the simulation runs ahead: buffers are reused
    bg = implied.BackgroundSink(slow, buffers=buffers)
    engine.simulate(m, draws=3000, chunk_size=512, keep_samples=False, on_samples=bg)
    bg.close()
    assert [lo for lo, _ in slow.got] == [lo for lo, _ in direct.got] == list(range(0, 3000, 512))
    for (_, a), (_, b) in zip(slow.got, direct.got, strict=True):
        assert np.array_equal(a, b)
    assert bg.seconds >= 0.0


def test_background_full_strength_sink_equals_the_sink_in_line() -> None:
    from mkba import implied

    m = runnable(load_scenario(EVIDENCE))
    inline = implied.FullStrengthSink(m, 2500)
    run_a = engine.simulate(m, draws=2500, chunk_size=512, keep_samples=False, on_samples=inline)
    beside = implied.FullStrengthSink(m, 2500)
    bg = implied.BackgroundSink(beside)
    run_b = engine.simulate(m, draws=2500, chunk_size=512, keep_samples=False, on_samples=bg)
    bg.close()
    assert np.array_equal(inline.full, beside.full) and np.array_equal(inline.base, beside.base)
    a = inline.attach(run_a)._side_physical  # type: ignore[attr-defined]  # set by attach
    b = beside.attach(run_b)._side_physical  # type: ignore[attr-defined]  # set by attach
    assert a == b


def test_background_sink_error_reaches_the_simulation() -> None:
    import threading

    from mkba import api

    m = runnable(load_scenario(REFERENCE))
    with pytest.raises(ZeroDivisionError, match="sink failed"):
        api._simulate_beside(  # type: ignore[arg-type]  # any callable sink
            _Recorder(fail_at=1024), m, draws=3000, chunk_size=512, keep_samples=False
        )
    assert "mkba-sink" not in {t.name for t in threading.enumerate()}


def test_failed_simulation_stops_the_background_sink(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from mkba import api

    # the third chunk's kernel fails (engine._kernel_part: every chunk's, sampled chunk by
    # chunk or a block at a time)
    real = engine._kernel_part
    calls = []

    def fails_third(*a, **k):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise MemoryError("simulation failed")
        return real(*a, **k)

    monkeypatch.setattr(engine, "_kernel_part", fails_third)
    m = runnable(load_scenario(REFERENCE))
    with pytest.raises(MemoryError, match="simulation failed"):
        api._simulate_beside(  # type: ignore[arg-type]  # any callable sink
            _Recorder(), m, draws=3000, chunk_size=512, keep_samples=False
        )
    assert "mkba-sink" not in {t.name for t in threading.enumerate()}


def test_run_manifest_times_the_sink_apart(tmp_path: Path) -> None:
    res = api.run_scenario(REFERENCE, draws=3000, out=tmp_path / "r", companion=True)
    t = res.manifest["timings"]
    assert t["side_physical_s"] >= 0.0 and t["side_physical_busy_s"] > 0.0
    assert t["simulate_s"] > 0.0
