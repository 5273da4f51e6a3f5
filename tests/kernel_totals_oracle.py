"""The per-draw totals as :mod:`mkba.kernel` computed them before the i23-kernel change (main
at 2b53788, issue 17 session 8): ``_totals_row``, ``aggregate`` and ``aggregate_totals``
copied verbatim, but as plain Python (no ``@njit``: the same IEEE double operations in the same
order, on NumPy scalars, without a compile). The oracle that tests/test_totals_block.py holds
the lane-vectorised ``kernel._totals_block`` to, bit for bit. Not used by the package."""

from __future__ import annotations

import numpy as np


def _totals_row(
    i,
    comp_stream,
    benefit_weights,
    cost_weights,
    stakeholder_weights,
    years,
    S,
    dflow,
    out_benefits,
    out_costs,
    out_stream,
    out_component,
    out_sh_benefits,
    out_sh_costs,
    out_payback,
):
    """Draw ``i``'s totals from its PV per component and per payer (already summed over areas)."""
    C = comp_stream.shape[0]
    K = out_sh_costs.shape[1]
    P = benefit_weights.shape[0]
    T = years.shape[0]
    for k in range(K):
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
    out_area_benefits,  # (n, A) in perspective p0, as 1-D views (see area_outputs)
    out_area_costs,  # (n, A) in perspective p0, the same
    area_di,  # element step between draws in out_area_benefits / out_area_costs
    area_da,  # element step between areas
    out_component,  # (n, C)
    out_sh_benefits,  # (n, K) stakeholder gains (transfers signed)
    out_sh_costs,  # (n, K)
    out_payback,  # (n,) first year from which the cumulative discounted net flow stays >= 0
    lo,  # first draw this call reduces
    hi,  # one past the last
):
    """Per-draw outcomes of draws ``lo:hi`` from the per-area raw outputs (used when a
    bottom-up programme adds into them after :func:`simulate_chunk`; otherwise the kernel sums
    over areas itself and :func:`aggregate_totals` does the rest)."""
    n, A, C = ben.shape
    K = cost.shape[2]
    for i in range(lo, min(hi, n)):
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
        _totals_row(
            i,
            comp_stream,
            benefit_weights,
            cost_weights,
            stakeholder_weights,
            years,
            S,
            dflow,
            out_benefits,
            out_costs,
            out_stream,
            out_component,
            out_sh_benefits,
            out_sh_costs,
            out_payback,
        )
        for a in range(A):
            acc = 0.0
            for c in range(C):
                acc += benefit_weights[p0, c] * ben[i, a, c]
            out_area_benefits[i * area_di + a * area_da] = acc
            acc = 0.0
            for k in range(K):
                acc += cost_weights[p0, k] * cost[i, a, k]
            out_area_costs[i * area_di + a * area_da] = acc


def aggregate_totals(
    dflow,  # (n, T) discounted net flow, scenario perspective
    comp_stream,  # (C,)
    benefit_weights,  # (P, C)
    cost_weights,  # (P, K)
    stakeholder_weights,  # (K, C)
    years,  # (T,)
    S,  # number of streams
    out_benefits,  # (n, P)
    out_costs,  # (n, P)
    out_stream,  # (n, P, S)
    out_component,  # (n, C) input: PV per component, summed over areas by simulate_chunk
    out_sh_benefits,  # (n, K)
    out_sh_costs,  # (n, K) input: PV per payer, summed over areas by simulate_chunk
    out_payback,  # (n,)
    lo,  # first draw this call completes
    hi,  # one past the last
):
    """The rest of :func:`aggregate` for draws ``lo:hi``, once the kernel has summed over areas."""
    n = dflow.shape[0]
    for i in range(lo, min(hi, n)):
        _totals_row(
            i,
            comp_stream,
            benefit_weights,
            cost_weights,
            stakeholder_weights,
            years,
            S,
            dflow,
            out_benefits,
            out_costs,
            out_stream,
            out_component,
            out_sh_benefits,
            out_sh_costs,
            out_payback,
        )
