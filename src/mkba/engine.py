"""Monte Carlo engine: sample, evaluate the kernel chunk by chunk, keep per-draw outcomes.

The public functions validate, sample, allocate and call a private kernel that takes only
arrays. ``backend="numba"`` uses :mod:`mkba.kernel`; ``backend="numpy"`` the plain reference
:mod:`mkba.reference` (same equations; slower; the oracle of the tests).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mkba import compile_notice, kernel, reference
from mkba.model import COMPONENT_SLOTS, DOMAIN_SLOTS, GLOBAL_SLOTS, STREAM_SLOTS, Model
from mkba.sampling import (
    apply_copula,
    chunk_bounds,
    copula_factor,
    for_each,
    sampling_threads,
    uniform_matrix,
)
from mkba.schema.scenario import PERSPECTIVES
from mkba.spill import SpilledRows

if TYPE_CHECKING:
    from mkba.distributions import InverseCdf
    from mkba.rng import ColumnPlan

Progress = Callable[[int, int], None]

PHYSICAL_BYTES = 256 * 2**20  # memory for per-draw physical effects (draws x links x areas x years)


def physical_rows(n: int, cells: int) -> int:
    """How many draws keep their physical effects: all of them, or the first ones that fit in
    :data:`PHYSICAL_BYTES` (at least 1,000). The P5/P50/P95 of physical effects are then taken
    over those draws (the summary says how many); money outcomes always use every draw."""
    if cells == 0:
        return n
    return min(n, max(1000, PHYSICAL_BYTES // (8 * cells)))


@dataclass
class Outcomes:
    """Per-draw outcomes (money in euros of the price year, PV at the base year)."""

    benefits: np.ndarray  # (n, P) PV benefits per perspective
    costs: np.ndarray  # (n, P) PV costs per perspective
    stream: np.ndarray  # (n, P, S) PV benefits per stream and perspective
    area_benefits: np.ndarray  # (n, A) in the scenario perspective
    area_costs: np.ndarray  # (n, A) in the scenario perspective
    component: np.ndarray  # (n, C) PV per component (signed: losses negative)
    stakeholder_benefits: np.ndarray  # (n, K) what each stakeholder gains (transfers signed)
    stakeholder_costs: np.ndarray  # (n, K) what each stakeholder pays
    payback: np.ndarray  # (n,) payback year, scenario perspective (NaN: not within the horizon)
    flow: np.ndarray  # (n, T) real net flow per year, scenario perspective, undiscounted
    dflow: np.ndarray  # (n, T) the same, discounted
    # bottom-up programme (docs/model.md §3); zero-sized without interventions
    int_benefits: np.ndarray  # (n, M, P) PV benefits per programme entry and perspective
    int_costs: np.ndarray  # (n, M, P) PV costs per programme entry and perspective
    physical: np.ndarray  # (n, L, A, T) outcome units changed per link, area and year

    @property
    def npv(self) -> np.ndarray:
        return self.benefits - self.costs

    @property
    def bcr(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.costs > 0, self.benefits / self.costs, np.nan)

    def npv_of(self, p: int) -> np.ndarray:
        """``npv[:, p]``: the NPV of perspective ``p`` alone (the others not computed)."""
        return self.benefits[:, p] - self.costs[:, p]

    def bcr_of(self, p: int) -> np.ndarray:
        """``bcr[:, p]``: the BCR of perspective ``p`` alone."""
        b, c = self.benefits[:, p], self.costs[:, p]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(c > 0, b / c, np.nan)

    @staticmethod
    def empty(n: int, m: Model, area_dtype: type | np.dtype = np.float64) -> Outcomes:
        """Uninitialised outcome arrays for ``n`` draws. ``area_dtype`` is the type of the
        per-area arrays (``area_benefits``, ``area_costs``): ``np.float32`` halves the memory
        of many-area runs (3,000 areas x 20,000 draws: 480 instead of 960 MB); totals are
        always summed in float64 inside the kernel, so only the per-area values are rounded.
        The per-area arrays are stored column-major (Fortran order): ``area_benefits[:, a]``
        is contiguous."""
        P, S, A, C, K, T = (
            len(PERSPECTIVES),
            len(m.streams),
            len(m.areas),
            len(m.components),
            len(m.stakeholders),
            len(m.years),
        )
        M = m.programme.n_entries if m.programme is not None else 0
        L = m.programme.n_links if m.programme is not None else 0
        return Outcomes(
            benefits=np.empty((n, P)),
            costs=np.empty((n, P)),
            stream=np.empty((n, P, S)),
            # column-major: one area's draws are contiguous, as every reader takes them
            # (statistics per area, a column per area in draws.parquet), and the kernel
            # writes a block of draws of one area at a time
            area_benefits=np.empty((n, A), dtype=area_dtype, order="F"),
            area_costs=np.empty((n, A), dtype=area_dtype, order="F"),
            component=np.empty((n, C)),
            stakeholder_benefits=np.empty((n, K)),
            stakeholder_costs=np.empty((n, K)),
            payback=np.empty(n),
            flow=np.empty((n, T)),
            dflow=np.empty((n, T)),
            int_benefits=np.empty((n, M, P)),
            int_costs=np.empty((n, M, P)),
            physical=np.empty((physical_rows(n, L * A * T), L, A if L else 0, T if L else 0)),
        )

    @staticmethod
    def light(n: int, m: Model) -> Outcomes:
        """Outcome arrays of ``n`` draws holding only what a companion's side summary reads
        (:func:`mkba.implied.side_summary`: ``benefits``, ``costs`` and ``stream``); every
        other array has no rows (a million draws of the reference: 0.22 instead of 1.2 GB).
        :func:`simulate_twin` fills them."""
        full = Outcomes.empty(n, m)
        none = Outcomes.empty(0, m)
        return dataclasses.replace(
            none, benefits=full.benefits, costs=full.costs, stream=full.stream
        )

    def fields(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def take(self, rows: slice) -> Outcomes:
        return Outcomes(**{k: v[rows] for k, v in self.fields().items()})


@dataclass
class Run:
    """A finished Monte Carlo run: the model, its per-draw outcomes and how they were made."""

    model: Model
    outcomes: Outcomes
    draws: int
    seed: int
    sampler: str
    chunk_size: int
    # (n, U) sampled parameter values (own units), if kept; column-major when simulated here
    # (engine.column_major: each parameter's values contiguous), any layout from elsewhere
    samples: np.ndarray | None
    timings: dict[str, float] = field(default_factory=dict)
    chunk_means: np.ndarray | None = None  # (chunks,) mean NPV per chunk, scenario perspective
    # the sampled values in a temporary file instead of ``samples`` (simulate(spill_samples=True))
    spilled: SpilledRows | None = None


def _kernel_args(m: Model) -> tuple[Any, ...]:
    sl = m.slots
    off_stream = np.array([sl.stream(n) for n in STREAM_SLOTS], dtype=np.int64)
    off_comp = np.array([sl.component(n) for n in COMPONENT_SLOTS], dtype=np.int64)
    off_dom = np.array([sl.domain(n) for n in DOMAIN_SLOTS], dtype=np.int64)
    off_glob = np.array([sl.glob(n) for n in GLOBAL_SLOTS], dtype=np.int64)
    p0 = PERSPECTIVES.index(m.spec.scenario.perspective)
    # cost flows of the scenario's perspective: sum over areas and counted payers
    cost_flow = np.einsum("adt,dk,k->dt", m.budget, m.payer_share, m.cost_weights[p0])
    follow_flow = np.einsum("adt,dk,k->dt", m.followup_flow, m.payer_share, m.cost_weights[p0])
    bw0 = np.ascontiguousarray(m.benefit_weights[p0])
    cw0 = np.ascontiguousarray(m.cost_weights[p0])
    return (
        off_stream,
        off_comp,
        off_dom,
        off_glob,
        m.volume0,
        m.data_year.astype(float),
        m.response_w,
        m.budget_ratio,
        m.gov_ratio,
        m.period_group,
        m.group_start.astype(float),
        m.group_end.astype(float),
        m.years.astype(float),
        float(m.spec.scenario.base_year),
        m.comp_stream,
        m.comp_sign,
        m.benefit_weights[p0] * m.comp_sign,
        m.df_stream,
        m.df_cost,
        m.budget_pv,
        m.followup_pv,
        m.payer_share,
        cost_flow,
        follow_flow,
        bw0,
        cw0,
    )


def _on_threads(call: Callable[[int, int], None], n: int) -> None:
    """``call(lo, hi)`` over ``n`` draws split into one range of whole kernel blocks per thread
    (:func:`mkba.sampling.for_each`; the compiled functions release the GIL). Every draw's
    operations are the same in any range and any lane of a block, so the numbers do not
    depend on the number of threads."""
    bounds = kernel.draw_ranges(n, sampling_threads())
    if len(bounds) == 2:
        call(0, n)
        return
    for_each(lambda j: call(bounds[j], bounds[j + 1]), len(bounds) - 1)


def _programme_args(m: Model) -> tuple[Any, ...]:
    pr = m.programme
    assert pr is not None
    sl = m.slots
    off_stream = np.array([sl.stream(n) for n in STREAM_SLOTS], dtype=np.int64)
    off_comp = np.array([sl.component(n) for n in COMPONENT_SLOTS], dtype=np.int64)
    off_int, off_link = pr.offsets()
    p0 = PERSPECTIVES.index(m.spec.scenario.perspective)
    return (
        off_stream,
        off_comp,
        off_int,
        off_link,
        m.volume0,
        m.data_year.astype(float),
        m.years.astype(float),
        float(m.spec.scenario.base_year),
        m.comp_stream,
        m.comp_sign,
        m.benefit_weights[p0] * m.comp_sign,
        m.benefit_weights,
        m.df_stream,
        m.df_cost,
        pr.participants,
        pr.fixed_years,
        pr.payer_share,
        np.ascontiguousarray(pr.cost_weights),
        p0,
        pr.link_int,
        pr.link_stream,
        pr.link_lag,
        pr.link_prof,
        pr.link_nprof,
        pr.link_tail,
        pr.link_haircut,
    )


def _programme_out(m: Model, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    o = Outcomes.empty(n, m)
    return o.int_benefits, o.int_costs, o.physical


@dataclass(frozen=True)
class Transposed:
    """A parameter matrix stored one parameter per row (Q x n), the kernel's layout."""

    array: np.ndarray


