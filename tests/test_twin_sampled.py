"""Issue 17 (i24-physical): the implied-effects sinks of a twin pass read each chunk's samples
where the simulation made them (``engine.simulate_twin(on_sampled=pair.sampled)``), instead
of a copy made on the simulating thread (``on_samples=pair, other_on_samples=
pair.other_samples``, as before). Expected values come from the code before the change: two
:class:`mkba.implied.BackgroundSink` (each sink its own copy and its own
:meth:`FullStrength.of_samples`), and :meth:`FullStrength.of_samples` block by block on the
edge cases (n = 1, chunks that are not a multiple of the block, NaN, inf and signed zeros, a
twin that differs beyond the effects, which takes the separate path); every figure compared
with ``np.array_equal`` and the signs of zeros, the physical effects of both ``attach`` calls
with ``==``. The engine's side of it: the arrays handed over do not change until released,
the pass's numbers are those without the sinks, and an error on the sinks' thread reaches the
pass without leaving it waiting.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mkba import engine, implied
from mkba.model import Model
from twin_helpers import assert_sinks_of_samples, edge_samples, lhs_twin, same_bits


def _pass(m: Model, twin: engine.Twin, draws: int, chunk: int, **kwargs: Any) -> Any:
    return engine.simulate_twin(
        m, twin, draws=draws, seed=11, sampler="lhs", chunk_size=chunk, **kwargs
    )


def _old(m: Model, twin: engine.Twin, draws: int, chunk: int, spill: bool) -> Any:
    """The sinks as before i22-side: each on a BackgroundSink of its own (own copies)."""
    own, other = implied.FullStrengthSink(m, draws), implied.FullStrengthSink(twin.other, draws)
    bg, obg = implied.BackgroundSink(own), implied.BackgroundSink(other)
    runs = _pass(m, twin, draws, chunk, on_samples=bg, other_on_samples=obg, spill_samples=spill)
    obg.close()
    bg.close()
    return own, other, runs


def _new(m: Model, twin: engine.Twin, draws: int, chunk: int, spill: bool) -> Any:
    own, other = implied.FullStrengthSink(m, draws), implied.FullStrengthSink(twin.other, draws)
    pair = implied.TwinSink(own, other, twin.cols)
    runs = _pass(m, twin, draws, chunk, on_sampled=pair.sampled, spill_samples=spill)
    pair.close()
    return own, other, runs, pair


def _same_runs(a: engine.Run, b: engine.Run) -> None:
    for name in ("benefits", "costs", "stream"):
        same_bits(getattr(a.outcomes, name), getattr(b.outcomes, name))
    same_bits(a.chunk_means, b.chunk_means)


@pytest.mark.parametrize("spill", [False, True])  # True: one samples buffer for every chunk
@pytest.mark.parametrize(
    ("draws", "chunk"), [(1, 1024), (7, 4096), (5000, 4096), (4500, 1000), (2100, 2048)]
)
def test_sampled_equals_two_background_sinks(
    ref: Model, evi: Model, draws: int, chunk: int, spill: bool
) -> None:
    twin = lhs_twin(ref, evi, draws, chunk)
    o_own, o_other, (orun, oorun) = _old(ref, twin, draws, chunk, spill)
    n_own, n_other, (nrun, norun), pair = _new(ref, twin, draws, chunk, spill)
    assert pair.joint  # reference and evidence differ in the effects only
    for a, b in ((o_own, n_own), (o_other, n_other)):
        assert a.rows == b.rows == draws
        same_bits(np.asarray(a.full), np.asarray(b.full))
        same_bits(np.asarray(a.base), np.asarray(b.base))
    # the simulation's own numbers do not depend on how the sinks take the samples
    _same_runs(orun, nrun)
    _same_runs(oorun, norun)
    old_docs = [o_other.attach(oorun)._side_physical, o_own.attach(orun)._side_physical]
    new_docs = [n_other.attach(norun)._side_physical, n_own.attach(nrun)._side_physical]
    assert new_docs == old_docs


def test_sampled_the_other_way_round(ref: Model, evi: Model) -> None:
    """The evidence as the run, the reference as its companion."""
    twin = lhs_twin(evi, ref, 3000, 1024)
    o_own, o_other, _ = _old(evi, twin, 3000, 1024, True)
    n_own, n_other, _, pair = _new(evi, twin, 3000, 1024, True)
    assert pair.joint
    for a, b in ((o_own, n_own), (o_other, n_other)):
        same_bits(np.asarray(a.full), np.asarray(b.full))
        same_bits(np.asarray(a.base), np.asarray(b.base))


@pytest.mark.parametrize(
    ("what", "n", "chunk"),
    [("effects", 3001, 1000), ("beyond", 3001, 1000), ("effects", 5, 1), ("beyond", 2049, 4096)],
)
def test_sampled_edge_values_and_the_separate_path(
    ref: Model, what: str, n: int, chunk: int
) -> None:
    """Fed by hand as the engine feeds it (released before the next chunk); expected: each
    sink's own FullStrength.of_samples, block by block."""
    samples, theirs, cols = edge_samples(ref, what, max(n, 30))
    samples, theirs = samples[:n], theirs[:n]
    own, other = implied.FullStrengthSink(ref, n), implied.FullStrengthSink(ref, n)
    pair = implied.TwinSink(own, other, np.array(cols))
    assert pair.joint is (what == "effects")
    with np.errstate(all="ignore"):
        for lo in range(0, n, chunk):
            release = pair.sampled(lo, samples[lo : lo + chunk], theirs[lo : lo + chunk, cols])
            release()
        pair.close()
        assert_sinks_of_samples(ref, own, other, samples, theirs, n)
    if n > 15:
        assert np.isnan(other.full[10]).any()  # the NaN effect reached its stream


