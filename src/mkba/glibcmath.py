"""Vectorisable, bit-exact ports of glibc's ``log`` and ``exp`` (the ``__log_fma`` and
``__exp_fma`` variants).

Numba's ``math.log`` / ``math.exp`` are calls to the C library; on Linux with glibc >= 2.28 on
an x86-64 with FMA and AVX2 the ifuncs pick ``__log_fma`` and ``__exp_fma``: glibc's
``sysdeps/ieee754/dbl-64/e_log.c`` and ``e_exp.c`` (the ARM optimized-routines algorithms:
for ``log`` a 128-entry table of ``1/c`` and ``log(c)``, a degree-5 polynomial and a
degree-11 one for inputs within about 1/16 of 1; for ``exp`` a 128-entry table of ``2^(i/N)``
and a degree-5 polynomial) compiled with ``-mfma``, where GCC contracted some multiply-adds
into FMAs. A call costs ~5 ns here and no loop around it vectorises. On such a machine
without AVX-512, NumPy's float64 ``np.log`` / ``np.exp`` are the same libm calls.
:func:`log_into` and :func:`exp_into` compute the same functions with the same operations in
the same order, each FMA where the binary has one (read from ``objdump -d`` of Debian's glibc
2.36 libm.so.6; the tables and coefficients are the bytes of its ``__log_data`` /
``__exp_data``, which are glibc's ``e_log_data.c`` / ``e_exp_data.c``), so that LLVM
vectorises them.

Only the inputs of the main paths are computed so; the others (zero, subnormals, negatives,
infinities, NaN; for ``exp`` also ``|x| < 2**-54`` and ``|x| >= 512``) go to libm itself in a
second pass. Whether a port may be used at all is decided once per process
(:func:`log_port_ok`, :func:`exp_port_ok`): an x86-64 with FMA and AVX2, the glibc version the
ports were read from, and known answers of that libm (``_LOG_KAT``, ``_EXP_KAT``) checked
against this process's libm (and for ``exp`` NumPy). If any of these
fails, the callers use libm (the same bits, the old speed), so a result never depends on a
port being right on another machine. tests/test_glibcmath.py compares the ports with libm on
millions of inputs; the session that added them (i27-log, its report and
benchmarks/README.md) compared 4 * 10**9 (``log``) and 3 * 10**9 (``exp``).
"""

from __future__ import annotations

import functools
import importlib
import math
import os
import platform
from typing import Any

import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]  # llvmlite ships no type information
from numba import njit, types
from numba.extending import intrinsic

# the glibc versions whose __log_fma / __exp_fma the ports were compared with, value for value
GLIBC_VERSIONS = ("2.36",)

