"""The IRR after issue 17's i19-irr (brackets proven from a few polynomial values instead of the
grid NPVs, the bisection's signs known ahead where they are proven): bit for bit the IRR of
main 0a9a722, whose verbatim copy is ``tests/irr_i18_oracle.py``, on the reference scenario's
draws and on edge cases; and the fast paths are the ones taken."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import irr_i18_oracle as oracle
from mkba import engine
from mkba.decide import irr as irr_mod
from mkba.load import load_scenario
from mkba.model import lower

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"


def _assert_same(flow: np.ndarray, offsets: np.ndarray, chunk: int = 4096) -> irr_mod.IrrResult:
    got = irr_mod.irr(flow, offsets, chunk=chunk)
    want = oracle.irr(flow, offsets, chunk=chunk)
    assert np.array_equal(got.roots, want.roots)
    assert np.array_equal(got.irr, want.irr, equal_nan=True)
    assert np.array_equal(np.signbit(got.irr), np.signbit(want.irr))
    return got


@pytest.fixture(scope="module")
def reference_flows() -> tuple[np.ndarray, np.ndarray]:
    m = lower(load_scenario(REFERENCE))
    run = engine.simulate(m, draws=200_000, keep_samples=False)
    offsets = m.years.astype(float) - float(m.spec.scenario.base_year)
    return np.ascontiguousarray(run.outcomes.flow), offsets


def test_reference_draws_bit_for_bit(reference_flows: tuple[np.ndarray, np.ndarray]) -> None:
    flow, offsets = reference_flows
    got = _assert_same(flow, offsets)
    assert (got.roots == 1).mean() > 0.99  # the reference: one IRR per draw


def test_reference_blocks_take_the_proven_path(
    reference_flows: tuple[np.ndarray, np.ndarray],
) -> None:
    """Nearly every block of the reference is done without the grid NPVs (the speed-up); a
    block that is not falls back to them (still the same numbers, tested above)."""
    flow, offsets = reference_flows
    assert irr_mod._certifiable(offsets) and irr_mod._consecutive(offsets)
    proven = 0
    blocks = range(0, flow.shape[0], 4096)
    for lo in blocks:
        f = np.ascontiguousarray(flow[lo : lo + 4096])
        out = np.full(f.shape[0], np.nan)
        roots = np.zeros(f.shape[0], dtype=np.int64)
        proven += irr_mod._scan_bisect(irr_mod._NO_GRID_NPV, f, irr_mod.GRID, out, roots)
    assert proven >= 0.95 * len(blocks)


def test_reference_draws_in_odd_blocks(reference_flows: tuple[np.ndarray, np.ndarray]) -> None:
    """n not a multiple of the block, small blocks, a block of one row, n = 1."""
    flow, offsets = reference_flows
    _assert_same(flow[: 4096 + 517], offsets)
    _assert_same(flow[:1000], offsets, chunk=333)
    _assert_same(flow[:7], offsets, chunk=1)
    _assert_same(flow[:1], offsets)


def _mixed(rng: np.random.Generator, n: int, years: int) -> np.ndarray:
    """Costs first, then benefits (one sign change), plus rows with special cases."""
    f = np.cumsum(rng.standard_normal((n, years)), axis=1)
    f[:, : max(1, years // 5)] -= 4.0
    return f


def _one_change(rng: np.random.Generator, n: int, years: int) -> np.ndarray:
    """Costs in the first k years, benefits after (a third of the rows the other way round),
    some rows with nothing in the first year: one sign change each."""
    k = rng.integers(1, years, size=n)
    t = np.arange(years)[None, :]
    f = np.where(t < k[:, None], -1.0, 1.0) * rng.lognormal(0.0, 1.0, (n, years))
    f[n // 3 : n // 2] *= -1.0
    f[: n // 7, 0] = 0.0
    return f


@pytest.mark.parametrize("years", [2, 3, 5, 8, 30, 31])
def test_one_sign_change_rows_and_every_horner_remainder(years: int) -> None:
    """Costs in the first k years, benefits after (or the other way round): one sign change
    each, so every block takes the proven path; three tiles of rows, the last partial."""
    n = 3 * 512 + 37
    f = _one_change(np.random.default_rng(years), n, years)
    got = _assert_same(f, np.arange(float(years)))
    out = np.full(n, np.nan)
    roots = np.zeros(n, dtype=np.int64)
    assert irr_mod._scan_bisect(irr_mod._NO_GRID_NPV, f, irr_mod.GRID, out, roots)
    assert (got.roots == 1).any()


def test_edge_rows_in_one_block() -> None:
    """Rows that the proven path cannot take make their block fall back to the grid NPVs:
    several roots, no flow at all, NaN, a flow out of range; and rows it takes: no sign
    change (no IRR), a root far outside the grid."""
    rng = np.random.default_rng(7)
    f = _one_change(rng, 900, 30)
    plain = f.copy()
    _assert_same(plain, np.arange(30.0))
    cases = {
        "several roots": rng.standard_normal(30),
        "all zero": np.zeros(30),
        "nan": np.where(np.arange(30) == 4, np.nan, f[0]),
        "inf": np.where(np.arange(30) == 9, np.inf, f[0]),
        "tiny flow": np.where(np.arange(30) == 29, 1e-40, f[0]),
        "huge flow": f[0] * 1e32,
        "no sign change": np.abs(f[0]),
        "negative throughout": -np.abs(f[0]),
        "root far above the grid": np.r_[-1.0, 1e4, np.zeros(28)],
    }
    for name, row in cases.items():
        g = plain.copy()
        g[450] = row
        got = _assert_same(g, np.arange(30.0))
        if name in ("all zero", "nan", "no sign change", "negative throughout"):
            assert got.roots[450] == 0 and np.isnan(got.irr[450]), name
    # the proven path alone on the rows it takes
    for name in ("no sign change", "root far above the grid"):
        g = plain.copy()
        g[450] = cases[name]
        out = np.full(900, np.nan)
        roots = np.zeros(900, dtype=np.int64)
        assert irr_mod._scan_bisect(irr_mod._NO_GRID_NPV, g, irr_mod.GRID, out, roots), name
    for name in ("several roots", "all zero", "nan", "inf", "tiny flow", "huge flow"):
        g = plain.copy()
        g[450] = cases[name]
        out = np.full(900, np.nan)
        roots = np.zeros(900, dtype=np.int64)
        assert not irr_mod._scan_bisect(irr_mod._NO_GRID_NPV, g, irr_mod.GRID, out, roots), name
        assert np.isnan(out).all() and not roots.any()  # untouched: the caller falls back
    # a failed proof in a later tile of the block also leaves out/roots untouched
    g = np.vstack([plain, plain])
    g[1700] = cases["root far above the grid"]
    g[1750, :2] = [-((1.0 + irr_mod.GRID[200]) ** -1.0), 1.0]  # a grid NPV exactly 0
    g[1750, 2:] = 0.0
    out = np.full(1800, np.nan)
    roots = np.zeros(1800, dtype=np.int64)
    assert not irr_mod._scan_bisect(irr_mod._NO_GRID_NPV, g, irr_mod.GRID, out, roots)
    assert np.isnan(out).all() and not roots.any()
    _assert_same(g, np.arange(30.0))


def test_root_exactly_on_a_grid_point() -> None:
    """``-d + 1`` a year later, with ``d`` the grid's own discount factor at grid point j:
    the grid NPV there is exactly 0 (``-d * 1 + 1 * d``) in any summation order, so the
    scan's exact-zero rule applies (IRR = GRID[j]); the proven path must not decide it."""
    g = irr_mod.GRID
    offsets = np.arange(2.0)
    d = (1.0 + g) ** -1.0  # as npv_at computes the discount factors
    rows = np.array([[-d[j], 1.0] for j in (0, 37, 100, 250, 398, 399)])
    v = irr_mod.npv_at(rows, offsets, g)
    for i, j in enumerate((0, 37, 100, 250, 398, 399)):
        assert v[i, j] == 0.0
    got = _assert_same(rows, offsets)
    assert np.array_equal(got.irr[1:4], g[[37, 100, 250]])  # the exact-zero rule
    long = np.zeros((3, 30))
    long[:, :2] = rows[1:4]
    _assert_same(np.vstack([_mixed(np.random.default_rng(1), 50, 30), long]), np.arange(30.0))


