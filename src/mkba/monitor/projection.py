"""Projected volumes per draw: the nulalternatief ``V(t)`` and the volume with the programme
``V(t) - dV(t)``, for the (area, stream) pairs that are observed.

The equations are those of docs/model.md as :mod:`mkba.reference` writes them (the
kernel is tested equal to it), restricted to the observed pairs and kept per year instead of
being valued and discounted:

``V[i,a,s](t) = V0[a,s] * rate[i,s] * factor[i,s] * (1 + trend[i,s])^(t - data_year[s])``

``dV[i,a,s](t) = V0[a,s] * rate * factor * e * (1 - deadweight) * (1 - displacement)
* R[i,a,s] * G[i,a] * profile[i,a,s](t) * (1 + trend)^(t - data_year)``

with the ramp-up / persistence ``profile`` and the response ``R`` and governance ``G``
factors of :func:`mkba.reference.simulate_chunk`. ``dV`` is computed with the same floating
point operations in the same order, so the benefits valued from it equal the reference's
(``tests/test_monitor.py`` holds them equal to rtol 1e-12).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from mkba import engine, reference
from mkba.model import GLOBAL_SLOTS, STREAM_SLOTS, Model
from mkba.sampling import apply_copula, chunk_bounds
from mkba.schema.interventions import EFFECT_QUANTITIES

BAND = (0.05, 0.5, 0.95)


def _parts(
    m: Model, theta: np.ndarray, pairs: tuple[tuple[int, int], ...]
) -> dict[str, np.ndarray]:
    """The factors of V and dV per draw and pair (and year), as mkba.reference builds them."""
    sl = m.slots
    theta = np.atleast_2d(theta)
    a_idx = np.array([p[0] for p in pairs], dtype=np.int64)
    s_idx = np.array([p[1] for p in pairs], dtype=np.int64)
    st = {name: theta[:, sl.stream(name) + s_idx] for name in STREAM_SLOTS}  # (n, P)
    gl = {name: theta[:, sl.glob(name)] for name in GLOBAL_SLOTS}  # (n,)
    years = m.years.astype(float)
    y = years[None, None, :]

    # effect timing (mkba.reference: ramp-up from start + lag, frozen at end + lag, decay)
    lag = st["lag"][:, :, None]
    start = m.prog_start[a_idx][None, :, None] + lag
    end = m.prog_end[a_idx][None, :, None] + lag
    ramp = st["ramp"][:, :, None]
    half_life = st["half_life"][:, :, None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ramp_share = np.where(ramp > 0, (np.minimum(y, end) - start + 1.0) / ramp, 1.0)
        ramp_share = np.minimum(ramp_share, 1.0)
        after = np.where(half_life == 0.0, 0.0, 0.5 ** ((y - end) / half_life))
    persist = np.where(y <= end, 1.0, after)
    profile = np.where(y >= start, ramp_share * persist, 0.0)  # (n, P, T)

    trend = (1.0 + st["trend"])[:, :, None] ** (
        years[None, None, :] - m.data_year[s_idx][None, :, None]
    )  # (n, P, T)

    ratio = m.budget_ratio[a_idx][None, :, :]  # (1, P, D)
    beta = gl["elasticity"][:, None, None]
    with np.errstate(divide="ignore"):
        powered = np.where(ratio > 0, ratio**beta, 0.0)  # (n, P, D)
    R = (m.response_w[s_idx][None, :, :] * powered).sum(axis=2)  # (n, P)
    G = (
        1.0 - gl["governance_penalty"][:, None] * np.maximum(0.0, 1.0 - m.gov_ratio[a_idx])[None, :]
    )  # (n, P)
    return {
        "v0": m.volume0[a_idx, s_idx][None, :],
        "profile": profile,
        "trend": trend,
        "R": R,
        "G": G,
        **{f"st.{k}": v for k, v in st.items()},
    }


def volumes(
    m: Model, theta: np.ndarray, pairs: tuple[tuple[int, int], ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Volumes without the programme and the programme's change, per draw, pair and year.

    Parameters
    ----------
    m : Model
        The lowered scenario.
    theta : numpy.ndarray
        Parameter matrix, one draw per row (n x Q), as :meth:`Model.theta` gives it.
    pairs : tuple of (int, int)
        (area index, stream index) pairs to project.

    Returns
    -------
    V, dV : numpy.ndarray
        Shape (n, P, T) each [the stream's volume unit]: the nulalternatief volume and the
        programme's reduction of it (the volume with the programme is ``V - dV``).
    """
    p = _parts(m, theta, pairs)
    v0 = p["v0"]
    amp = (
        v0
        * (
            p["st.rate"]
            * p["st.factor"]
            * p["st.effect"]
            * (1.0 - p["st.deadweight"])
            * (1.0 - p["st.displacement"])
        )
        * p["R"]
        * p["G"]
    )  # (n, P): the order of mkba.reference
    dV = amp[..., None] * p["profile"] * p["trend"]
    V = (v0 * (p["st.rate"] * p["st.factor"]))[..., None] * p["trend"]
    if m.programme is not None and len(pairs):
        dV = dV + programme_change(m, np.atleast_2d(theta), pairs)
    return V, dV


