"""Keep freed memory in the process: glibc ``malloc`` settings for the console script.

A large run allocates and frees big arrays all the time (the statistics' sorted copies, the
yearly transpositions, the companion's per-draw arrays). With glibc's defaults every array of
more than 32 MiB is a ``mmap`` of its own and goes back to the kernel when freed, and the
per-thread arenas and the heap's top are trimmed back too; the next array is fresh memory
again, and every 4 KiB page of fresh memory costs a page fault in which the kernel finds and
clears a page. On the project's 2-core virtual machine (where the host backs the guest's pages
lazily) a fault cost 2.1-2.8 us when the machine was quiet and ~13 us when it was busy: a
``mkba run -n 1000000`` took about 575,000 of them, and 155,000 fewer with these settings
(benchmarks/README.md, "i20-mem").

:func:`keep_freed_memory` asks glibc (``mallopt``) to keep what is freed for the next
allocation: one arena for every thread (``M_ARENA_MAX``), no separate ``mmap`` per large block
(``M_MMAP_MAX`` 0: every block comes from the heap, where a freed block is reused), and the
heap's free top given back to the kernel only beyond 2 GiB (``M_TRIM_THRESHOLD``). The
numbers are the same: this changes only where the process's memory comes from. Only under
glibc; a user who set any of glibc's ``malloc`` variables keeps their settings.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
"""glibc ``mallopt`` parameter (malloc.h): the free top of the heap above this is given back."""
M_MMAP_MAX = -4
"""glibc ``mallopt`` parameter: how many blocks may be separate ``mmap`` s (0: none)."""
M_ARENA_MAX = -8
"""glibc ``mallopt`` parameter: the most arenas (threads beyond share them)."""

TRIM_THRESHOLD = 2**31 - 1
"""Free memory at the heap's top given back to the kernel only beyond this (2 GiB, the largest
``int`` ``mallopt`` takes): a run's temporaries are reused, not returned and faulted in again."""

SETTINGS = ((M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, TRIM_THRESHOLD))
"""What :func:`keep_freed_memory` sets, in this order."""

_ENV_NAMES = {
    M_ARENA_MAX: "MALLOC_ARENA_MAX",
    M_MMAP_MAX: "MALLOC_MMAP_MAX_",
    M_TRIM_THRESHOLD: "MALLOC_TRIM_THRESHOLD_",
}

ENVIRON = {_ENV_NAMES[param]: str(value) for param, value in SETTINGS}
""":data:`SETTINGS` as glibc's environment variables, for a process this one starts (e.g. a
Dask worker: :data:`mkba.batch.WORKER_MALLOC`)."""

USER_ENV = (
    "GLIBC_TUNABLES",
    "MALLOC_ARENA_MAX",
    "MALLOC_ARENA_TEST",
    "MALLOC_MMAP_MAX_",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "MALLOC_TRIM_THRESHOLD_",
)
"""Environment variables through which a user sets glibc's ``malloc`` themselves (the
``GLIBC_TUNABLES`` only when it names a ``glibc.malloc.`` tunable)."""


def user_settings(environ: dict[str, str] | os._Environ[str] | None = None) -> bool:
    """Whether the environment sets glibc's ``malloc`` (:data:`USER_ENV`)."""
    env = os.environ if environ is None else environ
    for key in USER_ENV:
        value = env.get(key)
        if value is None:
            continue
        if key != "GLIBC_TUNABLES" or "glibc.malloc." in value:
            return True
    return False


def glibc() -> ctypes.CDLL | None:
    """The process's own C library when it is glibc (Linux), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        return None
    if not version or not version.startswith("glibc"):
        return None
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


_KEPT = False
"""Whether :func:`keep_freed_memory` took effect in this process (:func:`kept`)."""


def kept() -> bool:
    """Whether :func:`keep_freed_memory` set :data:`SETTINGS` in this process (what
    :mod:`mkba.prefault` relies on)."""
    return _KEPT


def keep_freed_memory() -> bool:
    """Set :data:`SETTINGS` with glibc's ``mallopt`` in this process (see the module's
    docstring); True when every setting was taken. Does nothing (False) outside glibc and when
    the user set glibc's ``malloc`` (:func:`user_settings`). Call it before threads start:
    ``M_ARENA_MAX`` binds threads when they first allocate."""
    if user_settings():
        return False
    libc = glibc()
    if libc is None:
        return False
    mallopt = libc.mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    global _KEPT
    _KEPT = all([mallopt(param, value) == 1 for param, value in SETTINGS])
    return _KEPT


def give_back_freed() -> bool:
    """Give the heap's free memory back to the system now (glibc's ``malloc_trim(0)``), when
    :func:`keep_freed_memory` is in force in this process (else nothing; False). For the end
    of the console script's process, while another thread waits for the disk
    (:func:`mkba.output.finish_removals`): the pages the run freed (1.7 GB after a million
    draws of the reference) are released here instead of in the process's exit afterwards;
    the same work, done in time that was spent waiting. True when memory was given back."""
    if not _KEPT:
        return False
    libc = glibc()
    if libc is None:
        return False
    trim = libc.malloc_trim
    trim.argtypes = (ctypes.c_size_t,)
    trim.restype = ctypes.c_int
    return bool(trim(0))