# __log_data (glibc sysdeps/ieee754/dbl-64/e_log_data.c, LOG_TABLE_BITS = 7)
_LN2HI = float.fromhex("0x1.62e42fefa3800p-1")
_LN2LO = float.fromhex("0x1.ef35793c76730p-45")
# poly: log1p(r) - r ~ A0 r^2 + ... + A4 r^6
_A0 = float.fromhex("-0x1.0000000000001p-1")
_A1 = float.fromhex("0x1.555555551305bp-2")
_A2 = float.fromhex("-0x1.fffffffeb4590p-3")
_A3 = float.fromhex("0x1.999b324f10111p-3")
_A4 = float.fromhex("-0x1.55575e506c89fp-3")
# poly1: log1p(r) - r ~ B0 r^2 + ... + B10 r^12, for 1 - 2**-4 <= x < 1 + 0x1.09p-4
_B0 = float.fromhex("-0x1.0000000000000p-1")
_B1 = float.fromhex("0x1.5555555555577p-2")
_B2 = float.fromhex("-0x1.ffffffffffdcbp-3")
_B3 = float.fromhex("0x1.999999995dd0cp-3")
_B4 = float.fromhex("-0x1.55555556745a7p-3")
_B5 = float.fromhex("0x1.24924a344de30p-3")
_B6 = float.fromhex("-0x1.fffffa4423d65p-4")
_B7 = float.fromhex("0x1.c7184282ad6cap-4")
_B8 = float.fromhex("-0x1.999eb43b068ffp-4")
_B9 = float.fromhex("0x1.78182f7afd085p-4")
_B10 = float.fromhex("-0x1.5521375d145cdp-4")
_TWO27 = 134217728.0  # 0x1p27
# tab[i].invc and tab[i].logc, i = 0 .. 127 (e_log_data.c's values, the bytes in libm)
# fmt: off
_INVC_HEX = (
    "0x1.734f0c3e0de9fp+0", "0x1.713786a2ce91fp+0", "0x1.6f26008fab5a0p+0",
    "0x1.6d1a61f138c7dp+0", "0x1.6b1490bc5b4d1p+0", "0x1.69147332f0cbap+0",
    "0x1.6719f18224223p+0", "0x1.6524f99a51ed9p+0", "0x1.63356aa8f24c4p+0",
    "0x1.614b36b9ddc14p+0", "0x1.5f66452c65c4cp+0", "0x1.5d867b5912c4fp+0",
    "0x1.5babccb5b90dep+0", "0x1.59d61f2d91a78p+0", "0x1.5805612465687p+0",
    "0x1.56397cee76bd3p+0", "0x1.54725e2a77f93p+0", "0x1.52aff42064583p+0",
    "0x1.50f22dbb2bddfp+0", "0x1.4f38f4734ded7p+0", "0x1.4d843cfde2840p+0",
    "0x1.4bd3ec078a3c8p+0", "0x1.4a27fc3e0258ap+0", "0x1.4880524d48434p+0",
    "0x1.46dce1b192d0bp+0", "0x1.453d9d3391854p+0", "0x1.43a2744b4845ap+0",
    "0x1.420b54115f8fbp+0", "0x1.40782da3ef4b1p+0", "0x1.3ee8f5d57fe8fp+0",
    "0x1.3d5d9a00b4ce9p+0", "0x1.3bd60c010c12bp+0", "0x1.3a5242b75dab8p+0",
    "0x1.38d22cd9fd002p+0", "0x1.3755bc5847a1cp+0", "0x1.35dce49ad36e2p+0",
    "0x1.34679984dd440p+0", "0x1.32f5cceffcb24p+0", "0x1.3187775a10d49p+0",
    "0x1.301c8373e3990p+0", "0x1.2eb4ebb95f841p+0", "0x1.2d50a0219a9d1p+0",
    "0x1.2bef9a8b7fd2ap+0", "0x1.2a91c7a0c1babp+0", "0x1.293726014b530p+0",
    "0x1.27dfa5757a1f5p+0", "0x1.268b39b1d3bbfp+0", "0x1.2539d838ff5bdp+0",
    "0x1.23eb7aac9083bp+0", "0x1.22a012ba940b6p+0", "0x1.2157996cc4132p+0",
    "0x1.201201dd2fc9bp+0", "0x1.1ecf4494d480bp+0", "0x1.1d8f5528f6569p+0",
    "0x1.1c52311577e7cp+0", "0x1.1b17c74cb26e9p+0", "0x1.19e010c2c1ab6p+0",
    "0x1.18ab07bb670bdp+0", "0x1.1778a25efbcb6p+0", "0x1.1648d354c31dap+0",
    "0x1.151b990275fddp+0", "0x1.13f0ea432d24cp+0", "0x1.12c8b7210f9dap+0",
    "0x1.11a3028ecb531p+0", "0x1.107fbda8434afp+0", "0x1.0f5ee0f4e6bb3p+0",
    "0x1.0e4065d2a9fcep+0", "0x1.0d244632ca521p+0", "0x1.0c0a77ce2981ap+0",
    "0x1.0af2f83c636d1p+0", "0x1.09ddb98a01339p+0", "0x1.08cabaf52e7dfp+0",
    "0x1.07b9f2f4e28fbp+0", "0x1.06ab58c358f19p+0", "0x1.059eea5ecf92cp+0",
    "0x1.04949cdd12c90p+0", "0x1.038c6c6f0ada9p+0", "0x1.02865137932a9p+0",
    "0x1.0182427ea7348p+0", "0x1.008040614b195p+0", "0x1.fe01ff726fa1ap-1",
    "0x1.fa11cc261ea74p-1", "0x1.f6310b081992ep-1", "0x1.f25f63ceeadcdp-1",
    "0x1.ee9c8039113e7p-1", "0x1.eae8078cbb1abp-1", "0x1.e741aa29d0c9bp-1",
    "0x1.e3a91830a99b5p-1", "0x1.e01e009609a56p-1", "0x1.dca01e577bb98p-1",
    "0x1.d92f20b7c9103p-1", "0x1.d5cac66fb5ccep-1", "0x1.d272caa5ede9dp-1",
    "0x1.cf26e3e6b2ccdp-1", "0x1.cbe6da2a77902p-1", "0x1.c8b266d37086dp-1",
    "0x1.c5894bd5d5804p-1", "0x1.c26b533bb9f8cp-1", "0x1.bf583eeece73fp-1",
    "0x1.bc4fd75db96c1p-1", "0x1.b951e0c864a28p-1", "0x1.b65e2c5ef3e2cp-1",
    "0x1.b374867c9888bp-1", "0x1.b094b211d304ap-1", "0x1.adbe885f2ef7ep-1",
    "0x1.aaf1d31603da2p-1", "0x1.a82e63fd358a7p-1", "0x1.a5740ef09738bp-1",
    "0x1.a2c2a90ab4b27p-1", "0x1.a01a01393f2d1p-1", "0x1.9d79f24db3c1bp-1",
    "0x1.9ae2505c7b190p-1", "0x1.9852ef297ce2fp-1", "0x1.95cbaeea44b75p-1",
    "0x1.934c69de74838p-1", "0x1.90d4f2f6752e6p-1", "0x1.8e6528effd79dp-1",
    "0x1.8bfce9fcc007cp-1", "0x1.899c0dabec30ep-1", "0x1.87427aa2317fbp-1",
    "0x1.84f00acb39a08p-1", "0x1.82a49e8653e55p-1", "0x1.8060195f40260p-1",
    "0x1.7e22563e0a329p-1", "0x1.7beb377dcb5adp-1", "0x1.79baa679725c2p-1",
    "0x1.77907f2170657p-1", "0x1.756cadbd6130cp-1",
)
_LOGC_HEX = (
    "-0x1.7cc7f79e69000p-2", "-0x1.76feec20d0000p-2", "-0x1.713e31351e000p-2",
    "-0x1.6b85b38287800p-2", "-0x1.65d5590807800p-2", "-0x1.602d076180000p-2",
    "-0x1.5a8ca86909000p-2", "-0x1.54f4356035000p-2", "-0x1.4f637c36b4000p-2",
    "-0x1.49da7fda85000p-2", "-0x1.445923989a800p-2", "-0x1.3edf439b0b800p-2",
    "-0x1.396ce448f7000p-2", "-0x1.3401e17bda000p-2", "-0x1.2e9e2ef468000p-2",
    "-0x1.2941b3830e000p-2", "-0x1.23ec58cda8800p-2", "-0x1.1e9e129279000p-2",
    "-0x1.1956d2b48f800p-2", "-0x1.141679ab9f800p-2", "-0x1.0edd094ef9800p-2",
    "-0x1.09aa518db1000p-2", "-0x1.047e65263b800p-2", "-0x1.feb224586f000p-3",
    "-0x1.f474a7517b000p-3", "-0x1.ea4443d103000p-3", "-0x1.e020d44e9b000p-3",
    "-0x1.d60a22977f000p-3", "-0x1.cc00104959000p-3", "-0x1.c202956891000p-3",
    "-0x1.b81178d811000p-3", "-0x1.ae2c9ccd3d000p-3", "-0x1.a45402e129000p-3",
    "-0x1.9a877681df000p-3", "-0x1.90c6d69483000p-3", "-0x1.87120a645c000p-3",
    "-0x1.7d68fb4143000p-3", "-0x1.73cb83c627000p-3", "-0x1.6a39a9b376000p-3",
    "-0x1.60b3154b7a000p-3", "-0x1.5737d76243000p-3", "-0x1.4dc7b8fc23000p-3",
    "-0x1.4462c51d20000p-3", "-0x1.3b08abc830000p-3", "-0x1.31b996b490000p-3",
    "-0x1.2875490a44000p-3", "-0x1.1f3b9f879a000p-3", "-0x1.160c8252ca000p-3",
    "-0x1.0ce7f57f72000p-3", "-0x1.03cdc49fea000p-3", "-0x1.f57bdbc4b8000p-4",
    "-0x1.e370896404000p-4", "-0x1.d17983ef94000p-4", "-0x1.bf9674ed8a000p-4",
    "-0x1.adc79202f6000p-4", "-0x1.9c0c3e7288000p-4", "-0x1.8a646b372c000p-4",
    "-0x1.78d01b3ac0000p-4", "-0x1.674f145380000p-4", "-0x1.55e0e6d878000p-4",
    "-0x1.4485cdea1e000p-4", "-0x1.333d94d6aa000p-4", "-0x1.22079f8c56000p-4",
    "-0x1.10e4698622000p-4", "-0x1.ffa6c6ad20000p-5", "-0x1.dda8d4a774000p-5",
    "-0x1.bbcece4850000p-5", "-0x1.9a1894012c000p-5", "-0x1.788583302c000p-5",
    "-0x1.5715e67d68000p-5", "-0x1.35c8a49658000p-5", "-0x1.149e364154000p-5",
    "-0x1.e72c082eb8000p-6", "-0x1.a55f152528000p-6", "-0x1.63d62cf818000p-6",
    "-0x1.228fb8caa0000p-6", "-0x1.c317b20f90000p-7", "-0x1.419355daa0000p-7",
    "-0x1.81203c2ec0000p-8", "-0x1.0040979240000p-9", "0x1.feff384900000p-9",
    "0x1.7dc41353d0000p-7", "0x1.3cea3c4c28000p-6", "0x1.b9fc114890000p-6",
    "0x1.1b0d8ce110000p-5", "0x1.58a5bd001c000p-5", "0x1.95c8340d88000p-5",
    "0x1.d276aef578000p-5", "0x1.07598e598c000p-4", "0x1.253f5e30d2000p-4",
    "0x1.42edd8b380000p-4", "0x1.606598757c000p-4", "0x1.7da76356a0000p-4",
    "0x1.9ab434e1c6000p-4", "0x1.b78c7bb0d6000p-4", "0x1.d431332e72000p-4",
    "0x1.f0a3171de6000p-4", "0x1.067152b914000p-3", "0x1.147858292b000p-3",
    "0x1.2266ecdca3000p-3", "0x1.303d7a6c55000p-3", "0x1.3dfc33c331000p-3",
    "0x1.4ba366b7a8000p-3", "0x1.5933928d1f000p-3", "0x1.66acd2418f000p-3",
    "0x1.740f8ec669000p-3", "0x1.815c0f51af000p-3", "0x1.8e92954f68000p-3",
    "0x1.9bb3602f84000p-3", "0x1.a8bed1c2c0000p-3", "0x1.b5b515c01d000p-3",
    "0x1.c2967ccbcc000p-3", "0x1.cf635d5486000p-3", "0x1.dc1bd3446c000p-3",
    "0x1.e8c01b8cfe000p-3", "0x1.f5509c0179000p-3", "0x1.00e6c121fb800p-2",
    "0x1.071b80e93d000p-2", "0x1.0d46b9e867000p-2", "0x1.13687334bd000p-2",
    "0x1.1980d67234800p-2", "0x1.1f8ffe0cc8000p-2", "0x1.2595fd7636800p-2",
    "0x1.2b9300914a800p-2", "0x1.3187210436000p-2", "0x1.377266dec1800p-2",
    "0x1.3d54ffbaf3000p-2", "0x1.432eee32fe000p-2",
)
# fmt: on
_INVC = np.array([float.fromhex(h) for h in _INVC_HEX])  # tab[i].invc
_LOGC = np.array([float.fromhex(h) for h in _LOGC_HEX])  # tab[i].logc

