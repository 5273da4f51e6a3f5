"""The per-draw totals (``kernel._totals_block``, behind ``aggregate_totals`` and
``aggregate``) computed in blocks of 64 draws with the draws innermost, against the
draw-by-draw code they replace (tests/kernel_totals_oracle.py, a verbatim copy of main at
2b53788, run as plain Python): every output compared as raw bytes (np.array_equal on the
bytes, so -0.0 vs 0.0 and NaN payloads count), on the shipped scenarios' kernel outputs and
on synthetic inputs with NaN, infinities, signed zeros, cumulative flows that touch 0.0
exactly, partial blocks, ranges that do not start on a block, n = 1 and odd shapes.

The payback cases' expected years are also checked by hand (comments at each case)."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

from mkba import engine, kernel
from mkba.load import load_scenario
from mkba.model import lower
from mkba.schema.scenario import PERSPECTIVES

sys.path.insert(0, str(Path(__file__).parent))
import kernel_totals_oracle as oracle

ROOT = Path(__file__).resolve().parents[1]
TOTALS = ("benefits", "costs", "stream", "sh_benefits", "payback")


def _bits(x: np.ndarray) -> bytes:
    return np.ascontiguousarray(x).tobytes()


def _inputs(rng, n: int, C: int, K: int, P: int, S: int, T: int, special: bool):  # type: ignore[no-untyped-def]
    """Synthetic inputs of the totals: weights with zeros and signs, components mapped to
    streams (some streams without components when S > C), and per-draw values; with
    ``special``, a share of the values NaN, +-inf, +-0.0 or exact ties."""
    comp_stream = rng.integers(0, S, size=C).astype(np.int64)
    bw = rng.normal(size=(P, C)) * (rng.random((P, C)) > 0.3)
    cw = rng.normal(size=(P, K)) * (rng.random((P, K)) > 0.3)
    sw = rng.normal(size=(K, C)) * (rng.random((K, C)) > 0.3)
    bw[0, 0] = -0.0
    comp = rng.normal(scale=1e6, size=(n, C))
    shc = rng.normal(scale=1e6, size=(n, K))
    dflow = rng.normal(size=(n, T))
    if special:
        pool = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 5e-324, 1e308, -1e308])
        for x in (comp, shc, dflow):
            mask = rng.random(x.shape) < 0.15
            x[mask] = rng.choice(pool, size=int(mask.sum()))
    years = np.arange(2024.0, 2024.0 + T)
    return comp_stream, bw, cw, sw, years, comp, shc, dflow


def _outs(n: int, P: int, S: int, K: int, fill: float = 7.25):  # type: ignore[no-untyped-def]
    # filled, not empty: rows outside the range must be left as they are
    return (
        np.full((n, P), fill),
        np.full((n, P), fill),
        np.full((n, P, S), fill),
        np.full((n, K), fill),
        np.full(n, fill),
    )


def _totals(fn, comp_stream, bw, cw, sw, years, S, dflow, comp, shc, lo, hi):  # type: ignore[no-untyped-def]
    n, P, K = comp.shape[0], bw.shape[0], shc.shape[1]
    ben, cost, stream, shb, pay = _outs(n, P, S, K)
    with np.errstate(all="ignore"):  # the oracle's NumPy scalars warn on NaN and overflow
        fn(dflow, comp_stream, bw, cw, sw, years, S, ben, cost, stream, comp, shb, shc, pay, lo, hi)
    return {"benefits": ben, "costs": cost, "stream": stream, "sh_benefits": shb, "payback": pay}


def _same(new: dict, old: dict) -> None:  # type: ignore[type-arg]
    for k in old:
        assert new[k].shape == old[k].shape, k
        assert _bits(new[k]) == _bits(old[k]), k


@pytest.mark.parametrize("special", [False, True])
@pytest.mark.parametrize(
    "n, lo, hi",
    [(1, 0, 1), (63, 0, 63), (64, 0, 64), (65, 0, 65), (300, 0, 300), (300, 5, 200),
     (300, 128, 400), (200, 70, 70), (130, 64, 129)],
)  # fmt: skip
@pytest.mark.parametrize(
    "C, K, P, S, T", [(19, 5, 3, 7, 30), (1, 1, 1, 1, 1), (3, 2, 2, 6, 7), (40, 9, 4, 2, 61)]
)
def test_aggregate_totals_same_bits(n, lo, hi, C, K, P, S, T, special) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(n * 1000 + lo + C + T + special)
    cs, bw, cw, sw, years, comp, shc, dflow = _inputs(rng, n, C, K, P, S, T, special)
    new = _totals(kernel.aggregate_totals, cs, bw, cw, sw, years, S, dflow, comp, shc, lo, hi)
    old = _totals(oracle.aggregate_totals, cs, bw, cw, sw, years, S, dflow, comp, shc, lo, hi)
    _same(new, old)
    # rows outside lo:hi untouched (both)
    outside = np.ones(n, dtype=bool)
    outside[lo:hi] = False
    assert np.all(new["payback"][outside] == 7.25)


def test_payback_by_hand() -> None:
    """Payback is the year after the last year whose cumulative discounted flow is negative:
    years 2024-2027, one draw per case, in one block (lanes of different outcomes side by
    side)."""
    years = np.array([2024.0, 2025.0, 2026.0, 2027.0])
    dflow = np.array(
        [
            [-1.0, 0.5, 0.5, 1.0],  # cum -1, -0.5, 0.0, 1.0: last negative 2025 -> 2026
            [1.0, -0.5, 0.1, 0.1],  # never negative -> the first year, 2024
            [-1.0, -1.0, -1.0, -1.0],  # negative at the horizon -> NaN
            [-1.0, 1.0, -0.0, 0.0],  # cum -1, 0.0, 0.0, 0.0 (0.0 is not negative) -> 2025
            [np.nan, -1.0, -1.0, -1.0],  # cum NaN throughout: never < 0 -> 2024
            [-np.inf, np.inf, 1.0, 1.0],  # cum -inf, NaN, ...: last negative 2024 -> 2025
            [0.0, 0.0, -5e-324, 0.0],  # cum -5e-324 from 2026 on: negative at the horizon -> NaN
        ]
    )
    n = dflow.shape[0]
    comp, shc = np.zeros((n, 1)), np.zeros((n, 1))
    one, cs = np.ones((1, 1)), np.zeros(1, dtype=np.int64)
    new = _totals(kernel.aggregate_totals, cs, one, one, one, years, 1, dflow, comp, shc, 0, n)
    expected = np.array([2026.0, 2024.0, np.nan, 2025.0, 2024.0, 2025.0, np.nan])
    assert np.array_equal(new["payback"], expected, equal_nan=True)
    old = _totals(oracle.aggregate_totals, cs, one, one, one, years, 1, dflow, comp, shc, 0, n)
    _same(new, old)


def test_sums_by_hand() -> None:
    """Two components on streams 1 and 0, two payers, two perspectives: the sums by hand."""
    cs = np.array([1, 0], dtype=np.int64)
    bw = np.array([[1.0, 2.0], [0.0, -1.0]])
    cw = np.array([[1.0, 1.0], [0.5, 0.0]])
    sw = np.array([[1.0, 0.0], [0.25, 1.0]])
    comp = np.array([[10.0, 3.0]])
    shc = np.array([[4.0, 8.0]])
    dflow = np.array([[1.0]])
    new = _totals(
        kernel.aggregate_totals, cs, bw, cw, sw, np.array([2024.0]), 3, dflow, comp, shc, 0, 1
    )
    # benefits: p0 = 1*10 + 2*3 = 16; p1 = 0*10 + -1*3 = -3
    assert new["benefits"].tolist() == [[16.0, -3.0]]
    # streams: p0: s0 = 2*3 = 6, s1 = 10, s2 = 0; p1: s0 = -3, s1 = 0, s2 = 0
    assert new["stream"].tolist() == [[[6.0, 10.0, 0.0], [-3.0, 0.0, 0.0]]]
    # costs: p0 = 4 + 8 = 12; p1 = 0.5*4 = 2
    assert new["costs"].tolist() == [[12.0, 2.0]]
    # stakeholder benefits: k0 = 10; k1 = 0.25*10 + 3 = 5.5
    assert new["sh_benefits"].tolist() == [[10.0, 5.5]]
    assert new["payback"].tolist() == [2024.0]


@pytest.fixture(scope="module")
def models():  # type: ignore[no-untyped-def]
    return {
        name: lower(load_scenario(ROOT / "scenarios" / name))
        for name in ("reference-2021.toml", "wijkprogramma-example.toml")
    }


@pytest.mark.parametrize("name", ["reference-2021.toml", "wijkprogramma-example.toml"])
@pytest.mark.parametrize("n, parts", [(1, 1), (1000, 1), (1000, 3), (4096, 2)])
def test_engine_paths_same_bits(models, name: str, n: int, parts: int) -> None:  # type: ignore[no-untyped-def]
    """The engine's own outputs: ``aggregate_totals`` on the fused kernel's sums and
    ``aggregate`` on the raw per-area outputs (the programme path), each against the old
    code, over ``parts`` thread ranges."""
    m = models[name]
    rng = np.random.default_rng(n + parts)
    theta = m.theta(rng.random((n, len(m.uncertain))))
    tht = np.ascontiguousarray(theta.T)
    P, S, K = len(m.benefit_weights), len(m.streams), len(m.stakeholders)
    cuts = kernel.draw_ranges(n, parts)
    yrs = m.years.astype(float)
    ws = (m.comp_stream, m.benefit_weights, m.cost_weights, m.stakeholder_weights, yrs, S)
    if m.programme is None:
        out = engine.Outcomes.empty(n, m)
        engine.totals_chunk(m, tht, out)
        comp, shc, dflow = out.component, out.stakeholder_costs, out.dflow
        got = {}
        for fn, key in ((kernel.aggregate_totals, "new"), (oracle.aggregate_totals, "old")):
            ben, cost, stream, shb, pay = _outs(n, P, S, K)
            for lo, hi in itertools.pairwise(cuts):
                fn(dflow, *ws, ben, cost, stream, comp, shb, shc, pay, lo, hi)
            got[key] = {"b": ben, "c": cost, "s": stream, "k": shb, "p": pay}
        _same(got["new"], got["old"])
        assert np.isfinite(got["new"]["b"]).all()
        return
    raw = engine.raw_chunk(m, theta)
    ben_a, cost_a, _, dflow = raw[:4]
    p0 = PERSPECTIVES.index(m.spec.scenario.perspective)
    A, C = len(m.areas), len(m.components)
    got = {}
    for fn, key in ((kernel.aggregate, "new"), (oracle.aggregate, "old")):
        ben, cost, stream, shb, pay = _outs(n, P, S, K)
        comp, shc = np.full((n, C), 7.25), np.full((n, K), 7.25)
        ab, ac = np.full((n, A), 7.25, order="F"), np.full((n, A), 7.25, order="F")
        views = kernel.area_outputs(ab, ac)
        for lo, hi in itertools.pairwise(cuts):
            fn(ben_a, cost_a, dflow, *ws[:5], p0, S, ben, cost, stream, *views, comp, shb, shc, pay, lo, hi)  # fmt: skip
        got[key] = {"b": ben, "c": cost, "s": stream, "k": shb, "p": pay, "x": comp, "y": shc,
                    "ab": ab, "ac": ac}  # fmt: skip
    _same(got["new"], got["old"])
    assert np.isfinite(got["new"]["b"]).all()
