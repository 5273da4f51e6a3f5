"""mkba.glibcmath's port of glibc's ``log`` gives ``math.log``'s bits (issue 17, target 7, i27-log).

Where the expected numbers come from: ``math.log`` is the C library's ``log`` (CPython calls
it for positive arguments; numba's ``math.log`` calls the same symbol). On this project's
machines (Debian 12, glibc 2.36, x86-64 with FMA and AVX2) that is ``__log_fma``; the port's
operations were read from its disassembly. A second, independent implementation here
(:func:`reference_log`) follows the same listing in Python with each FMA computed exactly
(``fractions.Fraction``, rounded once by ``float``), and with the FMAs turned into a rounded
product and a sum it shows that the known answers (``_LOG_KAT``, ``_EXP_KAT``) notice a libm that rounds
differently. The session that added the port compared it with ``math.log`` on more than
4 * 10**9 inputs (its report, /work/notes/i27-log.md); these tests take a few million.
"""

from __future__ import annotations

import math
import struct
from fractions import Fraction

import numpy as np
import pytest

from mkba import glibcmath as gl

PORT = gl.log_port_ok()
needs_port = pytest.mark.skipif(not PORT, reason="the port does not run here (glibc / FMA)")


def _bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _double(u: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", u & (2**64 - 1)))[0]


def _fma_exact(a: float, b: float, c: float) -> float:
    return float(Fraction(a) * Fraction(b) + Fraction(c))


def _fma_split(a: float, b: float, c: float) -> float:
    return a * b + c  # two roundings: what a build without these FMAs computes


def reference_log(x: float, fma=_fma_exact) -> float:  # type: ignore[no-untyped-def]
    """glibc 2.36 ``__log_fma`` for a positive normal finite ``x``, from its listing (see
    src/mkba/glibcmath.py), one operation a line."""
    ix = _bits(x)
    if ix == _bits(1.0):
        return 0.0
    if (ix - 0x3FEE000000000000) % 2**64 < 0x3FF1090000000000 - 0x3FEE000000000000:
        r = x - 1.0
        r2 = r * r
        r3 = r * r2
        q1 = fma(r2, gl._B3, fma(r, gl._B2, gl._B1))
        q2 = fma(r2, gl._B6, fma(r, gl._B5, gl._B4))
        q3 = fma(r3, gl._B10, fma(r2, gl._B9, fma(r, gl._B8, gl._B7)))
        p = fma(fma(q3, r3, q2), r3, q1)
        rhi = fma(-(2.0**27), r, fma(r, 2.0**27, r))
        rlo = r - rhi
        hi = fma(rhi * rhi, gl._B0, r)
        lo = fma(rhi * rhi, gl._B0, r - hi)
        lo = fma(gl._B0 * rlo, r + rhi, lo)
        return hi + fma(p, r3, lo)
    tmp = (ix - 0x3FE6000000000000) % 2**64
    i = (tmp >> 45) & 0x7F
    k = (tmp - 2**64 if tmp >= 2**63 else tmp) >> 52
    z = _double(ix - (tmp & 0xFFF0000000000000))
    r = fma(z, float(gl._INVC[i]), -1.0)
    kd = float(k)
    w = fma(kd, gl._LN2HI, float(gl._LOGC[i]))
    hi = w + r
    lo = fma(kd, gl._LN2LO, (w - hi) + r)
    r2 = r * r
    p = fma(fma(r, gl._A4, gl._A3), r2, fma(r, gl._A2, gl._A1))
    return fma(r * r2, p, fma(r2, gl._A0, lo)) + hi


def _inputs(n: int, seed: int) -> np.ndarray:
    """Positive doubles of the sampler's uses (Hermite odds u / (1 - u), ndtri's tail values
    and their square-root logarithms), random bit patterns of every exponent, the near-1
    range, and the neighbours of powers of two and of the near-1 range's ends."""
    g = np.random.default_rng(seed)
    u = np.clip(g.random(n), 2.0**-53, 1 - 2.0**-53)
    y = np.exp(-2.0 - g.random(n) * 34.7)
    parts = [
        u / (1.0 - u),
        y,
        np.sqrt(-2.0 * np.log(y)),
        g.integers(0x0010000000000000, 0x7FF0000000000000, n, dtype=np.uint64).view(np.float64),
        g.uniform(1.0 - 2.0**-4, 1.0 + float.fromhex("0x1.09p-4"), n),
    ]
    for e in range(-1022, 1024, 7):
        parts.append(2.0**e + np.arange(-20, 21) * np.spacing(2.0**e))
    for b in (1.0 - 2.0**-4, 1.0 + float.fromhex("0x1.09p-4"), 1.0):
        parts.append(b + np.arange(-300, 301) * np.spacing(b))
    return np.concatenate(parts)


SPECIAL = [0.0, -0.0, -1.0, -1e-300, math.inf, -math.inf, math.nan, -math.nan, 5e-324,
           1e-310, 2.2250738585072009e-308, 2.2250738585072014e-308, 1.7976931348623157e308,
           1.0, 1.0 + 2.0**-52, 1.0 - 2.0**-53]  # fmt: skip


def _libm(x: np.ndarray) -> np.ndarray:
    """``math.log`` value by value, with libm's results where Python raises (0: -inf;
    negative: NaN)."""
    out = np.empty_like(x)
    for i, v in enumerate(x.tolist()):
        out[i] = math.log(v) if v > 0 or v != v else (-math.inf if v == 0 else math.nan)
    return out


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """The same bits, any NaN matching any NaN (libm's NaN payloads are not what Python's
    math.log path gives for negative arguments)."""
    nan = np.isnan(a) & np.isnan(b)
    return bool(np.array_equal(a.view(np.uint64)[~nan], b.view(np.uint64)[~nan]))


def _check_into(into, x: np.ndarray, want: np.ndarray) -> np.ndarray:
    """``into(x, got, True)`` (the port) gives ``want``'s bits on all of ``x``, and on its last
    ``n`` values for every ``n`` from 1 to 9 (the vector loop's remainders), apart and in
    place (which falls back to libm). Returns ``got``."""
    got = np.empty_like(x)
    into(x, got, True)
    assert _same(got, want)
    for n in range(1, 10):
        part = x[-n:].copy()
        out = np.empty_like(part)
        into(part, out, True)
        assert _same(out, want[-n:])
        into(part, part, True)
        assert _same(part, want[-n:])
    return got


@needs_port
@pytest.mark.parametrize("seed", [1, 2])
def test_the_port_is_libms_log(seed: int) -> None:
    """log_into with the port: math.log's bits on ~2.6 million inputs, and on the special
    values (zero, subnormals, negatives, infinities, NaN: by math.log itself), in arrays of
    every length from 1 to 9 (the vector loop's remainders), apart and in place (which
    falls back to math.log)."""
    x = np.concatenate([_inputs(500_000, seed), SPECIAL])
    want = _libm(x)
    _check_into(gl.log_into, x, want)


def test_the_fallback_is_libms_log() -> None:
    """log_into without the port is math.log, everywhere."""
    x = np.concatenate([_inputs(20_000, 3), SPECIAL])
    got = np.empty_like(x)
    gl.log_into(x, got, False)
    assert _same(got, _libm(x))


@needs_port
def test_the_python_reference_is_libms_log() -> None:
    """The exact-FMA Python reference is math.log on 30,000 inputs of every kind (so the
    listing was read right: this holds on a machine running ``__log_fma``)."""
    x = _inputs(5_000, 4)
    x = x[::3]
    want = _libm(x)
    got = np.array([reference_log(v) for v in x.tolist()])
    assert _same(got, want)


def _kat(table: tuple[tuple[str, str], ...]) -> tuple[list[float], list[float]]:
    return [float.fromhex(x) for x, _ in table], [float.fromhex(y) for _, y in table]


def _check_listings(table, reference, into, fma_sensitive: int, port: bool) -> None:  # type: ignore[no-untyped-def]
    """A known-answer table: ``reference`` (the exact-FMA Python listing) gives its answers;
    with the FMAs split (an FMA-less build) its first ``fma_sensitive`` answers differ; and,
    where the ``port`` runs, the compiled ``into`` gives them too."""
    x, y = _kat(table)
    assert [reference(v) for v in x] == y
    firsts = zip(x[:fma_sensitive], y[:fma_sensitive], strict=True)
    assert all(reference(v, _fma_split) != w for v, w in firsts)
    if port:
        got = np.empty(len(x))
        into(np.array(x), got, True)
        assert got.tolist() == y


@needs_port
def test_the_port_is_the_python_reference() -> None:
    """The compiled port (LLVM's vector code, llvm.fma) and the Python reference agree on
    the known answers' inputs and on 20,000 more."""
    x = np.concatenate([_kat(gl._LOG_KAT)[0], _inputs(4_000, 5)[::2]])
    got = np.empty_like(x)
    gl.log_into(x, got, True)
    want = np.array([reference_log(v) for v in x.tolist()])
    assert _same(got, want)


def test_the_known_answers_are_the_listings() -> None:
    """``_LOG_KAT``'s answers are the exact-FMA reference's (so the port's, and libm's where
    the port runs: log_port_ok checks them against libm), and with the FMAs split into a
    rounded product and a sum (a build without FMA contraction) the first 35 differ (the
    other FMAs than ``r = z * invc - 1`` change a last bit too rarely for such a search to
    show), so such a libm fails the check."""
    _check_listings(gl._LOG_KAT, reference_log, gl.log_into, 35, PORT)


def _check_turned_off(decide, variable: str, usual: bool, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]  # a functools.cache'd decision
    """``variable=0`` makes the cached decision ``decide`` False; without it, once the cache
    is cleared, the decision is this machine's ``usual`` one again."""
    monkeypatch.setenv(variable, "0")
    decide.cache_clear()
    try:
        assert decide() is False
    finally:
        monkeypatch.delenv(variable)
        decide.cache_clear()
    assert decide() is usual


def test_the_decision_is_cached_and_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """log_port_ok is decided once a process; MKBA_LOG_PORT=0 turns the port off."""
    gl.log_port_ok.cache_clear()
    first = gl.log_port_ok()
    assert gl.log_port_ok() is first
    assert gl.log_port_ok.cache_info().misses == 1  # decided once, then remembered
    _check_turned_off(gl.log_port_ok, "MKBA_LOG_PORT", PORT, monkeypatch)


# --- exp ---------------------------------------------------------------------------------

EXP_PORT = gl.exp_port_ok()
needs_exp_port = pytest.mark.skipif(not EXP_PORT, reason="the exp port does not run here")


def reference_exp(x: float, fma=_fma_exact) -> float:  # type: ignore[no-untyped-def]
    """glibc 2.36 ``__exp_fma`` for ``2**-54 <= |x| < 512``, from its listing (see
    src/mkba/glibcmath.py), one operation a line."""
    kd = fma(x, gl._INVLN2N, gl._SHIFT)
    ki = _bits(kd)
    kd = kd - gl._SHIFT
    r = fma(kd, gl._NEGLN2LON, fma(kd, gl._NEGLN2HIN, x))
    i = ki & 0x7F
    scale = _double(int(gl._EXP_SBITS[i]) + (ki << 45))
    r2 = r * r
    tail = float(gl._EXP_TAIL[i])
    tmp = fma(r2 * r2, fma(r, gl._C5, gl._C4), fma(fma(r, gl._C3, gl._C2), r2, r + tail))
    return fma(scale, tmp, scale)


def _exp_inputs(n: int, seed: int) -> np.ndarray:
    """The lognormal's exponents (mu + sigma z, z within ndtri's range), the whole finite
    range of exp, |x| of every exponent from 2**-54 to 512, and the branch points' neighbours
    (2**-54, 512, the overflow and underflow limits)."""
    g = np.random.default_rng(seed)
    z = g.normal(0, 1, n)
    bits = g.integers(0x3C9 << 52, 0x408 << 52, n, dtype=np.uint64).view(np.float64)
    parts = [
        g.uniform(-5, 15, n) + g.uniform(0, 2, n) * z,
        g.uniform(-745.2, 709.8, n),
        bits,
        -bits,
    ]
    for b in (2.0**-54, 512.0, 709.782712893384, -708.3964185322641, -745.1332191019411):
        for sign in (1.0, -1.0):
            parts.append(sign * (b + np.arange(-200, 201) * np.spacing(b)))
    return np.concatenate(parts)


EXP_SPECIAL = [0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, -5e-324, 1e-300, 1e308,
               -1e308, 710.0, -746.0, 2.0**-55, -(2.0**-55)]  # fmt: skip


def _np_exp(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", under="ignore"):
        return np.exp(x)


@needs_exp_port
@pytest.mark.parametrize("seed", [1, 2])
def test_the_exp_port_is_numpys_and_libms_exp(seed: int) -> None:
    """exp_into with the port: np.exp's bits (libm's, on such a machine) on ~1.2 million
    inputs and the special values (by math.exp itself), in arrays of every length from 1
    to 9, apart and in place; and math.exp's where Python computes one."""
    x = np.concatenate([_exp_inputs(300_000, seed), EXP_SPECIAL])
    want = _np_exp(x)
    got = _check_into(gl.exp_into, x, want)
    inside = x[np.abs(x) < 700][:50_000]
    libm = np.array([math.exp(v) for v in inside.tolist()])
    gl.exp_into(inside, got[: inside.size], True)
    assert _same(got[: inside.size], libm)


def test_the_exp_fallback_is_libms_exp() -> None:
    """exp_into without the port is math.exp, everywhere."""
    x = np.concatenate([_exp_inputs(20_000, 3), EXP_SPECIAL])
    got = np.empty_like(x)
    gl.exp_into(x, got, False)
    small = np.abs(x) < 700
    assert _same(got[small], np.array([math.exp(v) for v in x[small].tolist()]))


@needs_exp_port
def test_the_exp_port_is_the_python_reference() -> None:
    """The compiled exp port and the exact-FMA Python reference agree on the known answers'
    inputs and on 30,000 more (where exp_special is false); so does np.exp."""
    x = np.concatenate([_kat(gl._EXP_KAT)[0], _exp_inputs(8_000, 5)[::4]])
    x = x[(np.abs(x) >= 2.0**-54) & (np.abs(x) < 512)]
    got = np.empty_like(x)
    gl.exp_into(x, got, True)
    want = np.array([reference_exp(v) for v in x.tolist()])
    assert _same(got, want)
    assert _same(_np_exp(x), want)


def test_the_exp_known_answers_are_the_listings() -> None:
    """``_EXP_KAT``'s answers are the exact-FMA reference's (and the port's where it runs);
    with the FMAs split into a rounded product and a sum the first 24 differ (about 1 input
    in 3,000 does so: they were searched for with this reference), so an FMA-less libm fails
    exp_port_ok's check."""
    _check_listings(gl._EXP_KAT, reference_exp, gl.exp_into, 24, EXP_PORT)


def test_the_exp_decision_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """MKBA_EXP_PORT=0 turns the exp port off (decided once a process)."""
    _check_turned_off(gl.exp_port_ok, "MKBA_EXP_PORT", EXP_PORT, monkeypatch)