# bit patterns (uint64: numba turns uint64 (op) int64 into float64)
_OFF = np.uint64(0x3FE6000000000000)
_NEAR_LO = np.uint64(0x3FEE000000000000)  # asuint64(1.0 - 0x1p-4)
_NEAR_SPAN = np.uint64(0x3FF1090000000000 - 0x3FEE000000000000)  # HI - LO
_EXP_MASK = np.uint64(0xFFF0000000000000)


@intrinsic
def _fma(typingctx, a, b, c):  # type: ignore[no-untyped-def]  # numba intrinsic: typed by its signature below
    """``a * b + c`` rounded once (LLVM's ``llvm.fma.f64``: ``vfmadd`` with FMA; LLVM
    vectorises it)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]  # llvmlite IR builder callback
        d = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [d], ir.FunctionType(d, [d, d, d]))
        return builder.call(fn, args)

    return sig, codegen


@intrinsic
def _bits_of(typingctx, x):  # type: ignore[no-untyped-def]  # numba intrinsic: typed by its signature below
    """The IEEE bits of a double (``asuint64``)."""
    sig = types.uint64(types.float64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]  # llvmlite IR builder callback
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def _double_of(typingctx, u):  # type: ignore[no-untyped-def]  # numba intrinsic: typed by its signature below
    """The double of IEEE bits (``asdouble``)."""
    sig = types.float64(types.uint64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]  # llvmlite IR builder callback
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def _noinline_intrinsic(typingctx):  # type: ignore[no-untyped-def]  # numba intrinsic: typed by its signature below
    """Marks the compiled function that calls it ``noinline`` for LLVM. Numba links a callee's
    code into each caller's module and optimises the whole again: without this, every call
    site of :func:`log_into` / :func:`exp_into` would get its own copy of the vector loops,
    compiled again (seconds of a cold first run's compile)."""
    sig = types.none()

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]  # llvmlite IR builder callback
        builder.function.attributes.add("noinline")
        return context.get_dummy_value()

    return sig, codegen


# the intrinsics as the compiled code calls them (numba passes ``typingctx`` itself; typed
# Any, so that mypy does not count their arguments)
fma: Any = _fma
_bits: Any = _bits_of
_double: Any = _double_of
_noinline: Any = _noinline_intrinsic


@njit(cache=True, nogil=True, inline="always")
def log_special(x):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """Whether :func:`log_fast` does not hold for ``x``: zero, subnormal, negative, infinite
    or NaN (glibc's ``top - 0x0010 >= 0x7ff0 - 0x0010``; the near-1 inputs are never so)."""
    return ((_bits(x) >> np.uint64(48)) - np.uint64(0x10)) >= np.uint64(0x7FE0)


@njit(cache=True, nogil=True, inline="always")
def log_near(x):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """glibc ``__log_fma(x)``'s path for ``1 - 2**-4 <= x < 1 + 0x1.09p-4`` (:func:`is_near`,
    not 1 itself), operation for operation (the comments give the C source's expression a
    line computes)."""
    r = x - 1.0
    r2 = r * r
    r3 = r * r2
    q1 = fma(r2, _B3, fma(r, _B2, _B1))
    q2 = fma(r2, _B6, fma(r, _B5, _B4))
    q3 = fma(r3, _B10, fma(r2, _B9, fma(r, _B8, _B7)))
    p = fma(fma(q3, r3, q2), r3, q1)  # the B1.. polynomial in r over r^3
    rhi = fma(-_TWO27, r, fma(r, _TWO27, r))  # r + w - w, w = r * 2**27: vfmadd, vfnmadd
    rlo = r - rhi
    rr = rhi * rhi
    hi = fma(rr, _B0, r)  # r + rhi * rhi * B0
    lo = fma(rr, _B0, r - hi)  # r - hi + w
    lo = fma(_B0 * rlo, r + rhi, lo)
    return hi + fma(p, r3, lo)


