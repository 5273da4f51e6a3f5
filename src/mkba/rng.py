"""Compiled sampling: NumPy's column streams and the cheap inverse CDFs in one pass.

Every uncertain parameter of chunk ``j`` draws column ``c`` of the parameter registry from its
own stream: ``np.random.default_rng(SeedSequence(seed, spawn_key=(j, c))).random(n)``
(:func:`mkba.sampling.uniform_column`, the reference). Creating those ~2,000 SeedSequence and
PCG64 objects per 100,000 draws, and the Python around each column, cost more than the kernel
itself. :func:`sample_rows` repeats the same arithmetic in compiled code, bit for bit:

- NumPy's ``SeedSequence`` (``bit_generator.pyx``: pool of four 32-bit words, ``hashmix`` /
  ``mix`` / ``mix_entropy`` over the entropy words ``seed`` (zero-padded to the pool size,
  because a spawn key is given) + ``chunk`` + ``column``, then ``generate_state(4, uint64)``);
- PCG64's seeding (``pcg_setseq_128_srandom_r`` of the 128-bit state and increment made of the
  four words) and its output (one 128-bit LCG step, XSL-RR to 64 bits); the state is kept as
  two 64-bit halves and a step is one LLVM i128 multiply-add (:func:`_pcg_step`); after a
  stream's first ``_LANES`` values, ``_LANES`` states at a time jump ``_LANES`` steps, some in
  SIMD registers (:func:`_pcg_lanes`), the others as scalar steps beside them
  (:func:`_pcg_jump`): the same integer arithmetic, so the same states;
- ``Generator.random``: ``(next64 >> 11) * 2**-53``; the Latin hypercube permutation of
  :func:`mkba.sampling._lhs_column`; the clip to ``[2**-53, 1 - 2**-53]``;
- the inverse CDFs of :class:`mkba.distributions.InverseCdf` (uniform, triangular, the
  Hermite-tabulated beta / PERT / truncated normal, and the normal and lognormal through
  :func:`ndtri_into`, a port of scipy.special's ``ndtri``), then the price scale, written to
  the parameter's row of ``theta_t``, and the value over the scale into the chunk's
  ``samples`` column (what :func:`mkba.engine.compute_chunk` keeps), laid out column-major:
  each column's values contiguous (:func:`mkba.engine.column_major`).

The Gaussian copula runs compiled too (:func:`copula_rows`: ``ndtri``, NumPy ``einsum``'s
summation order, ``ndtr``). The logarithms (Hermite logits, ``ndtri``'s tails), ``ndtr``'s
tail ``exp`` and, where NumPy's ``exp`` is libm's, the lognormal's ``exp`` go through
:mod:`mkba.glibcmath`'s vectorised ports of glibc's ``log`` / ``exp`` (the same bits) where
this machine allows (:func:`mkba.glibcmath.log_port_ok`, :func:`mkba.glibcmath.exp_port_ok`),
else libm's calls.
What stays NumPy is finished by the caller (:class:`ColumnPlan`): the lognormal's ``exp``
without the port (NumPy's SIMD ``exp`` on AVX-512 is not libm's), choice columns and the exact
values outside a Hermite grid. tests/test_rng.py compares every stream with NumPy's for many
seeds, chunks and columns, and the ports with scipy.special value for value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]  # llvmlite ships no type information
from numba import njit, types
from numba.extending import intrinsic

from mkba.distributions import (
    hermite_cubic,
    hermite_position,
    triangular_from_root,
    triangular_radicand,
)
from mkba.glibcmath import exp_into, exp_port_ok, log_into, log_port_ok

if TYPE_CHECKING:
    from mkba.distributions import InverseCdf

# SeedSequence constants (numpy/random/bit_generator.pyx)
_INIT_A = 0x43B0D7E5
_MULT_A = 0x931E8875
_INIT_B = 0x8B51F9DD
_MULT_B = 0x58F38DED
_MIX_MULT_L = 0xCA01F9DD
_MIX_MULT_R = 0x4973F715
_POOL_SIZE = 4
# PCG64's default 128-bit multiplier (pcg64.h, PCG_DEFAULT_MULTIPLIER_128), high and low halves
_PCG_MULT_HI = 2549297995355413924
_PCG_MULT_LO = 4865540595714422341

# column kinds of sample_rows
KEEP = 0  # only the clipped uniforms (kept in ``ukeep``); the caller transforms them
UNIFORM = 1  # par = (min, max - min, -)
TRIANGULAR = 2  # par = (min, mode, max)
HERMITE = 3  # par = (zmax, -, -); grid rows gidx[j] of gx / gs; NaN outside the grid
NORMAL = 4  # par = (mean, sd, -): (mean + sd * ndtri(u)) * scale
LOGNORMAL = 5  # par = (mu, sigma, -): exp(mu + sigma * ndtri(u)) * scale with exp_port; else
# mu + sigma * ndtri(u), and the caller takes NumPy's exp


def seed_words(seed: int) -> list[int]:
    """The 32-bit words NumPy's SeedSequence makes of a non-negative integer (least
    significant first; ``[0]`` for 0)."""
    if seed < 0:
        raise ValueError("expected non-negative integer")
    if seed == 0:
        return [0]
    words = []
    while seed > 0:
        words.append(seed & 0xFFFFFFFF)
        seed >>= 32
    return words


def entropy_head(seed: int, chunk: int) -> np.ndarray:
    """The entropy words of ``SeedSequence(seed, spawn_key=(chunk, column))`` before the
    column's: the seed's words, zero-padded to the pool size (NumPy does so whenever a spawn
    key is given), then the chunk's."""
    run = seed_words(int(seed))
    run += [0] * max(0, _POOL_SIZE - len(run))
    return np.array(run + seed_words(int(chunk)), dtype=np.uint64)


def _lcg_codegen(mult: int):  # type: ignore[no-untyped-def]  # returns an llvmlite IR builder callback
    """The code of ``state * mult + c (mod 2**128)`` on the 64-bit halves of the state and of
    ``c``: one LLVM i128 multiply-add, returning the new (high, low) halves (for
    :func:`_pcg_step` and :func:`_pcg_jump`)."""

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]  # llvmlite IR builder callback
        i128 = ir.IntType(128)
        i64 = ir.IntType(64)
        c64 = ir.Constant(i128, 64)

        def join(hi, lo):  # type: ignore[no-untyped-def]  # llvmlite values
            return builder.or_(builder.shl(builder.zext(hi, i128), c64), builder.zext(lo, i128))

        x = builder.add(
            builder.mul(join(args[0], args[1]), ir.Constant(i128, mult)), join(args[2], args[3])
        )
        hi = builder.trunc(builder.lshr(x, c64), i64)
        lo = builder.trunc(x, i64)
        return context.make_tuple(builder, signature.return_type, [hi, lo])

    return codegen


_U64_PAIR_OF_FOUR = types.UniTuple(types.uint64, 2)(
    types.uint64, types.uint64, types.uint64, types.uint64
)


@intrinsic
def _pcg_step(typingctx, s_hi, s_lo, i_hi, i_lo):  # type: ignore[no-untyped-def]  # numba intrinsic: typed by its signature below
    """One step of PCG64's 128-bit LCG, ``state * mult + inc (mod 2**128)``, on the state's
    and the increment's 64-bit halves: returns the new (high, low) halves."""
    return _U64_PAIR_OF_FOUR, _lcg_codegen((_PCG_MULT_HI << 64) | _PCG_MULT_LO)


# PCG64 in lanes: state_{i+L} = A * state_i + C (mod 2**128) with A = mult**L and C the state
# L steps from 0 (inc * (1 + mult + ... + mult**(L-1))), so L values of one stream are L
# independent chains of the same integer arithmetic: the same states. Of the _LANES = 12
# chains, _VEC = 8 run in SIMD registers (:func:`_pcg_lanes`, two AVX2 vectors of four) and
# _LANES - _VEC = 4 as scalar 128-bit steps (:func:`_pcg_jump`: ``mul`` and two ``imul``)
# beside them: an AVX2 CPU has no 64-bit vector multiply, so the vector chains are bound by
# the vector units and the scalar chains use the integer units meanwhile (AVX2 Zen 3, thread
# CPU per value: 32 vector lanes 2.0 ns, 16 vector lanes 1.43, 8 scalar 1.6, 8 + 4 1.26)
_LANES = 12
_VEC = 8
_JUMP = pow((_PCG_MULT_HI << 64) | _PCG_MULT_LO, _LANES, 1 << 128)
_JUMP_HI, _JUMP_LO = _JUMP >> 64, _JUMP & (2**64 - 1)


