"""The IRR's block prologue copied a few rows at a time, year by year, and its one-sign-change
check done for every row at once along the years (issue 17, branch i25-pq): the IRR stays bit
for bit main 0a9a722's (the verbatim copy ``tests/irr_i18_oracle.py``) for blocks around the
prologue's 64 rows, with the rows that decide the check at a group's first and last row; and
the proven path is taken exactly for the blocks whose every row has at most one sign change
among its nonzero flows, all in range (checked row by row here, as the code did before)."""

from __future__ import annotations

import numpy as np
import pytest

import irr_i18_oracle as oracle
from mkba.decide import irr as irr_mod


def _one_change(rng: np.random.Generator, n: int, years: int) -> np.ndarray:
    k = rng.integers(1, years, size=n)
    t = np.arange(years)[None, :]
    return np.where(t < k[:, None], -1.0, 1.0) * rng.lognormal(0.0, 1.0, (n, years))


def _row_by_row(f: np.ndarray) -> bool:
    """The check as the code did it before, one row after the other: every row's nonzero flows
    in [1e-30, 1e30] (NaN: not) and changing sign at most once."""
    lo, hi = irr_mod._FLOW_RANGE
    for row in f:
        prev, changes, fine = 0.0, 0, f.shape[1] <= irr_mod._MAX_OFFSET + 1
        for z in row:
            if z != 0.0:
                fine = fine and lo <= abs(z) <= hi
                changes += int(prev != 0.0 and (z > 0.0) != (prev > 0.0))
                prev = z
        if not (fine and changes <= 1):
            return False
    return True


EDGE_ROWS = {
    "zeros between two changes": [-1.0, 0.0, 0.0, 2.0, 0.0, -1.0],  # 2 changes: not
    "-0.0 between costs and benefits": [-1.0, -0.0, 3.0, 0.0, 1.0, 1.0],  # 1 change
    "starts with zeros": [0.0, 0.0, -2.0, 1.0, 1.0, 1.0],
    "nan after the change": [-1.0, 2.0, np.nan, 1.0, 1.0, 1.0],
    "nan first": [np.nan, -1.0, 2.0, 1.0, 1.0, 1.0],
    "inf": [-1.0, np.inf, 1.0, 1.0, 1.0, 1.0],
    "tiny": [-1.0, 1e-31, 1.0, 1.0, 1.0, 1.0],
    "at the range's ends": [-1e-30, 1e30, 1.0, 1.0, 1.0, 1.0],
    "all zero": [0.0] * 6,
    "no change": [1.0, 2.0, 0.0, 3.0, 1.0, 1.0],
    "zeros amid the benefits": [-1.0, 1.0, 0.0, 2.0, 0.0, 1.0],  # 1 change
    "zeros amid the costs": [-1.0, 0.0, -2.0, 0.0, 3.0, 1.0],  # 1 change
}


@pytest.mark.parametrize("n", [1, 2, 63, 64, 65, 128, 130, 4096 + 3])
@pytest.mark.parametrize("name", sorted(EDGE_ROWS))
def test_edge_rows_around_the_prologue_groups(n: int, name: str) -> None:
    rng = np.random.default_rng(n)
    f = _one_change(rng, n, 6)
    for i in {0, min(n - 1, 63), min(n - 1, 64), n - 1}:  # a group's first and last rows
        g = f.copy()
        g[i] = EDGE_ROWS[name]
        out = np.full(n, np.nan)
        roots = np.zeros(n, dtype=np.int64)
        proven = irr_mod._scan_bisect(irr_mod._NO_GRID_NPV, g, irr_mod.GRID, out, roots)
        # these rows' brackets are proven, except a row of zeros (its polynomial is 0 at
        # every point, never beyond the rounding bound: the grid NPVs decide)
        assert proven == (_row_by_row(g) and name != "all zero"), (name, n, i)
        if not proven:
            assert np.isnan(out).all() and not roots.any()
        else:
            want = oracle.irr(g, np.arange(6.0), chunk=n)
            assert np.array_equal(roots, want.roots)
            assert np.array_equal(out, want.irr, equal_nan=True)
        got = irr_mod.irr(g, np.arange(6.0), chunk=4096)
        want = oracle.irr(g, np.arange(6.0), chunk=4096)
        assert np.array_equal(got.roots, want.roots), (name, n, i)
        assert np.array_equal(got.irr, want.irr, equal_nan=True), (name, n, i)
        assert np.array_equal(np.signbit(got.irr), np.signbit(want.irr))


def test_one_change_blocks_take_the_proven_path() -> None:
    # rows that pass the check row by row: the block is proven (no grid NPVs)
    f = _one_change(np.random.default_rng(1), 4096, 30)
    f[5] = np.r_[-1.0, -0.0, np.ones(28)]
    assert _row_by_row(f)
    out = np.full(4096, np.nan)
    roots = np.zeros(4096, dtype=np.int64)
    assert irr_mod._scan_bisect(irr_mod._NO_GRID_NPV, f, irr_mod.GRID, out, roots)
    want = oracle.irr(f, np.arange(30.0))
    assert np.array_equal(out, want.irr, equal_nan=True) and np.array_equal(roots, want.roots)
