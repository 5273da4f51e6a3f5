"""Issue 17 (i22-side): the side summary's headline probability (each comparison made once)
and switching values (the mean NPV computed once for both streams) give exactly what the code
before the change gave (its functions copied verbatim below), compared with ``==`` on every
float, on a run of the evidence scenario and on edge outcomes: NaN, values exactly at the
targets (``>=`` counts them), signed zeros, one draw.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mkba import engine, implied, results
from mkba.checks import runnable
from mkba.engine import Run
from mkba.load import load_scenario
from mkba.schema.scenario import PERSPECTIVES

ROOT = Path(__file__).resolve().parents[1]
EVIDENCE = ROOT / "scenarios" / "evidence-2021.toml"


# --- the code before i22-side, verbatim ------------------------------------------------------
def old_headline_probability(
    run: Run, benefits: float = 5.8e9, benefit_savings: float = 1.8e9
) -> dict[str, float]:
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


def old_switching_npv(run: Run, perspective: str) -> float:
    return float(np.mean(run.outcomes.npv_of(PERSPECTIVES.index(perspective))))


# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run() -> Run:
    return engine.simulate(runnable(load_scenario(EVIDENCE)), draws=3000, seed=9)


def _edge(run: Run, n: int) -> Run:
    """The first ``n`` draws with NaN, the targets themselves and signed zeros written in."""
    o = run.outcomes
    p = PERSPECTIVES.index("study")
    i = run.model.streams.index("benefit_savings")
    benefits, costs, stream = o.benefits[:n].copy(), o.costs[:n].copy(), o.stream[:n].copy()
    specials = [np.nan, 5.8e9, np.nextafter(5.8e9, 0.0), 0.0, -0.0, np.inf, -np.inf]
    for k, v in enumerate(specials[: min(n, len(specials))]):
        benefits[k, p] = v
        stream[(k + 1) % n, p, i] = v if not np.isfinite(v) or v != 5.8e9 else 1.8e9
        costs[k, :] = v
    if n > 3:
        benefits[3, p], stream[3, p, i] = 5.8e9, 1.8e9  # both exactly at the targets
    out = dataclasses.replace(o, benefits=benefits, costs=costs, stream=stream)
    return dataclasses.replace(run, outcomes=out, draws=n)


@pytest.mark.parametrize("n", [1, 2, 5, 3000])
def test_headline_probability_equals_the_old(run: Run, n: int) -> None:
    for r in (_edge(run, n), dataclasses.replace(run, outcomes=run.outcomes.take(slice(0, n)))):
        for targets in ((), (5.8e9, 1.8e9), (0.0, -0.0), (np.nan, 1.0)):
            new = implied.headline_probability(r, *targets)
            old = old_headline_probability(r, *targets)
            assert list(new) == list(old)
            for k in old:
                assert new[k] == old[k] or (np.isnan(new[k]) and np.isnan(old[k])), k


def test_share_of_draws_at_a_hand_count(run: Run) -> None:
    """Hand count: draws 0-2 of the edge run: benefits NaN, 5.8e9, just below 5.8e9 (only
    the second reaches the target, ``>=``)."""
    r = _edge(run, 3)
    assert implied.headline_probability(r)["share_benefits"] == 1 / 3


@pytest.mark.parametrize("n", [1, 5, 3000])
def test_switching_values_equal_the_old(run: Run, n: int) -> None:
    r = _edge(run, n) if n < 3000 else run
    with results.shared_statistics():
        side = implied.side_summary(r)
    phys = implied.physical_effects(r, mean_per_year=False, share=False)
    for s, got in side["switching_welfare"].items():
        old = _old_switching(r, s, phys)
        assert list(got) == list(old)
        for k in old:
            assert got[k] == old[k] or (
                isinstance(old[k], float) and np.isnan(got[k]) and np.isnan(old[k])
            ), (s, k)


def _old_switching(run: Run, stream: str, physical: dict[str, Any]) -> dict[str, Any]:
    """switching_physical before i22-side (its mean NPV computed in the call), verbatim."""
    m = run.model
    p = PERSPECTIVES.index("welfare")
    o = run.outcomes
    i = m.streams.index(stream)
    npv = float(np.mean(o.npv_of(p)))
    pv = float(np.mean(o.stream[:, p, i]))
    phys = physical["streams"][stream]["at_full_strength"]["mean"]
    k = 1.0 - npv / pv if pv != 0 else float("nan")
    return {
        "stream": stream,
        "perspective": "welfare",
        "mean_npv": npv,
        "mean_stream_pv": pv,
        "factor": k,
        "mean_at_full_strength": phys,
        "needed_at_full_strength": k * phys,
    }