@intrinsic
def _pcg_jump(typingctx, s_hi, s_lo, c_hi, c_lo):  # type: ignore[no-untyped-def]  # numba intrinsic: typed by its signature below
    """``_LANES`` steps of PCG64's LCG at once, ``state * _JUMP + c (mod 2**128)``, on the
    64-bit halves of the state and of ``c``: returns the new (high, low) halves."""
    return _U64_PAIR_OF_FOUR, _lcg_codegen(_JUMP)


@intrinsic
def _pcg_lanes(typingctx, st, out, pos, c_hi, c_lo):  # type: ignore[no-untyped-def]  # numba intrinsic: typed by its signature below
    """Advance the ``_VEC`` states ``st[:_VEC]`` (high halves), ``st[_LANES:_LANES + _VEC]``
    (low halves) by ``_LANES`` steps each (``state * _JUMP + (c_hi, c_lo)`` mod 2**128) and
    write their ``Generator.random`` doubles (XSL-RR output, ``(x >> 11) * 2**-53``) to
    ``out[pos:pos + _VEC]``. Plain LLVM vector IR (no target-specific instruction) written
    for AVX2: the 128-bit product's ten 32 x 32-bit partial products (``vpmuludq``; the
    cross terms' upper words shifted once), and the 53-bit integer made a double exactly
    without a 64-bit integer conversion (AVX2 has none; LLVM would convert lane by lane):
    ``2**52 + low 52 bits`` by its bits, minus ``2**52`` unless bit 52 is set. Integer
    arithmetic and exact conversions: the same doubles on any CPU."""
    if not (
        isinstance(st, types.Array) and st.dtype == types.uint64 and st.layout == "C"
        and isinstance(out, types.Array) and out.dtype == types.float64 and out.layout == "C"
    ):  # fmt: skip
        return None  # (contiguous uint64 states, contiguous float64 output only)
    sig = types.void(st, out, types.int64, types.uint64, types.uint64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]  # llvmlite IR builder callback
        st_v, out_v, pos_v, c_hi_v, c_lo_v = args
        sta = context.make_array(signature.args[0])(context, builder, st_v)
        outa = context.make_array(signature.args[1])(context, builder, out_v)
        i64 = ir.IntType(64)
        vt = ir.VectorType(i64, _VEC)
        dvt = ir.VectorType(ir.DoubleType(), _VEC)
        mul, add, and_ = builder.mul, builder.add, builder.and_
        lshr, shl = builder.lshr, builder.shl

        def splat(v):  # type: ignore[no-untyped-def]  # llvmlite values
            if isinstance(v, int):
                return ir.Constant(vt, [ir.Constant(i64, v)] * _VEC)
            u = builder.insert_element(ir.Constant(vt, ir.Undefined), v, ir.Constant(i64, 0))
            mask = ir.Constant(ir.VectorType(ir.IntType(32), _VEC), [0] * _VEC)
            return builder.shuffle_vector(u, ir.Constant(vt, ir.Undefined), mask)

        p_hi = builder.bitcast(sta.data, vt.as_pointer())
        p_lo = builder.bitcast(builder.gep(sta.data, [ir.Constant(i64, _LANES)]), vt.as_pointer())
        y = builder.load(p_hi, align=8)  # high halves
        x = builder.load(p_lo, align=8)  # low halves
        m32, s32 = splat(0xFFFFFFFF), splat(32)
        x0, x1 = and_(x, m32), lshr(x, s32)  # 32-bit words (the products: vpmuludq)
        y0, y1 = and_(y, m32), lshr(y, s32)
        l0, l1 = splat(_JUMP_LO & 0xFFFFFFFF), splat(_JUMP_LO >> 32)
        h0, h1 = splat(_JUMP_HI & 0xFFFFFFFF), splat(_JUMP_HI >> 32)
        p00, p01, p10, p11 = mul(x0, l0), mul(x0, l1), mul(x1, l0), mul(x1, l1)
        mid = add(add(lshr(p00, s32), and_(p01, m32)), and_(p10, m32))
        hi = add(add(p11, lshr(p01, s32)), add(lshr(p10, s32), lshr(mid, s32)))
        lo = builder.or_(and_(p00, m32), shl(mid, s32))  # x * jump_lo: (hi, lo)
        # + the low halves of x * jump_hi and y * jump_lo (mod 2**64)
        upper = add(add(mul(x0, h1), mul(x1, h0)), add(mul(y0, l1), mul(y1, l0)))
        hi = add(hi, add(add(mul(x0, h0), mul(y0, l0)), shl(upper, s32)))
        c_lo = splat(c_lo_v)
        lo = add(lo, c_lo)
        carry = builder.zext(builder.icmp_unsigned("<", lo, c_lo), vt)
        hi = add(add(hi, splat(c_hi_v)), carry)
        builder.store(hi, p_hi, align=8)
        builder.store(lo, p_lo, align=8)
        v = builder.xor(hi, lo)  # XSL-RR: rotate right by the top six bits
        rot = lshr(hi, splat(58))
        left = and_(builder.sub(splat(64), rot), splat(63))
        v = builder.or_(lshr(v, rot), shl(v, left))
        w = lshr(v, splat(11))  # < 2**53: w = t * 2**52 + low, t = 0 or 1
        two52 = splat(0x4330000000000000)  # the bits of 2.0**52
        big = builder.bitcast(builder.or_(and_(w, splat(2**52 - 1)), two52), dvt)  # 2**52 + low
        minus = and_(builder.sub(lshr(w, splat(52)), splat(1)), two52)  # 2**52 if t = 0, else 0
        d = builder.fsub(big, builder.bitcast(minus, dvt))  # = w, exactly
        d = builder.fmul(d, ir.Constant(dvt, [ir.Constant(ir.DoubleType(), 2.0**-53)] * _VEC))
        builder.store(
            d, builder.bitcast(builder.gep(outa.data, [pos_v]), dvt.as_pointer()), align=8
        )
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def _pcg_double(s_hi, s_lo):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """PCG64's XSL-RR output of a state; ``Generator.random``'s double of it."""
    x = s_hi ^ s_lo
    rot = s_hi >> np.uint64(58)
    x = (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))
    return float(np.int64(x >> np.uint64(11))) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True, inline="always")
def _pcg_fill(s_hi, s_lo, i_hi, i_lo, out, lanes):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """``out[:] = Generator.random(len(out))`` of the PCG64 stream in state ``(s_hi, s_lo)``
    with increment ``(i_hi, i_lo)``: the first ``_LANES`` steps one by one, then
    ``_LANES`` at a time (:func:`_pcg_lanes` for the first ``_VEC`` of each block,
    :func:`_pcg_jump` for the others), the rest one by one again from the last state.
    ``lanes``: (2 * _LANES,) uint64 scratch (high halves, then low halves)."""
    total = out.shape[0]
    zero = np.uint64(0)
    c_hi = zero
    c_lo = zero
    for _ in range(_LANES):  # the jump's constant: _LANES steps from the state 0
        c_hi, c_lo = _pcg_step(c_hi, c_lo, i_hi, i_lo)  # type: ignore[call-arg]  # an intrinsic: numba passes typingctx
    for i in range(min(_LANES, total)):
        s_hi, s_lo = _pcg_step(s_hi, s_lo, i_hi, i_lo)  # type: ignore[call-arg]  # as above
        lanes[i] = s_hi
        lanes[_LANES + i] = s_lo
        out[i] = _pcg_double(s_hi, s_lo)
    blocks = total // _LANES
    for b in range(1, blocks):
        p = b * _LANES
        _pcg_lanes(lanes, out, p, c_hi, c_lo)  # type: ignore[call-arg]  # as above
        for k in range(_VEC, _LANES):  # (a constant trip count: unrolled, scalar)
            s_hi, s_lo = _pcg_jump(lanes[k], lanes[_LANES + k], c_hi, c_lo)
            lanes[k] = s_hi
            lanes[_LANES + k] = s_lo
            out[p + k] = _pcg_double(s_hi, s_lo)
    if blocks >= 1:
        s_hi = lanes[_LANES - 1]
        s_lo = lanes[2 * _LANES - 1]
        for i in range(blocks * _LANES, total):
            s_hi, s_lo = _pcg_step(s_hi, s_lo, i_hi, i_lo)  # type: ignore[call-arg]  # as above
            out[i] = _pcg_double(s_hi, s_lo)


