"""``mkba.implied.FullStrength`` as it was before the i19-sink change (main at 0a9a722, issue
17 session 4): the oracle that tests/test_full_strength_fast.py holds the new one to, bit for
bit. Not used by the package. A verbatim copy of ``_sum_over_areas`` and ``FullStrength``
(the compiled loop is not cached: it is compiled once per test session)."""

from __future__ import annotations

import numpy as np
from numba import njit

from mkba import reference
from mkba.model import GLOBAL_SLOTS, STREAM_SLOTS, Model


@njit(nogil=True)
def _sum_over_areas(v0, x, r, row, g, prof, grp, trend, out):  # type: ignore[no-untyped-def]  # numba function: arrays only
    """``out[n, s] = sum over a of V0[a, s] * X[n, s] * R[n, row[a], s] * G[n, a] *
    prof[n, grp[a], s] * trend[n, s]``, multiplied left to right and added in area order from
    zero: the operations, in their order, of :func:`volume_changes` (its product ``amp`` and the
    ``einsum`` over the areas) for one year."""
    n, S = x.shape
    A = v0.shape[0]
    for i in range(n):
        for s in range(S):
            acc = 0.0
            for a in range(A):
                amp = v0[a, s] * x[i, s] * r[i, row[a], s] * g[i, a]
                acc += amp * prof[i, grp[a], s] * trend[i, s]
            out[i, s] = acc


class FullStrength:
    """The volume change in one year (index ``t`` into the model's years) and the baseline
    volume of every stream, per draw: :func:`volume_changes` ``(m, theta, [t])[:, :, 0]`` and
    :func:`baseline_volumes`, the same numbers (tests/test_run_path.py), without the (draws x
    areas x streams) temporaries. The per-draw factors are the same NumPy expressions; the
    product over areas and streams and the sum over areas are one compiled loop. What depends
    on the model only (periods, rows of budget ratios) is found once."""

    def __init__(self, m: Model, t: int) -> None:
        self.m = m
        self.year = m.years[[t]]
        self.start, self.end, self.group = reference.area_timing_groups(m)
        self.rows, row = np.unique(m.budget_ratio, axis=0, return_inverse=True)
        self.row = np.ascontiguousarray(row.reshape(-1), dtype=np.int64)
        self.group = np.ascontiguousarray(self.group, dtype=np.int64)
        self.v0 = np.ascontiguousarray(m.volume0)
        self.v0_total = m.volume0.sum(axis=0)
        # the slots used (every stream slot, the global ones) and where each value comes from:
        # column j of the samples (the last one, as theta_of_samples' assignment) or fixed
        col = np.full(m.theta_fixed.size, -1, dtype=np.int64)
        col[m.uncertain_slot] = np.arange(m.uncertain_slot.size)
        sl = m.slots
        names = [(name, sl.stream(name), sl.S) for name in STREAM_SLOTS]
        names += [(name, sl.glob(name), 1) for name in GLOBAL_SLOTS]
        self.slots = np.concatenate([np.arange(q, q + w) for _, q, w in names]).astype(np.int64)
        self.col = col[self.slots]
        # of_samples gathers from [samples * scale | the used slots' fixed values]
        U = m.uncertain_slot.size
        self.gather = np.where(self.col >= 0, self.col, U + np.arange(self.slots.size))
        self.fixed_used = m.theta_fixed[self.slots]
        at = np.cumsum([0] + [w for _, _, w in names])
        self.stream_at = {name: int(at[k]) for k, (name, _, w) in enumerate(names) if w > 1}
        self.glob_at = {name: int(at[k]) for k, (name, _, w) in enumerate(names) if w == 1}

    def __call__(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(volume change (n, S), baseline volume (n, S)) of the parameter rows ``theta``."""
        sl = self.m.slots
        S = sl.S
        st = {name: theta[:, sl.stream(name) : sl.stream(name) + S] for name in STREAM_SLOTS}
        gl = {name: theta[:, sl.glob(name)] for name in GLOBAL_SLOTS}
        return self.of_slots(st, gl)

    def of_samples(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`__call__` of :func:`theta_of_samples` ``(m, samples)``, the same numbers,
        without the whole parameter rows: only the slots used, each value made as there
        (``samples * uncertain_scale`` or the fixed value), gathered in one pass."""
        m = self.m
        n, U = samples.shape
        ext = np.empty((n, U + self.slots.size))
        np.multiply(samples, m.uncertain_scale[None, :], out=ext[:, :U])
        ext[:, U:] = self.fixed_used[None, :]
        vals = ext[:, self.gather]
        S = m.slots.S
        st = {name: vals[:, k : k + S] for name, k in self.stream_at.items()}
        gl = {name: vals[:, k] for name, k in self.glob_at.items()}
        return self.of_slots(st, gl)

    def of_slots(
        self, st: dict[str, np.ndarray], gl: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The figures from the stream slots ``st[name]`` (n, S) and global slots ``gl[name]``
        (n,) of the draws."""
        m = self.m
        S = m.slots.S
        years = self.year.astype(float)
        prof = reference.effect_profile_groups(m, st, self.start, self.end, self.year)
        trend = (1.0 + st["trend"])[:, :, None] ** (
            years[None, None, :] - m.data_year[None, :, None]
        )
        ratio = self.rows[None, :, None, :]
        beta = gl["elasticity"][:, None, None, None]
        with np.errstate(divide="ignore"):
            powered = np.where(ratio > 0, ratio**beta, 0.0)
        R = (m.response_w[None, None, :, :] * powered).sum(axis=3)  # (n, rows, S)
        G = 1.0 - gl["governance_penalty"][:, None] * np.maximum(0.0, 1.0 - m.gov_ratio)[None, :]
        x = (
            st["rate"]
            * st["factor"]
            * st["effect"]
            * (1.0 - st["deadweight"])
            * (1.0 - st["displacement"])
        )
        full = np.empty((st["rate"].shape[0], S))
        _sum_over_areas(
            self.v0,
            np.ascontiguousarray(x),
            np.ascontiguousarray(R),
            self.row,
            np.ascontiguousarray(G),
            np.ascontiguousarray(prof[:, :, :, 0]),
            self.group,
            np.ascontiguousarray(trend[:, :, 0]),
            full,
        )
        base = self.v0_total[None, :] * st["rate"] * st["factor"]
        return full, base
