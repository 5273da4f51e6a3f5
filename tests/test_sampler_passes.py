"""The compiled sampler's transforms in passes give the one-value-at-a-time formulas' bits
(issue 17, target 7, i22-sample).

:func:`mkba.rng.sample_rows` evaluates some inverse CDFs in several loops over a column (the
triangular's square-root argument first, then one square root a value) so that LLVM
vectorises them. The reference is the unchanged scalar formula in :mod:`mkba.distributions`
(:func:`~mkba.distributions._triangular_ppf`, which :meth:`InverseCdf.__call__` uses): every
comparison is of the bytes (``tobytes``), so NaN payloads and signed zeros count too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mkba import rng
from mkba.distributions import _triangular_ppf
from mkba.load import load_scenario
from mkba.model import lower
from mkba.sampling import _EPS

ROOT = Path(__file__).parents[1]


def transformed(kind: int, par: tuple[float, float, float], u: np.ndarray, sc: float) -> np.ndarray:
    """One column of kind ``kind`` through sample_rows on the given uniforms ``u``."""
    n = u.size
    tht = np.full((2, n), 7.0)
    samples = np.empty((n, 1))
    rng.sample_rows(
        np.zeros(1, dtype=np.uint64), np.zeros(1, dtype=np.int64), False, False, n,
        np.zeros(1, dtype=np.int64), np.array([kind], dtype=np.int64),
        np.array([par], dtype=np.float64), np.zeros((1, 2), dtype=np.int64), np.zeros(1),
        np.zeros(1), np.array([sc]), np.array([1], dtype=np.int64), tht,
        np.zeros(1, dtype=np.int64), u.reshape(1, n).copy(), samples, np.zeros(1, dtype=np.int64),
    )  # fmt: skip
    assert np.all(tht[0] == 7.0)  # only the column's row is written
    assert samples[:, 0].tobytes() == (tht[1] / sc).tobytes()
    return tht[1]


def old_triangular(par: tuple[float, float, float], u: np.ndarray, sc: float) -> np.ndarray:
    out = np.empty_like(u)
    _triangular_ppf(u, par[0], par[1], par[2], out)
    return out * sc


TRIANGLES = [
    (1.0, 2.0, 5.0),
    (1.0, 1.0, 5.0),  # mode at min: fc = 0
    (1.0, 5.0, 5.0),  # mode at max: fc = 1
    (-3.0, 0.1, 7.0),
    (0.0, 1e-300, 3e-300),  # a tiny range (products underflow to subnormals)
    (1e300, 1e300, 1.0000000000000002e300),  # one ulp wide, mode at min
    (0.1, 0.1 + 2**-55, 0.1 + 2**-54),  # a few ulps wide
    (-1e-12, 0.0, 1e-12),
    (2.0, 2.0 + 1e-9, 1e15),  # a mode very near min
]


def edge_uniforms(par: tuple[float, float, float], seed: int) -> np.ndarray:
    lo, mode, hi = par
    fc = (mode - lo) / (hi - lo)
    near = fc + np.arange(-6, 7) * 2.0**-53  # the branch boundary and the ulps around it
    special = [0.0, -0.0, 1.0, np.nan, -np.nan, _EPS, 1 - _EPS, 0.5, 1e-300, 1 - 1e-16]
    draws = np.random.default_rng(seed).random(4099)
    return np.concatenate([special, near, draws])


@pytest.mark.parametrize("par", TRIANGLES)
def test_triangular_in_two_passes_is_triangular_at(par: tuple[float, float, float]) -> None:
    """Every length from 1 to 40 (the vector loops' remainders) and a long column, three
    scales, the uniforms at 0, 1, NaN (either sign), the clip edges and the ulps around the
    mode's quantile: the same bytes as ``_triangular_ppf(u) * scale``."""
    u_all = edge_uniforms(par, 5)
    for sc in (1.0, 0.37, 1e6):
        for n in [*range(1, 41), u_all.size]:
            for start in (0, 7, 19):  # the specials at different vector positions
                u = np.roll(u_all, -start)[:n].copy()
                got = transformed(rng.TRIANGULAR, par, u, sc)
                assert got.tobytes() == old_triangular(par, u, sc).tobytes(), (par, sc, n, start)


def test_the_reference_triangulars_are_triangular_at() -> None:
    """The reference scenario's triangular columns, on LHS-drawn and edge uniforms."""
    m = lower(load_scenario(ROOT / "scenarios" / "reference-2021.toml"))
    plan = m.column_plan
    tri = np.flatnonzero(plan.kind == rng.TRIANGULAR)
    assert tri.size > 10
    for j in tri.tolist():
        par = (float(plan.par[j, 0]), float(plan.par[j, 1]), float(plan.par[j, 2]))
        u = edge_uniforms(par, j)
        sc = float(m.uncertain_scale[j])
        assert transformed(rng.TRIANGULAR, par, u, sc).tobytes() == (
            old_triangular(par, u, sc).tobytes()
        )
