"""Exact inverse CDFs and densities of the input distributions without importing scipy.stats.

Importing ``scipy.stats`` costs about 0.5-0.7 s of CPU, about a third of a whole default
``mkba run``; ``scipy.special`` alone costs about 0.2 s. Every function here computes the same
numbers as the corresponding method of a frozen ``scipy.stats`` distribution, bit for bit:

- the core functions are the very ufuncs that scipy.stats calls (``scipy.special.ndtri``,
  ``ndtr``, and the Boost beta quantile and density ``scipy.special._ufuncs._beta_ppf`` /
  ``_beta_pdf``), or the same NumPy expression (triangular, uniform, lognormal);
- the wrapping arithmetic repeats ``rv_continuous.ppf`` / ``pdf`` / ``cdf`` in the same order:
  ``ppf(q) = _ppf(q) * scale + loc`` inside (0, 1), the support's ends at 0 and 1, NaN outside;
  ``pdf(x) = _pdf((x - loc) / scale) / scale`` on the closed support, 0 outside.

tests/test_invcdf.py compares each with scipy.stats element for element (including the tails,
q = 0 and 1, and points outside the support), so a scipy upgrade that changes one is caught
there. The truncated normal (not used by any shipped scenario) has no exact copy here: its
callers fall back to scipy.stats, imported then.

scipy.special is imported on first use, so scenarios with only uniform, triangular and choice
distributions import no scipy at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


def special_ufuncs() -> Any:
    """scipy.special's compiled ufuncs (``scipy.special._ufuncs``: the objects
    ``scipy.special`` exports), without running ``scipy.special``'s ``__init__``
    (:func:`mkba.lightimport.special_ufuncs`: about 0.15 CPU-s less of a run's load)."""
    from mkba.lightimport import special_ufuncs as ufuncs

    return ufuncs()


def _special() -> Any:
    return special_ufuncs()


def _beta_ufuncs() -> tuple[Any, Any]:
    """scipy.stats.beta's own quantile and density ufuncs (``beta_gen._ppf`` / ``_pdf``)."""
    ufuncs = special_ufuncs()
    return ufuncs._beta_ppf, ufuncs._beta_pdf


def _ppf(
    core: Callable[[np.ndarray], np.ndarray],
    q: np.ndarray,
    support: tuple[float, float],
    loc: float,
    scale: float,
    valid: bool,
    core_values: np.ndarray | None = None,
) -> np.ndarray:
    """``rv_continuous.ppf`` of scalar shape parameters: NaN outside [0, 1] (and everywhere
    when the parameters are invalid), the support's ends at 0 and 1, else
    ``core(q) * scale + loc``. ``core_values``: ``core(q)`` computed before (the same
    numbers), used when every ``q`` is inside (0, 1)."""
    q = np.asarray(q, dtype=float)
    out = np.full(q.shape, np.nan)
    if not (valid and scale > 0 and loc == loc):
        return out
    inside = (q > 0) & (q < 1)
    if inside.all():  # (into ``out``: C order whatever the layout of q, as scipy.stats)
        out[...] = (core(q) if core_values is None else core_values) * scale + loc
        return out
    out[q == 0] = support[0] * scale + loc
    out[q == 1] = support[1] * scale + loc
    if inside.any():
        out[inside] = core(q[inside]) * scale + loc
    return out


def _pdf(
    core: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    support: tuple[float, float],
    loc: float,
    scale: float,
    valid: bool,
) -> np.ndarray:
    """``rv_continuous.pdf`` of scalar shape parameters: ``core((x - loc) / scale) / scale``
    on the closed support, 0 outside, NaN for NaN input or invalid parameters."""
    y = np.asarray((np.asarray(x, dtype=float) - loc) / scale, dtype=float)
    out = np.zeros(y.shape)
    if not (valid and scale > 0):
        out[:] = np.nan
        return out
    with np.errstate(invalid="ignore"):
        cond = (support[0] <= y) & (y <= support[1])
    out[np.isnan(y)] = np.nan
    if cond.any():
        out[cond] = core(y[cond]) / scale
    return out


@dataclass(frozen=True)
class Exact:
    """One continuous distribution as scipy.stats freezes it: a standard form (``kind`` and
    shape parameters) moved by ``loc`` and stretched by ``scale``."""

    kind: str  # "beta", "triang", "uniform", "norm", "lognorm"
    shape: tuple[float, ...]
    loc: float = 0.0
    scale: float = 1.0

    def _valid(self) -> bool:
        if self.kind == "beta":
            a, b = self.shape
            return bool(a > 0 and b > 0)
        if self.kind == "triang":
            (c,) = self.shape
            return bool(0 <= c <= 1)
        if self.kind == "lognorm":
            (s,) = self.shape
            return bool(s > 0)
        return True

    def _support(self) -> tuple[float, float]:
        if self.kind == "norm":
            return -math.inf, math.inf
        if self.kind == "lognorm":
            return 0.0, math.inf
        return 0.0, 1.0

    def ppf(self, q: np.ndarray, core_values: np.ndarray | None = None) -> np.ndarray:
        """The inverse CDF at ``q`` (``scipy.stats.<kind>(*shape, loc, scale).ppf(q)``).
        ``core_values``: :meth:`standard_ppf` at the same ``q``, computed before (e.g. for
        another distribution of the same kind and shape; the same numbers): not computed
        again when every ``q`` is inside (0, 1)."""
        return _ppf(
            self._core(), q, self._support(), self.loc, self.scale, self._valid(), core_values
        )

    def _core(self) -> Callable[[np.ndarray], np.ndarray]:
        """The standard form's inverse CDF (``rv_continuous._ppf``)."""
        core: Callable[[np.ndarray], np.ndarray]
        if self.kind == "beta":
            beta_ppf, _ = _beta_ufuncs()
            a, b = self.shape

            def core(p: np.ndarray) -> np.ndarray:
                return np.asarray(beta_ppf(p, a, b))

        elif self.kind == "triang":
            (c,) = self.shape

            def core(p: np.ndarray) -> np.ndarray:
                return np.where(p < c, np.sqrt(c * p), 1 - np.sqrt((1 - c) * (1 - p)))

        elif self.kind == "uniform":

            def core(p: np.ndarray) -> np.ndarray:
                return p

        elif self.kind == "norm":
            core = _special().ndtri
        elif self.kind == "lognorm":
            (s,) = self.shape
            ndtri = _special().ndtri

            def core(p: np.ndarray) -> np.ndarray:
                return np.asarray(np.exp(s * ndtri(p)))

        else:  # pragma: no cover - constructed only by exact() below
            raise ValueError(self.kind)
        return core

    def standard_ppf(self, q: np.ndarray) -> np.ndarray:
        """The standard form's inverse CDF at ``q`` inside (0, 1): the values :meth:`ppf` then
        moves and stretches (``core(q)``), for its ``core_values``."""
        return np.array(self._core()(np.asarray(q, dtype=float)), dtype=float)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """The density at ``x`` (``scipy.stats.beta(a, b, loc, scale).pdf(x)``); beta only,
        the one distribution whose inverse CDF is tabulated (:class:`mkba.distributions.
        InverseCdf`)."""
        if self.kind != "beta":
            raise ValueError(f"only the beta density is computed here, not {self.kind!r}")
        _, beta_pdf = _beta_ufuncs()
        a, b = self.shape

        def core(y: np.ndarray) -> np.ndarray:
            with np.errstate(over="ignore"):
                return np.asarray(beta_pdf(y, a, b))

        return _pdf(core, x, self._support(), self.loc, self.scale, self._valid())


def norm_ppf(q: np.ndarray) -> np.ndarray:
    """``scipy.stats.norm.ppf(q)``: the standard normal quantile."""
    return Exact("norm", ()).ppf(q)


def norm_cdf(x: np.ndarray) -> np.ndarray:
    """``scipy.stats.norm.cdf(x)``: ``ndtr(x)`` for finite x, 0 at -inf, 1 at +inf, NaN for
    NaN (the same as ``rv_continuous.cdf`` with loc 0 and scale 1)."""
    x = np.asarray(x, dtype=float)
    out = np.zeros(x.shape)
    finite = np.isfinite(x)
    out[np.isnan(x)] = np.nan
    out[x == math.inf] = 1.0
    if finite.all():  # (into ``out``: C order whatever the layout of x, as scipy.stats)
        out[...] = _special().ndtr(x)
        return out
    out[finite] = _special().ndtr(x[finite])
    return out


def norm_quantile(p: float) -> float:
    """``float(scipy.stats.norm.ppf(p))`` of one probability."""
    return float(norm_ppf(np.array([p]))[0])