@njit(cache=True, nogil=True, inline="always")
def log_main(x):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """glibc ``__log_fma(x)``'s main path, for a positive normal finite ``x`` neither
    :func:`is_near` nor :func:`log_special`: ``x = 2^k z``, ``z`` in ``[OFF, 2 OFF)``,
    ``r = z / c - 1`` with ``c`` the table's centre near ``z``, ``log(x) = k ln 2 + log(c) +
    log1p(r)``."""
    ix = _bits(x)
    tmp = ix - _OFF
    i = (tmp >> np.uint64(45)) & np.uint64(0x7F)
    k = np.int32(np.uint32(tmp >> np.uint64(32))) >> np.int32(20)  # (int64) tmp >> 52
    z = _double(ix - (tmp & _EXP_MASK))
    r = fma(z, _INVC[i], -1.0)
    kd = float(k)
    w = fma(kd, _LN2HI, _LOGC[i])  # kd * Ln2hi + logc
    hi = r + w
    lo = fma(kd, _LN2LO, (w - hi) + r)  # w - hi + r + kd * Ln2lo
    r2 = r * r
    p = fma(fma(r, _A4, _A3), r2, fma(r, _A2, _A1))
    return fma(r * r2, p, fma(r2, _A0, lo)) + hi


@njit(cache=True, nogil=True, inline="always")
def is_near(x):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """``1 - 2**-4 <= x < 1 + 0x1.09p-4`` as glibc tests it (unsigned ``ix - LO < HI - LO``)."""
    return (_bits(x) - _NEAR_LO) < _NEAR_SPAN


@njit(cache=True, nogil=True, inline="always")
def log_fast(x):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """glibc ``__log_fma(x)``'s bits for a positive normal finite ``x`` (anything else:
    :func:`log_special`): both paths computed and one selected, with no branch or call, so
    that loops over values vectorise."""
    y_near = log_near(x)  # (both computed, then one selected: no branch in the loop)
    y_main = log_main(x)
    y = y_near if is_near(x) else y_main
    return 0.0 if x == 1.0 else y  # (+0 at 1, as glibc)


@njit(cache=True, nogil=True)
def log_into(src, dst, port):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """``dst[i] = math.log(src[i])`` for 1-d float64 arrays: by the port (both of glibc's
    paths, one selected a value) in a loop that vectorises, then ``math.log`` for the
    special values (read from ``src`` again), when ``port`` (:func:`log_port_ok`); else
    ``math.log`` for every value. ``dst`` should not share memory with ``src`` (in place it
    takes ``math.log`` for every value)."""
    _noinline()
    n = src.shape[0]
    if not port or (n > 0 and src.ctypes.data == dst.ctypes.data):
        for i in range(n):
            dst[i] = math.log(src[i])
        return
    bad = 0
    for i in range(n):
        x = src[i]
        bad += log_special(x)
        dst[i] = log_fast(x)
    if bad:  # (zero, subnormal or not finite)
        for i in range(n):
            x = src[i]
            if log_special(x):
                dst[i] = math.log(x)


