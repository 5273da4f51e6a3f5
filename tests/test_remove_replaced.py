"""A replaced run folder removed on a thread of its own in the console script's process
(mkba.output.remove_replaced_beside; issue 17, target 3), and the heap's freed memory given back
while the process waits for it (mkba.memory.give_back_freed).

Where the expected behaviour comes from: mkba.output.run_directory's contract (the new folder is
in place before the old one goes; nothing of the old one is left once the process ends) and
glibc's ``malloc_trim(0)`` (free heap pages are returned to the kernel: the resident size drops).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mkba import memory, output

ROOT = Path(__file__).resolve().parents[1]
GLIBC = memory.glibc() is not None


def _finished_run(folder: Path, tag: str) -> None:
    """A folder that check_target takes for a finished mkba output (it has a manifest)."""
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"run_id": tag}))
    (folder / "draws.parquet").write_bytes(tag.encode() * 1000)


def _replace(final: Path, tag: str) -> None:
    with output.run_directory(final, tag, force=True) as tmp:
        (tmp / "manifest.json").write_text(json.dumps({"run_id": tag}))


@pytest.fixture
def beside(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """remove_replaced_beside in force for the test (its own list of threads); the names of
    the threads that removed folders."""
    monkeypatch.setattr(output, "_REMOVE_BESIDE", False)
    monkeypatch.setattr(output, "_REMOVING", [])
    names: list[str] = []
    real = output.shutil.rmtree

    def rmtree(path, ignore_errors=False):  # type: ignore[no-untyped-def]
        names.append(threading.current_thread().name)
        real(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(output.shutil, "rmtree", rmtree)
    return names


def test_by_default_the_replaced_folder_is_gone_when_run_directory_returns(
    beside: list[str], tmp_path: Path
) -> None:
    final = tmp_path / "run"
    _finished_run(final, "old")
    _replace(final, "new")
    assert json.loads((final / "manifest.json").read_text())["run_id"] == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert beside == ["MainThread"]


def test_beside_the_replaced_folder_goes_on_its_thread_and_is_gone_after_finish(
    beside: list[str], tmp_path: Path
) -> None:
    output.remove_replaced_beside()
    final = tmp_path / "run"
    _finished_run(final, "old")
    _replace(final, "new")
    # the new folder is in place as soon as run_directory returns
    assert json.loads((final / "manifest.json").read_text())["run_id"] == "new"
    assert not (final / "draws.parquet").exists()
    output.finish_removals()
    assert not output._REMOVING
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert beside == ["mkba-remove"]


def test_the_same_folder_replaced_again_while_the_first_old_one_is_being_removed(
    monkeypatch: pytest.MonkeyPatch, beside: list[str], tmp_path: Path
) -> None:
    output.remove_replaced_beside()
    go = threading.Event()
    real = output.shutil.rmtree  # the fixture's (it records the thread)
    held: list[Path] = []

    def slow(path, ignore_errors=False):  # type: ignore[no-untyped-def]
        held.append(Path(path))
        go.wait(30)  # the first removal waits until the second replacement is done
        real(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(output.shutil, "rmtree", slow)
    final = tmp_path / "run"
    _finished_run(final, "first")
    _replace(final, "second")
    _replace(final, "third")  # the first old folder is still there: another name
    for _ in range(3000):  # both threads reach their folder's rmtree (after its files)
        if len(held) == 2:
            break
        time.sleep(0.01)
    assert len(held) == 2 and held[0] != held[1]
    assert all(p.name.startswith("run.old-") for p in held)
    assert json.loads((final / "manifest.json").read_text())["run_id"] == "third"
    go.set()
    output.finish_removals()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert beside == ["mkba-remove", "mkba-remove"]


def test_finish_removals_gives_memory_back_only_while_a_removal_runs(
    monkeypatch: pytest.MonkeyPatch, beside: list[str], tmp_path: Path
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(memory, "give_back_freed", lambda: calls.append(1) or True)
    output.finish_removals()  # nothing being removed: nothing to do
    assert calls == []
    output.remove_replaced_beside()
    go = threading.Event()
    real = output.shutil.rmtree
    monkeypatch.setattr(
        output.shutil, "rmtree", lambda p, ignore_errors=False: (go.wait(30), real(p, True))
    )
    final = tmp_path / "run"
    _finished_run(final, "old")
    _replace(final, "new")
    timer = threading.Timer(0.2, go.set)  # the removal ends while finish_removals waits
    timer.start()
    output.finish_removals()
    timer.join()
    assert calls == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_the_heap_is_trimmed_only_once_the_removal_listed_its_files(
    monkeypatch: pytest.MonkeyPatch, beside: list[str], tmp_path: Path
) -> None:
    # listing a folder allocates from the heap that malloc_trim holds locked: the removal lists
    # first, so that its slow part (removing the files) runs while the heap is trimmed
    seen: list[bool] = []
    monkeypatch.setattr(
        memory,
        "give_back_freed",
        lambda: seen.append(all(listed.is_set() for _, listed in output._REMOVING)) or True,
    )
    output.remove_replaced_beside()
    go = threading.Event()
    unlinked: list[str] = []
    real_unlink = os.unlink

    def unlink(path):  # type: ignore[no-untyped-def]
        go.wait(30)  # the files' removal waits until the heap is being given back
        unlinked.append(Path(path).name)
        real_unlink(path)

    monkeypatch.setattr(output.os, "unlink", unlink)
    final = tmp_path / "run"
    _finished_run(final, "old")
    _replace(final, "new")
    timer = threading.Timer(0.2, go.set)
    timer.start()
    output.finish_removals()
    timer.join()
    assert seen == [True]
    assert sorted(unlinked) == ["draws.parquet", "manifest.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_remove_listed_removes_files_subfolders_and_links_without_following_them(
    tmp_path: Path,
) -> None:
    old = tmp_path / "old"
    (old / "sub" / "deeper").mkdir(parents=True)
    (old / "a.json").write_text("{}")
    (old / "sub" / "b.csv").write_text("x")
    (old / "sub" / "deeper" / "c").write_text("y")
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "precious").write_text("z")
    (old / "link").symlink_to(keep, target_is_directory=True)
    listed = threading.Event()
    output._remove_listed(old, listed)
    assert listed.is_set()
    assert not old.exists()
    assert (keep / "precious").read_text() == "z"  # the link's target is untouched
    # a replaced folder that was a link to a folder: the link's folder is left whole, as
    # shutil.rmtree(link, ignore_errors=True) leaves it
    linked = tmp_path / "linked"
    linked.symlink_to(keep, target_is_directory=True)
    output._remove_listed(linked, threading.Event())
    assert (keep / "precious").read_text() == "z"
    # a folder that is already gone: nothing raised, the event still set
    again = threading.Event()
    output._remove_listed(old, again)
    assert again.is_set()


class _FakeGlibc:
    """Stands in for glibc: records malloc_trim's argument."""

    def __init__(self) -> None:
        self.pads: list[int] = []
        outer = self

        class Trim:
            argtypes = None
            restype = None

            def __call__(self, pad: int) -> int:
                outer.pads.append(pad)
                return 1

        self.malloc_trim = Trim()


