"""What a result implies in physical units: people off bijstand, crimes avoided, per year.

A calibration that reproduces a published headline with three free factors always fits; the
question is whether the effects it needs are believable. This module turns a run's draws back
into the volume changes of the model (docs/model.md §2) and compares them with the
evidence, computes the prior probability of the headline and switching values in physical
units. Nothing here changes the kernel: the volume change of each stream is recomputed from
the lowered arrays with the equations of :mod:`mkba.reference` (held equal to it by
``tests/test_honest_reference.py``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

from mkba import reference, results
from mkba.engine import Run, _same_bytes
from mkba.model import DOMAIN_SLOTS, GLOBAL_SLOTS, STREAM_SLOTS, Model
from mkba.quantiles import quantiles_of
from mkba.runinfo import portable_path
from mkba.schema.scenario import PERSPECTIVES

# The streams whose volume change is reported, with the words for it.
PHYSICAL = {
    "benefit_savings": ("people off bijstand", "mensen uit de bijstand"),
    "safety": ("registered crimes avoided", "geregistreerde misdrijven voorkomen"),
    "care_youth": ("youth-care clients avoided", "jeugdzorgcliënten minder"),
    "care_wmo": ("Wmo clients avoided", "Wmo-cliënten minder"),
    "care_mental": ("ggz patients avoided", "ggz-patiënten minder"),
    "education": (
        "extra young adults with a startkwalificatie",
        "extra jongeren met startkwalificatie",
    ),
}


def theta_of_run(run: Run) -> np.ndarray:
    """The per-draw parameter matrix (draws x slots) of a run, rebuilt from its kept samples."""
    return theta_rows(run, 0, run.draws)


def theta_rows(run: Run, lo: int, hi: int) -> np.ndarray:
    """Rows ``lo:hi`` of :func:`theta_of_run` (the same numbers), without the whole matrix."""
    src = run.samples if run.samples is not None else run.spilled
    if src is None:
        raise ValueError("the run did not keep its samples (keep_samples=False)")
    return theta_of_samples(run.model, src[lo:hi])


def theta_of_samples(m: Model, samples: np.ndarray) -> np.ndarray:
    """The parameter rows (draws x slots) of sampled values (draws x uncertain parameters)."""
    th = np.empty((samples.shape[0], m.theta_fixed.size))
    th[:] = m.theta_fixed[None, :]
    th[:, m.uncertain_slot] = samples * m.uncertain_scale[None, :]
    return th


def volume_changes(m: Model, theta: np.ndarray, t: np.ndarray | None = None) -> np.ndarray:
    """Volume change dV[n, s, t] (units of each stream's volume, e.g. persons, crimes per
    year), summed over areas: ``V0 * rate * factor * e * (1 - dw) * (1 - disp) * R * G *
    profile(t) * trend(t)``, the same expression as :func:`mkba.reference.simulate_chunk`.
    ``t`` (indices into the model's years; default all) computes those years only, with the
    same numbers as the columns ``t`` of the whole result."""
    theta = np.atleast_2d(theta)
    sl = m.slots
    S, D = sl.S, sl.D
    st = {name: theta[:, sl.stream(name) : sl.stream(name) + S] for name in STREAM_SLOTS}
    dm = {name: theta[:, sl.domain(name) : sl.domain(name) + D] for name in DOMAIN_SLOTS}
    del dm  # costs do not enter volumes
    gl = {name: theta[:, sl.glob(name)] for name in GLOBAL_SLOTS}
    yr = m.years if t is None else m.years[t]
    years = yr.astype(float)
    profile = reference.effect_profile(m, st, yr)  # (n, A, S, T)
    trend = (1.0 + st["trend"])[:, :, None] ** (years[None, None, :] - m.data_year[None, :, None])
    # the response R depends on the area only through its budget ratios: computed once per
    # distinct row of ratios (often one for all areas), element for element the same
    rows, row_of_area = np.unique(m.budget_ratio, axis=0, return_inverse=True)
    ratio = rows[None, :, None, :]
    beta = gl["elasticity"][:, None, None, None]
    with np.errstate(divide="ignore"):
        powered = np.where(ratio > 0, ratio**beta, 0.0)
    R = (m.response_w[None, None, :, :] * powered).sum(axis=3)[:, row_of_area.reshape(-1)]
    G = 1.0 - gl["governance_penalty"][:, None] * np.maximum(0.0, 1.0 - m.gov_ratio)[None, :]
    amp = (
        m.volume0[None, :, :]
        * (
            st["rate"]
            * st["factor"]
            * st["effect"]
            * (1.0 - st["deadweight"])
            * (1.0 - st["displacement"])
        )[:, None, :]
        * R
        * G[:, :, None]
    )  # (n, A, S)
    return np.einsum("nas,nast,nst->nst", amp, profile, trend)


def baseline_volumes(m: Model, theta: np.ndarray) -> np.ndarray:
    """Volume without the programme V[n, s] in the data year, summed over areas
    (``V0 * rate * factor``), e.g. bijstand recipients, registered crimes per year."""
    theta = np.atleast_2d(theta)
    sl = m.slots
    S = sl.S
    rate = theta[:, sl.stream("rate") : sl.stream("rate") + S]
    factor = theta[:, sl.stream("factor") : sl.stream("factor") + S]
    return m.volume0.sum(axis=0)[None, :] * rate * factor


def _q(x: np.ndarray) -> dict[str, float]:
    q = quantiles_of(x, (0.05, 0.5, 0.95))  # np.quantile's numbers, faster (mkba.quantiles)
    return {"mean": float(np.mean(x)), "p5": float(q[0]), "p50": float(q[1]), "p95": float(q[2])}


@njit(cache=True, nogil=True, error_model="numpy")
def _slot_values(samples, col, scale, fixed, at, y, end, vals, e, tb):  # type: ignore[no-untyped-def]  # numba function: arrays only
    """What :meth:`FullStrength.of_samples` hands to NumPy's powers: the used slots' values
    ``vals[i, k] = samples[col[k], i] * scale[k]`` (or ``fixed[k]`` where ``col[k] < 0``;
    ``samples``: the used columns' values, column-major, one row a column), the
    decay's exponent ``e[i, g, s, 0] = (y - (end[g] + lag)) / half_life`` and the trend's base
    ``tb[i, s, 0] = 1.0 + trend``: each one operation (or two) of the NumPy expressions, in
    their order (division by zero as NumPy's: inf or NaN). Returns whether any draw is past
    its effect's end (``not y <= end + lag``): only then is the decay ``0.5 ** e`` used, and
    only then is ``e`` filled."""
    n = samples.shape[1]
    K = col.shape[0]
    G = end.shape[0]
    S = tb.shape[1]
    past = False
    for i0 in range(0, n, 32):  # tiles of 32 draws (their rows of vals stay in L1), a
        i1 = min(i0 + 32, n)  # used column at a time: its row of samples read contiguously
        for k in range(K):
            c = col[k]
            if c >= 0:
                sc = scale[k]
                for i in range(i0, i1):
                    vals[i, k] = samples[c, i] * sc
            else:
                for i in range(i0, i1):
                    vals[i, k] = fixed[k]
    for i in range(n):
        for s in range(S):
            lag = vals[i, at[_LAG] + s]
            for g in range(G):
                past |= not y <= end[g] + lag
            tb[i, s, 0] = 1.0 + vals[i, at[_TREND] + s]
    if past:  # else e is not used
        for i in range(n):
            for s in range(S):
                lag = vals[i, at[_LAG] + s]
                half_life = vals[i, at[_HALF_LIFE] + s]
                for g in range(G):
                    e[i, g, s, 0] = (y - (end[g] + lag)) / half_life
    return past


@njit(cache=True, nogil=True, error_model="numpy")
def _full_strength_rows(  # type: ignore[no-untyped-def]  # numba function: arrays only
    vals,
    at,
    y,
    start,
    end,
    v0,
    v0_total,
    row,
    grp,
    gm,
    ratio,
    rpow,
    w,
    r,
    hpow,
    tpow,
    full,
    base,
    e2,
    full2,
):
    """The figures of :meth:`FullStrength.of_slots` from the slot values ``vals`` (n, slots;
    ``at``: where each of :data:`_AT`'s slots begins) and the powers NumPy made: ``rpow`` =
    ``ratio ** elasticity`` (n, rows, 1, D), ``hpow`` = ``0.5 ** e`` (n, G, S, 1; used only
    past an effect's end), ``tpow`` the trend (n, S, 1). ``r`` (n, rows, S): the response when ``w`` has 8 columns or more
    (NumPy's pairwise sum; else summed here, in the order of NumPy's reduction: from zero, one
    domain after the other). Every value is the NumPy expression's, operation for operation and
    in its order (products left to right; the sum over areas as :func:`volume_changes`'
    ``einsum``, from zero, in area order); NaN propagates as in ``np.minimum``. The draws are
    the inner loops (independent sums side by side).

    ``full2`` with rows (a twin's, :class:`TwinSink`): also the volume changes of draws whose
    slot values are ``vals``' with the effects in ``vals[:, e2:e2 + S]`` in place of the
    effects, into ``full2``: the same operations with those (every other factor is the same value,
    computed once). With no rows: nothing more."""
    n = vals.shape[0]
    A, S = v0.shape
    G = start.shape[0]
    rows, D = rpow.shape[1], rpow.shape[3]
    tile = max(1, min(n, _TILE))
    x = np.empty((S, tile))
    g = np.empty((A, tile))
    prof = np.empty((G, S, tile))
    resp = np.empty((rows, S, tile))
    tr = np.empty((S, tile))
    acc = np.empty(tile)
    twin = full2.shape[0] > 0
    x2 = np.empty((S, tile if twin else 0))
    acc2 = np.empty(tile if twin else 0)
    for lo in range(0, n, tile):  # a tile of draws at a time: its scratch stays in the cache
        m = min(n - lo, tile)
        for q in range(rows):
            for s in range(S):
                if D < 8:
                    resp[q, s, :m] = 0.0
                    for d in range(D):
                        wd = w[s, d]
                        if ratio[q, d] > 0:
                            for i in range(m):
                                resp[q, s, i] += wd * rpow[lo + i, q, 0, d]
                        else:
                            for i in range(m):
                                resp[q, s, i] += wd * 0.0
                else:
                    for i in range(m):
                        resp[q, s, i] = r[lo + i, q, s]
        for a in range(A):
            for i in range(m):
                g[a, i] = 1.0 - vals[lo + i, at[_GOVERNANCE]] * gm[a]
        for s in range(S):
            for i in range(m):
                j = lo + i
                rate = vals[j, at[_RATE] + s]
                factor = vals[j, at[_FACTOR] + s]
                x[s, i] = (
                    rate
                    * factor
                    * vals[j, at[_EFFECT] + s]
                    * (1.0 - vals[j, at[_DEADWEIGHT] + s])
                    * (1.0 - vals[j, at[_DISPLACEMENT] + s])
                )
                base[j, s] = v0_total[s] * rate * factor
                tr[s, i] = tpow[j, s, 0]
            if twin:
                for i in range(m):
                    j = lo + i
                    x2[s, i] = (
                        vals[j, at[_RATE] + s]
                        * vals[j, at[_FACTOR] + s]
                        * vals[j, e2 + s]
                        * (1.0 - vals[j, at[_DEADWEIGHT] + s])
                        * (1.0 - vals[j, at[_DISPLACEMENT] + s])
                    )
            # the profile as selections (no branches: the draws side by side)
            for k in range(G):
                for i in range(m):
                    j = lo + i
                    lag = vals[j, at[_LAG] + s]
                    ramp = vals[j, at[_RAMP] + s]
                    half_life = vals[j, at[_HALF_LIFE] + s]
                    h = hpow[j, k, s, 0]
                    st = start[k] + lag
                    en = end[k] + lag
                    low = y if (y <= en or y != y) else en  # np.minimum(y, end)
                    share = (low - st + 1.0) / ramp
                    share = share if (share <= 1.0 or share != share) else 1.0  # np.minimum
                    share = share if ramp > 0 else 1.0
                    after = 0.0 if half_life == 0.0 else h
                    persist = 1.0 if y <= en else after
                    prof[k, s, i] = share * persist if y >= st else 0.0
        for s in range(S):
            acc[:m] = 0.0
            if twin:
                acc2[:m] = 0.0
            for a in range(A):
                v = v0[a, s]
                q = row[a]
                k = grp[a]
                if twin:  # both sums in one pass over the shared factors
                    for i in range(m):
                        amp = v * x[s, i] * resp[q, s, i] * g[a, i]
                        acc[i] += amp * prof[k, s, i] * tr[s, i]
                        amp2 = v * x2[s, i] * resp[q, s, i] * g[a, i]
                        acc2[i] += amp2 * prof[k, s, i] * tr[s, i]
                else:
                    for i in range(m):
                        amp = v * x[s, i] * resp[q, s, i] * g[a, i]
                        acc[i] += amp * prof[k, s, i] * tr[s, i]
            for i in range(m):
                full[lo + i, s] = acc[i]
            if twin:
                for i in range(m):
                    full2[lo + i, s] = acc2[i]


_NO_ROWS = np.empty((0, 0))
"""The ``full2`` argument of :func:`_full_strength_rows` without a twin."""

_TILE = 256
"""Draws per tile of :func:`_full_strength_rows` (the numbers do not depend on it)."""


# the order of FullStrength.at (the slots the compiled loops read)
_AT = (
    "rate",
    "factor",
    "effect",
    "deadweight",
    "displacement",
    "lag",
    "ramp",
    "half_life",
    "trend",
    "governance_penalty",
)
(
    _RATE,
    _FACTOR,
    _EFFECT,
    _DEADWEIGHT,
    _DISPLACEMENT,
    _LAG,
    _RAMP,
    _HALF_LIFE,
    _TREND,
    _GOVERNANCE,
) = range(len(_AT))


class FullStrength:
    """The volume change in one year (index ``t`` into the model's years) and the baseline
    volume of every stream, per draw: :func:`volume_changes` ``(m, theta, [t])[:, :, 0]`` and
    :func:`baseline_volumes`, the same numbers (tests/test_run_path.py,
    tests/test_full_strength_fast.py), without the (draws x areas x streams) temporaries.

    The powers (the response's ``ratio ** elasticity``, the trend's and the decay's ``**``) are
    NumPy's, the same expressions on the same arrays (NumPy's ``**`` is not libm's ``pow`` on
    every machine: with AVX-512 it uses its own vector code, which differs in the last bit for
    about 5 % of values). Everything else is two compiled passes (:func:`_slot_values` before
    the powers, :func:`_full_strength_rows` after them) that repeat NumPy's operations in
    NumPy's order. What depends on the model only (periods, rows of budget ratios) is found
    once."""

    def __init__(self, m: Model, t: int) -> None:
        self.m = m
        self.year = m.years[[t]]
        self._used_memo: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        self.start, self.end, self.group = reference.area_timing_groups(m)
        self.rows, row = np.unique(m.budget_ratio, axis=0, return_inverse=True)
        self.row = np.ascontiguousarray(row.reshape(-1), dtype=np.int64)
        self.group = np.ascontiguousarray(self.group, dtype=np.int64)
        self.v0 = np.ascontiguousarray(m.volume0)
        self.v0_total = m.volume0.sum(axis=0)
        self.gm = np.ascontiguousarray(np.maximum(0.0, 1.0 - m.gov_ratio), dtype=float)
        self.w = np.ascontiguousarray(m.response_w, dtype=float)
        self.start_f = np.ascontiguousarray(self.start, dtype=float)
        self.end_f = np.ascontiguousarray(self.end, dtype=float)
        self.ratio = np.ascontiguousarray(self.rows, dtype=float)
        # the slots used (every stream slot, the global ones) and where each value comes from:
        # column j of the samples (the last one, as theta_of_samples' assignment) or fixed
        col = np.full(m.theta_fixed.size, -1, dtype=np.int64)
        col[m.uncertain_slot] = np.arange(m.uncertain_slot.size)
        sl = m.slots
        names = [(name, sl.stream(name), sl.S) for name in STREAM_SLOTS]
        names += [(name, sl.glob(name), 1) for name in GLOBAL_SLOTS]
        self.slots = np.concatenate([np.arange(q, q + w) for _, q, w in names]).astype(np.int64)
        self.col = col[self.slots]
        self.scale_used = np.where(self.col >= 0, m.uncertain_scale[np.maximum(self.col, 0)], 1.0)
        self.fixed_used = m.theta_fixed[self.slots]
        at = np.cumsum([0] + [w for _, _, w in names])
        self.stream_at = {name: int(at[k]) for k, (name, _, w) in enumerate(names) if w > 1}
        self.glob_at = {name: int(at[k]) for k, (name, _, w) in enumerate(names) if w == 1}
        self.at = np.array([(self.stream_at | self.glob_at)[name] for name in _AT], dtype=np.int64)
        self.y = float(self.year[0])
        # the trend's exponent (1, S, 1), as volume_changes makes it
        self.trend_power = self.year.astype(float)[None, None, :] - m.data_year[None, :, None]

    def __call__(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(volume change (n, S), baseline volume (n, S)) of the parameter rows ``theta``."""
        theta = np.ascontiguousarray(np.atleast_2d(theta)[:, self.slots], dtype=float)
        return self._of(theta, np.arange(self.slots.size), np.ones(self.slots.size))

    def of_samples(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`__call__` of :func:`theta_of_samples` ``(m, samples)``, the same numbers,
        without the whole parameter rows: only the slots used, each value made as there
        (``samples * uncertain_scale`` or the fixed value)."""
        return self._of(samples, self.col, self.scale_used)

    def of_slots(
        self, st: dict[str, np.ndarray], gl: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The figures from the stream slots ``st[name]`` (n, S) and global slots ``gl[name]``
        (n,) of the draws."""
        S = self.m.slots.S
        vals = np.empty((st["rate"].shape[0], self.slots.size))
        for name, k in self.stream_at.items():
            vals[:, k : k + S] = st[name]
        for name, k in self.glob_at.items():
            vals[:, k] = gl[name]
        return self._of(vals, np.arange(self.slots.size), np.ones(self.slots.size))

    def _used(self, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The columns ``col`` reads (``>= 0``, ascending) and ``col`` as positions in them
        (-1 stays -1), made once per ``col``."""
        key = col.tobytes()
        got = self._used_memo.get(key)
        if got is None:
            ucols = np.unique(col[col >= 0]).astype(np.int64)
            pos = np.searchsorted(ucols, np.maximum(col, 0))
            col_t = np.ascontiguousarray(np.where(col >= 0, pos, -1), dtype=np.int64)
            got = self._used_memo[key] = (ucols, col_t)
        return got

    def _of(
        self, src: np.ndarray, col: np.ndarray, scale: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The figures of the draws whose used slot ``k`` is ``src[:, col[k]] * scale[k]``
        (``x * 1.0`` is ``x``), or fixed where ``col[k] < 0``."""
        full, base, _ = self.figures(src, col, scale)
        return full, base

    def figures(
        self,
        src: np.ndarray,
        col: np.ndarray,
        scale: np.ndarray,
        twin: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
        src2: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_of` ``(src, col, scale)`` and, with ``twin = (col2, scale2, fixed2)`` (S
        entries each), the volume changes (n, S) of the draws whose effect of stream ``s`` is
        ``src[:, col2[s]] * scale2[s]`` (or ``fixed2[s]`` where ``col2[s] < 0``) and whose
        other used slots are the first draws' (a twin's draws; :func:`twin_joint` checks what
        makes it so), computed in the same pass; their baseline volumes are then the first
        draws'. Without ``twin`` the third array has no rows.

        ``src2`` (with ``twin``): the twin's columns ``c >= src.shape[1]`` are read from
        ``src2[:, c - src.shape[1]]`` (:meth:`TwinSink.sampled`: the companion's own columns
        beside the run's values, not copied next to them), each value the same one
        multiplication."""
        m = self.m
        n = src.shape[0]
        S = m.slots.S
        G = self.end_f.size
        K = self.slots.size
        fixed = self.fixed_used
        e2, full2 = -1, _NO_ROWS
        # the twin's effects: S more values, made as the others (from src2: below)
        if twin is not None and src2 is None:
            col = np.concatenate([col, twin[0]])
            scale = np.concatenate([scale, twin[1]])
            fixed = np.concatenate([fixed, twin[2]])
        if twin is not None:
            e2, full2 = K, np.empty((n, S))
        vals = np.empty((n, K + S if twin is not None else col.size))
        e = np.empty((n, G, S, 1))
        tb = np.empty((n, S, 1))
        # the used columns of src, column-major (each a contiguous row; src's layout is the
        # sampler's, so mostly whole-row copies), and col as rows of that
        if src.dtype == np.float64 and src.T.flags.c_contiguous:  # read where it is
            src_t, col_t = src.T, col
        else:
            ucols, col_t = self._used(col)
            src_t = np.ascontiguousarray(src.T[ucols], dtype=float)
        past = _slot_values(src_t, col_t, scale, fixed, self.at, self.y, self.end_f, vals, e, tb)
        if twin is not None and src2 is not None:  # the twin's effects from their columns
            W = src.shape[1]
            for s, (c, f, v) in enumerate(zip(*twin, strict=True)):
                c = int(c)
                if c >= W:
                    np.multiply(src2[:, c - W], f, out=vals[:, K + s])
                elif c >= 0:
                    np.multiply(src[:, c], f, out=vals[:, K + s])
                else:
                    vals[:, K + s] = v
        # the powers: NumPy's, on arrays of the shapes and layouts the NumPy expressions of
        # reference.effect_profile_groups and volume_changes make (the same numbers). The
        # decay's only when a draw of the block is past its effect's end (never at full
        # strength with lags >= 0); else its values are not used (e, unfilled, stands in)
        hpow = e
        if past:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                hpow = 0.5**e
        tpow = tb**self.trend_power
        ratio = self.rows[None, :, None, :]
        beta = vals[:, self.glob_at["elasticity"]][:, None, None, None]
        with np.errstate(divide="ignore"):
            rpow = ratio**beta
        if self.w.shape[1] < 8:  # summed in the loop, in NumPy's order
            r = np.empty((0, 0, 0))
        else:  # NumPy's pairwise summation
            powered = np.where(ratio > 0, rpow, 0.0)
            r = np.ascontiguousarray((m.response_w[None, None, :, :] * powered).sum(axis=3))
        full = np.empty((n, S))
        base = np.empty((n, S))
        _full_strength_rows(
            vals,
            self.at,
            self.y,
            self.start_f,
            self.end_f,
            self.v0,
            self.v0_total,
            self.row,
            self.group,
            self.gm,
            self.ratio,
            np.ascontiguousarray(rpow),
            self.w,
            r,
            hpow,
            tpow,
            full,
            base,
            e2,
            full2,
        )
        return full, base, full2


class FullStrengthSink:
    """The full-strength volume changes and baseline volumes of a run's draws, computed while
    it is simulated: ``engine.simulate(..., on_samples=sink)`` hands every chunk's sampled
    values to the sink, then :meth:`attach` makes the run's physical effects from them, where
    :func:`side_summary` finds them, so that the samples are not read back (nor, for a
    companion, kept at all). The same numbers as computed afterwards: every draw's row is
    computed alone."""

    def __init__(self, m: Model, draws: int) -> None:
        self.m = m
        self.at_full = FullStrength(m, full_strength_index(m))
        # (draws, streams) arrays whose columns are contiguous: attach's statistics of a
        # column (mean, quantiles; the same numbers in either layout) take half the time
        self.full = np.empty((len(m.streams), draws)).T
        self.base = np.empty((len(m.streams), draws)).T
        self.rows = 0
        self.seconds = 0.0  # spent in the sink (beside the simulation)
        self.handover_s = 0.0  # the simulating thread's time for it, when on its own thread
        self.thread_cpu_s = 0.0  # CPU seconds of its own thread, when on one (BackgroundSink)
        # statistics of the baseline volumes, shared with a twin's sink whose base is this
        # very array (TwinSink): computed by whichever attaches first
        self.memo: dict[int, dict[str, float]] | None = None

    def __call__(self, lo: int, samples: np.ndarray) -> None:
        t0 = time.perf_counter()
        for a in range(0, samples.shape[0], FULL_STRENGTH_ROWS):
            block = samples[a : a + FULL_STRENGTH_ROWS]
            b = lo + a + block.shape[0]
            self.full[lo + a : b], self.base[lo + a : b] = self.at_full.of_samples(block)
        self.rows += samples.shape[0]
        self.seconds += time.perf_counter() - t0

    def attach(self, run: Run) -> Run:
        """Give the figures to ``run`` (the run the samples were of) and return it: the
        physical effects of its side summary (:func:`physical_effects` with
        ``mean_per_year=False, share=False``) are computed now, from these arrays, which are
        then let go (a million draws: 0.11 GB)."""
        if run.model is not self.m or self.rows != run.draws or self.full.shape[0] != run.draws:
            raise ValueError("the sink saw other draws than the run's")
        t0 = time.perf_counter()
        object.__setattr__(run, "_full_strength", (self.full, self.base, self.memo))
        try:
            doc = physical_effects(run, mean_per_year=False, share=False)
        finally:
            object.__delattr__(run, "_full_strength")
        self.full = self.base = np.empty((0, len(self.m.streams)))
        object.__setattr__(run, "_side_physical", doc)
        self.seconds += time.perf_counter() - t0
        return run


class BackgroundSink:
    """A sink for ``engine.simulate(on_samples=...)`` (e.g. a :class:`FullStrengthSink`) run
    on a thread of its own beside the simulation, which leaves part of the 2 CPUs idle between
    and within its chunks. Each chunk's samples are valid during the call only, so they are
    copied into one of ``buffers`` arrays and handed over; the simulation waits only when every
    buffer is still in use. The sink gets every chunk as it came, in the same order: the same
    numbers. :meth:`close` waits for the last chunk and raises the sink's error (also at the
    next hand-over); :meth:`abort` stops it without waiting for the rest.

    ``seconds``: the simulating thread's time in the hand-overs and the final wait (what the
    run's wall pays for the sink); the sink's own time is its own ``seconds``."""

    def __init__(self, sink: Any, buffers: int = 3) -> None:
        import queue

        self.sink = sink
        self.seconds = 0.0
        self._max = max(1, buffers)
        self._made = 0
        self._free: queue.Queue[np.ndarray] = queue.Queue()
        self._todo: queue.Queue[tuple[int, Any, np.ndarray | None, Any] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._skip = False
        self.cpu_s = 0.0  # CPU seconds of the sink's thread (set when it ends)
        self._thread = threading.Thread(target=self._work, name="mkba-sink", daemon=True)
        self._thread.start()

    def __call__(self, lo: int, samples: np.ndarray) -> None:
        t0 = time.perf_counter()
        if self._error is not None:
            raise self._error
        buf = self._buffer(samples.size)
        # column-major as the sampler makes them (a copy, not a transposition)
        view = buf[: samples.size].reshape(samples.shape, order="F")
        np.copyto(view, samples)
        self._todo.put((lo, view, buf, None))
        self.seconds += time.perf_counter() - t0

    def _buffer(self, size: int) -> np.ndarray:
        """A free buffer of at least ``size`` values (a new one while fewer than ``buffers``
        were made; else waits while every buffer is in use)."""
        if self._free.empty() and self._made < self._max:
            self._made += 1
            return np.empty(size)
        buf = self._free.get()
        return buf if buf.size >= size else np.empty(size)

    def _work(self) -> None:
        cpu0 = time.thread_time()
        while True:
            item = self._todo.get()
            if item is None:
                self.cpu_s = time.thread_time() - cpu0  # final once close() has joined
                return
            lo, view, buf, done = item
            try:
                if self._error is None and not self._skip:
                    self.sink(lo, view)
            except BaseException as e:  # handed to the simulating thread
                self._error = e
            finally:
                if buf is not None:
                    self._free.put(buf)
                if done is not None:  # the chunk's arrays are the simulation's again
                    done.set()

    def close(self) -> None:
        """Wait until the sink has every chunk; raise its error."""
        t0 = time.perf_counter()
        self._todo.put(None)
        self._thread.join()
        self.seconds += time.perf_counter() - t0
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        """Stop without passing on the chunks not yet taken (after an error elsewhere)."""
        self._skip = True
        self._todo.put(None)
        self._thread.join()


class TwinSink(BackgroundSink):
    """The two :class:`FullStrengthSink` of a twin pass (:func:`mkba.engine.simulate_twin`:
    ``on_sampled=pair.sampled``; or ``on_samples=pair``, ``other_on_samples=
    pair.other_samples``) on one thread of their own. :meth:`sampled` hands it each chunk's
    arrays as the pass made them (the run's sampled values, and apart the companion's values
    of the twin's columns ``cols``; the rest are the run's), which it reads while the kernels
    run; the other two copy the run's values and the companion's twin columns beside them.
    Where the two models differ in the effects only (:func:`twin_joint`; reference-2021 and
    evidence-2021), both sinks' figures are made in one pass (:meth:`FullStrength.figures`:
    the slot values, powers, response, profile and baseline once) and the companion's
    baseline volumes are the run's array, whose statistics its :meth:`~FullStrengthSink.attach`
    then shares; else each sink computes its own from the copy. The same numbers as two
    :class:`BackgroundSink` (tests/test_twin_sink.py).

    ``seconds``: the simulating thread's time for the run's hand-overs (with :meth:`sampled`,
    also its waits for the thread to release a chunk) and the final wait; ``other_seconds``
    for the companion's hand-overs (none with :meth:`sampled`). The pass's own time is the
    run's sink's ``seconds`` (the companion's sink's stays 0 in the joint pass)."""

    def __init__(
        self, own: FullStrengthSink, other: FullStrengthSink, cols: np.ndarray, buffers: int = 3
    ) -> None:
        self.own, self.other = own, other
        self.cols = np.ascontiguousarray(cols, dtype=np.int64)
        self.other_seconds = 0.0
        self._pending: tuple[int, np.ndarray, np.ndarray, None] | None = None
        self._joined: np.ndarray | None = None  # sampled(): the chunk's copy, on the thread
        U = len(own.m.uncertain)
        # the companion's column j of the samples is the copy's column U + i where j = cols[i]
        col2 = other.at_full.col.copy()
        for i, j in enumerate(self.cols):
            col2[other.at_full.col == j] = U + i
        self._col2 = col2
        eff = slice(int(other.at_full.at[_EFFECT]), int(other.at_full.at[_EFFECT]) + own.m.slots.S)
        # the companion's effects: where FullStrength.figures reads them in the joint pass
        self._effects = (col2[eff], other.at_full.scale_used[eff], other.at_full.fixed_used[eff])
        self.joint = twin_joint(own.at_full, other.at_full, self.cols)
        if self.joint:
            other.base = own.base  # the same values (see FullStrength.figures)
            own.memo = other.memo = {}  # their statistics, computed once
        super().__init__(self._both, buffers)

    def __call__(self, lo: int, samples: np.ndarray) -> None:
        """The run's chunk (``on_samples``): copied, held until the companion's."""
        t0 = time.perf_counter()
        if self._error is not None:
            raise self._error
        n, U = samples.shape
        width = U + self.cols.size
        buf = self._buffer(n * width)
        view = buf[: n * width].reshape((n, width), order="F")  # column-major, as the chunk
        np.copyto(view[:, :U], samples)
        self._pending = (lo, view, buf, None)
        self.seconds += time.perf_counter() - t0

    def other_samples(self, lo: int, samples: np.ndarray) -> None:
        """The companion's chunk (``other_on_samples``, rows ``lo:`` as the run's last one):
        its twin's columns copied beside the run's values, and the chunk handed over."""
        t0 = time.perf_counter()
        if self._error is not None:
            raise self._error
        held = self._pending
        if held is None or held[0] != lo or held[1].shape[0] != samples.shape[0]:
            raise ValueError("the companion's chunk is not the run's last one")
        self._pending = None
        view = held[1]
        view[:, samples.shape[1] :] = samples[:, self.cols]
        self._todo.put(held)
        self.other_seconds += time.perf_counter() - t0

    def sampled(self, lo: int, samples: np.ndarray, twin_samples: np.ndarray) -> Callable[[], None]:
        """The chunk's sampled values as soon as they are made (``simulate_twin``'s
        ``on_sampled``, instead of ``pair`` and ``pair.other_samples``): the run's
        ``samples`` and the companion's twin columns ``twin_samples`` (n x ``cols.size``, in
        the order of ``cols``) are handed to the thread as they are, not copied; it reads them
        while the kernels run. Returns what the simulation calls before it writes those
        arrays again: it waits until the thread is done with them."""
        t0 = time.perf_counter()
        if self._error is not None:
            raise self._error
        if twin_samples.shape != (samples.shape[0], self.cols.size):
            raise ValueError("the companion's twin columns do not match the chunk")
        done = threading.Event()
        self._todo.put((lo, (samples, twin_samples), None, done))
        self.seconds += time.perf_counter() - t0

        def release() -> None:
            t1 = time.perf_counter()
            done.wait()
            self.seconds += time.perf_counter() - t1

        return release

    def _both(self, lo: int, view: Any) -> None:
        """Both sinks' figures of the chunk ``view`` (the run's values, then the twin's
        columns)."""
        own, other = self.own, self.other
        t0 = time.perf_counter()
        fo_ = own.at_full
        if isinstance(view, tuple) and self.joint:  # sampled(), read where they are
            samples, twin_samples = view
            for a in range(0, samples.shape[0], FULL_STRENGTH_ROWS):
                block = samples[a : a + FULL_STRENGTH_ROWS]  # (figures reads its used columns)
                b = lo + a + block.shape[0]
                full, base, full2 = fo_.figures(
                    block, fo_.col, fo_.scale_used, self._effects, twin_samples[a : b - lo]
                )
                own.full[lo + a : b], own.base[lo + a : b] = full, base
                other.full[lo + a : b] = full2
            own.rows += samples.shape[0]
            other.rows += samples.shape[0]
            own.seconds += time.perf_counter() - t0
            return
        if isinstance(view, tuple):  # sampled(), not joint: the copy the two sinks read
            samples, twin_samples = view
            n, U = samples.shape
            width = U + self.cols.size
            if self._joined is None or self._joined.size < n * width:
                self._joined = np.empty(n * width)
            view = self._joined[: n * width].reshape((n, width), order="F")
            np.copyto(view[:, :U], samples)
            np.copyto(view[:, U:], twin_samples)
        fo, ft = own.at_full, other.at_full
        for a in range(0, view.shape[0], FULL_STRENGTH_ROWS):
            block = view[a : a + FULL_STRENGTH_ROWS]
            b = lo + a + block.shape[0]
            if self.joint:
                full, base, full2 = fo.figures(block, fo.col, fo.scale_used, self._effects)
                own.full[lo + a : b], own.base[lo + a : b] = full, base
                other.full[lo + a : b] = full2
            else:
                own.full[lo + a : b], own.base[lo + a : b] = fo._of(block, fo.col, fo.scale_used)
                other.full[lo + a : b], other.base[lo + a : b] = ft._of(
                    block, self._col2, ft.scale_used
                )
        own.rows += view.shape[0]
        other.rows += view.shape[0]
        own.seconds += time.perf_counter() - t0


def twin_joint(a: FullStrength, b: FullStrength, cols: np.ndarray) -> bool:
    """Whether the figures of ``b``'s draws, which are ``a``'s with the uncertain columns
    ``cols`` drawn otherwise, can be made in ``a``'s pass (:meth:`FullStrength.figures`):
    the same model arrays and year, bit for bit, and every used slot that may differ (read
    from ``cols``, or fixed to another value) an effect."""
    same = a.y == b.y and all(
        _same_bytes(getattr(a, k), getattr(b, k))
        for k in (
            "start_f",
            "end_f",
            "v0",
            "v0_total",
            "row",
            "group",
            "gm",
            "w",
            "ratio",
            "rows",
            "trend_power",
            "slots",
            "at",
            "col",
            "scale_used",
        )
    )
    if not same:
        return False
    differ = np.isin(a.col, cols) | (
        (a.col < 0) & (a.fixed_used.view(np.int64) != b.fixed_used.view(np.int64))
    )
    effect = np.zeros(a.col.size, dtype=bool)
    effect[int(a.at[_EFFECT]) : int(a.at[_EFFECT]) + a.v0.shape[1]] = True
    return bool(np.all(effect[differ]))


def full_strength_index(m: Model) -> int:
    """Index into the model's years of the full-strength year (the last programme year)."""
    return int(m.prog_end.max() - m.years[0])


FULL_STRENGTH_ROWS = 2048
"""Parameter rows per block of :func:`physical_effects` when only the full-strength year is
asked, and of :class:`FullStrengthSink`: a block's arrays stay in the processor's cache. With
the compiled passes (i19-sink; reference, busy machine, chunks hot in the cache) 1,024 to 8,192
rows all took 0.35-0.37 CPU-s per million draws; before them (the NumPy expressions and one
compiled sum) 1,024-2,048 rows took 1.0-1.1 CPU-s, 4,096 rows 1.2, 16,384 rows 1.9."""


def physical_effects(
    run: Run, chunk: int | None = None, *, mean_per_year: bool = True, share: bool = True
) -> dict[str, Any]:
    """Per stream: the volume change at full strength (the last programme year), its mean over
    the years to the horizon (unless ``mean_per_year=False``: then only the full-strength year
    is computed, much faster), the baseline volume and the share of it the effect takes away
    (unless ``share=False``).

    Computed ``chunk`` draws at a time (parameter rows rebuilt per chunk; default 2,048, or
    :data:`FULL_STRENGTH_ROWS` for the full-strength year alone), so its memory does not grow
    with the draws beyond the (draws x streams) results."""
    m = run.model
    S = len(m.streams)
    last = full_strength_index(m)
    first = int(m.prog_start.min() - m.years[0])
    mean = np.empty((run.draws, S)) if mean_per_year else None
    # computed while simulating (FullStrengthSink), or now
    known = None if mean_per_year else getattr(run, "_full_strength", None)
    memo = None  # the baselines' statistics, when shared with a twin's sink (TwinSink)
    if known is not None:
        full, base, memo = known
    else:
        full, base = np.empty((run.draws, S)), np.empty((run.draws, S))
        at_full = None if mean_per_year else FullStrength(m, last)
        if chunk is None:
            chunk = 2048 if at_full is None else FULL_STRENGTH_ROWS
        for lo in range(0, run.draws, chunk):
            hi = min(run.draws, lo + chunk)
            theta = theta_rows(run, lo, hi)
            if at_full is not None:
                full[lo:hi], base[lo:hi] = at_full(theta)
                continue
            base[lo:hi] = baseline_volumes(m, theta)
            assert mean is not None
            dv = volume_changes(m, theta)
            full[lo:hi] = dv[:, :, last]
            mean[lo:hi] = dv[:, :, first:].mean(axis=2)
    # the quantiles of every column, on threads (each computed as alone: the same numbers)
    todo: dict[tuple[str, int], np.ndarray] = {}
    streams = [(s, m.streams.index(s)) for s in PHYSICAL if s in m.streams]
    for _s, i in streams:
        todo[("at_full_strength", i)] = full[:, i]
        if mean is not None:
            todo[("mean_per_year", i)] = mean[:, i]
        if memo is None or i not in memo:
            todo[("baseline", i)] = base[:, i]
        if share:
            todo[("share_of_baseline", i)] = full[:, i] / base[:, i]
    q = _quantiles_on_threads(todo)
    if memo is not None:
        for _s, i in streams:
            if i in memo:
                q[("baseline", i)] = dict(memo[i])
            else:
                memo[i] = dict(q[("baseline", i)])
    out: dict[str, Any] = {"year_full_strength": int(m.years[last]), "streams": {}}
    for s, i in streams:
        en, nl = PHYSICAL[s]
        doc: dict[str, Any] = {
            "what": en,
            "what_nl": nl,
            "unit": m.spec.params.streams[s].volume.unit,
        }
        for k in ("at_full_strength", "mean_per_year", "baseline", "share_of_baseline"):
            if (k, i) in q:
                doc[k] = q[(k, i)]
        out["streams"][s] = doc
    return out


def _quantiles_on_threads(columns: dict[Any, np.ndarray]) -> dict[Any, dict[str, float]]:
    """:func:`_q` of every column, a column per task on :func:`mkba.results.statistics_threads`
    threads (NumPy's partition releases the GIL; each column computed as alone)."""
    workers = min(len(columns), results.statistics_threads())
    if workers <= 1:
        return {k: _q(v) for k, v in columns.items()}
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        done = dict(zip(columns, pool.map(_q, columns.values()), strict=True))
    return done


def headline_probability(
    run: Run, benefits: float = 5.8e9, benefit_savings: float = 1.8e9
) -> dict[str, float]:
    """Share of draws (study perspective) that reach the published benefits, the published
    benefit savings, and both. On an uncalibrated (evidence) run: the prior probability of the
    headline."""
    p = PERSPECTIVES.index("study")
    o = run.outcomes
    # each comparison once (two strided reads of a million draws instead of four)
    hit_b = o.benefits[:, p] >= benefits
    hit_bs = o.stream[:, p, run.model.streams.index("benefit_savings")] >= benefit_savings
    return {
        "benefits_target": benefits,
        "benefit_savings_target": benefit_savings,
        "share_benefits": float(np.mean(hit_b)),
        "share_benefit_savings": float(np.mean(hit_bs)),
        "share_both": float(np.mean(hit_b & hit_bs)),
        "draws": run.draws,
    }


def switching_physical(
    run: Run,
    stream: str,
    perspective: str = "welfare",
    physical: dict[str, Any] | None = None,
    *,
    mean_npv: float | None = None,
) -> dict[str, float]:
    """How many units of a stream's volume change (at full strength) the programme needs for
    the mean NPV of ``perspective`` to be zero, all else as drawn.

    The NPV is linear in a stream's effect size e (every flow of the stream is proportional to
    e), so scaling e by k gives ``NPV(k) = NPV(1) + (k - 1) * PV_s`` draw by draw and the mean
    NPV is zero at ``k* = 1 - mean(NPV) / mean(PV_s)``; the physical switching value is
    ``k*`` times the mean volume change at full strength. ``mean_npv``: that mean NPV, when
    known (:func:`side_summary` computes it once for both streams).
    """
    m = run.model
    p = PERSPECTIVES.index(perspective)
    o = run.outcomes
    i = m.streams.index(stream)
    npv = _mean_npv(run, p) if mean_npv is None else mean_npv
    # the column's mean from the run's statistics when they hold it (the same number, without
    # a strided pass over a million draws); else np.mean of the column
    pv = results.known_mean(run, "stream", p, i)
    if pv is None:
        pv = float(np.mean(o.stream[:, p, i]))
    pe = physical if physical is not None else physical_effects(run)
    phys = pe["streams"][stream]["at_full_strength"]["mean"]
    k = 1.0 - npv / pv if pv != 0 else float("nan")
    return {
        "stream": stream,
        "perspective": perspective,
        "mean_npv": npv,
        "mean_stream_pv": pv,
        "factor": k,
        "mean_at_full_strength": phys,
        "needed_at_full_strength": k * phys,
    }


def _mean_npv(run: Run, p: int) -> float:
    """The mean NPV of perspective ``p`` (index into PERSPECTIVES), as
    :func:`switching_physical` uses it: ``float(np.mean(run.outcomes.npv_of(p)))``, taken from
    the run's statistics when they hold it (:func:`mkba.results.known_mean`, the same number)."""
    known = results.known_mean(run, "perspective", p, "npv")
    if known is not None:
        return known
    return float(np.mean(run.outcomes.npv_of(p)))


def side_summary(run: Run) -> dict[str, Any]:
    """What is shown side by side for a scenario and its companion: every perspective's
    costs, benefits, NPV, BCR (statistics) and P(NPV > 0), whether it is calibrated (a
    reconstruction of a published claim) or not (the evidence), the physical effects at full
    strength and, uncalibrated, the prior probability of the 2021 headline."""
    m = run.model
    calibrated = m.spec.calibration_path is not None
    out: dict[str, Any] = {
        "scenario": m.spec.name,
        "title": m.spec.scenario.title,
        "calibrated": calibrated,
        "calibration_file": portable_path(m.spec.calibration_path) if calibrated else None,
        "role": "reconstruction" if calibrated else "evidence",
        "draws": run.draws,
        "seed": run.seed,
        "perspectives": {},
    }
    # statistics of the run's columns (results.column_stats): computed on threads, and shared
    # with the run's summary when called inside its results.shared_statistics() block
    keys = [
        ("perspective", pi, k)
        for pi in range(len(PERSPECTIVES))
        for k in results.PERSPECTIVE_METRICS
    ]
    results.precompute_statistics(run, keys)
    for pi, p in enumerate(PERSPECTIVES):
        doc = {
            k: results.column_stats(run, "perspective", pi, k) for k in results.PERSPECTIVE_METRICS
        }
        share = results.prob_npv_positive(run, pi)  # float(np.mean(o.npv_of(pi) > 0))
        out["perspectives"][p] = doc | {"prob_npv_positive": share}
    phys = getattr(run, "_side_physical", None)  # computed while simulating (FullStrengthSink)
    if phys is None:
        phys = physical_effects(run, mean_per_year=False, share=False)
    out["implied_physical"] = {
        "year_full_strength": phys["year_full_strength"],
        "streams": {
            s: {k: v[k] for k in ("what", "what_nl", "unit", "at_full_strength", "baseline")}
            for s, v in phys["streams"].items()
        },
    }
    if calibrated:
        from mkba.tomlio import read_toml

        assert m.spec.calibration_path is not None  # calibrated values come from a record
        rec = read_toml(m.spec.calibration_path).get("record", {})
        out["calibration_factors"] = [
            {"params": list(f["params"]), "factor": float(f["factor"])} for f in rec.get("free", [])
        ]
    if "benefit_savings" in m.streams:
        out["headline_probability"] = headline_probability(run)
    if not calibrated:
        wanted = [s for s in ("benefit_savings", "safety") if s in m.streams]
        npv = _mean_npv(run, PERSPECTIVES.index("welfare")) if wanted else None
        out["switching_welfare"] = {
            s: switching_physical(run, s, "welfare", phys, mean_npv=npv) for s in wanted
        }
    return out


def ordered(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Two side summaries in reading order: the evidence first, the reconstruction second."""
    return sorted([a, b], key=lambda d: d["calibrated"])
