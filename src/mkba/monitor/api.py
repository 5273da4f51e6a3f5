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
from mkba.api import RunResult, finish_run, run_id
from mkba.engine import Outcomes, Run
from mkba.load import load_scenario
from mkba.model import Model, lower
from mkba.monitor import update as up
from mkba.monitor.observations import Observations, load_observations
from mkba.monitor.projection import BAND, net_effect, prior_theta, volumes
from mkba.output import write_table
from mkba.schema.scenario import PERSPECTIVES

DEFAULT_MIN_ESS = 200.0
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


@dataclass
class MonitorResult:
    """Everything ``mkba monitor`` shows and writes."""

    model: Model
    observations: Observations
    bands: pd.DataFrame  # per series and year: bands with and without the programme, observed
    parameters: pd.DataFrame  # prior and posterior of the informed parameters
    outcomes: pd.DataFrame  # prior and posterior NPV, BCR, P(NPV > 0) per perspective
    weights: np.ndarray
    ess: float
    prior_draws: int
    min_ess: float
    warnings: list[str]
    summary: dict[str, Any]
    posterior: RunResult | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _expected(V: np.ndarray, dV: np.ndarray, obs: Observations) -> np.ndarray:
    """(n, J) the model's value of each observation: the volume with the programme."""
    return V[:, obs.pair, obs.t] - dV[:, obs.pair, obs.t]


def _band_table(
    m: Model, obs: Observations, V: np.ndarray, dV: np.ndarray, w: np.ndarray
) -> pd.DataFrame:
    """Per observed series and year (base_year..horizon): quantiles of the volume without
    (``null_*``) and with the programme (``prog_*``, and ``post_*`` after updating), the
    observation and whether it lies outside the P5-P95 band with the programme."""
    W = V - dV
    qn = np.quantile(V, BAND, axis=0)  # (3, P, T)
    qp = np.quantile(W, BAND, axis=0)
    rows = []
    obs_at = {(obs.indicator[j], obs.area[j], int(obs.year[j])): j for j in range(len(obs))}
    for ind, area in obs.series():
        j0 = next(j for j in range(len(obs)) if (obs.indicator[j], obs.area[j]) == (ind, area))
        k = int(obs.pair[j0])
        q = np.array(BAND)
        post = np.stack([up.weighted_quantile(W[:, k, t], w, q) for t in range(W.shape[2])], 1)
        for t, year in enumerate(m.years):
            j = obs_at.get((ind, area, int(year)))
            row: dict[str, Any] = {
                "indicator": ind,
                "area_id": area,
                "stream": m.streams[obs.pairs[k][1]],
                "year": int(year),
                "null_p5": qn[0, k, t],
                "null_p50": qn[1, k, t],
                "null_p95": qn[2, k, t],
                "prog_p5": qp[0, k, t],
                "prog_p50": qp[1, k, t],
                "prog_p95": qp[2, k, t],
                "post_p5": post[0, t],
                "post_p50": post[1, t],
                "post_p95": post[2, t],
                "observed": obs.value[j] if j is not None else math.nan,
                "sd": obs.sd[j] if j is not None else math.nan,
                "baseline": bool(obs.baseline[j]) if j is not None else False,
                "flag": "",
            }
            if j is not None:
                if obs.value[j] < qp[0, k, t]:
                    row["flag"] = "below"
                elif obs.value[j] > qp[2, k, t]:
                    row["flag"] = "above"
            rows.append(row)
    return pd.DataFrame(rows)


def _parameter_table(
    m: Model, obs: Observations, samples: np.ndarray, theta: np.ndarray, w: np.ndarray
) -> pd.DataFrame:
    """Prior and posterior statistics of the uncertain parameters of the observed streams
    and the programme, and of the net effect share per observed area and stream."""
    streams = sorted({p[1] for p in obs.pairs})
    wanted = [f"streams.{m.streams[s]}.{k}" for s in streams for k in STREAM_PARAMETERS]
    wanted += list(GLOBAL_PARAMETERS)
    rows = []
    for path in wanted:
        if path not in m.uncertain:
            continue
        x = samples[:, m.uncertain.index(path)]
        rows.append(_stat_row("parameter", path, "", x, w))
    ne = net_effect(m, theta, obs.pairs)
    for k, (a, s) in enumerate(obs.pairs):
        rows.append(
            _stat_row("net_effect", f"streams.{m.streams[s]}.net_effect", m.areas[a], ne[:, k], w)
        )
    return pd.DataFrame(rows)


