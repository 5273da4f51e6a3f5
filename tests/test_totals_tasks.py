"""Issue 17 (i25-kernel): :func:`mkba.engine.totals_chunk` runs the kernel and then the
aggregation (:func:`mkba.kernel.aggregate_totals`) in one task per thread, each on its own
range of draws, and with ``other`` also the twin's aggregation: one fork/join of the threads
per chunk instead of two (three with the joint twin kernel).

The expected values are those of the calls one after the other, each over all the draws on
the threads (the path before: :func:`kernel.simulate_chunk` on the threads, then
:func:`engine.aggregate_chunk` for the model, then for the twin's model). Every outcome array
is compared by its bytes (NaN payloads and signed zeros included), for draw counts that are
not a multiple of the kernel's block (n = 1, 63, 65, 1300), with 1, 2 and 3 ranges, and with
twin values that are NaN, +-inf, -0.0 and 1e308.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import pytest

from mkba import engine, kernel
from mkba.model import Model
from test_twin_kernel import _effect_rows, _joint_equals_two_calls, _theta_t


def _nan_outcomes(m: Model, n: int) -> engine.Outcomes:
    """Outcome arrays full of NaN (an element left unwritten would show)."""
    out = engine.Outcomes.empty(n, m)
    for v in out.fields().values():
        v.fill(np.nan)
    return out


def _same_outcomes(a: engine.Outcomes, b: engine.Outcomes) -> None:
    for name, x in a.fields().items():
        y = getattr(b, name)
        assert x.shape == y.shape and x.dtype == y.dtype, name
        assert np.ascontiguousarray(x).tobytes() == np.ascontiguousarray(y).tobytes(), name


def _one_after_the_other(
    m: Model, tht: np.ndarray, out: engine.Outcomes, twin: Any = None, other: Model | None = None
) -> None:
    """The old path: the kernel over all draws on the threads, then each aggregation."""
    n = tht.shape[1]
    head = engine._totals_head(m, tht, out, None, m.fixed_rows[0], twin)
    engine._on_threads(lambda lo, hi: kernel.simulate_chunk(*head, lo, hi), n)  # type: ignore[call-arg]  # numba Dispatcher.__call__ is typed without arguments
    engine.aggregate_chunk(m, out, n)
    if other is not None:
        engine.aggregate_chunk(other, twin[2], n)


@pytest.mark.parametrize("parts", [1, 2, 3])
@pytest.mark.parametrize("n", [1, 63, 65, 1300])
def test_one_task_equals_the_calls_one_after_the_other(
    ref: Model, monkeypatch: pytest.MonkeyPatch, n: int, parts: int
) -> None:
    monkeypatch.setattr(engine, "sampling_threads", lambda: parts)
    tht = _theta_t(ref, n)
    want, got = _nan_outcomes(ref, n), _nan_outcomes(ref, n)
    _one_after_the_other(ref, tht, want)
    marks: list[float] = []
    t0 = time.perf_counter()
    k = engine.totals_chunk(ref, tht, got, None, ref.fixed_rows[0], marks=marks)
    t1 = time.perf_counter()
    _same_outcomes(want, got)
    assert not np.isnan(got.npv).any()
    # the kernel's end, then this model's aggregation's, within the call
    assert len(marks) == 2 and t0 <= marks[0] <= marks[1] <= t1
    assert 0.0 <= k <= t1 - t0


@pytest.mark.parametrize("parts", [1, 2, 3])
@pytest.mark.parametrize("n", [1, 63, 65, 1300])
def test_twin_aggregation_in_the_same_tasks(
    ref: Model, evi: Model, monkeypatch: pytest.MonkeyPatch, n: int, parts: int
) -> None:
    monkeypatch.setattr(engine, "sampling_threads", lambda: parts)
    rows = _effect_rows(ref, evi)
    tht = _theta_t(ref, n)
    values = _theta_t(ref, n, seed=9)[rows]
    if n > 10:  # edge values in the twin's rows (and one in both models' rows)
        values[0, 1:6] = [np.nan, np.inf, -np.inf, -0.0, 1e308]
        tht[rows[1], 7] = np.nan
    want, want2 = _nan_outcomes(ref, n), _nan_outcomes(evi, n)
    _one_after_the_other(ref, tht, want, (rows, values, want2), evi)
    got, got2 = _nan_outcomes(ref, n), _nan_outcomes(evi, n)
    engine.totals_chunk(ref, tht, got, None, ref.fixed_rows[0], (rows, values, got2), evi)
    _same_outcomes(want, got)
    _same_outcomes(want2, got2)
    # the draws without edge values have numbers (none was left unwritten)
    assert not np.isnan(got2.benefits[[0, -1]]).any()
    assert not np.isnan(got.benefits[[0, -1]]).any()


def test_other_needs_a_twin(ref: Model, evi: Model) -> None:
    out = _nan_outcomes(ref, 4)
    with pytest.raises(ValueError, match="needs twin"):
        engine.totals_chunk(ref, _theta_t(ref, 4), out, other=evi)


# --- i25-kernel: a twin whose rows the costs do not read (the companion's effect rows) gets
# its costs per area and per payer from the kernel's first pass (the same operations on the
# same values); one that differs in a cost row (overrun, follow-up rate) computes its own.
# Expected: the two separate calls (tests/test_twin_kernel.py's helper), by bytes.


def _cost_rows(m: Model) -> list[int]:
    off_dom = engine._kernel_args(m)[2]
    fixed = set(m.fixed_rows[0].tolist())
    D = m.budget_pv.shape[1]
    rows = [
        int(off_dom[i]) + d
        for i in (kernel.OVERRUN, kernel.ADDITIONAL_SHARE, kernel.FOLLOWUP_RATE)
        for d in range(D)
    ]
    return [q for q in rows if q not in fixed]


@pytest.mark.parametrize("which", ["first", "last", "follow-up"])
def test_twin_with_a_cost_row_computes_its_own_costs(ref: Model, evi: Model, which: str) -> None:
    effects = _effect_rows(ref, evi).tolist()
    cost = _cost_rows(ref)
    assert len(cost) >= 3  # the reference draws overruns of each domain and a follow-up rate
    extra = {"first": cost[0], "last": cost[-2], "follow-up": cost[-1]}[which]
    rows = np.array(sorted([*effects, extra]), dtype=np.int64)
    n = 130
    tht = _theta_t(ref, n)
    values = _theta_t(ref, n, seed=31)[rows]
    values[:, 3] = np.nan
    values[:, 4] = -0.0
    _joint_equals_two_calls(ref, tht, rows, values, [0, 64, n])
    _joint_equals_two_calls(ref, tht, rows, values, [0, n], area_dtype=np.float32)


def test_twin_of_effect_rows_only_shares_the_costs(ref: Model, evi: Model) -> None:
    """The companion's rows (effects only): its costs are the run's, by bytes, and equal to
    what a call of its own gives (also with NaN/inf in the twin's effect rows)."""
    rows = _effect_rows(ref, evi)
    assert not set(rows.tolist()) & set(_cost_rows(ref))
    for n in (1, 65, 300):
        tht = _theta_t(ref, n)
        values = _theta_t(ref, n, seed=41)[rows]
        if n > 3:  # (a lone draw with a NaN effect has only NaN outputs, which the helper refuses)
            values[0, 1:4] = [np.nan, np.inf, -np.inf]
        _joint_equals_two_calls(ref, tht, rows, values, [0, n] if n < 100 else [0, 65, 200, n])


# --- i25-kernel: a light twin (a companion: its flows and per-area outputs without rows) gets
# only its sums over areas per component and per payer, equal by bytes to a full twin's; the
# light aggregation (no payback, no stakeholder gains) gives the same benefits, costs and
# streams as the full one.


def _light(o: engine.Outcomes, m: Model) -> engine.Outcomes:
    """``o``'s component and payer sums and totals; no flows, per-area totals, stakeholder
    gains or payback (rows of none)."""
    none = engine.Outcomes.empty(0, m)
    return engine.Outcomes(
        **{
            k: v
            if k in ("component", "stakeholder_costs", "benefits", "costs", "stream")
            else getattr(none, k)
            for k, v in o.fields().items()
        }
    )


@pytest.mark.parametrize("cost_row", [False, True])
@pytest.mark.parametrize("n", [1, 63, 65, 1300])
def test_light_twin_equals_the_full_twin(ref: Model, evi: Model, n: int, cost_row: bool) -> None:
    rows = _effect_rows(ref, evi).tolist()
    if cost_row:  # a twin row the costs read: the twin's costs computed in its own pass
        rows = sorted([*rows, _cost_rows(ref)[0]])
    rows_a = np.array(rows, dtype=np.int64)
    tht = _theta_t(ref, n)
    values = _theta_t(ref, n, seed=51)[rows_a]
    if n > 10:
        values[0, 1:6] = [np.nan, np.inf, -np.inf, -0.0, 1e308]
    want, want2 = _nan_outcomes(ref, n), _nan_outcomes(evi, n)
    engine.totals_chunk(ref, tht, want, None, ref.fixed_rows[0], (rows_a, values, want2), evi)
    got, full2 = _nan_outcomes(ref, n), _nan_outcomes(evi, n)
    got2 = _light(full2, evi)
    engine.totals_chunk(ref, tht, got, None, ref.fixed_rows[0], (rows_a, values, got2), evi)
    _same_outcomes(want, got)  # the run's own outcomes are not changed
    for name in ("component", "stakeholder_costs", "benefits", "costs", "stream"):
        x, y = getattr(want2, name), getattr(got2, name)
        assert x.tobytes() == y.tobytes(), name
    # what a light twin does not compute is left as it was
    for name in ("flow", "dflow", "area_benefits", "area_costs", "stakeholder_benefits"):
        assert np.isnan(getattr(full2, name)).all(), name
    assert not np.isnan(got2.benefits[[0, -1]]).any()


def test_light_aggregation_equals_the_full_one(ref: Model) -> None:
    n = 300
    tht = _theta_t(ref, n)
    full = _nan_outcomes(ref, n)
    engine.totals_chunk(ref, tht, full)
    light = _light(_nan_outcomes(ref, n), ref)
    light.component[:] = full.component
    light.stakeholder_costs[:] = full.stakeholder_costs
    engine.aggregate_chunk(ref, light, n)
    for name in ("benefits", "costs", "stream"):
        assert getattr(full, name).tobytes() == getattr(light, name).tobytes(), name


def test_light_outputs_must_match(ref: Model, evi: Model) -> None:
    n = 70
    rows = _effect_rows(ref, evi)
    tht = _theta_t(ref, n)
    values = tht[rows].copy()
    out, full2 = _nan_outcomes(ref, n), _nan_outcomes(evi, n)
    half = dataclasses.replace(
        _light(full2, evi), dflow=full2.dflow
    )  # flows without rows, dflow with
    with pytest.raises(ValueError, match="light twin"):
        engine.totals_chunk(ref, tht, out, None, ref.fixed_rows[0], (rows, values, half), evi)
    # a payback with rows needs the discounted flows of every draw
    nodf = dataclasses.replace(full2, dflow=full2.dflow[:0])
    nodf.component[:] = 0.0
    nodf.stakeholder_costs[:] = 0.0
    with pytest.raises(ValueError, match="payback needs"):
        engine.aggregate_chunk(evi, nodf, n)
