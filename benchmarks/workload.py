"""Work model of the engine kernel and the machine-ceiling kernel of the benchmark.

``kernel_work`` counts, loop by loop, the floating-point multiply-adds that
:func:`mkba.kernel.simulate_chunk` performs for one draw. The counting unit is one
*multiply-add*: one floating-point multiplication, with at most one addition fused into it
(``acc += a * b`` is one; ``x *= g`` is one; ``a * b * c * d`` accumulated is three).
Additions without a multiplication (zeroing, ``asum += amp``) are not counted, and neither are
divisions and ``pow`` calls: those are reported separately. Every choice errs on the side of
counting *fewer* operations for the engine, so the ceiling kernel, which performs exactly the
counted number, is given less work and the ``fraction_of_ceiling`` is not flattered.

``ceiling_kernel`` performs that number of multiply-adds per draw as a plain dot product over
two preallocated arrays that together hold as many doubles as the engine kernel touches per
draw (its working set), parallel over draws on as many threads as the engine uses, with
``fastmath`` so that LLVM vectorises the reduction (AVX2 FMA on x86-64). It is what the
machine does with the same count of multiply-adds when nothing but the arithmetic and the
loads stand in the way.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mkba import kernel
from mkba.model import Model
from mkba.schema.scenario import PERSPECTIVES


def dims(m: Model) -> dict[str, int]:
    """The dimensions the kernel loops over (A, S, C, K, D, T, G, P)."""
    return {
        "A": len(m.areas),
        "S": len(m.streams),
        "C": len(m.components),
        "K": len(m.stakeholders),
        "D": len(m.domains),
        "T": len(m.years),
        "G": len(m.group_start),
        "P": len(PERSPECTIVES),
    }


def kernel_work(m: Model) -> dict[str, object]:
    """Multiply-adds (and divisions, pow calls) per draw of ``kernel.simulate_chunk``.

    Data-dependent counts (the time profile's years after the programme end, which depend on
    the stream's lag) use the central parameter values (``m.theta_fixed``).
    """
    d = dims(m)
    A, S, C, K, D, T, G = (d[k] for k in "ASCKDTG")
    sl = m.slots
    th = m.theta_fixed
    years = m.years.astype(float)
    y0 = float(years[0])
    lag = th[sl.stream("lag") : sl.stream("lag") + S]
    ramp = th[sl.stream("ramp") : sl.stream("ramp") + S]
    hl = th[sl.stream("half_life") : sl.stream("half_life") + S]
    p0 = PERSPECTIVES.index(m.spec.scenario.perspective)
    flow_w = m.benefit_weights[p0] * m.comp_sign

    # _time_profile, once per (g, s): years before start+lag cost nothing; every year from
    # start+lag on divides once by the ramp (if ramp > 0); every year after end+lag costs
    # 2 multiplications (decay *= step, r * decay); 0.5 ** (1 / half_life) is one pow and one
    # division per (g, s) when the half-life is finite and non-zero.
    n_after = 0
    n_div = 0
    n_pow = 0
    for g in range(G):
        for s in range(S):
            s0 = m.group_start[g] + lag[s]
            e0 = m.group_end[g] + lag[s]
            n_after += int(np.count_nonzero(years > e0))
            if ramp[s] > 0.0:
                n_div += int(np.count_nonzero(years >= s0))
            if 0.0 < hl[s] < np.inf:
                n_div += 1
                n_pow += 1
    # (B / Bref) ** beta: a pow per (a, d) unless the ratio is 0 or 1 (all 1 in the reference)
    n_pow += int(np.count_nonzero((m.budget_ratio != 0.0) & (m.budget_ratio != 1.0)))
    # integral powers by repeated multiplication in _pow: trend from the data year, unit value
    # growth from the base year
    trend_pow = int(np.abs(y0 - m.data_year).sum())
    value_pow = C * int(abs(y0 - m.spec.scenario.base_year))
    # components whose flow weight in the scenario's perspective is non-zero
    C_flow = int(np.count_nonzero(flow_w != 0.0))

    terms = {
        # prof[g, s, t]: 2 per year after end + lag (see above)
        "time_profile": 2 * n_after,
        # trend[s, t] = x; x *= gr          -> S*T, plus _pow(gr, y0 - data_year[s])
        "trend": S * T + trend_pow,
        # value[c, t] = x; x *= gw          -> C*T, plus u * _pow(gw, y0 - base_year)
        "unit_value": C * T + C + value_pow,
        # kfac[g, c] += prof * trend * value * df_stream  -> 3 per (g, c, t)
        "pv_factor": 3 * G * C * T,
        # r += response_w[s, d] * powr[a, d] (D per (a, s)); amp = 7 products per (a, s);
        # gfac = 1 - q * gv per area
        "amplitude": A * S * (D + 7) + A,
        # v = sign * amp * kfac  -> 2 per (a, c)
        "component_pv": 2 * A * C,
        # the kernel's own sums over areas: area benefits += bw0[c] * v (1 per (a, c)), area
        # costs += cw0[k] * cost (1 per (a, k)); component and payer sums are additions only
        "area_totals": A * C + A * K,
        # ampsum[s, t] = (sum_g asum[g, s] * prof[g, s, t]) * trend[s, t]  -> (G + 1) per (s, t)
        "flow_amplitude": S * T * (G + 1),
        # wst[t] += w * value[c, t] for the components with a non-zero flow weight
        "flow_weights": C_flow * T,
        # f = wst * ampsum; dflow += f * df_stream  -> 2 per (s, t)
        "benefit_flow": 2 * S * T,
        # xcost[a, d] = overrun * additional * budget_pv + followup_rate * followup_pv -> 3
        "cost_pv": 3 * A * D,
        # out_cost[i, a, k] += payer_share[d, k] * xcost[a, d]  -> D per (a, k)
        "cost_payers": A * K * D,
        # inv = overrun * additional (1 per d); x = inv * cf + fr * ff; dflow -= x * df_cost
        # -> 3 per (d, t)
        "cost_flow": D * (1 + 3 * T),
    }
    formula = (
        "2*n_after + S*T + sum|y0-data_year| + C*(T+1+|y0-base_year|) + 3*G*C*T"
        " + A*S*(D+7) + A + 2*A*C + A*(C+K) + S*T*(G+1) + C_flow*T + 2*S*T + 3*A*D + A*K*D"
        " + D*(1+3*T)"
    )
    return {
        "dims": d,
        "n_after": n_after,
        "C_flow": C_flow,
        "terms": terms,
        "multiply_adds": int(sum(terms.values())),
        "divisions": n_div,
        "pow_calls": n_pow,
        "formula": formula,
        "working_set_doubles": working_set(m),
        "lane_working_set_doubles": lane_working_set(m),
    }


def lane_working_set(m: Model) -> int:
    """Doubles the engine kernel keeps per draw (per lane of its block of draws): its scratch
    arrays, the parameter rows it holds and the outputs it writes on the path
    ``engine.simulate`` takes (the kernel's own sums over areas)."""
    d = dims(m)
    A, S, C, K, D, T, G = (d[k] for k in "ASCKDTG")
    # pt, prof (G,S,T); trend, wsts (S,T); kfac (G,C); amp (S); asum (G,S); comp (C);
    # shc (K); powr, xcost, ovad, frd (D); ampsum, flow, dflow (T); mult (S);
    # lane, lane2, s0, e0, post, step, gfac, abn, acs (1). (Before the i17-kernel change the
    # unit values were a stored (C,T) table and wst one (T) row: C*T + T instead of S*T.)
    scratch = 2 * G * S * T + 2 * S * T + G * C + S + G * S + C + K + 4 * D + 3 * T + S + 9
    # the parameters of kernel._BATCH blocks, copied at once (one block's row before)
    row = m.theta_fixed.size * kernel._BATCH
    outputs = C + K + 2 * A + 2 * T  # component, payer sums, area benefits/costs, flows
    return int(scratch + row + outputs)


def working_set(m: Model) -> int:
    """Doubles the engine kernel touches for one draw: its per-lane part
    (:func:`lane_working_set`) and the draw-independent model arrays it reads."""
    d = dims(m)
    A, S, C, K, D, T, G = (d[k] for k in "ASCKDTG")
    # volume0, data_year, response_w, budget_ratio, gov_ratio, period_group, group_start/end,
    # years, comp_stream, comp_sign, flow_weights, df_stream, df_cost, budget_pv,
    # followup_pv, payer_share, cost_flow, followup_flow, bw0, cw0
    inputs = (
        A * S
        + S
        + S * D
        + A * D
        + A
        + A
        + 2 * G
        + T
        + 4 * C
        + S * T
        + T
        + 2 * A * D
        + D * K
        + 2 * D * T
        + K
    )
    return int(lane_working_set(m) + inputs)


@njit(parallel=True, fastmath=True)
def ceiling_kernel(theta, x, y, work, out):  # type: ignore[no-untyped-def]
    """``work`` multiply-adds per draw: a vectorisable dot product of ``x`` and ``y``
    (repeated over the arrays as often as needed), parallel over draws."""
    n = theta.shape[0]
    L = x.shape[0]
    full = work // L
    rest = work - full * L
    for i in prange(n):
        acc = theta[i, 0]
        for _ in range(full):
            for j in range(L):
                acc += x[j] * y[j]
        for j in range(rest):
            acc += x[j] * y[j]
        out[i] = acc


def aligned(a: np.ndarray, align: int = 64) -> np.ndarray:
    """A copy of ``a`` whose data start on an ``align``-byte boundary (a cache line).

    NumPy's allocations are only 16-byte aligned: with a start 16 bytes off a 32-byte boundary,
    half of the ceiling kernels' 32-byte vector loads straddle two cache lines, and the strict
    ceiling took 1.4-1.5x as long (0.042-0.046 s against 0.029-0.032 s for 100,000 reference
    draws on two threads, the same machine and minute, the start address the only difference;
    i18-kernel). Which one a process got was chance, so the fraction of the ceiling swung with
    it. Aligned, the ceiling is always the faster one: the harder reference. (An empty array
    has no data to align.)"""
    buf = np.empty(a.nbytes + align, dtype=np.uint8)
    off = (-buf.ctypes.data) % align
    out = buf[off : off + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def ceiling_arrays(m: Model, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two arrays that together hold the engine kernel's per-draw working set."""
    half = max(working_set(m) // 2, 64)
    rng = np.random.default_rng(seed)
    # values near 1 / half keep the sums finite and far from subnormals
    return aligned(rng.random(half) / half), aligned(rng.random(half))


STRICT_BLOCK = kernel._BLOCK  # draws per work item, as in the engine kernel (64)


@njit(parallel=True)
def strict_ceiling_kernel(theta, x, y, work, out):  # type: ignore[no-untyped-def]
    """``work`` multiply-adds per draw under the engine kernel's own rules: strict IEEE (no
    ``fastmath``, so no contraction into FMA and no reassociation), parallel over blocks of
    ``STRICT_BLOCK`` (64) draws with the draws as the innermost loop (independent lanes, so LLVM vectorises
    across draws without reordering any draw's operations), lane accumulators in a per-block
    array. Each multiply-add is ``acc[b] = acc[b] + x[j] * y[j, b]``: ``x`` is shared (the
    model arrays), ``y`` holds a column per lane (the per-draw scratch), so the block's working
    set is ``len(x) * (STRICT_BLOCK + 1)`` doubles, the engine's per-block working set."""
    n = theta.shape[0]
    L = x.shape[0]
    B = STRICT_BLOCK
    full = work // L
    rest = work - full * L
    n_blocks = (n + B - 1) // B
    for blk in prange(n_blocks):
        i0 = blk * B
        nb = min(n, i0 + B) - i0
        acc = np.empty(B)
        for b in range(B):
            acc[b] = theta[i0 + min(b, nb - 1), 0]
        for _ in range(full):
            for j in range(L):
                xj = x[j]
                for b in range(B):
                    acc[b] = acc[b] + xj * y[j, b]
        for j in range(rest):
            xj = x[j]
            for b in range(B):
                acc[b] = acc[b] + xj * y[j, b]
        for b in range(nb):
            out[i0 + b] = acc[b]


def strict_ceiling_arrays(m: Model, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``x`` (h,) and ``y`` (h, 64) with h the engine's per-lane working set: per block of 64
    draws, ``65 h`` doubles, against the engine's ``64 h`` + its shared model arrays."""
    h = max(lane_working_set(m), 64)
    rng = np.random.default_rng(seed)
    return aligned(rng.random(h) / h), aligned(rng.random((h, STRICT_BLOCK)))
