"""`mkba batch --workers N` starts its LocalCluster while it reads the scenarios
(:func:`mkba.batch.make_executor_while`, issue 17 target 5): the reading happens meanwhile in
this process, bad input still ends the batch with exit 2 and nothing written, and the cluster
started for it is closed."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from mkba import batch as bt
from mkba.cli import app
from mkba.errors import InputError, Problem
from mkba.paths import OutputExistsError

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"


class _FakeDask:
    """Stands in for :class:`mkba.batch.DaskExecutor`: records where it was made and whether
    it was closed."""

    made: ClassVar[list[_FakeDask]] = []

    def __init__(self, *, workers: int | None = None, scheduler: str | None = None) -> None:
        self.workers, self.scheduler, self.closed = workers, scheduler, False
        self.thread = threading.current_thread().name
        _FakeDask.made.append(self)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_dask(monkeypatch: pytest.MonkeyPatch) -> type[_FakeDask]:
    _FakeDask.made = []
    monkeypatch.setattr(bt, "DaskExecutor", _FakeDask)
    return _FakeDask


def test_the_cluster_starts_in_a_thread_while_the_work_runs_here(fake_dask) -> None:  # type: ignore[no-untyped-def]
    here = threading.current_thread().name
    seen: list[str] = []

    def work() -> str:
        seen.append(threading.current_thread().name)
        return "jobs"

    jobs, ex = bt.make_executor_while(work, workers=2)
    assert jobs == "jobs" and seen == [here]
    assert isinstance(ex, _FakeDask) and ex.workers == 2 and not ex.closed
    assert ex.thread == "mkba-cluster-start"


def test_without_workers_or_with_a_scheduler_nothing_starts_before_the_work(fake_dask) -> None:  # type: ignore[no-untyped-def]
    order: list[str] = []

    def work() -> int:
        order.append(f"work, executors made: {len(fake_dask.made)}")
        return 1

    assert bt.make_executor_while(work)[1].name == "in-process"
    _, ex = bt.make_executor_while(work, scheduler="tcp://somewhere:8786")
    assert isinstance(ex, _FakeDask) and ex.scheduler == "tcp://somewhere:8786"
    assert order == ["work, executors made: 0", "work, executors made: 0"]


def test_bad_input_closes_the_started_cluster_and_raises(fake_dask) -> None:  # type: ignore[no-untyped-def]
    def work() -> None:
        raise InputError([Problem("x.toml", "draws", "must be positive", -1)])

    with pytest.raises(InputError):
        bt.make_executor_while(work, workers=2)
    (ex,) = fake_dask.made
    assert ex.closed


def test_a_cluster_that_fails_to_start_raises_after_the_work(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    class Broken:
        def __init__(self, **kwargs: object) -> None:
            raise OSError("no ports")

    monkeypatch.setattr(bt, "DaskExecutor", Broken)
    done: list[bool] = []
    with pytest.raises(OSError, match="no ports"):
        bt.make_executor_while(lambda: done.append(True), workers=1)
    assert done == [True]


def test_cli_batch_with_workers_and_a_missing_file_exits_2_and_writes_nothing(
    fake_dask, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    from mkba.cli import main

    out = tmp_path / "batch"
    argv = ["batch", str(tmp_path / "missing.toml"), "--variants", "all", "--workers", "2"]
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--out", str(out)])
    assert stop.value.code == 2
    assert "missing.toml" in capsys.readouterr().err
    assert not out.exists()
    (ex,) = fake_dask.made
    assert ex.closed


def test_cli_batch_on_a_real_cluster_gives_the_in_process_numbers(tmp_path: Path) -> None:
    """The whole command with --workers 1 (the cluster started while the scenario is read):
    the same summaries as in process."""
    import json

    runner = CliRunner()
    docs = []
    for name, extra in (("in", []), ("dask", ["--workers", "1"])):
        res = runner.invoke(
            app,
            [
                "batch",
                str(REFERENCE),
                "--variants",
                "half_budget",
                "-n",
                "1500",
                "--seed",
                "5",
                "--json",
                "--out",
                str(tmp_path / name),
                *extra,
            ],
        )
        assert res.exit_code == 0, res.output
        doc = json.loads(res.stdout)
        for s in doc["jobs"]:
            s.pop("output_dir", None)
        docs.append(doc["jobs"])
    assert docs[0] == docs[1] and len(docs[0]) == 2


class _Recording:
    """An executor that records what the batch asked of it (nothing runs)."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def warm(self, *args: object) -> None:
        self.calls.append("warm")

    def run(self, *args: object) -> None:
        self.calls.append("run")

    def close(self) -> None:
        self.calls.append("close")


