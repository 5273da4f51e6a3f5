"""Helpers of the twin-pass tests (tests/test_twin_sink.py, tests/test_twin_sampled.py)."""

from __future__ import annotations

import numpy as np

from mkba import engine
from mkba.model import Model


def same_bits(x: np.ndarray, y: np.ndarray) -> None:
    """``x`` and ``y`` equal value for value, NaN where NaN, and the signs of zeros."""
    assert x.shape == y.shape
    assert np.array_equal(x, y, equal_nan=True)
    assert np.array_equal(np.signbit(x), np.signbit(y))


def lhs_twin(m: Model, o: Model, draws: int, chunk: int) -> engine.Twin:
    """The twin of ``m`` and ``o`` for ``draws`` LHS draws of seed 11 in chunks of ``chunk``."""
    twin = engine.twin_of(
        m,
        o,
        draws=draws,
        seed=11,
        sampler="lhs",
        chunk_size=chunk,
        other_draws=draws,
        other_seed=11,
        other_sampler="lhs",
        other_chunk_size=chunk,
    )
    assert twin is not None
    return twin
