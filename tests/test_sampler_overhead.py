"""fill_theta's work around the compiled sampler, the same bits as before (i23-sample).

- The fixed rows are filled by the compiled :func:`mkba.rng.fill_rows` (was NumPy's
  fancy-index assignment ``tht[rows[g::step]] = values[g::step, None]``, which holds the GIL).
- A lognormal column at scale 1 skips ``row *= 1.0`` and ``samples = row / 1.0``: both are
  the identity on every value NumPy's ``exp`` returns (a quiet NaN or a number), so the
  expected values below are computed the old way, with the multiplication and division.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter

from mkba import rng
from mkba.distributions import InverseCdf
from mkba.load import load_scenario
from mkba.model import lower
from mkba.schema.quantity import Distribution, Quantity

ROOT = Path(__file__).parents[1]


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Byte for byte (NaN payloads and the signs of zeros and NaNs count)."""
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def _q(dist: dict) -> Quantity:  # type: ignore[type-arg]
    d = TypeAdapter(Distribution).validate_python(dist)
    return Quantity.model_construct(unit="ratio", dist=d, assumption="test distribution")


VALUES = np.array([1.5, -0.0, 0.0, np.nan, -np.nan, np.inf, -np.inf, 5e-324, -1e308, 7.0, 3.25])


@pytest.mark.parametrize("n", [0, 1, 7, 64, 4096])
def test_fill_rows_is_numpys_fancy_assignment(n: int) -> None:
    """Every (start, step) share of a set of rows (unsorted, with the special values above)
    gives the matrix NumPy's assignment gave; the other rows are untouched."""
    rows = np.array([9, 0, 4, 2, 10, 6, 1, 8, 3, 5, 7], dtype=np.int64)
    base = np.arange(12 * n, dtype=np.float64).reshape(12, n) * 0.5 - 3.0
    for step in (1, 2, 3, 5, 11, 12):
        for start in range(step):
            want = base.copy()
            want[rows[start::step]] = VALUES[start::step, None]
            got = base.copy()
            rng.fill_rows(got, rows, VALUES, start, step)
            assert _same_bits(got, want)
    got = base.copy()  # no rows at all
    rng.fill_rows(got, rows[:0], VALUES[:0], 0, 2)
    assert _same_bits(got, base)


def test_sample_theta_t_fixed_rows_unchanged() -> None:
    """The reference model's fixed rows as NumPy's assignment wrote them, for 1-3 threads."""
    m = lower(load_scenario(ROOT / "scenarios" / "reference-2021.toml"))
    rows, vals = m.fixed_rows
    for threads in (1, 2, 3):
        for n in (1, 4096, 5000):
            got = m.sample_theta_t("lhs", n, seed=3, chunk=2, threads=threads)
            want = np.empty((rows.size, n))
            want[:] = vals[:, None]
            assert _same_bits(np.ascontiguousarray(got[rows]), want)


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
