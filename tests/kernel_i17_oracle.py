"""The engine kernel's ``simulate_chunk`` as it was before the i18-kernel change (main at
33eaa88, issue 17 session 2): the oracle that tests/test_kernel_fused.py holds the fused kernel
to, bit for bit. Not used by the package. Only ``simulate_chunk`` and its helpers are kept."""

from __future__ import annotations

import numpy as np
from numba import njit

# draws per block: the lanes of the vectorised inner loops. 64 rather than 32: half as many
# blocks, so half the per-block set-up; 0.64-0.73x the kernel time of 32 in one comparison
# (issue 17). The numbers do not depend on it.
_BLOCK = 64
# blocks whose parameters simulate_chunk copies at once (see there)
_BATCH = 8

# Named slots of the offset vectors, in the order of mkba.model.STREAM_SLOTS, COMPONENT_SLOTS,
# DOMAIN_SLOTS, GLOBAL_SLOTS and mkba.schema.interventions' EFFECT_QUANTITIES and
# INTERVENTION_QUANTITIES (tests/test_engine.py checks the orders agree).
RATE, FACTOR, TREND, EFFECT, DEADWEIGHT, DISPLACEMENT, LAG, RAMP, HALF_LIFE = range(9)
UNIT_VALUE, GROWTH = range(2)
OVERRUN, ADDITIONAL_SHARE, FOLLOWUP_RATE = range(3)
ELASTICITY, GOVERNANCE_PENALTY = range(2)
L_EFFECT, L_DEADWEIGHT, L_ATTRIBUTION, L_DISPLACEMENT, L_HALF_LIFE = range(5)
PER_PARTICIPANT, FIXED_PER_AREA_YEAR, I_OVERRUN = range(3)


@njit(cache=True, inline="always")
def _pow(x, e):
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
def _pow_lanes(x, e, out):
    """``out[b] = _pow(x[b], e)`` for every lane, with the same multiplications per lane in
    the same order, but lane by lane innermost so that it vectorises (the exponent is the
    same for all lanes)."""
    if e == np.floor(e) and abs(e) <= 64.0:
        k = int(abs(e))
        for b in range(out.shape[0]):
            out[b] = 1.0
        for _ in range(k):
            for b in range(out.shape[0]):
                out[b] *= x[b]
        if e < 0.0:
            for b in range(out.shape[0]):
                out[b] = 1.0 / out[b]
    else:
        for b in range(out.shape[0]):
            out[b] = x[b] ** e


