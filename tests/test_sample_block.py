"""Issue 17, target 7 (i29-block): a block of chunks sampled in one compiled call per thread.

``mkba.rng.fill_theta_block`` samples several chunks at once (``mkba.rng.sample_rows`` over
the block: each chunk with its own streams, entropy head, Latin hypercube over its own n and
copula), ``mkba.engine.BlockSampler`` hands a run's chunks out a block at a time, and
``engine.simulate`` / ``engine.simulate_twin`` use it. The expected values are those of the
chunk-by-chunk path: ``mkba.rng.fill_theta`` of each chunk (itself held equal to the NumPy
reference in tests/test_rng.py) and ``engine.simulate`` with ``MKBA_SAMPLE_BLOCK=0``
(``engine.compute_chunk``, also the Dask path). Every comparison is of the bytes.
"""

from __future__ import annotations

import os
from typing import Any

import numba
import numpy as np
import pytest

from mkba import engine, rng
from mkba.model import Model
from mkba.rng import block_chunks, fill_theta_block


def _same(x: np.ndarray | None, y: np.ndarray | None) -> bool:
    if x is None or y is None:
        return x is None and y is None
    return x.shape == y.shape and x.dtype == y.dtype and x.tobytes() == y.tobytes()


def _per_chunk(
    m: Model, sampler: str, chunks: list[int], n: int, factor: Any, u_cols: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(thetas B x slots x n, samples U x B*n, uniforms of u_cols B x k x n) chunk by chunk."""
    thts, samp, us = [], [], []
    for c in chunks:
        s = engine.column_major(n, len(m.uncertain))
        u = None if u_cols is None else np.empty((len(u_cols), n))
        thts.append(
            m.sample_theta_t(
                sampler, n, seed=11, chunk=c, factor=factor, samples=s, u_cols=u_cols, u_out=u
            )
        )
        samp.append(np.ascontiguousarray(s.T))
        us.append(u)
    return np.stack(thts), np.concatenate(samp, axis=1), None if u_cols is None else np.stack(us)


@pytest.mark.parametrize("sampler", ["random", "lhs"])
@pytest.mark.parametrize("copula", [True, False])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("n", [1, 700, 4096])
def test_a_block_is_its_chunks_one_by_one(
    ref: Model, sampler: str, copula: bool, threads: int, n: int
) -> None:
    """Parameter rows (fixed ones included), sampled values and the twin's uniforms of a block
    of chunks (not starting at 0, not consecutive) are those of fill_theta chunk by chunk,
    for any thread count, with and without the copula; the samples land at their offsets of
    a wider array, which is otherwise left alone."""
    factor = engine.correlation_factor(ref) if copula else None
    chunks = [3, 4, 9]
    cols = np.array([2, 9, 0, 85, 39], dtype=np.int64)  # correlated and not
    want_t, want_s, want_u = _per_chunk(ref, sampler, chunks, n, factor, cols)
    u_count = len(ref.uncertain)
    thts = np.full((len(chunks), ref.theta_fixed.size, n), np.nan)
    samples = np.full((u_count, len(chunks) * n + 5), -1.0)
    u = np.empty((len(chunks), cols.size, n))
    fill_theta_block(
        ref.column_plan, ref.inverse_cdfs, thts, ref.uncertain_slot, ref.uncertain_scale,
        sampler=sampler, seed=11, chunks=chunks, cols=ref.uncertain_col, factor=factor,
        samples=samples, offsets=[2 + b * n for b in range(len(chunks))], threads=threads,
        fixed=ref.fixed_rows, u_cols=cols, u_out=u,
    )  # fmt: skip
    assert _same(thts, want_t)
    assert _same(np.ascontiguousarray(samples[:, 2 : 2 + len(chunks) * n]), want_s)
    assert np.all(samples[:, :2] == -1.0) and np.all(samples[:, 2 + len(chunks) * n :] == -1.0)
    assert _same(u, want_u)


def test_a_block_without_samples_or_fixed_rows(ref: Model) -> None:
    """Without samples the rows are the same; without ``fixed`` the fixed rows are left as
    they were (a caller reusing its matrices sets them once)."""
    factor = engine.correlation_factor(ref)
    want_t, _, _ = _per_chunk(ref, "lhs", [0, 1], 1000, factor)
    thts = np.full((2, ref.theta_fixed.size, 1000), 5.0)
    fill_theta_block(
        ref.column_plan, ref.inverse_cdfs, thts, ref.uncertain_slot, ref.uncertain_scale,
        sampler="lhs", seed=11, chunks=[0, 1], cols=ref.uncertain_col, factor=factor,
    )  # fmt: skip
    fixed = ref.fixed_rows[0]
    assert np.all(thts[:, fixed] == 5.0)
    rest = np.setdiff1d(np.arange(ref.theta_fixed.size), fixed)
    assert _same(thts[:, rest], want_t[:, rest])


def test_chunk_indices_of_other_entropy_lengths(ref: Model) -> None:
    """A chunk index past 2**32 has an entropy word more: a block mixing such chunks is
    sampled chunk by chunk, the same numbers."""
    chunks = [2**32 - 1, 2**32]
    want_t, want_s, _ = _per_chunk(ref, "lhs", chunks, 300, None)
    thts = np.empty((2, ref.theta_fixed.size, 300))
    samples = np.empty((len(ref.uncertain), 600))
    fill_theta_block(
        ref.column_plan, ref.inverse_cdfs, thts, ref.uncertain_slot, ref.uncertain_scale,
        sampler="lhs", seed=11, chunks=chunks, cols=ref.uncertain_col, samples=samples,
        offsets=[0, 300], fixed=ref.fixed_rows,
    )  # fmt: skip
    assert _same(thts, want_t) and _same(samples, want_s)


def test_a_block_refuses_what_it_cannot_sample(ref: Model) -> None:
    thts = np.empty((1, ref.theta_fixed.size, 10))
    args = (ref.column_plan, ref.inverse_cdfs, thts, ref.uncertain_slot, ref.uncertain_scale)
    with pytest.raises(ValueError, match="no independent columns"):
        fill_theta_block(*args, sampler="sobol", seed=1, chunks=[0], cols=ref.uncertain_col)
    with pytest.raises(ValueError, match="outside samples"):
        fill_theta_block(
            *args, sampler="lhs", seed=1, chunks=[0], cols=ref.uncertain_col,
            samples=np.empty((len(ref.uncertain), 15)), offsets=[6],
        )  # fmt: skip


def test_block_chunks_bounds_the_memory() -> None:
    """As many chunks as fit in BLOCK_BYTES (the reference: 121 slots x 4,096 draws, 3.97 MB a
    chunk), at least one, at most 16."""
    assert block_chunks(121, 4096) == rng.BLOCK_BYTES // (8 * 121 * 4096) == 4
    assert block_chunks(121, 4096, 1) == 1
    assert block_chunks(1, 1) == 16
    assert block_chunks(10**6, 10**6) == 1


def _spy_blocks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of chunks of every block :func:`mkba.rng.fill_theta_block` samples from
    now on (review 14b: the comparisons alone would pass with blocks never taken)."""
    calls: list[int] = []
    real = rng.fill_theta_block

    def spy(*args: Any, **kwargs: Any) -> None:
        calls.append(len(kwargs["chunks"]))
        real(*args, **kwargs)

    monkeypatch.setattr(rng, "fill_theta_block", spy)
    return calls


def _runs(m: Model, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[engine.Run, engine.Run]:
    calls = _spy_blocks(monkeypatch)
    monkeypatch.setenv(engine.BLOCK_ENV, "0")
    want = engine.simulate(m, **kw)
    assert all(c == 1 for c in calls)  # chunk by chunk (fill_theta: a block of one chunk)
    calls.clear()
    monkeypatch.setenv(engine.BLOCK_ENV, "1")
    got = engine.simulate(m, **kw)
    if kw.get("backend", "numba") == "numba" and kw.get("sampler", "lhs") in ("lhs", "random"):
        assert calls  # in blocks
        draws, size = kw["draws"], kw["chunk_size"]
        if draws >= 2 * size and 2 * 8 * m.theta_fixed.size * size <= rng.BLOCK_BYTES:
            assert max(calls) > 1  # (a block of more than one chunk)
    return want, got


def _check_runs(want: engine.Run, got: engine.Run) -> None:
    for name, x in want.outcomes.fields().items():
        assert _same(getattr(got.outcomes, name), x), name
    assert _same(got.samples, want.samples)
    assert _same(got.chunk_means, want.chunk_means)
    assert set(got.timings) == set(want.timings)


@pytest.mark.parametrize("limit", [None, 1, 2 * 8 * 121 * 1024])
@pytest.mark.parametrize(("draws", "keep"), [(1, True), (4500, True), (4500, False), (3072, True)])
def test_simulate_in_blocks_is_simulate_chunk_by_chunk(
    ref: Model, monkeypatch: pytest.MonkeyPatch, limit: int | None, draws: int, keep: bool
) -> None:
    """Blocks of 1, 2 and 16 chunks (the last one shorter, or all of one size), with samples
    kept, passed to on_samples chunk by chunk, or neither."""
    if limit is not None:
        monkeypatch.setattr(rng, "BLOCK_BYTES", limit)
    seen: dict[str, list[tuple[int, bytes]]] = {"0": [], "1": []}

    def sink(lo: int, s: np.ndarray) -> None:
        seen[os.environ[engine.BLOCK_ENV]].append((lo, np.ascontiguousarray(s).tobytes()))

    kw = {"draws": draws, "seed": 5, "chunk_size": 1024, "keep_samples": keep}
    _check_runs(*_runs(ref, monkeypatch, on_samples=sink, **kw))
    assert seen["0"] == seen["1"] and len(seen["1"]) == -(-draws // 1024)
    _check_runs(*_runs(ref, monkeypatch, **kw))  # no sink: with keep=False no samples at all


def test_simulate_in_blocks_spilled_random_and_numpy(
    ref: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rng, "BLOCK_BYTES", 3 * 8 * 121 * 1024)
    kw: dict[str, Any] = {"draws": 5000, "seed": 8, "chunk_size": 1024}
    want, got = _runs(ref, monkeypatch, spill_samples=True, **kw)
    _check_runs(want, got)
    assert got.spilled is not None and want.spilled is not None
    assert _same(np.asarray(got.spilled[0:5000]), np.asarray(want.spilled[0:5000]))
    _check_runs(*_runs(ref, monkeypatch, sampler="random", **kw))
    _check_runs(*_runs(ref, monkeypatch, backend="numpy", draws=1500, seed=8, chunk_size=1024))


def test_simulate_in_blocks_whatever_the_thread_count(
    ref: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        want = engine.simulate(ref, draws=3000, seed=2, chunk_size=1024)
        numba.set_num_threads(max(2, threads))
        got = engine.simulate(ref, draws=3000, seed=2, chunk_size=1024)
    finally:
        numba.set_num_threads(threads)
    _check_runs(want, got)


def test_block_sampler_holds_one_block(ref: Model) -> None:
    """The matrices of one block are held and reused (not the run's); a chunk's matrix is that
    block's entry; its uniforms and samples are the block's."""
    bs = engine.BlockSampler(
        ref, draws=7 * 1024 + 10, seed=1, sampler="lhs", chunk_size=1024, block=3,
        passing=True, u_cols=np.array([0, 5]),
    )  # fmt: skip
    first = bs.theta(0)
    assert bs.thts is not None and bs.thts.shape == (3, ref.theta_fixed.size, 1024)
    held = bs.thts
    assert bs.theta(2).base is held and first.base is held
    bs.theta(3)
    assert bs.thts is held and (bs.first, bs.count) == (3, 3)
    s = bs.chunk_samples(4)
    assert s is not None and s.shape == (1024, len(ref.uncertain))
    assert bs.uniforms(5).shape == (2, 1024)
    last = bs.theta(7)  # the shorter last chunk: a block of its own
    assert last.shape == (ref.theta_fixed.size, 10) and (bs.first, bs.count) == (7, 1)
    with pytest.raises(AssertionError):  # a chunk outside the current block
        bs.chunk_samples(6)


def test_block_sampler_read_backwards_sets_every_fixed_row(ref: Model) -> None:
    """Chunks asked for out of order (no caller does): a later block longer than the first
    one sampled still gets the fixed rows in every entry (review 14b)."""
    kw: dict[str, Any] = {"draws": 4 * 1024, "seed": 4, "sampler": "lhs", "chunk_size": 1024}
    fixed_rows, fixed_vals = ref.fixed_rows
    bs = engine.BlockSampler(ref, block=3, **kw)
    bs.theta(2)  # a block of chunks 2-3 (two entries get the fixed rows), then one of 0-2
    for j in range(3):
        th = bs.theta(j)
        assert np.array_equal(
            th[fixed_rows], np.broadcast_to(fixed_vals[:, None], th[fixed_rows].shape)
        )


def test_simulate_twin_in_blocks_is_chunk_by_chunk(
    ref: Model, evi: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The twin pass (a run and its companion) in blocks: both runs' outcomes, samples and
    chunk means, and what the on_sampled consumer saw, as chunk by chunk."""
    monkeypatch.setattr(rng, "BLOCK_BYTES", 2 * 8 * 121 * 1024)
    kw: dict[str, Any] = {"draws": 4500, "seed": 7, "sampler": "lhs", "chunk_size": 1024}
    twin = engine.twin_of(
        ref, evi, **kw, other_draws=4500, other_seed=7, other_sampler="lhs", other_chunk_size=1024
    )
    assert twin is not None
    out: dict[str, Any] = {}
    calls = _spy_blocks(monkeypatch)
    for v in ("0", "1"):
        monkeypatch.setenv(engine.BLOCK_ENV, v)
        seen: list[tuple[int, bytes, bytes]] = []

        def sampled(lo: int, s: np.ndarray, t: np.ndarray) -> None:
            seen.append((lo, np.ascontiguousarray(s).tobytes(), np.ascontiguousarray(t).tobytes()))  # noqa: B023

        for keep in (True, False):
            out[v, keep] = (engine.simulate_twin(ref, twin, keep_samples=keep, on_sampled=sampled, **kw), list(seen))  # fmt: skip
            seen.clear()
        assert calls and max(calls) == (1 if v == "0" else 2)  # chunk by chunk, then in
        calls.clear()  # blocks of two chunks (fill_theta samples a block of one chunk)
    for keep in (True, False):
        (want, want_seen), (got, got_seen) = out["0", keep], out["1", keep]
        assert want_seen == got_seen and len(got_seen) == 5
        for a, b in zip(want, got, strict=True):
            _check_runs(a, b)


def test_simulate_announces_the_compile_for_its_area_type(
    ref: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    """simulate's block path starts the compile for the per-area type the run uses (review
    14c: it asked for the float64 kernel, so a cold float32 run without a companion compiled
    the unused float64 kernel first)."""
    seen: list[Any] = []
    monkeypatch.setattr(engine, "announce_compile", lambda m, dt=np.float64: seen.append(dt))
    for dt in (np.float32, np.float64):
        engine.simulate(ref, draws=1500, seed=1, chunk_size=1024, area_dtype=dt)
    assert seen and {np.dtype(d) for d in seen} == {np.dtype(np.float32), np.dtype(np.float64)}
    assert np.dtype(seen[0]) == np.float32
