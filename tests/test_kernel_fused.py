"""The fused kernel (issue 17, target 8: i18-kernel) computes every draw with the same
operations in the same order as the kernel before it, so its outputs are the same bits.

The oracle is a verbatim copy of that kernel's ``simulate_chunk`` (tests/kernel_i17_oracle.py,
main at 33eaa88). Outputs are compared as raw bytes (stricter than ``np.array_equal``: the sign
of a zero and NaN payloads count), on every shipped scenario, with and without per-area
outputs, for odd draw counts (1, 63, 65, 1000), for the draw ranges of 1, 2, 3 and 5 threads,
and on variants built to reach the branches the shipped scenarios do not: several period
groups, an odd number of years and of domains, and per-lane lags, ramps, half-lives and trends
at their edges (fractional lags, zero, infinite and NaN half-lives and ramps).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import kernel_i17_oracle as oracle
from mkba import engine, kernel
from mkba.load import load_scenario
from mkba.model import lower

SCENARIOS = Path(__file__).parents[1] / "scenarios"
SHIPPED = ["reference-2021", "evidence-2021", "nplv-2022", "wijkprogramma-example"]
B = kernel._BLOCK

# positions of the arguments in engine._kernel_args (after theta_t)
(
    OFF_STREAM,
    OFF_COMP,
    OFF_DOM,
    OFF_GLOB,
    VOLUME0,
    DATA_YEAR,
    RESPONSE_W,
    BUDGET_RATIO,
    GOV_RATIO,
    PERIOD_GROUP,
    GROUP_START,
    GROUP_END,
    YEARS,
    BASE_YEAR,
    COMP_STREAM,
    COMP_SIGN,
    FLOW_WEIGHTS,
    DF_STREAM,
    DF_COST,
    BUDGET_PV,
    FOLLOWUP_PV,
    PAYER_SHARE,
    COST_FLOW,
    FOLLOWUP_FLOW,
    BW0,
    CW0,
) = range(26)


@pytest.fixture(scope="module")
def models():  # type: ignore[no-untyped-def]
    return {name: lower(load_scenario(SCENARIOS / f"{name}.toml")) for name in SHIPPED}


def _theta_t(m, n: int, seed: int = 11) -> np.ndarray:  # type: ignore[no-untyped-def]
    u = engine.uniforms(m, 0, n, seed=seed, sampler="random", chunk=0, chunk_size=max(n, 1))
    return np.ascontiguousarray(m.theta_t(u))


def _run(fn, tht, args, keep_areas: bool, cuts, area_order="F", area_dtype=np.float64, const=None):  # type: ignore[no-untyped-def]
    """All outputs of ``fn`` (old or new ``simulate_chunk``) over the draw ranges ``cuts``,
    starting from NaN-filled arrays (so an element left unwritten would show). The per-area
    outputs are column-major float64 as the engine's unless ``area_order`` / ``area_dtype``
    say otherwise. The new kernel gets ``const`` as its ``const_rows`` (default: none, every
    row read per draw); the oracle has no such argument."""
    if fn is kernel.simulate_chunk:
        rows = np.empty(0, dtype=np.int64) if const is None else const
        args = (*args, rows)
    n = tht.shape[1]
    A = args[VOLUME0].shape[0]
    C, K, T = args[COMP_STREAM].shape[0], args[PAYER_SHARE].shape[1], args[YEARS].shape[0]
    nk = n if keep_areas else 0
    ben, cost = np.full((nk, A, C), np.nan), np.full((nk, A, K), np.nan)
    flow, dflow = np.full((n, T), np.nan), np.full((n, T), np.nan)
    comp, shc = np.full((n, C), np.nan), np.full((n, K), np.nan)
    area_b = np.full((n, A), np.nan, dtype=area_dtype, order=area_order)
    area_c = np.full((n, A), np.nan, dtype=area_dtype, order=area_order)
    views = kernel.area_outputs(area_b, area_c)
    for lo, hi in itertools.pairwise(cuts):
        twin = engine._no_twin(views[0]) if fn is kernel.simulate_chunk else ()
        fn(tht, *args, keep_areas, ben, cost, flow, dflow, comp, shc, *views, *twin, lo, hi)
    return {
        "ben": ben,
        "cost": cost,
        "flow": flow,
        "dflow": dflow,
        "component": comp,
        "sh_costs": shc,
        "area_ben": area_b,
        "area_cost": area_c,
    }


def _assert_same_bits(tht, args, keep_areas: bool, parts: int = 1, const=None, **area) -> None:  # type: ignore[no-untyped-def]
    n = tht.shape[1]
    old = _run(oracle.simulate_chunk, tht, args, keep_areas, [0, n], **area)
    cuts = kernel.draw_ranges(n, parts)
    new = _run(kernel.simulate_chunk, tht, args, keep_areas, cuts, const=const, **area)
    for key, a in old.items():
        b = new[key]
        assert a.shape == b.shape, key
        assert a.tobytes() == b.tobytes(), f"{key} differs (n = {n}, parts = {parts})"
    # not a comparison of two NaN arrays: the oracle wrote numbers (every element it writes is
    # written by the new kernel too, as the arrays start as NaN)
    assert np.isfinite(old["flow"]).any() and np.isfinite(old["component"]).any()


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("n", [1, 63, 65, 1000])
@pytest.mark.parametrize("keep_areas", [False, True])
def test_shipped_scenarios_same_bits(models, name: str, n: int, keep_areas: bool) -> None:  # type: ignore[no-untyped-def]
    m = models[name]
    _assert_same_bits(_theta_t(m, n), engine._kernel_args(m), keep_areas)


@pytest.mark.parametrize("parts", [1, 2, 3, 5])
@pytest.mark.parametrize("n", [65, 1000, 4096])
def test_thread_ranges_same_bits(models, parts: int, n: int) -> None:  # type: ignore[no-untyped-def]
    """The engine's split of a chunk over 1, 2, 3 and 5 threads (kernel.draw_ranges) against
    one call of the old kernel."""
    m = models["reference-2021"]
    _assert_same_bits(_theta_t(m, n, seed=5), engine._kernel_args(m), False, parts)


@pytest.mark.parametrize("area_order", ["F", "C"])
@pytest.mark.parametrize("area_dtype", [np.float64, np.float32])
def test_area_output_layouts_same_bits(models, area_order: str, area_dtype) -> None:  # type: ignore[no-untyped-def]
    """The per-area outputs column-major (the engine's: one contiguous run per area and block,
    written with non-temporal stores) and row-major (a strided run: the kernel's other path),
    in float64 and in float32 (the engine's ``area_dtype`` option: the same cast), over the
    ranges of 2 threads and with a partial last block (n = 1000)."""
    m = models["reference-2021"]
    tht = _theta_t(m, 1000, seed=3)
    args = engine._kernel_args(m)
    _assert_same_bits(tht, args, False, 2, area_order=area_order, area_dtype=area_dtype)


def _variant(m, groups: int, drop_year: bool, drop_domain: bool):  # type: ignore[no-untyped-def]
    """The reference's kernel arguments with ``groups`` period groups (areas assigned in turn,
    starts and ends 2021-2023 .. 2023-2027), optionally without the last year (an odd number of
    years) and without the last domain (an odd number of domains)."""
    args = list(engine._kernel_args(m))
    A = args[VOLUME0].shape[0]
    args[PERIOD_GROUP] = np.arange(A, dtype=args[PERIOD_GROUP].dtype) % groups
    args[GROUP_START] = 2021.0 + np.arange(groups, dtype=float)
    args[GROUP_END] = 2023.0 + 2.0 * np.arange(groups, dtype=float)
    if drop_year:
        T = args[YEARS].shape[0] - 1
        args[YEARS] = np.ascontiguousarray(args[YEARS][:T])
        args[DF_STREAM] = np.ascontiguousarray(args[DF_STREAM][:, :T])
        args[DF_COST] = np.ascontiguousarray(args[DF_COST][:T])
        args[COST_FLOW] = np.ascontiguousarray(args[COST_FLOW][:, :T])
        args[FOLLOWUP_FLOW] = np.ascontiguousarray(args[FOLLOWUP_FLOW][:, :T])
    if drop_domain:
        D = args[RESPONSE_W].shape[1] - 1
        args[RESPONSE_W] = np.ascontiguousarray(args[RESPONSE_W][:, :D])
        args[BUDGET_RATIO] = np.ascontiguousarray(args[BUDGET_RATIO][:, :D])
        args[BUDGET_PV] = np.ascontiguousarray(args[BUDGET_PV][:, :D])
        args[FOLLOWUP_PV] = np.ascontiguousarray(args[FOLLOWUP_PV][:, :D])
        args[PAYER_SHARE] = np.ascontiguousarray(args[PAYER_SHARE][:D])
        args[COST_FLOW] = np.ascontiguousarray(args[COST_FLOW][:D])
        args[FOLLOWUP_FLOW] = np.ascontiguousarray(args[FOLLOWUP_FLOW][:D])
    return tuple(args)


def _edge_theta(m, n: int, seed: int = 7) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Drawn parameters with, per lane, lags, ramps, half-lives and trends at their edges."""
    tht = _theta_t(m, n, seed)
    rng = np.random.default_rng(seed)
    S = len(m.streams)
    sl = m.slots
    lags = np.array([0.0, 1.0, 1.5, -0.25, 2.75, 0.5, np.nan])
    ramps = np.array([0.0, 1e-300, 0.5, 1.0, 2.5, 7.25, np.inf, np.nan, -1.0])
    halves = np.array([0.0, 0.5, 3.0, 12.0, np.inf, np.nan, -2.0])
    trends = np.array([0.0, -0.02, 0.03, -0.5, 1e300])
    for s in range(S):
        for slot, values in (("lag", lags), ("ramp", ramps), ("half_life", halves)):
            tht[sl.stream(slot) + s] = rng.choice(values, n)
        pick = rng.random(n) < 0.3
        tht[sl.stream("trend") + s, pick] = rng.choice(trends, int(pick.sum()))
    return tht


@pytest.mark.parametrize("groups", [1, 2, 3])
@pytest.mark.parametrize("drop_year", [False, True])
@pytest.mark.parametrize("drop_domain", [False, True])
def test_variants_same_bits(models, groups: int, drop_year: bool, drop_domain: bool) -> None:  # type: ignore[no-untyped-def]
    m = models["reference-2021"]
    args = _variant(m, groups, drop_year, drop_domain)
    tht = _theta_t(m, 1000, seed=groups)
    _assert_same_bits(tht, args, keep_areas=groups == 2, parts=groups)


@pytest.mark.parametrize("groups", [1, 3])
@pytest.mark.parametrize("n", [65, 1000])
def test_edge_parameters_same_bits(models, groups: int, n: int) -> None:  # type: ignore[no-untyped-def]
    """Fractional lags (the decay's first factor is 0.5 ** (dt0 / h), the kernel's scalar
    pass), zero, negative, infinite and NaN ramps and half-lives, extreme trends."""
    m = models["reference-2021"]
    args = _variant(m, groups, drop_year=groups == 3, drop_domain=False)
    tht = _edge_theta(m, n, seed=n + groups)
    _assert_same_bits(tht, args, keep_areas=True, parts=2)


@pytest.mark.parametrize("streams", ["none", "one", "two", "three", "all"])
@pytest.mark.parametrize("groups", [1, 2])
def test_flow_weight_patterns_same_bits(models, streams: str, groups: int) -> None:  # type: ignore[no-untyped-def]
    """i21-kernel: components without a flow weight skip the flow-weight sum, and with one
    period group the first pair of streams carrying flows starts the flows from 0.0 itself
    (no zeroing pass). Reached here: no stream with a flow weight (only the costs make the
    flows), one (the zeroing pass and the one-stream pass), two (the first pair only), three
    (the first pair, then one stream) and every component weighted; also with two groups."""
    m = models["reference-2021"]
    args = list(_variant(m, groups, drop_year=False, drop_domain=False))
    cs = args[COMP_STREAM]
    keep = {"none": 0, "one": 1, "two": 2, "three": 3, "all": int(cs.max()) + 1}[streams]
    w = np.where(cs < keep, np.where(args[COMP_SIGN] < 0, -1.0, 1.0), 0.0)
    if streams == "all":
        w = np.where(args[COMP_SIGN] < 0, -1.0, 1.0)
    args[FLOW_WEIGHTS] = np.ascontiguousarray(w)
    args = tuple(args)
    tht = _edge_theta(m, 130, seed=7 + groups)
    _assert_same_bits(tht, args, keep_areas=False, parts=2)
    tht = _theta_t(m, 130, seed=3 + groups)
    _assert_same_bits(tht, args, keep_areas=False, parts=1)


def test_no_period_group_is_refused(models) -> None:  # type: ignore[no-untyped-def]
    m = models["reference-2021"]
    args = list(engine._kernel_args(m))
    args[GROUP_START] = args[GROUP_START][:0]
    args[GROUP_END] = args[GROUP_END][:0]
    with pytest.raises(ValueError, match="at least one period group"):
        _run(kernel.simulate_chunk, _theta_t(m, 3), tuple(args), False, [0, 3])


def _constant_rows(tht: np.ndarray) -> np.ndarray:
    """The rows of ``tht`` whose every value has the bits of its first (any row may be)."""
    bits = tht.view(np.int64)
    return np.flatnonzero((bits == bits[:, :1]).all(axis=1)).astype(np.int64)


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("n", [1, 63, 65, 1000])
def test_const_rows_same_bits(models, name: str, n: int) -> None:  # type: ignore[no-untyped-def]
    """i23-kernel: rows the caller declares constant (``const_rows``) are read once per call;
    the outputs are the oracle's bits, with the model's fixed slots (as the engine passes
    them) and with every constant row of the matrix, over 1 and 3 thread ranges."""
    m = models[name]
    tht = _theta_t(m, n, seed=n + 2)
    fixed = m.fixed_rows[0]
    assert fixed.size and np.array_equal(np.intersect1d(fixed, _constant_rows(tht)), fixed)
    for const in (fixed, _constant_rows(tht)):
        for parts in (1, 3):
            _assert_same_bits(tht, engine._kernel_args(m), False, parts, const=const)
    _assert_same_bits(tht, engine._kernel_args(m), True, 2, const=fixed)


@pytest.mark.parametrize("groups", [1, 3])
def test_const_rows_on_edge_parameters_same_bits(models, groups: int) -> None:  # type: ignore[no-untyped-def]
    """The edge-parameter matrices (rows changed lane by lane) with their constant rows."""
    m = models["reference-2021"]
    args = _variant(m, groups, drop_year=groups == 3, drop_domain=False)
    tht = _edge_theta(m, 1000, seed=groups)
    _assert_same_bits(tht, args, True, 2, const=_constant_rows(tht))


def test_const_rows_outside_the_matrix_are_refused(models) -> None:  # type: ignore[no-untyped-def]
    m = models["reference-2021"]
    tht = _theta_t(m, 3)
    for bad in ([tht.shape[0]], [-1]):
        with pytest.raises(ValueError, match="outside theta_t"):
            _run(kernel.simulate_chunk, tht, engine._kernel_args(m), False, [0, 3],
                 const=np.array(bad, dtype=np.int64))  # fmt: skip


def test_model_matrices_hold_the_fixed_slots_constant(models) -> None:  # type: ignore[no-untyped-def]
    """The engine's promise behind ``const_rows=m.fixed_rows[0]``: every matrix the model
    makes (sampled, from uniforms, per draw) holds each fixed slot at one value, bit for bit."""
    for m in models.values():
        fixed = m.fixed_rows[0]
        tht = m.sample_theta_t("lhs", 130, seed=3, chunk=1)
        assert np.isin(fixed, _constant_rows(tht)).all()
        tht = m.sample_theta_t("random", 70, seed=4, chunk=0)
        assert np.isin(fixed, _constant_rows(tht)).all()
        u = engine.uniforms(m, 0, 64, seed=5, sampler="sobol", chunk=0, chunk_size=64)
        assert np.isin(fixed, _constant_rows(m.theta_t(u))).all()
        assert np.isin(fixed, _constant_rows(np.ascontiguousarray(m.theta(u).T))).all()
