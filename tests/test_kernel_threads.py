"""The compiled kernels run on Python threads over disjoint draw ranges (issue 17, target 9:
no ``parallel=True``). Any split of the draws gives bit-identical numbers, and the kernel's
shortcuts (division-free years of the time profile, unit values generated year by year,
parameters copied in batches of blocks) agree with the NumPy reference on edge cases."""

from __future__ import annotations

import itertools
from pathlib import Path

import numba
import numpy as np
import pytest

from mkba import engine, kernel
from mkba.load import load_scenario
from mkba.model import lower

REFERENCE = Path(__file__).parents[1] / "scenarios" / "reference-2021.toml"
B = kernel._BLOCK


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return lower(load_scenario(REFERENCE))


def _theta_t(m, n: int, seed: int = 3) -> np.ndarray:  # type: ignore[no-untyped-def]
    u = engine.uniforms(m, 0, n, seed=seed, sampler="random", chunk=0, chunk_size=n)
    return np.ascontiguousarray(m.theta_t(u))


@pytest.mark.parametrize(
    ("n", "parts"),
    [(0, 2), (1, 1), (1, 4), (63, 2), (64, 2), (65, 2), (4096, 2), (4096, 3), (1000, 16), (200, 1)],
)
def test_draw_ranges_cover_the_draws_in_whole_blocks(n: int, parts: int) -> None:
    bounds = kernel.draw_ranges(n, parts)
    assert bounds[0] == 0 and bounds[-1] == n
    assert all(a <= b for a, b in itertools.pairwise(bounds))
    assert len(bounds) - 1 == max(1, min(parts, -(-n // B)))
    # every range starts on a block boundary, so no block is shared between two threads
    assert all(b % B == 0 for b in bounds[:-1])
    # as equal as whole blocks allow
    sizes = [-(-(b - a) // B) for a, b in itertools.pairwise(bounds)]
    assert max(sizes) - min(sizes) <= 1


def test_draw_ranges_by_hand() -> None:
    # bounds are (blocks * j // parts) * 64, the last one n
    assert kernel.draw_ranges(4096, 2) == [0, 2048, 4096]  # 64 blocks: 32 + 32
    assert kernel.draw_ranges(4096, 3) == [0, 1344, 2688, 4096]  # 21 + 21 + 22 blocks
    assert kernel.draw_ranges(200, 2) == [0, 128, 200]  # 4 blocks, the last partial: 2 + 2
    assert kernel.draw_ranges(100, 8) == [0, 64, 100]  # only 2 blocks to share
    assert kernel.draw_ranges(0, 2) == [0, 0]


def _outputs(m, n: int):  # type: ignore[no-untyped-def]
    A, C, K, T = len(m.areas), len(m.components), len(m.stakeholders), len(m.years)
    ben, cost = np.full((n, A, C), -1.0), np.full((n, A, K), -1.0)
    rest = [np.full((n, T), -1.0), np.full((n, T), -1.0), np.full((n, C), -1.0)]
    rest.append(np.full((n, K), -1.0))
    area = np.full((n, A), -1.0, order="F"), np.full((n, A), -1.0, order="F")
    return ben, cost, rest, area


@pytest.mark.parametrize("keep_areas", [False, True])
def test_any_split_of_the_draws_is_bit_identical(model, keep_areas: bool) -> None:  # type: ignore[no-untyped-def]
    """Ranges that do not start on a block boundary (a draw's lane then differs) and that cut
    the batches of parameter copies give the same bits as one call over all draws."""
    m = model
    n = 1300  # two batches of 8 blocks and a partial block
    tht = _theta_t(m, n)
    args = engine._kernel_args(m)
    results = []
    # the model's fixed slots read once per call (as the engine passes them), and every row
    # read per draw: the same bits
    for const in (m.fixed_rows[0], np.empty(0, dtype=np.int64)):
        for cuts in ([0, n], [0, 37, 512, 555, 1299, n], [0, 64, 128, 1024, n], [0, 1, n]):
            ben, cost, rest, area = _outputs(m, n)
            if not keep_areas:
                ben, cost = ben[:0], cost[:0]
            for lo, hi in itertools.pairwise(cuts):
                kernel.simulate_chunk(  # type: ignore[call-arg]  # numba Dispatcher.__call__ is typed without arguments
                    tht, *args, const, keep_areas, ben, cost, *rest, *kernel.area_outputs(*area),
                    *engine._no_twin(area[0]), lo, hi,
                )  # fmt: skip
            results.append([ben, cost, *rest, *area])
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            assert np.array_equal(a, b, equal_nan=True)
    for x in results[0]:
        assert not np.any(x == -1.0)  # every element written


def test_empty_and_reversed_ranges_write_nothing(model) -> None:  # type: ignore[no-untyped-def]
    m = model
    n = 100
    tht = _theta_t(m, n)
    ben, cost, rest, area = _outputs(m, n)
    for lo, hi in ((0, 0), (50, 50), (60, 10), (100, 200)):
        kernel.simulate_chunk(  # type: ignore[call-arg]  # numba Dispatcher.__call__ is typed without arguments
            tht,
            *engine._kernel_args(m),
            m.fixed_rows[0],
            True,
            ben,
            cost,
            *rest,
            *kernel.area_outputs(*area),
            *engine._no_twin(area[0]),
            lo,
            hi,
        )
    for x in (ben, cost, *rest, *area):
        assert np.all(x == -1.0)


def test_thread_count_does_not_change_results(model, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The engine splits each chunk into one range per thread (numba's thread count, as for
    the sampling): 1, 2 (numba's own setting) and 3 or 5 ranges (more than this machine's
    cores; 4,096 draws on 3 ranges are 21 + 21 + 22 blocks) give the same bits, on the
    totals path and on the raw path with a bottom-up reduction."""
    threads = numba.get_num_threads()
    runs = []
    try:
        numba.set_num_threads(1)
        runs.append(engine.simulate(model, draws=5000, seed=9, chunk_size=4096))
        numba.set_num_threads(max(2, threads) if numba.config.NUMBA_NUM_THREADS > 1 else 1)
        runs.append(engine.simulate(model, draws=5000, seed=9, chunk_size=4096))
    finally:
        numba.set_num_threads(threads)
    for parts in (3, 5):
        monkeypatch.setattr(engine, "sampling_threads", lambda p=parts: p)
        runs.append(engine.simulate(model, draws=5000, seed=9, chunk_size=4096))
    for run in runs[1:]:
        for k, v in runs[0].outcomes.fields().items():
            assert np.array_equal(v, run.outcomes.fields()[k], equal_nan=True), k
    # evaluate() and the raw path (per-area outputs, reduced by kernel.aggregate) on 1 and 3
    # ranges
    theta = np.ascontiguousarray(_theta_t(model, 700).T)
    out, raw = {}, {}
    for parts in (1, 3):
        monkeypatch.setattr(engine, "sampling_threads", lambda p=parts: p)
        out[parts] = engine.evaluate(model, theta)
        raw[parts] = engine.raw_chunk(model, theta)
        rows = engine.Outcomes.empty(700, model)
        engine._aggregate_into(model, raw[parts], rows, slice(0, 700))
        out[parts + 10] = rows
    for k, v in out[1].fields().items():
        for other in (3, 11, 13):
            assert np.array_equal(v, out[other].fields()[k], equal_nan=True), (k, other)
    for a, b in zip(raw[1], raw[3], strict=True):
        assert np.array_equal(a, b, equal_nan=True)


RAMP_EDGES = [0.0, 1e-300, 0.5, 1.0, 2.0, 3.0, 7.25, 40.0, np.inf, np.nan]


@pytest.mark.parametrize("lag", [0.0, 1.0, 1.5, -0.25, "mixed"])
def test_time_profile_edges_match_the_reference(model, lag: float | str) -> None:  # type: ignore[no-untyped-def]
    """Ramps of 0 (no ramp), tiny, whole years that the ramp-up reaches exactly (x == ramp,
    where the kernel skips the division), longer than the horizon, infinite and NaN, with
    whole, fractional and per-lane different lags: the kernel equals the NumPy reference
    (rtol 1e-12; NaN where the reference has NaN)."""
    m = model
    S = len(m.streams)
    n = 2 * B + 5  # lanes of a full block see several ramps at once; a partial last block
    tht = _theta_t(m, n, seed=11)
    r0, l0 = m.slots.stream("ramp"), m.slots.stream("lag")
    for s in range(S):
        tht[r0 + s] = np.resize(np.roll(RAMP_EDGES, s), n)
        # "mixed": lanes of one block start (and finish ramping up) in different years, so the
        # kernel's check for ramp-up years runs on after some lanes are past their ramp
        tht[l0 + s] = np.resize([0.0, 0.5, 2.0, 7.3, -0.25, 25.0], n) if lag == "mixed" else lag
    theta = np.ascontiguousarray(tht.T)
    fast = engine.raw_chunk(m, theta, "numba")
    slow = engine.raw_chunk(m, theta, "numpy")
    for a, b in zip(fast, slow, strict=True):
        assert np.array_equal(np.isnan(a), np.isnan(b))
        ok = ~np.isnan(b)
        scale = max(float(np.abs(b[ok]).max()), 1.0) if ok.any() else 1.0
        np.testing.assert_allclose(a[ok], b[ok], rtol=1e-12, atol=1e-12 * scale)


def test_thread_count_without_starting_numbas_threading_layer():
    """sampling_threads() reads NUMBA_NUM_THREADS while numba's threading layer is not started
    (nothing on the run path is parallel=True; starting OpenMP costs 80-110 ms a run), and
    numba's own count once the layer runs (set_num_threads starts it)."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import os
        os.environ["NUMBA_NUM_THREADS"] = "2"
        from numba.np.ufunc import parallel
        from mkba.sampling import sampling_threads
        assert sampling_threads() == 2
        assert not parallel._is_initialized, "sampling_threads started the threading layer"
        import numba
        numba.set_num_threads(1)
        assert sampling_threads() == 1
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