# Cephes's rational approximations (S. L. Moshier; scipy.special's ``ndtri`` / ``ndtr``, C++ in
# scipy's xsf ``cephes/ndtri.h`` and ``cephes/ndtr.h``): the same coefficients, the same Horner
# order and the same libm ``log`` / ``exp`` / ``sqrt`` calls give the same bits (tests/test_rng.py
# compares millions of values, the tails and the special values with scipy.special exactly)
_NDTRI_P0 = (-5.99633501014107895267e1, 9.80010754185999661536e1, -5.66762857469070293439e1,
             1.39312609387279679503e1, -1.23916583867381258016e0)  # fmt: skip
_NDTRI_Q0 = (1.95448858338141759834e0, 4.67627912898881538453e0, 8.63602421390890590575e1,
             -2.25462687854119370527e2, 2.00260212380060660359e2, -8.20372256168333339912e1,
             1.59056225126211695515e1, -1.18331621121330003142e0)  # fmt: skip
_NDTRI_P1 = (4.05544892305962419923e0, 3.15251094599893866154e1, 5.71628192246421288162e1,
             4.40805073893200834700e1, 1.46849561928858024014e1, 2.18663306850790267539e0,
             -1.40256079171354495875e-1, -3.50424626827848203418e-2, -8.57456785154685413611e-4)  # fmt: skip
_NDTRI_Q1 = (1.57799883256466749731e1, 4.53907635128879210584e1, 4.13172038254672030440e1,
             1.50425385692907503408e1, 2.50464946208309415979e0, -1.42182922854787788574e-1,
             -3.80806407691578277194e-2, -9.33259480895457427372e-4)  # fmt: skip
_NDTRI_P2 = (3.23774891776946035970e0, 6.91522889068984211695e0, 3.93881025292474443415e0,
             1.33303460815807542389e0, 2.01485389549179081538e-1, 1.23716634817820021358e-2,
             3.01581553508235416007e-4, 2.65806974686737550832e-6, 6.23974539184983293730e-9)  # fmt: skip
_NDTRI_Q2 = (6.02427039364742014255e0, 3.67983563856160859403e0, 1.37702099489081330271e0,
             2.16236993594496635890e-1, 1.34204006088543189037e-2, 3.28014464682127739104e-4,
             2.89247864745380683936e-6, 6.79019408009981274425e-9)  # fmt: skip
_ERFC_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
           4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
           9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)  # fmt: skip
_ERFC_Q = (1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
           9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
           1.65666309194161350182e3, 5.57535340817727675546e2)  # fmt: skip
_ERFC_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
           6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0)  # fmt: skip
_ERFC_S = (2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
           1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0)  # fmt: skip
_ERF_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
          7.00332514112805075473e3, 5.55923013010394962768e4)  # fmt: skip
_ERF_U = (3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
          2.26290000613890934246e4, 4.92673942608635921086e4)  # fmt: skip
_SQRT2PI = 2.50662827463100050242e0
_SQRT1_2 = 0.70710678118654752440
_MAXLOG = 7.09782712893383996843e2
_EXP_M2 = 0.13533528323661269189  # exp(-2)


# Cephes's ``polevl`` (``c[0] x^N + ... + c[N]``) and ``p1evl`` (``x^N + c[0] x^(N-1) + ... +
# c[N-1]``, the leading 1 not stored) in Horner's order. The coefficients are constant tuples,
# so after inlining the loop has a constant trip count and is unrolled into straight-line code
# that vectorises
@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _polevl(x, c):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """``polevl``: ``c[0] x^N + ... + c[N]`` with ``N = len(c) - 1``."""
    acc = c[0] * x + c[1]
    for i in range(2, len(c)):
        acc = acc * x + c[i]
    return acc


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _p1evl(x, c):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """``p1evl``: ``x^N + c[0] x^(N-1) + ... + c[N-1]`` with ``N = len(c)``."""
    acc = x + c[0]
    for i in range(1, len(c)):
        acc = acc * x + c[i]
    return acc


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _ndtri_central(y0):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """Cephes ``ndtri``'s branch for ``exp(-2) < y0 <= 1 - exp(-2)`` (straight-line code:
    loops over values vectorise)."""
    y = y0 - 0.5
    y2 = y * y
    x = y + y * (y2 * _polevl(y2, _NDTRI_P0) / _p1evl(y2, _NDTRI_Q0))
    return x * _SQRT2PI


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _erf_small(x):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """Cephes ``erf`` for ``|x| <= 1``."""
    z = x * x
    return x * _polevl(z, _ERF_T) / _p1evl(z, _ERF_U)


@njit(cache=True, nogil=True, error_model="numpy")
def ndtri_into(src, dst, port):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """``dst[i] = scipy.special.ndtri(src[i])`` (Cephes's ``ndtri``), the same bits, in
    passes that vectorise: first every value by the central branch's formula
    (``exp(-2) < y <= 1 - exp(-2)``, about three values in four; no branches or calls in
    the loop); then the tails gathered (NaN among them: Cephes's arithmetic carries it
    through), their first logarithms, the square roots (vectorised), the second logarithms,
    and the rest of the tail formula for all of them at once with the rational function of
    ``x < 8``; the rare values with ``x >= 8`` (or NaN) are then done again with the
    other. 0, 1 and values outside [0, 1] are Cephes's -inf, inf and NaN. The logarithms:
    :func:`mkba.glibcmath.log_into` (``port``: the vectorised port of libm's ``log``;
    the same bits either way)."""
    n = src.shape[0]
    for i in range(n):
        dst[i] = _ndtri_central(src[i])
    top = 1.0 - _EXP_M2
    idx = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):  # the positions outside the centre (NaN too), gathered without a
        y0 = src[i]  # branch (a tail value is one in four, at random: a branch on it
        idx[m] = i  # mispredicts)
        m += not ((y0 > _EXP_M2) & (y0 <= top))
    xs = np.empty(m)
    lx = np.empty(m)
    mt = 0
    for t in range(m):  # the special values set, the tail values (NaN among them) kept
        i = idx[t]
        y0 = src[i]
        if y0 == 0.0:
            dst[i] = -math.inf
        elif y0 == 1.0:
            dst[i] = math.inf
        elif y0 < 0.0 or y0 > 1.0:
            dst[i] = math.nan
        elif y0 > top and 1.0 - y0 > _EXP_M2:  # (rounding) reflected into the centre
            dst[i] = _ndtri_central(1.0 - y0)
        else:  # a tail value, reflected (y0 > top) or not, or NaN
            idx[mt] = i
            xs[mt] = 1.0 - y0 if y0 > top else y0
            mt += 1
    if mt < m:  # (only with special values: never from the sampler's clipped uniforms)
        m = mt
        xs = xs[:m]
        lx = lx[:m]
    log_into(xs, lx, port)
    for t in range(m):  # their square roots (vectorised)
        xs[t] = math.sqrt(-2.0 * lx[t])
    log_into(xs, lx, port)
    big = 0  # the values whose x >= 8 (y < exp(-32)) or NaN: the other rational function
    for t in range(m):
        x = xs[t]
        x0 = x - lx[t] / x
        z = 1.0 / x
        big += not (x < 8.0)
        lx[t] = x0 - z * _polevl(z, _NDTRI_P1) / _p1evl(z, _NDTRI_Q1)
    if big:  # (rare: only uniforms below about 1.3e-14 from either end)
        for t in range(m):
            x = xs[t]
            if not (x < 8.0):
                z = 1.0 / x
                lx[t] = (x - math.log(x) / x) - z * _polevl(z, _NDTRI_P2) / _p1evl(z, _NDTRI_Q2)
    for t in range(m):
        i = idx[t]
        dst[i] = lx[t] if src[i] > top else -lx[t]


