"""Plain NumPy implementation of the model: the oracle the compiled kernel is tested against,
and the baseline it is benchmarked against.

It is written the way a careful analyst would write it: every equation of docs/model.md
appears once, vectorised by broadcasting over draws, areas, streams, components and years
(the full cube, one chunk of draws at a time; no Python loop over draws).
"""

from __future__ import annotations

import numpy as np

from mkba.model import COMPONENT_SLOTS, DOMAIN_SLOTS, GLOBAL_SLOTS, STREAM_SLOTS, Model
from mkba.schema.interventions import EFFECT_QUANTITIES, INTERVENTION_QUANTITIES
from mkba.schema.scenario import PERSPECTIVES


def _block(theta: np.ndarray, start: int, size: int) -> np.ndarray:
    return theta[:, start : start + size]


def area_timing_groups(m: Model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct programme periods of the areas: ``(start[G], end[G], group[A])`` with
    ``start[group[a]] == m.prog_start[a]`` (and end likewise). The effect timing of an area
    depends on it only through its period, so it is computed once per period (usually one for
    all areas)."""
    pairs = np.stack([m.prog_start, m.prog_end], axis=1)
    uniq, group = np.unique(pairs, axis=0, return_inverse=True)
    return uniq[:, 0], uniq[:, 1], group.reshape(-1)


def effect_profile_groups(
    m: Model,
    st: dict[str, np.ndarray],
    start: np.ndarray,
    end: np.ndarray,
    years: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`effect_profile` for programme periods ``start[G]``/``end[G]`` instead of the
    areas': profile[n, G, S, T], element for element the same expression. ``years`` (default
    every year of the model) may be a subset: the profile in those years only."""
    y = (m.years if years is None else years).astype(float)[None, None, None, :]
    lag = st["lag"][:, None, :, None]  # (n, 1, S, 1)
    start = start[None, :, None, None] + lag  # (n, G, S, 1)
    end = end[None, :, None, None] + lag
    ramp = st["ramp"][:, None, :, None]
    half_life = st["half_life"][:, None, :, None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ramp_share = np.where(ramp > 0, (np.minimum(y, end) - start + 1.0) / ramp, 1.0)
        ramp_share = np.minimum(ramp_share, 1.0)
        after = np.where(half_life == 0.0, 0.0, 0.5 ** ((y - end) / half_life))
    persist = np.where(y <= end, 1.0, after)
    return np.where(y >= start, ramp_share * persist, 0.0)


def effect_profile(
    m: Model, st: dict[str, np.ndarray], years: np.ndarray | None = None
) -> np.ndarray:
    """Effect timing of the top-down streams, profile[n, A, S, T] (docs/model.md): ramp-up
    from start + lag, frozen at end + lag, then half-life decay. ``st`` holds the per-draw
    stream slots (n, S); ``years`` (default: every year of the model) may be a subset.
    Computed once per distinct programme period (:func:`area_timing_groups`) and shared by the
    areas that have it (a read-only view when there is one period)."""
    start, end, group = area_timing_groups(m)
    prof = effect_profile_groups(m, st, start, end, years)
    if start.size == 1:
        return np.broadcast_to(prof, (prof.shape[0], group.size, *prof.shape[2:]))
    return prof[:, group]


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
    profile = effect_profile(m, st)  # (n, A, S, T)

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


def programme_volume_changes(
    m: Model, theta: np.ndarray, streams: set[int] | None = None
) -> np.ndarray:
    """Units of each link's stream changed by the bottom-up programme, per draw, link, area
    and year: ``phys[n, L, A, T]`` (docs/model.md §3; cohort stocks, then the sequential
    combination on the unchanged part of the per-draw nulalternatief volume). The volume
    with the programme of stream s in area a is ``V - sum_{l on s} phys[:, l, a]`` (minus any
    top-down change). With ``streams`` only the links acting on those stream indices are
    computed (the combination is per stream, so their numbers are the same); the others
    stay zero."""
    pr = m.programme
    assert pr is not None
    sl = m.slots
    S = sl.S
    n = theta.shape[0]
    A, T = len(m.areas), len(m.years)
    L = pr.n_links
    st = {name: _block(theta, sl.stream(name), S) for name in ("rate", "factor", "trend")}
    years = m.years.astype(float)
    # nulalternatief volume V[n, A, S, T]
    vol = (
        m.volume0[None, :, :, None]
        * (st["rate"] * st["factor"])[:, None, :, None]
        * ((1.0 + st["trend"])[:, :, None] ** (years[None, None, :] - m.data_year[None, :, None]))[
            :, None, :, :
        ]
    )
    lk = {n_: theta[:, pr.link_slot(n_) : pr.link_slot(n_) + L] for n_ in EFFECT_QUANTITIES}
    peff = (
        lk["effect"]
        * (1.0 - lk["deadweight"])
        * (1.0 - lk["attribution"])
        * (1.0 - lk["displacement"])
        * (1.0 - pr.link_haircut)[None, :]
    )  # (n, L)
    h = lk["half_life"]
    with np.errstate(divide="ignore"):
        q = np.where(h == 0.0, 0.0, 0.5 ** (1.0 / h))
    q = np.where(pr.link_tail[None, :] == 0.0, 0.0, q)

    phys = np.zeros((n, L, A, T))
    resid = np.ones((n, A, S, T))
    for li in range(L):
        mi, s = pr.link_int[li], pr.link_stream[li]
        if streams is not None and int(s) not in streams:
            continue
        lag, npf = int(pr.link_lag[li]), int(pr.link_nprof[li])
        prof = pr.link_prof[li, :npf]
        Pm = pr.participants[mi]  # (A, T)
        # cohorts inside the profile table: a short sum over the years it covers
        x = np.zeros((A, T))
        for k in range(npf):
            sh = lag + k
            if sh < T:
                x[:, sh:] += prof[k] * Pm[:, : T - sh]
        # after the table: the last profile value decays, S(t) = q S(t-1) + q f_last P(t-L-K)
        tail = np.zeros((n, A))
        qn = q[:, li][:, None]
        for t in range(T):
            tk = t - lag - npf
            pk = Pm[:, tk] * prof[-1] if tk >= 0 else np.zeros(A)
            tail = qn * tail + qn * pk[None, :]
            d = peff[:, li][:, None] * (x[None, :, t] + tail)  # (n, A) units changed, alone
            v = vol[:, :, s, t]
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(v > 0.0, np.clip(d / v, -1.0, 1.0), 0.0)
            phys[:, li, :, t] = v * share * resid[:, :, s, t]
            resid[:, :, s, t] = resid[:, :, s, t] * (1.0 - share)
    return phys


def simulate_programme(
    m: Model, theta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The bottom-up programme's contributions (docs/model.md §3; equations in
    :mod:`mkba.interventions`), to be added to :func:`simulate_chunk`'s outputs:
    (ben[n,A,C], cost[n,A,K], flow[n,T], dflow[n,T], int_ben[n,M,P], int_cost[n,M,P],
    phys[n,L,A,T]). Vectorised over draws and areas; the stock recursion runs over years."""
    pr = m.programme
    assert pr is not None
    sl = m.slots
    C = sl.C
    n = theta.shape[0]
    A, T, K = len(m.areas), len(m.years), len(m.stakeholders)
    P = len(PERSPECTIVES)
    M, L = pr.n_entries, pr.n_links
    cp = {name: _block(theta, sl.component(name), C) for name in COMPONENT_SLOTS}
    years = m.years.astype(float)
    value = (
        cp["unit_value"][:, :, None]
        * (1.0 + cp["growth"])[:, :, None] ** (years - m.spec.scenario.base_year)[None, None, :]
    )  # (n, C, T)
    phys = programme_volume_changes(m, theta)

    # money: each link's units x the stream's component values
    ben = np.zeros((n, A, C))
    int_ben = np.zeros((n, M, P))
    p0 = PERSPECTIVES.index(m.spec.scenario.perspective)
    ben_t = np.zeros((n, T))
    dben_t = np.zeros((n, T))
    for li in range(L):
        s = pr.link_stream[li]
        comps = np.flatnonzero(m.comp_stream == s)
        f = phys[:, li, :, None, :] * value[:, None, comps, :]  # (n, A, c, T)
        pvc = (f * m.df_stream[s][None, None, None, :]).sum(axis=3) * m.comp_sign[comps]
        ben[:, :, comps] += pvc
        int_ben[:, pr.link_int[li], :] += np.einsum("nac,pc->np", pvc, m.benefit_weights[:, comps])
        w = m.benefit_weights[p0, comps] * m.comp_sign[comps]
        ft = np.einsum("nact,c->nt", f, w)
        ben_t += ft
        dben_t += ft * m.df_stream[s][None, :]

    # costs: planned participants x drawn cost per participant, plus fixed cost, x overrun
    ic = {n_: theta[:, pr.int_slot(n_) : pr.int_slot(n_) + M] for n_ in INTERVENTION_QUANTITIES}
    spend = (
        pr.participants[None] * ic["per_participant"][:, :, None, None]
        + pr.fixed_years[None] * ic["fixed_per_area_year"][:, :, None, None]
    ) * ic["overrun"][:, :, None, None]  # (n, M, A, T)
    pv = (spend * m.df_cost[None, None, None, :]).sum(axis=3)  # (n, M, A)
    cost = np.einsum("nma,mk->nak", pv, pr.payer_share)
    int_cost = np.einsum("nma,mp->nmp", pv, pr.cost_weights)
    cost_t = np.einsum("nmat,m->nt", spend, pr.cost_weights[:, p0])
    flow = ben_t - cost_t
    dflow = dben_t - cost_t * m.df_cost[None, :]
    assert cost.shape == (n, A, K)
    return ben, cost, flow, dflow, int_ben, int_cost, phys
