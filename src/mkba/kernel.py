"""The compiled kernel (numba). Private: call it through :mod:`mkba.engine`.

It takes only arrays and writes into preallocated outputs. It works in blocks of 64 draws;
within a block the draws are the innermost loop (the lanes), so the compiler vectorises the
arithmetic across draws. Every draw still gets exactly the same sequence of IEEE operations
(no reassociation, no fused multiply-add, no reduction across draws), so results are
bit-identical for any number of threads and any position of a draw in its block.

Each function computes a range ``lo:hi`` of the draws and releases the GIL (``nogil``); the
engine runs one range of whole blocks per thread on Python threads
(:func:`mkba.engine._on_threads`). No function is ``parallel=True``: numba's parfor passes
and the outlined parallel body were most of the cold compile (a first run's compile: 17-21 s
of CPU before, 10 s after; issue 17, target 9), and there is no OpenMP layer to start.

The model is that of docs/model.md. The kernel never builds the draws x areas x
streams x years cube: for a draw, the time profile of an effect is the same for all areas
that share a programme period (a *period group*), so the present value factorises into an
area part and a time part:

    PV[a, c] = sign[c] * amp[a, s] * sum_t prof[g(a), s, t] * trend[s, t] * value[c, t] * DF[s, t]

with ``amp[a, s] = V0[a, s] * rate * factor * e * R[a, s] * G[a] * (1 - deadweight) *
(1 - displacement)``. :mod:`mkba.reference` computes the same numbers the plain way, over
the full cube, and the tests hold the two equal.
"""

from __future__ import annotations

import os

import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]  # llvmlite ships no type information
from numba import njit
from numba.core import cgutils, types
from numba.extending import intrinsic

# numba's 'omp' threading layer (libgomp) lets idle worker threads spin after every parallel
# region by default; on a shared 2-CPU machine the spinning threads took CPU from the sampling
# threads and the kernel (benchmarks/README.md). The kernels here are no longer parallel=True,
# but any other parallel numba code in the process (e.g. the benchmark's ceiling kernels)
# still goes through libgomp, which reads the variable when numba first starts its threads,
# after this import. An explicit setting by the user wins. No effect on the numbers.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# draws per block: the lanes of the vectorised inner loops. 64 rather than 32: half as many
# blocks, so half the per-block set-up; 0.64-0.73x the kernel time of 32 in one comparison
# (issue 17). The numbers do not depend on it.
_BLOCK = 64
# blocks whose parameters simulate_chunk copies at once (see there)
_BATCH = 8

# Named slots of the offset vectors, in the order of mkba.model.STREAM_SLOTS, COMPONENT_SLOTS,
# DOMAIN_SLOTS, GLOBAL_SLOTS and mkba.schema.interventions' EFFECT_QUANTITIES and
# INTERVENTION_QUANTITIES (tests/test_engine.py checks the orders agree).
RATE, FACTOR, TREND, EFFECT, DEADWEIGHT, DISPLACEMENT, LAG, RAMP, HALF_LIFE = range(9)
UNIT_VALUE, GROWTH = range(2)
OVERRUN, ADDITIONAL_SHARE, FOLLOWUP_RATE = range(3)
ELASTICITY, GOVERNANCE_PENALTY = range(2)
L_EFFECT, L_DEADWEIGHT, L_ATTRIBUTION, L_DISPLACEMENT, L_HALF_LIFE = range(5)
PER_PARTICIPANT, FIXED_PER_AREA_YEAR, I_OVERRUN = range(3)


@intrinsic
def _prefetch_w(typingctx, arr, i, j):
    """Ask for the cache line of ``arr[i, j]`` (of ``arr[i + j]`` for a 1-D array) for
    writing, ahead of the stores (x86 PREFETCHW): the line is owned by the time the stores
    arrive, so they do not wait in the store buffer. A hint only: it changes no value and
    cannot fault."""
    sig = types.none(arr, i, j)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = [args[1], args[2]] if aryty.ndim == 2 else [builder.add(args[1], args[2])]
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, idx, wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", [i8p], fnty)
        # rw = 1 (write), locality 2, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(1), i32(2), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _stream(typingctx, arr, i, val):
    """``arr[i] = val`` (1-D ``arr``) as a non-temporal store (x86 MOVNTI): the value goes to
    memory without its line being read into the cache first. For outputs the kernel only
    writes and does not read back. The stored bits are those of an ordinary assignment (the
    same cast to the array's dtype, then its bits as an integer of the same width);
    :func:`_fence` orders the stores before the kernel returns."""
    sig = types.none(arr, i, val)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        v = context.cast(builder, args[2], signature.args[2], aryty.dtype)
        # LLVM emits MOVNTI only for integers (a non-temporal scalar double would be an
        # ordinary store)
        ity = ir.IntType(aryty.dtype.bitwidth)
        st = builder.store(builder.bitcast(v, ity), builder.bitcast(ptr, ity.as_pointer()))
        st.set_metadata("nontemporal", builder.module.add_metadata([ir.IntType(32)(1)]))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _fence(typingctx):
    """A full memory fence (x86 MFENCE): the non-temporal stores of :func:`_stream` are
    visible to every thread before anything after it."""
    sig = types.none()

    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _wide_vectors(typingctx):
    """Let LLVM vectorise the calling function with the CPU's widest vectors.

    On CPUs with AVX-512 LLVM prefers 256-bit vectors unless a function asks for more (the
    ``prefer-vector-width`` attribute); the kernel's loops run over 64 independent lanes, so
    512-bit vectors do the same operations per lane in half the instructions. Vector width
    changes no value: every lane gets the same IEEE operations in the same order. Where the
    CPU has no 512-bit vectors the attribute has no effect."""
    sig = types.none()

    def codegen(context, builder, signature, args):
        attrs = builder.function.attributes
        # llvmlite's attribute set accepts only its list of known names; a string attribute
        # of LLVM's goes in through the set type itself (printed verbatim into the IR)
        if isinstance(attrs, set):  # a future llvmlite's attribute set may not be: no hint
            set.add(attrs, '"prefer-vector-width"="512"')
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, inline="always")
def _pow(x, e):
    """x ** e, by repeated multiplication when e is a small whole number (libm pow is the
    most expensive operation in the kernel; exponents here are mostly whole years)."""
    if e == np.floor(e) and abs(e) <= 64.0:
        k = int(abs(e))
        r = 1.0
        for _ in range(k):
            r *= x
        return r if e >= 0.0 else 1.0 / r
    return x**e


@njit(cache=True, nogil=True)
def _pow_lanes(x, e, out):
    """``out[b] = _pow(x[b], e)`` for every lane, with the same multiplications per lane in
    the same order, but lane by lane innermost so that it vectorises (the exponent is the
    same for all lanes)."""
    if e == np.floor(e) and abs(e) <= 64.0:
        k = int(abs(e))
        for b in range(out.shape[0]):
            out[b] = 1.0
        for _ in range(k):
            for b in range(out.shape[0]):
                out[b] *= x[b]
        if e < 0.0:
            for b in range(out.shape[0]):
                out[b] = 1.0 / out[b]
    else:
        for b in range(out.shape[0]):
            out[b] = x[b] ** e


