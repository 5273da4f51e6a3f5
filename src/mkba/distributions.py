"""Inverse CDFs of the input distributions, the one way values are drawn.

The numbers are scipy.stats's (its frozen distributions define them), but computed through
:mod:`mkba.invcdf`, which repeats scipy.stats's arithmetic on the same scipy.special ufuncs
bit for bit without importing scipy.stats (about 0.6 s of a run's start-up). scipy.stats is
imported only for what has no exact copy there: the truncated normal, and :func:`mean`.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from mkba.invcdf import Exact, special_ufuncs
from mkba.schema.quantity import (
    Beta,
    Choice,
    LogNormal,
    Normal,
    Pert,
    Quantity,
    Triangular,
    TruncNormal,
    Uniform,
)

if TYPE_CHECKING:
    from scipy import stats


def exact(dist: object) -> Exact | None:
    """The distribution as :mod:`mkba.invcdf` computes it: the same standard form, shape,
    ``loc`` and ``scale`` as :func:`frozen` gives scipy.stats (None for choice and the
    truncated normal)."""
    if isinstance(dist, Pert):
        width = dist.max - dist.min
        a = 1 + dist.lamb * (dist.mode - dist.min) / width
        b = 1 + dist.lamb * (dist.max - dist.mode) / width
        return Exact("beta", (a, b), dist.min, width)
    if isinstance(dist, Triangular):
        width = dist.max - dist.min
        return Exact("triang", ((dist.mode - dist.min) / width,), dist.min, width)
    if isinstance(dist, Uniform):
        return Exact("uniform", (), dist.min, dist.max - dist.min)
    if isinstance(dist, Normal):
        return Exact("norm", (), dist.mean, dist.sd)
    if isinstance(dist, LogNormal):
        mu, sigma = dist.mu_sigma()
        return Exact("lognorm", (sigma,), 0.0, math.exp(mu))
    if isinstance(dist, Beta):
        return Exact("beta", (dist.alpha, dist.beta), dist.min, dist.max - dist.min)
    return None


def frozen(dist: object) -> stats.rv_continuous | None:
    """The scipy frozen distribution of a continuous input distribution (None for choice).
    Imports scipy.stats: the run path uses :func:`exact` instead."""
    from scipy import stats

    if isinstance(dist, TruncNormal):
        a = (dist.min - dist.mean) / dist.sd
        b = (dist.max - dist.mean) / dist.sd
        return stats.truncnorm(a, b, loc=dist.mean, scale=dist.sd)
    if isinstance(dist, Choice):
        return None
    e = exact(dist)
    if e is None:
        raise TypeError(f"unknown distribution {dist!r}")  # pragma: no cover
    return getattr(stats, e.kind)(*e.shape, loc=e.loc, scale=e.scale)


_GRID = 2048  # intervals of the interpolation grid of slow inverse CDFs
_ZMAX = 12.0  # grid over logit(u) in [-12, 12], i.e. u in [6e-6, 1 - 6e-6]


@functools.cache
def _grid_probabilities() -> np.ndarray:
    """The probabilities of :class:`InverseCdf`'s grid, ``expit(z)`` at :data:`_GRID` + 1
    points of ``z`` evenly spread over [-:data:`_ZMAX`, :data:`_ZMAX`] (read-only)."""
    u = special_ufuncs().expit(np.linspace(-_ZMAX, _ZMAX, _GRID + 1))
    u.flags.writeable = False
    return u


@functools.lru_cache(maxsize=256)
def _standard_grid_ppf(kind: str, shape: tuple[float, ...], signs: tuple[float, ...]) -> np.ndarray:
    """The standard form's inverse CDF at :func:`_grid_probabilities` (read-only), computed
    once per kind and shape (``signs``: the shape's signs, so that -0.0 and 0.0 are two keys):
    the reference's eleven beta/PERT quantities have five shapes (Boost's beta quantile, about
    2 us a point, 2,049 points a grid)."""
    x = Exact(kind, shape).standard_ppf(_grid_probabilities())
    x.flags.writeable = False
    return x


class InverseCdf:
    """Fast inverse CDF of one quantity, for sampling many draws.

    Distributions whose inverse CDF is cheap (uniform, triangular, normal, lognormal,
    choice) are evaluated exactly. For the others (beta, PERT, truncated normal: about 2 us a
    value in scipy's Boost code) the exact inverse CDF is evaluated once on a grid that is uniform in
    ``z = logit(u)`` over [-12, 12], and interpolated with cubic Hermite polynomials through
    the exact values and exact slopes ``dx/dz = u (1 - u) / pdf(x)``. In ``z`` the inverse CDF
    is smooth even where it is steep in ``u`` (the tails of a beta behave like
    ``exp(z / alpha)``). Values outside the grid (u < 6e-6 or u > 1 - 6e-6) are evaluated
    exactly. The tests hold the interpolation error under 1e-9 of the distribution's range.
    """

    def __init__(self, q: Quantity) -> None:
        self.q = q
        self._exact_dist = exact(q.dist)
        self._grid: tuple[np.ndarray, np.ndarray] | None = None
        if isinstance(q.dist, Beta | TruncNormal | Pert):
            self._build()
        # the lognormal's (mu, sigma), computed once (a normal quantile each time otherwise)
        self._mu_sigma = q.dist.mu_sigma() if isinstance(q.dist, LogNormal) else None

    @property
    def median(self) -> float:
        """The exact median (the base value of an uncertain quantity)."""
        return float(self._exact(np.array([0.5]))[0])

    def _exact(self, u: np.ndarray) -> np.ndarray:
        if self._exact_dist is not None:
            return self._exact_dist.ppf(u)
        return _ppf_exact(self.q, u)

    def _build(self) -> None:
        u = _grid_probabilities()
        e = self._exact_dist
        if e is not None:
            signs = tuple(math.copysign(1.0, v) for v in e.shape)  # (-0.0 == 0.0 as a key)
            x = e.ppf(u, _standard_grid_ppf(e.kind, e.shape, signs))
            pdf = e.pdf
        else:  # the truncated normal: scipy.stats itself
            fd = frozen(self.q.dist)
            assert fd is not None
            x = np.asarray(fd.ppf(u), float)
            pdf = fd.pdf
        with np.errstate(divide="ignore"):
            slope = u * (1.0 - u) / np.asarray(pdf(x), float)
        if not np.all(np.isfinite(slope)) or not np.all(np.isfinite(x)):
            return  # degenerate shape: fall back to exact evaluation
        self._grid = (x, slope)

    def compiled(
        self,
    ) -> tuple[int, tuple[float, float, float], tuple[np.ndarray, np.ndarray] | None]:
        """How :func:`mkba.rng.sample_rows` evaluates this inverse CDF: its column kind,
        parameters and grid, the same branches and numbers as :meth:`__call__` (kind
        ``KEEP``: the caller calls this object on the clipped uniforms; ``LOGNORMAL``: the
        caller takes the exponential)."""
        from mkba import rng

        d = self.q.dist
        if isinstance(d, Uniform) and not isinstance(d, Triangular):
            return rng.UNIFORM, (d.min, d.max - d.min, 0.0), None
        if type(d) is Triangular:
            return rng.TRIANGULAR, (d.min, d.mode, d.max), None
        if isinstance(d, LogNormal):
            assert self._mu_sigma is not None
            return rng.LOGNORMAL, (*self._mu_sigma, 0.0), None
        if type(d) is Normal:
            return rng.NORMAL, (d.mean, d.sd, 0.0), None
        if self._grid is None:
            return rng.KEEP, (0.0, 0.0, 0.0), None
        return rng.HERMITE, (_ZMAX, 0.0, 0.0), self._grid

    def exact_ppf(self, u: np.ndarray) -> np.ndarray:
        """The exact inverse CDF (what :meth:`__call__` falls back to outside its grid)."""
        return self._exact(np.asarray(u, dtype=float))

    def __call__(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=float)
        d = self.q.dist
        if isinstance(d, Uniform) and not isinstance(d, Triangular):
            return d.min + (d.max - d.min) * u
        if type(d) is Triangular:
            out = np.empty_like(u)
            _triangular_ppf(u, d.min, d.mode, d.max, out)
            return out
        if isinstance(d, LogNormal):
            assert self._mu_sigma is not None
            mu, sigma = self._mu_sigma
            return np.exp(mu + sigma * _ndtri(u))
        if type(d) is Normal:
            return d.mean + d.sd * _ndtri(u)
        if self._grid is None:
            return self._exact(u)
        x, slope = self._grid
        out = np.empty_like(u)
        outside = _hermite_ppf(u, x, slope, _ZMAX, out)
        if outside:
            mask = np.isnan(out)
            out[mask] = self._exact(u[mask])
        return out


def _ndtri(u: np.ndarray) -> np.ndarray:
    return np.asarray(special_ufuncs().ndtri(u))


@njit(cache=True, nogil=True)
def triangular_at(ui, lo, mode, hi, width, fc):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """Closed-form inverse CDF of the triangular distribution at ``ui`` (``width = hi - lo``,
    ``fc = (mode - lo) / width``): the one formula, used by :func:`_triangular_ppf` and, in its
    two steps (:func:`triangular_radicand`, then :func:`triangular_from_root`, a pass over a
    column each), by the compiled sampler (:func:`mkba.rng.sample_rows`). One square root, of
    the branch ``ui`` takes."""
    return triangular_from_root(
        ui, math.sqrt(triangular_radicand(ui, lo, mode, hi, width, fc)), lo, hi, fc
    )


@njit(cache=True, nogil=True, inline="always")
def triangular_radicand(ui, lo, mode, hi, width, fc):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """:func:`triangular_at`'s square root argument: of the left branch below ``fc``, else
    of the right."""
    return ui * width * (mode - lo) if ui < fc else (1.0 - ui) * width * (hi - mode)


@njit(cache=True, nogil=True, inline="always")
def triangular_from_root(ui, root, lo, hi, fc):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """:func:`triangular_at` from the square root ``root`` of its argument."""
    return lo + root if ui < fc else hi - root


@njit(cache=True, nogil=True)
def _triangular_ppf(u, lo, mode, hi, out):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """Closed-form inverse CDF of the triangular distribution."""
    width = hi - lo
    fc = (mode - lo) / width
    for i in range(u.shape[0]):
        out[i] = triangular_at(u[i], lo, mode, hi, width, fc)


@njit(cache=True, nogil=True)
def hermite_at(ui, x, slope, g0, n_int, h, zmax):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """Cubic Hermite interpolation at ``ui`` of an inverse CDF tabulated on a grid uniform in
    logit(u): ``n_int`` intervals of width ``h`` over [-zmax, zmax], values and slopes at
    ``x[g0:]``, ``slope[g0:]``. NaN outside the grid (also for a NaN ``ui``: it never indexes
    the grid), to be evaluated exactly. The one formula, used by :func:`_hermite_ppf` and by
    the compiled sampler (:func:`mkba.rng.sample_rows`, which takes the logits of a whole
    column first and then calls :func:`hermite_at_logit`)."""
    return hermite_at_logit(math.log(ui / (1.0 - ui)), x, slope, g0, n_int, h, zmax)


@njit(cache=True, nogil=True, inline="always")
def hermite_at_logit(zl, x, slope, g0, n_int, h, zmax):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """:func:`hermite_at` given ``zl = log(ui / (1 - ui))``. In three steps, which the compiled
    sampler (:func:`mkba.rng.sample_rows`) takes a pass over a column each: the grid position
    (:func:`hermite_position`), the table look-ups, the cubic (:func:`hermite_cubic`)."""
    pos = hermite_position(zl, n_int, h, zmax)
    if pos < 0.0:
        return np.nan
    k = int(pos)
    return hermite_cubic(pos - k, h, x[g0 + k], slope[g0 + k], x[g0 + k + 1], slope[g0 + k + 1])


@njit(cache=True, nogil=True, inline="always")
def hermite_position(zl, n_int, h, zmax):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """The grid position of the logit ``zl`` (its interval is the integer part), or -1.0
    outside the grid or for NaN."""
    pos = (zl + zmax) / h
    return pos if pos >= 0.0 and pos < n_int else -1.0


@njit(cache=True, nogil=True, inline="always")
def hermite_cubic(t, h, x0, s0, x1, s1):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """The cubic Hermite interpolation at ``t`` in [0, 1) of an interval of width ``h`` with
    values ``x0``, ``x1`` and slopes ``s0``, ``s1`` at its ends."""
    t2 = t * t
    t3 = t2 * t
    return (
        (2.0 * t3 - 3.0 * t2 + 1.0) * x0
        + (t3 - 2.0 * t2 + t) * h * s0
        + (-2.0 * t3 + 3.0 * t2) * x1
        + (t3 - t2) * h * s1
    )


@njit(cache=True, nogil=True)
def _hermite_ppf(u, x, slope, zmax, out):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """Cubic Hermite interpolation of a tabulated inverse CDF on a grid uniform in logit(u).
    Values outside the grid are set to NaN (to be evaluated exactly); returns their count."""
    n_int = x.shape[0] - 1
    h = 2.0 * zmax / n_int
    outside = 0
    for i in range(u.shape[0]):
        v = hermite_at(u[i], x, slope, 0, n_int, h, zmax)
        out[i] = v
        if math.isnan(v):
            outside += 1
    return outside


def ppf(q: Quantity, u: np.ndarray) -> np.ndarray:
    """Map uniform numbers ``u`` in (0, 1) to values of quantity ``q`` (exact inverse CDF)."""
    return _ppf_exact(q, u)


def _ppf_exact(q: Quantity, u: np.ndarray) -> np.ndarray:
    u = np.asarray(u, dtype=float)
    if q.dist is None:
        assert q.value is not None
        return np.full(u.shape, q.value)
    if isinstance(q.dist, Choice):
        w = np.asarray(q.dist.weights if q.dist.weights else [1.0] * len(q.dist.values), float)
        cum = np.cumsum(w) / w.sum()
        idx = np.searchsorted(cum, u, side="right")
        return np.asarray(q.dist.values, float)[np.minimum(idx, len(cum) - 1)]
    e = exact(q.dist)
    if e is not None:
        return e.ppf(u)
    fd = frozen(q.dist)
    assert fd is not None
    return np.asarray(fd.ppf(u), dtype=float)


def quantile(q: Quantity, p: float) -> float:
    """The ``p`` quantile of a quantity (its value when fixed)."""
    return float(ppf(q, np.array([p]))[0])


def central(q: Quantity) -> float:
    """The base value used for deterministic evaluation: the value, or the median."""
    return q.value if q.value is not None else quantile(q, 0.5)


def mean(q: Quantity) -> float:
    """The expected value of a quantity."""
    if q.value is not None:
        return q.value
    if isinstance(q.dist, Choice):
        w = np.asarray(q.dist.weights or [1.0] * len(q.dist.values), float)
        return float(np.dot(w / w.sum(), q.dist.values))
    fd = frozen(q.dist)
    assert fd is not None
    return float(fd.mean())