# __exp_data (glibc sysdeps/ieee754/dbl-64/e_exp_data.c, EXP_TABLE_BITS = 7, N = 128)
_INVLN2N = float.fromhex("0x1.71547652b82fep+7")  # N / ln 2
_NEGLN2HIN = float.fromhex("-0x1.62e42fefa0000p-8")
_NEGLN2LON = float.fromhex("-0x1.cf79abc9e3b3ap-47")
_C2 = float.fromhex("0x1.ffffffffffdbdp-2")
_C3 = float.fromhex("0x1.555555555543cp-3")
_C4 = float.fromhex("0x1.55555cf172b91p-5")
_C5 = float.fromhex("0x1.1111167a4d017p-7")
_SHIFT = float.fromhex("0x1.8p52")
# tab[2 i] (the tail of 2^(i/N), a double) and tab[2 i + 1] (the bits of 2^(i/N) less i << 45)
# fmt: off
_EXP_TAIL_HEX = (
    "0x0.0p+0", "0x1.b3b4f1a88bf6ep-54", "-0x1.160139cd8dc5dp-56",
    "-0x1.05e7a108766d1p-54", "0x1.cd2523567f613p-55", "-0x1.bce8023f98efap-55",
    "0x1.0f74e61e6c861p-57", "0x1.0a3e45b33d399p-54", "0x1.79aa65d837b6dp-54",
    "0x1.eb51a92fdeffcp-55", "0x1.ebe3d702f9cd1p-60", "-0x1.a033489906e0bp-57",
    "-0x1.556522a2fbd0ep-54", "-0x1.080ef8c4eea55p-58", "-0x1.1c923b9d5f416p-54",
    "0x1.0d3e3e95c55afp-55", "-0x1.01b15eaa59348p-55", "-0x1.f1ff055de323dp-55",
    "0x1.b898c3f1353bfp-55", "-0x1.6d99c7611eb26p-54", "0x1.aecf73e3a2f60p-54",
    "-0x1.fe782cb86389dp-55", "0x1.a6f4144a6c38dp-55", "0x1.07a05b0e4047dp-55",
    "0x1.68efde3a8a894p-54", "0x1.75e18f274487dp-55", "0x1.0472b981fe7f2p-55",
    "-0x1.6b87b3f71085ep-54", "0x1.2f7e16d09ab31p-55", "-0x1.d219b1a6fbffap-60",
    "0x1.b3782720c0ab4p-55", "0x1.e149289cecb8fp-57", "0x1.34d754db0abb6p-55",
    "0x1.64201e2ac744cp-55", "0x1.fdd395dd3f84ap-55", "-0x1.6a3803b8e5b04p-55",
    "-0x1.24aedcc4b5068p-54", "-0x1.907f81b512d8ep-54", "-0x1.1d1e83e9436d2p-56",
    "-0x1.91919b3ce1b15p-54", "0x1.59f48a72a4c6dp-55", "-0x1.312607a28698ap-54",
    "-0x1.8a78f4817895bp-58", "-0x1.c2c9b67499a1bp-56", "0x1.363ed60c2ac11p-59",
    "0x1.666093b0664efp-54", "0x1.ecce1daa10379p-57", "0x1.3ff8e3f0f1230p-54",
    "0x1.690cebb7aafb0p-56", "0x1.31dbdeb54e077p-54", "-0x1.f94340071a38ep-55",
    "-0x1.7deccdc93a349p-55", "-0x1.8dec6bd0f385fp-56", "-0x1.61246ec7b5cf6p-55",
    "0x1.3350518fdd78ep-54", "0x1.b98b72f8a9b05p-56", "0x1.063e1e21c5409p-54",
    "0x1.4c7855019c6eap-60", "0x1.432e62b64c035p-54", "-0x1.ce44a6199769fp-55",
    "-0x1.c33c53bef4da8p-55", "-0x1.45378892be9aep-55", "-0x1.3cedd78565858p-54",
    "0x1.710aa807e1964p-58", "-0x1.3b3efbf5e2228p-54", "-0x1.a12ad8734b982p-57",
    "-0x1.367efb86da9eep-57", "-0x1.0dc3d54e08851p-55", "-0x1.81f647e5a3ecfp-56",
    "-0x1.6ee4ac08b7db0p-55", "-0x1.619321e55e68ap-55", "0x1.09ccb5e09d4d3p-54",
    "-0x1.b32dcb94da51dp-56", "0x1.4ecfd5467c06bp-54", "0x1.5ebe1abd66c55p-57",
    "-0x1.8a1c52fb3cf42p-55", "-0x1.369b6f13b3734p-54", "-0x1.05e843a19ff1ep-55",
    "-0x1.4d450d872576ep-54", "0x1.0ad675b0e8a00p-54", "0x1.db72fc1f0eab4p-55",
    "-0x1.5b6609cc5e7ffp-57", "0x1.bf68359f35f44p-56", "-0x1.3091fa71e3d83p-54",
    "-0x1.da9b88b6c1e29p-58", "-0x1.c23f97c90b959p-57", "-0x1.2434322f4f9aap-54",
    "-0x1.5ca6cd7668e4bp-55", "0x1.1affc2b91ce27p-56", "0x1.dd235e10a73bbp-57",
    "-0x1.7c50422622263p-55", "0x1.b1c86e3e231d5p-55", "-0x1.1bbd1d3bcbb15p-54",
    "0x1.0cc319cee31d2p-54", "0x1.469846e735ab3p-55", "-0x1.2dfcd978e9db4p-55",
    "0x1.c1a7792cb3387p-55", "-0x1.07b8f4ad1d9fap-54", "-0x1.5c3d956dcaebap-58",
    "-0x1.0a40e3da6f640p-54", "-0x1.8d6f438ad9334p-57", "-0x1.1eee26b588a35p-54",
    "0x1.4ffd70a5fddcdp-56", "-0x1.1bdfbfa9298acp-54", "0x1.36eae30af0cb3p-56",
    "0x1.ee3325c9ffd94p-55", "0x1.4e08fd10959acp-55", "0x1.3cdaf384e1a67p-57",
    "0x1.76b2c6c921968p-57", "-0x1.08a1883ccb5d2p-55", "-0x1.fad5d3ffffa6fp-55",
    "-0x1.00dae3875a949p-54", "0x1.4a385a63d07a7p-56", "-0x1.2919e2040220fp-55",
    "0x1.e5a50d5c192acp-55", "0x1.43a59ac016b4bp-55", "-0x1.2d52107b43e1fp-55",
    "-0x1.92ab93b470dc9p-55", "0x1.4b604603a88d3p-56", "0x1.3c5ec519d7271p-55",
    "-0x1.ff7128fd391f0p-55", "-0x1.dae98e223747dp-55", "0x1.ec3bc41aa2008p-55",
    "0x1.42b94c3a9eb32p-55", "0x1.a64a931d185eep-55", "-0x1.e37bae43be3edp-55",
    "0x1.7893b4d91cd9dp-56", "0x1.305c14160cc89p-58",
)
_EXP_SBITS = np.array([
    0x3FF0000000000000, 0x3FEFF63DA9FB3335, 0x3FEFEC9A3E778061, 0x3FEFE315E86E7F85,
    0x3FEFD9B0D3158574, 0x3FEFD06B29DDF6DE, 0x3FEFC74518759BC8, 0x3FEFBE3ECAC6F383,
    0x3FEFB5586CF9890F, 0x3FEFAC922B7247F7, 0x3FEFA3EC32D3D1A2, 0x3FEF9B66AFFED31B,
    0x3FEF9301D0125B51, 0x3FEF8ABDC06C31CC, 0x3FEF829AAEA92DE0, 0x3FEF7A98C8A58E51,
    0x3FEF72B83C7D517B, 0x3FEF6AF9388C8DEA, 0x3FEF635BEB6FCB75, 0x3FEF5BE084045CD4,
    0x3FEF54873168B9AA, 0x3FEF4D5022FCD91D, 0x3FEF463B88628CD6, 0x3FEF3F49917DDC96,
    0x3FEF387A6E756238, 0x3FEF31CE4FB2A63F, 0x3FEF2B4565E27CDD, 0x3FEF24DFE1F56381,
    0x3FEF1E9DF51FDEE1, 0x3FEF187FD0DAD990, 0x3FEF1285A6E4030B, 0x3FEF0CAFA93E2F56,
    0x3FEF06FE0A31B715, 0x3FEF0170FC4CD831, 0x3FEEFC08B26416FF, 0x3FEEF6C55F929FF1,
    0x3FEEF1A7373AA9CB, 0x3FEEECAE6D05D866, 0x3FEEE7DB34E59FF7, 0x3FEEE32DC313A8E5,
    0x3FEEDEA64C123422, 0x3FEEDA4504AC801C, 0x3FEED60A21F72E2A, 0x3FEED1F5D950A897,
    0x3FEECE086061892D, 0x3FEECA41ED1D0057, 0x3FEEC6A2B5C13CD0, 0x3FEEC32AF0D7D3DE,
    0x3FEEBFDAD5362A27, 0x3FEEBCB299FDDD0D, 0x3FEEB9B2769D2CA7, 0x3FEEB6DAA2CF6642,
    0x3FEEB42B569D4F82, 0x3FEEB1A4CA5D920F, 0x3FEEAF4736B527DA, 0x3FEEAD12D497C7FD,
    0x3FEEAB07DD485429, 0x3FEEA9268A5946B7, 0x3FEEA76F15AD2148, 0x3FEEA5E1B976DC09,
    0x3FEEA47EB03A5585, 0x3FEEA34634CCC320, 0x3FEEA23882552225, 0x3FEEA155D44CA973,
    0x3FEEA09E667F3BCD, 0x3FEEA012750BDABF, 0x3FEE9FB23C651A2F, 0x3FEE9F7DF9519484,
    0x3FEE9F75E8EC5F74, 0x3FEE9F9A48A58174, 0x3FEE9FEB564267C9, 0x3FEEA0694FDE5D3F,
    0x3FEEA11473EB0187, 0x3FEEA1ED0130C132, 0x3FEEA2F336CF4E62, 0x3FEEA427543E1A12,
    0x3FEEA589994CCE13, 0x3FEEA71A4623C7AD, 0x3FEEA8D99B4492ED, 0x3FEEAAC7D98A6699,
    0x3FEEACE5422AA0DB, 0x3FEEAF3216B5448C, 0x3FEEB1AE99157736, 0x3FEEB45B0B91FFC6,
    0x3FEEB737B0CDC5E5, 0x3FEEBA44CBC8520F, 0x3FEEBD829FDE4E50, 0x3FEEC0F170CA07BA,
    0x3FEEC49182A3F090, 0x3FEEC86319E32323, 0x3FEECC667B5DE565, 0x3FEED09BEC4A2D33,
    0x3FEED503B23E255D, 0x3FEED99E1330B358, 0x3FEEDE6B5579FDBF, 0x3FEEE36BBFD3F37A,
    0x3FEEE89F995AD3AD, 0x3FEEEE07298DB666, 0x3FEEF3A2B84F15FB, 0x3FEEF9728DE5593A,
    0x3FEEFF76F2FB5E47, 0x3FEF05B030A1064A, 0x3FEF0C1E904BC1D2, 0x3FEF12C25BD71E09,
    0x3FEF199BDD85529C, 0x3FEF20AB5FFFD07A, 0x3FEF27F12E57D14B, 0x3FEF2F6D9406E7B5,
    0x3FEF3720DCEF9069, 0x3FEF3F0B555DC3FA, 0x3FEF472D4A07897C, 0x3FEF4F87080D89F2,
    0x3FEF5818DCFBA487, 0x3FEF60E316C98398, 0x3FEF69E603DB3285, 0x3FEF7321F301B460,
    0x3FEF7C97337B9B5F, 0x3FEF864614F5A129, 0x3FEF902EE78B3FF6, 0x3FEF9A51FBC74C83,
    0x3FEFA4AFA2A490DA, 0x3FEFAF482D8E67F1, 0x3FEFBA1BEE615A27, 0x3FEFC52B376BBA97,
    0x3FEFD0765B6E4540, 0x3FEFDBFDAD9CBE14, 0x3FEFE7C1819E90D8, 0x3FEFF3C22B8F71F1,
], dtype=np.uint64)
# fmt: on
_EXP_TAIL = np.array([float.fromhex(h) for h in _EXP_TAIL_HEX])