@njit(cache=True, nogil=True)
def _other_groups(kfac, pt, lane, lane2, lane3, c, s, gl):
    """``simulate_chunk``'s PV factor of component ``c`` for the period groups ``0:gl``, the
    unit values regenerated year by year from ``lane`` by the same multiplications, in
    ``lane3`` (a function of its own, so that the kernel's code stays small; with one period
    group, the usual case, it is not called)."""
    B = lane.shape[0]
    T = pt.shape[2]
    for g in range(gl):
        for b in range(B):
            lane3[b] = lane[b]
        for t in range(T):
            for b in range(B):
                kfac[g, c, b] += pt[g, s, t, b] * lane3[b]
                lane3[b] = lane3[b] * lane2[b]


@njit(cache=True, inline="always")
def _put_area(out, x, base, di, nb):
    """``out[base + b * di] = x[b]`` for the lanes ``b < nb`` (one area's values of a block of
    draws in a per-area output, see :func:`area_outputs`). Column-major outputs (``di == 1``,
    the engine's) take a contiguous run, streamed past the cache (nothing in the kernel reads
    them back); any other layout the strided one. Indices from ``range`` on views need no
    negative-index wrap-around."""
    if di == 1:
        o = out[base : base + nb]
        for b in range(nb):
            _stream(o, b, x[b])  # type: ignore[call-arg]  # an intrinsic: numba passes typingctx
    else:
        o = out[base:]
        for b in range(nb):
            o[b * di] = x[b]