def _stat_row(kind: str, name: str, area: str, x: np.ndarray, w: np.ndarray) -> dict[str, Any]:
    prior = up.weighted_stats(x)
    post = up.weighted_stats(x, w)
    return {
        "kind": kind,
        "name": name,
        "area_id": area,
        **{f"prior_{k}": v for k, v in prior.items()},
        **{f"post_{k}": v for k, v in post.items()},
        "sd_ratio": post["sd"] / prior["sd"] if prior["sd"] > 0 else math.nan,
    }


def _outcome_table(run: Run, w: np.ndarray) -> pd.DataFrame:
    """Prior and posterior NPV, BCR, costs, benefits and P(NPV > 0) per perspective."""
    o = run.outcomes
    rows = []
    for p, name in enumerate(PERSPECTIVES):
        for metric, x in (
            ("costs_pv", o.costs[:, p]),
            ("benefits_pv", o.benefits[:, p]),
            ("npv", o.npv[:, p]),
            ("bcr", o.bcr[:, p]),
        ):
            rows.append({"perspective": name, **_stat_row("outcome", metric, "", x, w)})
        pos = (o.npv[:, p] > 0).astype(float)
        rows.append(
            {
                "perspective": name,
                "kind": "outcome",
                "name": "prob_npv_positive",
                "area_id": "",
                "prior_mean": float(pos.mean()),
                "post_mean": float(np.sum(w * pos)),
            }
        )
    return pd.DataFrame(rows)


def posterior_run(run: Run, w: np.ndarray) -> tuple[Run, np.ndarray]:
    """An equal-weight set of ``run.draws`` draws resampled systematically with weights ``w``
    (seeded from the run's seed: the same inputs give the same set)."""
    rng = np.random.default_rng(np.random.SeedSequence(run.seed, spawn_key=(RESAMPLE_STREAM,)))
    idx = up.systematic_resample(w, run.draws, rng)
    out = Outcomes(**{k: np.ascontiguousarray(v[idx]) for k, v in run.outcomes.fields().items()})
    m = run.model
    chunk_means = np.array(
        [
            engine.chunk_mean_npv(m, out.take(slice(lo, lo + run.chunk_size)))
            for lo in range(0, run.draws, run.chunk_size)
        ]
    )
    return (
        Run(
            model=m,
            outcomes=out,
            draws=run.draws,
            seed=run.seed,
            sampler=run.sampler,
            chunk_size=run.chunk_size,
            samples=run.samples[idx] if run.samples is not None else None,
            timings=dict(run.timings),
            chunk_means=chunk_means,
        ),
        idx,
    )