_ALL_ROWS_PER_DRAW = np.empty(0, dtype=np.int64)

JOINT_ENV = "MKBA_JOINT_KERNEL"
"""Environment variable: ``0`` makes :func:`simulate_twin` call the kernel once per model
(for measuring; the same numbers)."""


def _const_rows(rows: np.ndarray | None, theta_t: np.ndarray) -> np.ndarray:
    """The kernel's ``const_rows`` argument: ``rows`` as int64 (C order), none if None. In
    range of ``theta_t`` (the kernel checks too)."""
    if rows is None:
        return _ALL_ROWS_PER_DRAW
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= theta_t.shape[0]):
        raise ValueError("const_rows outside the parameter matrix")
    return rows


def _no_twin(area: np.ndarray) -> tuple[Any, ...]:
    """:func:`kernel.simulate_chunk`'s twin arguments for a call without a twin (``area``: a
    per-area output view, whose dtype the twin's per-area outputs must have too)."""
    e2, ea = np.empty((0, 0)), np.empty(0, dtype=area.dtype)
    return (_ALL_ROWS_PER_DRAW, e2, e2, e2, e2, e2, ea, ea, 1, 1)


def _twin_args(rows: np.ndarray, values: np.ndarray, out2: Outcomes) -> tuple[Any, ...]:
    """:func:`kernel.simulate_chunk`'s twin arguments: the rows that differ, their values for
    the twin ``(k, n)``, and the twin's output rows of this chunk."""
    return (
        np.ascontiguousarray(rows, dtype=np.int64),
        np.ascontiguousarray(values),
        out2.flow,
        out2.dflow,
        out2.component,
        out2.stakeholder_costs,
        *kernel.area_outputs(out2.area_benefits, out2.area_costs),
    )


def joint_twin_kernel(
    args: tuple[Any, ...], other_args: tuple[Any, ...], rows: np.ndarray, const_rows: np.ndarray
) -> bool:
    """Whether one kernel call can compute a model (kernel arguments ``args``) and its twin
    (``other_args``, the parameter rows ``rows`` differ): every other kernel argument the same
    bits, at least one row in ``rows`` and none that the time profiles or PV factors read or
    that is constant (see :func:`kernel.simulate_chunk`)."""
    for x, y in zip(args, other_args, strict=True):
        a, b = np.asarray(x), np.asarray(y)
        if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
            return False
    off_stream, off_comp = args[0], args[1]
    S, C = args[4].shape[1], args[14].shape[0]  # volume0 (A, S), comp_stream (C,)
    early = [
        off_stream[i] + s
        for i in (kernel.TREND, kernel.LAG, kernel.RAMP, kernel.HALF_LIFE)
        for s in range(S)
    ]
    early += [off_comp[i] + c for i in (kernel.UNIT_VALUE, kernel.GROWTH) for c in range(C)]
    mine = {int(r) for r in np.asarray(rows)}
    if not mine:  # the kernel takes no rows as no twin (and the twin's numbers are m's)
        return False
    return not mine & ({int(r) for r in early} | {int(r) for r in np.asarray(const_rows)})


