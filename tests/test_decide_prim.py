"""PRIM scenario discovery (issue 15, item 3) on synthetic cases with a known box."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mkba.decide.prim import Box, paste, peel, prim


def _case(n: int = 4000, noise: float = 0.0, seed: int = 1):  # type: ignore[no-untyped-def]
    """Five uniform inputs; the draws of interest are x0 > 0.7 and x2 < 0.4 (mass 0.12)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 5))
    y = (X[:, 0] > 0.7) & (X[:, 2] < 0.4)
    if noise:
        flip = rng.uniform(size=n) < noise
        y = y ^ flip
    return X, y


def test_prim_finds_the_known_box() -> None:
    X, y = _case()
    # threshold 0.98: the widest box that is (almost) only draws of interest
    (b,) = prim(X, y, threshold=0.98)
    assert sorted(b.restricted) == [0, 2]  # only the two parameters that matter
    assert b.box.low[0] == pytest.approx(0.7, abs=0.03)
    assert b.box.high[2] == pytest.approx(0.4, abs=0.03)
    # coverage and density near 1 for a noise-free box; mass near 0.3 x 0.4 = 0.12
    assert b.coverage > 0.9
    assert b.density > 0.9
    assert b.mass == pytest.approx(0.12, abs=0.02)
    # statistics are what the box says
    inside = b.box.contains(X)
    assert b.density == pytest.approx(y[inside].mean())
    assert b.coverage == pytest.approx(y[inside].sum() / y.sum())
    assert b.mass == pytest.approx(inside.mean())
    # a lower threshold keeps more coverage at a lower (but sufficient) density
    (w,) = prim(X, y, threshold=0.8)
    assert w.density >= 0.8 and w.coverage >= b.coverage - 1e-12


def test_peeling_trajectory_trades_coverage_for_density() -> None:
    X, y = _case(noise=0.05)
    traj = peel(X, y, alpha=0.05, mass_min=0.05)
    mass = [inside.mean() for _, inside in traj]
    dens = [y[inside].mean() for _, inside in traj]
    cov = [y[inside].sum() / y.sum() for _, inside in traj]
    assert mass[0] == 1.0 and cov[0] == 1.0
    assert all(a >= b for a, b in itertools.pairwise(mass))  # boxes shrink
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(cov))
    assert dens[-1] > 0.7 > dens[0]
    assert mass[-1] >= 0.05
    # each step removes about alpha of the box
    assert mass[1] == pytest.approx(0.95, abs=0.01)
    (b,) = prim(X, y, threshold=0.8)
    assert b.trajectory["density"].iloc[b.chosen_step] >= 0.8


def test_pasting_widens_an_overpeeled_box() -> None:
    X, y = _case()
    tight = Box(np.array([0.85, 0, 0, 0, 0.0]), np.array([1.0, 1, 0.2, 1, 1.0]))
    tight.low[[1, 3, 4]] = X[:, [1, 3, 4]].min(axis=0)
    tight.high[[1, 3, 4]] = X[:, [1, 3, 4]].max(axis=0)
    box, inside = paste(X, y, tight, alpha=0.05)
    # the density stays 1 while the box grows towards the true limits 0.7 and 0.4
    assert y[inside].mean() == 1.0
    assert box.low[0] <= 0.85 and box.high[2] >= 0.2
    assert inside.sum() >= tight.contains(X).sum()


def test_covering_finds_a_second_box() -> None:
    """Two regions of interest: A = {x0 > 0.7, x1 > 0.6} (mass 0.12) and B = {x2 < 0.15,
    x0 < 0.5} (mass 0.075). PRIM takes the larger first, then B from the draws left over.
    (Two bumps at opposite ends of one parameter can trap greedy peeling: a known limit of
    PRIM, Friedman & Fisher 1999, section 9.)"""
    rng = np.random.default_rng(4)
    X = rng.uniform(size=(6000, 3))
    y = ((X[:, 0] > 0.7) & (X[:, 1] > 0.6)) | ((X[:, 2] < 0.15) & (X[:, 0] < 0.5))
    a, b = prim(X, y, threshold=0.95, boxes=3)
    assert sorted(a.restricted) == [0, 1]
    assert a.box.low[0] == pytest.approx(0.7, abs=0.03)
    assert a.box.low[1] == pytest.approx(0.6, abs=0.03)
    assert sorted(b.restricted) == [0, 2]
    assert b.box.high[0] == pytest.approx(0.5, abs=0.03)
    assert b.box.high[2] == pytest.approx(0.15, abs=0.03)
    assert a.coverage + b.coverage == pytest.approx(1.0, abs=0.02)
    assert min(a.density, b.density) > 0.95