@njit(cache=True, nogil=True, error_model="numpy")
def ndtr_into(src, dst, port):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """``dst[i] = scipy.special.ndtr(src[i])`` (Cephes's ``ndtr``), the same bits: first
    ``1/2 + erf(x / sqrt 2) / 2`` by Cephes's small-argument erf for every value
    (vectorised; the formula is odd in x, so Cephes's ``-erf(-x)`` for negative x is the
    same number), then Cephes's ``erfc`` branch where ``|x / sqrt 2| >= 1`` (NaN among
    them), in passes as :func:`ndtri_into`'s tails: those positions gathered without a
    branch (about one value in six, at random), their ``exp(-a * a)`` at once by
    :func:`mkba.glibcmath.exp_into` (``port``: the vectorised port of libm's ``exp``, the
    same bits either way), then the rest of ``erfc`` with the rational function of
    ``a < 8`` for all of them; the rare values with ``a >= 8`` (or NaN) are done again with
    the other (Cephes's ``erfc``: 0 where ``-a * a < -MAXLOG``)."""
    n = src.shape[0]
    for i in range(n):
        x = src[i] * _SQRT1_2
        dst[i] = 0.5 + 0.5 * _erf_small(x)
    idx = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        idx[m] = i
        m += not (abs(src[i] * _SQRT1_2) < 1.0)
    za = np.empty(m)  # a = |x|, then erfc(a) / 2
    ez = np.empty(m)  # -a * a
    ex = np.empty(m)  # and its exp
    for t in range(m):
        z = abs(src[idx[t]] * _SQRT1_2)
        za[t] = z
        ez[t] = -z * z
    exp_into(ez, ex, port)
    # Cephes's erfc(a) for a >= 1: 0 where -a * a < -MAXLOG, else exp(-a * a) times P(a) / Q(a)
    # for a < 8 (never below -MAXLOG), R(a) / S(a) beyond
    big = 0  # the values with a >= 8, or NaN: the other rational function
    for t in range(m):
        z = za[t]
        big += not (z < 8.0)
        za[t] = 0.5 * ((ex[t] * _polevl(z, _ERFC_P)) / _p1evl(z, _ERFC_Q))
    if big:  # (rare: |x| >= 8 sqrt 2, or NaN)
        for t in range(m):
            z = abs(src[idx[t]] * _SQRT1_2)
            if math.isnan(z):
                za[t] = math.nan
            elif ez[t] < -_MAXLOG:
                za[t] = 0.0
            elif not (z < 8.0):
                za[t] = 0.5 * ((ex[t] * _polevl(z, _ERFC_R)) / _p1evl(z, _ERFC_S))
    for t in range(m):
        i = idx[t]
        y = za[t]
        dst[i] = 1.0 - y if src[i] * _SQRT1_2 > 0 else y


@njit(cache=True, nogil=True, error_model="numpy")
def copula_rows(ukeep, frows, chol, port, exp_port):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """:func:`mkba.sampling.apply_copula_t` of ``(frows, chol)`` in place on ``ukeep``, draw by
    draw, the same bits: ``z = ndtri(u)`` (``norm.ppf``: ``* 1 + 0``), ``z @ chol.T`` summed in
    NumPy's ``einsum`` order for this contraction (two lanes, even and odd ``j``, each a chain
    of multiply-then-add, eight terms a round in reverse order, then the lanes added), then
    ``ndtr`` clipped to ``[2**-53, 1 - 2**-53]``. The sums run a term at a time over all
    draws (a pass that vectorises), each draw's terms in that order, so the same numbers as
    draw by draw. tests/test_rng.py compares it with ``apply_copula_t`` exactly (1 to 33
    columns, random correlations). ``port``: as :func:`ndtri_into`'s; ``exp_port``: as
    :func:`ndtr_into`'s ``port``."""
    k = frows.shape[0]
    n = ukeep.shape[1]
    z = np.empty((k, n))
    zc = np.empty((k, n))
    lo_clip = 2.0**-53
    hi_clip = 1.0 - 2.0**-53
    for j in range(k):
        zj = z[j]
        ndtri_into(ukeep[frows[j]], zj, port)
        for i in range(n):
            zj[i] = zj[i] * 1.0 + 0.0
    v0 = np.empty(n)  # the two lanes of every draw at once: each term a pass over the
    v1 = np.empty(n)  # draws (vectorised), each draw's terms in the same order as before
    for a in range(k):
        for i in range(n):
            v0[i] = 0.0
            v1[i] = 0.0
        j = 0
        while k - j >= 8:  # einsum's unrolled round: terms j+6/7, j+4/5, j+2/3, j/j+1
            for q in range(3, -1, -1):
                c0 = chol[a, j + 2 * q]
                c1 = chol[a, j + 2 * q + 1]
                z0 = z[j + 2 * q]
                z1 = z[j + 2 * q + 1]
                for i in range(n):
                    v0[i] = z0[i] * c0 + v0[i]
                    v1[i] = z1[i] * c1 + v1[i]
            j += 8
        while j < k:
            c0 = chol[a, j]
            z0 = z[j]
            for i in range(n):
                v0[i] = z0[i] * c0 + v0[i]
            if j + 1 < k:
                c1 = chol[a, j + 1]
                z1 = z[j + 1]
                for i in range(n):
                    v1[i] = z1[i] * c1 + v1[i]
            j += 2
        zca = zc[a]
        for i in range(n):
            zca[i] = (v0[i] + v1[i]) + 0.0
    for a in range(k):
        ua = ukeep[frows[a]]
        ndtr_into(zc[a], ua, exp_port)
        for i in range(n):
            y = ua[i]
            if y < lo_clip:
                ua[i] = lo_clip
            elif y > hi_clip:
                ua[i] = hi_clip