def test_a_batch_refused_before_its_jobs_run_closes_its_executor(tmp_path: Path) -> None:
    """Two jobs that would share one run folder are refused (InputError) before any job runs;
    the executor handed in (a cluster started for the batch) is closed all the same, and
    nothing is written."""
    ex = _Recording()
    twice = [bt.Job(REFERENCE, "half_budget"), bt.Job(REFERENCE, "half_budget")]
    with pytest.raises(InputError, match="share one run folder"):
        bt.run_batch(twice, out=tmp_path / "b", draws=64, executor=ex)  # type: ignore[arg-type]  # a stand-in
    assert ex.calls == ["warm", "close"]
    assert not (tmp_path / "b").exists()


def test_a_batch_refused_by_an_existing_folder_closes_its_executor(tmp_path: Path) -> None:
    """A run folder in the way (another run's, no ``--force``) refuses the batch before its
    jobs run: the executor is closed and the folder in the way is left as it was."""
    (tmp_path / "b" / "runs" / "reference-2021").mkdir(parents=True)
    (tmp_path / "b" / "runs" / "reference-2021" / "mine.txt").write_text("keep")
    ex = _Recording()
    with pytest.raises(OutputExistsError, match="not an mkba run directory"):
        bt.run_batch([bt.Job(REFERENCE)], out=tmp_path / "b", draws=64, executor=ex)  # type: ignore[arg-type]  # a stand-in
    assert ex.calls == ["warm", "close"]
    assert (tmp_path / "b" / "runs" / "reference-2021" / "mine.txt").read_text() == "keep"


def test_a_batch_that_runs_closes_its_executor_once(tmp_path: Path) -> None:
    ex = _Recording()
    bt.run_batch([bt.Job(REFERENCE)], out=tmp_path / "b", draws=64, executor=ex)  # type: ignore[arg-type]  # a stand-in
    assert ex.calls == ["warm", "run", "close"]


class _FailingClose(_Recording):
    def close(self) -> None:
        super().close()
        raise RuntimeError("the cluster did not close")


def test_a_failing_close_does_not_hide_the_refusal(tmp_path: Path) -> None:
    """Closing the executor of a refused batch fails: the user still gets the refusal (the
    problem list, exit 2 at the command line), not the close's error."""
    ex = _FailingClose()
    twice = [bt.Job(REFERENCE, "half_budget"), bt.Job(REFERENCE, "half_budget")]
    with pytest.raises(InputError, match="share one run folder"):
        bt.run_batch(twice, out=tmp_path / "b", draws=64, executor=ex)  # type: ignore[arg-type]  # a stand-in
    assert ex.calls == ["warm", "close"]


def test_a_failing_run_is_the_error_shown_and_its_marker_is_removed(tmp_path: Path) -> None:
    """The jobs' run fails and so does the close after it: the run's error goes up, and the
    batch's marker file in ``chunks/`` is removed all the same."""

    class _Broken(_FailingClose):
        def run(self, *args: object) -> None:
            super().run(*args)
            raise ValueError("a worker died")

    ex = _Broken()
    with pytest.raises(ValueError, match="a worker died"):
        bt.run_batch([bt.Job(REFERENCE)], out=tmp_path / "b", draws=64, executor=ex)  # type: ignore[arg-type]  # a stand-in
    assert ex.calls == ["warm", "run", "close"]
    assert not list((tmp_path / "b" / "chunks").glob(".batch-*"))
