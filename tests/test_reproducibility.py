"""Same seed and inputs give bit-identical results, whatever the threads; Monte Carlo error
shrinks as 1/sqrt(N)."""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np
import pytest

from mkba import engine
from mkba.load import load_scenario
from mkba.model import lower
from mkba.schema.scenario import PERSPECTIVES

REFERENCE = Path(__file__).parents[1] / "scenarios" / "reference-2021.toml"


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return lower(load_scenario(REFERENCE))


def _arrays(run: engine.Run) -> dict[str, np.ndarray]:
    return run.outcomes.fields()


def _identical(a: engine.Run, b: engine.Run) -> None:
    for k, v in _arrays(a).items():
        w = _arrays(b)[k]
        assert v.shape == w.shape
        assert np.array_equal(v, w, equal_nan=True), k


@pytest.mark.parametrize("sampler", ["random", "lhs", "sobol"])
def test_same_seed_twice_is_bit_identical(model, sampler: str) -> None:  # type: ignore[no-untyped-def]
    a = engine.simulate(model, draws=3000, seed=11, sampler=sampler, chunk_size=1024)
    b = engine.simulate(model, draws=3000, seed=11, sampler=sampler, chunk_size=1024)
    _identical(a, b)
    c = engine.simulate(model, draws=3000, seed=12, sampler=sampler, chunk_size=1024)
    assert not np.array_equal(a.outcomes.benefits, c.outcomes.benefits)


def test_thread_count_does_not_change_results(model) -> None:  # type: ignore[no-untyped-def]
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = engine.simulate(model, draws=2500, seed=5, chunk_size=1024)
        numba.set_num_threads(max(2, threads))
        two = engine.simulate(model, draws=2500, seed=5, chunk_size=1024)
    finally:
        numba.set_num_threads(threads)
    _identical(one, two)


@pytest.mark.parametrize("sampler", ["random", "lhs", "sobol"])
def test_chunks_make_results_prefix_stable(model, sampler: str) -> None:  # type: ignore[no-untyped-def]
    """Chunk j always holds the same draws: a longer run extends a shorter one."""
    short = engine.simulate(model, draws=2048, seed=3, sampler=sampler, chunk_size=1024)
    long = engine.simulate(model, draws=4096, seed=3, sampler=sampler, chunk_size=1024)
    for k, v in _arrays(short).items():
        assert np.array_equal(v, _arrays(long)[k][: v.shape[0]], equal_nan=True), k


def test_standard_error_shrinks_as_one_over_sqrt_n(model) -> None:  # type: ignore[no-untyped-def]
    """Empirical spread of the mean NPV over 30 independent seeds, at N and 4N draws: the
    ratio should be 2 (1/sqrt(N)). With 30 replications the ratio of two standard deviations
    has a relative error of about 18 %, so [1.5, 2.7] is a 2.5-sigma band."""
    p = PERSPECTIVES.index("study")

    def means(n: int) -> np.ndarray:
        return np.array(
            [
                engine.simulate(model, draws=n, seed=100 + s, sampler="random", chunk_size=n)
                .outcomes.npv[:, p]
                .mean()
                for s in range(30)
            ]
        )

    m1, m4 = means(200), means(800)
    ratio = m1.std(ddof=1) / m4.std(ddof=1)
    assert 1.5 < ratio < 2.7, ratio
    # and the reported standard error (sd / sqrt(N)) matches the empirical spread
    run = engine.simulate(model, draws=800, seed=999, sampler="random", chunk_size=800)
    se = run.outcomes.npv[:, p].std(ddof=1) / np.sqrt(800)
    assert 0.7 < se / m4.std(ddof=1) < 1.4


def test_running_convergence_matches_direct_statistics(model) -> None:  # type: ignore[no-untyped-def]
    """The one-pass running mean and standard error over chunks equal the direct formulas on
    every prefix of whole chunks."""
    from mkba import results

    run = engine.simulate(model, draws=2500, seed=8, chunk_size=1024)
    conv = results.convergence(run)
    npv = run.outcomes.npv[:, PERSPECTIVES.index(model.spec.scenario.perspective)]
    for row in conv["running"]:
        x = npv[: row["draws"]]
        assert row["mean"] == pytest.approx(x.mean(), rel=1e-12)
        assert row["se"] == pytest.approx(x.std(ddof=1) / np.sqrt(x.size), rel=1e-9)
    assert [r["draws"] for r in conv["running"]] == [1024, 2048, 2500]
