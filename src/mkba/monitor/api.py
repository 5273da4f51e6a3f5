"""``mkba monitor``: observations against the projected band, and the draws updated by them.

One library call: :func:`monitor`. It runs the scenario's prior draws, projects the observed
volumes per draw, tabulates the P5-P95 bands with and without the programme against the
observations (flagging those outside the band with the programme), reweights the draws by the
observations' likelihood (:mod:`mkba.monitor.update`), and writes the posterior as a run
directory (an equal-weight set resampled with the weights) with the monitoring tables and
charts beside the usual files, so ``mkba report`` works on it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mkba import engine
from mkba.api import RunResult, default_run_dir, finish_run, run_id
from mkba.engine import Outcomes, Run
from mkba.errors import InputError, Problem
from mkba.load import load_scenario
from mkba.model import Model, lower
from mkba.monitor import update as up
from mkba.monitor.observations import Observations, load_observations
from mkba.monitor.projection import (
    BAND,
    link_net_effect,
    link_path,
    net_effect,
    observed_links,
    prior_theta,
    prior_z,
    theta_from_z,
    topdown_active,
    volume_columns,
    volumes,
)
from mkba.output import write_table
from mkba.outputs import output_array, parse_output
from mkba.runinfo import portable_path
from mkba.schema.interventions import EFFECT_QUANTITIES
from mkba.schema.scenario import PERSPECTIVES

DEFAULT_MIN_ESS = 200.0
Z90 = 1.6448536269514722
"""Half-width of a two-sided 90 % normal interval [sd]."""
RESAMPLE_STREAM = 16
"""Spawn key of the resampling stream under the run's seed (independent of the sampler's)."""

# parameters of a stream that monitoring data can inform
STREAM_PARAMETERS = (
    "volume.rate",
    "volume.factor",
    "trend",
    "effect",
    "deadweight",
    "displacement",
    "lag",
    "ramp",
    "half_life",
)
GLOBAL_PARAMETERS = ("programme.elasticity", "programme.governance_penalty")
VOLUME_PARAMETERS = ("volume.rate", "volume.factor", "trend")
"""Stream parameters that move the nulalternatief volume itself (informed with or without a
top-down budget)."""


@dataclass
class MonitorResult:
    """Everything ``mkba monitor`` shows and writes."""

    model: Model
    observations: Observations
    bands: pd.DataFrame  # per series and year: bands with and without the programme, observed
    parameters: pd.DataFrame  # prior and posterior of the informed parameters
    outcomes: pd.DataFrame  # prior and posterior NPV, BCR, P(NPV > 0) per perspective
    weights: np.ndarray  # importance weights of the prior draws
    ess: float  # their effective sample size
    prior_draws: int
    min_ess: float
    method: str
    warnings: list[str]
    summary: dict[str, Any]
    posterior: RunResult | None = None
    timings: dict[str, float] = field(default_factory=dict)


def planned(m: Model, obs: Observations) -> np.ndarray:
    """(J,) planned participants of each participants row (NaN for volume rows)."""
    out = np.full(len(obs), math.nan)
    if m.programme is not None:
        for j in np.flatnonzero(~obs.is_volume):
            a = m.areas.index(obs.area[j])
            out[j] = m.programme.participants[obs.entry[j], a, obs.t[j]]
    return out


def _expected(V: np.ndarray, dV: np.ndarray, obs: Observations, m: Model) -> np.ndarray:
    """(n, J) the model's value of each observation: the volume with the programme, or the
    planned participants (the same in every draw, so they do not change the weights)."""
    vol = obs.is_volume
    out = np.empty((V.shape[0], len(obs)))
    out[:, vol] = V[:, obs.pair[vol], obs.t[vol]] - dV[:, obs.pair[vol], obs.t[vol]]
    out[:, ~vol] = planned(m, obs)[None, ~vol]
    return out


def _band_table(
    m: Model, obs: Observations, V: np.ndarray, dV: np.ndarray, Wpost: np.ndarray, w: np.ndarray
) -> pd.DataFrame:
    """Per observed series and year (base_year..horizon): quantiles of the volume without
    (``null_*``) and with the programme (``prog_*``, and ``post_*`` after updating), the
    observation and whether it lies outside the P5-P95 band with the programme.
    ``Wpost`` (n', P, T) is the volume with the programme of the posterior draws, weighted
    by ``w``."""
    W = V - dV
    qn = np.quantile(V, BAND, axis=0)  # (3, P, T)
    qp = np.quantile(W, BAND, axis=0)
    rows = []
    key = list(zip(obs.indicator, obs.area, obs.intervention, strict=True))
    obs_at = {(*key[j], int(obs.year[j])): j for j in range(len(obs))}
    T = len(m.years)
    for ind, area, entry in obs.series():
        j0 = key.index((ind, area, entry))
        k = int(obs.pair[j0])
        if k >= 0:
            q = np.array(BAND)
            post = np.stack([up.weighted_quantile(Wpost[:, k, t], w, q) for t in range(T)], 1)
            null, prog, stream = qn[:, k], qp[:, k], m.streams[obs.pairs[k][1]]
        else:  # participants: none without the programme, the plan with it (every draw)
            assert m.programme is not None
            plan = m.programme.participants[obs.entry[j0], m.areas.index(area)]
            post = prog = np.stack([plan] * 3)
            null, stream = np.zeros((3, T)), ""
        for t, year in enumerate(m.years):
            j = obs_at.get((ind, area, entry, int(year)))
            row: dict[str, Any] = {
                "indicator": ind,
                "area_id": area,
                "stream": stream,
                "intervention": entry,
                "year": int(year),
                "null_p5": null[0, t],
                "null_p50": null[1, t],
                "null_p95": null[2, t],
                "prog_p5": prog[0, t],
                "prog_p50": prog[1, t],
                "prog_p95": prog[2, t],
                "post_p5": post[0, t],
                "post_p50": post[1, t],
                "post_p95": post[2, t],
                "observed": obs.value[j] if j is not None else math.nan,
                "sd": obs.sd[j] if j is not None else math.nan,
                "baseline": bool(obs.baseline[j]) if j is not None else False,
                "flag": "",
            }
            if j is not None:
                # a volume outside the P5-P95 band with the programme; participants: the plan
                # outside the observation's 90 % measurement interval (value +- 1.645 sd)
                lo, hi = prog[0, t], prog[2, t]
                if k < 0:
                    lo, hi = plan[t] - Z90 * obs.sd[j], plan[t] + Z90 * obs.sd[j]
                if obs.value[j] < lo:
                    row["flag"] = "below"
                elif obs.value[j] > hi:
                    row["flag"] = "above"
            rows.append(row)
    return pd.DataFrame(rows)


def _parameter_table(m: Model, obs: Observations, prior: Draws, post: Draws) -> pd.DataFrame:
    """Prior and posterior statistics of the uncertain parameters of the observed streams
    and the programme, and of the net effect share per observed area and stream."""
    streams = sorted({p[1] for p in obs.pairs})
    active = topdown_active(m, obs.pairs)
    td_streams = {s for (_a, s), on in zip(obs.pairs, active, strict=True) if on}
    # a stream's top-down effect parameters only where the top-down budget reaches it
    wanted = [
        f"streams.{m.streams[s]}.{k}"
        for s in streams
        for k in STREAM_PARAMETERS
        if s in td_streams or k in VOLUME_PARAMETERS
    ]
    if td_streams:
        wanted += list(GLOBAL_PARAMETERS)
    links = observed_links(m, obs.pairs)
    wanted += [f"{link_path(m, li)}.{k}" for li in links for k in EFFECT_QUANTITIES]
    rows = []
    for path in wanted:
        if path not in m.uncertain:
            continue
        j = m.uncertain.index(path)
        rows.append(
            _stat_row("parameter", path, "", prior.samples[:, j], post.samples[:, j], post.w)
        )
    ne0 = net_effect(m, prior.theta, obs.pairs)
    ne1 = net_effect(m, post.theta, obs.pairs)
    if links:
        le0 = link_net_effect(m, prior.theta, links)
        le1 = link_net_effect(m, post.theta, links)
        for k, li in enumerate(links):
            rows.append(
                _stat_row(
                    "net_effect", f"{link_path(m, li)}.net_effect", "", le0[:, k], le1[:, k], post.w
                )
            )
    for k, (a, s) in enumerate(obs.pairs):
        if not active[k]:
            continue
        rows.append(
            _stat_row(
                "net_effect",
                f"streams.{m.streams[s]}.net_effect",
                m.areas[a],
                ne0[:, k],
                ne1[:, k],
                post.w,
            )
        )
    if not rows:  # only participants observed: nothing is informed
        keys = list(_stat_row("", "", "", np.zeros(1), np.zeros(1), np.ones(1)))
        return pd.DataFrame(columns=keys)
    return pd.DataFrame(rows)


def _stat_row(
    kind: str, name: str, area: str, x0: np.ndarray, x1: np.ndarray, w: np.ndarray
) -> dict[str, Any]:
    prior = up.weighted_stats(x0)
    post = up.weighted_stats(x1, w)
    return {
        "kind": kind,
        "name": name,
        "area_id": area,
        **{f"prior_{k}": v for k, v in prior.items()},
        **{f"post_{k}": v for k, v in post.items()},
        "sd_ratio": post["sd"] / prior["sd"] if prior["sd"] > 0 else math.nan,
    }


def _outcome_table(m: Model, obs: Observations, prior: Outcomes, post: Draws) -> pd.DataFrame:
    """Prior and posterior NPV, BCR, costs, benefits and P(NPV > 0) per perspective, and the
    NPV of each observed area (scenario perspective)."""
    o1, w = post.outcomes, post.w

    def both(name: str) -> tuple[np.ndarray, np.ndarray]:
        ref = parse_output(m, name)
        return output_array(prior, m, ref), output_array(o1, m, ref)

    rows = []
    for name in PERSPECTIVES:
        for metric in ("costs_pv", "benefits_pv", "npv", "bcr"):
            x0, x1 = both(f"{name}.{metric}")
            rows.append({"perspective": name, **_stat_row("outcome", metric, "", x0, x1, w)})
        x0, x1 = both(f"{name}.npv")
        rows.append(
            {
                "perspective": name,
                "kind": "outcome",
                "name": "prob_npv_positive",
                "area_id": "",
                "prior_mean": float(np.mean(x0 > 0)),
                "post_mean": float(np.sum(w * (x1 > 0))),
            }
        )
    persp = m.spec.scenario.perspective
    for a in sorted({p[0] for p in obs.pairs}):
        x0, x1 = both(f"by_area.{m.areas[a]}.npv")
        rows.append({"perspective": persp, **_stat_row("area", "npv", m.areas[a], x0, x1, w)})
    return pd.DataFrame(rows)


@dataclass
class Draws:
    """A (weighted) set of draws: parameters, sampled values, outcomes and weights."""

    theta: np.ndarray  # (n, Q)
    samples: np.ndarray  # (n, U) uncertain parameters in their own units
    outcomes: Outcomes
    w: np.ndarray  # (n,) summing to one


def _as_run(run: Run, outcomes: Outcomes, samples: np.ndarray | None) -> Run:
    """A run of the same scenario and settings with other (equal-weight) draws."""
    m = run.model
    chunk_means = np.array(
        [
            engine.chunk_mean_npv(m, outcomes.take(slice(lo, lo + run.chunk_size)))
            for lo in range(0, outcomes.benefits.shape[0], run.chunk_size)
        ]
    )
    return Run(
        model=m,
        outcomes=outcomes,
        draws=outcomes.benefits.shape[0],
        seed=run.seed,
        sampler=run.sampler,
        chunk_size=run.chunk_size,
        samples=samples,
        timings=dict(run.timings),
        chunk_means=chunk_means,
    )


def resampled_run(run: Run, w: np.ndarray, rng: np.random.Generator) -> tuple[Run, np.ndarray]:
    """An equal-weight set of ``run.draws`` draws resampled systematically with weights
    ``w``; also the indices taken."""
    idx = up.systematic_resample(w, run.draws, rng)
    out = Outcomes(**{k: np.ascontiguousarray(v[idx]) for k, v in run.outcomes.fields().items()})
    samples = run.samples[idx] if run.samples is not None else None
    return _as_run(run, out, samples), idx


METHODS = ("auto", "is", "smc")


def monitor(
    scenario: Path | str,
    observations: Path | str,
    *,
    variant: str | None = None,
    draws: int | None = None,
    seed: int | None = None,
    through: int | None = None,
    method: str = "auto",
    min_ess: float = DEFAULT_MIN_ESS,
    out: Path | None = None,
    write: bool = True,
    lang: str = "en",
) -> MonitorResult:
    """Observations against the projected bands, and the posterior after updating.

    Parameters
    ----------
    scenario, observations : path
        Scenario file; observations CSV (with its ``.toml`` sidecar beside it).
    draws, seed : int, optional
        Prior draws and seed (default: the scenario's).
    through : int, optional
        Use only observations up to and including this year.
    method : {"auto", "is", "smc"}
        ``is``: importance weights on the prior draws; ``smc``: regenerate the draws by
        tempered sequential Monte Carlo (:func:`mkba.monitor.update.tempered_smc`); ``auto``:
        ``is`` unless its effective sample size is below ``min_ess``, then ``smc``.
    min_ess : float
        Effective sample size below which importance sampling counts as collapsed [draws].
    out : path, optional
        Posterior run directory (default ``runs/<scenario>-monitor-<id>``).
    """
    if method not in METHODS:
        raise InputError([Problem("--method", "", f"must be one of {', '.join(METHODS)}", method)])
    t0 = time.perf_counter()
    spec = load_scenario(scenario, variant=variant)
    m = lower(spec)
    obs = load_observations(observations, m)
    if through is not None:
        obs = obs.through(int(through))
    sc = spec.scenario
    n = sc.draws if draws is None else int(draws)
    seed = sc.seed if seed is None else int(seed)
    t1 = time.perf_counter()
    run = engine.simulate(m, draws=n, seed=seed, keep_samples=True)
    assert run.samples is not None
    theta = prior_theta(m, draws=n, seed=seed, sampler=run.sampler, chunk_size=run.chunk_size)
    V, dV = volumes(m, theta, obs.pairs)

    def loglik_theta(th: np.ndarray) -> np.ndarray:
        Vt, dVt = volumes(m, th, obs.pairs)
        return up.log_likelihood(_expected(Vt, dVt, obs, m), obs.value, obs.sd, obs.discrepancy_cv)

    ll = up.log_likelihood(_expected(V, dV, obs, m), obs.value, obs.sd, obs.discrepancy_cv)
    w = up.normalise(ll)
    e = up.ess(w)
    used = method if method != "auto" else ("is" if e >= min_ess else "smc")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(RESAMPLE_STREAM,)))
    warnings = []
    smc_stages: list[dict[str, float]] = []
    if used == "is":
        if e < min_ess:
            warnings.append(
                f"effective sample size {e:.0f} of {n} draws is below {min_ess:.0f}: the "
                "importance weights have collapsed and the posterior rests on few draws; use "
                "--method smc (or auto) to regenerate the draws, or more --draws"
            )
        post_run, idx = resampled_run(run, w, rng)
        post = Draws(theta=theta, samples=run.samples, outcomes=run.outcomes, w=w)
        distinct = int(np.unique(idx).size)
    else:
        if method == "auto":
            warnings.append(
                f"effective sample size {e:.0f} of {n} draws is below {min_ess:.0f}: the "
                "importance weights collapsed; the draws were regenerated by tempered "
                "sequential Monte Carlo"
            )
        factor = engine.correlation_factor(m)
        z0 = prior_z(m, draws=n, seed=seed, sampler=run.sampler, chunk_size=run.chunk_size)
        cols = volume_columns(m, obs.pairs)
        res_smc = up.tempered_smc(lambda z: loglik_theta(theta_from_z(m, z, factor, cols)), z0, rng)
        smc_stages = res_smc.stages
        th_post = theta_from_z(m, res_smc.z, factor)
        outcomes = engine.evaluate(m, th_post, chunk_size=run.chunk_size)
        samples = th_post[:, m.uncertain_slot] / m.uncertain_scale[None, :]
        post_run = _as_run(run, outcomes, samples)
        post = Draws(theta=th_post, samples=samples, outcomes=outcomes, w=np.full(n, 1.0 / n))
        distinct = int(np.unique(res_smc.z, axis=0).shape[0])
    t2 = time.perf_counter()
    Vp, dVp = volumes(m, post.theta, obs.pairs)
    bands = _band_table(m, obs, V, dV, Vp - dVp, post.w)
    params = _parameter_table(
        m, obs, Draws(theta, run.samples, run.outcomes, np.full(n, 1 / n)), post
    )
    outcomes_table = _outcome_table(m, obs, run.outcomes, post)
    flagged = bands[bands["flag"] != ""]
    off_plan = flagged[flagged["intervention"] != ""]
    n_vol = int(obs.is_volume.sum())
    if len(flagged) > len(off_plan):
        warnings.append(
            f"{len(flagged) - len(off_plan)} of {n_vol} observations lie outside the P5-P95 "
            "band with the programme"
        )
    for entry in dict.fromkeys(off_plan["intervention"]):
        d = off_plan[off_plan["intervention"] == entry]
        warnings.append(
            f"observed participants of {entry} differ from the plan in {len(d)} "
            f"area-year{'s' if len(d) > 1 else ''} "
            f"({', '.join(f'{a} {y}' for a, y in zip(d['area_id'], d['year'], strict=True))}): "
            "the projected volumes assume the planned participants"
        )
    rid = run_id(spec, n, seed, run.sampler, run.chunk_size)
    mon_id = f"{rid}-{obs.digest[:8]}-{used}"
    npv0 = output_array(run.outcomes, m, "npv")  # the scenario's perspective
    npv1 = output_array(post.outcomes, m, "npv")
    summary: dict[str, Any] = {
        "scenario": spec.label,
        "observations_file": str(obs.path),
        "observations_hash": obs.digest,
        "illustrative": obs.sidecar.illustrative,
        "observations": len(obs),
        "series": ["/".join(x for x in s if x) for s in obs.series()],
        "years": [int(obs.year.min()), int(obs.year.max())],
        "prior_draws": n,
        "method": used,
        "ess": e,
        "ess_share": e / n,
        "min_ess": min_ess,
        "posterior_distinct_draws": distinct,
        "smc_stages": smc_stages,
        "outside_band": len(flagged),
        "perspective": sc.perspective,
        "likelihood": "independent normal measurement error on the volume with the programme "
        "(V - dV); variance sd^2 + (discrepancy_cv * mu)^2",
        "prior": {
            "npv_mean": float(npv0.mean()),
            "prob_npv_positive": float(np.mean(npv0 > 0)),
        },
        "posterior": {
            "npv_mean": float(np.sum(post.w * npv1)),
            "prob_npv_positive": float(np.sum(post.w * (npv1 > 0))),
        },
        "warnings": warnings,
        "monitor_id": mon_id,
    }
    res = MonitorResult(
        model=m,
        observations=obs,
        bands=bands,
        parameters=params,
        outcomes=outcomes_table,
        weights=w,
        ess=e,
        prior_draws=n,
        min_ess=min_ess,
        method=used,
        warnings=warnings,
        summary=summary,
        timings={"load_s": t1 - t0, "update_s": t2 - t1},
    )
    out_dir = None
    if write:
        out_dir = Path(out) if out is not None else default_run_dir(spec, mon_id, "monitor")

    def extra_files(folder: Path) -> list[str]:
        from mkba.monitor import charts

        sub = folder / "monitor"
        files = write_table(sub, "bands", bands)
        files += write_table(sub, "parameters", params)
        files += write_table(sub, "outcomes", outcomes_table)
        files += write_table(
            sub, "weights", pd.DataFrame({"draw": np.arange(n), "weight": w}), csv=False
        )
        files += charts.write_charts(res, sub, lang=lang)
        return [f"monitor/{f}" for f in files]

    summary["output_dir"] = portable_path(out_dir)
    res.posterior = finish_run(
        post_run,
        spec,
        out=out_dir,
        write=write,
        timings=res.timings,
        t0=t0,
        extra={"monitoring": summary},
        rid=mon_id,
        write_extra=extra_files,
    )
    return res