@njit(cache=True, nogil=True)
def sample_rows(  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    heads, cols, lhs, draw, n, todo, kind, par, gidx, gx, gs, scale, rows, thts, keep, ukeeps,
    samples, offs, outsides, log_port, exp_port,
):  # fmt: skip
    """Chunk after chunk of a block (``b`` in ``range(len(heads))``: entropy head
    ``head = heads[b]``, parameter rows ``tht = thts[b]``, kept uniforms ``ukeep = ukeeps[b]``,
    Hermite counts ``outside = outsides[b]``, sampled values at columns ``offs[b] ..
    offs[b] + n`` of ``samples``; :func:`fill_theta_block`), the same numbers as one call a
    chunk (the scratch arrays are made once a call):
    for each column ``j`` in ``todo``: its clipped uniforms (drawn from the stream
    ``SeedSequence(seed, spawn_key=(chunk, cols[j]))`` whose entropy starts with ``head`` when
    ``draw``; else taken from ``ukeep[keep[j]]``), kept in ``ukeep[keep[j]]`` when
    ``keep[j] >= 0``; for ``kind[j] != KEEP`` the inverse CDF times ``scale[j]`` written to
    (``LOGNORMAL``: the exponent only, the caller finishes it; with ``exp_port`` the value)
    ``tht[rows[j]]`` and that over ``scale[j]`` to ``samples[j]`` (``samples``: U x draws,
    the sampled values column-major, if it has rows). ``outside[j]`` counts the Hermite values left NaN (outside the grid).
    ``log_port``: the logarithms by :func:`mkba.glibcmath.log_into`'s vectorised port of
    libm's ``log`` (:func:`mkba.glibcmath.log_port_ok`), else by ``math.log``: the same bits.
    ``exp_port``: the lognormal's ``exp`` here, by :func:`mkba.glibcmath.exp_into`'s port of
    libm's ``exp``, which is NumPy's where :func:`mkba.glibcmath.exp_port_ok` (the same bits),
    and its values over the scale to ``samples``; else the caller takes NumPy's."""
    m32 = np.uint64(0xFFFFFFFF)
    s16 = np.uint64(16)
    s32 = np.uint64(32)
    init_a = np.uint64(_INIT_A)
    mult_a = np.uint64(_MULT_A)
    mix_l = np.uint64(_MIX_MULT_L)
    mix_r = np.uint64(_MIX_MULT_R)
    one = np.uint64(1)
    n_head = heads.shape[1]
    ent = np.zeros(n_head + 2, dtype=np.uint64)
    pool = np.zeros(_POOL_SIZE, dtype=np.uint64)
    npool = pool.shape[0]  # a run-time bound: the seeding loops stay loops (compile time)
    words = np.zeros(8, dtype=np.uint64)
    lanes = np.zeros(2 * _LANES, dtype=np.uint64)  # _pcg_fill's lane states
    total = 2 * n if lhs else n
    r = np.empty(total)
    if lhs and n >= 2**31:
        raise ValueError("a Latin hypercube chunk has fewer than 2**31 draws")
    # the LHS permutation in int32 (the strata 0 .. n-1; the swap loop's arrays take half
    # the cache lines of float64 / int64 ones), each stratum converted exactly at the end
    perm = np.empty(n if lhs else 0, dtype=np.int32)  # the strata, shuffled
    pu = np.empty(n if lhs else 0, dtype=np.int32)  # each position's final stratum
    swap = np.empty(n if lhs else 0, dtype=np.int32)
    inv_n = 1.0 / n  # exact when n is a power of two: then * inv_n gives / n's bits
    pow2 = n > 0 and (n & (n - 1)) == 0
    u = np.empty(n)
    zl = np.empty(n)
    n_her = 0  # the Hermite columns' scratch: each value's interval k, and the table's
    for jj in range(todo.shape[0]):  # x[k], slope[k], x[k + 1], slope[k + 1]
        if kind[todo[jj]] == HERMITE:
            n_her = n
    hk = np.empty(n_her, dtype=np.int32)  # (int32: AVX2 converts int64 one by one)
    hv = np.empty((4, n_her))
    lo_clip = 2.0**-53
    hi_clip = 1.0 - 2.0**-53
    n_todo = todo.shape[0]
    for blk in range(heads.shape[0]):  # (not ``b``: the triangular's maximum below)
        head = heads[blk]
        for k in range(n_head):
            ent[k] = head[k]
        tht = thts[blk]
        ukeep = ukeeps[blk]
        outside = outsides[blk]
        for jj in range(n_todo):
            j = todo[jj]
            if draw:
                # --- SeedSequence(seed, spawn_key=(chunk, cols[j])).generate_state(4, uint64)
                c = np.uint64(cols[j])
                ent[n_head] = c  # a column is one word (< 2**32; 0 is the word 0)
                n_ent = n_head + 1
                hc = init_a
                for i in range(npool):  # hashmix of the entropy (0 beyond it) into the pool
                    v = ent[i] if i < n_ent else np.uint64(0)
                    v = v ^ hc
                    hc = (hc * mult_a) & m32
                    v = (v * hc) & m32
                    pool[i] = v ^ (v >> s16)
                for i_src in range(npool):  # mix every word into every other
                    for i_dst in range(npool):
                        if i_src != i_dst:
                            v = pool[i_src] ^ hc
                            hc = (hc * mult_a) & m32
                            v = (v * hc) & m32
                            v = v ^ (v >> s16)
                            x = (mix_l * pool[i_dst] - mix_r * v) & m32
                            pool[i_dst] = x ^ (x >> s16)
                for i_src in range(npool, n_ent):  # entropy beyond the pool
                    for i_dst in range(npool):
                        v = ent[i_src] ^ hc
                        hc = (hc * mult_a) & m32
                        v = (v * hc) & m32
                        v = v ^ (v >> s16)
                        x = (mix_l * pool[i_dst] - mix_r * v) & m32
                        pool[i_dst] = x ^ (x >> s16)
                hb = np.uint64(_INIT_B)
                for i in range(2 * npool):  # generate_state: eight 32-bit words
                    v = pool[i % npool] ^ hb
                    hb = (hb * np.uint64(_MULT_B)) & m32
                    v = (v * hb) & m32
                    words[i] = v ^ (v >> s16)
                # four little-endian uint64: state (high, low), then increment (high, low)
                st_hi = words[0] | (words[1] << s32)
                st_lo = words[2] | (words[3] << s32)
                sq_hi = words[4] | (words[5] << s32)
                sq_lo = words[6] | (words[7] << s32)
                # pcg_setseq_128_srandom_r: inc = seq << 1 | 1; state = 0; step; += init; step
                inc_hi = (sq_hi << one) | (sq_lo >> np.uint64(63))
                inc_lo = (sq_lo << one) | one
                lo = inc_lo + st_lo  # the first step from state 0 gives inc
                s_hi = inc_hi + st_hi + (one if lo < inc_lo else np.uint64(0))
                s_lo = lo
                s_hi, s_lo = _pcg_step(s_hi, s_lo, inc_hi, inc_lo)  # type: ignore[call-arg]  # an intrinsic: numba passes typingctx
                _pcg_fill(s_hi, s_lo, inc_hi, inc_lo, r, lanes)
            if draw:
                if lhs:  # mkba.sampling._lhs_column
                    # the swap partners first (a loop without stores to perm: vectorised):
                    # min(int(r[i] * (i + 1)), i), as min(r[i] * (i + 1), i) truncated (the
                    # same integer: i is one), in doubles and int32 (r[i] * (i + 1) < 2**31;
                    # AVX2 converts int32 <-> double four at a time, int64 one by one)
                    for i in range(1, n):
                        fi = float(np.int32(i))
                        y = r[i] * (fi + 1.0)
                        swap[i] = np.int32(y if y < fi else fi)
                    for i in range(n):
                        perm[i] = i
                    for i in range(n - 1, 0, -1):  # Fisher-Yates: position i is final after
                        ks = np.uint32(swap[i])  # its swap, so its stratum goes to pu[i] at
                        pu[i] = perm[ks]  # once (one store to perm fewer: perm[i] is never
                        perm[ks] = perm[i]  # read again); ks unsigned: no negative-index test
                    if n > 0:
                        pu[0] = perm[0]
                    # then clipped (mkba.sampling._clip_into) in the same pass
                    if pow2:  # (a chunk of 4,096: a multiply instead of a divide)
                        for i in range(n):
                            y = (float(pu[i]) + r[n + i]) * inv_n
                            u[i] = lo_clip if y < lo_clip else (hi_clip if y > hi_clip else y)
                    else:
                        for i in range(n):
                            y = (float(pu[i]) + r[n + i]) / n
                            u[i] = lo_clip if y < lo_clip else (hi_clip if y > hi_clip else y)
                else:
                    for i in range(n):  # clipped as mkba.sampling._clip_into
                        y = r[i]
                        u[i] = lo_clip if y < lo_clip else (hi_clip if y > hi_clip else y)
                if keep[j] >= 0:
                    kr = keep[j]
                    for i in range(n):  # (loops, not slices: slices triple the compile time)
                        ukeep[kr, i] = u[i]
            else:
                kr = keep[j]
                for i in range(n):
                    u[i] = ukeep[kr, i]
            kd = kind[j]
            if kd == KEEP:
                continue
            row = tht[rows[j]]
            sc = scale[j]
            if kd == UNIFORM:  # InverseCdf: d.min + (d.max - d.min) * u
                a = par[j, 0]
                w = par[j, 1]
                for i in range(n):
                    row[i] = (a + w * u[i]) * sc
            elif kd == TRIANGULAR:  # mkba.distributions._triangular_ppf
                a = par[j, 0]
                mode = par[j, 1]
                b = par[j, 2]
                width = b - a
                fc = (mode - a) / width
                # triangular_at's numbers in two passes: the square root's argument of the
                # branch each value takes, then one square root a value. (In one loop LLVM
                # computes both branches' square roots, two vsqrtpd per vector: sqrt bound)
                for i in range(n):
                    row[i] = triangular_radicand(u[i], a, mode, b, width, fc)
                for i in range(n):
                    row[i] = triangular_from_root(u[i], math.sqrt(row[i]), a, b, fc) * sc
            elif kd == NORMAL or kd == LOGNORMAL:  # noqa: SIM109  # (numba: no tuple `in`) ndtri
                ndtri_into(u, row, log_port)
                a = par[j, 0]
                w = par[j, 1]
                if kd == NORMAL:
                    for i in range(n):
                        row[i] = (a + w * row[i]) * sc
                elif exp_port:  # exp(mu + sigma * z) * scale: NumPy's exp is libm's here
                    for i in range(n):
                        zl[i] = a + w * row[i]
                    exp_into(zl, row, exp_port)
                    if sc != 1.0:  # (NumPy's row *= sc)
                        for i in range(n):
                            row[i] = row[i] * sc
                else:  # exp(mu + sigma * z) * scale: exp by NumPy (the caller)
                    for i in range(n):
                        row[i] = a + w * row[i]
            else:  # HERMITE: mkba.distributions._hermite_ppf
                zmax = par[j, 0]
                g0 = gidx[j, 0]
                n_int = gidx[j, 1] - 1
                h = 2.0 * zmax / n_int
                out = 0
                for i in range(n):  # the logits first (the odds, in the row until it is written,
                    row[i] = u[i] / (1.0 - u[i])  # then their logarithms), then the
                log_into(row, zl, log_port)  # interpolation: hermite_at's numbers
                # hermite_at_logit in passes over the column, so that all but the table
                # look-ups vectorise (in one loop with them LLVM kept the whole interpolation
                # scalar): the grid position (-1 outside the grid or NaN) and its interval,
                # then the four table values, then the cubic, its terms in hermite_at_logit's
                # order, NaN outside the grid, and the NaN values counted as before. (Every
                # loop runs over range(n): an index LLVM cannot prove non-negative, e.g. in
                # blocks, gets numba's wraparound test, and the loop gathers and scatters)
                for i in range(n):
                    pos = hermite_position(zl[i], n_int, h, zmax)
                    zl[i] = pos
                    hk[i] = np.int32(pos) if pos >= 0.0 else np.int32(0)  # pos < n_int
                for i in range(n):  # (an unsigned index: no negative-index test)
                    gk = np.uint64(g0 + hk[i])
                    hv[0, i] = gx[gk]
                    hv[1, i] = gs[gk]
                    hv[2, i] = gx[gk + np.uint64(1)]
                    hv[3, i] = gs[gk + np.uint64(1)]
                for i in range(n):
                    pos = zl[i]
                    v = hermite_cubic(pos - float(hk[i]), h, hv[0, i], hv[1, i], hv[2, i], hv[3, i])
                    v = v if pos >= 0.0 else np.nan
                    out += v != v  # (NaN: outside the grid, or from the table's arithmetic)
                    row[i] = v * sc
                outside[j] = out
        if samples.shape[0] > 0:  # the values over their scale: row j of ``samples`` (U x
            o = np.uint64(offs[blk])  # draws), each column's values contiguous (no
            for jj in range(n_todo):  # transposition; an unsigned index: no negative test)
                j = todo[jj]
                if kind[j] != KEEP and (kind[j] != LOGNORMAL or exp_port):
                    row = tht[rows[j]]
                    out_j = samples[j]
                    sc = scale[j]
                    if sc == 1.0:  # x / 1.0 is x, bit for bit (the transforms' arithmetic
                        for i in range(n):  # makes no signalling NaN): a copy, not divisions
                            out_j[o + np.uint64(i)] = row[i]
                    else:
                        for i in range(n):
                            out_j[o + np.uint64(i)] = row[i] / sc


