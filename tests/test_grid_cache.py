"""InverseCdf's interpolation grid with the standard beta quantiles computed once per shape
(mkba.distributions._standard_grid_ppf) holds the very bytes of the grid computed as before,
each quantity on its own (``Exact.ppf`` at ``expit(linspace(-12, 12, 2049))``, scipy.stats's
arithmetic; tests/test_invcdf.py holds that equal to scipy.stats)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mkba import distributions
from mkba.distributions import _GRID, _ZMAX, InverseCdf
from mkba.invcdf import Exact, special_ufuncs
from mkba.schema.quantity import Quantity


def _old_grid(e: Exact) -> tuple[np.ndarray, np.ndarray] | None:
    """The grid as InverseCdf._build made it before the cache (verbatim arithmetic)."""
    z = np.linspace(-_ZMAX, _ZMAX, _GRID + 1)
    u = special_ufuncs().expit(z)
    x = e.ppf(u)
    with np.errstate(divide="ignore"):
        slope = u * (1.0 - u) / np.asarray(e.pdf(x), float)
    if not np.all(np.isfinite(slope)) or not np.all(np.isfinite(x)):
        return None
    return x, slope


def _quantity(dist: dict[str, object]) -> Quantity:
    return Quantity.model_validate({"unit": "-", "dist": dist, "assumption": "test distribution"})


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


PERTS = [
    # (min, mode, max): several with the same shape (the same relative mode), others not
    (0.1, 0.2, 0.35),
    (1.0, 2.0, 3.5),
    (5.0, 6.0, 7.5),
    (3000.0, 8000.0, 13400.0),
    (0.0, 0.035, 0.07),
    (0.0, 1e-12, 1.0),
    (0.01, 0.02, 0.06),
]


@pytest.mark.parametrize("lo,mode,hi", PERTS)
def test_pert_grid_equals_the_grid_computed_alone(lo: float, mode: float, hi: float) -> None:
    q = _quantity({"type": "pert", "min": lo, "mode": mode, "max": hi})
    inv = InverseCdf(q)
    e = distributions.exact(q.dist)
    assert e is not None and e.kind == "beta"
    old = _old_grid(e)
    if old is None:
        assert inv._grid is None
        return
    assert inv._grid is not None
    assert _same(inv._grid[0], old[0]) and _same(inv._grid[1], old[1])


def test_beta_grids_share_a_shape_and_keep_their_own_loc_scale() -> None:
    """Two betas of one shape (the cache's one entry) and different loc/scale: each grid is
    that distribution's own, and equals the one computed alone; the standard quantiles are
    read-only, so no caller can change them for the next."""
    first = _quantity({"type": "beta", "alpha": 2.6, "beta": 3.4, "min": 0.0, "max": 1.0})
    second = _quantity({"type": "beta", "alpha": 2.6, "beta": 3.4, "min": 10.0, "max": 30.0})
    a, b = InverseCdf(first), InverseCdf(second)
    assert a._grid is not None and b._grid is not None
    for inv, q in ((a, first), (b, second)):
        e = distributions.exact(q.dist)
        assert e is not None
        old = _old_grid(e)
        assert old is not None and inv._grid is not None
        assert _same(inv._grid[0], old[0]) and _same(inv._grid[1], old[1])
    std = distributions._standard_grid_ppf("beta", (2.6, 3.4), (1.0, 1.0))
    assert not std.flags.writeable
    assert not distributions._grid_probabilities().flags.writeable


def test_standard_ppf_is_the_core_of_ppf() -> None:
    """``standard_ppf`` is ``core(q)`` itself (not ``core(q) * 1 + 0``), and ``ppf`` with
    ``core_values`` equals ``ppf`` without, also where some q are 0, 1 or outside (there
    ``core_values`` is not used) and for invalid shapes (all NaN)."""
    u = distributions._grid_probabilities()
    for shape in ((2.6, 3.4), (0.5, 0.5), (1.0, 1.0), (40.0, 2.0)):
        e = Exact("beta", shape, 0.25, 3.0)
        std = e.standard_ppf(u)
        assert _same(std, np.asarray(special_ufuncs()._beta_ppf(u, *shape)))
        assert _same(e.ppf(u, std), e.ppf(u))
    q = np.array([0.0, 0.3, 1.0, 1.5, -0.1, math.nan])
    e = Exact("beta", (2.0, 3.0), 1.0, 2.0)
    assert _same(e.ppf(q, np.zeros(q.shape)), e.ppf(q))
    bad = Exact("beta", (-1.0, 3.0), 1.0, 2.0)
    assert np.isnan(bad.ppf(u, np.zeros(u.shape))).all()


def test_grids_of_the_shipped_scenarios_equal_the_old_ones() -> None:
    """Every beta/PERT quantity of the reference and its companion (eleven, five shapes)."""
    from mkba import api
    from mkba.checks import runnable
    from mkba.load import load_scenario, shared_parameters

    with shared_parameters():
        spec = load_scenario(api.default_scenario())
        other = load_scenario((spec.path.parent / spec.scenario.companion).resolve())
        models = [runnable(spec), runnable(other)]
    checked = 0
    for m in models:
        for inv in m.inverse_cdfs:
            e = inv._exact_dist
            if inv._grid is None or e is None:
                continue
            old = _old_grid(e)
            assert old is not None
            assert _same(inv._grid[0], old[0]) and _same(inv._grid[1], old[1])
            checked += 1
    assert checked >= 11