def programme_change(
    m: Model, theta: np.ndarray, pairs: tuple[tuple[int, int], ...], chunk: int = 2048
) -> np.ndarray:
    """The bottom-up programme's change of the volume of each pair, per draw and year
    (n, P, T): the sum over the links acting on the pair's stream of the units they change
    in its area, as :func:`mkba.reference.programme_volume_changes` computes them (the
    engine's oracle; the kernel is tested equal to it). Computed in chunks of draws."""
    pr = m.programme
    assert pr is not None
    n, T = theta.shape[0], len(m.years)
    out = np.zeros((n, len(pairs), T))
    streams = {s for _a, s in pairs}
    links = {s: np.flatnonzero(pr.link_stream == s) for s in streams}
    for lo, hi in chunk_bounds(n, chunk):
        phys = reference.programme_volume_changes(m, theta[lo:hi], streams)
        for k, (a, s) in enumerate(pairs):
            for li in links[s]:
                out[lo:hi, k] += phys[:, li, a, :]
    return out


def net_effect(m: Model, theta: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Share of the volume the programme removes at full strength, per draw and pair:
    ``e * (1 - deadweight) * (1 - displacement) * R * G`` [-] (what monitoring data see)."""
    p = _parts(m, theta, pairs)
    return (
        p["st.effect"] * (1.0 - p["st.deadweight"]) * (1.0 - p["st.displacement"]) * p["R"] * p["G"]
    )


def prior_theta(m: Model, *, draws: int, seed: int, sampler: str, chunk_size: int) -> np.ndarray:
    """The parameter matrix (draws x Q) of a run, regenerated chunk by chunk exactly as
    :func:`mkba.engine.compute_chunk` makes it (same uniforms, same inverse CDFs)."""
    theta = np.empty((draws, m.theta_fixed.size))
    factor = engine.correlation_factor(m)
    for j, (lo, hi) in enumerate(chunk_bounds(draws, chunk_size)):
        u = engine.uniforms(
            m, lo, hi, seed=seed, sampler=sampler, chunk=j, chunk_size=chunk_size, factor=factor
        )
        theta[lo:hi] = m.theta_t(u).T
    return theta


def prior_z(m: Model, *, draws: int, seed: int, sampler: str, chunk_size: int) -> np.ndarray:
    """The run's draws as independent standard normal coordinates (draws x uncertain): the
    uniforms of :func:`mkba.engine.uniforms` before the copula, through the normal inverse
    CDF. :func:`theta_from_z` maps them to parameters."""
    z = np.empty((draws, len(m.uncertain)))
    for j, (lo, hi) in enumerate(chunk_bounds(draws, chunk_size)):
        # the chunk's uniforms as the run drew them, before the copula (no factor)
        u = engine.uniforms(m, lo, hi, seed=seed, sampler=sampler, chunk=j, chunk_size=chunk_size)
        z[lo:hi] = stats.norm.ppf(u)
    return z


def theta_from_z(
    m: Model,
    z: np.ndarray,
    factor: tuple[np.ndarray, np.ndarray] | None = None,
    columns: np.ndarray | None = None,
) -> np.ndarray:
    """Parameter matrix (n x Q) of standard normal coordinates ``z`` (n x uncertain): normal
    CDF, the scenario's copula, the inverse CDFs. With ``columns`` (and no copula) only those
    uncertain parameters are mapped; the other slots keep their fixed (median) values."""
    if columns is None or factor is not None:
        u = np.clip(stats.norm.cdf(z), 2.0**-53, 1.0 - 2.0**-53)
        return m.theta_t(apply_copula(u, factor)).T
    theta = np.empty((z.shape[0], m.theta_fixed.size))
    theta[:] = m.theta_fixed[None, :]
    for j in columns:
        u = np.clip(stats.norm.cdf(z[:, j]), 2.0**-53, 1.0 - 2.0**-53)
        theta[:, m.uncertain_slot[j]] = m.inverse_cdfs[j](u) * m.uncertain_scale[j]
    return theta


def topdown_active(m: Model, pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Per pair: does the top-down budget reach it (some domain funded in the area that the
    stream responds to)? Without, its top-down effect parameters do not move its volume."""
    return np.array(
        [bool((m.response_w[s] * (m.budget_ratio[a] > 0)).sum() > 0) for a, s in pairs],
        dtype=bool,
    )


def observed_links(m: Model, pairs: tuple[tuple[int, int], ...]) -> list[int]:
    """The programme's links (measure x outcome stream) acting on an observed pair: on its
    stream, in an area where the measure has participants."""
    pr = m.programme
    if pr is None:
        return []
    out = []
    for li in range(pr.n_links):
        s, mi = int(pr.link_stream[li]), int(pr.link_int[li])
        if any(s == ps and pr.participants[mi, a].sum() > 0 for a, ps in pairs):
            out.append(li)
    return out


def link_path(m: Model, li: int) -> str:
    """Parameter path prefix of link ``li``: ``interventions.<file>.effects.<stream>``."""
    pr = m.programme
    assert pr is not None
    return (
        f"interventions.{pr.files[int(pr.link_int[li])]}.effects."
        f"{m.streams[int(pr.link_stream[li])]}"
    )


def link_net_effect(m: Model, theta: np.ndarray, links: list[int]) -> np.ndarray:
    """Units changed per participant at full strength, per draw and link:
    ``e (1 - deadweight)(1 - attribution)(1 - displacement)(1 - haircut)`` [unit/participant]
    (the factor ``peff`` of :func:`mkba.reference.programme_volume_changes`)."""
    pr = m.programme
    assert pr is not None
    theta = np.atleast_2d(theta)
    li = np.array(links, dtype=np.int64)
    lk = {n_: theta[:, pr.link_slot(n_) + li] for n_ in EFFECT_QUANTITIES}
    return (
        lk["effect"]
        * (1.0 - lk["deadweight"])
        * (1.0 - lk["attribution"])
        * (1.0 - lk["displacement"])
        * (1.0 - pr.link_haircut[li])[None, :]
    )


def volume_columns(m: Model, pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Indices of the uncertain parameters that the volumes of ``pairs`` depend on (the
    streams' and the programme's top-down parameters, and the effect parameters of the
    measures acting on them)."""
    sl = m.slots
    slots = {sl.stream(name) + s for _a, s in pairs for name in STREAM_SLOTS}
    slots |= {sl.glob(name) for name in GLOBAL_SLOTS}
    if m.programme is not None:
        pr = m.programme
        streams = {s for _a, s in pairs}
        slots |= {
            pr.link_slot(name) + li
            for li in range(pr.n_links)
            if int(pr.link_stream[li]) in streams
            for name in EFFECT_QUANTITIES
        }
    return np.array([j for j, q in enumerate(m.uncertain_slot) if int(q) in slots], dtype=np.int64)
