"""The kernel's own sums over areas (issue 17, target 6) equal the old path bit for bit.

For scenarios without a bottom-up programme, ``engine.simulate``/``evaluate`` no longer keep the
per-area, per-component raw outputs (``ben[n, A, C]``, ``cost[n, A, K]``): the kernel sums them
into the outcomes as it goes (:func:`mkba.engine.totals_chunk`). The sums are the same IEEE
additions in the same order as :func:`mkba.kernel.aggregate` performs on the raw outputs, so
every outcome must be *identical* (not merely close) to raw_chunk + aggregate, which
tests/test_engine.py holds equal to the NumPy oracle. Checked on the reference, on areas with
different budget ratios (investment response not 1), and on a budget table that gives the
areas three different programme periods (three period groups).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from mkba import engine
from mkba.load import load_scenario
from mkba.model import lower

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"
sys.path.insert(0, str(ROOT / "benchmarks"))
from synthetic_areas import synthetic_areas_scenario  # noqa: E402


def _old_path(m, theta: np.ndarray) -> engine.Outcomes:  # type: ignore[no-untyped-def]
    """raw_chunk (per-area raw outputs) + aggregate, as before the kernel summed over areas."""
    out = engine.Outcomes.empty(theta.shape[0], m)
    raw = engine.raw_chunk(m, theta, "numba")
    engine._aggregate_into(m, raw, out, slice(0, theta.shape[0]))
    return out


def _theta(m, n: int, seed: int = 3) -> np.ndarray:  # type: ignore[no-untyped-def]
    u = engine.uniforms(m, 0, n, seed=seed, sampler="random", chunk=0, chunk_size=n)
    return m.theta(u)


def _assert_identical(a: engine.Outcomes, b: engine.Outcomes) -> None:
    for k, v in a.fields().items():
        w = getattr(b, k)
        assert v.shape == w.shape, k
        assert np.array_equal(v, w, equal_nan=True), k


def _three_periods(tmp_path: Path) -> Path:
    areas = ["rotterdam-zuid", "utrecht-overvecht", "arnhem-oost", "heerlen-noord"]
    periods = {areas[0]: (2022, 2027), areas[1]: (2023, 2025), areas[2]: (2022, 2027)}
    periods[areas[3]] = (2024, 2030)
    lines = ["area_id,domain,year,amount"]
    for k, (a, (y0, y1)) in enumerate(periods.items()):
        for y in range(y0, y1 + 1):
            lines.append(f"{a},physical,{y},{(k + 1) * 1.5e6}")
            lines.append(f"{a},social,{y},{(k + 2) * 0.4e6}")
            lines.append(f"{a},governance,{y},{0.1e6 * k}")
    (tmp_path / "budget.csv").write_text("\n".join(lines) + "\n")
    text = REFERENCE.read_text()
    s = text.index("areas = [")
    e = text.index("]", s) + 1
    text = text[:s] + "areas = [" + ", ".join(f'"{a}"' for a in areas) + "]" + text[e:]
    par = ROOT / "parameters"
    text = text.replace('parameters = "../parameters"', f'parameters = "{par}"')
    # no calibration record: it would set the per-resident budget the table replaces
    text = text.replace('calibration = "../parameters/calibration/reference-2021.toml"\n', "")
    # the budget table replaces [budget] and the variants (which scale a per-resident budget)
    b0 = text.index("[budget]")
    budget = (
        '[budget]\nprice_year = 2021\ntable = "budget.csv"\n'
        'assumption = "test: three programme periods"\n'
    )
    text = text[:b0] + budget
    path = tmp_path / "three-periods.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("case", ["reference", "area_budgets_differ", "three_periods", "synthetic"])
def test_kernel_sums_over_areas_equal_aggregate_bit_for_bit(case: str, tmp_path: Path) -> None:
    if case == "reference":
        m = lower(load_scenario(REFERENCE))
    elif case == "area_budgets_differ":
        upd = {"budget": {"area_weights": "low_financial_welfare_share"}}
        m = lower(load_scenario(REFERENCE, updates=upd))
    elif case == "three_periods":
        m = lower(load_scenario(_three_periods(tmp_path)))
        assert len(m.group_start) == 3
    else:
        m = lower(load_scenario(synthetic_areas_scenario(tmp_path, 97)))
        assert len(m.areas) == 97
    assert m.programme is None
    theta = _theta(m, 203)  # not a multiple of the kernel's block of draws
    new = engine.evaluate(m, theta, chunk_size=64)  # the kernel's sums (totals_chunk)
    _assert_identical(new, _old_path(m, theta))


def test_simulate_uses_the_sums_and_float32_area_outcomes(tmp_path: Path) -> None:
    m = lower(load_scenario(synthetic_areas_scenario(tmp_path, 40)))
    run = engine.simulate(m, draws=300, chunk_size=128, keep_samples=False)
    run32 = engine.simulate(m, draws=300, chunk_size=128, keep_samples=False, area_dtype=np.float32)
    assert run32.outcomes.area_benefits.dtype == np.float32
    assert run32.outcomes.area_costs.dtype == np.float32
    for k, v in run.outcomes.fields().items():
        w = getattr(run32.outcomes, k)
        if k in ("area_benefits", "area_costs"):
            # the same float64 values, rounded once to single precision
            assert np.array_equal(w, v.astype(np.float32)), k
        else:  # totals are summed in float64 inside the kernel: unchanged
            assert np.array_equal(v, w, equal_nan=True), k
    # and the run equals the old path (per-area raw outputs + aggregate) draw for draw
    th = np.concatenate(
        [
            m.theta(
                engine.uniforms(
                    m,
                    lo,
                    hi,
                    seed=m.spec.scenario.seed,
                    sampler=m.spec.scenario.sampler,
                    chunk=j,
                    chunk_size=128,
                    factor=engine.correlation_factor(m),
                )
            )
            for j, (lo, hi) in enumerate([(0, 128), (128, 256), (256, 300)])
        ]
    )
    _assert_identical(run.outcomes, _old_path(m, th))
