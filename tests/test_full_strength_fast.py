"""Issue 17 (i19-sink): ``implied.FullStrength`` made by two compiled passes and NumPy's powers
gives exactly what it gave before (tests/full_strength_i18_oracle.py, a verbatim copy of the
old class): every comparison is ``np.array_equal`` (and the signs of zeros), on the reference
and evidence scenarios (20,000 and 100,000 draws), a programme scenario, several programme
periods and edge cases (n = 1, blocks that are not a multiple of the tile, NaN, zero budget
ratios, elasticity 0, half-life 0, ramp 0, eight or more domains).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import full_strength_i18_oracle as oracle
from mkba import engine, implied
from mkba.checks import runnable
from mkba.load import load_scenario
from test_run_path import _with_periods

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def _model(name: str):  # type: ignore[no-untyped-def]
    return runnable(load_scenario(SCENARIOS / f"{name}.toml"))


@pytest.fixture(scope="module")
def reference():  # type: ignore[no-untyped-def]
    return _model("reference-2021")


@pytest.fixture(scope="module")
def evidence():  # type: ignore[no-untyped-def]
    return _model("evidence-2021")


def _same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> None:
    for x, y in zip(a, b, strict=True):
        assert x.shape == y.shape
        assert np.array_equal(x, y, equal_nan=True)
        assert np.array_equal(np.signbit(x), np.signbit(y))  # the zeros' signs too


def _both(m, t=None):  # type: ignore[no-untyped-def]
    t = implied.full_strength_index(m) if t is None else t
    return oracle.FullStrength(m, t), implied.FullStrength(m, t)


def _blocks(old, new, samples: np.ndarray, rows: int) -> None:  # type: ignore[no-untyped-def]
    for lo in range(0, samples.shape[0], rows):
        _same(old.of_samples(samples[lo : lo + rows]), new.of_samples(samples[lo : lo + rows]))


@pytest.mark.parametrize("name", ["reference-2021", "evidence-2021"])
def test_of_samples_equal_the_old_on_20000_draws(name: str) -> None:
    m = _model(name)
    run = engine.simulate(m, draws=20_000)
    assert run.samples is not None
    old, new = _both(m)
    _blocks(old, new, run.samples, implied.FULL_STRENGTH_ROWS)
    _blocks(old, new, run.samples, 4096)  # a chunk at once
    _same(old.of_samples(run.samples), new.of_samples(run.samples))  # all at once
    for rows in (slice(0, 1), slice(19_999, 20_000), slice(5, 262), slice(100, 613)):
        _same(old.of_samples(run.samples[rows]), new.of_samples(run.samples[rows]))  # n = 1, 257


def test_of_samples_equal_the_old_on_100000_draws(reference) -> None:  # type: ignore[no-untyped-def]
    run = engine.simulate(reference, draws=100_000, seed=17)
    assert run.samples is not None
    old, new = _both(reference)
    _blocks(old, new, run.samples, implied.FULL_STRENGTH_ROWS)
    _blocks(old, new, run.samples, 33_333)  # not a multiple of the tile nor of the block


def test_programme_scenario_and_other_years(evidence) -> None:  # type: ignore[no-untyped-def]
    m = _model("wijkprogramma-example")
    run = engine.simulate(m, draws=5000)
    assert run.samples is not None
    for t in (implied.full_strength_index(m), 0, len(m.years) - 1):
        old, new = _both(m, t)
        _blocks(old, new, run.samples, 2048)
    # several programme periods and distinct rows of budget ratios (one ratio zero)
    several = _with_periods(evidence)
    run = engine.simulate(evidence, draws=3000)
    assert run.samples is not None
    for t in (implied.full_strength_index(several), 0, 3, len(several.years) - 1):
        old, new = _both(several, t)
        _blocks(old, new, run.samples, 1000)


def test_theta_and_slots_paths_equal_the_old(evidence) -> None:  # type: ignore[no-untyped-def]
    run = engine.simulate(evidence, draws=1500)
    theta = implied.theta_of_run(run)
    old, new = _both(evidence)
    for rows in (slice(None), slice(0, 1), slice(7, 300)):
        _same(old(theta[rows]), new(theta[rows]))
    sl = evidence.slots
    S = sl.S
    st = {k: theta[:, sl.stream(k) : sl.stream(k) + S] for k in implied.STREAM_SLOTS}
    gl = {k: theta[:, sl.glob(k)] for k in implied.GLOBAL_SLOTS}
    _same(old.of_slots(st, gl), new.of_slots(st, gl))


def test_edge_values_equal_the_old(evidence) -> None:  # type: ignore[no-untyped-def]
    # NaN, zero effects (signed zeros in the products), deadweight 1, elasticity 0 and NaN,
    # half-life 0, ramp 0, a lag that starts the effect after the year, negative values
    run = engine.simulate(evidence, draws=600)
    theta = implied.theta_of_run(run)[:40].copy()
    sl = evidence.slots
    S = sl.S

    def stream(k: str) -> slice:
        return slice(sl.stream(k), sl.stream(k) + S)

    theta[0, sl.stream("effect") + 1] = np.nan
    theta[1, stream("effect")] = 0.0
    theta[2, stream("effect")] = -0.0
    theta[3, sl.stream("deadweight") + 2] = 1.0
    theta[4, sl.glob("elasticity")] = 0.0
    theta[5, sl.glob("elasticity")] = np.nan
    theta[6, stream("half_life")] = 0.0
    theta[7, stream("ramp")] = 0.0
    theta[8, stream("lag")] = 40.0  # starts after the horizon
    theta[9, stream("lag")] = -3.0
    theta[10, stream("ramp")] = np.nan
    theta[11, stream("half_life")] = np.nan
    theta[12, stream("lag")] = np.nan
    theta[13, sl.glob("governance_penalty")] = np.nan
    theta[14, stream("trend")] = -1.0  # a zero base of the trend's power
    theta[15, stream("rate")] = 0.0
    theta[16, stream("ramp")] = 1e-300  # a share far above 1
    theta[17, sl.glob("elasticity")] = -2.0
    for t in range(len(evidence.years)):
        old, new = _both(evidence, t)
        with np.errstate(all="ignore"):
            _same(old(theta), new(theta))


def test_zero_budget_ratios_and_many_domains(evidence) -> None:  # type: ignore[no-untyped-def]
    run = engine.simulate(evidence, draws=3000)
    assert run.samples is not None
    br = evidence.budget_ratio.copy()
    br[:, 1] = 0.0  # a domain without budget: no response from it
    br[4] = 0.0
    zero = dataclasses.replace(evidence, budget_ratio=br)
    old, new = _both(zero)
    with np.errstate(all="ignore"):
        _blocks(old, new, run.samples, 2048)
    # 8 and 11 domains: NumPy's pairwise sum (the response then summed by NumPy)
    rng = np.random.default_rng(3)
    for D in (7, 8, 11):
        reps = -(-D // evidence.response_w.shape[1])
        w = np.tile(evidence.response_w, reps)[:, :D] * rng.uniform(0.5, 1.5, (1, D))
        ratio = np.tile(evidence.budget_ratio, reps)[:, :D] * rng.uniform(0.2, 3.0, (1, D))
        ratio[::5, 0] = 0.0
        wide = dataclasses.replace(evidence, response_w=w, budget_ratio=ratio)
        old, new = _both(wide)
        _blocks(old, new, run.samples, 1024)


def test_sink_side_summary_equal_the_old(monkeypatch, evidence) -> None:  # type: ignore[no-untyped-def]
    # the whole side summary (physical effects, headline probability, switching values) of a
    # run whose sink used the new class equals that of one whose sink used the old class
    def summary() -> dict:  # type: ignore[type-arg]
        sink = implied.FullStrengthSink(evidence, 5000)
        bg = implied.BackgroundSink(sink)
        run = engine.simulate(evidence, draws=5000, chunk_size=1500, on_samples=bg)
        bg.close()
        return implied.side_summary(sink.attach(run))

    new = summary()
    monkeypatch.setattr(implied, "FullStrength", oracle.FullStrength)
    old = summary()
    assert new == old
    assert new["implied_physical"]["streams"]["benefit_savings"]["at_full_strength"]["mean"] > 0


@pytest.mark.parametrize("name", ["reference-2021", "evidence-2021"])
def test_sink_physical_effects_equal_the_old_afterwards(monkeypatch, name: str) -> None:  # type: ignore[no-untyped-def]
    # the sink's figures (new class, column-contiguous arrays) and attach's statistics equal
    # the old class's figures computed afterwards from the kept samples, in (draws x streams)
    # C-order arrays (more draws than NumPy's 8,192-element buffer)
    m = _model(name)
    sink = implied.FullStrengthSink(m, 20_000)
    bg = implied.BackgroundSink(sink)
    run = engine.simulate(m, draws=20_000, on_samples=bg)
    bg.close()
    assert sink.full.shape == (20_000, len(m.streams)) and sink.full.flags.f_contiguous
    sink.attach(run)
    monkeypatch.setattr(implied, "FullStrength", oracle.FullStrength)
    want = implied.physical_effects(run, mean_per_year=False, share=False)
    assert run._side_physical == want  # type: ignore[attr-defined]