@njit(cache=True, nogil=True)
def simulate_chunk(
    theta_t,  # (Q, n) per-draw parameters, one parameter per row
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
    bw0,  # (C,) benefit weights of the scenario's perspective (for the per-area totals)
    cw0,  # (K,) cost weights of the scenario's perspective
    keep_areas,  # bool: also write out_ben / out_cost (per area and component / payer)
    out_ben,  # (n, A, C) PV of each component per area (signed); (0, A, C) without keep_areas
    out_cost,  # (n, A, K) PV of costs per area and payer; (0, A, K) without keep_areas
    out_flow,  # (n, T) real net flow per year, scenario perspective (undiscounted)
    out_dflow,  # (n, T) the same, discounted
    out_component,  # (n, C) PV per component, summed over areas
    out_sh_costs,  # (n, K) PV of costs per payer, summed over areas
    out_area_ben,  # PV benefits per area, scenario perspective (float64 or float32): draw i,
    # area a at [i * area_di + a * area_da] of this 1-D view (see area_outputs)
    out_area_cost,  # PV costs per area, scenario perspective, laid out the same way
    area_di,  # element step between draws in out_area_ben / out_area_cost
    area_da,  # element step between areas
    lo,  # first draw (column of theta_t, row of the outputs) this call computes
    hi,  # one past the last draw this call computes
):
    """Draws ``lo:hi`` of one chunk of the top-down model.

    The sums over areas that the outcomes need (per component, per payer, and per area in
    the scenario's perspective) are accumulated here, area by area, in exactly the order of
    :func:`aggregate` (which sums ``out_ben``/``out_cost`` after the fact): the per-area,
    per-component intermediates (``A * (C + K)`` doubles a draw) need not be kept, so the cost
    per area stays flat however many areas there are.
    """
    Q, n = theta_t.shape
    A, S = volume0.shape
    C = comp_stream.shape[0]
    D = response_w.shape[1]
    K = payer_share.shape[1]
    G = group_start.shape[0]
    T = years.shape[0]
    B = _BLOCK
    # scratch of one block, allocated once per call and fully rewritten for every block;
    # lanes (draws) last so that the inner loops vectorise
    thb = np.empty((_BATCH, Q, B))  # parameters of _BATCH blocks
    pt = np.empty((G, S, T, B))  # ramp x persist x trend x DF
    prof = np.empty((G, S, T, B))  # ramp x persist
    trend = np.empty((S, T, B))
    kfac = np.empty((G, C, B))
    amp = np.empty((S, B))  # of the current area
    asum = np.empty((G, S, B))  # amplitudes summed over the areas of a period group
    comp = np.empty((C, B))
    shc = np.empty((K, B))
    abn = np.empty(B)
    acs = np.empty(B)
    powr = np.empty((D, B))
    lane = np.empty(B)
    lane2 = np.empty(B)
    s0 = np.empty(B)
    e0 = np.empty(B)
    post = np.empty(B)
    step = np.empty(B)
    gfac = np.empty(B)
    ampsum = np.empty((T, B))
    wsts = np.empty((S, T, B))  # flow weight x value, summed over the components of a stream
    flow = np.empty((T, B))
    dflow = np.empty((T, B))
    xcost = np.empty((D, B))
    ovad = np.empty((D, B))
    frd = np.empty((D, B))
    mult = np.empty((S, B))
    ascending = True  # years in increasing order (they are; the time profile relies on it)
    for t in range(1, T):
        if not years[t] > years[t - 1]:
            ascending = False
    for j0 in range(lo, min(hi, n), B * _BATCH):
        # the parameters of up to _BATCH blocks, copied row by row: each row of theta_t is read
        # as one run of up to _BATCH * B draws, which the hardware prefetcher follows (the
        # kernel's only reads from main memory; block by block it took 12-17 % of its time)
        j1 = min(hi, n, j0 + B * _BATCH)
        nblk = (j1 - j0 + B - 1) // B
        for q in range(Q):
            src = theta_t[q, j0:j1]
            for k in range(nblk):
                k0 = k * B
                nbk = min(B, j1 - j0 - k0)
                sk = src[k0 : k0 + nbk]  # (indexing src[k0 + b] compiles to gathers)
                for b in range(nbk):
                    thb[k, q, b] = sk[b]
                for b in range(nbk, B):  # idle lanes of a last, partial block: never written out
                    thb[k, q, b] = thb[k, q, 0]
        for k in range(nblk):
            i0 = j0 + k * B
            nb = min(B, j1 - i0)
            th = thb[k]
            # --- time profile per period group and stream: ramp-up, then decay after the end
            for s in range(S):
                lag = th[off_stream[LAG] + s]
                ramp = th[off_stream[RAMP] + s]
                hl = th[off_stream[HALF_LIFE] + s]
                for b in range(B):
                    h = hl[b]
                    if h == 0.0:
                        step[b] = 0.0
                    elif h < np.inf:
                        step[b] = 0.5 ** (1.0 / h)
                    else:
                        step[b] = 1.0
                for g in range(G):
                    for b in range(B):
                        s0[b] = group_start[g] + lag[b]
                        e0[b] = group_end[g] + lag[b]
                        # decay in the first whole year after the (lagged) end year
                        h = hl[b]
                        dt0 = np.floor(e0[b]) + 1.0 - e0[b]
                        if h == 0.0:
                            post[b] = 0.0
                        elif h < np.inf:
                            post[b] = step[b] if dt0 == 1.0 else 0.5 ** (dt0 / h)
                        else:
                            post[b] = 1.0
                    settled = False
                    for t in range(T):
                        y = years[t]
                        # Does any lane ramp up in this year? A lane needs the division unless it
                        # has not started (profile 0), has no ramp (r = 1), or is past its ramp:
                        # x >= ramp with a finite ramp makes the quotient >= 1, so min(., 1) is 1
                        # and r * d is d. Most years need no division (vdivpd was 10 % of the
                        # kernel); the lanes that do get exactly the same operations as before.
                        # Once every lane has no ramp or is past it, so it stays in every later
                        # year (x never decreases as y grows: min, - s0 and + 1 round
                        # monotonically), and the check stops.
                        # (& and |, not `and`/`or`: no branches, so that the check vectorises)
                        ramps = 0
                        if not settled:
                            past = 0
                            for b in range(B):
                                rb = ramp[b]
                                x = min(y, e0[b]) - s0[b] + 1.0
                                started = y >= s0[b]
                                ramps += (
                                    (rb > 0.0) & started & ((x < rb) | (x != x) | (rb == np.inf))
                                )
                                past += (
                                    (rb <= 0.0) | (rb != rb) | (started & (x >= rb) & (rb < np.inf))
                                )
                            settled = past == B and ascending
                        if ramps > 0:
                            for b in range(B):
                                r = 1.0
                                if ramp[b] > 0.0:
                                    r = (min(y, e0[b]) - s0[b] + 1.0) / ramp[b]
                                    r = min(r, 1.0)
                                d = 1.0
                                if y > e0[b]:
                                    d = post[b]
                                    post[b] = post[b] * step[b]
                                prof[g, s, t, b] = r * d if y >= s0[b] else 0.0
                        else:
                            for b in range(B):
                                d = 1.0
                                if y > e0[b]:
                                    d = post[b]
                                    post[b] = post[b] * step[b]
                                prof[g, s, t, b] = d if y >= s0[b] else 0.0
                # nulalternatief trend (1 + g)^(t - data_year), by repeated multiplication
                gr = th[off_stream[TREND] + s]
                for b in range(B):
                    lane2[b] = 1.0 + gr[b]
                _pow_lanes(lane2, years[0] - data_year[s], lane)
                for t in range(T):
                    for b in range(B):
                        trend[s, t, b] = lane[b]
                        lane[b] = lane[b] * lane2[b]
                for g in range(G):
                    for t in range(T):
                        dft = df_stream[s, t]
                        for b in range(B):
                            pt[g, s, t, b] = prof[g, s, t, b] * trend[s, t, b] * dft
            # --- value per unit per year (indexed unit value x real growth from the base year),
            # generated year by year and used at once, never stored: the discounted value factor
            # per period group and component, and the flow weights summed per stream. Each sum
            # takes its terms in the same order as summing a stored value table would (years
            # ascending; components ascending).
            for g in range(G):
                for c in range(C):
                    for b in range(B):
                        kfac[g, c, b] = 0.0
            for s in range(S):
                for t in range(T):
                    for b in range(B):
                        wsts[s, t, b] = 0.0
            for c in range(C):
                s = comp_stream[c]
                w = flow_weights[c]
                u = th[off_comp[UNIT_VALUE] + c]
                gw = th[off_comp[GROWTH] + c]
                for b in range(B):
                    lane2[b] = 1.0 + gw[b]
                _pow_lanes(lane2, years[0] - base_year, lane)
                for b in range(B):
                    lane[b] = u[b] * lane[b]
                for t in range(T):
                    for g in range(G):
                        for b in range(B):
                            kfac[g, c, b] += pt[g, s, t, b] * lane[b]
                    if w != 0.0:
                        for b in range(B):
                            wsts[s, t, b] += w * lane[b]
                    for b in range(B):
                        lane[b] = lane[b] * lane2[b]
            # --- amplitude: volume x effect x response x governance x (1 - dead weight)(1 - displacement)
            beta = th[off_glob[ELASTICITY]]
            q = th[off_glob[GOVERNANCE_PENALTY]]
            for s in range(S):
                rate = th[off_stream[RATE] + s]
                fac = th[off_stream[FACTOR] + s]
                eff = th[off_stream[EFFECT] + s]
                dw = th[off_stream[DEADWEIGHT] + s]
                dp = th[off_stream[DISPLACEMENT] + s]
                for b in range(B):
                    mult[s, b] = rate[b] * fac[b] * eff[b] * (1.0 - dw[b]) * (1.0 - dp[b])
            for ov_d in range(D):  # cost factors per domain (used per area below)
                ov = th[off_dom[OVERRUN] + ov_d]
                ad = th[off_dom[ADDITIONAL_SHARE] + ov_d]
                fr = th[off_dom[FOLLOWUP_RATE] + ov_d]
                for b in range(B):
                    ovad[ov_d, b] = ov[b] * ad[b]
                    frd[ov_d, b] = fr[b]
            for g in range(G):
                for s in range(S):
                    for b in range(B):
                        asum[g, s, b] = 0.0
            for c in range(C):
                for b in range(B):
                    comp[c, b] = 0.0
            for kk in range(K):
                for b in range(B):
                    shc[kk, b] = 0.0
            # --- area by area: amplitude, component PVs, costs, and their sums
            for a in range(A):
                for d in range(D):
                    br = budget_ratio[a, d]
                    for b in range(B):
                        if br == 1.0:
                            powr[d, b] = 1.0
                        elif br > 0.0:
                            powr[d, b] = br ** beta[b]
                        else:
                            powr[d, b] = 0.0
                gv = max(1.0 - gov_ratio[a], 0.0)
                for b in range(B):
                    gfac[b] = 1.0 - q[b] * gv
                g = period_group[a]
                for s in range(S):
                    for b in range(B):
                        lane[b] = 0.0
                    for d in range(D):
                        w = response_w[s, d]
                        if w != 0.0:
                            for b in range(B):
                                lane[b] += w * powr[d, b]
                    v0 = volume0[a, s]
                    for b in range(B):
                        amp[s, b] = v0 * mult[s, b] * lane[b] * gfac[b]
                        asum[g, s, b] += amp[s, b]
                for b in range(B):
                    abn[b] = 0.0
                for c in range(C):
                    sg = comp_sign[c]
                    sc = comp_stream[c]
                    w = bw0[c]
                    for b in range(B):
                        v = sg * amp[sc, b] * kfac[g, c, b]
                        comp[c, b] += v
                        abn[b] += w * v
                    if keep_areas:
                        for b in range(nb):
                            out_ben[i0 + b, a, c] = sg * amp[sc, b] * kfac[g, c, b]
                for b in range(nb):
                    out_area_ben[(i0 + b) * area_di + a * area_da] = abn[b]
                # costs: investment x overrun x additionality, and follow-up, per payer
                for d in range(D):
                    bpv = budget_pv[a, d]
                    fpv = followup_pv[a, d]
                    for b in range(B):
                        xcost[d, b] = ovad[d, b] * bpv + frd[d, b] * fpv
                for b in range(B):
                    acs[b] = 0.0
                for kk in range(K):
                    for b in range(B):
                        lane[b] = 0.0
                    for d in range(D):
                        sh = payer_share[d, kk]
                        if sh != 0.0:
                            for b in range(B):
                                lane[b] += sh * xcost[d, b]
                    w = cw0[kk]
                    for b in range(B):
                        shc[kk, b] += lane[b]
                        acs[b] += w * lane[b]
                    if keep_areas:
                        for b in range(nb):
                            out_cost[i0 + b, a, kk] = lane[b]
                for b in range(nb):
                    out_area_cost[(i0 + b) * area_di + a * area_da] = acs[b]
            for b in range(nb):
                i = i0 + b
                for c in range(C):
                    out_component[i, c] = comp[c, b]
                for kk in range(K):
                    out_sh_costs[i, kk] = shc[kk, b]
            # --- yearly net flows (scenario perspective): benefits ...
            for t in range(T):
                for b in range(B):
                    flow[t, b] = 0.0
                    dflow[t, b] = 0.0
            for s in range(S):
                for t in range(T):
                    for b in range(B):
                        ampsum[t, b] = 0.0
                for g in range(G):
                    for t in range(T):
                        for b in range(B):
                            ampsum[t, b] += asum[g, s, b] * prof[g, s, t, b]
                used = False
                for c in range(C):
                    if comp_stream[c] == s and flow_weights[c] != 0.0:
                        used = True
                if not used:
                    continue
                for t in range(T):
                    dft = df_stream[s, t]
                    for b in range(B):
                        f = wsts[s, t, b] * (ampsum[t, b] * trend[s, t, b])
                        flow[t, b] += f
                        dflow[t, b] += f * dft
            # ... minus costs: investment x overrun x additionality, and follow-up
            for d in range(D):
                for t in range(T):
                    cf = cost_flow[d, t]
                    ff = followup_flow[d, t]
                    dct = df_cost[t]
                    for b in range(B):
                        x = ovad[d, b] * cf + frd[d, b] * ff
                        flow[t, b] -= x
                        dflow[t, b] -= x * dct
            for b in range(nb):
                i = i0 + b
                for t in range(T):
                    out_flow[i, t] = flow[t, b]
                    out_dflow[i, t] = dflow[t, b]
