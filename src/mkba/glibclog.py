"""A vectorisable, bit-exact port of glibc's ``log`` (the ``__log_fma`` variant).

Numba's ``math.log`` is a call to the C library's ``log``: on Linux with glibc >= 2.28 on an
x86-64 with FMA and AVX2, the ifunc picks ``__log_fma``, glibc's
``sysdeps/ieee754/dbl-64/e_log.c`` (the ARM optimized-routines algorithm: a 128-entry table of
``1/c`` and ``log(c)``, a degree-5 polynomial, and a degree-11 one for inputs within about
1/16 of 1) compiled with ``-mfma``, where GCC contracted some multiply-adds into FMAs. A call
costs ~6 ns here and no loop around it vectorises. :func:`log_into` computes the same function
with the same operations in the same order, each FMA where the binary has one (read from
``objdump -d`` of Debian's glibc 2.36 libm.so.6, the code at ``__log_fma``; the table and the
coefficients are the bytes of its ``__log_data``, which are glibc's ``e_log_data.c``), so that
LLVM vectorises it (the table read is a gather).

Only the inputs of the main path (positive normal finite numbers) and of the near-1 path are
computed so; zero, subnormals, negatives, infinities and NaN go to ``math.log`` itself in a
second pass. Whether the port may be used at all is decided once per process
(:func:`log_port_ok`): an x86-64 with FMA and AVX2, the glibc version the port was read from,
and a self-check against ``math.log`` on inputs chosen to separate the FMA placements. If any
of these fails, the callers use ``math.log`` (the same bits, the old speed), so a result never
depends on the port being right on another machine. tests/test_glibclog.py compares the port
with ``math.log`` on many inputs; the report of the session that added it (i27-log) compared
more than 10**9.
"""

from __future__ import annotations

import functools
import math
import os
import platform

import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]  # llvmlite ships no type information
from numba import njit, types
from numba.extending import intrinsic

# the glibc versions whose __log_fma this port was compared with, value for value
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
def fma(typingctx, a, b, c):  # type: ignore[no-untyped-def]  # numba intrinsic: typed by its signature below
    """``a * b + c`` rounded once (LLVM's ``llvm.fma.f64``: ``vfmadd`` with FMA; LLVM
    vectorises it)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]  # llvmlite IR builder callback
        d = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [d], ir.FunctionType(d, [d, d, d]))
        return builder.call(fn, args)

    return sig, codegen


@intrinsic
def _bits(typingctx, x):  # type: ignore[no-untyped-def]  # numba intrinsic: typed by its signature below
    """The IEEE bits of a double (``asuint64``)."""
    sig = types.uint64(types.float64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]  # llvmlite IR builder callback
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def _double(typingctx, u):  # type: ignore[no-untyped-def]  # numba intrinsic: typed by its signature below
    """The double of IEEE bits (``asdouble``)."""
    sig = types.float64(types.uint64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]  # llvmlite IR builder callback
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def log_special(x):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """Whether :func:`log_fast` does not hold for ``x``: zero, subnormal, negative, infinite
    or NaN (glibc's ``top - 0x0010 >= 0x7ff0 - 0x0010``; the near-1 inputs are never so)."""
    return ((_bits(x) >> np.uint64(48)) - np.uint64(0x10)) >= np.uint64(0x7FE0)


@njit(cache=True, nogil=True, inline="always")
def log_near(x):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """glibc ``__log_fma(x)``'s path for ``1 - 2**-4 <= x < 1 + 0x1.09p-4`` (:func:`is_near`,
    not 1 itself), operation for operation (the comments give the instructions of the
    binary a line mirrors)."""
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
def log_into(src, dst, port, near):  # type: ignore[no-untyped-def]  # numba njit: argument types come from the dispatch, not annotations
    """``dst[i] = math.log(src[i])`` for 1-d float64 arrays: by the port in a loop that
    vectorises, then ``math.log`` for the values it leaves (read from ``src`` again), when
    ``port`` (:func:`log_port_ok`); else ``math.log`` for every value. ``near``: the loop
    computes both of glibc's paths (values near 1 are common); else only the main path, and
    the values near 1 are left to ``math.log`` too (a shorter loop where they are rare or
    impossible). ``dst`` should not share memory with ``src`` (in place it takes
    ``math.log`` for every value)."""
    n = src.shape[0]
    if not port or (n > 0 and src.ctypes.data == dst.ctypes.data):
        for i in range(n):
            dst[i] = math.log(src[i])
        return
    bad = 0
    if near:
        for i in range(n):
            x = src[i]
            bad += log_special(x)
            dst[i] = log_fast(x)
    else:
        for i in range(n):
            x = src[i]
            bad += log_special(x) | is_near(x)
            dst[i] = log_main(x)
    if bad:  # (zero, subnormal or not finite; or near 1 without ``near``)
        for i in range(n):
            x = src[i]
            if log_special(x) | (is_near(x) & (not near)):
                dst[i] = math.log(x)


def _check_inputs() -> np.ndarray:
    """The self-check's inputs: 1,024 values spread over ``[2**-60, 2**60]`` (every table
    interval at many exponents) and 256 in the near-1 range (both of the port's paths). A
    libm that computes ``r = z * invc - 1`` without the FMA (glibc built without FMA) gives
    other bits for dozens of them (tests/test_glibclog.py); the rarer effects of the other
    FMAs are left to the version check."""
    main = np.exp2(np.linspace(-60.0, 60.0, 1024) + 1.0 / 3.0)
    near = np.linspace(1.0 - 2.0**-4, 1.0 + float.fromhex("0x1.09p-4"), 258)[1:-1]
    return np.concatenate([main, near])


@functools.cache
def log_port_ok() -> bool:
    """Whether :func:`log_into` may use the port in this process: Linux on x86-64 with
    glibc's version in ``GLIBC_VERSIONS``, a CPU with FMA and AVX2 (glibc's ifunc then picks
    ``__log_fma``), and the port's bits equal to ``math.log``'s on :func:`_check_inputs`.
    ``MKBA_LOG_PORT=0`` turns it off (for A/B timings). Decided once per process."""
    if os.environ.get("MKBA_LOG_PORT") == "0":
        return False
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):  # not glibc, or no confstr
        return False
    name, _, number = version.partition(" ")
    if name != "glibc" or number not in GLIBC_VERSIONS:
        return False
    from llvmlite import binding  # type: ignore[import-untyped]  # llvmlite ships no type information

    features = binding.get_host_cpu_features()
    if not (features.get("fma") and features.get("avx2")):
        return False
    x = _check_inputs()
    got = np.empty_like(x)
    log_into(x, got, True, True)
    want = np.array([math.log(v) for v in x.tolist()])
    return bool(np.array_equal(got.view(np.uint64), want.view(np.uint64)))
