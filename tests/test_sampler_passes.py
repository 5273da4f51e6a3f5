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
from pydantic import TypeAdapter

from mkba import rng
from mkba.distributions import _ZMAX, InverseCdf, _hermite_ppf, _triangular_ppf
from mkba.glibcmath import exp_port_ok, log_port_ok
from mkba.load import load_scenario
from mkba.model import lower
from mkba.sampling import _EPS
from mkba.schema.quantity import Distribution, Quantity

ROOT = Path(__file__).parents[1]
PORTS = (False, True) if log_port_ok() else (False,)  # mkba.glibcmath's port where it may run


def transformed(
    kind: int,
    par: tuple[float, float, float],
    u: np.ndarray,
    sc: float,
    grid: tuple[np.ndarray, np.ndarray] | None = None,
    port: bool | None = None,
) -> tuple[np.ndarray, int]:
    """One column of kind ``kind`` through sample_rows on the given uniforms ``u``: its row
    of theta_t and its count of values outside the Hermite grid. ``port``: the logarithms
    (and a lognormal's exp) by mkba.glibcmath's vectorised ports of libm's ``log`` and
    ``exp`` or by ``math.log`` (and the caller's NumPy); by default both (where this machine
    allows the ports), which must give the same bytes."""
    if port is None:
        runs = [transformed(kind, par, u, sc, grid, p) for p in PORTS]
        for row, out in runs[1:]:
            assert row.tobytes() == runs[0][0].tobytes() and out == runs[0][1]
        return runs[0]
    n = u.size
    tht = np.full((2, n), 7.0)
    samples = np.empty((n, 1))
    outside = np.full(1, -1, dtype=np.int64)
    gidx = np.zeros((1, 2), dtype=np.int64)
    gx = gs = np.zeros(1)
    if grid is not None:  # after a dummy grid, so that the column's offset is not 0
        gidx[0] = (3, grid[0].size)
        gx = np.concatenate([[9.0, 9.0, 9.0], grid[0]])
        gs = np.concatenate([[9.0, 9.0, 9.0], grid[1]])
    rng.sample_rows(
        np.zeros((1, 1), dtype=np.uint64), np.zeros(1, dtype=np.int64), False, False, n,
        np.zeros(1, dtype=np.int64), np.array([kind], dtype=np.int64),
        np.array([par], dtype=np.float64), gidx, gx, gs, np.array([sc]),
        np.array([1], dtype=np.int64), tht[None], np.zeros(1, dtype=np.int64),
        u.reshape(1, 1, n).copy(), samples.T, np.zeros(1, dtype=np.int64), outside[None],
        port, port and exp_port_ok(),
    )  # fmt: skip
    assert np.all(tht[0] == 7.0)  # only the column's row is written
    assert samples[:, 0].tobytes() == (tht[1] / sc).tobytes()
    return tht[1], int(outside[0])


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
                got, _ = transformed(rng.TRIANGULAR, par, u, sc)
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
        assert transformed(rng.TRIANGULAR, par, u, sc)[0].tobytes() == (
            old_triangular(par, u, sc).tobytes()
        )


def old_hermite(
    grid: tuple[np.ndarray, np.ndarray], u: np.ndarray, sc: float
) -> tuple[np.ndarray, int]:
    out = np.empty_like(u)
    outside = _hermite_ppf(u, grid[0], grid[1], _ZMAX, out)
    return out * sc, int(outside)


def hermite_uniforms(seed: int) -> np.ndarray:
    """Draws, and the uniforms whose logits are the grid's ends and the values around them
    (inside, on and outside the grid), 0, NaN, the clip edges (not 1: the logit's
    u / (1 - u) raises ZeroDivisionError in both the old and the new code)."""
    edge = 1.0 / (1.0 + np.exp(_ZMAX))
    ends = np.concatenate(
        [edge * (1.0 + np.arange(-8, 9) * 2.0**-50), 1 - edge * (1.0 + np.arange(-8, 9) * 2.0**-50)]
    )
    special = [0.0, -0.0, np.nan, -np.nan, _EPS, 1 - _EPS, 0.5, 1e-7, 1 - 1e-7, 1e-300]
    draws = np.random.default_rng(seed).random(5000)
    draws[::7] = draws[::7] ** 8  # more values in the low tail and beyond the grid
    return np.concatenate([special, ends, draws, np.minimum(1.0 - draws[:300] ** 9, 1 - _EPS)])