@njit(cache=True, nogil=True, inline="always")
def exp_special(x):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """Whether :func:`exp_main` does not hold for ``x``: ``|x| < 2**-54``, ``|x| >= 512``
    (overflow, underflow, subnormal results: glibc's ``specialcase``), infinities and NaN
    (glibc's ``abstop - top12(0x1p-54) >= top12(512) - top12(0x1p-54)``)."""
    abstop = (_bits(x) >> np.uint64(52)) & np.uint64(0x7FF)
    return (abstop - np.uint64(0x3C9)) >= np.uint64(0x3F)


@njit(cache=True, nogil=True, inline="always")
def exp_main(x):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """glibc ``__exp_fma(x)``'s bits for ``x`` not :func:`exp_special`: ``x = k ln2 / N + r``,
    ``exp(x) = 2^(k/N) (1 + tmp)`` with ``2^(k/N)`` from the table, in the binary's
    operations (``z + Shift`` and ``r`` contracted into FMAs, the polynomial's terms in
    three FMAs, the result ``scale + scale * tmp`` one FMA)."""
    kd = fma(x, _INVLN2N, _SHIFT)  # z + Shift, z = InvLn2N * x
    ki = _bits(kd)
    kd = kd - _SHIFT
    r = fma(kd, _NEGLN2LON, fma(kd, _NEGLN2HIN, x))  # x + kd * NegLn2hiN + kd * NegLn2loN
    i = ki & np.uint64(0x7F)
    sbits = _EXP_SBITS[i] + (ki << np.uint64(45))
    r2 = r * r
    # tail + r + r2 * (C2 + r * C3) + r2 * r2 * (C4 + r * C5)
    tmp = fma(r2 * r2, fma(r, _C5, _C4), fma(fma(r, _C3, _C2), r2, r + _EXP_TAIL[i]))
    scale = _double(sbits)
    return fma(scale, tmp, scale)


@njit(cache=True, nogil=True)
def exp_into(src, dst, port):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """``dst[i] = math.exp(src[i])`` for 1-d float64 arrays: by the port in a loop that
    vectorises, then ``math.exp`` for the special values (read from ``src`` again), when
    ``port`` (:func:`exp_port_ok`); else ``math.exp`` for every value. ``dst`` should not
    share memory with ``src`` (in place it takes ``math.exp`` for every value)."""
    _noinline()
    n = src.shape[0]
    if not port or (n > 0 and src.ctypes.data == dst.ctypes.data):
        for i in range(n):
            dst[i] = math.exp(src[i])
        return
    bad = 0
    for i in range(n):
        x = src[i]
        bad += exp_special(x)
        dst[i] = exp_main(x)
    if bad:
        for i in range(n):
            x = src[i]
            if exp_special(x):
                dst[i] = math.exp(x)


