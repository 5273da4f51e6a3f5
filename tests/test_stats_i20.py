"""Issue 17 target 4 (i20-stats): the statistics of a run with fewer fresh buffers and fewer
passes give the numbers of the code they replace, bit for bit.

The oracle of every column is the registry's column (``results._column``: a new array made by
``mkba.outputs.output_array``) through main 0a9a722's ``stats`` (tests/stats_i19_oracle.py,
verbatim old code), and of the yearly table that module's ``yearly_rows``. Every comparison is
exact: floats compared as their 8 bytes (NaN == NaN, -0.0 != 0.0), never closeness.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mkba import engine, results
from mkba.api import default_scenario
from mkba.checks import runnable
from mkba.load import load_scenario
from mkba.outputs import _ratio

sys.path.insert(0, str(Path(__file__).parent))
import stats_i19_oracle as oracle
from test_colstats import _bits  # floats as their 8 bytes


@pytest.fixture(scope="module")
def model() -> Any:
    return runnable(load_scenario(default_scenario()))


def _edge_run(m: Any, n: int, seed: int) -> engine.Run:
    """A reference run of ``n`` draws whose outcome arrays then get edge values: NaN, +-inf,
    signed zeros, ties, all-zero columns, columns equal to another one (the copies the
    statistics may share) and costs of zero, negative or NaN (the BCR's cases)."""
    run = engine.simulate(m, draws=n, chunk_size=max(1, min(n, 512)), seed=seed)
    o = run.outcomes
    rng = np.random.default_rng(seed)
    if n >= 4:
        o.benefits[0, 0] = np.nan
        o.costs[1, 1] = 0.0
        o.costs[2, 1] = -0.0
        o.costs[3, 2] = -5.0
        o.costs[0, 2] = np.nan
        o.stream[1, 0, 2] = np.inf
        o.stream[2, 1, 3] = -np.inf
        o.stream[3, 2, 4] = np.nan
        o.component[1, 5] = -0.0
        o.stakeholder_benefits[0, 1] = np.nan
        o.stakeholder_costs[2, 3] = np.inf
        o.area_benefits[1, 3] = np.nan
        o.area_costs[0, 4] = -0.0
        o.flow[1, 5] = np.nan
        o.dflow[2, 6] = np.inf
    o.stream[:, 2, 5] = o.stream[:, 0, 5]  # equal columns in one array
    o.stream[:, 1, 6] = -0.0  # negative zeros only
    o.stakeholder_costs[:, 0] = 0.0  # a stakeholder without costs: npv = benefits - 0
    o.stakeholder_benefits[-1, 0] = np.nan  # (a NaN of its benefits: left out either way)
    o.stakeholder_costs[:, 4] = -0.0
    o.area_benefits[:, 6] = o.area_benefits[:, 2]
    o.area_costs[:, 6] = o.area_costs[:, 2]
    o.component[:, 7] = np.round(rng.standard_normal(n))  # ties
    o.benefits[:, 1] = o.costs[:, 1]  # npv of zero
    if n >= 4:
        o.benefits[1, 1] = 5.0  # over costs of zero: no BCR
    return run


def _check_against_oracle(run: engine.Run, threads: int, monkeypatch: Any) -> None:
    monkeypatch.setattr(results, "statistics_threads", lambda: threads)
    monkeypatch.setattr(oracle, "statistics_threads", lambda: threads)
    with np.errstate(invalid="ignore", over="ignore"):
        with results.shared_statistics(), results.shared_scratch():
            results.precompute_statistics(run)
            got = {k: results.column_stats(run, *k) for k in results.statistics_keys(run)}
            yearly = results.yearly_rows(run).rows
        for k, v in got.items():
            want = oracle.stats(results._column(run, k), owned=True)
            assert _bits(v) == _bits(want), k
        assert _bits(yearly) == _bits(oracle.yearly_rows(run).rows)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf - inf in a worker thread
@pytest.mark.parametrize("block_bytes", [None, 1, 12 * 8 * 1001])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("n", [1, 2, 3, 7, 1001])
def test_edge_runs_equal_the_old_statistics(
    model: Any, n: int, threads: int, block_bytes: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks of columns as wide as a small run gets (32), as a large one (8: ``block_bytes``
    1) and between (12 at 1001 draws): groups of 8 + 8 + 3 components, 11 + 10 streams, 15 + 15
    years, and so on."""
    if block_bytes is not None:
        monkeypatch.setattr(results, "_BLOCK_BYTES", block_bytes)
    _check_against_oracle(_edge_run(model, n, seed=n), threads, monkeypatch)


def test_block_widths() -> None:
    assert results.group_width(1_000_000) == 8  # 64 MiB / 8 MB (as before)
    assert results.group_width(500_000) == 16
    assert results.group_width(10_000_000) == 8  # at least 8 (as before)
    assert results.group_width(20_000) == 32  # at most 32
    assert results._spans(30, 16) == [list(range(15)), list(range(15, 30))]
    assert results._spans(21, 16) == [list(range(10)), list(range(10, 21))]
    assert results._spans(19, 8) == [list(range(6)), list(range(6, 12)), list(range(12, 19))]
    assert results._spans(5, 8) == [list(range(5))]
    assert results._spans(0, 8) == []
    for total, width in ((30, 16), (21, 8), (19, 8), (5, 4), (1, 8)):
        spans = results._spans(total, width)
        assert all(len(s) <= width for s in spans)
        for b, span in enumerate(spans):
            assert all(results._block_of(j, total, width) == b for j in span)


def test_reference_run_equals_the_old_statistics(
    model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = engine.simulate(model, draws=20_000)
    _check_against_oracle(run, 2, monkeypatch)


def test_statistics_keys_in_any_subset_equal_the_old_ones(
    model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Columns asked for a few at a time (the side summary asks for the perspectives first;
    a block may then miss some of its columns): the same numbers."""
    run = _edge_run(model, 999, seed=5)
    keys = results.statistics_keys(run)
    monkeypatch.setattr(results, "statistics_threads", lambda: 2)
    with np.errstate(invalid="ignore", over="ignore"):
        with results.shared_statistics(), results.shared_scratch():
            results.precompute_statistics(run, keys[::3])
            results.precompute_statistics(run, keys[1::3])
            results.precompute_statistics(run)
            got = {k: results.column_stats(run, *k) for k in keys}
        for k, v in got.items():
            assert _bits(v) == _bits(oracle.stats(results._column(run, k), owned=True)), k


def test_ratio_into_equals_the_registrys_ratio() -> None:
    b = np.array([1.0, -1.0, 0.0, -0.0, np.inf, np.nan, 3.0, 2.0, 5e-324, 1e308, 7.0, 0.0])
    c = np.array([2.0, 0.0, 0.0, 3.0, 1.0, 1.0, np.nan, -2.0, 1e-300, 1e-10, -0.0, -np.inf])
    out = np.full(b.size, 123.0)
    with np.errstate(over="ignore"):  # 1e308 / 1e-10 (neither function hides an overflow)
        want = _ratio(b, c)
        got = results._ratio_into(b, c, out)
    assert got is out
    assert got.tobytes() == want.tobytes()


def test_scratch_leases_reuse_buffers_across_threads() -> None:
    scratch = results.Scratch()
    seen: list[int] = []

    def task() -> None:
        with scratch.lease():
            buf = scratch.get("a", (2, 1000))
            seen.append(buf.__array_interface__["data"][0])

    for _ in range(3):  # one thread after another: the same buffer every time
        t = threading.Thread(target=task)
        t.start()
        t.join()
    assert len(set(seen)) == 1
    # a whole block (results._GROUP rows) is mapped the first time: a larger block fits
    with scratch.lease():
        a = scratch.get("a", (results._GROUP, 1000))
        assert a.__array_interface__["data"][0] == seen[0]
        with scratch.lease():  # a lease inside a lease (another set), then this one again
            assert scratch.get("a", (1, 1000)).__array_interface__["data"][0] != seen[0]
        assert scratch.get("a", (1, 1000)).__array_interface__["data"][0] == seen[0]
    # outside a lease, a thread keeps a set of its own (the old behaviour)
    own = scratch.get("a", (1, 10))
    assert (
        scratch.get("a", (1, 10)).__array_interface__["data"][0]
        == (own.__array_interface__["data"][0])
    )


def test_shared_scratch_is_left_with_its_block() -> None:
    assert results._SCRATCH.get() is None
    with results.shared_scratch():
        inner = results._phase_scratch()
        assert results._phase_scratch() is inner
    assert results._SCRATCH.get() is None
    assert results._phase_scratch() is not inner


def test_transposition_compares_columns_by_their_bytes() -> None:
    """``colstats.transpose_sums``'s comparison: 1 only for the very same bytes (a negative
    zero is not a zero, NaN payloads count), in every block of 256 draws (the first and the
    last draw checked), -1 compares nothing; the copy and the sums stay as without it."""
    from mkba import colstats

    rng = np.random.default_rng(9)
    for n in (1, 2, 255, 256, 257, 1000):
        src = rng.standard_normal((n, 9))
        src[:, 1] = src[:, 0]  # equal
        src[:, 2] = src[:, 0]
        src[-1, 2] = np.nextafter(src[-1, 2], np.inf)  # the last draw differs
        src[:, 3] = src[:, 0]
        src[0, 3] = -src[0, 3]  # the first draw differs
        src[:, 4] = 0.0
        src[:, 5] = 0.0
        src[n // 2, 5] = -0.0  # a negative zero against a zero
        src[:, 6] = np.nan
        src[:, 7] = np.nan
        bits = src.view(np.int64)
        bits[n - 1, 7] ^= 1  # another NaN payload
        src[:, 8] = src[:, 6]  # the same NaN bytes
        cand = np.array(
            [[-1, -1], [0, -1], [0, 1], [1, 0], [-1, -1], [4, 3], [-1, -1], [6, -1], [7, 6]],
            dtype=np.int64,
        )
        same = np.full(cand.shape, 7, dtype=np.int64)
        out, sums = np.empty((9, n)), np.empty(9)
        colstats.transpose_sums(src, 0, out, sums, bits, cand, same)
        want = [[0, 0], [1, 0], [0, 0], [0, 0], [0, 0], [0, 0], [0, 0], [0, 0], [0, 1]]
        assert same.tolist() == want, n
        assert out.tobytes() == np.ascontiguousarray(src.T).tobytes()
        assert sums.tobytes() == np.add.reduce(src, axis=0).tobytes()
        # a block of columns that starts further in (j0 > 0), candidates on either side
        same2 = np.empty((2, 1), dtype=np.int64)
        out2 = np.empty((2, n))
        cand2 = np.array([[0], [8]], dtype=np.int64)  # column 1 vs 0, column 2 vs 8
        colstats.transpose_sums(src, 1, out2, np.empty(2), bits, cand2, same2)
        assert same2.tolist() == [[1], [0]]


def test_shared_statistics_are_computed_once(model: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Columns proven to be copies take the statistics of their original: fewer calls of
    ``stats``, the same numbers (the reference's streams equal in several perspectives and its
    stakeholders without costs)."""
    run = engine.simulate(model, draws=3000)
    calls: list[int] = []
    real = results.stats

    def counting(x: np.ndarray, **kw: Any) -> dict[str, float]:
        calls.append(1)
        return real(x, **kw)

    monkeypatch.setattr(results, "stats", counting)
    keys = results.statistics_keys(run)
    with results.shared_statistics(), results.shared_scratch():
        results.precompute_statistics(run)
        got = {k: results.column_stats(run, *k) for k in keys}
    o = run.outcomes
    copies = sum(
        any(np.array_equal(o.stream[:, p, i], o.stream[:, q, i]) for q in range(p))
        for p in range(o.stream.shape[1])
        for i in range(o.stream.shape[2])
    )
    copies += sum(
        not o.stakeholder_costs[:, i].view(np.int64).any()
        for i in range(len(o.stakeholder_costs[0]))
    )
    assert copies >= 7  # the reference's: 7 streams, 2 stakeholders
    assert len(calls) == len(keys) - copies
    monkeypatch.setattr(results, "stats", real)
    for k, v in got.items():
        assert _bits(v) == _bits(oracle.stats(results._column(run, k), owned=True)), k


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("n", [1, 3, 1001])
def test_summary_with_shared_statistics_equals_one_at_a_time(model: Any, n: int) -> None:
    """The whole summary (and the side summary) computed as a run does (shared statistics,
    precomputed on threads, one set of buffers) against computed with nothing shared: each
    column a new array through ``stats``, each P(NPV > 0) from ``npv_of``, as before."""
    from mkba import implied

    run = _edge_run(model, n, seed=n + 1)
    if n >= 4:
        run.outcomes.benefits[5, 2] = np.nan  # an undefined NPV: left out of its statistics
    with np.errstate(invalid="ignore", over="ignore"):
        with results.shared_statistics(), results.shared_scratch():
            results.precompute_statistics(run)
            side = implied.side_summary(run)
            shared = results.summary(run)
            shares = [results.prob_npv_positive(run, p) for p in range(3)]
        alone = results.summary(run)  # outside the block: nothing memoised
        side_alone = implied.side_summary(run)
    assert _bits(shared) == _bits(alone)
    assert _bits(side) == _bits(side_alone)
    o = run.outcomes
    for p in range(3):
        assert _bits(shares[p]) == _bits(float(np.mean(o.npv_of(p) > 0)))
        assert _bits(shared["perspectives"][results.PERSPECTIVES[p]]["prob_npv_positive"]) == (
            _bits(float(np.mean((o.benefits[:, p] - o.costs[:, p]) > 0)))
        )
