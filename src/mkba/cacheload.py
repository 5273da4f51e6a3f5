"""numba's machine code loaded from its on-disk cache without starting the whole CPU target.

A warm run compiles nothing: every ``@njit(cache=True)`` function it calls is loaded from
numba's on-disk cache (``Cache.load_overload``). Before each lookup numba "refreshes" the CPU
target (``CPUContext.refresh``): the first time, that imports about 75 numba modules of
lowering implementations (``numba.cpython.*``, ``numba.np.arraymath``, ``numba.np.linalg``,
the random generators, typed containers, ...), installs their registries into the target and
typing contexts, and initialises numba's runtime (NRT). Of that, loading machine code uses only
the runtime: the cached object code is linked against the NRT's symbols. The registries are
what numba's compiler needs to turn Python into LLVM IR, and the compiler refreshes the
contexts itself before it compiles anything (``CompilerBase.__init__``).

:func:`install` replaces ``Cache.load_overload`` so that, for the CPU target, a lookup
initialises the runtime only (what ``CPUContext.load_additional_registries`` does first), then
loads as numba does. When a lookup misses, numba compiles the function and the compiler
installs the registries then, as before. The machine code loaded is the same file, linked the
same way: the numbers are the same. Measured on the project machine (2026-11-30): the first
cached call of a process 0.18-0.28 CPU-s before, 0.04-0.06 after (benchmarks/README.md,
i26-start).

numba's BLAS check (``import scipy.linalg.cython_blas`` when ``numba.np.arraymath`` is
imported, one of the deferred modules) then runs only when that module is imported after all:
when something is compiled, or when a cached function's environment lives in it (a function
using ``ndarray.sum``, say). :func:`install` puts a one-time finder (:class:`_BlasFirst`) in
front of the import system that loads ``scipy.linalg.cython_blas`` alone first
(:func:`mkba.lightimport.blas_for_numba`), as the console script did before every run (which
cost 0.035-0.05 CPU-s and 56 modules when nothing needs it).

If numba's ``Cache.load_overload`` is not the one this was written for (another numba), nothing
is replaced (:func:`install` returns False) and the console script loads the BLAS module ahead,
as before; likewise with ``MKBA_CACHE_LOAD=0`` (:data:`ENV`). Installed by the console
script's :func:`mkba.cli.engine_imports` only.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

ENV = "MKBA_CACHE_LOAD"
"""Environment variable: ``0`` leaves numba's cache lookups as they are in the console script
(each one refreshes the CPU target; for measuring)."""

_EXPECTED_NAMES = frozenset({"refresh", "_guard_against_spurious_io_errors", "_load_overload"})
"""The names numba's own ``Cache.load_overload`` uses (numba 0.5x-0.68): refresh the context,
then ``_load_overload`` under the I/O guard. Another body: not replaced."""

_installed = False


def install() -> bool:
    """Load cached machine code for the CPU target without its lowering registries (see the
    module docstring), in this process, from now on; whether that is in place. Idempotent."""
    global _installed
    if _installed:
        return True
    try:
        from numba.core import caching, cpu
        from numba.core.runtime import rtsys

        original = caching.Cache.load_overload
        if set(original.__code__.co_names) != _EXPECTED_NAMES or not hasattr(
            caching.Cache, "_load_overload"
        ):
            return False
    except Exception:  # numba's internals moved: leave numba as it is
        return False

    def load_overload(self: Any, sig: Any, target_context: Any) -> Any:
        """``Cache.load_overload`` without ``target_context.refresh()`` for the CPU target:
        the runtime initialised (safe to call again), then the same lookup as numba's."""
        if type(target_context) is not cpu.CPUContext:
            return original(self, sig, target_context)
        rtsys.initialize(target_context)
        with self._guard_against_spurious_io_errors():
            return self._load_overload(sig, target_context)
        return None  # the guard swallowed an I/O error: not cached, as numba's own

    caching.Cache.load_overload = load_overload  # type: ignore[method-assign]
    if "numba.np.arraymath" not in sys.modules:
        sys.meta_path.insert(0, _BlasFirst())
    _installed = True
    return True


class _BlasFirst(importlib.abc.MetaPathFinder):
    """A one-time finder: when ``numba.np.arraymath`` is about to be imported (numba's BLAS
    check runs at its import), load ``scipy.linalg.cython_blas`` alone first
    (:func:`mkba.lightimport.blas_for_numba`), so that the check imports no ``scipy.linalg``
    package; then take itself out and let the other finders find the module."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "numba.np.arraymath":
            return None
        with contextlib.suppress(ValueError):  # (another thread's import took it out first)
            sys.meta_path.remove(self)
        from mkba.lightimport import blas_for_numba

        blas_for_numba()
        return None