# Known answers of glibc 2.36's __log_fma and __exp_fma, (x, f(x)), on this project's machine;
# the ports give them too (tests/test_glibcmath.py). The first 35 log and 24 exp inputs are ones
# where the same code built without FMA contraction gives other bits (searched for with the
# tests' exact-FMA reference: about 1 input in 40 for log, 1 in 3,000 for exp); the others are
# spread over the table intervals, both log paths and exp's range. A libm that gets any of them
# wrong is not the one the ports were compared with.
# fmt: off
_LOG_KAT = (
    ("0x1.0e426cb727302p-33", "-0x1.6d1d4b4fa3163p+4"), ("0x1.71992988bef2bp-27", "-0x1.25905229a5322p+4"),
    ("0x1.f14c487feaffap-13", "-0x1.0b19d0ef2e961p+3"), ("0x1.8413767be8120p-11", "-0x1.cd599f8922cf4p+2"),
    ("0x1.828065c6d5c45p-9", "-0x1.74e32efd12cc8p+2"), ("0x1.a189ffc1c8cf3p-7", "-0x1.173899b410e7cp+2"),
    ("0x1.6f59ef98a3610p-4", "-0x1.34aa4ffac76d5p+1"), ("0x1.b038387165c94p-4", "-0x1.1fd9bd06ffe46p+1"),
    ("0x1.13cf291fd09fcp-3", "-0x1.00a0e09954982p+1"), ("0x1.2b2be7677741ap-3", "-0x1.ec712e3ee1a82p+0"),
    ("0x1.44833e34af8f7p-3", "-0x1.d7a09b4b1a1ffp+0"), ("0x1.ae774e7df7ec6p-2", "-0x1.bbb36fbb7f7bcp-1"),
    ("0x1.fa7ab8b101476p-2", "-0x1.687123ec615b1p-1"), ("0x1.4332323973d62p-1", "-0x1.d71b646b6853fp-2"),
    ("0x1.5e927e1b6c2f5p-1", "-0x1.83d9189c4a333p-2"), ("0x1.7c446c54f7695p-1", "-0x1.3096cccd2c129p-2"),
    ("0x1.9c7a4577f2993p-1", "-0x1.baa901fc1be39p-3"), ("0x1.bf6a947384f38p-1", "-0x1.14246a5ddfa24p-3"),
    ("0x1.1d81b01f1338fp+0", "0x1.bed2b8f9aa446p-4"), ("0x1.35b0b663a141ep+0", "0x1.85edf41b11636p-3"),
    ("0x1.6c60675bd80cdp+0", "0x1.697b91abc4f31p-2"), ("0x1.8b3dac24f4680p+0", "0x1.bcbddd7ae313bp-2"),
    ("0x1.f86cadf8015acp+0", "0x1.5b4260741ebb0p-1"), ("0x1.28bfb5fd01080p+1", "0x1.ae84ac433cdbap-1"),
    ("0x1.5d266133da67dp+1", "0x1.00e37c092d7e3p+0"), ("0x1.e35873b343d3cp+1", "0x1.5425c7d84b9eep+0"),
    ("0x1.1c592761c6672p+2", "0x1.7dc6edbfdaaf5p+0"), ("0x1.e1626ffddff2fp+3", "0x1.5affc50445d4fp+1"),
    ("0x1.a93f76991c4bap+4", "0x1.a3d9c75980324p+1"), ("0x1.3f473cfed122cp+5", "0x1.d7e336baf305fp+1"),
    ("0x1.d5c8d57f03875p+15", "0x1.602342e5417dep+3"), ("0x1.1f40c17408cf2p+17", "0x1.7cc20cf473d93p+3"),
    ("0x1.41e2844edff50p+41", "0x1.ca5e6a7ce2e61p+4"), ("0x1.1077418512c2ap+43", "0x1.dde1f4416df5ep+4"),
    ("0x1.3f473cfed1237p+45", "0x1.f699a2c2eae77p+4"), ("0x1.428a2f98d7294p-60", "-0x1.4adcbcb0bf358p+5"),
    ("0x1.f352e4a3fd89bp-55", "-0x1.2ba3e04313e93p+5"), ("0x1.828065c6d5c4dp-49", "-0x1.0c6b03d5689cep+5"),
    ("0x1.2b2be76777408p-43", "-0x1.da644ecf7aa14p+4"), ("0x1.cf25b92404a9ap-38", "-0x1.9bf295f42408ap+4"),
    ("0x1.84dd9c5b9d12ap-32", "-0x1.5c33d3e990f79p+4"), ("0x1.467f63abc192ep-26", "-0x1.1c7511defde67p+4"),
    ("0x1.f9736ee56dd87p-21", "-0x1.bc06b2074e9bdp+3"), ("0x1.873e86a09d660p-15", "-0x1.3f234050a16a9p+3"),
    ("0x1.6451d6658ecf6p-9", "-0x1.7a1753ba04ae8p+2"), ("0x1.e74a9fd5f16b5p-3", "-0x1.6f8dbc8834771p+0"),
    ("0x1.b9fe22b629dd3p+5", "0x1.00c22e51410b3p+2"), ("0x1.561fdabc4672bp+11", "0x1.fa8911be9b6e0p+2"),
    ("0x1.3795a617ca4e7p+17", "0x1.7f5c1f52ecca1p+3"), ("0x1.e25d3089b1345p+22", "0x1.fc3f910999fb7p+3"),
    ("0x1.755fb3c7358edp+28", "0x1.3c91816023964p+4"), ("0x1.21028ed65e0f6p+34", "0x1.7b033a3b7a2edp+4"),
    ("0x1.bf6a947384f6cp+39", "0x1.b974f316d0c79p+4"), ("0x1.b9fe22b629e2ep+45", "0x1.fbcdc77fdcc9bp+4"),
    ("0x1.561fdabc46732p+51", "0x1.1d1fc02d99b12p+5"), ("0x1.08d246bcc73aep+57", "0x1.3c589c9b44fd6p+5"),
    ("0x1.e5116e916e917p-1", "-0x1.baa855122af70p-5"), ("0x1.f13b44bb44bb4p-1", "-0x1.df8a91d0a8d99p-6"),
    ("0x1.fd651ae51ae52p-1", "-0x1.4e4c745a02399p-8"), ("0x1.04c7788778878p+0", "0x1.2f0c345e85c50p-6"),
    ("0x1.0adc639c639c6p+0", "0x1.5460d84203ac9p-5"),
)
_EXP_KAT = (
    ("0x1.3583597082ac2p+3", "0x1.effc72cea7aa9p+13"), ("-0x1.acc25d71676bcp+3", "0x1.973c9f8d87b51p-20"),
    ("-0x1.b9c9fd1a79da0p+1", "0x1.03ad2f6169c71p-5"), ("-0x1.19799fe720e00p-5", "0x1.eeb4e424c79cbp-1"),
    ("0x1.1f9caf71afa0ap+4", "0x1.e8f2113246e01p+25"), ("-0x1.d7b60d6e26f29p+3", "0x1.a9934fa725a6fp-22"),
    ("-0x1.c5ab41e156ad2p+3", "0x1.75f24f48e6213p-21"), ("-0x1.8c3da5e46c0d6p+3", "0x1.194421135a4c7p-18"),
    ("-0x1.22d3c45c76e3bp+4", "0x1.b68a2ae9dcb43p-27"), ("0x1.88bfb8ac57b30p+1", "0x1.581a3dced7571p+4"),
    ("0x1.e191e87ac3ea0p+1", "0x1.585dd9df7e9cfp+5"), ("-0x1.02eb53d8151e0p+4", "0x1.92b9e423c53cdp-24"),
    ("-0x1.0dad627a685f2p+4", "0x1.9b2d9ef9d1225p-25"), ("0x1.ce70de3bbc2b0p+3", "0x1.cd0d6954133dbp+20"),
    ("0x1.376b9122983b4p+4", "0x1.0ea5cd66693d9p+28"), ("-0x1.92fe0551060fcp+3", "0x1.c78822a4261dfp-19"),
    ("0x1.67b27c6a87f80p-1", "0x1.026a0ba3330dfp+1"), ("0x1.1a123bfde8fe0p+1", "0x1.21dd98073e501p+3"),
    ("0x1.502913d393f40p+0", "0x1.dbe0396cd6d13p+1"), ("0x1.2b223c2515af0p+4", "0x1.f64e421186811p+26"),
    ("0x1.c886c8688f684p+3", "0x1.7f3fee687b953p+20"), ("-0x1.20ccbd20764aap+4", "0x1.f1c8b4d5bda05p-27"),
    ("-0x1.6ce49c6ce1380p+1", "0x1.d98437457c653p-5"), ("0x1.2385794afc0d8p+4", "0x1.3822aac7bf493p+26"),
    ("-0x1.5dedb6db6db6ep+9", "0x1.3f7a3f9e7f26ap-1010"), ("-0x1.3d1580cdea560p+9", "0x1.10494fd68dd49p-915"),
    ("-0x1.1c3d4ac066f53p+9", "0x1.d021c950a773ep-821"), ("-0x1.f6ca2965c728ap+8", "0x1.8b92ca3f7a3f4p-726"),
    ("-0x1.b519bd4ac066fp+8", "0x1.51245045088b1p-631"), ("-0x1.7369512fb9a54p+8", "0x1.1f57681a77534p-536"),
    ("-0x1.31b8e514b2e39p+8", "0x1.e9cb5f3899592p-442"), ("-0x1.e010f1f35843dp+7", "0x1.a171f57606aa4p-347"),
    ("-0x1.5cb019bd4ac07p+7", "0x1.63c868c6f0b04p-252"), ("-0x1.b29e830e7a7a6p+6", "0x1.2f3a9965ee76ep-157"),
    ("-0x1.57b9a544bee6bp+5", "0x1.0270195f296d5p-62"), ("0x1.6b937726ee4c9p+4", "0x1.b886b676f24d3p+32"),
    ("0x1.61a68e35d69a2p+6", "0x1.77745c377eb72p+127"), ("0x1.34341f50f8d05p+7", "0x1.3ffeac0745e31p+222"),
    ("0x1.b794f7870653dp+7", "0x1.10ba2cb2a1622p+317"), ("0x1.1d7ae7de89eb9p+8", "0x1.d0e22b4d0d775p+411"),
    ("0x1.5f2b53f990ad5p+8", "0x1.8c36c1580a8b0p+506"), ("0x1.a0dbc014976edp+8", "0x1.51b00f134e48cp+601"),
    ("0x1.e28c2c2f9e309p+8", "0x1.1fce827c5c23dp+696"), ("0x1.121e4c2552792p+9", "0x1.ea96644d0d24ep+790"),
    ("0x1.32f68232d5da0p+9", "0x1.a21efd69c07a1p+885"), ("0x1.53ceb840593acp+9", "0x1.645be19df9281p+980"),
    ("-0x1.1166bc1166bc1p+1", "0x1.e3defd68a3782p-4"), ("-0x1.01ac5701ac570p+0", "0x1.764122444fb75p-2"),
    ("0x1.f74ca1f74ca1cp-4", "0x1.2178703640eaep+0"), ("0x1.4095eb4095eb2p+0", "0x1.bfc97de65e819p+1"),
    ("0x1.30db8630db863p+1", "0x1.5a584ec4705efp+3"), ("0x1.a2dba6af976c8p-41", "0x1.0000000000d17p+0"),
    ("-0x1.306fe0a31b715p-54", "0x1.fffffffffffffp-1"), ("-0x1.8c703199102f2p-14", "0x1.fff39ca4d19cfp-1"),
)
# fmt: on


