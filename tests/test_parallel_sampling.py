"""Sampling columns in parallel (issue 17, target 7) gives the same numbers as one thread.

Every uncertain parameter draws its own stream ``SeedSequence(seed, spawn_key=(chunk, column))``
(:func:`mkba.sampling.column_seed`); :meth:`Model.sample_theta_t` draws, clips, transforms and
scales those columns on several threads. It must equal the two-step path
``Model.theta_t(uniform_matrix(...))`` element for element, for any number of threads, and
:func:`uniform_matrix` must still give each column the numbers of its own stream.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mkba import engine
from mkba.load import load_scenario
from mkba.model import lower
from mkba.sampling import _EPS, _lhs_column, column_seed, map_columns, uniform_matrix

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return lower(load_scenario(REFERENCE))


@pytest.mark.parametrize("sampler", ["random", "lhs"])
@pytest.mark.parametrize("threads", [1, 2, 5])
def test_parallel_theta_equals_the_two_step_path(model, sampler: str, threads: int) -> None:  # type: ignore[no-untyped-def]
    m = model
    n, chunk = 777, 3
    u = engine.uniforms(m, 0, n, seed=9, sampler=sampler, chunk=chunk, chunk_size=n)
    two_step = m.theta_t(u)
    fused = m.sample_theta_t(sampler, n, seed=9, chunk=chunk, threads=threads)
    assert np.array_equal(fused, two_step)


@pytest.mark.parametrize("sampler", ["random", "lhs"])
def test_each_column_is_its_own_stream(sampler: str) -> None:
    n = 100
    u = uniform_matrix(sampler, n, 7, seed=4, chunk=2, chunk_size=n, columns=[5, 1])
    assert u.shape == (n, 2) and u.flags.c_contiguous
    for j, k in enumerate([5, 1]):
        rng = np.random.default_rng(column_seed(4, 2, k))  # spawn_key (chunk, column)
        if sampler == "random":
            expect = rng.random(n)
        else:
            expect = np.empty(n)
            _lhs_column(rng.random(2 * n), expect)
        assert np.array_equal(u[:, j], np.clip(expect, _EPS, 1 - _EPS))


def test_map_columns_visits_every_column_once_whatever_the_threads() -> None:
    seen: list[int] = []
    map_columns(
        "random", 10, list(range(40)), lambda j, u: seen.append(j), seed=1, chunk=0, threads=3
    )
    assert sorted(seen) == list(range(40))


@pytest.mark.parametrize("threads", [2, 5])
def test_theta_t_on_threads_equals_one_thread_with_the_copula(model, threads: int) -> None:  # type: ignore[no-untyped-def]
    """The two-step path (the reference's, with correlated parameters) puts the columns
    through their inverse CDFs on several threads: the same bits as one thread."""
    m = model
    factor = engine.correlation_factor(m)
    assert factor is not None  # the reference correlates its effects
    u = engine.uniforms(m, 0, 1000, seed=4, sampler="lhs", chunk=0, chunk_size=1000, factor=factor)
    one = m.theta_t(u, threads=1)
    many = m.theta_t(u, threads=threads)
    assert np.array_equal(one.view(np.uint64), many.view(np.uint64))


def test_for_each_runs_nested_tasks_serially_instead_of_deadlocking() -> None:
    """A task of the sampling pool that itself maps over the pool must not wait for workers
    that are all busy waiting (here: 2 workers, each task nesting another for_each)."""
    from mkba.sampling import for_each

    seen = np.zeros((4, 3), dtype=int)

    def inner(i: int) -> None:
        def leaf(j: int) -> None:
            seen[i, j] += 1

        for_each(leaf, 3, threads=2)

    for_each(inner, 4, threads=2)
    assert (seen == 1).all()


@pytest.mark.parametrize("failing", [0, 1, 2])
def test_for_each_raises_a_tasks_error_after_every_task_ran(failing: int) -> None:
    """The calling thread runs the first group itself: an error in any group (its own or a
    worker's) reaches the caller, and only after the other groups have finished. The last
    task of a worker's group other than the failing one is slow (0.3 s): an error that went
    up before that group ended would leave it undone."""
    import time

    from mkba.sampling import for_each

    done = np.zeros(6, dtype=int)
    slow = 5 if failing % 3 != 2 else 4  # the last task of group 2, else of group 1

    def task(j: int) -> None:
        if j == failing:
            raise RuntimeError(f"task {j}")
        if j == slow:
            time.sleep(0.3)
        done[j] += 1

    with pytest.raises(RuntimeError, match=f"task {failing}"):
        for_each(task, 6, threads=3)
    others = np.arange(6) % 3 != failing % 3  # the failing task's group stops at it
    assert (done[others] == 1).all()


def test_clip_into_gives_np_clip_values() -> None:
    from mkba.sampling import _clip_into

    u = np.concatenate(
        [
            np.random.default_rng(3).random(1000),
            [0.0, 1.0, _EPS, 1 - _EPS, _EPS / 2, 1 - _EPS / 2, -0.0, np.nan, np.inf, -np.inf],
        ]
    )
    expected = np.clip(u, _EPS, 1 - _EPS)
    _clip_into(u, _EPS, 1 - _EPS)
    assert np.array_equal(u.view(np.uint64), expected.view(np.uint64))


@pytest.mark.parametrize("sampler", ["random", "lhs"])
@pytest.mark.parametrize("threads", [1, 2, 5])
def test_parallel_theta_with_the_copula_equals_the_two_step_path(  # type: ignore[no-untyped-def]
    model, sampler: str, threads: int
) -> None:
    """The reference's correlated effects: drawn column by column, correlated in the
    transposed layout, transformed on threads: the bits of uniforms + apply_copula + theta_t."""
    m = model
    factor = engine.correlation_factor(m)
    assert factor is not None
    n, chunk = 901, 2
    u = engine.uniforms(m, 0, n, seed=11, sampler=sampler, chunk=chunk, chunk_size=n, factor=factor)
    two_step = m.theta_t(u, threads=1)
    fused = m.sample_theta_t(sampler, n, seed=11, chunk=chunk, threads=threads, factor=factor)
    assert np.array_equal(fused.view(np.uint64), two_step.view(np.uint64))
