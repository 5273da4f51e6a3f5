"""Freed memory kept in the console script's process (mkba.memory; issue 17, target 3): glibc's
malloc reuses a freed large block instead of returning it to the kernel, so the next one costs
no page faults. Probed in fresh processes, since the settings last for a process's life."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mkba import memory

GLIBC = memory.glibc() is not None

PROBE = """
import atexit, resource, sys
import numpy as np
import mkba.cli, mkba.memory

def refaults():
    # a 64 MiB block freed, then one of the same size written again: the page faults of the
    # second (about 16,400 when the first went back to the kernel, none when it is reused)
    a = np.ones(8 << 20)
    del a
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    b = np.ones(8 << 20)
    print("F", resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, file=sys.stderr)
    del b

{how}
"""

HOW = {
    "keep": "print('K', mkba.memory.keep_freed_memory(), file=sys.stderr)\nrefaults()",
    "none": "refaults()",
    # the console script (main() without argv) sets it at its start; main(argv) from Python not
    "script": "atexit.register(refaults)\nsys.argv = ['mkba', '--version']\nmkba.cli.main()",
    "argv": "atexit.register(refaults)\nmkba.cli.main(['--version'])",
}


def _probe(how: str, **env: str) -> tuple[int, str]:
    # no transparent huge pages, as in the console script (a 2 MiB page is one fault)
    clean = {k: v for k, v in os.environ.items() if k not in memory.USER_ENV}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(how=HOW[how])],
        capture_output=True,
        text=True,
        check=False,
        env={**clean, "NUMPY_MADVISE_HUGEPAGE": "0", **env},
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    faults = int([x for x in lines if x.startswith("F ")][-1].split()[1])
    kept = [x for x in lines if x.startswith("K ")]
    return faults, kept[-1] if kept else ""


def test_user_settings_are_read_from_glibcs_malloc_variables() -> None:
    assert not memory.user_settings({})
    assert not memory.user_settings({"PATH": "/bin", "MALLOC_CHECK": "1"})
    assert memory.user_settings({"MALLOC_ARENA_MAX": "4"})
    assert memory.user_settings({"MALLOC_TRIM_THRESHOLD_": "0"})
    assert memory.user_settings({"MALLOC_MMAP_THRESHOLD_": "131072"})
    assert memory.user_settings({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"})
    # tunables of something else than malloc are not a malloc choice
    assert not memory.user_settings({"GLIBC_TUNABLES": "glibc.pthread.rseq=0"})


def test_a_users_malloc_setting_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert memory.keep_freed_memory() is False


def test_settings_are_the_documented_ones() -> None:
    # malloc.h: M_TRIM_THRESHOLD -1, M_MMAP_MAX -4, M_ARENA_MAX -8; the trim threshold is the
    # largest int mallopt takes
    assert memory.SETTINGS == ((-8, 1), (-4, 0), (-1, 2**31 - 1))


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")
def test_a_freed_large_block_is_reused_without_page_faults() -> None:
    kept, taken = _probe("keep")
    assert taken == "K True"
    default, _ = _probe("none")
    # 64 MiB = 16,384 pages of 4 KiB: glibc's default maps and unmaps such a block on its own
    assert default > 10_000, default
    assert kept < 500, kept


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")
def test_the_console_script_keeps_freed_memory_unless_the_user_chose() -> None:
    assert _probe("script")[0] < 500
    assert _probe("argv")[0] > 10_000  # main(argv) from Python leaves malloc alone
    assert _probe("script", MALLOC_ARENA_MAX="16")[0] > 10_000  # the user's choice stands


def test_the_environment_form_is_the_settings() -> None:
    """:data:`mkba.memory.ENVIRON` names glibc's variables for :data:`SETTINGS` (glibc manual,
    "Memory Allocation Tunables": MALLOC_ARENA_MAX, MALLOC_MMAP_MAX_, MALLOC_TRIM_THRESHOLD_),
    with the values by hand: one arena, no mmap, 2**31 - 1 bytes."""
    from mkba import batch, memory

    assert memory.ENVIRON == {
        "MALLOC_ARENA_MAX": "1",
        "MALLOC_MMAP_MAX_": "0",
        "MALLOC_TRIM_THRESHOLD_": "2147483647",
    }
    assert batch.WORKER_MALLOC == memory.ENVIRON