def draw_ranges(n: int, parts: int) -> list[int]:
    """Bounds ``[0, ..., n]`` of at most ``parts`` ranges of whole blocks of :data:`_BLOCK`
    draws (the last range may end in a partial block), as equal as blocks allow: the ranges
    the engine runs the kernel on, one per thread."""
    blocks = (n + _BLOCK - 1) // _BLOCK
    parts = max(1, min(int(parts), blocks))
    return [min(n, (blocks * j // parts) * _BLOCK) for j in range(parts + 1)]


def area_outputs(
    area_ben: np.ndarray, area_cost: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The per-area outputs ``(n, A)`` of :func:`simulate_chunk` as its last four arguments:
    1-D views over the same memory and the element steps between draws and between areas.

    numba compiles one machine-code version per argument type, and a 2-D array's type
    includes its layout: the rows of a chunk of a column-major outcome array are 'A', the
    whole array (one chunk) 'F', a one-area or raw-path array 'C'. Each is a 20-second
    compile; as 1-D views they are one type, so one compiled kernel serves every run.
    """
    if area_ben.dtype != area_cost.dtype:
        raise ValueError("the per-area outputs must have the same dtype")
    if area_ben.shape != area_cost.shape or area_ben.strides != area_cost.strides:
        raise ValueError("the per-area outputs must have the same shape and layout")
    n, a = area_ben.shape
    size = area_ben.itemsize
    di, da = area_ben.strides[0] // size, area_ben.strides[1] // size
    if min(area_ben.strides) < 0 or any(st % size for st in area_ben.strides):
        raise ValueError("the per-area outputs need non-negative whole-element strides")
    length = (n - 1) * di + (a - 1) * da + 1 if n and a else 0
    flat = [
        np.lib.stride_tricks.as_strided(x, shape=(length,), strides=(size,))
        for x in (area_ben, area_cost)
    ]
    return flat[0], flat[1], di, da


@njit(cache=True, nogil=True)
def simulate_chunk(
    theta_t,  # (Q, n) per-draw parameters, one parameter per row
    off_stream,  # (9,) offsets of rate, factor, trend, effect, deadweight, displacement, lag, ramp, half_life
    off_comp,  # (2,) offsets of unit_value, growth
    off_dom,  # (3,) offsets of overrun, additional_share, followup_rate
    off_glob,  # (2,) offsets of elasticity, governance_penalty
    volume0,  # (A, S)
    data_year,  # (S,)
    response_w,  # (S, D)
    budget_ratio,  # (A, D)
    gov_ratio,  # (A,)
    period_group,  # (A,) int
    group_start,  # (G,)
    group_end,  # (G,)
    years,  # (T,) float
    base_year,  # float
    comp_stream,  # (C,) int
    comp_sign,  # (C,)
    flow_weights,  # (C,) benefit weights of the scenario's perspective, times the sign
    df_stream,  # (S, T)
    df_cost,  # (T,)
    budget_pv,  # (A, D)
    followup_pv,  # (A, D)
    payer_share,  # (D, K)
    cost_flow,  # (D, T) budget summed over areas and the payers the scenario's perspective counts
    followup_flow,  # (D, T) the same for follow-up per unit rate
    bw0,  # (C,) benefit weights of the scenario's perspective (for the per-area totals)
    cw0,  # (K,) cost weights of the scenario's perspective
    const_rows,  # (R,) int: rows of theta_t that hold the same value (the same bits) in every
    # column lo:hi, e.g. the model's fixed slots; read once per call instead of per block
    keep_areas,  # bool: also write out_ben / out_cost (per area and component / payer)
    out_ben,  # (n, A, C) PV of each component per area (signed); (0, A, C) without keep_areas
    out_cost,  # (n, A, K) PV of costs per area and payer; (0, A, K) without keep_areas
    out_flow,  # (n, T) real net flow per year, scenario perspective (undiscounted)
    out_dflow,  # (n, T) the same, discounted
    out_component,  # (n, C) PV per component, summed over areas
    out_sh_costs,  # (n, K) PV of costs per payer, summed over areas
    out_area_ben,  # PV benefits per area, scenario perspective (float64 or float32): draw i,
    # area a at [i * area_di + a * area_da] of this 1-D view (see area_outputs)
    out_area_cost,  # PV costs per area, scenario perspective, laid out the same way
    area_di,  # element step between draws in out_area_ben / out_area_cost
    area_da,  # element step between areas
    twin_rows,  # (k,) int: rows of theta_t in which a twin model's parameters differ (the
    # twin's other arrays are this model's); k = 0: no twin (the outputs below unused)
    twin_theta,  # (k, n) the twin's values of those rows, columns as theta_t
    out2_flow,  # the twin's out_flow, out_dflow, out_component, out_sh_costs (0 rows without)
    out2_dflow,
    out2_component,
    out2_sh_costs,
    out2_area_ben,  # the twin's out_area_ben / out_area_cost, laid out by area2_di, area2_da
    out2_area_cost,
    area2_di,
    area2_da,
    lo,  # first draw (column of theta_t, row of the outputs) this call computes
    hi,  # one past the last draw this call computes
):
    """Draws ``lo:hi`` of one chunk of the top-down model.

    With a twin (``twin_rows`` not empty): the same draws of a second model that differs from
    this one only in the parameter rows ``twin_rows`` (e.g. a run's companion, whose effect
    sizes differ), into the ``out2_*`` outputs. Its time profiles and PV factors, which do not
    read those rows, are this model's (computed once); from the amplitudes on, a second pass
    over the block with the twin's rows in the block's parameters. Each output gets exactly
    the operations of a call for that model alone, so the numbers are the same. Rows the
    time profiles or PV factors read (trend, lag, ramp, half-life, unit value, growth) and
    ``const_rows`` cannot be twin rows (ValueError), nor can a twin go with ``keep_areas``.
    Where no twin row is read by the costs, the twin's costs (per area and per payer) are
    this model's and its pass does not compute them again. A *light* twin (``out2_flow``,
    ``out2_dflow`` and the twin's per-area outputs without rows) gets only its sums over
    areas per component and per payer (``out2_component``, ``out2_sh_costs``): what its
    benefits, costs and streams are made of (a companion's side summary).

    The sums over areas that the outcomes need (per component, per payer, and per area in
    the scenario's perspective) are accumulated here, area by area, in exactly the order of
    :func:`aggregate` (which sums ``out_ben``/``out_cost`` after the fact): the per-area,
    per-component intermediates (``A * (C + K)`` doubles a draw) need not be kept, so the cost
    per area stays flat however many areas there are.
    """
    _wide_vectors()  # type: ignore[call-arg]  # an intrinsic: numba passes typingctx
    Q, n = theta_t.shape
    A, S = volume0.shape
    C = comp_stream.shape[0]
    D = response_w.shape[1]
    K = payer_share.shape[1]
    G = group_start.shape[0]
    if G < 1:
        raise ValueError("simulate_chunk needs at least one period group")
    T = years.shape[0]
    B = _BLOCK
    # scratch of one block, allocated once per call and fully rewritten for every block;
    # lanes (draws) last so that the inner loops vectorise
    thb = np.empty((_BATCH, Q, B))  # parameters of _BATCH blocks
    pt = np.empty((G, S, T, B))  # ramp x persist x trend x DF
    prof = np.empty((G, S, T, B))  # ramp x persist
    trend = np.empty((S, T, B))
    kfac = np.empty((G, C, B))
    amp = np.empty((S, B))  # of the current area
    asum = np.empty((G, S, B))  # amplitudes summed over the areas of a period group
    comp = np.empty((C, B))
    shc = np.empty((K, B))
    abn = np.empty(B)
    acs = np.empty(B)
    powr = np.empty((D, B))
    lane = np.empty(B)
    lane2 = np.empty(B)
    s0 = np.empty(B)
    e0 = np.empty(B)
    post = np.empty(B)
    step = np.empty(B)
    gfac = np.empty(B)
    ampsum = np.empty((T, B))
    wsts = np.empty((S, T, B))  # flow weight x value, summed over the components of a stream
    flow = np.empty((T, B))
    dflow = np.empty((T, B))
    xcost = np.empty((D, B))
    ovad = np.empty((D, B))
    frd = np.empty((D, B))
    mult = np.empty((S, B))
    # the streams with a component that has a flow weight, ascending (the others add nothing
    # to the flows)
    used_s = np.zeros(S, dtype=np.int64)
    n_used = 0
    for s in range(S):
        used = False
        for c in range(C):
            if comp_stream[c] == s and flow_weights[c] != 0.0:
                used = True
        if used:
            used_s[n_used] = s
            n_used += 1
    # the components grouped by stream, ascending within a stream
    c_first = np.zeros(S + 1, dtype=np.int64)
    for c in range(C):
        c_first[comp_stream[c] + 1] += 1
    for s in range(S):
        c_first[s + 1] += c_first[s]
    c_order = np.empty(C, dtype=np.int64)
    c_fill = c_first[:S].copy()
    for c in range(C):
        s = comp_stream[c]
        c_order[c_fill[s]] = c
        c_fill[s] += 1
    ascending = True  # years in increasing order (they are; the time profile relies on it)
    for t in range(1, T):
        if not years[t] > years[t - 1]:
            ascending = False
    # the rows copied block by block: all but const_rows, whose one value goes into every
    # lane of every block's scratch once, here (the same bits as copying the row, since the
    # caller guarantees they are the same in every column; the model's fixed slots are 35 of
    # the reference's 121 rows, and the copy from main memory was the kernel's largest single
    # loop, 18 % of its time)
    copy_q = np.ones(Q, dtype=np.bool_)
    for r in range(const_rows.shape[0]):
        q = const_rows[r]
        if q < 0 or q >= Q:
            raise ValueError("simulate_chunk: a constant row is outside theta_t")
        copy_q[q] = False
    # a twin's rows: only rows read from the amplitudes on (see the docstring)
    ntw = twin_rows.shape[0]
    if ntw > 0 and keep_areas:
        raise ValueError("simulate_chunk: a twin cannot go with keep_areas")
    for r in range(ntw):
        qt = twin_rows[r]
        if qt < 0 or qt >= Q or not copy_q[qt]:
            raise ValueError("simulate_chunk: a twin row is outside theta_t or constant")
        for s in range(S):
            for slot in (TREND, LAG, RAMP, HALF_LIFE):
                if qt == off_stream[slot] + s:
                    raise ValueError("simulate_chunk: a twin row is read by the time profiles")
        for c in range(C):
            if qt == off_comp[UNIT_VALUE] + c or qt == off_comp[GROWTH] + c:
                raise ValueError("simulate_chunk: a twin row is read by the PV factors")
    # no twin row is read by the costs (overrun, additional share, follow-up rate): the twin's
    # costs per area and per payer are this model's, the same operations on the same values;
    # pass 0 writes them for both and the twin's pass skips them (its flows still subtract
    # the costs themselves, in their place in the sums)
    same_costs = ntw > 0
    for r in range(ntw):
        for d in range(D):
            for slot in (OVERRUN, ADDITIONAL_SHARE, FOLLOWUP_RATE):
                if twin_rows[r] == off_dom[slot] + d:
                    same_costs = False
    # a light twin (out2_flow without rows): only its sums over areas per component and per
    # payer are written (what its benefits, costs and streams are made of); its yearly flows
    # and per-area totals are not computed (nothing of them may be asked for)
    light2 = ntw > 0 and out2_flow.shape[0] == 0
    if light2 and (out2_dflow.shape[0] + out2_area_ben.shape[0] + out2_area_cost.shape[0]) > 0:
        raise ValueError("simulate_chunk: a light twin has no flows and no per-area outputs")
    rows = np.empty(Q, dtype=np.int64)
    nq = 0
    for q in range(Q):
        if copy_q[q]:
            rows[nq] = q
            nq += 1
    if lo < min(hi, n):
        for r in range(const_rows.shape[0]):
            q = const_rows[r]
            v = theta_t[q, lo]
            for k in range(_BATCH):
                for b in range(B):
                    thb[k, q, b] = v
    for j0 in range(lo, min(hi, n), B * _BATCH):
        # the parameters of up to _BATCH blocks, copied row by row: each row of theta_t is read
        # as one run of up to _BATCH * B draws, which the hardware prefetcher follows (the
        # kernel's only reads from main memory; block by block it took 12-17 % of its time)
        j1 = min(hi, n, j0 + B * _BATCH)
        nblk = (j1 - j0 + B - 1) // B
        for qi in range(nq):
            q = rows[qi]
            src = theta_t[q, j0:j1]
            for k in range(nblk):
                k0 = k * B
                nbk = min(B, j1 - j0 - k0)
                sk = src[k0 : k0 + nbk]  # (indexing src[k0 + b] compiles to gathers)
                for b in range(nbk):
                    thb[k, q, b] = sk[b]
                for b in range(nbk, B):  # idle lanes of a last, partial block: never written out
                    thb[k, q, b] = thb[k, q, 0]
        for k in range(nblk):
            i0 = j0 + k * B
            nb = min(B, j1 - i0)
            th = thb[k]
            for g in range(G):
                for c in range(C):
                    for b in range(B):
                        kfac[g, c, b] = 0.0
            gl = G - 1  # the last period group
            # --- time profile per period group and stream: ramp-up, then decay after the end
            for s in range(S):
                lag = th[off_stream[LAG] + s]
                ramp = th[off_stream[RAMP] + s]
                hl = th[off_stream[HALF_LIFE] + s]
                # nulalternatief trend (1 + g)^(t - data_year), by repeated multiplication (first:
                # the profile pass below multiplies by it)
                gr = th[off_stream[TREND] + s]
                for b in range(B):
                    lane2[b] = 1.0 + gr[b]
                _pow_lanes(lane2, years[0] - data_year[s], lane)
                T4 = T - T % 4  # four years per pass: the running power stays in a register
                for t in range(0, T4, 4):
                    for b in range(B):
                        x = lane[b]
                        x2 = lane2[b]
                        trend[s, t, b] = x
                        x = x * x2
                        trend[s, t + 1, b] = x
                        x = x * x2
                        trend[s, t + 2, b] = x
                        x = x * x2
                        trend[s, t + 3, b] = x
                        lane[b] = x * x2
                for t in range(T4, T):
                    for b in range(B):
                        trend[s, t, b] = lane[b]
                        lane[b] = lane[b] * lane2[b]
                for b in range(B):
                    h = hl[b]
                    if h == 0.0:
                        step[b] = 0.0
                    elif h < np.inf:
                        step[b] = 0.5 ** (1.0 / h)
                    else:
                        step[b] = 1.0
                for g in range(G):
                    # decay in the first whole year after the (lagged) end year: step, unless the
                    # lagged end is not a whole year (then 0.5 ** (dt0 / h), in a second, scalar
                    # pass over the lanes that need it, so that this pass vectorises)
                    odd = 0
                    for b in range(B):
                        s0[b] = group_start[g] + lag[b]
                        e0[b] = group_end[g] + lag[b]
                        h = hl[b]
                        dt0 = np.floor(e0[b]) + 1.0 - e0[b]
                        post[b] = 0.0 if h == 0.0 else (step[b] if h < np.inf else 1.0)
                        odd += (h != 0.0) & (h < np.inf) & (dt0 != 1.0)
                    if odd > 0:
                        for b in range(B):
                            h = hl[b]
                            dt0 = np.floor(e0[b]) + 1.0 - e0[b]
                            if h != 0.0 and h < np.inf and dt0 != 1.0:
                                post[b] = 0.5 ** (dt0 / h)
                    settled = False
                    ramping = False  # a lane ramped up in an earlier year; not all settled
                    for t in range(T):
                        y = years[t]
                        dft = df_stream[s, t]
                        # Does any lane ramp up in this year? A lane needs the division unless it
                        # has not started (profile 0), has no ramp (r = 1), or is past its ramp:
                        # x >= ramp with a finite ramp makes the quotient >= 1, so min(., 1) is 1
                        # and r * d is d. Most years need no division (vdivpd was 10 % of the
                        # kernel); the lanes that do get exactly the same operations as before.
                        # Once every lane has no ramp or is past it, so it stays in every later
                        # year (x never decreases as y grows: min, - s0 and + 1 round
                        # monotonically), and the check stops. From the first year a lane ramps
                        # up until all are settled (`ramping`), the division pass runs every
                        # year and counts the settled lanes itself, with the same test, in the
                        # same loop: no separate check pass then. A year in between where no
                        # lane ramps (a lane not started yet) takes the division too, which gives
                        # the same values (r is exactly 1.0 or the profile 0.0 there).
                        # (& and |, not `and`/`or`: no branches, so that the check vectorises)
                        ramps = 0
                        if not settled and not ramping:
                            past = 0
                            for b in range(B):
                                rb = ramp[b]
                                x = min(y, e0[b]) - s0[b] + 1.0
                                started = y >= s0[b]
                                ramps += (
                                    (rb > 0.0) & started & ((x < rb) | (x != x) | (rb == np.inf))
                                )
                                past += (
                                    (rb <= 0.0) | (rb != rb) | (started & (x >= rb) & (rb < np.inf))
                                )
                            settled = past == B and ascending
                        # the profile, and at once ramp x persist x trend x DF
                        if ramps > 0 or ramping:
                            past = 0
                            for b in range(B):
                                rb = ramp[b]
                                x = min(y, e0[b]) - s0[b] + 1.0
                                started = y >= s0[b]
                                past += (
                                    (rb <= 0.0) | (rb != rb) | (started & (x >= rb) & (rb < np.inf))
                                )
                                r = 1.0
                                if rb > 0.0:
                                    r = x / rb
                                    r = min(r, 1.0)
                                d = 1.0
                                if y > e0[b]:
                                    d = post[b]
                                    post[b] = post[b] * step[b]
                                p = r * d if started else 0.0
                                prof[g, s, t, b] = p
                                pt[g, s, t, b] = p * trend[s, t, b] * dft
                            settled = past == B and ascending
                            ramping = not settled
                        else:
                            for b in range(B):
                                d = 1.0
                                if y > e0[b]:
                                    d = post[b]
                                    post[b] = post[b] * step[b]
                                p = d if y >= s0[b] else 0.0
                                prof[g, s, t, b] = p
                                pt[g, s, t, b] = p * trend[s, t, b] * dft
                # --- value per unit per year (indexed unit value x real growth from the base
                # year) of the stream's components, generated year by year and used at once,
                # never stored: the discounted value factor per period group and component,
                # and the flow weights summed per stream. Each sum takes its terms in the same
                # order as summing a stored value table would (years ascending; components
                # ascending). Stream by stream, right after its profile: pt[:, s] and wsts[s]
                # are still in the first-level cache.
                for t in range(T):
                    for b in range(B):
                        wsts[s, t, b] = 0.0
                for ci in range(c_first[s], c_first[s + 1]):
                    c = c_order[ci]
                    w = flow_weights[c]
                    u = th[off_comp[UNIT_VALUE] + c]
                    gw = th[off_comp[GROWTH] + c]
                    for b in range(B):
                        lane2[b] = 1.0 + gw[b]
                    _pow_lanes(lane2, years[0] - base_year, lane)
                    for b in range(B):
                        lane[b] = u[b] * lane[b]
                    if gl > 0:  # the other period groups, if any (not in the usual case)
                        _other_groups(kfac, pt, lane, lane2, gfac, c, s, gl)  # gfac: free here
                    # the last group, four years per pass: its sum and the running value stay in
                    # registers in between. A component without a flow weight adds nothing to
                    # the flows: its pass only sums its PV factor (the same operations on kfac)
                    T4 = T - T % 4
                    if w != 0.0:
                        ws = wsts[s]
                        for t in range(0, T4, 4):
                            for b in range(B):
                                x = lane[b]
                                x2 = lane2[b]
                                k = kfac[gl, c, b] + pt[gl, s, t, b] * x
                                ws[t, b] += w * x
                                x = x * x2
                                k = k + pt[gl, s, t + 1, b] * x
                                ws[t + 1, b] += w * x
                                x = x * x2
                                k = k + pt[gl, s, t + 2, b] * x
                                ws[t + 2, b] += w * x
                                x = x * x2
                                kfac[gl, c, b] = k + pt[gl, s, t + 3, b] * x
                                ws[t + 3, b] += w * x
                                lane[b] = x * x2
                        for t in range(T4, T):  # the last T % 4 years, one per pass
                            for b in range(B):
                                x = lane[b]
                                kfac[gl, c, b] += pt[gl, s, t, b] * x
                                ws[t, b] += w * x
                                lane[b] = x * lane2[b]
                    else:
                        for t in range(0, T4, 4):
                            for b in range(B):
                                x = lane[b]
                                x2 = lane2[b]
                                k = kfac[gl, c, b] + pt[gl, s, t, b] * x
                                x = x * x2
                                k = k + pt[gl, s, t + 1, b] * x
                                x = x * x2
                                k = k + pt[gl, s, t + 2, b] * x
                                x = x * x2
                                kfac[gl, c, b] = k + pt[gl, s, t + 3, b] * x
                                lane[b] = x * x2
                        for t in range(T4, T):
                            for b in range(B):
                                x = lane[b]
                                kfac[gl, c, b] += pt[gl, s, t, b] * x
                                lane[b] = x * lane2[b]
            for twin in range(2 if ntw > 0 else 1):
                if twin == 1:  # the twin's rows into this block's parameters
                    # (through th = thb[k]: `k` is reused as a float in the PV factors)
                    for r in range(ntw):
                        qt = twin_rows[r]
                        tk = twin_theta[r, i0 : i0 + nb]
                        for b in range(nb):
                            th[qt, b] = tk[b]
                        for b in range(nb, B):  # idle lanes, as the copy above fills them
                            th[qt, b] = th[qt, 0]
                o_flow = out2_flow if twin == 1 else out_flow
                o_dflow = out2_dflow if twin == 1 else out_dflow
                o_comp = out2_component if twin == 1 else out_component
                o_shc = out2_sh_costs if twin == 1 else out_sh_costs
                o_aben = out2_area_ben if twin == 1 else out_area_ben
                o_acost = out2_area_cost if twin == 1 else out_area_cost
                o_di = area2_di if twin == 1 else area_di
                o_da = area2_da if twin == 1 else area_da
                # --- amplitude: volume x effect x response x governance x (1 - dead weight)(1 - displacement)
                beta = th[off_glob[ELASTICITY]]
                q = th[off_glob[GOVERNANCE_PENALTY]]
                for s in range(S):
                    rate = th[off_stream[RATE] + s]
                    fac = th[off_stream[FACTOR] + s]
                    eff = th[off_stream[EFFECT] + s]
                    dw = th[off_stream[DEADWEIGHT] + s]
                    dp = th[off_stream[DISPLACEMENT] + s]
                    for b in range(B):
                        mult[s, b] = rate[b] * fac[b] * eff[b] * (1.0 - dw[b]) * (1.0 - dp[b])
                for ov_d in range(D):  # cost factors per domain (used per area below)
                    ov = th[off_dom[OVERRUN] + ov_d]
                    ad = th[off_dom[ADDITIONAL_SHARE] + ov_d]
                    fr = th[off_dom[FOLLOWUP_RATE] + ov_d]
                    for b in range(B):
                        ovad[ov_d, b] = ov[b] * ad[b]
                        frd[ov_d, b] = fr[b]
                for g in range(G):
                    for s in range(S):
                        for b in range(B):
                            asum[g, s, b] = 0.0
                for c in range(C):
                    for b in range(B):
                        comp[c, b] = 0.0
                for kk in range(K):
                    for b in range(B):
                        shc[kk, b] = 0.0
                # --- area by area: amplitude, component PVs, costs, and their sums
                for a in range(A):
                    # this block's output rows that are written at its end (discounted flows,
                    # components, payers), asked for ahead of the stores, a share per area (a burst
                    # of hints would stall on the cache's miss buffers). The flows and per-area
                    # values are streamed past the cache instead (_stream).
                    for ib in range(i0 + a * nb // A, i0 + (a + 1) * nb // A):
                        if twin == 0 or not light2:
                            for t in range(0, T, 8):
                                _prefetch_w(o_dflow, ib, t)
                            _prefetch_w(o_dflow, ib, T - 1)
                        for c in range(0, C, 8):
                            _prefetch_w(o_comp, ib, c)
                        _prefetch_w(o_comp, ib, C - 1)
                        _prefetch_w(o_shc, ib, 0)
                        _prefetch_w(o_shc, ib, K - 1)
                    for d in range(D):
                        br = budget_ratio[a, d]
                        for b in range(B):
                            if br == 1.0:
                                powr[d, b] = 1.0
                            elif br > 0.0:
                                powr[d, b] = br ** beta[b]
                            else:
                                powr[d, b] = 0.0
                    gv = max(1.0 - gov_ratio[a], 0.0)
                    for b in range(B):
                        gfac[b] = 1.0 - q[b] * gv
                    g = period_group[a]
                    for s in range(S):
                        for b in range(B):
                            lane[b] = 0.0
                        for d in range(D):
                            w = response_w[s, d]
                            if w != 0.0:
                                for b in range(B):
                                    lane[b] += w * powr[d, b]
                        v0 = volume0[a, s]
                        for b in range(B):
                            amp[s, b] = v0 * mult[s, b] * lane[b] * gfac[b]
                            asum[g, s, b] += amp[s, b]
                    for b in range(B):
                        abn[b] = 0.0
                    for c in range(C):
                        sg = comp_sign[c]
                        sc = comp_stream[c]
                        w = bw0[c]
                        for b in range(B):
                            v = sg * amp[sc, b] * kfac[g, c, b]
                            comp[c, b] += v
                            abn[b] += w * v
                        if keep_areas:
                            for b in range(nb):
                                out_ben[i0 + b, a, c] = sg * amp[sc, b] * kfac[g, c, b]
                    if twin == 0 or not light2:
                        _put_area(o_aben, abn, i0 * o_di + a * o_da, o_di, nb)
                    if twin == 1 and same_costs:
                        continue  # the twin's costs are this model's: written in pass 0
                    # costs: investment x overrun x additionality, and follow-up, per payer
                    for d in range(D):
                        bpv = budget_pv[a, d]
                        fpv = followup_pv[a, d]
                        for b in range(B):
                            xcost[d, b] = ovad[d, b] * bpv + frd[d, b] * fpv
                    for b in range(B):
                        acs[b] = 0.0
                    for kk in range(K):
                        for b in range(B):
                            lane[b] = 0.0
                        for d in range(D):
                            sh = payer_share[d, kk]
                            if sh != 0.0:
                                for b in range(B):
                                    lane[b] += sh * xcost[d, b]
                        w = cw0[kk]
                        for b in range(B):
                            shc[kk, b] += lane[b]
                            acs[b] += w * lane[b]
                        if keep_areas:
                            for b in range(nb):
                                out_cost[i0 + b, a, kk] = lane[b]
                    if twin == 0 or not light2:
                        _put_area(o_acost, acs, i0 * o_di + a * o_da, o_di, nb)
                    if same_costs and not light2:  # pass 0: the same values are the twin's
                        _put_area(out2_area_cost, acs, i0 * area2_di + a * area2_da, area2_di, nb)
                ocm = o_comp[i0 : i0 + nb]
                for b in range(nb):
                    r1 = ocm[b]
                    for c in range(C):
                        r1[c] = comp[c, b]
                if not (twin == 1 and same_costs):
                    osc = o_shc[i0 : i0 + nb]
                    for b in range(nb):
                        r2 = osc[b]
                        for kk in range(K):
                            r2[kk] = shc[kk, b]
                if twin == 0 and same_costs:  # the twin's, the same values
                    osc = out2_sh_costs[i0 : i0 + nb]
                    for b in range(nb):
                        r2 = osc[b]
                        for kk in range(K):
                            r2[kk] = shc[kk, b]
                if twin == 1 and light2:
                    continue  # a light twin's flows are not asked for
                # --- yearly net flows (scenario perspective): benefits ...
                # one period group (the usual case): two streams per pass, the flows stay in
                # registers in between; 0.0 + the group's amplitude as a sum over groups from 0.0.
                # The first pass starts the flows from 0.0 itself (0.0 + f, as from a zeroed
                # table), so there is no zeroing pass then; `first` is the same for the whole
                # pass, so LLVM unswitches the loop (two vectorised copies, as when the first pass
                # was written out separately: the same zmm instructions, the same time).
                j = 0
                while G == 1 and j + 1 < n_used:
                    s, s1 = used_s[j], used_s[j + 1]
                    first = j == 0
                    for t in range(T):
                        dft = df_stream[s, t]
                        dft1 = df_stream[s1, t]
                        for b in range(B):
                            am = 0.0 + asum[0, s, b] * prof[0, s, t, b]
                            f = wsts[s, t, b] * (am * trend[s, t, b])
                            am1 = 0.0 + asum[0, s1, b] * prof[0, s1, t, b]
                            f1 = wsts[s1, t, b] * (am1 * trend[s1, t, b])
                            fl = 0.0 if first else flow[t, b]
                            dfl = 0.0 if first else dflow[t, b]
                            flow[t, b] = (fl + f) + f1
                            dflow[t, b] = (dfl + f * dft) + f1 * dft1
                    j += 2
                if j == 0:
                    for t in range(T):
                        for b in range(B):
                            flow[t, b] = 0.0
                            dflow[t, b] = 0.0
                for jj in range(j, n_used):  # the rest, one stream per pass
                    s = used_s[jj]
                    # the amplitude summed over groups, 0.0 + the first group's + ..., the last
                    # group's term added in the same pass as the flows (a register, not a table)
                    for t in range(T):
                        for b in range(B):
                            ampsum[t, b] = 0.0
                    for g in range(gl):
                        for t in range(T):
                            for b in range(B):
                                ampsum[t, b] += asum[g, s, b] * prof[g, s, t, b]
                    for t in range(T):
                        dft = df_stream[s, t]
                        for b in range(B):
                            am = ampsum[t, b] + asum[gl, s, b] * prof[gl, s, t, b]
                            f = wsts[s, t, b] * (am * trend[s, t, b])
                            flow[t, b] += f
                            dflow[t, b] += f * dft
                # ... minus costs: investment x overrun x additionality, and follow-up
                # (two domains per pass: the flows stay in registers in between)
                for d in range(0, D - 1, 2):
                    for t in range(T):
                        cf = cost_flow[d, t]
                        ff = followup_flow[d, t]
                        cf1 = cost_flow[d + 1, t]
                        ff1 = followup_flow[d + 1, t]
                        dct = df_cost[t]
                        for b in range(B):
                            x = ovad[d, b] * cf + frd[d, b] * ff
                            fl = flow[t, b] - x
                            dfl = dflow[t, b] - x * dct
                            x = ovad[d + 1, b] * cf1 + frd[d + 1, b] * ff1
                            flow[t, b] = fl - x
                            dflow[t, b] = dfl - x * dct
                if D % 2 == 1:
                    d = D - 1
                    for t in range(T):
                        cf = cost_flow[d, t]
                        ff = followup_flow[d, t]
                        dct = df_cost[t]
                        for b in range(B):
                            x = ovad[d, b] * cf + frd[d, b] * ff
                            flow[t, b] -= x
                            dflow[t, b] -= x * dct
                # (through row views: indices from range() need no negative-index wrap-around)
                ofl = o_flow[i0 : i0 + nb]
                odf = o_dflow[i0 : i0 + nb]
                for b in range(nb):
                    r1 = ofl[b]
                    r2 = odf[b]
                    for t in range(T):
                        _stream(r1, t, flow[t, b])
                        r2[t] = dflow[t, b]
    _fence()


@njit(cache=True, inline="always")
def _totals_block(
    lo,
    hi,
    comp_stream,
    benefit_weights,
    cost_weights,
    stakeholder_weights,
    years,
    S,
    dflow,
    out_benefits,
    out_costs,
    out_stream,
    out_component,
    out_sh_benefits,
    out_sh_costs,
    out_payback,
):
    """Draws ``lo:hi``'s totals from their PV per component and per payer (already summed
    over areas) and their discounted flows.

    In blocks of :data:`_BLOCK` draws, the draws innermost (the lanes, as in
    :func:`simulate_chunk`), so that the sums vectorise across draws: each block's rows are
    copied into lane-major scratch, summed there, and copied out. Every draw still gets the
    sums of a draw-by-draw loop, term by term in the same order (each from 0.0; components,
    payers and years ascending), so the numbers do not depend on the block or lane.

    ``out_payback`` without rows: no payback (``dflow`` is not read and may have no rows);
    ``out_sh_benefits`` without rows: no stakeholder gains (a companion's side summary reads
    neither). The other outputs are the same."""
    pay = out_payback.shape[0] > 0
    shben = out_sh_benefits.shape[0] > 0
    if pay and dflow.shape[0] < hi:
        raise ValueError("_totals_block: the payback needs the discounted flows of every draw")
    C = comp_stream.shape[0]
    K = out_sh_costs.shape[1]
    P = benefit_weights.shape[0]
    T = years.shape[0]
    B = _BLOCK
    cm = np.zeros((C, B))  # idle lanes of a last, partial block hold 0.0 (never written out)
    sk = np.zeros((K, B))
    df = np.zeros((T, B))
    shb = np.empty((K, B))
    st = np.empty((P, S, B))
    ben = np.empty((P, B))
    cst = np.empty((P, B))
    cum = np.empty(B)
    last = np.empty(B, dtype=np.int64)
    for i0 in range(lo, hi, B):
        nb = min(B, hi - i0)
        for b in range(nb):
            r1 = out_component[i0 + b]
            r2 = out_sh_costs[i0 + b]
            for c in range(C):
                cm[c, b] = r1[c]
            for k in range(K):
                sk[k, b] = r2[k]
            if pay:
                r3 = dflow[i0 + b]
                for t in range(T):
                    df[t, b] = r3[t]
        for k in range(K if shben else 0):
            for b in range(B):
                shb[k, b] = 0.0
            for c in range(C):
                w = stakeholder_weights[k, c]
                for b in range(B):
                    shb[k, b] += w * cm[c, b]
        for p in range(P):
            for s in range(S):
                for b in range(B):
                    st[p, s, b] = 0.0
            for b in range(B):
                ben[p, b] = 0.0
            for c in range(C):
                w = benefit_weights[p, c]
                sc = comp_stream[c]
                for b in range(B):
                    v = w * cm[c, b]
                    st[p, sc, b] += v
                    ben[p, b] += v
            for b in range(B):
                cst[p, b] = 0.0
            for k in range(K):
                w = cost_weights[p, k]
                for b in range(B):
                    cst[p, b] += w * sk[k, b]
        # payback: the year after the last year in which the cumulative discounted flow is
        # negative (NaN: still negative at the horizon)
        for b in range(B):
            cum[b] = 0.0
            last[b] = -1
        for t in range(T if pay else 0):
            for b in range(B):
                cum[b] += df[t, b]
                last[b] = t if cum[b] < 0.0 else last[b]
        for b in range(nb):
            i = i0 + b
            if shben:
                r1 = out_sh_benefits[i]
                for k in range(K):
                    r1[k] = shb[k, b]
            r2 = out_stream[i]
            r3 = out_benefits[i]
            r4 = out_costs[i]
            for p in range(P):
                for s in range(S):
                    r2[p, s] = st[p, s, b]
                r3[p] = ben[p, b]
                r4[p] = cst[p, b]
            if not pay:
                continue
            ln = last[b]
            if ln == T - 1:
                out_payback[i] = np.nan
            elif ln == -1:
                out_payback[i] = years[0]
            else:
                out_payback[i] = years[ln + 1]


@njit(cache=True, nogil=True)
def aggregate(
    ben,  # (n, A, C)
    cost,  # (n, A, K)
    dflow,  # (n, T) discounted net flow, scenario perspective
    comp_stream,  # (C,)
    benefit_weights,  # (P, C)
    cost_weights,  # (P, K)
    stakeholder_weights,  # (K, C)
    years,  # (T,)
    p0,  # the scenario's perspective
    S,  # number of streams
    out_benefits,  # (n, P)
    out_costs,  # (n, P)
    out_stream,  # (n, P, S)
    out_area_benefits,  # (n, A) in perspective p0, as 1-D views (see area_outputs)
    out_area_costs,  # (n, A) in perspective p0, the same
    area_di,  # element step between draws in out_area_benefits / out_area_costs
    area_da,  # element step between areas
    out_component,  # (n, C)
    out_sh_benefits,  # (n, K) stakeholder gains (transfers signed)
    out_sh_costs,  # (n, K)
    out_payback,  # (n,) first year from which the cumulative discounted net flow stays >= 0
    lo,  # first draw this call reduces
    hi,  # one past the last
):
    """Per-draw outcomes of draws ``lo:hi`` from the per-area raw outputs (used when a
    bottom-up programme adds into them after :func:`simulate_chunk`; otherwise the kernel sums
    over areas itself and :func:`aggregate_totals` does the rest)."""
    n, A, C = ben.shape
    K = cost.shape[2]
    for i in range(lo, min(hi, n)):
        for c in range(C):
            acc = 0.0
            for a in range(A):
                acc += ben[i, a, c]
            out_component[i, c] = acc
        for k in range(K):
            acc = 0.0
            for a in range(A):
                acc += cost[i, a, k]
            out_sh_costs[i, k] = acc
        for a in range(A):
            acc = 0.0
            for c in range(C):
                acc += benefit_weights[p0, c] * ben[i, a, c]
            out_area_benefits[i * area_di + a * area_da] = acc
            acc = 0.0
            for k in range(K):
                acc += cost_weights[p0, k] * cost[i, a, k]
            out_area_costs[i * area_di + a * area_da] = acc
    _totals_block(
        lo,
        min(hi, n),
        comp_stream,
        benefit_weights,
        cost_weights,
        stakeholder_weights,
        years,
        S,
        dflow,
        out_benefits,
        out_costs,
        out_stream,
        out_component,
        out_sh_benefits,
        out_sh_costs,
        out_payback,
    )


@njit(cache=True, nogil=True)
def aggregate_totals(
    dflow,  # (n, T) discounted net flow, scenario perspective
    comp_stream,  # (C,)
    benefit_weights,  # (P, C)
    cost_weights,  # (P, K)
    stakeholder_weights,  # (K, C)
    years,  # (T,)
    S,  # number of streams
    out_benefits,  # (n, P)
    out_costs,  # (n, P)
    out_stream,  # (n, P, S)
    out_component,  # (n, C) input: PV per component, summed over areas by simulate_chunk
    out_sh_benefits,  # (n, K)
    out_sh_costs,  # (n, K) input: PV per payer, summed over areas by simulate_chunk
    out_payback,  # (n,)
    lo,  # first draw this call completes
    hi,  # one past the last
):
    """The rest of :func:`aggregate` for draws ``lo:hi``, once the kernel has summed over areas
    (a companion's light outputs: see :func:`_totals_block`)."""
    _totals_block(
        lo,
        min(hi, out_component.shape[0]),
        comp_stream,
        benefit_weights,
        cost_weights,
        stakeholder_weights,
        years,
        S,
        dflow,
        out_benefits,
        out_costs,
        out_stream,
        out_component,
        out_sh_benefits,
        out_sh_costs,
        out_payback,
    )


@njit(cache=True, nogil=True)
def simulate_programme(
    theta_t,  # (Q, n) per-draw parameters, one parameter per row
    off_stream,  # (9,) top-down stream slot offsets (rate, factor, trend are read here)
    off_comp,  # (2,) offsets of unit_value, growth
    off_int,  # (3,) offsets of per_participant, fixed_per_area_year, overrun (per entry)
    off_link,  # (5,) offsets of effect, deadweight, attribution, displacement, half_life (per link)
    volume0,  # (A, S)
    data_year,  # (S,)
    years,  # (T,) float
    base_year,  # float
    comp_stream,  # (C,) int
    comp_sign,  # (C,)
    flow_weights,  # (C,) benefit weights of the scenario's perspective, times the sign
    benefit_weights,  # (P, C)
    df_stream,  # (S, T)
    df_cost,  # (T,)
    participants,  # (M, A, T)
    fixed_years,  # (M, A, T)
    int_payer,  # (M, K)
    int_costw,  # (M, P) share of an entry's cost each perspective counts
    p0,  # scenario perspective
    link_int,  # (L,) int
    link_stream,  # (L,) int
    link_lag,  # (L,) int
    link_prof,  # (L, KP)
    link_nprof,  # (L,) int
    link_tail,  # (L,)
    link_haircut,  # (L,)
    out_ben,  # (n, A, C) += PV per component and area (signed)
    out_cost,  # (n, A, K) += PV of costs per area and payer
    out_flow,  # (n, T) += net flow, scenario perspective
    out_dflow,  # (n, T) += the same, discounted
    out_int_ben,  # (n, M, P) PV benefits per entry and perspective
    out_int_cost,  # (n, M, P) PV costs per entry and perspective
    out_phys,  # (n', L, A, T) outcome units changed per link, the first n' <= n draws
    lo,  # first draw this call computes
    hi,  # one past the last
):
    """Bottom-up interventions (docs/model.md §3; equations in :mod:`mkba.interventions`), added
    into the top-down kernel's outputs. Same block/lane layout and the same per-draw sequence
    of operations for every thread count."""
    Q, n = theta_t.shape
    A, S = volume0.shape
    C = comp_stream.shape[0]
    M, _, T = participants.shape
    K = int_payer.shape[1]
    P = benefit_weights.shape[0]
    L = link_int.shape[0]
    B = _BLOCK
    for i0 in range(lo, min(hi, n), B):
        nb = min(hi, n, i0 + B) - i0
        th = np.empty((Q, B))
        for q in range(Q):
            src = theta_t[q, i0 : i0 + nb]
            for b in range(nb):
                th[q, b] = src[b]
            for b in range(nb, B):
                th[q, b] = th[q, 0]
        vol = np.empty((S, T, B))  # nulalternatief volume per unit of volume0
        value = np.empty((C, T, B))
        lane = np.empty(B)
        lane2 = np.empty(B)
        qq = np.empty((L, B))
        peff = np.empty((L, B))
        resid = np.empty((T, B))
        du = np.empty((T, B))
        tail = np.empty(B)
        flow = np.zeros((T, B))
        dflow = np.zeros((T, B))
        iben = np.zeros((M, P, B))
        icost = np.zeros((M, P, B))
        aben = np.empty((C, B))
        spend = np.empty(B)
        pv = np.empty(B)
        for s in range(S):
            rate = th[off_stream[RATE] + s]
            fac = th[off_stream[FACTOR] + s]
            gr = th[off_stream[TREND] + s]
            for b in range(B):
                lane2[b] = 1.0 + gr[b]
            _pow_lanes(lane2, years[0] - data_year[s], pv)
            for b in range(B):
                lane[b] = rate[b] * fac[b] * pv[b]
            for t in range(T):
                for b in range(B):
                    vol[s, t, b] = lane[b]
                    lane[b] = lane[b] * lane2[b]
        for c in range(C):
            u = th[off_comp[UNIT_VALUE] + c]
            gw = th[off_comp[GROWTH] + c]
            for b in range(B):
                lane2[b] = 1.0 + gw[b]
            _pow_lanes(lane2, years[0] - base_year, lane)
            for b in range(B):
                lane[b] = u[b] * lane[b]
            for t in range(T):
                for b in range(B):
                    value[c, t, b] = lane[b]
                    lane[b] = lane[b] * lane2[b]
        for l in range(L):
            e = th[off_link[L_EFFECT] + l]
            dw = th[off_link[L_DEADWEIGHT] + l]
            at = th[off_link[L_ATTRIBUTION] + l]
            dp = th[off_link[L_DISPLACEMENT] + l]
            hl = th[off_link[L_HALF_LIFE] + l]
            hc = 1.0 - link_haircut[l]
            for b in range(B):
                peff[l, b] = e[b] * (1.0 - dw[b]) * (1.0 - at[b]) * (1.0 - dp[b]) * hc
                h = hl[b]
                if link_tail[l] == 0.0 or h == 0.0:
                    qq[l, b] = 0.0
                elif h < np.inf:
                    qq[l, b] = 0.5 ** (1.0 / h)
                else:
                    qq[l, b] = 1.0
        for a in range(A):
            for c in range(C):
                for b in range(B):
                    aben[c, b] = 0.0
            for s in range(S):
                v0 = volume0[a, s]
                first = True
                for l in range(L):
                    if link_stream[l] != s:
                        continue
                    if first:
                        for t in range(T):
                            for b in range(B):
                                resid[t, b] = 1.0
                        first = False
                    m = link_int[l]
                    lag = link_lag[l]
                    npf = link_nprof[l]
                    flast = link_prof[l, npf - 1]
                    for b in range(B):
                        tail[b] = 0.0
                    for t in range(T):
                        # cohorts inside the profile table
                        x = 0.0
                        for k in range(npf):
                            tt = t - lag - k
                            if tt >= 0:
                                x += link_prof[l, k] * participants[m, a, tt]
                        tk = t - lag - npf
                        pk = participants[m, a, tk] * flast if tk >= 0 else 0.0
                        for b in range(B):
                            tail[b] = qq[l, b] * tail[b] + qq[l, b] * pk
                            d = peff[l, b] * (x + tail[b])
                            vv = v0 * vol[s, t, b]
                            sh = 0.0
                            if vv > 0.0:
                                sh = min(max(d / vv, -1.0), 1.0)
                            du[t, b] = vv * sh * resid[t, b]
                            resid[t, b] = resid[t, b] * (1.0 - sh)
                    for b in range(min(nb, out_phys.shape[0] - i0)):  # kept draws only
                        for t in range(T):
                            out_phys[i0 + b, l, a, t] = du[t, b]
                    for c in range(C):
                        if comp_stream[c] != s:
                            continue
                        sg = comp_sign[c]
                        fw = flow_weights[c]
                        for b in range(B):
                            pv[b] = 0.0
                        for t in range(T):
                            dft = df_stream[s, t]
                            for b in range(B):
                                f = du[t, b] * value[c, t, b]
                                pv[b] += f * dft
                                if fw != 0.0:
                                    flow[t, b] += fw * f
                                    dflow[t, b] += fw * f * dft
                        for b in range(B):
                            aben[c, b] += sg * pv[b]
                        for p in range(P):
                            w = benefit_weights[p, c]
                            if w != 0.0:
                                for b in range(B):
                                    iben[m, p, b] += w * (sg * pv[b])
            for b in range(nb):
                for c in range(C):
                    out_ben[i0 + b, a, c] += aben[c, b]
        # --- costs: planned participants x drawn cost per participant, plus fixed cost, x overrun
        for m in range(M):
            cpp = th[off_int[PER_PARTICIPANT] + m]
            fix = th[off_int[FIXED_PER_AREA_YEAR] + m]
            ov = th[off_int[I_OVERRUN] + m]
            w0 = int_costw[m, p0]
            for a in range(A):
                for b in range(B):
                    pv[b] = 0.0
                for t in range(T):
                    pp = participants[m, a, t]
                    fy = fixed_years[m, a, t]
                    if pp == 0.0 and fy == 0.0:
                        continue
                    dct = df_cost[t]
                    for b in range(B):
                        spend[b] = (pp * cpp[b] + fy * fix[b]) * ov[b]
                        pv[b] += spend[b] * dct
                        flow[t, b] -= w0 * spend[b]
                        dflow[t, b] -= w0 * spend[b] * dct
                for kk in range(K):
                    sh = int_payer[m, kk]
                    if sh != 0.0:
                        for b in range(nb):
                            out_cost[i0 + b, a, kk] += sh * pv[b]
                for p in range(P):
                    w = int_costw[m, p]
                    for b in range(B):
                        icost[m, p, b] += w * pv[b]
        for b in range(nb):
            i = i0 + b
            for t in range(T):
                out_flow[i, t] += flow[t, b]
                out_dflow[i, t] += dflow[t, b]
            for m in range(M):
                for p in range(P):
                    out_int_ben[i, m, p] = iben[m, p, b]
                    out_int_cost[i, m, p] = icost[m, p, b]