@dataclass(frozen=True)
class ColumnPlan:
    """How :func:`sample_rows` treats each uncertain column of a model (see
    :meth:`mkba.distributions.InverseCdf.compiled`)."""

    kind: np.ndarray  # (U,) int64: KEEP, UNIFORM, TRIANGULAR, HERMITE, NORMAL, LOGNORMAL
    par: np.ndarray  # (U, 3) float64
    gidx: np.ndarray  # (U, 2) int64: offset and length of the column's grid in gx / gs
    gx: np.ndarray  # tabulated inverse CDF values, every grid one after the other
    gs: np.ndarray  # and their slopes dx/dz
    numpy_cols: tuple[int, ...]  # columns whose inverse CDF stays a NumPy call (kind KEEP)
    hermite_cols: tuple[int, ...]  # columns that may need the exact fallback
    needs_u: np.ndarray  # (U,) bool: either (the caller needs their uniforms afterwards)
    finish: np.ndarray  # (U,) bool: KEEP, HERMITE or LOGNORMAL (the caller finishes them)
    kinds: tuple[int, ...]  # ``kind`` as Python numbers (fill_theta's per-column loop)
    # fill_theta's layouts of a chunk (kept rows, the threads' shares), by (sampler, threads,
    # correlated columns): the same for every chunk, so worked out once
    layouts: dict[tuple[object, ...], _Layout] = field(
        default_factory=dict, compare=False, repr=False
    )


def column_plan(inverse_cdfs: tuple[InverseCdf, ...]) -> ColumnPlan:
    """The :class:`ColumnPlan` of a model's uncertain columns."""
    kinds, pars, gidx, gx, gs = [], [], [], [], []
    offset = 0
    for inv in inverse_cdfs:
        kind, par, grid = inv.compiled()
        kinds.append(kind)
        pars.append(par)
        if grid is None:
            gidx.append((0, 0))
        else:
            gidx.append((offset, grid[0].size))
            gx.append(grid[0])
            gs.append(grid[1])
            offset += grid[0].size
    kind_a = np.array(kinds, dtype=np.int64)
    return ColumnPlan(
        kind=kind_a,
        par=np.array(pars, dtype=np.float64).reshape(len(kinds), 3),
        gidx=np.array(gidx, dtype=np.int64).reshape(len(kinds), 2),
        gx=np.concatenate(gx) if gx else np.zeros(1),
        gs=np.concatenate(gs) if gs else np.zeros(1),
        numpy_cols=tuple(int(j) for j in np.flatnonzero(kind_a == KEEP)),
        hermite_cols=tuple(int(j) for j in np.flatnonzero(kind_a == HERMITE)),
        needs_u=(kind_a == KEEP) | (kind_a == HERMITE),
        finish=(kind_a == KEEP) | (kind_a == HERMITE) | (kind_a == LOGNORMAL),
        kinds=tuple(int(k) for k in kind_a),
    )


_NO_SAMPLES = np.empty((0, 0))
_AT_0 = np.zeros(1, dtype=np.int64)  # a block of one chunk's samples: from column 0
# rough cost of a column per draw, ns (reference, one thread): drawing it (LHS: 2n uniforms
# and a permutation), then by kind KEEP (a NumPy inverse CDF), UNIFORM, TRIANGULAR, HERMITE
# (a log per value), NORMAL, LOGNORMAL (ndtri, and an exp); only used to balance the
# threads' shares (measured on an AVX2 Zen 3, 4,096-draw chunks of the reference scenario,
# with glibcmath's ports; NORMAL is LOGNORMAL's ndtri without the exp)
_DRAW, _DRAW_LHS = 1.4, 4.1
_COST = np.array([20.0, 0.67, 1.19, 7.8, 5.6, 7.5])
_COPULA = 13.0  # per correlated column and draw: ndtri, the product with L, ndtr, the passes
# (12 measured alone; 16 balanced the reference's two shares by the threads' CPU time, 13
# gives the calling thread, which runs the copula's task, a little more: it then ends last
# and does not wait for the worker's result, and the worker starts ~65 us later. 2 threads,
# quiet, 8 alternated pairs: 36.0-38.1 against 35.8-40.4 ms a 100k, faster in 7 of 8)


def _split(cols: np.ndarray, cost: np.ndarray, groups: int) -> list[np.ndarray]:
    """``cols`` cut into ``groups`` runs of consecutive columns of about equal cost. Threads
    then write separate stretches of each ``samples`` row (no cache line shared column by
    column); which thread computes a column never changes its numbers."""
    if groups == 1 or cols.size < 2:
        return [cols] + [cols[:0]] * (groups - 1)
    cum = np.cumsum(cost[cols])
    target = cum[-1] * np.arange(1, groups) / groups
    idx = np.minimum(np.searchsorted(cum, target), cols.size - 1)  # the column crossing it
    before = np.where(idx > 0, cum[idx - 1], 0.0)
    cut = np.where(cum[idx] - target <= target - before, idx + 1, idx)  # the nearer edge
    return np.split(cols, cut)


_SMALL = 1 << 14  # below this many values a chunk is sampled on one thread