def test_give_back_freed_trims_only_where_the_settings_are_in_force(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = _FakeGlibc()
    monkeypatch.setattr(memory, "glibc", lambda: fake)
    monkeypatch.setattr(memory, "_KEPT", False)
    assert memory.give_back_freed() is False  # not the console script's settings: untouched
    assert fake.pads == []
    monkeypatch.setattr(memory, "_KEPT", True)
    assert memory.give_back_freed() is True
    assert fake.pads == [0]  # malloc_trim(0): everything free, no padding kept
    monkeypatch.setattr(memory, "glibc", lambda: None)  # another C library
    assert memory.give_back_freed() is False


TRIM_PROBE = """
import sys
import numpy as np
import mkba.memory

def resident():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096

print("K", mkba.memory.keep_freed_memory())
a = np.ones(16 << 20)  # 128 MiB written
del a  # kept in the heap (the settings), still resident
before = resident()
print("T", mkba.memory.give_back_freed())
print("D", before - resident())
"""


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")
def test_give_back_freed_returns_a_freed_block_to_the_kernel() -> None:
    clean = {k: v for k, v in os.environ.items() if k not in memory.USER_ENV}
    proc = subprocess.run(
        [sys.executable, "-c", TRIM_PROBE],
        capture_output=True,
        text=True,
        check=True,
        env={**clean, "NUMPY_MADVISE_HUGEPAGE": "0"},
    )
    got = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert got["K"] == "True" and got["T"] == "True"
    assert int(got["D"]) > 100 * 2**20  # most of the 128 MiB left the process


def test_main_with_argv_keeps_removing_replaced_folders_before_returning(
    beside: list[str], tmp_path: Path
) -> None:
    from mkba.cli import main, own_process

    assert own_process() is False
    out = tmp_path / "run"
    for _ in range(2):  # the second replaces the first
        with pytest.raises(SystemExit) as stop:
            main(["run", "-n", "200", "--out", str(out), "--force", "--json", "--no-companion"])
        assert stop.value.code == 0
    assert output._REMOVE_BESIDE is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert beside == ["MainThread"]


def test_a_console_script_run_replacing_its_folder_leaves_nothing_of_the_old_one(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "MKBA_PREFAULT"}
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-m", "mkba", "run", "-n", "200", "--out", str(out), "--force"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        # the process ended: the replaced folder is gone (its thread was waited for)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert (out / "manifest.json").is_file()
