"""Issue 17 (i24-kernel): :func:`mkba.kernel.simulate_chunk` with a twin computes a second
model that differs only in parameter rows read from the amplitudes on (the reference and its
companion differ in 6 effect rows) in the same call, the time profiles and PV factors once.

The expected values are the kernel's own for each model alone: two calls, the second on the
same matrix with the twin's rows written in (the path every run took before, itself checked
against the verbatim old kernel in tests/test_kernel_fused.py). Every output is compared by its
bytes (NaN payloads and signed zeros included), over draw counts that are not a multiple of
the kernel's block (n = 1, 63, 65, 1300), several draw ranges per call, float32 per-area
outputs, and twin values that are NaN, +-inf, -0.0, 0.0, denormal and 1e308.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from mkba import engine, kernel
from mkba.model import Model
from twin_helpers import lhs_twin


def _theta_t(m: Model, n: int, seed: int = 5) -> np.ndarray:
    u = engine.uniforms(m, 0, n, seed=seed, sampler="random", chunk=0, chunk_size=max(n, 1))
    return np.ascontiguousarray(m.theta_t(u))


def _outputs(m: Model, n: int, area_dtype: Any) -> list[np.ndarray]:
    """NaN-filled kernel outputs (an element left unwritten would show)."""
    A, C, K, T = len(m.areas), len(m.components), len(m.stakeholders), len(m.years)
    return [
        np.full((n, T), np.nan),
        np.full((n, T), np.nan),
        np.full((n, C), np.nan),
        np.full((n, K), np.nan),
        np.full((n, A), np.nan, dtype=area_dtype, order="F"),
        np.full((n, A), np.nan, dtype=area_dtype, order="F"),
    ]


def _call(
    m: Model, tht: np.ndarray, out: list[np.ndarray], twin: tuple[Any, ...], lo: int, hi: int
) -> None:
    A, C, K = len(m.areas), len(m.components), len(m.stakeholders)
    kernel.simulate_chunk(  # type: ignore[call-arg]  # numba Dispatcher.__call__ is typed without arguments
        tht,
        *engine._kernel_args(m),
        m.fixed_rows[0],
        False,
        np.empty((0, A, C)),
        np.empty((0, A, K)),
        *out[:4],
        *kernel.area_outputs(out[4], out[5]),
        *twin,
        lo,
        hi,
    )


def _twin_tuple(rows: np.ndarray, values: np.ndarray, out2: list[np.ndarray]) -> tuple[Any, ...]:
    return (
        np.ascontiguousarray(rows, dtype=np.int64),
        np.ascontiguousarray(values),
        *out2[:4],
        *kernel.area_outputs(out2[4], out2[5]),
    )


def _same_bytes(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


def _joint_equals_two_calls(
    m: Model,
    tht: np.ndarray,
    rows: np.ndarray,
    values: np.ndarray,
    cuts: list[int],
    area_dtype: Any = np.float64,
) -> None:
    n = tht.shape[1]
    # expected: each model alone (the twin: the same matrix with its rows written in)
    want = _outputs(m, n, area_dtype)
    _call(m, tht, want, engine._no_twin(want[4]), 0, n)
    tht2 = tht.copy()
    tht2[rows] = values
    want2 = _outputs(m, n, area_dtype)
    _call(m, tht2, want2, engine._no_twin(want2[4]), 0, n)
    # one call for both, over the draw ranges `cuts`
    got, got2 = _outputs(m, n, area_dtype), _outputs(m, n, area_dtype)
    theta_before = tht.copy()
    for lo, hi in itertools.pairwise(cuts):
        _call(m, tht, got, _twin_tuple(rows, values, got2), lo, hi)
    for a, b in zip(want + want2, got + got2, strict=True):
        _same_bytes(a, b)
    _same_bytes(tht, theta_before)  # the caller's matrix is not changed
    for x in got + got2:
        assert not np.isnan(x).all()


def _effect_rows(ref: Model, evi: Model) -> np.ndarray:
    twin = engine.twin_of(
        ref,
        evi,
        draws=100,
        seed=1,
        sampler="lhs",
        chunk_size=4096,
        other_draws=100,
        other_seed=1,
        other_sampler="lhs",
        other_chunk_size=4096,
    )
    assert twin is not None
    return np.asarray(twin.slots)


@pytest.mark.parametrize("n", [1, 63, 65, 1300])
def test_joint_equals_two_calls_on_the_companion_rows(ref: Model, evi: Model, n: int) -> None:
    rows = _effect_rows(ref, evi)
    assert rows.size == 6  # the reference and evidence differ in six effect sizes
    tht = _theta_t(ref, n)
    values = _theta_t(ref, n, seed=9)[rows]  # other values in those rows
    cuts = [0, n] if n < 100 else [0, 37, 512, 555, 1299, n]
    _joint_equals_two_calls(ref, tht, rows, values, cuts)
    _joint_equals_two_calls(ref, tht, rows, values, [0, n], area_dtype=np.float32)


def test_joint_with_edge_values(ref: Model, evi: Model) -> None:
    rows = _effect_rows(ref, evi)
    n = 130
    tht = _theta_t(ref, n)
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 5e-324, 1e308, -1e308, 1.0])
    values = np.resize(special, (rows.size, n)).copy()
    values[:, ::7] = tht[rows][:, ::7]  # some equal to the model's own
    _joint_equals_two_calls(ref, tht, rows, values, [0, 64, n])


def test_joint_with_other_rows_read_after_the_profiles(ref: Model) -> None:
    """Rates, dead weight, displacement, elasticity, governance, overrun, additionality and
    follow-up rows, and rows the kernel does not read, may differ too."""
    args = engine._kernel_args(ref)
    off_stream, off_comp, off_dom, off_glob = args[0], args[1], args[2], args[3]
    fixed = set(ref.fixed_rows[0].tolist())
    read_early = {
        int(off_stream[i]) + s
        for i in (kernel.TREND, kernel.LAG, kernel.RAMP, kernel.HALF_LIFE)
        for s in range(ref.volume0.shape[1])
    } | {
        int(off_comp[i]) + c
        for i in (kernel.UNIT_VALUE, kernel.GROWTH)
        for c in range(len(ref.components))
    }
    late = [int(off_stream[i]) + s for i in (kernel.RATE, kernel.DEADWEIGHT, kernel.DISPLACEMENT)
            for s in range(2)]  # fmt: skip
    late += [int(off_glob[kernel.ELASTICITY]), int(off_glob[kernel.GOVERNANCE_PENALTY])]
    late += [
        int(off_dom[i]) for i in (kernel.OVERRUN, kernel.ADDITIONAL_SHARE, kernel.FOLLOWUP_RATE)
    ]
    rows = np.array(sorted({q for q in late if q not in fixed}), dtype=np.int64)
    assert rows.size >= 4 and not set(rows.tolist()) & read_early
    n = 200
    tht = _theta_t(ref, n)
    values = _theta_t(ref, n, seed=21)[rows]
    _joint_equals_two_calls(ref, tht, rows, values, [0, 100, n])


def test_rows_the_profiles_read_or_constant_rows_are_refused(ref: Model) -> None:
    args = engine._kernel_args(ref)
    off_stream, off_comp = args[0], args[1]
    n = 10
    tht = _theta_t(ref, n)
    fixed = ref.fixed_rows[0]
    bad = [int(off_stream[i]) for i in (kernel.TREND, kernel.LAG, kernel.RAMP, kernel.HALF_LIFE)]
    bad += [int(off_comp[kernel.UNIT_VALUE]), int(off_comp[kernel.GROWTH])]
    out, out2 = _outputs(ref, n, np.float64), _outputs(ref, n, np.float64)
    for q in bad:
        rows = np.array([q], dtype=np.int64)
        if q in set(fixed.tolist()):
            continue
        with pytest.raises(ValueError, match="twin row is read by"):
            _call(ref, tht, out, _twin_tuple(rows, tht[rows], out2), 0, n)
        assert not engine.joint_twin_kernel(args, args, rows, fixed)
    for rows in (fixed[:1], np.array([tht.shape[0]]), np.array([-1])):
        with pytest.raises(ValueError, match="outside theta_t or constant"):
            _call(ref, tht, out, _twin_tuple(rows, np.zeros((1, n)), out2), 0, n)
    assert not engine.joint_twin_kernel(args, args, fixed[:1], fixed)
    # keep_areas (per-area raw outputs) has no twin outputs
    A, C, K = len(ref.areas), len(ref.components), len(ref.stakeholders)
    rows = np.array([int(off_stream[kernel.EFFECT])], dtype=np.int64)
    with pytest.raises(ValueError, match="keep_areas"):
        kernel.simulate_chunk(  # type: ignore[call-arg]  # numba Dispatcher.__call__ is typed without arguments
            tht, *args, fixed, True, np.empty((n, A, C)), np.empty((n, A, K)), *out[:4],
            *kernel.area_outputs(out[4], out[5]), *_twin_tuple(rows, tht[rows], out2), 0, n,
        )  # fmt: skip


def test_joint_only_when_the_other_arguments_are_the_same(ref: Model, evi: Model) -> None:
    rows = _effect_rows(ref, evi)
    args, oargs = engine._kernel_args(ref), engine._kernel_args(evi)
    fixed = ref.fixed_rows[0]
    assert engine.joint_twin_kernel(args, oargs, rows, fixed)
    assert not engine.joint_twin_kernel(args, oargs, rows[:0], fixed)  # nothing differs
    for i in range(len(args)):  # any other argument with other bits: two calls
        changed = list(oargs)
        x = np.array(changed[i], dtype=np.asarray(changed[i]).dtype, copy=True)
        x.flat[0] = x.flat[0] + 1
        changed[i] = x if np.ndim(oargs[i]) else x.item()
        assert not engine.joint_twin_kernel(args, tuple(changed), rows, fixed), i


def _twin_runs(ref: Model, evi: Model, draws: int, chunk: int, **kw: Any) -> Any:
    twin = lhs_twin(ref, evi, draws, chunk, seed=13)
    return engine.simulate_twin(
        ref, twin, draws=draws, seed=13, sampler="lhs", chunk_size=chunk, **kw
    )


@pytest.mark.parametrize(
    ("draws", "chunk", "area"),
    [(1, 1024, np.float64), (4500, 1000, np.float64), (2100, 2048, np.float32)],
)
def test_simulate_twin_joint_equals_two_kernel_calls(
    ref: Model, evi: Model, monkeypatch: pytest.MonkeyPatch, draws: int, chunk: int, area: Any
) -> None:
    monkeypatch.setenv(engine.JOINT_ENV, "0")
    run0, orun0 = _twin_runs(ref, evi, draws, chunk, area_dtype=area)
    monkeypatch.setenv(engine.JOINT_ENV, "1")
    run1, orun1 = _twin_runs(ref, evi, draws, chunk, area_dtype=area)
    assert orun1.timings["kernel_s"] == 0.0 < orun0.timings["kernel_s"]  # one call: counted as m's
    for a, b in ((run0, run1), (orun0, orun1)):
        for name, x in a.outcomes.fields().items():
            _same_bytes(getattr(b.outcomes, name), x)
        assert a.chunk_means is not None and b.chunk_means is not None
        _same_bytes(a.chunk_means, b.chunk_means)
