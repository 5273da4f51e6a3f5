"""Issue 17, target 3 (i28-mem): a large run's tail with fewer serial steps gives the old numbers,
bit for bit.

- ``results.beside_statistics``: the summary's other parts (``results.summary_parts``: the
  payback year, the transfers in the study benefits) and the yearly table are computed on a
  thread beside the column statistics. The expected numbers are the old order's, computed in
  the same process: ``precompute_statistics``, ``summary``, ``convergence``, then
  ``yearly_rows``, each on the caller's thread (what main 03bbeba's ``api._summarise_and_write``
  did).
- ``results.known_mean``: the memo's mean of a column is ``np.mean`` of the column (a strided
  view of the run's array), which ``implied.switching_physical`` and ``implied._mean_npv``
  computed before. The expected numbers are ``np.mean``'s, computed here.

Every comparison is exact: ``repr`` of the documents (floats by their shortest round-trip
text, so equal text is equal bits; NaN shows as ``nan``) or the bytes of the written files.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mkba import api, engine, implied, results
from mkba.checks import runnable
from mkba.load import load_scenario
from mkba.schema.scenario import PERSPECTIVES

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"
EVIDENCE = ROOT / "scenarios" / "evidence-2021.toml"


@pytest.fixture(scope="module")
def evidence_run() -> engine.Run:
    return engine.simulate(runnable(load_scenario(EVIDENCE)), draws=3000, chunk_size=1024)


def _old_tail(run: engine.Run) -> tuple[str, str, str]:
    with results.shared_statistics(), results.shared_scratch():
        results.precompute_statistics(run)
        summ = results.summary(run)
        conv = results.convergence(run)
        yearly = results.yearly_rows(run)
    return repr(summ), repr(conv), repr(yearly.rows)


def _new_tail(run: engine.Run, yearly: bool = True) -> tuple[str, str, str]:
    with (
        results.shared_statistics(),
        results.shared_scratch(),
        results.beside_statistics(run, yearly) as table,
    ):
        results.precompute_statistics(run)
        summ = results.summary(run)
        conv = results.convergence(run)
        got = table()
    return repr(summ), repr(conv), repr(None if got is None else got.rows)


def _bucketed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A small run takes the route of a large one: the yearly table by buckets, two threads."""
    monkeypatch.setattr(results, "YEAR_BUCKETS_MIN_DRAWS", 2)
    monkeypatch.setattr(results, "statistics_threads", lambda: 2)


