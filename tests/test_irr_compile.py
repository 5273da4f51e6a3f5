"""The compiled IRR (``irr._scan_bisect`` / ``_bisect_step``) after it was made smaller to
compile (loops instead of array expressions and slices; issue 17, target 9): still the NumPy
scan and bisection's numbers exactly, for every remainder of Horner's four-years-a-pass loop
and across several tiles of rows."""

from __future__ import annotations

import numpy as np
import pytest

from mkba.decide import irr as irr_mod


@pytest.fixture(autouse=True)
def _compiled_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled IRR even while a compile child compiles it (a cold test session: this
    process's child, :mod:`mkba.warmup`), which would otherwise send :func:`irr_mod.irr` to
    the NumPy twin and compare the twin with itself."""
    monkeypatch.setattr(irr_mod, "_compiling_elsewhere", lambda: False)


def _numpy_irr(flow: np.ndarray, offsets: np.ndarray, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """The reference: the NumPy scan and bisection (``_scan_bisect_numpy``), block by block."""
    want_irr = np.full(flow.shape[0], np.nan)
    want_roots = np.zeros(flow.shape[0], dtype=np.int64)
    for lo in range(0, flow.shape[0], chunk):
        f = flow[lo : lo + chunk]
        v = irr_mod.npv_at(f, offsets, irr_mod.GRID)
        irr_mod._scan_bisect_numpy(f, offsets, v, lo, chunk, want_irr, want_roots)
    return want_irr, want_roots


@pytest.mark.parametrize("years", [2, 3, 4, 5, 6, 7, 8, 31])
def test_compiled_irr_equals_numpy_for_every_horner_remainder(years: int) -> None:
    rng = np.random.default_rng(years)
    n = 2 * irr_mod._TILE + 37  # three tiles, the last one partial
    f = np.cumsum(rng.standard_normal((n, years)), axis=1)
    f[:, :1] -= 3.0  # an investment first: mostly one root
    f[: n // 5] = rng.standard_normal((n // 5, years))  # noise: several roots, slow brackets
    f[n // 5] = 0.0  # no flow at all: an exact zero on every grid point
    offsets = np.arange(float(years))
    got = irr_mod.irr(f, offsets, chunk=4096)
    want_irr, want_roots = _numpy_irr(f, offsets, 4096)
    assert np.array_equal(got.roots, want_roots)
    assert np.array_equal(got.irr, want_irr, equal_nan=True)
    assert np.array_equal(np.signbit(got.irr), np.signbit(want_irr))
    assert (got.roots == 1).any()


def test_compiled_irr_of_one_row_equals_numpy() -> None:
    f = np.array([[-100.0, 30.0, 30.0, 30.0, 30.0, 30.0]])  # n = 1, one root near 15.2 %
    offsets = np.arange(6.0)
    got = irr_mod.irr(f, offsets, chunk=1)
    want_irr, want_roots = _numpy_irr(f, offsets, 1)
    assert np.array_equal(got.irr, want_irr) and np.array_equal(got.roots, want_roots)
    # by hand: 30 * (1 - 1.15238^-5) / 0.15238 = 100.0 (annuity factor 3.3333)
    r = got.irr[0]
    assert abs(30.0 * (1.0 - (1.0 + r) ** -5) / r - 100.0) < 1e-9