def raw_chunk(
    m: Model,
    theta: np.ndarray | Transposed,
    backend: str = "numba",
    args: tuple[Any, ...] | None = None,
    flow: np.ndarray | None = None,
    dflow: np.ndarray | None = None,
    scratch: tuple[np.ndarray, np.ndarray] | None = None,
    prog_out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    const_rows: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """Raw kernel outputs for a parameter matrix: (ben, cost, flow, dflow), followed by
    (int_ben, int_cost, phys) when the scenario has a bottom-up programme (written into
    ``prog_out`` when given). ``const_rows``: see :func:`totals_chunk`.

    ``theta`` holds one draw per row (n x Q), or is a :class:`Transposed` parameter matrix
    (Q x n, as the kernel reads it). ``flow``/``dflow`` may be views into the final outcome
    arrays, and ``scratch`` buffers (ben, cost) reused across chunks: fresh large arrays cost
    page faults on every chunk.
    """
    if isinstance(theta, Transposed):
        theta_t = theta.array
        theta = theta_t.T
    else:
        theta_t = np.ascontiguousarray(np.atleast_2d(theta).T)
    if backend == "numpy":
        ben, cost, f, df = reference.simulate_chunk(m, np.ascontiguousarray(theta))
        extra: tuple[np.ndarray, ...] = ()
        if m.programme is not None:
            pb, pc, pf, pdf, ib, ic, ph = reference.simulate_programme(
                m, np.ascontiguousarray(theta)
            )
            ben, cost, f, df = ben + pb, cost + pc, f + pf, df + pdf
            if prog_out is not None:
                for dst, src in zip(prog_out, (ib, ic, ph), strict=True):
                    dst[:] = src[: dst.shape[0]]
                extra = prog_out
            else:
                extra = (ib, ic, ph)
        if flow is not None and dflow is not None:
            flow[:] = f
            dflow[:] = df
            return (ben, cost, flow, dflow, *extra)
        return (ben, cost, f, df, *extra)
    if backend != "numba":
        raise ValueError(f"unknown backend {backend!r}")
    n = theta.shape[0]
    A, C, K, T = len(m.areas), len(m.components), len(m.stakeholders), len(m.years)
    if scratch is not None and scratch[0].shape[0] >= n:
        ben, cost = scratch[0][:n], scratch[1][:n]
    else:
        ben, cost = np.empty((n, A, C)), np.empty((n, A, K))
    flow = np.empty((n, T)) if flow is None else flow
    dflow = np.empty((n, T)) if dflow is None else dflow
    # the kernel's sums over areas (not used here: aggregate sums ben/cost after the programme)
    sums = (np.empty((n, C)), np.empty((n, K)), np.empty((n, A)), np.empty((n, A)))
    area = kernel.area_outputs(*sums[2:])
    head = (
        theta_t,
        *(args or _kernel_args(m)),
        _const_rows(const_rows, theta_t),
        True,
        ben,
        cost,
        flow,
        dflow,
        *sums[:2],
        *area,
        *_no_twin(area[0]),
    )
    _on_threads(lambda lo, hi: kernel.simulate_chunk(*head, lo, hi), n)  # type: ignore[call-arg]  # numba Dispatcher.__call__ is typed without arguments
    if m.programme is None:
        return ben, cost, flow, dflow
    po = prog_out if prog_out is not None else _programme_out(m, n)
    prog = (theta_t, *_programme_args(m), ben, cost, flow, dflow, *po)
    _on_threads(lambda lo, hi: kernel.simulate_programme(*prog, lo, hi), n)  # type: ignore[call-arg]  # numba Dispatcher.__call__ is typed without arguments
    return (ben, cost, flow, dflow, *po)


def totals_chunk(
    m: Model,
    theta_t: np.ndarray,
    out: Outcomes,
    args: tuple[Any, ...] | None = None,
    const_rows: np.ndarray | None = None,
    twin: tuple[np.ndarray, np.ndarray, Outcomes] | None = None,
    other: Model | None = None,
    marks: list[float] | None = None,
) -> float:
    """The compiled kernel's path without per-area raw outputs (top-down scenarios): the kernel
    writes the sums over areas, the flows and the per-area totals straight into ``out`` (rows
    of this chunk), then :func:`kernel.aggregate_totals` completes the per-draw outcomes.
    Bit-identical to :func:`raw_chunk` + :func:`_aggregate_into` (same additions in the same
    order). Returns the kernel's wall time (the rest is aggregation): from the start until
    the last thread finished its kernel call.

    Each thread runs the kernel and then the aggregation on its own range of draws, in one
    task: the aggregation reads only the rows its thread's kernel call has just written, so
    the chunk needs one fork/join of the threads instead of one per call (and the rows are
    still in that core's cache). The numbers are those of the calls one after the other.

    ``twin``: ``(rows, values, out2)``: the same kernel call also computes a twin model that
    differs only in the parameter rows ``rows`` (``values``: their ``(k, n)`` values for it;
    the caller has checked :func:`joint_twin_kernel`) into ``out2``'s kernel outputs (flows,
    sums over areas, per-area totals); the caller completes the twin's outcomes with
    :func:`aggregate_chunk` and the twin's model. The same numbers as a call of its own.

    ``const_rows``: rows of ``theta_t`` that the caller knows to hold one value for every draw
    (the model's fixed slots, ``m.fixed_rows[0]``, when ``theta_t`` was made by the model:
    :meth:`Model.sample_theta_t`, :meth:`Model.theta_t`); the kernel reads them once per call
    instead of once per draw. None: every row is read per draw (a matrix from elsewhere).

    ``other``: with ``twin``, the twin's model: the same tasks also complete the twin's
    outcomes in ``out2`` (:func:`aggregate_chunk` with ``other``). ``marks``: if given, the
    times (``time.perf_counter``) at which the last thread finished the kernel and this
    model's aggregation are appended (the twin's aggregation ends when the call returns)."""
    if m.programme is not None:
        raise ValueError("totals_chunk is for scenarios without a bottom-up programme")
    if other is not None and twin is None:
        raise ValueError("totals_chunk: other (the twin's model) needs twin")
    n = theta_t.shape[1]
    head = _totals_head(m, theta_t, out, args, const_rows, twin)
    tail = _totals_tail(m, out)
    otail = _totals_tail(other, twin[2]) if other is not None and twin is not None else None
    # per range: when its kernel call and this model's aggregation ended (each task writes
    # its own entries)
    ends: dict[int, tuple[float, float]] = {}

    def task(lo: int, hi: int) -> None:
        kernel.simulate_chunk(*head, lo, hi)  # type: ignore[call-arg]  # numba Dispatcher.__call__ is typed without arguments
        tk = time.perf_counter()
        kernel.aggregate_totals(*tail, lo, hi)  # type: ignore[call-arg]  # numba Dispatcher.__call__ is typed without arguments
        ends[lo] = (tk, time.perf_counter())
        if otail is not None:
            kernel.aggregate_totals(*otail, lo, hi)  # type: ignore[call-arg]  # numba Dispatcher.__call__ is typed without arguments

    t0 = time.perf_counter()
    _on_threads(task, n)
    t1 = max(e[0] for e in ends.values()) if ends else t0
    if marks is not None:
        marks.extend((t1, max(e[1] for e in ends.values()) if ends else t0))
    return t1 - t0


def _totals_head(
    m: Model,
    theta_t: np.ndarray,
    out: Outcomes,
    args: tuple[Any, ...] | None,
    const_rows: np.ndarray | None,
    twin: tuple[np.ndarray, np.ndarray, Outcomes] | None,
) -> tuple[Any, ...]:
    """:func:`kernel.simulate_chunk`'s arguments before ``lo, hi`` for :func:`totals_chunk`
    (its arguments of the same names)."""
    A, C, K = len(m.areas), len(m.components), len(m.stakeholders)
    area = kernel.area_outputs(out.area_benefits, out.area_costs)
    return (
        theta_t,
        *(args or _kernel_args(m)),
        _const_rows(const_rows, theta_t),
        False,
        np.empty((0, A, C)),
        np.empty((0, A, K)),
        out.flow,
        out.dflow,
        out.component,
        out.stakeholder_costs,
        *area,
        *(_no_twin(area[0]) if twin is None else _twin_args(*twin)),
    )


def _totals_tail(m: Model, out: Outcomes) -> tuple[Any, ...]:
    """:func:`kernel.aggregate_totals`'s arguments before ``lo, hi`` for ``m``'s outcomes
    ``out`` (rows from the first)."""
    return (
        out.dflow,
        m.comp_stream,
        m.benefit_weights,
        m.cost_weights,
        m.stakeholder_weights,
        m.years.astype(float),
        len(m.streams),
        out.benefits,
        out.costs,
        out.stream,
        out.component,
        out.stakeholder_benefits,
        out.stakeholder_costs,
        out.payback,
    )


def aggregate_chunk(m: Model, out: Outcomes, n: int) -> None:
    """:func:`kernel.aggregate_totals` on the first ``n`` rows of ``out`` (after the kernel)."""
    tail = _totals_tail(m, out)
    _on_threads(lambda lo, hi: kernel.aggregate_totals(*tail, lo, hi), n)  # type: ignore[call-arg]  # numba Dispatcher.__call__ is typed without arguments


def outcomes_for(
    draws: int, m: Model, area_dtype: type | np.dtype, reuse: Outcomes | None
) -> Outcomes:
    """The outcome arrays a run of ``m`` fills: ``reuse``'s when they have the layout of
    :meth:`Outcomes.empty` (:func:`same_layout`), else new ones (not touched yet: no memory of
    their own)."""
    out = Outcomes.empty(draws, m, area_dtype)
    return reuse if reuse is not None and same_layout(reuse, out) else out


def same_layout(a: Outcomes, b: Outcomes) -> bool:
    """Whether every array of ``a`` has the shape, type and memory layout of ``b``'s."""
    return all(
        x.shape == y.shape
        and x.dtype == y.dtype
        and x.flags.c_contiguous == y.flags.c_contiguous
        and x.flags.f_contiguous == y.flags.f_contiguous
        and x.flags.writeable
        for x, y in zip(a.fields().values(), b.fields().values(), strict=True)
    )


def _aggregate_into(m: Model, raw: tuple[np.ndarray, ...], out: Outcomes, rows: slice) -> None:
    """Reduce raw outputs into the per-draw outcome rows ``rows`` of ``out`` (in place)."""
    ben, cost, flow, dflow = raw[:4]
    p0 = PERSPECTIVES.index(m.spec.scenario.perspective)
    tmp = out.take(rows) if (rows.start, rows.stop) != (0, out.benefits.shape[0]) else out
    if len(raw) > 4:
        for dst, src in zip((tmp.int_benefits, tmp.int_costs, tmp.physical), raw[4:], strict=True):
            if not np.shares_memory(dst, src):
                dst[:] = src[: dst.shape[0]]
    agg = (
        ben,
        cost,
        dflow,
        m.comp_stream,
        m.benefit_weights,
        m.cost_weights,
        m.stakeholder_weights,
        m.years.astype(float),
        p0,
        len(m.streams),
        tmp.benefits,
        tmp.costs,
        tmp.stream,
        *kernel.area_outputs(tmp.area_benefits, tmp.area_costs),
        tmp.component,
        tmp.stakeholder_benefits,
        tmp.stakeholder_costs,
        tmp.payback,
    )
    _on_threads(lambda lo, hi: kernel.aggregate(*agg, lo, hi), ben.shape[0])
    if flow.base is None or not np.shares_memory(flow, tmp.flow):
        tmp.flow[:] = flow
        tmp.dflow[:] = dflow


def _scratch(m: Model, n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.empty((n, len(m.areas), len(m.components))), np.empty(
        (n, len(m.areas), len(m.stakeholders))
    )


def announce_compile(m: Model, area_dtype: type | np.dtype = np.float64) -> None:
    """Say on stderr, once per process, when the numba engine is compiled rather than loaded
    from its cache (a cold first run takes tens of seconds), and then start the compile
    (:func:`mkba.warmup.start`) for the types the run calls: ``area_dtype`` is the type of its
    per-area outcomes (:meth:`Outcomes.empty`). A top-down run's kernel counts as cached only
    for the per-area type the run uses (a cold ``--area-draws float32`` run compiles the
    float32 kernel alone, and a cache holding only the other one is cold for it)."""
    if compile_notice.announced():  # (once per process: not the signature's cost a chunk)
        return
    used: list[Any] = []
    if m.programme is None:  # totals_chunk
        from mkba import warmup

        codes = warmup.signatures("totals", area_dtype)["mkba.kernel:simulate_chunk"]
        used += [(kernel.simulate_chunk, warmup.signature(codes)), kernel.aggregate_totals]
    else:  # raw_chunk + _aggregate_into
        used += [kernel.simulate_chunk, kernel.aggregate, kernel.simulate_programme]
    if compile_notice.announce(used):  # cold: a compile child, and the kernel compiled here
        from mkba import warmup

        warmup.start("totals" if m.programme is None else "programme", area_dtype)


def evaluate(
    m: Model, theta: np.ndarray, *, backend: str = "numba", chunk_size: int = 4096
) -> Outcomes:
    """Outcomes for given parameter vectors (rows of ``theta``), e.g. for sensitivity designs."""
    if backend == "numba":
        announce_compile(m)
    theta = np.atleast_2d(theta)
    n = theta.shape[0]
    out = Outcomes.empty(n, m)
    args = _kernel_args(m) if backend == "numba" else None
    if backend == "numba" and m.programme is None:
        for lo, hi in chunk_bounds(n, chunk_size):
            theta_t = np.ascontiguousarray(theta[lo:hi].T)
            totals_chunk(m, theta_t, out.take(slice(lo, hi)), args)
        return out
    scratch = _scratch(m, min(n, chunk_size))
    for lo, hi in chunk_bounds(n, chunk_size):
        rows = out.take(slice(lo, hi))
        po = (rows.int_benefits, rows.int_costs, rows.physical) if m.programme else None
        raw = raw_chunk(
            m, theta[lo:hi], backend, args, out.flow[lo:hi], out.dflow[lo:hi], scratch, po
        )
        _aggregate_into(m, raw, out, slice(lo, hi))
    return out


def correlation_factor(m: Model) -> tuple[np.ndarray, np.ndarray] | None:
    pairs = [(c.params[0], c.params[1], c.rho) for c in m.spec.scenario.correlations]
    return copula_factor(m.uncertain, pairs, str(m.spec.path))


def uniforms(
    m: Model,
    draws_lo: int,
    draws_hi: int,
    *,
    seed: int,
    sampler: str,
    chunk: int,
    chunk_size: int,
    factor: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """The uniform matrix of one chunk (draws x uncertain parameters), correlated if the
    scenario asks for it.

    Every uncertain parameter draws the column of its position in the parameter registry (all
    parameter paths, in file order). So a parameter gets the same numbers in every scenario
    and variant on the same parameter folder, whatever else is fixed or uncertain there:
    comparisons use common random numbers.
    """
    u = uniform_matrix(
        sampler,
        draws_hi - draws_lo,
        len(m.registry),
        seed=seed,
        chunk=chunk,
        chunk_size=chunk_size,
        columns=m.uncertain_col,
    )
    return apply_copula(u, factor)


def column_major(n: int, u: int) -> np.ndarray:
    """An empty (n x u) array of sampled values laid out column-major (the transpose of a
    C-ordered u x n array): each parameter's values contiguous, as the sampler writes them
    (:func:`mkba.rng.fill_theta`) and as their readers take them (draws.parquet's columns,
    the implied effects' used columns); the values are the same in any layout."""
    return np.empty((u, n)).T


@dataclass
class ChunkResult:
    """Outcomes of draws ``[lo, hi)`` (chunk ``index``), as computed on any backend."""

    index: int
    lo: int
    hi: int
    outcomes: Outcomes
    samples: np.ndarray | None
    timings: dict[str, float]


def compute_chunk(
    m: Model,
    index: int,
    *,
    draws: int,
    seed: int,
    sampler: str,
    chunk_size: int,
    backend: str = "numba",
    keep_samples: bool = True,
    out: Outcomes | None = None,
    samples_out: np.ndarray | None = None,
    args: tuple[Any, ...] | None = None,
    scratch: tuple[np.ndarray, np.ndarray] | None = None,
    area_dtype: type | np.dtype = np.float64,
) -> ChunkResult:
    """Compute chunk ``index``: the one function every backend (in-process, Dask) calls.

    Its numbers depend only on the model, ``seed``, ``sampler``, ``chunk_size`` and ``index``.
    ``out``/``samples_out`` may be views of the whole run's arrays (rows of this chunk), to
    avoid a copy in-process.
    """
    lo = index * chunk_size
    hi = min(draws, lo + chunk_size)
    if not 0 <= lo < hi:
        raise ValueError(f"chunk {index} is outside {draws} draws")
    out = Outcomes.empty(hi - lo, m, area_dtype) if out is None else out
    if backend == "numba":
        announce_compile(m, out.area_benefits.dtype)
    if args is None and backend == "numba":
        args = _kernel_args(m)
    t0 = time.perf_counter()
    factor = correlation_factor(m)
    samples = None
    if sampler in ("random", "lhs"):
        # columns drawn and transformed in compiled groups, in parallel (copula in between);
        # the sampled values written on the way (mkba.rng.fill_theta)
        # (written in place when samples_out is column-major, else through a buffer)
        if keep_samples:
            samples = (
                samples_out if samples_out is not None else column_major(hi - lo, len(m.uncertain))
            )
        theta_t = m.sample_theta_t(
            sampler, hi - lo, seed=seed, chunk=index, factor=factor, samples=samples
        )
    else:
        u = uniforms(
            m,
            lo,
            hi,
            seed=seed,
            sampler=sampler,
            chunk=index,
            chunk_size=chunk_size,
            factor=factor,
        )
        theta_t = m.theta_t(u)
        if keep_samples:
            samples = (
                samples_out if samples_out is not None else column_major(hi - lo, len(m.uncertain))
            )
            samples[:] = (theta_t[m.uncertain_slot] / m.uncertain_scale[:, None]).T
    t1 = time.perf_counter()
    t2, t3 = _kernel_part(m, theta_t, out, backend, args, scratch, t1)
    return ChunkResult(
        index,
        lo,
        hi,
        out,
        samples,
        {"sampling_s": t1 - t0, "kernel_s": t2 - t1, "aggregate_s": t3 - t2},
    )


def _kernel_part(
    m: Model,
    theta_t: np.ndarray,
    out: Outcomes,
    backend: str,
    args: tuple[Any, ...] | None,
    scratch: tuple[np.ndarray, np.ndarray] | None,
    t1: float,
) -> tuple[float, float]:
    """The kernel and the aggregation of one chunk's parameter matrix ``theta_t`` (made by the
    model: its fixed slots hold one value in every column) into ``out`` (the chunk's rows),
    started at ``t1``: returns when the kernel and the aggregation ended."""
    fixed = m.fixed_rows[0]
    if backend == "numba" and m.programme is None:
        t2 = t1 + totals_chunk(m, theta_t, out, args, fixed)
    else:
        n = theta_t.shape[1]
        po = (out.int_benefits, out.int_costs, out.physical) if m.programme else None
        raw = raw_chunk(
            m, Transposed(theta_t), backend, args, out.flow, out.dflow, scratch, po, fixed
        )
        t2 = time.perf_counter()
        _aggregate_into(m, raw, out, slice(0, n))
    return t2, time.perf_counter()


BLOCK_ENV = "MKBA_SAMPLE_BLOCK"
"""Environment variable: ``0`` makes :func:`simulate` sample chunk by chunk
(:func:`compute_chunk`) instead of in blocks of chunks (:class:`BlockSampler`; for
measuring, the same numbers)."""


def _in_blocks(sampler: str) -> bool:
    """Whether :func:`simulate` and :func:`simulate_twin` sample in blocks of chunks."""
    return sampler in ("random", "lhs") and os.environ.get(BLOCK_ENV, "1") != "0"


class BlockSampler:
    """The parameter matrices of a ``random``/``lhs`` run's chunks, sampled a block of whole
    chunks at a time (:func:`mkba.rng.fill_theta_block`: one compiled call per thread a
    block), with the same numbers as :func:`compute_chunk`'s chunk-by-chunk sampling.

    :meth:`theta` of chunk ``j`` samples the block holding ``j`` when it is not the current
    one (the chunks must be asked for in order), so ``block`` chunks' matrices are held, not
    the run's. The matrices' memory is reused from block to block (their fixed rows are set
    once). ``samples`` (U x draws, C order), if given, receives the sampled values of every
    chunk at its draws; else ``passing`` asks for each block's values in a buffer of its own
    (valid until the next block is sampled)."""

    def __init__(
        self,
        m: Model,
        *,
        draws: int,
        seed: int,
        sampler: str,
        chunk_size: int,
        samples: np.ndarray | None = None,
        passing: bool = False,
        factor: tuple[np.ndarray, np.ndarray] | None = None,
        block: int | None = None,
        threads: int | None = None,
        u_cols: np.ndarray | None = None,
    ) -> None:
        from mkba.rng import block_chunks

        self.m, self.seed, self.sampler = m, seed, sampler
        self.draws, self.chunk_size = draws, chunk_size
        self.bounds = chunk_bounds(draws, chunk_size)
        self.samples = samples
        self.passing = passing and samples is None
        self.factor = factor
        self.threads = threads
        self.u_cols = u_cols
        self.u: np.ndarray | None = None  # the block's uniforms of u_cols (B x k x n)
        n = min(draws, chunk_size)
        self.block = block_chunks(m.theta_fixed.size, n) if block is None else max(1, block)
        self.first = -1  # the current block's first chunk (-1: none yet)
        self.count = 0
        self.thts: np.ndarray | None = None
        self.fixed_ready = 0  # the first this many entries of thts hold the fixed rows
        self.buf: np.ndarray | None = None  # the passing values (U x block draws)
        self.sampling_s = 0.0

    def _sample(self, j: int) -> None:
        """Sample the block that starts at chunk ``j``: the next ``block`` chunks of the same
        size (a shorter last chunk is a block of its own)."""
        from mkba.rng import fill_theta_block

        m = self.m
        t0 = time.perf_counter()
        lo, hi = self.bounds[j]
        n = hi - lo
        stop = j + 1
        while stop < len(self.bounds) and stop - j < self.block:
            a, b = self.bounds[stop]
            if b - a != n:
                break
            stop += 1
        count = stop - j
        thts = self.thts
        fresh = thts is None or thts.shape[2] != n or thts.shape[0] < count
        self.first, self.count = -1, 0  # (no block is current until this one is sampled)
        if fresh:
            self.fixed_ready = 0
            thts = self.thts = np.empty((max(count, self.block if n == self.chunk_size else 1),
                                         m.theta_fixed.size, n))  # fmt: skip
        assert thts is not None
        u = len(m.uncertain)
        if self.samples is not None:
            sout, offsets = self.samples, [self.bounds[k][0] for k in range(j, stop)]
        elif self.passing:
            if self.buf is None or self.buf.shape[1] < count * n:
                self.buf = np.empty((u, self.block * min(self.draws, self.chunk_size)))
            sout, offsets = self.buf, [k * n for k in range(count)]
        else:
            sout, offsets = None, None
        u_out = None
        if self.u_cols is not None:
            shape = (thts.shape[0], len(self.u_cols), n)
            if self.u is None or self.u.shape != shape:
                self.u = np.empty(shape)
            u_out = self.u[:count]
        fill_theta_block(
            m.column_plan, m.inverse_cdfs, thts[:count], m.uncertain_slot, m.uncertain_scale,
            sampler=self.sampler, seed=self.seed, chunks=list(range(j, stop)),
            cols=m.uncertain_col, factor=self.factor, samples=sout, offsets=offsets,
            threads=self.threads, fixed=m.fixed_rows if count > self.fixed_ready else None,
            u_cols=self.u_cols, u_out=u_out,
        )  # fmt: skip
        self.fixed_ready = max(self.fixed_ready, count)
        self.first, self.count = j, count
        self.sampling_s += time.perf_counter() - t0

    def theta(self, j: int) -> np.ndarray:
        """Chunk ``j``'s parameter matrix (slots x n), valid until the next block is sampled
        (the next call for a chunk past this block)."""
        if not self.first <= j < self.first + self.count:
            self._sample(j)
        assert self.thts is not None
        return self.thts[j - self.first]

    def uniforms(self, j: int) -> np.ndarray:
        """Chunk ``j``'s uniforms of the columns ``u_cols`` (k x n), after :meth:`theta` of
        ``j`` (:func:`mkba.rng.fill_theta`'s twin mode)."""
        assert self.u is not None and self.first <= j < self.first + self.count
        return self.u[j - self.first]

    def chunk_samples(self, j: int) -> np.ndarray | None:
        """Chunk ``j``'s sampled values (n x U, column-major), after :meth:`theta` of ``j``:
        rows of the run's samples, or of the block's buffer; None if neither is kept."""
        assert self.first <= j < self.first + self.count
        lo, hi = self.bounds[j]
        if self.samples is not None:
            return self.samples.T[lo:hi]
        if self.passing and self.buf is not None:
            a = lo - self.bounds[self.first][0]
            return self.buf.T[a : a + hi - lo]
        return None


def chunk_mean_npv(m: Model, outcomes: Outcomes) -> float:
    p0 = PERSPECTIVES.index(m.spec.scenario.perspective)
    return float(np.mean(outcomes.npv_of(p0)))


def assemble(
    m: Model, chunks: list[ChunkResult], *, draws: int, seed: int, sampler: str, chunk_size: int
) -> Run:
    """Put chunks computed anywhere (in any order) together into one run."""
    chunks = sorted(chunks, key=lambda c: c.index)
    expected = list(range(len(chunk_bounds(draws, chunk_size))))
    if [c.index for c in chunks] != expected:
        raise ValueError(f"chunks {[c.index for c in chunks]} do not cover {expected}")
    out = Outcomes.empty(draws, m, chunks[0].outcomes.area_benefits.dtype)
    for c in chunks:
        for k, v in c.outcomes.fields().items():
            dst = getattr(out, k)[c.lo : c.hi]  # physical effects: only the first draws
            dst[:] = v[: dst.shape[0]]
    samples = None
    if all(c.samples is not None for c in chunks):
        samples = np.concatenate([c.samples for c in chunks if c.samples is not None])
    timings = {
        k: sum(c.timings.get(k, 0.0) for c in chunks)
        for k in ("sampling_s", "kernel_s", "aggregate_s")
    }
    return Run(
        model=m,
        outcomes=out,
        draws=draws,
        seed=seed,
        sampler=sampler,
        chunk_size=chunk_size,
        samples=samples,
        timings=timings,
        chunk_means=np.array([chunk_mean_npv(m, c.outcomes) for c in chunks]),
    )


def simulate(
    m: Model,
    *,
    draws: int | None = None,
    seed: int | None = None,
    sampler: str | None = None,
    chunk_size: int | None = None,
    backend: str = "numba",
    keep_samples: bool = True,
    progress: Progress | None = None,
    area_dtype: type | np.dtype = np.float64,
    spill_samples: bool = False,
    on_samples: Callable[[int, np.ndarray], None] | None = None,
    reuse: Outcomes | None = None,
) -> Run:
    """Run the Monte Carlo simulation of a lowered scenario.

    Parameters default to the scenario's own ``draws``, ``seed``, ``sampler`` and
    ``chunk_size``. Chunk ``j`` always holds draws ``[j*chunk_size, (j+1)*chunk_size)`` and
    its own random stream, so the result does not depend on threads or workers. A
    ``random``/``lhs`` sample is drawn a block of chunks at a time (:class:`BlockSampler`),
    then each chunk's kernel runs: the numbers of :func:`compute_chunk` chunk by chunk (the
    unit of the Dask path), with the per-chunk Python and thread hand-over paid once a block.

    ``area_dtype=np.float32`` stores the per-draw, per-area outcomes (``area_benefits``,
    ``area_costs``) in single precision, for runs over many areas (see :meth:`Outcomes.empty`);
    every other outcome is unchanged.

    ``spill_samples=True`` (with ``keep_samples``) writes the sampled values chunk by chunk to a
    temporary file (:class:`mkba.spill.SpilledRows`, ``Run.spilled``; ``Run.samples`` is then
    None) instead of holding them: 0.69 GB less memory per million draws of the reference.

    ``on_samples(lo, samples)`` is called after each chunk with its sampled values (rows
    ``lo:lo + len(samples)`` of ``Run.samples``, valid during the call only), also with
    ``keep_samples=False``: e.g. :class:`mkba.implied.FullStrength` works on them while they
    are at hand instead of reading them back.

    ``reuse``: the outcome arrays of a finished run that is no longer needed (e.g. a companion
    run's), used for this run's outcomes when their shapes, types and layouts are those this
    run needs (else ignored): every value is written before it is read, so the numbers are the
    same, and the operating system does not map and clear fresh memory for them again (1.2 GB
    per million draws of the reference).
    """
    sc = m.spec.scenario
    draws = sc.draws if draws is None else int(draws)
    seed = sc.seed if seed is None else int(seed)
    sampler = sc.sampler if sampler is None else sampler
    chunk_size = sc.chunk_size if chunk_size is None else int(chunk_size)
    if draws < 1:
        raise ValueError("draws must be at least 1")
    out = outcomes_for(draws, m, area_dtype, reuse)
    spilled = SpilledRows(draws, len(m.uncertain)) if keep_samples and spill_samples else None
    samples = column_major(draws, len(m.uncertain)) if keep_samples and not spilled else None
    args = _kernel_args(m) if backend == "numba" else None
    bounds = chunk_bounds(draws, chunk_size)
    # the samples of one chunk, when they are not kept in memory: one buffer for every chunk
    passing = samples is None and (spilled is not None or on_samples is not None)
    in_blocks = _in_blocks(sampler)
    buf = (  # (in blocks, the block's own buffer)
        column_major(min(draws, chunk_size), len(m.uncertain))
        if passing and not in_blocks
        else None
    )
    # per-area raw outputs are needed only by the NumPy path and by bottom-up programmes
    fused = backend == "numba" and m.programme is None
    scratch = None if fused else _scratch(m, min(draws, chunk_size))
    t_sample = t_kernel = t_agg = 0.0
    chunk_means = np.empty(len(bounds))
    blocks = None
    if in_blocks:
        if backend == "numba":
            announce_compile(m, area_dtype)  # (a cold cache: the compile child starts first)
        blocks = BlockSampler(
            m, draws=draws, seed=seed, sampler=sampler, chunk_size=chunk_size,
            samples=samples.T if samples is not None else None,
            passing=passing,
            factor=correlation_factor(m),
        )  # fmt: skip
    for j, (lo, hi) in enumerate(bounds):
        if blocks is not None:  # the same numbers as compute_chunk's, sampled a block at once
            s0 = blocks.sampling_s
            theta_t = blocks.theta(j)
            rows = out.take(slice(lo, hi))
            t1 = time.perf_counter()
            t2, t3 = _kernel_part(m, theta_t, rows, backend, args, scratch, t1)
            res = ChunkResult(
                j, lo, hi, rows, blocks.chunk_samples(j),
                {"sampling_s": blocks.sampling_s - s0, "kernel_s": t2 - t1, "aggregate_s": t3 - t2},
            )  # fmt: skip
        else:
            res = compute_chunk(
                m,
                j,
                draws=draws,
                seed=seed,
                sampler=sampler,
                chunk_size=chunk_size,
                backend=backend,
                keep_samples=keep_samples or on_samples is not None,
                out=out.take(slice(lo, hi)),
                samples_out=samples[lo:hi]
                if samples is not None
                else (buf[: hi - lo] if buf is not None else None),
                args=args,
                scratch=scratch,
            )
        if spilled is not None and res.samples is not None:
            spilled.write_rows(lo, res.samples)
        if on_samples is not None and res.samples is not None:
            on_samples(lo, res.samples)
        t_sample += res.timings["sampling_s"]
        t_kernel += res.timings["kernel_s"]
        t_agg += res.timings["aggregate_s"]
        chunk_means[j] = chunk_mean_npv(m, res.outcomes)
        if progress is not None:
            progress(hi, draws)
    return Run(
        model=m,
        outcomes=out,
        draws=draws,
        seed=seed,
        sampler=sampler,
        chunk_size=chunk_size,
        samples=samples,
        timings={"sampling_s": t_sample, "kernel_s": t_kernel, "aggregate_s": t_agg},
        chunk_means=chunk_means,
        spilled=spilled,
    )


# --- the twin: a companion simulated in the run's sampling pass -------------------------------


@dataclass(frozen=True)
class Twin:
    """A second model (``other``, e.g. a run's companion) whose chunks draw the very uniforms
    of the first's (:func:`twin_of` checked everything that determines them), so that both are
    simulated in one sampling pass (:func:`simulate_twin`): the first model's parameter rows
    are sampled as always, and ``other``'s differ only in the rows ``slots`` of the uncertain
    columns ``cols``, whose inverse CDFs differ: those are put through ``other``'s own inverse
    CDFs (``plan``, ``inverse_cdfs``, ``scale``) from the same uniforms."""

    other: Model
    cols: np.ndarray  # (k,) uncertain columns whose inverse CDFs differ
    slots: np.ndarray  # (k,) their slots (the same in both models)
    plan: ColumnPlan  # other's column plan of those columns
    inverse_cdfs: tuple[InverseCdf, ...]  # other's inverse CDFs of those columns
    scale: np.ndarray  # (k,) their price scales


def _same_bytes(a: Any, b: Any) -> bool:
    """Whether two arrays hold the same bits (shape and dtype included; -0.0 is not 0.0, and
    NaN equals itself)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _same_inverse_cdf(a: InverseCdf, b: InverseCdf) -> bool:
    """Whether two inverse CDFs give the same bits for every uniform: the same distribution
    (type and every parameter, by ``repr``, which spells floats exactly) and the same
    compiled form (kind, parameters and Hermite grid, bit for bit)."""
    da, db = a.q.dist, b.q.dist
    if type(da) is not type(db) or repr(da) != repr(db):
        return False
    (ka, pa, ga), (kb, pb, gb) = a.compiled(), b.compiled()
    if ka != kb or not _same_bytes(np.array(pa, float), np.array(pb, float)):
        return False
    if (ga is None) != (gb is None):
        return False
    return ga is None or (
        gb is not None and _same_bytes(ga[0], gb[0]) and _same_bytes(ga[1], gb[1])
    )


def twin_of(
    m: Model,
    other: Model,
    *,
    draws: int,
    seed: int,
    sampler: str,
    chunk_size: int,
    other_draws: int,
    other_seed: int,
    other_sampler: str,
    other_chunk_size: int,
    backend: str = "numba",
) -> Twin | None:
    """The :class:`Twin` of ``other`` beside ``m`` when the two runs (``m`` with ``draws``,
    ``seed``, ``sampler``, ``chunk_size``; ``other`` with its own) draw the same uniforms in
    every chunk and differ only in the inverse CDFs of some uncertain columns (and the
    medians of their slots); else None (they are simulated one after the other).

    What determines a chunk's uniforms, and must be the same: the draws, the chunk size, the
    seed, the sampler (``random`` or ``lhs``: independent column streams,
    :func:`mkba.rng.fill_theta`), each uncertain column's registry column, and the Gaussian
    copula (correlated columns and Cholesky factor, bit for bit). What determines the
    parameter rows besides: the slots and price scales of the uncertain columns and the fixed
    slots' values (bit for bit); the columns whose inverse CDFs are the same give the same
    rows, the others are transformed for ``other`` apart. Only the compiled path without a
    bottom-up programme (:func:`totals_chunk`) is twinned."""
    if backend != "numba" or m.programme is not None or other.programme is not None:
        return None
    if (draws, seed, sampler, chunk_size) != (
        other_draws,
        other_seed,
        other_sampler,
        other_chunk_size,
    ) or sampler not in ("random", "lhs"):
        return None
    U = len(m.uncertain)
    if len(other.uncertain) != U or m.theta_fixed.size != other.theta_fixed.size:
        return None
    same = (
        _same_bytes(m.uncertain_col.astype(np.int64), other.uncertain_col.astype(np.int64))
        and _same_bytes(m.uncertain_slot, other.uncertain_slot)
        and _same_bytes(m.uncertain_scale, other.uncertain_scale)
    )
    if not same:
        return None
    fixed = np.ones(m.theta_fixed.size, dtype=bool)
    fixed[m.uncertain_slot] = False
    if not _same_bytes(m.theta_fixed[fixed], other.theta_fixed[fixed]):
        return None
    fa, fb = correlation_factor(m), correlation_factor(other)
    if (fa is None) != (fb is None):
        return None
    if (
        fa is not None
        and fb is not None
        and not (_same_bytes(fa[0], fb[0]) and _same_bytes(fa[1], fb[1]))
    ):
        return None
    from mkba.rng import column_plan

    cols = np.array(
        [j for j in range(U) if not _same_inverse_cdf(m.inverse_cdfs[j], other.inverse_cdfs[j])],
        dtype=np.int64,
    )
    inv = tuple(other.inverse_cdfs[j] for j in cols)
    return Twin(
        other=other,
        cols=cols,
        slots=np.ascontiguousarray(m.uncertain_slot[cols]),
        plan=column_plan(inv),
        inverse_cdfs=inv,
        scale=np.ascontiguousarray(other.uncertain_scale[cols], dtype=np.float64),
    )


def simulate_twin(
    m: Model,
    twin: Twin,
    *,
    draws: int,
    seed: int,
    sampler: str,
    chunk_size: int,
    progress: Progress | None = None,
    area_dtype: type | np.dtype = np.float64,
    spill_samples: bool = False,
    on_samples: Callable[[int, np.ndarray], None] | None = None,
    other_on_samples: Callable[[int, np.ndarray], None] | None = None,
    reuse: Outcomes | None = None,
    on_sampled: Callable[[int, np.ndarray, np.ndarray], Callable[[], None] | None] | None = None,
    keep_samples: bool = True,
) -> tuple[Run, Run]:
    """``simulate(m, ...)`` and ``simulate(twin.other, ..., keep_samples=False)`` (the same
    draws, seed, sampler and chunk size, as :func:`twin_of` checked) in one sampling pass,
    with the same numbers as the two.

    Per chunk: ``m``'s parameter rows are sampled as :func:`simulate` samples them, keeping
    the uniforms of the twin's columns; those go through the other model's inverse CDFs
    (:func:`mkba.rng.fill_theta` on the given uniforms: the same arithmetic as when drawn);
    ``m``'s kernel runs, then the twin's rows replace ``m``'s and the other model's kernel
    runs on the same matrix; when :func:`joint_twin_kernel` allows (only rows read after the
    time profiles and PV factors differ, e.g. effect sizes), one kernel call computes both
    (the shared part once). The other run's sampled values (``m``'s, with the twin's
    columns replaced) go to ``other_on_samples`` and are not kept; its outcomes are
    :meth:`Outcomes.light` (what a side summary reads). ``m``'s run keeps its samples as
    :func:`simulate` with ``keep_samples=True`` (spilled with ``spill_samples``).

    The other run's ``timings`` are its own share: ``sampling_s`` (its columns' inverse CDFs
    and sampled values), ``kernel_s`` (0.0 with one kernel call for both: counted in ``m``'s),
    ``aggregate_s``; ``m``'s run has the rest.

    ``on_samples`` is called before ``other_on_samples``, each with rows ``lo:hi`` of the
    samples of its own run (valid during the call only; the other run's are ``m``'s with the
    twin's columns written in for the call).

    ``reuse``: outcome arrays for ``m``'s run, as in :func:`simulate`. ``keep_samples=False``:
    ``m``'s run keeps no samples either (they pass by ``on_samples`` only, as in
    :func:`simulate`).

    ``on_sampled(lo, samples, twin_samples)`` (instead of ``other_on_samples``, which writes
    the twin's columns into ``samples`` for its call; ``on_samples`` only reads them and may
    come with it): called as soon as a chunk's values are sampled, before the kernels,
    with ``m``'s sampled values (rows ``lo:hi``) and the other run's values of the twin's
    columns (n x ``twin.cols.size``, in the order of ``twin.cols``; the rest of the other
    run's are ``m``'s). Neither array changes until the callable it returns (if any) has been
    called, which the pass does before it samples the next chunk and before it returns: a
    consumer on another thread may read them while the kernels run, without a copy."""
    from mkba.rng import fill_theta

    if on_sampled is not None and other_on_samples is not None:
        # other_on_samples's call writes the twin's columns into the samples on_sampled's
        # consumer may be reading
        raise ValueError("on_sampled is instead of other_on_samples")

    other = twin.other
    if draws < 1:
        raise ValueError("draws must be at least 1")
    if m.programme is not None or other.programme is not None:
        raise ValueError("simulate_twin is for scenarios without a bottom-up programme")
    announce_compile(m, area_dtype)
    out = outcomes_for(draws, m, area_dtype, reuse)
    oout = Outcomes.light(draws, other)
    # the other run's arrays its side summary does not read: one chunk's, reused
    oscratch = Outcomes.empty(min(draws, chunk_size), other, area_dtype)
    olight = Outcomes.empty(0, other, area_dtype)
    U = len(m.uncertain)
    k = twin.cols.size
    spilled = SpilledRows(draws, U) if spill_samples and keep_samples else None
    samples = column_major(draws, U) if spilled is None and keep_samples else None
    in_blocks = _in_blocks(sampler)
    # the chunk's sampled values and uniforms when not in blocks (else the block's buffers)
    buf = column_major(min(draws, chunk_size), U) if samples is None and not in_blocks else None
    ubuf = None if in_blocks else np.empty(k * min(draws, chunk_size))
    args, oargs = _kernel_args(m), _kernel_args(other)
    # m's fixed slots hold one value in every column of the chunk's matrix, also after the
    # twin's rows (uncertain slots of m) are written in for the other model's kernel
    fixed = m.fixed_rows[0]
    # one kernel call for both models where only parameter rows read after the time profiles
    # and PV factors differ (the reference and its companion: 6 effect rows)
    joint = os.environ.get(JOINT_ENV, "1") != "0" and joint_twin_kernel(
        args, oargs, twin.slots, fixed
    )
    factor = correlation_factor(m)
    rows_k = np.arange(k, dtype=np.int64)
    # the twin's per-chunk arrays, one buffer each for every chunk (fresh arrays of every
    # chunk cost page faults: the allocator gives their memory back and takes it again)
    size = k * min(draws, chunk_size)
    rbuf, sbuf, mbuf = (np.empty(size) for _ in range(3))
    bounds = chunk_bounds(draws, chunk_size)
    chunk_means, ochunk_means = np.empty(len(bounds)), np.empty(len(bounds))
    t_sample = t_kernel = t_agg = 0.0
    o_sample = o_kernel = o_agg = 0.0
    release: Callable[[], None] | None = None  # on_sampled's, for the chunk before
    blocks = None
    if in_blocks:
        # m's rows sampled a block of chunks at a time (the same numbers; the twin's uniforms
        # kept per chunk); the block's samples in the run's or in a buffer of the block's
        blocks = BlockSampler(
            m, draws=draws, seed=seed, sampler=sampler, chunk_size=chunk_size,
            samples=samples.T if samples is not None else None, passing=True, factor=factor,
            u_cols=twin.cols,
        )  # fmt: skip
    for j, (lo, hi) in enumerate(bounds):
        n = hi - lo
        if release is not None:  # the buffers are written again below
            release()
            release = None
        t0 = time.perf_counter()
        if blocks is not None:
            theta_t = blocks.theta(j)
            u = blocks.uniforms(j)
            samp = blocks.chunk_samples(j)
            assert samp is not None
        else:
            # the chunk's sampled values (n x U, column-major: written in place when the whole
            # run's are not kept, else through fill_theta's buffer into the run's rows)
            samp = samples[lo:hi] if samples is not None else buf[:n]  # type: ignore[index]  # buf is set when samples is None
            u = ubuf[: k * n].reshape(k, n)  # type: ignore[index]  # ubuf is set when not in blocks
            theta_t = m.sample_theta_t(
                sampler, n, seed=seed, chunk=j, factor=factor, samples=samp, u_cols=twin.cols,
                u_out=u,
            )  # fmt: skip
        t1 = time.perf_counter()
        # the twin's rows and sampled values, from the same uniforms
        trows = rbuf[: k * n].reshape(k, n)
        tsamp = sbuf[: k * n].reshape(k, n).T  # (n x k, column-major as samp)
        fill_theta(twin.plan, twin.inverse_cdfs, trows, rows_k, twin.scale, ut=u, samples=tsamp)
        if on_sampled is not None:
            release = on_sampled(lo, samp, tsamp)
        t2 = time.perf_counter()
        rows = out.take(slice(lo, hi))
        orows = dataclasses.replace(
            # one kernel call: the other run's light outputs (only what its benefits, costs and
            # streams are made of: no flows, per-area totals, stakeholder gains or payback)
            olight if joint else oscratch.take(slice(0, n)),
            component=oscratch.component[:n],
            stakeholder_costs=oscratch.stakeholder_costs[:n],
            benefits=oout.benefits[lo:hi],
            costs=oout.costs[lo:hi],
            stream=oout.stream[lo:hi],
        )
        if joint:  # both models in one kernel call (its time counted as m's), and their
            # aggregation in the same tasks
            marks: list[float] = []
            totals_chunk(m, theta_t, rows, args, fixed, (twin.slots, trows, orows), other, marks)
            t3, t4 = marks
            theta_t[twin.slots] = trows
            t5 = t4
        else:
            t3 = t2 + totals_chunk(m, theta_t, rows, args, fixed)
            t4 = time.perf_counter()
            theta_t[twin.slots] = trows
            t5 = t4 + totals_chunk(other, theta_t, orows, oargs, fixed)
        t6 = time.perf_counter()
        if spilled is not None:
            spilled.write_rows(lo, samp)
        if on_samples is not None:
            on_samples(lo, samp)
        if other_on_samples is not None:
            # the other run's sampled values: this chunk's, with the twin's columns put in
            # for the call (a sink's samples are valid during the call only) and then put
            # back (no copy of the whole chunk)
            mine = np.take(samp, twin.cols, axis=1, out=mbuf[: k * n].reshape(k, n).T, mode="clip")
            samp[:, twin.cols] = tsamp
            try:
                other_on_samples(lo, samp)
            finally:
                samp[:, twin.cols] = mine
        chunk_means[j] = chunk_mean_npv(m, rows)
        ochunk_means[j] = chunk_mean_npv(other, orows)
        t_sample += t1 - t0
        t_kernel += t3 - t2
        t_agg += t4 - t3
        o_sample += t2 - t1
        o_kernel += t5 - t4
        o_agg += t6 - t5
        if progress is not None:
            progress(hi, draws)
    if release is not None:
        release()
    run = Run(
        model=m,
        outcomes=out,
        draws=draws,
        seed=seed,
        sampler=sampler,
        chunk_size=chunk_size,
        samples=samples,
        timings={"sampling_s": t_sample, "kernel_s": t_kernel, "aggregate_s": t_agg},
        chunk_means=chunk_means,
        spilled=spilled,
    )
    orun = Run(
        model=other,
        outcomes=oout,
        draws=draws,
        seed=seed,
        sampler=sampler,
        chunk_size=chunk_size,
        samples=None,
        timings={"sampling_s": o_sample, "kernel_s": o_kernel, "aggregate_s": o_agg},
        chunk_means=ochunk_means,
    )
    return run, orun
