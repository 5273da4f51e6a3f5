"""Plain NumPy implementation of the model: the oracle the compiled kernel is tested against,
and the baseline it is benchmarked against.

It is written the way a careful analyst would write it: every equation of DESIGN.md section 3
appears once, vectorised by broadcasting over draws, areas, streams, components and years
(the full cube, one chunk of draws at a time; no Python loop over draws).
"""

from __future__ import annotations

import numpy as np

from mkba.model import COMPONENT_SLOTS, DOMAIN_SLOTS, GLOBAL_SLOTS, STREAM_SLOTS, Model
from mkba.schema.scenario import PERSPECTIVES


def _block(theta: np.ndarray, start: int, size: int) -> np.ndarray:
    return theta[:, start : start + size]


def simulate_chunk(
    m: Model, theta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Raw outcomes of one chunk: (ben[n,A,C], cost[n,A,K], flow[n,T], dflow[n,T]); the
    yearly flows are those of the scenario's perspective."""
    sl = m.slots
    S, C, D = sl.S, sl.C, sl.D
    st = {name: _block(theta, sl.stream(name), S) for name in STREAM_SLOTS}  # (n, S)
    cp = {name: _block(theta, sl.component(name), C) for name in COMPONENT_SLOTS}  # (n, C)
    dm = {name: _block(theta, sl.domain(name), D) for name in DOMAIN_SLOTS}  # (n, D)
    gl = {name: theta[:, sl.glob(name)] for name in GLOBAL_SLOTS}  # (n,)

    years = m.years.astype(float)  # (T,)
    y = years[None, None, None, :]
    # --- effect timing: ramp-up from start + lag, frozen at end + lag, then half-life decay
    lag = st["lag"][:, None, :, None]  # (n, 1, S, 1)
    start = m.prog_start[None, :, None, None] + lag  # (n, A, S, 1)
    end = m.prog_end[None, :, None, None] + lag
    ramp = st["ramp"][:, None, :, None]
    half_life = st["half_life"][:, None, :, None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ramp_share = np.where(ramp > 0, (np.minimum(y, end) - start + 1.0) / ramp, 1.0)
        ramp_share = np.minimum(ramp_share, 1.0)
        after = np.where(half_life == 0.0, 0.0, 0.5 ** ((y - end) / half_life))
    persist = np.where(y <= end, 1.0, after)
    profile = np.where(y >= start, ramp_share * persist, 0.0)  # (n, A, S, T)

    # --- volumes: nulalternatief trend from the data year
    trend = (1.0 + st["trend"])[:, :, None] ** (
        years[None, None, :] - m.data_year[None, :, None]
    )  # (n, S, T)

    # --- investment response R and governance factor G
    ratio = m.budget_ratio[None, :, None, :]  # (1, A, 1, D)
    beta = gl["elasticity"][:, None, None, None]
    with np.errstate(divide="ignore"):
        powered = np.where(ratio > 0, ratio**beta, 0.0)  # (n, A, 1, D)
    R = (m.response_w[None, None, :, :] * powered).sum(axis=3)  # (n, A, S)
    G = (
        1.0 - gl["governance_penalty"][:, None] * np.maximum(0.0, 1.0 - m.gov_ratio)[None, :]
    )  # (n, A)

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
    dV = amp[..., None] * profile * trend[:, None, :, :]  # (n, A, S, T): the full cube

    # --- money: unit value (already at the price year) with real growth from base_year
    value = (
        cp["unit_value"][:, :, None]
        * (1.0 + cp["growth"])[:, :, None] ** (years - m.spec.scenario.base_year)[None, None, :]
    )
    flows_c = (
        dV[:, :, m.comp_stream, :] * value[:, None, :, :] * m.comp_sign[None, None, :, None]
    )  # (n, A, C, T)
    df_c = m.df_stream[m.comp_stream]  # (C, T)
    ben = (flows_c * df_c[None, None, :, :]).sum(axis=3)

    # --- costs: budget x overrun x additionality, split over payers; follow-up after the end
    invest = (dm["overrun"] * dm["additional_share"])[:, None, :, None] * m.budget[
        None, :, :, :
    ]  # (n, A, D, T)
    follow = dm["followup_rate"][:, None, :, None] * m.followup_flow[None, :, :, :]
    spend = invest + follow  # (n, A, D, T)
    cost_akt = np.einsum("nadt,dk->nakt", spend, m.payer_share)  # (n, A, K, T)
    cost = (cost_akt * m.df_cost[None, None, None, :]).sum(axis=3)

    # --- yearly net flows in the scenario's perspective
    p0 = PERSPECTIVES.index(m.spec.scenario.perspective)
    ben_t = np.einsum("nact,c->nt", flows_c, m.benefit_weights[p0])
    dben_t = np.einsum("nact,c->nt", flows_c * df_c[None, None, :, :], m.benefit_weights[p0])
    cost_t = np.einsum("nakt,k->nt", cost_akt, m.cost_weights[p0])
    flow = ben_t - cost_t
    dflow = dben_t - cost_t * m.df_cost[None, :]
    return ben, cost, flow, dflow
