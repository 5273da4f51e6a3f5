"""Issue 17 (i22-side): :class:`mkba.implied.TwinSink` (both sinks of a twin pass on one
thread, from one copy of each chunk, the figures in one joint pass where the two models differ
in the effects only) gives exactly what two :class:`mkba.implied.BackgroundSink` gave before:
every figure compared with ``np.array_equal`` and the signs of zeros, the physical effects of
both ``attach`` calls with ``==``. Expected values come from the code before the change (two
sinks, each its own :meth:`FullStrength.of_samples`), on the reference/evidence twin and on
edge cases (n = 1, chunks that are not a multiple of the block, NaN, inf and signed zeros in
the effects, a twin that differs beyond the effects, which takes the separate path).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mkba import engine, implied
from mkba.model import Model
from twin_helpers import assert_sinks_of_samples, edge_samples, lhs_twin, same_bits


def _old_pass(m: Model, twin: engine.Twin, draws: int, chunk: int) -> Any:
    """The sinks as before: each on a BackgroundSink of its own."""
    own, other = implied.FullStrengthSink(m, draws), implied.FullStrengthSink(twin.other, draws)
    bg, obg = implied.BackgroundSink(own), implied.BackgroundSink(other)
    runs = engine.simulate_twin(
        m,
        twin,
        draws=draws,
        seed=11,
        sampler="lhs",
        chunk_size=chunk,
        on_samples=bg,
        other_on_samples=obg,
    )
    obg.close()
    bg.close()
    return own, other, runs


def _new_pass(m: Model, twin: engine.Twin, draws: int, chunk: int) -> Any:
    own, other = implied.FullStrengthSink(m, draws), implied.FullStrengthSink(twin.other, draws)
    pair = implied.TwinSink(own, other, twin.cols)
    runs = engine.simulate_twin(
        m,
        twin,
        draws=draws,
        seed=11,
        sampler="lhs",
        chunk_size=chunk,
        on_samples=pair,
        other_on_samples=pair.other_samples,
    )
    pair.close()
    return own, other, runs, pair


@pytest.mark.parametrize(
    ("draws", "chunk"), [(1, 1024), (7, 4096), (5000, 4096), (4500, 1000), (2100, 2048)]
)
def test_twin_sink_equals_two_background_sinks(
    ref: Model, evi: Model, draws: int, chunk: int
) -> None:
    twin = lhs_twin(ref, evi, draws, chunk)
    o_own, o_other, (orun, oorun) = _old_pass(ref, twin, draws, chunk)
    n_own, n_other, (nrun, norun), pair = _new_pass(ref, twin, draws, chunk)
    assert pair.joint  # reference and evidence differ in the effects only
    assert n_other.base is n_own.base
    for a, b in ((o_own, n_own), (o_other, n_other)):
        assert a.rows == b.rows == draws
        same_bits(np.asarray(a.full), np.asarray(b.full))
        same_bits(np.asarray(a.base), np.asarray(b.base))
    # the physical effects of both attaches (the companion's first, as api.run_scenario does)
    old_docs = [o_other.attach(oorun)._side_physical, o_own.attach(orun)._side_physical]
    new_docs = [n_other.attach(norun)._side_physical, n_own.attach(nrun)._side_physical]
    assert new_docs == old_docs
    assert n_own.memo is not None and len(n_own.memo) == len(old_docs[0]["streams"])


def test_the_other_way_round(ref: Model, evi: Model) -> None:
    """The evidence as the run, the reference as its companion."""
    twin = lhs_twin(evi, ref, 3000, 1024)
    o_own, o_other, _ = _old_pass(evi, twin, 3000, 1024)
    n_own, n_other, _, pair = _new_pass(evi, twin, 3000, 1024)
    assert pair.joint
    for a, b in ((o_own, n_own), (o_other, n_other)):
        same_bits(np.asarray(a.full), np.asarray(b.full))
        same_bits(np.asarray(a.base), np.asarray(b.base))


def _feed(sink: implied.TwinSink, mine: np.ndarray, theirs: np.ndarray, chunk: int) -> None:
    for lo in range(0, mine.shape[0], chunk):
        sink(lo, mine[lo : lo + chunk])
        sink.other_samples(lo, theirs[lo : lo + chunk])
    sink.close()


def _edge_samples(m: Model, n: int) -> np.ndarray:
    run = engine.simulate(m, draws=n, seed=3)
    assert run.samples is not None
    return np.ascontiguousarray(run.samples)


@pytest.mark.parametrize("what", ["effects", "beyond"])
def test_edge_values_and_the_separate_path(ref: Model, what: str) -> None:
    """The same model twice; the companion's samples differ in some columns: the effects
    (joint pass), with NaN, inf, -inf, +0.0 and -0.0 among them, or also a rate (the separate
    pass). Expected: each sink's own FullStrength.of_samples, block by block."""
    n = 3001
    samples, theirs, cols = edge_samples(ref, what, n)
    own, other = implied.FullStrengthSink(ref, n), implied.FullStrengthSink(ref, n)
    pair = implied.TwinSink(own, other, np.array(cols))
    assert pair.joint is (what == "effects")
    with np.errstate(all="ignore"):
        _feed(pair, samples, theirs, 1000)
        assert_sinks_of_samples(ref, own, other, samples, theirs, n)
    assert np.isnan(other.full[10]).any()  # the NaN effect reached its stream