def test_figures_with_the_twins_columns_apart(ref: Model) -> None:
    """FullStrength.figures(src2=...) against the same columns copied beside the samples
    (the old layout), with the twin's effects read from src2, from src and fixed (one each
    kind), NaN and signed zeros among them."""
    fs = implied.FullStrength(ref, implied.full_strength_index(ref))
    samples, theirs, cols = edge_samples(ref, "effects", 700)
    U, S = samples.shape[1], ref.slots.S
    eff = slice(int(fs.at[2]), int(fs.at[2]) + S)  # _AT[2]: the effects
    col2 = fs.col[eff].copy()
    scale2 = fs.scale_used[eff] * 1.25
    fixed2 = fs.fixed_used[eff].copy()
    tw = theirs[:, cols]  # the companion's own columns, apart
    col2_joined = col2.copy()
    for i, j in enumerate(cols):
        col2_joined[col2 == j] = U + i
    kinds = {"src2": (col2_joined >= U).sum(), "src": 0, "fixed": 0}
    last = S - 1  # a fixed effect in the twin (the reference draws every effect)
    assert col2_joined[last] < U
    col2_joined[last], fixed2[last] = -1, -0.0
    kinds["src"] = int(((col2_joined >= 0) & (col2_joined < U)).sum())
    kinds["fixed"] = int((col2_joined < 0).sum())
    assert all(v > 0 for v in kinds.values()), kinds
    joined = np.concatenate([samples, tw], axis=1)
    with np.errstate(all="ignore"):
        a = fs.figures(joined, fs.col, fs.scale_used, (col2_joined, scale2, fixed2))
        b = fs.figures(samples, fs.col, fs.scale_used, (col2_joined, scale2, fixed2), tw)
    for x, y in zip(a, b, strict=True):
        same_bits(x, y)
    assert np.isnan(b[2]).any()


def test_the_arrays_do_not_change_until_released(ref: Model, evi: Model) -> None:
    """The engine's contract: what on_sampled got stays as it was until its release is
    called, which comes before the next chunk is sampled and before the pass returns."""
    draws, chunk = 5000, 1024
    twin = lhs_twin(ref, evi, draws, chunk)
    events: list[tuple[str, int]] = []
    seen: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def on_sampled(lo: int, samples: np.ndarray, theirs: np.ndarray) -> Any:
        events.append(("sampled", lo))
        kept = (samples, theirs, samples.copy(), theirs.copy())
        seen.append(kept)

        def release() -> None:
            same_bits(kept[0], kept[2])  # unchanged while the kernels ran
            same_bits(kept[1], kept[3])
            events.append(("released", lo))

        return release

    run, _ = _pass(ref, twin, draws, chunk, on_sampled=on_sampled, spill_samples=True)
    starts = list(range(0, draws, chunk))
    assert events == [(k, lo) for lo in starts for k in ("sampled", "released")]
    # what was handed over: the run's sampled values and the companion's twin columns
    full = np.concatenate([s[2] for s in seen])
    assert run.spilled is not None
    same_bits(full, run.spilled.rows(0, draws))
    assert np.concatenate([s[3] for s in seen]).shape == (draws, twin.cols.size)


def test_on_sampled_is_instead_of_other_on_samples(ref: Model, evi: Model) -> None:
    """other_on_samples writes the twin's columns into the samples for its call, which
    on_sampled's consumer may be reading: refused together. on_samples only reads them (the
    streamed draws.parquet takes them so): allowed beside on_sampled."""
    twin = lhs_twin(ref, evi, 10, 10)
    with pytest.raises(ValueError, match="instead of"):
        _pass(ref, twin, 10, 10, on_sampled=lambda *a: None, other_on_samples=lambda *a: None)
    seen: list[tuple[str, int]] = []
    _pass(
        ref,
        twin,
        10,
        10,
        on_sampled=lambda lo, *a: seen.append(("sampled", lo)),
        on_samples=lambda lo, s: seen.append(("samples", lo)),
    )
    assert seen == [("sampled", 0), ("samples", 0)]


def test_an_error_on_the_sinks_thread_reaches_the_pass(
    ref: Model, evi: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    draws, chunk = 5000, 1024
    twin = lhs_twin(ref, evi, draws, chunk)
    own, other = implied.FullStrengthSink(ref, draws), implied.FullStrengthSink(evi, draws)
    pair = implied.TwinSink(own, other, twin.cols)

    def boom(lo: int, view: Any) -> None:
        raise RuntimeError("sink failed")

    monkeypatch.setattr(pair, "sink", boom)
    with pytest.raises(RuntimeError, match="sink failed"):
        _pass(ref, twin, draws, chunk, on_sampled=pair.sampled, spill_samples=True)
    pair.abort()
