"""What a result implies in physical units: people off bijstand, crimes avoided, per year.

A calibration that reproduces a published headline with three free factors always fits; the
question is whether the effects it needs are believable. This module turns a run's draws back
into the volume changes of the model (docs/model.md §2) and compares them with the
evidence, computes the prior probability of the headline and switching values in physical
units. Nothing here changes the kernel: the volume change of each stream is recomputed from
the lowered arrays with the equations of :mod:`mkba.reference` (held equal to it by
``tests/test_honest_reference.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mkba import reference, results
from mkba.engine import Run
from mkba.model import DOMAIN_SLOTS, GLOBAL_SLOTS, STREAM_SLOTS, Model
from mkba.quantiles import quantiles_of
from mkba.runinfo import portable_path
from mkba.schema.scenario import PERSPECTIVES

# The streams whose volume change is reported, with the words for it.
PHYSICAL = {
    "benefit_savings": ("people off bijstand", "mensen uit de bijstand"),
    "safety": ("registered crimes avoided", "geregistreerde misdrijven voorkomen"),
    "care_youth": ("youth-care clients avoided", "jeugdzorgcliënten minder"),
    "care_wmo": ("Wmo clients avoided", "Wmo-cliënten minder"),
    "care_mental": ("ggz patients avoided", "ggz-patiënten minder"),
    "education": (
        "extra young adults with a startkwalificatie",
        "extra jongeren met startkwalificatie",
    ),
}


def theta_of_run(run: Run) -> np.ndarray:
    """The per-draw parameter matrix (draws x slots) of a run, rebuilt from its kept samples."""
    return theta_rows(run, 0, run.draws)


def theta_rows(run: Run, lo: int, hi: int) -> np.ndarray:
    """Rows ``lo:hi`` of :func:`theta_of_run` (the same numbers), without the whole matrix."""
    m = run.model
    src = run.samples if run.samples is not None else run.spilled
    if src is None:
        raise ValueError("the run did not keep its samples (keep_samples=False)")
    th = np.empty((hi - lo, m.theta_fixed.size))
    th[:] = m.theta_fixed[None, :]
    th[:, m.uncertain_slot] = src[lo:hi] * m.uncertain_scale[None, :]
    return th


def volume_changes(m: Model, theta: np.ndarray, t: np.ndarray | None = None) -> np.ndarray:
    """Volume change dV[n, s, t] (units of each stream's volume, e.g. persons, crimes per
    year), summed over areas: ``V0 * rate * factor * e * (1 - dw) * (1 - disp) * R * G *
    profile(t) * trend(t)``, the same expression as :func:`mkba.reference.simulate_chunk`.
    ``t`` (indices into the model's years; default all) computes those years only, with the
    same numbers as the columns ``t`` of the whole result."""
    theta = np.atleast_2d(theta)
    sl = m.slots
    S, D = sl.S, sl.D
    st = {name: theta[:, sl.stream(name) : sl.stream(name) + S] for name in STREAM_SLOTS}
    dm = {name: theta[:, sl.domain(name) : sl.domain(name) + D] for name in DOMAIN_SLOTS}
    del dm  # costs do not enter volumes
    gl = {name: theta[:, sl.glob(name)] for name in GLOBAL_SLOTS}
    yr = m.years if t is None else m.years[t]
    years = yr.astype(float)
    profile = reference.effect_profile(m, st, yr)  # (n, A, S, T)
    trend = (1.0 + st["trend"])[:, :, None] ** (years[None, None, :] - m.data_year[None, :, None])
    # the response R depends on the area only through its budget ratios: computed once per
    # distinct row of ratios (often one for all areas), element for element the same
    rows, row_of_area = np.unique(m.budget_ratio, axis=0, return_inverse=True)
    ratio = rows[None, :, None, :]
    beta = gl["elasticity"][:, None, None, None]
    with np.errstate(divide="ignore"):
        powered = np.where(ratio > 0, ratio**beta, 0.0)
    R = (m.response_w[None, None, :, :] * powered).sum(axis=3)[:, row_of_area.reshape(-1)]
    G = 1.0 - gl["governance_penalty"][:, None] * np.maximum(0.0, 1.0 - m.gov_ratio)[None, :]
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
    return np.einsum("nas,nast,nst->nst", amp, profile, trend)


def baseline_volumes(m: Model, theta: np.ndarray) -> np.ndarray:
    """Volume without the programme V[n, s] in the data year, summed over areas
    (``V0 * rate * factor``), e.g. bijstand recipients, registered crimes per year."""
    theta = np.atleast_2d(theta)
    sl = m.slots
    S = sl.S
    rate = theta[:, sl.stream("rate") : sl.stream("rate") + S]
    factor = theta[:, sl.stream("factor") : sl.stream("factor") + S]
    return m.volume0.sum(axis=0)[None, :] * rate * factor


def _q(x: np.ndarray) -> dict[str, float]:
    q = quantiles_of(x, (0.05, 0.5, 0.95))  # np.quantile's numbers, faster (mkba.quantiles)
    return {"mean": float(np.mean(x)), "p5": float(q[0]), "p50": float(q[1]), "p95": float(q[2])}


def physical_effects(run: Run, chunk: int = 2048, *, mean_per_year: bool = True) -> dict[str, Any]:
    """Per stream: the volume change at full strength (the last programme year), its mean over
    the years to the horizon (unless ``mean_per_year=False``: then only the full-strength year
    is computed, much faster), the baseline volume and the share of it the effect takes away.

    Computed ``chunk`` draws at a time (parameter rows rebuilt per chunk), so its memory does
    not grow with the draws beyond the (draws x streams) results."""
    m = run.model
    S = len(m.streams)
    last = int(m.prog_end.max() - m.years[0])
    first = int(m.prog_start.min() - m.years[0])
    full = np.empty((run.draws, S))
    mean = np.empty((run.draws, S)) if mean_per_year else None
    base = np.empty((run.draws, S))
    for lo in range(0, run.draws, chunk):
        hi = min(run.draws, lo + chunk)
        theta = theta_rows(run, lo, hi)
        base[lo:hi] = baseline_volumes(m, theta)
        if mean is not None:
            dv = volume_changes(m, theta)
            full[lo:hi] = dv[:, :, last]
            mean[lo:hi] = dv[:, :, first:].mean(axis=2)
        else:
            full[lo:hi] = volume_changes(m, theta, np.array([last]))[:, :, 0]
    out: dict[str, Any] = {"year_full_strength": int(m.years[last]), "streams": {}}
    for s, (en, nl) in PHYSICAL.items():
        if s not in m.streams:
            continue
        i = m.streams.index(s)
        doc = {
            "what": en,
            "what_nl": nl,
            "unit": m.spec.params.streams[s].volume.unit,
            "at_full_strength": _q(full[:, i]),
        }
        if mean is not None:
            doc["mean_per_year"] = _q(mean[:, i])
        doc["baseline"] = _q(base[:, i])
        doc["share_of_baseline"] = _q(full[:, i] / base[:, i])
        out["streams"][s] = doc
    return out


def headline_probability(
    run: Run, benefits: float = 5.8e9, benefit_savings: float = 1.8e9
) -> dict[str, float]:
    """Share of draws (study perspective) that reach the published benefits, the published
    benefit savings, and both. On an uncalibrated (evidence) run: the prior probability of the
    headline."""
    p = PERSPECTIVES.index("study")
    o = run.outcomes
    b = o.benefits[:, p]
    bs = o.stream[:, p, run.model.streams.index("benefit_savings")]
    return {
        "benefits_target": benefits,
        "benefit_savings_target": benefit_savings,
        "share_benefits": float(np.mean(b >= benefits)),
        "share_benefit_savings": float(np.mean(bs >= benefit_savings)),
        "share_both": float(np.mean((b >= benefits) & (bs >= benefit_savings))),
        "draws": run.draws,
    }


def switching_physical(
    run: Run,
    stream: str,
    perspective: str = "welfare",
    physical: dict[str, Any] | None = None,
) -> dict[str, float]:
    """How many units of a stream's volume change (at full strength) the programme needs for
    the mean NPV of ``perspective`` to be zero, all else as drawn.

    The NPV is linear in a stream's effect size e (every flow of the stream is proportional to
    e), so scaling e by k gives ``NPV(k) = NPV(1) + (k - 1) * PV_s`` draw by draw and the mean
    NPV is zero at ``k* = 1 - mean(NPV) / mean(PV_s)``; the physical switching value is
    ``k*`` times the mean volume change at full strength.
    """
    m = run.model
    p = PERSPECTIVES.index(perspective)
    o = run.outcomes
    i = m.streams.index(stream)
    npv = float(np.mean(o.benefits[:, p] - o.costs[:, p]))
    pv = float(np.mean(o.stream[:, p, i]))
    pe = physical if physical is not None else physical_effects(run)
    phys = pe["streams"][stream]["at_full_strength"]["mean"]
    k = 1.0 - npv / pv if pv != 0 else float("nan")
    return {
        "stream": stream,
        "perspective": perspective,
        "mean_npv": npv,
        "mean_stream_pv": pv,
        "factor": k,
        "mean_at_full_strength": phys,
        "needed_at_full_strength": k * phys,
    }


def side_summary(run: Run) -> dict[str, Any]:
    """What is shown side by side for a scenario and its companion: every perspective's
    costs, benefits, NPV, BCR (statistics) and P(NPV > 0), whether it is calibrated (a
    reconstruction of a published claim) or not (the evidence), the physical effects at full
    strength and, uncalibrated, the prior probability of the 2021 headline."""
    m = run.model
    calibrated = m.spec.calibration_path is not None
    out: dict[str, Any] = {
        "scenario": m.spec.name,
        "title": m.spec.scenario.title,
        "calibrated": calibrated,
        "calibration_file": portable_path(m.spec.calibration_path) if calibrated else None,
        "role": "reconstruction" if calibrated else "evidence",
        "draws": run.draws,
        "seed": run.seed,
        "perspectives": {},
    }
    for p in PERSPECTIVES:
        arr = results.perspective_arrays(run, p)
        out["perspectives"][p] = {k: results.stats(v) for k, v in arr.items()} | {
            "prob_npv_positive": float(np.mean(arr["npv"] > 0))
        }
    phys = physical_effects(run, mean_per_year=False)
    out["implied_physical"] = {
        "year_full_strength": phys["year_full_strength"],
        "streams": {
            s: {k: v[k] for k in ("what", "what_nl", "unit", "at_full_strength", "baseline")}
            for s, v in phys["streams"].items()
        },
    }
    if calibrated:
        from mkba.tomlio import read_toml

        assert m.spec.calibration_path is not None  # calibrated values come from a record
        rec = read_toml(m.spec.calibration_path).get("record", {})
        out["calibration_factors"] = [
            {"params": list(f["params"]), "factor": float(f["factor"])} for f in rec.get("free", [])
        ]
    if "benefit_savings" in m.streams:
        out["headline_probability"] = headline_probability(run)
    if not calibrated:
        out["switching_welfare"] = {
            s: switching_physical(run, s, "welfare", phys)
            for s in ("benefit_savings", "safety")
            if s in m.streams
        }
    return out


def ordered(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Two side summaries in reading order: the evidence first, the reconstruction second."""
    return sorted([a, b], key=lambda d: d["calibrated"])
