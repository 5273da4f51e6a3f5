"""fill_theta's work around the compiled sampler, the same bits as before (i23-sample).

- finish() walks per-share Python lists of its columns (made once per layout) instead of
  indexing NumPy arrays per column and chunk.
- A lognormal column at scale 1 skips ``row *= 1.0`` and ``samples = row / 1.0``: both are
  the identity on every value NumPy's ``exp`` returns (a quiet NaN or a number), so the
  expected values below are computed the old way, with the multiplication and division.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter

from mkba import rng
from mkba.distributions import InverseCdf
from mkba.schema.quantity import Distribution, Quantity


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Byte for byte (NaN payloads and the signs of zeros and NaNs count)."""
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def _q(dist: dict) -> Quantity:  # type: ignore[type-arg]
    d = TypeAdapter(Distribution).validate_python(dist)
    return Quantity.model_construct(unit="ratio", dist=d, assumption="test distribution")


LOGNORMALS = [
    {"type": "lognormal", "median": 2, "high": 5},
    {"type": "lognormal", "median": 0.3, "high": 40},
    {"type": "lognormal", "median": 1e-3, "high": 2e-3},
]
_U = np.array([0.0, 1.0, 0.5, 2**-53, 1 - 2**-53, 1e-300, 5e-324, np.nan, -np.nan, 0.25,
               np.exp(-2), 1 - np.exp(-2), 1e-7, 1 - 1e-7])  # fmt: skip


@pytest.mark.parametrize("threads", [1, 2])
def test_lognormal_at_scale_one_as_before(threads: int) -> None:
    """Lognormal columns at scale 1.0 and beside them at other scales, given uniforms (the
    special values above, then random ones) and drawn ones, with ``samples``: ``tht`` is
    ``InverseCdf(u) * scale`` and ``samples`` that ``/ scale``, computed with the
    multiplication and the division as the old code did, byte for byte."""
    dists = LOGNORMALS + LOGNORMALS
    invs = tuple(InverseCdf(_q(d)) for d in dists)
    plan = rng.column_plan(invs)
    assert set(plan.kind.tolist()) == {rng.LOGNORMAL}
    u_count = len(invs)
    rows = np.arange(2, u_count + 2, dtype=np.int64)
    scale = np.array([1.0, 1.0, 1.0, 1.0673885719810499, 0.5, 3.0])
    g = np.random.default_rng(4)
    ut = np.vstack([np.concatenate([_U, g.random(5000)]) for _ in range(u_count)])
    n = ut.shape[1]

    def expect(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tht = np.full((u_count + 2, u.shape[1]), 7.0)
        samples = np.empty((u.shape[1], u_count))
        for j, inv in enumerate(invs):
            row = inv(u[j])
            row *= scale[j]
            tht[rows[j]] = row
            samples[:, j] = row / scale[j]
        return tht, samples

    with np.errstate(all="ignore"):
        tht = np.full((u_count + 2, n), 7.0)
        samples = np.empty((n, u_count))
        rng.fill_theta(plan, invs, tht, rows, scale, ut=ut.copy(), samples=samples, threads=threads)
        want, want_s = expect(ut)
        assert _same_bits(tht, want) and _same_bits(samples, want_s)
        cols = np.arange(40, 40 + u_count, dtype=np.int64)
        for sampler in ("random", "lhs"):
            tht = np.full((u_count + 2, n), 7.0)
            samples = np.empty((n, u_count))
            drawn = rng.uniform_rows(sampler, n, cols, seed=9, chunk=3)
            rng.fill_theta(
                plan, invs, tht, rows, scale, sampler=sampler, seed=9, chunk=3, cols=cols,
                samples=samples, threads=threads,
            )  # fmt: skip
            want, want_s = expect(drawn)
            assert _same_bits(tht, want) and _same_bits(samples, want_s)