@functools.cache
def _machine_ok() -> bool:
    """Linux on x86-64 with glibc's version in ``GLIBC_VERSIONS`` and a CPU with FMA and AVX2
    (glibc's ifuncs then pick ``__log_fma`` and ``__exp_fma``)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):  # not glibc, or no confstr
        return False
    name, _, number = version.partition(" ")
    if name != "glibc" or number not in GLIBC_VERSIONS:
        return False
    from llvmlite import binding

    features = binding.get_host_cpu_features()
    return bool(features.get("fma") and features.get("avx2"))


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a.view(np.uint64), b.view(np.uint64)))


@functools.cache
def log_port_ok() -> bool:
    """Whether :func:`log_into` may use the port in this process: :func:`_machine_ok`, and
    ``math.log`` (this process's libm) gives ``_LOG_KAT``'s bits. ``MKBA_LOG_PORT=0`` turns
    it off (for A/B timings). Decided once per process."""
    if os.environ.get("MKBA_LOG_PORT") == "0" or not _machine_ok():
        return False
    return all(math.log(float.fromhex(x)).hex() == y for x, y in _LOG_KAT)


@functools.cache
def exp_port_ok() -> bool:
    """Whether :func:`exp_into` may stand in for NumPy's ``np.exp`` in this process:
    :func:`_machine_ok`, NumPy without AVX512F (with it NumPy takes its own SIMD ``exp``, not
    libm's), and both ``math.exp`` and ``np.exp`` give ``_EXP_KAT``'s bits.
    ``MKBA_EXP_PORT=0`` turns it off. Decided once per process."""
    if os.environ.get("MKBA_EXP_PORT") == "0" or not _machine_ok():
        return False
    try:  # NumPy's dispatch table of CPU features
        umath = importlib.import_module("numpy._core._multiarray_umath")
    except ImportError:
        return False
    if getattr(umath, "__cpu_features__", {}).get("AVX512F", True):
        return False
    x = np.array([float.fromhex(a) for a, _ in _EXP_KAT])
    want = np.array([float.fromhex(b) for _, b in _EXP_KAT])
    libm = np.array([math.exp(v) for v in x.tolist()])
    return _same_bits(libm, want) and _same_bits(np.exp(x), want)