def test_offsets_not_from_zero() -> None:
    rng = np.random.default_rng(3)
    f = _mixed(rng, 700, 12)
    for start in (-5.0, 3.0, 195.0, 250.0):  # 250: beyond the proven range, grid NPVs used
        _assert_same(f, np.arange(12.0) + start)
    assert not irr_mod._certifiable(np.arange(12.0) + 250.0)
    assert irr_mod._certifiable(np.arange(12.0) - 5.0)


def test_gaps_in_the_years_use_numpy() -> None:
    rng = np.random.default_rng(4)
    f = _mixed(rng, 300, 6)
    _assert_same(f, np.array([0.0, 1.0, 2.0, 4.0, 5.0, 9.0]))


@pytest.mark.parametrize("years", [2, 7, 30, 150])
def test_roots_next_to_grid_points_and_flat_npvs(years: int) -> None:
    """The cases the proofs are about: roots within 1e-16..1e-12 (relative) of a grid point,
    where a grid NPV is within rounding of zero (the proof must fail and the block take the
    grid NPVs, or hold and agree), and costs and benefits over many decades that nearly
    cancel (flat NPVs, wide rounding bounds)."""
    rng = np.random.default_rng(100 + years)
    off = np.arange(float(years))
    n = 3000
    f = rng.lognormal(0.0, 1.0, (n, years))
    j = rng.integers(0, irr_mod.GRID.size, n)
    d = (1.0 + irr_mod.GRID[j])[:, None] ** -off[None, :]
    eps = rng.choice([0.0, 1e-16, -1e-16, 1e-15, 1e-14, -1e-13, 1e-12], n)
    f[:, 0] = -(f[:, 1:] * d[:, 1:]).sum(axis=1) * (1.0 + eps)
    _assert_same(f, off)
    _assert_same(f[eps == 1e-12], off)  # a block of the least critical rows only
    flat = rng.lognormal(20.0, 3.0, (n, years)) * np.where(off < years // 2, -1.0, 1.0)
    _assert_same(flat, off)