def fill_theta(
    plan: ColumnPlan,
    inverse_cdfs: tuple[InverseCdf, ...],
    tht: np.ndarray,
    rows: np.ndarray,
    scale: np.ndarray,
    *,
    sampler: str | None = None,
    seed: int = 0,
    chunk: int = 0,
    cols: np.ndarray | None = None,
    ut: np.ndarray | None = None,
    factor: tuple[np.ndarray, np.ndarray] | None = None,
    samples: np.ndarray | None = None,
    threads: int | None = None,
    u_cols: np.ndarray | None = None,
    u_out: np.ndarray | None = None,
    fixed: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Write the uncertain rows ``rows`` of ``tht`` (slots x n): each column's inverse CDF
    times ``scale``, of the clipped uniforms of ``sampler`` (``random``/``lhs``: column
    ``cols[j]`` of chunk ``chunk`` under ``seed``, with the Gaussian copula ``factor`` applied
    between drawing and transforming) or of the given uniforms ``ut`` (U x n). ``samples``
    (n x U), if given, receives the values before scaling as
    :func:`mkba.engine.compute_chunk` keeps them (``tht[rows[j]] / scale[j]``): written in
    place, each column's values contiguous, when ``samples.T`` is C-contiguous (an F-ordered
    array: the layout every consumer reads column by column); any other layout gets the same
    values through a column-major buffer and one copy.

    Columns go to ``threads`` threads (default :func:`mkba.sampling.sampling_threads`) in
    runs of consecutive columns of about equal cost, one task per thread (:func:`_split`);
    each column writes only its own rows, so the numbers do not depend on the thread
    count.

    The twin mode (:class:`mkba.engine.Twin`): ``u_out`` (len(u_cols) x n), if given, receives
    the uniforms the inverse CDFs of columns ``u_cols`` were applied to (clipped, and
    correlated by the copula), so that a second model sharing this chunk's uniforms can put
    them through its own inverse CDFs (this function again, with ``ut``).

    ``fixed`` (rows, values), if given: rows of ``tht`` (none of ``rows``) set to a constant
    each (:attr:`mkba.model.Model.fixed_rows`): task ``g`` of the ``groups`` tasks (one a
    thread) fills every ``groups``-th of them from the ``g``-th, beside its columns (not all
    of them before the tasks, on the calling thread)."""
    from mkba.sampling import for_each, sampling_threads

    n = tht.shape[1]
    u_count = plan.kind.size
    if u_out is not None:
        assert u_cols is not None and u_out.shape == (len(u_cols), n)
    # the sampled values column-major (U x n): samples.T itself, or a buffer copied at the end
    st: np.ndarray | None = None
    copy_back = False
    if samples is not None:
        assert samples.shape == (n, u_count)
        copy_back = not samples.T.flags.c_contiguous
        st = np.empty((u_count, n)) if copy_back else samples.T
    if ut is None:  # drawn: a block of this one chunk (the same compiled calls)
        assert cols is not None
        fill_theta_block(
            plan, inverse_cdfs, tht[None], rows, scale, sampler=str(sampler), seed=seed,
            chunks=[chunk], cols=cols, factor=factor, samples=st, offsets=[0],
            threads=threads, fixed=fixed, u_cols=u_cols,
            u_out=None if u_out is None else u_out[None],
        )  # fmt: skip
    elif u_count == 0 or n == 0:
        if fixed is not None:
            tht[fixed[0]] = fixed[1][:, None]
    else:  # the given uniforms through the inverse CDFs (the twin mode's second model)
        assert ut.shape == (u_count, n)
        cols = np.zeros(u_count, dtype=np.int64)
        keep = np.arange(u_count, dtype=np.int64)
        ukeep = np.ascontiguousarray(ut, dtype=np.float64)
        port = log_port_ok()
        eport = exp_port_ok()
        threads = sampling_threads() if threads is None else max(1, int(threads))
        groups = 1 if n * u_count < _SMALL else min(threads, u_count)
        outside = np.zeros(u_count, dtype=np.int64)
        heads = np.zeros((1, 1), dtype=np.uint64)  # a block of this one chunk
        thts, ukeeps, outs = tht[None], ukeep[None], outside[None]
        out_s = _NO_SAMPLES if st is None else st
        todo = _split(np.arange(u_count, dtype=np.int64), _COST[plan.kind], groups)
        fin = [_finish_list(plan, part) for part in todo]
        rows_l: list[int] = rows.tolist()  # (Python numbers: _finish indexes them)
        scale_l: list[float] = scale.tolist()

        def one(g: int) -> None:
            if fixed is not None:
                tht[fixed[0][g::groups]] = fixed[1][g::groups, None]
            if todo[g].size:
                sample_rows(
                    heads, cols, sampler == "lhs", False, n, todo[g], plan.kind, plan.par,
                    plan.gidx, plan.gx, plan.gs, scale, rows, thts, keep, ukeeps, out_s, _AT_0,
                    outs, port, eport,
                )  # fmt: skip
            _finish(
                fin[g], plan.kinds, scale_l, rows_l, inverse_cdfs, tht, ukeep, keep, outside,
                st, eport,
            )  # fmt: skip

        for_each(one, groups, threads=threads)
        if u_out is not None:
            u_out[:] = ukeep[keep[np.ascontiguousarray(u_cols, dtype=np.int64)]]
    if copy_back and samples is not None:
        samples.T[...] = st


def _finish(
    which: list[int],
    kind_l: tuple[int, ...],
    scale_l: list[float],
    rows_l: list[int],
    inverse_cdfs: tuple[InverseCdf, ...],
    tht: np.ndarray,
    ukeep: np.ndarray,
    keep: np.ndarray,
    outside: np.ndarray,
    st: np.ndarray | None,
    eport: bool,
) -> None:
    """What :func:`sample_rows` leaves to NumPy for one chunk: the NumPy inverse CDFs, and the
    exact values outside the Hermite grids (``which``: the columns that need it,
    ``plan.finish``), written to the chunk's rows ``tht`` and, with ``st`` (U x n, any
    strides), its sampled values over their scale."""
    for j in which:
        kd = kind_l[j]
        sc = scale_l[j]
        if kd == LOGNORMAL:  # InverseCdf: np.exp(mu + sigma * ndtri(u)), scaled
            if eport:  # (sample_rows did it: exp_port_ok)
                continue
            row = tht[rows_l[j]]
            np.exp(row, out=row)
            if sc != 1.0:  # (x * 1.0 and x / 1.0 are x, bit for bit: exp gives no
                row *= sc  # signalling NaN)
            if st is not None:
                st[j] = row if sc == 1.0 else row / sc
        elif kd == KEEP:
            row = tht[rows_l[j]]
            row[:] = inverse_cdfs[j](ukeep[keep[j]])
            row *= sc
            if st is not None:
                st[j] = row / sc
        elif outside[j]:  # as InverseCdf: the exact inverse CDF where the grid ends
            row = tht[rows_l[j]]
            mask = np.isnan(row)
            row[mask] = inverse_cdfs[j].exact_ppf(ukeep[keep[j]][mask]) * sc
            if st is not None:
                st[j, mask] = row[mask] / sc


BLOCK_BYTES = 16 << 20
"""About how much parameter-matrix memory a block of chunks of :func:`fill_theta_block` may
take (:func:`block_chunks`; the reference: 4 chunks of 4,096 draws, 3.97 MB each): a block
bounds the memory (not the whole run's matrix), and still pays the per-chunk Python and
thread hand-over once for several chunks. (Larger blocks also make a run's chunks reach
the kernel, and the streamed draws.parquet's row groups of 16,384 rows, in larger bursts:
with 6 chunks a busy machine's 1M run once spilled 21 row groups to the temporary file.)"""


def block_chunks(slots: int, n: int, limit: int | None = None) -> int:
    """How many chunks of ``n`` draws of a ``slots``-row parameter matrix make a block of
    :func:`fill_theta_block`: as many as fit in ``limit`` bytes (default
    :data:`BLOCK_BYTES`), at least one, at most 16."""
    limit = BLOCK_BYTES if limit is None else limit
    return max(1, min(16, limit // max(1, 8 * slots * n)))


def fill_theta_block(
    plan: ColumnPlan,
    inverse_cdfs: tuple[InverseCdf, ...],
    thts: np.ndarray,
    rows: np.ndarray,
    scale: np.ndarray,
    *,
    sampler: str,
    seed: int,
    chunks: list[int],
    cols: np.ndarray,
    factor: tuple[np.ndarray, np.ndarray] | None = None,
    samples: np.ndarray | None = None,
    offsets: list[int] | None = None,
    threads: int | None = None,
    fixed: tuple[np.ndarray, np.ndarray] | None = None,
    u_cols: np.ndarray | None = None,
    u_out: np.ndarray | None = None,
) -> None:
    """:func:`fill_theta` (``random``/``lhs``) of each chunk ``chunks[b]`` into ``thts[b]``
    (B x slots x n, C order; every chunk of the block has n draws), the same numbers: each
    thread samples its share of columns of every chunk of the block in one compiled call
    (:func:`sample_rows` over the block; the copula's thread makes three, and one
    :func:`copula_rows` a chunk), so the per-chunk Python, the thread hand-over and the
    worker's late start are paid once a block. Each chunk keeps its own streams, entropy head, Latin
    hypercube over its own n and copula, and its own contiguous matrix for the kernel.

    ``samples`` (U x draws, C order: the transpose of a column-major ``draws x U`` array),
    if given, receives chunk ``b``'s sampled values over their scale in its columns
    ``offsets[b] .. offsets[b] + n``. ``fixed`` (rows, values), if given: those rows of every
    ``thts[b]`` set to their constants (a caller that reuses ``thts`` for the next block
    passes it only the first time: the sampled rows are all written again). ``u_out`` (B x
    len(u_cols) x n), if given, receives each chunk's uniforms of the columns ``u_cols``, as
    :func:`fill_theta`'s twin mode."""
    from mkba.sampling import for_each, sampling_threads

    if sampler not in ("random", "lhs"):
        raise ValueError(f"sampler {sampler!r} has no independent columns")
    nb, _, n = thts.shape
    assert nb == len(chunks) and thts.flags.c_contiguous
    u_count = plan.kind.size
    if u_count == 0 or n == 0 or nb == 0:
        if fixed is not None:
            thts[:, fixed[0]] = fixed[1][None, :, None]
        return
    cols = np.ascontiguousarray(cols, dtype=np.int64)
    if cols.size and (int(cols.min()) < 0 or int(cols.max()) >= 2**32):
        raise ValueError("columns must be in [0, 2**32)")
    head_l = [entropy_head(seed, c) for c in chunks]
    if len({h.size for h in head_l}) > 1:  # (a chunk index past 2**32: a word more)
        for b, c in enumerate(chunks):
            fill_theta_block(
                plan, inverse_cdfs, thts[b : b + 1], rows, scale, sampler=sampler, seed=seed,
                chunks=[c], cols=cols, factor=factor, samples=samples,
                offsets=None if offsets is None else [offsets[b]], threads=threads,
                fixed=fixed, u_cols=u_cols, u_out=None if u_out is None else u_out[b : b + 1],
            )  # fmt: skip
        return
    heads = np.stack(head_l)
    port = log_port_ok()
    eport = exp_port_ok()
    threads = sampling_threads() if threads is None else max(1, int(threads))
    groups = 1 if n * u_count < _SMALL else min(threads, u_count)
    lhs = sampler == "lhs"
    if u_out is not None:
        assert u_cols is not None and u_out.shape == (nb, len(u_cols), n)
        u_cols = np.ascontiguousarray(u_cols, dtype=np.int64)
    lay = _layout(plan, lhs, groups, factor, u_cols if u_out is not None else None)
    keep = lay.keep
    ukeeps = np.empty((nb, lay.n_keep, n))
    outside = np.zeros((nb, u_count), dtype=np.int64)
    if samples is not None:
        assert samples.shape[0] == u_count and samples.flags.c_contiguous
        assert offsets is not None and len(offsets) == nb
        offs = np.asarray(offsets, dtype=np.int64)
        if int(offs.min()) < 0 or int(offs.max()) + n > samples.shape[1]:
            raise ValueError("the block's draws lie outside samples")
        sout = samples
    else:
        sout, offs = _NO_SAMPLES, np.zeros(nb, dtype=np.int64)
    kind_l = plan.kinds
    rows_l: list[int] = rows.tolist()
    scale_l: list[float] = scale.tolist()

    def compiled(which: np.ndarray, draw_now: bool, kind: np.ndarray) -> None:
        sample_rows(
            heads, cols, lhs, draw_now, n, which, kind, plan.par, plan.gidx, plan.gx, plan.gs,
            scale, rows, thts, keep, ukeeps, sout, offs, outside, port, eport,
        )  # fmt: skip

    def task(g: int) -> None:
        if fixed is not None:
            thts[:, fixed[0][g::groups]] = fixed[1][g::groups, None]
        part = lay.parts[g]
        copula = factor is not None and part.size > 0 and int(part[0]) == u_count
        if copula:  # fill_theta's copula task, a block at a time
            assert factor is not None
            chol = np.ascontiguousarray(factor[1], dtype=np.float64)
            compiled(lay.fcols, True, lay.only_keep)
            for b in range(nb):
                copula_rows(ukeeps[b], lay.frows, chol, port, eport)
            compiled(lay.fcols, False, plan.kind)
            part = part[1:]
        if part.size:
            compiled(part, True, plan.kind)
        which = (lay.ffin if copula else []) + lay.fin[g]
        if which:
            for b in range(nb):
                st = None if samples is None else samples[:, offs[b] : offs[b] + n]
                _finish(
                    which, kind_l, scale_l, rows_l, inverse_cdfs, thts[b], ukeeps[b], keep,
                    outside[b], st, eport,
                )  # fmt: skip

    for_each(task, groups, threads=threads)
    if u_out is not None:
        assert u_cols is not None
        u_out[:] = ukeeps[:, keep[u_cols]]


@dataclass(frozen=True)
class _Layout:
    """How :func:`fill_theta` lays out the drawn chunks of one plan, sampler, thread count
    and set of correlated columns."""

    keep: np.ndarray  # (U,) row of each column in ``ukeep`` (-1: its uniforms are not kept)
    n_keep: int
    parts: list[np.ndarray]  # the threads' shares (index U: the copula task)
    fcols: np.ndarray  # the correlated columns (empty without a copula)
    frows: np.ndarray  # and their rows in ``ukeep``
    only_keep: np.ndarray  # (U,) KEEP: drawn and kept, not transformed
    fin: list[list[int]]  # each share's columns that fill_theta's finish() completes
    ffin: list[int]  # and the correlated columns' (the copula task's first part)


def _layout(
    plan: ColumnPlan,
    lhs: bool,
    groups: int,
    factor: tuple[np.ndarray, np.ndarray] | None,
    also: np.ndarray | None = None,
) -> _Layout:
    """The plan's :class:`_Layout` for this sampler, thread count and copula (made once);
    the uniforms of columns ``also`` are kept too (:func:`fill_theta`'s ``u_cols``)."""
    fkey = None if factor is None else np.asarray(factor[0], dtype=np.int64).tobytes()
    akey = None if also is None else np.asarray(also, dtype=np.int64).tobytes()
    key = (lhs, groups, fkey, akey)
    lay = plan.layouts.get(key)
    if lay is None:
        lay = plan.layouts[key] = _make_layout(plan, lhs, groups, factor, also)
    return lay


def _make_layout(
    plan: ColumnPlan,
    lhs: bool,
    groups: int,
    factor: tuple[np.ndarray, np.ndarray] | None,
    also: np.ndarray | None = None,
) -> _Layout:
    u_count = plan.kind.size
    need = plan.needs_u.copy()
    if also is not None:
        need[np.asarray(also, dtype=np.int64)] = True
    fcols = np.zeros(0, dtype=np.int64)
    if factor is not None:
        fcols = np.ascontiguousarray(factor[0], dtype=np.int64)
        need[fcols] = True
    keep = np.full(u_count, -1, dtype=np.int64)
    keep[need] = np.arange(int(need.sum()))
    cost = _COST[plan.kind] + (_DRAW_LHS if lhs else _DRAW)
    if factor is None:
        parts = _split(np.arange(u_count, dtype=np.int64), cost, groups)
    else:
        rest_mask = np.ones(u_count, dtype=bool)
        rest_mask[fcols] = False
        items = np.concatenate([[u_count], np.flatnonzero(rest_mask)]).astype(np.int64)
        pipeline_cost = _COPULA * fcols.size + float(cost[fcols].sum())
        parts = _split(items, np.append(cost, pipeline_cost), groups)
    return _Layout(
        keep=keep,
        n_keep=int(need.sum()),
        parts=parts,
        fcols=fcols,
        frows=keep[fcols],
        only_keep=np.full(u_count, KEEP, dtype=np.int64),
        fin=[_finish_list(plan, part[part < u_count]) for part in parts],
        ffin=_finish_list(plan, fcols),
    )


def _finish_list(plan: ColumnPlan, cols: np.ndarray) -> list[int]:
    """The columns of ``cols`` that :func:`fill_theta` finishes in NumPy (``plan.finish``)."""
    return [int(j) for j in cols[plan.finish[cols]]]


def uniform_rows(
    sampler: str,
    n: int,
    cols: np.ndarray,
    *,
    seed: int,
    chunk: int,
    threads: int | None = None,
) -> np.ndarray:
    """(len(cols), n): the clipped uniforms of registry columns ``cols`` of one ``random`` or
    ``lhs`` chunk, row ``k`` the stream of ``cols[k]`` (:func:`mkba.sampling.uniform_column`'s
    numbers), drawn on ``threads`` threads."""
    from mkba.sampling import for_each, sampling_threads

    if sampler not in ("random", "lhs"):
        raise ValueError(f"sampler {sampler!r} has no independent columns")
    cols = np.ascontiguousarray(cols, dtype=np.int64)
    k = cols.size
    out = np.empty((k, n))
    if k == 0 or n == 0:
        return out
    if int(cols.min()) < 0 or int(cols.max()) >= 2**32:
        raise ValueError("columns must be in [0, 2**32)")
    head = entropy_head(seed, chunk)
    threads = sampling_threads() if threads is None else max(1, int(threads))
    groups = 1 if n * k < _SMALL else min(threads, k)
    idx = np.arange(k, dtype=np.int64)
    parts = _split(idx, np.ones(k), groups)
    zeros = np.zeros(k, dtype=np.int64)
    par, gidx, none = np.zeros((k, 3)), np.zeros((k, 2), dtype=np.int64), np.zeros(1)

    def one(g: int) -> None:
        if parts[g].size:
            sample_rows(
                head[None], cols, sampler == "lhs", True, n, parts[g], zeros, par, gidx, none,
                none, np.ones(k), zeros, np.empty((1, 1, n)), idx, out[None], _NO_SAMPLES,
                _AT_0, zeros.copy()[None], False, False,
            )  # fmt: skip

    for_each(one, groups, threads=threads)
    return out
