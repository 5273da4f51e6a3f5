"""Helpers of the twin-pass tests (tests/test_twin_sink.py, tests/test_twin_sampled.py)."""

from __future__ import annotations

import numpy as np

from mkba import engine, implied
from mkba.model import Model


def same_bits(x: np.ndarray, y: np.ndarray) -> None:
    """``x`` and ``y`` equal value for value, NaN where NaN, and the signs of zeros."""
    assert x.shape == y.shape
    assert np.array_equal(x, y, equal_nan=True)
    assert np.array_equal(np.signbit(x), np.signbit(y))


def lhs_twin(m: Model, o: Model, draws: int, chunk: int, seed: int = 11) -> engine.Twin:
    """The twin of ``m`` and ``o`` for ``draws`` LHS draws of ``seed`` in chunks of ``chunk``."""
    twin = engine.twin_of(
        m,
        o,
        draws=draws,
        seed=seed,
        sampler="lhs",
        chunk_size=chunk,
        other_draws=draws,
        other_seed=seed,
        other_sampler="lhs",
        other_chunk_size=chunk,
    )
    assert twin is not None
    return twin


def edge_samples(m: Model, what: str, n: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """``n`` draws of ``m``'s sampled values and a companion's that differ in some columns:
    three effects, or (``what == "beyond"``) also a rate, with NaN, inf, -inf, +0.0 and -0.0
    among them (in the companion's only, and in both). Returns (the run's, the companion's,
    the differing columns sorted)."""
    run = engine.simulate(m, draws=n, seed=3)
    assert run.samples is not None
    samples = np.ascontiguousarray(run.samples)
    sl = m.slots
    slot_col = {int(s): j for j, s in enumerate(m.uncertain_slot)}
    eff = [
        slot_col[s] for s in range(sl.stream("effect"), sl.stream("effect") + sl.S) if s in slot_col
    ]
    cols = eff[:3]
    if what == "beyond":
        rate = [
            slot_col[s] for s in range(sl.stream("rate"), sl.stream("rate") + sl.S) if s in slot_col
        ]
        assert rate, "the reference draws a rate"
        cols = cols + rate[:1]
    rng = np.random.default_rng(5)
    theirs = samples.copy()
    theirs[:, cols] = samples[:, cols] * rng.uniform(0.5, 1.5, size=(n, len(cols)))
    for i, v in enumerate([np.nan, np.inf, -np.inf, 0.0, -0.0]):
        theirs[10 + i, cols[0]] = v
        samples[20 + i, cols[1]] = v  # the run's own too (the same in the companion's)
        theirs[20 + i, cols[1]] = v
    return samples, theirs, sorted(cols)


def assert_sinks_of_samples(
    m: Model,
    own: implied.FullStrengthSink,
    other: implied.FullStrengthSink,
    samples: np.ndarray,
    theirs: np.ndarray,
    n: int,
) -> None:
    """``own`` and ``other`` hold, for the first ``n`` draws, exactly what ``m``'s
    :meth:`implied.FullStrength.of_samples` gives for ``samples`` and ``theirs``, block by
    block (as the sinks compute them)."""
    fs = implied.FullStrength(m, implied.full_strength_index(m))
    for lo in range(0, n, implied.FULL_STRENGTH_ROWS):
        hi = min(n, lo + implied.FULL_STRENGTH_ROWS)
        want, want_base = fs.of_samples(samples[lo:hi])
        same_bits(np.asarray(own.full[lo:hi]), want)
        same_bits(np.asarray(own.base[lo:hi]), want_base)
        want, want_base = fs.of_samples(theirs[lo:hi])
        same_bits(np.asarray(other.full[lo:hi]), want)
        same_bits(np.asarray(other.base[lo:hi]), want_base)