def _threads_of(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    """Record the thread's name at each call of ``results.<name>``."""
    seen: list[str] = []
    real = getattr(results, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(results, name, spy)
    return seen


def test_beside_gives_the_old_order_numbers(
    evidence_run: engine.Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bucketed(monkeypatch)
    want = _old_tail(evidence_run)
    yearly_on = _threads_of(monkeypatch, "yearly_rows")
    parts_on = _threads_of(monkeypatch, "summary_parts")
    assert _new_tail(evidence_run) == want
    # both were computed on the block's thread, not the caller's
    assert len(yearly_on) == 1 and yearly_on[0].startswith("mkba-beside")
    assert len(parts_on) == 1 and parts_on[0].startswith("mkba-beside")


def test_beside_without_the_yearly_table(
    evidence_run: engine.Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bucketed(monkeypatch)
    summ, conv, _ = _old_tail(evidence_run)
    yearly_on = _threads_of(monkeypatch, "yearly_rows")
    parts_on = _threads_of(monkeypatch, "summary_parts")
    assert _new_tail(evidence_run, yearly=False) == (summ, conv, "None")
    assert yearly_on == [] and len(parts_on) == 1 and parts_on[0].startswith("mkba-beside")


@pytest.mark.parametrize("why", ["short run", "one thread", "too many draws"])
def test_not_beside_computes_on_the_callers_thread(
    evidence_run: engine.Run, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    """Below the yearly table's bucket route (a short run: shared scratch buffers), with one
    statistics thread, or above YEARLY_BESIDE_MAX_DRAWS (a 10M run's peak): as before."""
    _bucketed(monkeypatch)
    want = _old_tail(evidence_run)
    if why == "short run":
        monkeypatch.setattr(results, "YEAR_BUCKETS_MIN_DRAWS", 150_000)
    elif why == "one thread":
        monkeypatch.setattr(results, "statistics_threads", lambda: 1)
    else:
        monkeypatch.setattr(results, "YEARLY_BESIDE_MAX_DRAWS", evidence_run.draws - 1)
    yearly_on = _threads_of(monkeypatch, "yearly_rows")
    parts_on = _threads_of(monkeypatch, "summary_parts")
    assert _new_tail(evidence_run) == want
    me = threading.current_thread().name
    assert yearly_on == [me] and parts_on == [me]


def test_an_error_in_the_block_waits_for_the_thread(
    evidence_run: engine.Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The block never ends while its thread still reads the run's arrays: an error in the
    block waits for the part the thread has started (here the summary's parts, slowed), and
    the part not started yet (the yearly table) is dropped instead of computed."""
    _bucketed(monkeypatch)
    started = threading.Event()
    done: list[str] = []

    def slow_parts(run: engine.Run) -> Any:
        started.set()
        time.sleep(0.3)
        done.append("parts")

    def yearly(run: engine.Run) -> Any:
        done.append("yearly")

    monkeypatch.setattr(results, "summary_parts", slow_parts)
    monkeypatch.setattr(results, "yearly_rows", yearly)
    with pytest.raises(RuntimeError, match="boom"), results.beside_statistics(evidence_run, True):
        assert started.wait(10)
        raise RuntimeError("boom")
    assert done == ["parts"]


def test_an_error_of_the_thread_reaches_the_caller(
    evidence_run: engine.Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bucketed(monkeypatch)

    def broken(run: engine.Run) -> Any:
        raise ValueError("no parts")

    monkeypatch.setattr(results, "summary_parts", broken)
    with (
        pytest.raises(ValueError, match="no parts"),
        results.shared_statistics(),
        results.beside_statistics(evidence_run, False),
    ):
        results.summary(evidence_run)


def test_run_directory_is_the_same_with_the_tail_beside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mkba run`` end to end (with its companion, as the CLI runs): every file but the
    manifest the same bytes with the tail beside and without (summary.json but its folder)."""
    _bucketed(monkeypatch)
    seen = _threads_of(monkeypatch, "yearly_rows")
    beside = api.run_scenario(REFERENCE, draws=4000, out=tmp_path / "b", companion=True)
    assert seen and seen[-1].startswith("mkba-beside")
    monkeypatch.setattr(results, "YEARLY_BESIDE_MAX_DRAWS", 0)
    before = api.run_scenario(REFERENCE, draws=4000, out=tmp_path / "a", companion=True)
    assert seen[-1] == threading.current_thread().name
    assert beside.output_dir is not None and before.output_dir is not None
    names = sorted(p.name for p in before.output_dir.iterdir())
    assert names == sorted(p.name for p in beside.output_dir.iterdir())
    for name in names:
        if name == "manifest.json":
            continue
        a = (before.output_dir / name).read_bytes()
        b = (beside.output_dir / name).read_bytes()
        if name == "summary.json":  # its own folder apart
            da, db = json.loads(a), json.loads(b)
            assert da.pop("output_dir") != db.pop("output_dir")
            assert da == db
            continue
        assert a == b, name


# --- results.known_mean ---------------------------------------------------------------------


def test_known_mean_is_np_mean_of_the_column(evidence_run: engine.Run) -> None:
    o = evidence_run.outcomes
    keys = [("stream", p, i) for p in range(len(PERSPECTIVES)) for i in range(o.stream.shape[2])]
    keys += [("perspective", p, "npv") for p in range(len(PERSPECTIVES))]
    assert results.known_mean(evidence_run, *keys[0]) is None  # no memo: nothing known
    with results.shared_statistics():
        assert results.known_mean(evidence_run, *keys[0]) is None  # not computed yet
        results.precompute_statistics(evidence_run)
        for key in keys:
            got = results.known_mean(evidence_run, *key)
            if key[0] == "stream":
                want = float(np.mean(o.stream[:, key[1], key[2]]))
            else:
                want = float(np.mean(o.npv_of(key[1])))
            assert got is not None and repr(got) == repr(want), key


def test_known_mean_of_a_column_with_nan_is_not_known(evidence_run: engine.Run) -> None:
    """The statistics leave NaN values out (``share_defined``); ``np.mean`` would be NaN."""
    with results.shared_statistics():
        memo = results._MEMO.get()
        assert memo is not None
        memo[(id(evidence_run.outcomes), "stream", 0, 0)] = {"mean": 1.0, "share_defined": 0.5}
        assert results.known_mean(evidence_run, "stream", 0, 0) is None


def test_switching_values_are_the_same_from_the_memo(evidence_run: engine.Run) -> None:
    """``implied.side_summary`` of an uncalibrated run after its full statistics (the memo
    holds every stream's mean) equals the one computing ``np.mean`` of each column."""
    phys = implied.physical_effects(evidence_run, mean_per_year=False, share=False)
    p = PERSPECTIVES.index("welfare")
    streams = [s for s in ("benefit_savings", "safety") if s in evidence_run.model.streams]
    assert streams
    want = [repr(implied.switching_physical(evidence_run, s, "welfare", phys)) for s in streams]
    with results.shared_statistics():
        results.precompute_statistics(evidence_run)
        for s in streams:  # the memo does hold them: the new path is taken
            i = evidence_run.model.streams.index(s)
            assert results.known_mean(evidence_run, "stream", p, i) is not None
        got = [repr(implied.switching_physical(evidence_run, s, "welfare", phys)) for s in streams]
    assert got == want


@pytest.mark.parametrize("n", [1, 7, 8191, 8192, 8193, 65_537, 1_000_003])
def test_numpy_sums_a_strided_column_as_its_contiguous_copy(n: int) -> None:
    """What ``known_mean`` rests on: NumPy's ``np.mean`` of a one-dimensional strided view (a
    column of a run's (draws, perspectives, streams) array) adds the values in the order of the
    contiguous column's pairwise sum (``np.add.reduce``), bit for bit, past NumPy's buffer size
    (8192) too. The values round at every addition, so another order of additions (a running
    sum, or blocks of 8192) gives other bits: checked below for the long columns."""
    rng = np.random.default_rng(n)
    arr = rng.standard_normal((n, 3, 7)) * 1e9 + 2.5e8  # amounts in euros, rounding everywhere
    for p, i in ((0, 0), (1, 3), (2, 6)):
        col = arr[:, p, i]
        flat = np.ascontiguousarray(col)
        assert repr(float(np.mean(col))) == repr(float(np.add.reduce(flat) / n)), (p, i)
        if n > 100_000:
            blocks = sum(np.add.reduce(flat[lo : lo + 8192]) for lo in range(0, n, 8192))
            assert np.add.reduce(flat) != np.cumsum(flat)[-1]
            assert np.add.reduce(flat) != blocks