def monitor(
    scenario: Path | str,
    observations: Path | str,
    *,
    variant: str | None = None,
    draws: int | None = None,
    seed: int | None = None,
    through: int | None = None,
    min_ess: float = DEFAULT_MIN_ESS,
    max_draws: int | None = None,
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
    min_ess : float
        Effective sample size below which a warning is given [draws].
    max_draws : int, optional
        Regenerate: while the ESS is below ``min_ess``, double the prior draws, up to this
        number (default: no regeneration).
    out : path, optional
        Posterior run directory (default ``runs/<scenario>-monitor-<id>``).
    """
    t0 = time.perf_counter()
    spec = load_scenario(scenario, variant=variant)
    m = lower(spec)
    obs = load_observations(observations, m)
    if through is not None:
        obs = obs.through(int(through))
    sc = spec.scenario
    n = sc.draws if draws is None else int(draws)
    seed = sc.seed if seed is None else int(seed)
    cap = n if max_draws is None else max(int(max_draws), n)
    t1 = time.perf_counter()
    history = []
    while True:
        run = engine.simulate(m, draws=n, seed=seed, keep_samples=True)
        theta = prior_theta(m, draws=n, seed=seed, sampler=run.sampler, chunk_size=run.chunk_size)
        V, dV = volumes(m, theta, obs.pairs)
        loglik = up.log_likelihood(_expected(V, dV, obs), obs.value, obs.sd, obs.discrepancy_cv)
        w = up.normalise(loglik)
        e = up.ess(w)
        history.append({"draws": n, "ess": e})
        if e >= min_ess or 2 * n > cap:
            break
        n *= 2
    t2 = time.perf_counter()
    warnings = []
    if e < min_ess:
        warnings.append(
            f"effective sample size {e:.0f} of {n} draws is below {min_ess:.0f}: the posterior "
            "rests on few draws; run with more draws (--draws, or --max-draws to regenerate "
            "until the target is met), or check the observations against the band"
        )
    bands = _band_table(m, obs, V, dV, w)
    assert run.samples is not None
    params = _parameter_table(m, obs, run.samples, theta, w)
    outcomes = _outcome_table(run, w)
    flagged = bands[bands["flag"] != ""]
    if len(flagged):
        warnings.append(
            f"{len(flagged)} of {len(obs)} observations lie outside the P5-P95 band with the "
            "programme"
        )
    rid = run_id(spec, n, seed, run.sampler, run.chunk_size)
    mon_id = f"{rid}-{obs.digest[:8]}"
    p0 = PERSPECTIVES.index(sc.perspective)
    summary: dict[str, Any] = {
        "scenario": spec.label,
        "observations_file": str(obs.path),
        "observations_hash": obs.digest,
        "illustrative": obs.sidecar.illustrative,
        "observations": len(obs),
        "series": [f"{i}/{a}" for i, a in obs.series()],
        "years": [int(obs.year.min()), int(obs.year.max())],
        "prior_draws": n,
        "ess": e,
        "ess_share": e / n,
        "min_ess": min_ess,
        "regeneration": history,
        "outside_band": len(flagged),
        "perspective": sc.perspective,
        "likelihood": "independent normal measurement error on the volume with the programme "
        "(V - dV); variance sd^2 + (discrepancy_cv * mu)^2",
        "resampling": "systematic, seeded from the run seed",
        "prior": {
            "npv_mean": float(run.outcomes.npv[:, p0].mean()),
            "prob_npv_positive": float(np.mean(run.outcomes.npv[:, p0] > 0)),
        },
        "posterior": {
            "npv_mean": float(np.sum(w * run.outcomes.npv[:, p0])),
            "prob_npv_positive": float(np.sum(w * (run.outcomes.npv[:, p0] > 0))),
        },
        "warnings": warnings,
        "monitor_id": mon_id,
    }
    post_run, idx = posterior_run(run, w)
    summary["resampled_distinct_draws"] = int(np.unique(idx).size)
    res = MonitorResult(
        model=m,
        observations=obs,
        bands=bands,
        parameters=params,
        outcomes=outcomes,
        weights=w,
        ess=e,
        prior_draws=n,
        min_ess=min_ess,
        warnings=warnings,
        summary=summary,
        timings={"load_s": t1 - t0, "simulate_update_s": t2 - t1},
    )
    out_dir = None
    if write:
        out_dir = (
            Path(out)
            if out is not None
            else Path("runs") / f"{spec.label.replace(':', '-')}-monitor-{mon_id}"
        )

    def extra_files(folder: Path) -> list[str]:
        from mkba.monitor import charts

        files = write_table(folder / "monitor", "bands", bands)
        files += write_table(folder / "monitor", "parameters", params)
        files += write_table(folder / "monitor", "outcomes", outcomes)
        files += write_table(
            folder / "monitor",
            "weights",
            pd.DataFrame({"draw": np.arange(n), "weight": w}),
            csv=False,
        )
        files += charts.write_charts(res, folder / "monitor", lang=lang)
        return [f"monitor/{f}" for f in files]

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
    summary["output_dir"] = str(out_dir) if out_dir is not None else None
    return res
