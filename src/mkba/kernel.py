"""The compiled kernel (numba). Private: call it through :mod:`mkba.engine`.

It takes only arrays and writes into preallocated outputs. It is parallel over draws and
every draw's numbers are computed by one thread with a fixed order of operations, with no
reduction across draws, so results are bit-identical for any number of threads.

The model is that of DESIGN.md section 3. The kernel never builds the draws x areas x
streams x years cube: for a draw, the time profile of an effect is the same for all areas
that share a programme period (a *period group*), so the present value factorises into an
area part and a time part:

    PV[a, c] = sign[c] * amp[a, s] * sum_t prof[g(a), s, t] * trend[s, t] * value[c, t] * DF[s, t]

with ``amp[a, s] = V0[a, s] * rate * factor * e * R[a, s] * G[a] * (1 - deadweight) *
(1 - displacement)``. :mod:`mkba.reference` computes the same numbers the plain way, over
the full cube, and the tests hold the two equal.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_BLOCK = 64  # draws per parallel work item (scratch arrays are allocated once per block)


@njit(cache=True, inline="always")
def _pow(x, e):  # type: ignore[no-untyped-def]
    """x ** e, by repeated multiplication when e is a small whole number (libm pow is the
    most expensive operation in the kernel; exponents here are mostly whole years)."""
    if e == np.floor(e) and abs(e) <= 64.0:
        k = int(abs(e))
        r = 1.0
        for _ in range(k):
            r *= x
        return r if e >= 0.0 else 1.0 / r
    return x**e


@njit(cache=True, inline="always")
def _time_profile(out, start, end, lag, ramp, half_life, years):  # type: ignore[no-untyped-def]
    """ramp(t) * persist(t) for one stream and one programme period, written into ``out``."""
    s0 = start + lag
    e0 = end + lag
    T = years.shape[0]
    decay = 1.0
    step = 1.0
    finite = half_life < np.inf
    if half_life == 0.0:
        step = 0.0
    elif finite:
        step = 0.5 ** (1.0 / half_life)
    first_after = True
    for t in range(T):
        y = years[t]
        if y < s0:
            out[t] = 0.0
            continue
        yr = y if y < e0 else e0
        r = 1.0 if ramp <= 0.0 else (yr - s0 + 1.0) / ramp
        if r > 1.0:
            r = 1.0
        if y <= e0:
            out[t] = r
        else:
            if first_after:
                if half_life == 0.0:
                    decay = 0.0
                elif finite:
                    dt = y - e0
                    decay = _pow(step, dt) if dt == np.floor(dt) else 0.5 ** (dt / half_life)
                first_after = False
            else:
                decay *= step
            out[t] = r * decay


@njit(cache=True, parallel=True)
def simulate_chunk(
    theta,  # (n, Q) per-draw parameters
    off_stream,  # (9,) offsets of rate, factor, trend, effect, deadweight, displacement, lag, ramp, half_life
    off_comp,  # (2,) offsets of unit_value, growth
    off_dom,  # (3,) offsets of overrun, additional_share, followup_rate
    off_glob,  # (2,) offsets of elasticity, governance_penalty
    volume0,  # (A, S)
    data_year,  # (S,)
    response_w,  # (S, D)
    budget_ratio,  # (A, D)
    gov_ratio,  # (A,)
    period_group,  # (A,) int
    group_start,  # (G,)
    group_end,  # (G,)
    years,  # (T,) float
    base_year,  # float
    comp_stream,  # (C,) int
    comp_sign,  # (C,)
    flow_weights,  # (C,) benefit weights of the scenario's perspective, times the sign
    df_stream,  # (S, T)
    df_cost,  # (T,)
    budget_pv,  # (A, D)
    followup_pv,  # (A, D)
    payer_share,  # (D, K)
    cost_flow,  # (D, T) budget summed over areas and the payers the scenario's perspective counts
    followup_flow,  # (D, T) the same for follow-up per unit rate
    out_ben,  # (n, A, C) PV of each component per area (signed)
    out_cost,  # (n, A, K) PV of costs per area and payer
    out_flow,  # (n, T) real net flow per year, scenario perspective (undiscounted)
    out_dflow,  # (n, T) the same, discounted
):  # type: ignore[no-untyped-def]
    n = theta.shape[0]
    A, S = volume0.shape
    C = comp_stream.shape[0]
    D = response_w.shape[1]
    K = payer_share.shape[1]
    G = group_start.shape[0]
    T = years.shape[0]
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    for b in prange(n_blocks):
        prof = np.empty((G, S, T))
        trend = np.empty((S, T))
        value = np.empty((C, T))
        kfac = np.empty((G, C))
        amp = np.empty((A, S))
        powr = np.empty((A, D))
        ampsum = np.empty((S, T))
        asum = np.empty((G, S))
        wst = np.empty(T)
        xcost = np.empty((A, D))
        for i in range(b * _BLOCK, min(n, (b + 1) * _BLOCK)):
            th = theta[i]
            beta = th[off_glob[0]]
            q = th[off_glob[1]]
            # time profiles and trend, per stream
            for s in range(S):
                lag = th[off_stream[6] + s]
                ramp = th[off_stream[7] + s]
                hl = th[off_stream[8] + s]
                for g in range(G):
                    _time_profile(prof[g, s], group_start[g], group_end[g], lag, ramp, hl, years)
                gr = 1.0 + th[off_stream[2] + s]
                x = _pow(gr, years[0] - data_year[s])
                for t in range(T):
                    trend[s, t] = x
                    x *= gr
            # value per unit per year, per component (indexed unit value x real growth)
            for c in range(C):
                u = th[off_comp[0] + c]
                gw = 1.0 + th[off_comp[1] + c]
                x = u * _pow(gw, years[0] - base_year)
                for t in range(T):
                    value[c, t] = x
                    x *= gw
            # discounted value factor per period group and component
            for g in range(G):
                for c in range(C):
                    s = comp_stream[c]
                    acc = 0.0
                    for t in range(T):
                        acc += prof[g, s, t] * trend[s, t] * value[c, t] * df_stream[s, t]
                    kfac[g, c] = acc
            # investment response (B / Bref)^beta per area and domain
            for a in range(A):
                for d in range(D):
                    br = budget_ratio[a, d]
                    if br == 1.0:
                        powr[a, d] = 1.0
                    elif br > 0.0:
                        powr[a, d] = br**beta
                    else:
                        powr[a, d] = 0.0
            # amplitude per area and stream
            for a in range(A):
                gv = 1.0 - gov_ratio[a]
                if gv < 0.0:
                    gv = 0.0
                gfac = 1.0 - q * gv
                for s in range(S):
                    r = 0.0
                    for d in range(D):
                        r += response_w[s, d] * powr[a, d]
                    amp[a, s] = (
                        volume0[a, s]
                        * th[off_stream[0] + s]
                        * th[off_stream[1] + s]
                        * th[off_stream[3] + s]
                        * r
                        * gfac
                        * (1.0 - th[off_stream[4] + s])
                        * (1.0 - th[off_stream[5] + s])
                    )
            for a in range(A):
                g = period_group[a]
                for c in range(C):
                    out_ben[i, a, c] = comp_sign[c] * amp[a, comp_stream[c]] * kfac[g, c]
            # yearly benefit flows per perspective: sum amplitudes within period groups first
            for g in range(G):
                for s in range(S):
                    asum[g, s] = 0.0
            for a in range(A):
                g = period_group[a]
                for s in range(S):
                    asum[g, s] += amp[a, s]
            for s in range(S):
                for t in range(T):
                    acc = 0.0
                    for g in range(G):
                        acc += asum[g, s] * prof[g, s, t]
                    ampsum[s, t] = acc * trend[s, t]
            for t in range(T):
                out_flow[i, t] = 0.0
                out_dflow[i, t] = 0.0
            for s in range(S):
                for t in range(T):
                    wst[t] = 0.0
                for c in range(C):
                    w = flow_weights[c]
                    if comp_stream[c] != s or w == 0.0:
                        continue
                    for t in range(T):
                        wst[t] += w * value[c, t]
                for t in range(T):
                    f = wst[t] * ampsum[s, t]
                    out_flow[i, t] += f
                    out_dflow[i, t] += f * df_stream[s, t]
            # costs: investment x overrun x additionality, and follow-up, per area and domain
            for a in range(A):
                for d in range(D):
                    xcost[a, d] = (
                        th[off_dom[0] + d] * th[off_dom[1] + d] * budget_pv[a, d]
                        + th[off_dom[2] + d] * followup_pv[a, d]
                    )
            for a in range(A):
                for k in range(K):
                    acc = 0.0
                    for d in range(D):
                        acc += payer_share[d, k] * xcost[a, d]
                    out_cost[i, a, k] = acc
            for d in range(D):
                inv = th[off_dom[0] + d] * th[off_dom[1] + d]
                fr = th[off_dom[2] + d]
                for t in range(T):
                    x = inv * cost_flow[d, t] + fr * followup_flow[d, t]
                    out_flow[i, t] -= x
                    out_dflow[i, t] -= x * df_cost[t]


@njit(cache=True, parallel=True)
def aggregate(
    ben,  # (n, A, C)
    cost,  # (n, A, K)
    dflow,  # (n, T) discounted net flow, scenario perspective
    comp_stream,  # (C,)
    benefit_weights,  # (P, C)
    cost_weights,  # (P, K)
    stakeholder_weights,  # (K, C)
    years,  # (T,)
    p0,  # the scenario's perspective
    S,  # number of streams
    out_benefits,  # (n, P)
    out_costs,  # (n, P)
    out_stream,  # (n, P, S)
    out_area_benefits,  # (n, A) in perspective p0
    out_area_costs,  # (n, A) in perspective p0
    out_component,  # (n, C)
    out_sh_benefits,  # (n, K) stakeholder gains (transfers signed)
    out_sh_costs,  # (n, K)
    out_payback,  # (n,) first year from which the cumulative discounted net flow stays >= 0
):  # type: ignore[no-untyped-def]
    n, A, C = ben.shape
    K = cost.shape[2]
    P = benefit_weights.shape[0]
    T = years.shape[0]
    for i in prange(n):
        for c in range(C):
            acc = 0.0
            for a in range(A):
                acc += ben[i, a, c]
            out_component[i, c] = acc
        for k in range(K):
            acc = 0.0
            for a in range(A):
                acc += cost[i, a, k]
            out_sh_costs[i, k] = acc
            acc = 0.0
            for c in range(C):
                acc += stakeholder_weights[k, c] * out_component[i, c]
            out_sh_benefits[i, k] = acc
        for p in range(P):
            for s in range(S):
                out_stream[i, p, s] = 0.0
            tot = 0.0
            for c in range(C):
                v = benefit_weights[p, c] * out_component[i, c]
                out_stream[i, p, comp_stream[c]] += v
                tot += v
            out_benefits[i, p] = tot
            tot = 0.0
            for k in range(K):
                tot += cost_weights[p, k] * out_sh_costs[i, k]
            out_costs[i, p] = tot
        # payback: the year after the last year in which the cumulative discounted flow is
        # negative (NaN: still negative at the horizon)
        cum = 0.0
        last_neg = -1
        for t in range(T):
            cum += dflow[i, t]
            if cum < 0.0:
                last_neg = t
        if last_neg == T - 1:
            out_payback[i] = np.nan
        elif last_neg == -1:
            out_payback[i] = years[0]
        else:
            out_payback[i] = years[last_neg + 1]
        for a in range(A):
            acc = 0.0
            for c in range(C):
                acc += benefit_weights[p0, c] * ben[i, a, c]
            out_area_benefits[i, a] = acc
            acc = 0.0
            for k in range(K):
                acc += cost_weights[p0, k] * cost[i, a, k]
            out_area_costs[i, a] = acc