def test_one_draw_chunks(ref: Model) -> None:
    n = 5
    samples = _edge_samples(ref, n)
    theirs = samples.copy()
    j = int(np.flatnonzero(ref.uncertain_slot == ref.slots.stream("effect"))[0])
    theirs[:, j] *= 2.0
    own, other = implied.FullStrengthSink(ref, n), implied.FullStrengthSink(ref, n)
    pair = implied.TwinSink(own, other, np.array([j]))
    assert pair.joint
    _feed(pair, samples, theirs, 1)
    fs = implied.FullStrength(ref, implied.full_strength_index(ref))
    same_bits(np.asarray(own.full), fs.of_samples(samples)[0])
    same_bits(np.asarray(other.full), fs.of_samples(theirs)[0])
    same_bits(np.asarray(other.base), fs.of_samples(theirs)[1])


def test_a_companion_chunk_out_of_turn_is_refused(ref: Model) -> None:
    samples = _edge_samples(ref, 10)
    own, other = implied.FullStrengthSink(ref, 10), implied.FullStrengthSink(ref, 10)
    pair = implied.TwinSink(own, other, np.array([0]))
    try:
        with pytest.raises(ValueError, match="not the run's last one"):
            pair.other_samples(0, samples)
        pair(0, samples[:5])
        with pytest.raises(ValueError, match="not the run's last one"):
            pair.other_samples(5, samples[5:])
    finally:
        pair.abort()


def test_twin_joint_needs_the_same_model_arrays(ref: Model, evi: Model) -> None:
    t = implied.full_strength_index(ref)
    a, b = implied.FullStrength(ref, t), implied.FullStrength(evi, t)
    twin = lhs_twin(ref, evi, 100, 100)
    assert implied.twin_joint(a, b, twin.cols)
    # a column read by a non-effect slot may differ: not joint
    eff = range(int(a.at[2]), int(a.at[2]) + a.v0.shape[1])  # _AT[2]: the effects
    other = [int(c) for k, c in enumerate(a.col) if c >= 0 and k not in eff]
    assert other
    assert not implied.twin_joint(a, b, np.append(twin.cols, other[0]))
    b.v0 = b.v0.copy()
    b.v0[0, 0] = np.nextafter(b.v0[0, 0], np.inf)
    assert not implied.twin_joint(a, b, twin.cols)


def test_a_twin_of_itself_has_no_columns_of_its_own(ref: Model) -> None:
    """``twin.cols`` empty (a scenario twinned with itself): the companion's figures are the
    run's."""
    n = 2500
    samples = _edge_samples(ref, n)
    own, other = implied.FullStrengthSink(ref, n), implied.FullStrengthSink(ref, n)
    pair = implied.TwinSink(own, other, np.array([], dtype=np.int64))
    assert pair.joint
    _feed(pair, samples, samples, 1024)
    fs = implied.FullStrength(ref, implied.full_strength_index(ref))
    want = [fs.of_samples(samples[lo : lo + 2048]) for lo in range(0, n, 2048)]
    for sink in (own, other):
        same_bits(np.asarray(sink.full), np.concatenate([w[0] for w in want]))
        same_bits(np.asarray(sink.base), np.concatenate([w[1] for w in want]))