def _q(dist: dict) -> Quantity:  # type: ignore[type-arg]
    d = TypeAdapter(Distribution).validate_python(dist)
    return Quantity.model_construct(unit="ratio", dist=d, assumption="test distribution")


HERMITES = [
    {"type": "pert", "min": 0.02, "mode": 0.06, "max": 0.12},
    {"type": "pert", "min": 0.0, "mode": 0.0, "max": 1.0},  # mode at min
    {"type": "beta", "alpha": 0.7, "beta": 3.0, "min": 1, "max": 2},
    {"type": "beta", "alpha": 30.0, "beta": 0.4, "min": -5, "max": 1e-9},
    {"type": "truncnormal", "mean": 1, "sd": 2, "min": 0, "max": 3},
    {"type": "truncnormal", "mean": 0, "sd": 1e-6, "min": -1e-6, "max": 5e-6},  # a tiny range
]


@pytest.mark.parametrize("dist", HERMITES)
def test_hermite_in_passes_is_hermite_at(dist: dict) -> None:  # type: ignore[type-arg]
    """The Hermite interpolation in blocks and passes: the same bytes as ``_hermite_ppf(u) *
    scale`` (hermite_at value by value) and the same count outside the grid, for every
    length from 1 to 40, lengths around the block size, and a long column."""
    inv = InverseCdf(_q(dist))
    kind, par, grid = inv.compiled()
    assert kind == rng.HERMITE and grid is not None
    u_all = hermite_uniforms(3)
    for sc in (1.0, 0.37):
        for n in [*range(1, 41), 255, 256, 257, 511, 513, u_all.size]:
            for start in (0, 5, 30):
                u = np.roll(u_all, -start)[:n].copy()
                got, out = transformed(rng.HERMITE, par, u, sc, grid)
                want, want_out = old_hermite(grid, u, sc)
                assert got.tobytes() == want.tobytes(), (dist, sc, n, start)
                assert out == want_out


def test_the_reference_hermites_are_hermite_at() -> None:
    """The reference scenario's Hermite columns, on drawn and edge uniforms."""
    m = lower(load_scenario(ROOT / "scenarios" / "reference-2021.toml"))
    her = [j for j, inv in enumerate(m.inverse_cdfs) if inv.compiled()[0] == rng.HERMITE]
    assert len(her) >= 5
    for j in her:
        _, par, grid = m.inverse_cdfs[j].compiled()
        assert grid is not None
        u = hermite_uniforms(j)
        sc = float(m.uncertain_scale[j])
        got, out = transformed(rng.HERMITE, par, u, sc, grid)
        want, want_out = old_hermite(grid, u, sc)
        assert got.tobytes() == want.tobytes()
        assert out == want_out > 0


def test_a_nan_inside_the_grid_is_counted_as_before() -> None:
    """A NaN from the table's arithmetic inside the grid (here inf - inf: slopes near the
    largest double) counts as outside, as hermite_at's ``isnan`` did, so that the caller
    evaluates it exactly; the values beside it are unchanged."""
    x = np.array([0.0, 0.0, 1.0])
    slope = np.array([1.7e308, 1.7e308, 0.0])
    grid = (x, slope)  # two intervals over logits [-12, 0] and [0, 12]
    mid = 1.0 / (1.0 + np.exp(6.0))  # logit -6: the middle of the first interval
    u = np.array([mid, 0.3, 0.6, 1e-7, 0.9999, 0.75])
    got, out = transformed(rng.HERMITE, (_ZMAX, 0.0, 0.0), u, 1.5, grid)
    with np.errstate(over="ignore"):  # (scaling the near-largest doubles overflows: intended)
        want, want_out = old_hermite(grid, u, 1.5)
    assert np.isnan(want[0]) and want_out >= 2  # the NaN inside and the tail outside
    assert got.tobytes() == want.tobytes()
    assert out == want_out
