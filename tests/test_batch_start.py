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
