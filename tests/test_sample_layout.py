"""The sampled values column-major end to end (i25-layout): the same values in every layout.

The sampler writes each parameter's values contiguously (``samples.T`` rows), the
simulation keeps and hands over (n, U) arrays laid out column-major
(:func:`mkba.engine.column_major`), draws.parquet's stream copies them column by column and
the implied effects read only their used columns. Every value stays the one operation it
was: the sampled value is ``theta_t[slot] / scale`` (what ``compute_chunk``'s non-random
path writes, and what the sampler always wrote: the inverse CDF times the scale, over the
scale). Here the new layouts are compared byte for byte with that definition and with the
old C-ordered layout, including NaN uniforms, n = 1 and tiny chunks, on one and two threads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mkba import engine, implied, rng
from mkba.drawstream import DrawsStream
from mkba.model import Model


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shapes and values byte for byte in C order (NaN payloads, signs of zero)."""
    return (
        a.shape == b.shape
        and np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()
    )


def _layouts(n: int, u: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(samples target, the array it lives in) of each layout fill_theta takes: C-ordered
    (the old one), column-major (engine.column_major) and rows of a larger column-major
    array (a chunk of the whole run's samples: not contiguous either way)."""
    c = np.full((n, u), 9.0)
    f = engine.column_major(n, u)
    f[...] = 9.0
    big = engine.column_major(n + 5, u)
    big[...] = 9.0
    return {"C": (c, c), "F": (f, f), "slice": (big[2 : n + 2], big)}


@pytest.mark.parametrize("sampler", ["random", "lhs"])
@pytest.mark.parametrize("n", [1, 2, 63, 4097])
@pytest.mark.parametrize("threads", [1, 2])
def test_sampled_values_the_same_in_every_layout(
    ref: Model, sampler: str, n: int, threads: int
) -> None:
    """sample_theta_t's ``samples`` in the three layouts: the same theta_t, and samples equal
    byte for byte to ``(theta_t[uncertain_slot] / uncertain_scale[:, None]).T``; the rows of
    the larger array outside the chunk untouched. (4097 draws x 86 columns is above
    fill_theta's one-thread size, so two threads take shares.) The reference has columns of
    scale 1 (rng.sample_rows copies their values into samples) and of other scales (divided)."""
    factor = engine.correlation_factor(ref)
    assert factor is not None  # the reference has a copula: its task writes samples too
    assert (ref.uncertain_scale == 1.0).any() and (ref.uncertain_scale != 1.0).any()
    u = len(ref.uncertain)
    got = {}
    for name, (target, whole) in _layouts(n, u).items():
        tht = ref.sample_theta_t(
            sampler, n, seed=17, chunk=3, threads=threads, factor=factor, samples=target
        )
        expect = (tht[ref.uncertain_slot] / ref.uncertain_scale[:, None]).T
        assert _same_bits(target, expect), name
        if name == "slice":
            assert np.all(whole[:2] == 9.0) and np.all(whole[n + 2 :] == 9.0)
        got[name] = (tht, target.copy())
    for name in ("F", "slice"):
        assert _same_bits(got[name][0], got["C"][0])
        assert _same_bits(got[name][1], got["C"][1])


@pytest.mark.parametrize("threads", [1, 2])
def test_given_uniforms_with_nan_and_edges_every_layout(ref: Model, threads: int) -> None:
    """fill_theta on given uniforms (the twin mode) with 0, 1, NaN of both signs, 2^-53 and
    1 - 2^-53, subnormals and random ones in every column: NaN uniforms give NaN values
    (the same bits in every layout), and samples are ``tht / scale`` in each layout."""
    plan, invs = ref.column_plan, ref.inverse_cdfs
    u = plan.kind.size
    edge = np.array([0.0, 1.0, np.nan, -np.nan, 2**-53, 1 - 2**-53, 5e-324, 1e-300, 0.5])
    g = np.random.default_rng(8)
    ut = np.vstack([np.concatenate([edge, g.random(300)]) for _ in range(u)])
    ut = np.clip(ut, 2**-53, 1 - 2**-53) * np.where(np.isnan(ut), np.nan, 1.0)
    n = ut.shape[1]
    rows = np.arange(u, dtype=np.int64)
    scale = ref.uncertain_scale
    results = {}
    for name, (target, _) in _layouts(n, u).items():
        tht = np.full((u, n), 7.0)
        rng.fill_theta(plan, invs, tht, rows, scale, ut=ut, samples=target, threads=threads)
        assert _same_bits(target, (tht / scale[:, None]).T), name
        results[name] = (tht, target.copy())
    assert np.isnan(results["C"][1][2]).all()  # the NaN uniforms' draws
    for name in ("F", "slice"):
        assert _same_bits(results[name][0], results["C"][0])
        assert _same_bits(results[name][1], results["C"][1])


def test_simulated_samples_column_major_and_as_before(ref: Model) -> None:
    """engine.simulate keeps its samples column-major (each column contiguous), with the
    values of compute_chunk chunk by chunk into C-ordered arrays (the old layout), for chunks
    of 1, 7 and 4,096 draws; and the Sobol' path (samples from theta_t, not the sampler)."""
    for sampler, cs, draws in (("lhs", 1, 5), ("random", 7, 30), ("lhs", 4096, 9000)):
        run = engine.simulate(ref, draws=draws, seed=4, sampler=sampler, chunk_size=cs)
        assert run.samples is not None and run.samples.T.flags.c_contiguous
        old = np.empty((draws, len(ref.uncertain)))
        for j, (lo, hi) in enumerate(engine.chunk_bounds(draws, cs)):
            engine.compute_chunk(
                ref, j, draws=draws, seed=4, sampler=sampler, chunk_size=cs, samples_out=old[lo:hi]
            )
        assert _same_bits(run.samples, old)
    run = engine.simulate(ref, draws=40, seed=4, sampler="sobol", chunk_size=16)
    assert run.samples is not None
    for j, (lo, hi) in enumerate(engine.chunk_bounds(40, 16)):
        res = engine.compute_chunk(ref, j, draws=40, seed=4, sampler="sobol", chunk_size=16)
        assert res.samples is not None and _same_bits(run.samples[lo:hi], res.samples)


def test_full_strength_reads_any_layout(ref: Model) -> None:
    """FullStrength.of_samples on C-ordered, column-major and non-contiguous (rows of a larger
    column-major array) samples, with NaN, -0.0 and inf among them: the figures of
    FullStrength(theta) on theta_of_samples (the definition), byte for byte; n = 1 too."""
    fs = implied.FullStrength(ref, implied.full_strength_index(ref))
    run = engine.simulate(ref, draws=300, seed=2, chunk_size=128)
    assert run.samples is not None
    s = np.array(run.samples)  # C order
    s[0, :] = np.nan
    s[1, :] = -0.0
    s[2, ::3] = np.inf
    want = fs(implied.theta_of_samples(ref, s))
    big = engine.column_major(310, s.shape[1])
    big[5:305] = s
    f = engine.column_major(300, s.shape[1])
    f[...] = s
    for src in (s, f, big[5:305]):
        got = fs.of_samples(src)
        assert _same_bits(got[0], want[0]) and _same_bits(got[1], want[1])
    one = fs.of_samples(f[7:8])
    assert _same_bits(one[0], want[0][7:8]) and _same_bits(one[1], want[1][7:8])


def test_draws_stream_buffers_the_same_from_either_layout(ref: Model, tmp_path: Path) -> None:
    """DrawsStream's row-group buffers (columns_view, read_rows) hold the same values whether
    the chunks come C-ordered or column-major, for chunks that cross row groups."""
    run = engine.simulate(ref, draws=700, seed=9, chunk_size=100)
    assert run.samples is not None
    views = []
    for order in ("C", "F"):
        folder = tmp_path / order
        folder.mkdir()
        s = DrawsStream(folder, ref, 700, 100, 256, seed=9, sampler="lhs", buffers=3)
        for lo in range(0, 700, 100):
            chunk = np.array(run.samples[lo : lo + 100], order=order)  # type: ignore[call-overload]  # order is "C" or "F"
            s(lo, chunk)
        got = np.empty((700, len(ref.uncertain)))
        for lo in range(0, 700, 256):
            hi = min(700, lo + 256)
            view = s.columns_view(lo, hi)
            assert view is not None
            assert _same_bits(view, run.samples[lo:hi].T)
            s.read_rows(lo, hi, got[lo:hi])
        assert _same_bits(got, run.samples)
        views.append(got)
    assert _same_bits(views[0], views[1])
