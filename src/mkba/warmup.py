"""A cold first run compiles the kernel in a child process and the later functions itself.

numba compiles one function at a time in a process (one global compiler lock), so a first
``mkba run`` with an empty cache compiled its functions one after the other on one of the
machine's cores. The run needs the sampler first (``mkba.rng``), then the kernel
(``simulate_chunk``, the longest compile), then the aggregation, the side summary's loop, the
IRR and the statistics' passes, and with a bottom-up programme the programme's kernel
(``simulate_programme``).

When :func:`mkba.engine.announce_compile` finds the cache cold, :func:`start` starts
``python -m mkba.warmup`` with the name of the kernel (and, with a bottom-up programme, of the
programme's kernel: :data:`CHILD`). The child compiles them for the argument types the run uses
(:data:`SIGNATURES`), which writes numba's on-disk cache, the same files the run would write,
while the run compiles the sampler on the other core. When the run first needs one of the
child's functions (the kernel, after its sampler), its cache lookup first compiles the run's
own share (:data:`OWN`: the functions needed after the kernel, by signature, one after the
other, each only while the child is still running), then waits for the child to exit
(:class:`_AfterChild`), then loads what the child wrote. The machine code is the one the run
would have compiled itself: the same source, types and compiler; the numbers are the same.

- The run reads those cache files only after the child has exited. numba writes a function's
  index before its data, so a read while the child writes could see an entry without its data
  (or an older data file of the same name).
- If the child failed, was not done after :data:`TIMEOUT_S` (it is then killed), or the
  signature it compiled is not the one the run calls, the run compiles the function itself, as
  before. After a failed or killed child the functions' cache indexes are emptied first
  (``Cache.flush``), so nothing half-written is read.
- The run and the child never compile the same function, nor one such a function calls
  (:data:`DEPENDENCIES`), so the run reads no cache file the child may be writing.
- A warm run starts nothing: :func:`mkba.engine.announce_compile` looks at the cache first.
- At exit of the run, a child still compiling is asked to stop (its standard input is closed);
  it stops after the function it is compiling, so no cache file is left half-written. A thread
  of the run reaps it (no zombie process).
- ``MKBA_COMPILE_CHILD=0`` in the environment: no child (everything compiled in the run, as
  before; for measuring).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import sys
import threading
from pathlib import Path
from typing import Any

TIMEOUT_S = 300.0
"""How long a run waits for the child before it kills it and compiles itself. The child needs
5-10 s of CPU; this only guards against a child that hangs."""

ENV = "MKBA_COMPILE_CHILD"
"""Environment variable: ``0`` starts no child (see the module docstring)."""

SIGNATURES: dict[str, str] = {
    "mkba.kernel:simulate_chunk": (
        "F2 I1 I1 I1 I1 F2 F1 F2 F2 F1 I1 F1 F1 F1 f I1 F1 F1 F2 F1 F2 F2 F2 F2 F2 F1 F1 I1 b F3 F3"
        " F2 F2 F2 F2 F1 F1 i i I1 F2 F2 F2 F2 F2 F1 F1 i i i i"
    ),
    "mkba.kernel:aggregate_totals": "F2 I1 F2 F2 F2 F1 i F2 F2 F3 F2 F2 F2 F1 i i",
    "mkba.kernel:aggregate": "F3 F3 F2 I1 F2 F2 F2 F1 i i F2 F2 F3 F1 F1 i i F2 F2 F2 F1 i i",
    "mkba.kernel:simulate_programme": (
        "F2 I1 I1 I1 I1 F2 F1 F1 f I1 F1 F1 F2 F2 F1 F3 F3 F2 F2 i I1 I1 I1 F2 I1 F1 F1 F3 F3 F2 F2"
        " F3 F3 F4 i i"
    ),
    "mkba.implied:_slot_values": "F2 I1 F1 F1 I1 f F1 F2 F4 F3",
    "mkba.implied:_full_strength_rows": (
        "F2 I1 f F1 F1 F2 F1 I1 I1 F1 F2 F4 F2 F3 F4 F3 F2 F2 i F2"
    ),
    "mkba.decide.irr:_scan_bisect": "F2 F2 F1 F1 I1",
    "mkba.colstats:transpose_sums": "F2 i F2 F1 I2 I2 I2",
    "mkba.colstats:sum_sq_dev": "F1 i i f",
    "mkba.colstats:add_running_sum": "F1 F1",
}
"""The argument types with which a run calls each function compiled ahead (``Fk``: a
C-contiguous float64 array of k dimensions, ``Ik`` of int64, ``i`` an int64, ``f`` a float64,
``b`` a bool).
``tests/test_warmup.py`` checks them against the types a run passes."""

CHILD = {
    "totals": ("mkba.kernel:simulate_chunk",),
    "programme": ("mkba.kernel:simulate_chunk", "mkba.kernel:simulate_programme"),
}
"""What the child compiles, in the order a run needs them: the kernel (``simulate_chunk``,
the longest compile, 11-15 CPU-s), and for a bottom-up programme the programme's kernel on
its per-area raw outputs. The split balances the two processes: the run compiles the sampler
(about 5 CPU-s) and :data:`OWN` (about 8) in the same time."""

OWN = {
    "totals": (
        "mkba.kernel:aggregate_totals",
        "mkba.implied:_slot_values",
        "mkba.implied:_full_strength_rows",
        "mkba.decide.irr:_scan_bisect",
        "mkba.colstats:sum_sq_dev",
        "mkba.colstats:transpose_sums",
        "mkba.colstats:add_running_sum",
    ),
    "programme": (
        "mkba.kernel:aggregate",
        "mkba.decide.irr:_scan_bisect",
        "mkba.colstats:sum_sq_dev",
        "mkba.colstats:transpose_sums",
        "mkba.colstats:add_running_sum",
    ),
}
"""What the run compiles itself, by signature, when it first needs a function of
:data:`CHILD` (after its sampler) and the child is still compiling: in the order a run needs
them, each only while the child still runs (what is left is compiled when first called, as
without a child)."""

LATER = {kind: CHILD[kind] + OWN[kind] for kind in CHILD}
"""Every function compiled ahead on a cold first run, in either process. With
``--area-draws float32`` some types differ: the run then compiles those functions itself, as
before."""

DEPENDENCIES = {
    "mkba.kernel:simulate_chunk": ("mkba.kernel:_pow_lanes", "mkba.kernel:_other_groups"),
    "mkba.kernel:simulate_programme": ("mkba.kernel:_pow_lanes",),
    "mkba.decide.irr:_scan_bisect": (
        "mkba.decide.irr:_bisect_step",
        "mkba.decide.irr:_horner",
        "mkba.decide.irr:_brackets",
        "mkba.decide.irr:_cuts",
    ),
}
"""Compiled functions that a child-compiled function calls (compiled with it, cached apart)."""


def _dispatcher(name: str) -> Any:
    module, function = name.split(":")
    return getattr(importlib.import_module(module), function)


def signature(codes: str) -> tuple[Any, ...]:
    """numba argument types from codes as in :data:`SIGNATURES` (e.g. ``"F2 I1 i"``)."""
    from numba import types

    kinds: dict[str, Any] = {"i": types.int64, "f": types.float64, "b": types.boolean}
    kinds.update({f"I{k}": types.Array(types.int64, k, "C") for k in (1, 2)})
    kinds.update({f"F{k}": types.Array(types.float64, k, "C") for k in (1, 2, 3, 4)})
    return tuple(kinds[c] for c in codes.split())


class _Child:
    """The child process, and a thread that waits for it (so it is reaped when it ends)."""

    def __init__(self, jobs: list[str], own: dict[str, str] | None = None) -> None:
        import subprocess

        self.own = dict(own or {})  # compiled in the run while it waits (see compile_own)

        env = dict(os.environ)
        # the child imports this mkba (the cache files are named after its source files)
        src = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mkba.warmup", *jobs],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        self.pid = os.getpid()  # the run's process (a forked copy of it does not wait)
        self.exited = threading.Event()
        self.returncode: int | None = None
        threading.Thread(target=self._reap, name="mkba-warmup-reaper", daemon=True).start()

    def _reap(self) -> None:
        self.returncode = self.proc.wait()
        self.exited.set()

    def wait(self, timeout: float) -> bool:
        """Wait until the child has exited (killing it after ``timeout``); whether it compiled
        everything."""
        if not self.exited.wait(timeout):
            self.proc.kill()
            self.exited.wait(10.0)
        return self.returncode == 0

    def compile_own(self) -> None:
        """In the run: compile :attr:`own` (``"module:function"`` to signature codes) one
        after the other while the child is still running, i.e. in time the run would spend
        waiting for it. Each is compiled at most once; a function that does not compile for
        its signature is left to be compiled when first called."""
        while self.own and not self.exited.is_set():
            name, codes = next(iter(self.own.items()))
            del self.own[name]
            with contextlib.suppress(Exception):  # compiled when called instead, as before
                _dispatcher(name).compile(signature(codes))

    def stop(self) -> None:
        """Ask the child to stop after the function it is compiling (at exit of the run)."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):  # the child has gone already
                self.proc.stdin.close()


class _AfterChild:
    """Stands in for a dispatcher's numba cache until the child has exited: the first cache
    lookup waits for the child, then puts the real cache back and reads it."""

    def __init__(self, cache: Any, child: _Child, later: list[Any]) -> None:
        self._cache = cache
        self._child = child
        self._later = later  # every dispatcher the child compiles (to flush after a failure)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._cache, attr)

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        ours = os.getpid() == self._child.pid  # not in a fork of the run: not its child
        if ours:  # the run's own share first, while the child compiles
            self._child.compile_own()
        ok = ours and self._child.wait(TIMEOUT_S)
        for d in self._later:
            if isinstance(d._cache, _AfterChild):
                d._cache = d._cache._cache
                if ours and not ok:  # nothing half-written is read: compiled again
                    d._cache.flush()
        return self._cache.load_overload(sig, target_context)


_child: _Child | None = None


def start(kind: str) -> bool:
    """Start the child for a run of ``kind`` (a key of :data:`LATER`), unless one was started
    in this process already, ``MKBA_COMPILE_CHILD=0``, or those functions are in this process
    already; whether it was started. Call only when the cache is cold (it costs a process)."""
    names = CHILD[kind]
    deps = [d for n in names for d in DEPENDENCIES.get(n, ())]
    own = {n: SIGNATURES[n] for n in OWN[kind]}
    return start_jobs({n: SIGNATURES[n] for n in names}, deps, own)


def start_jobs(
    jobs: dict[str, str], dependencies: list[str], own: dict[str, str] | None = None
) -> bool:
    """:func:`start` for any functions: ``jobs`` maps ``"module:function"`` to its signature
    codes; ``dependencies`` are compiled with them (their cache lookups wait too). ``own``
    (the same form): compiled in this process when it first needs one of ``jobs``, while the
    child still runs (:meth:`_Child.compile_own`)."""
    global _child
    if _child is not None or os.environ.get(ENV) == "0":
        return False
    try:
        later = [_dispatcher(n) for n in (*jobs, *dependencies)]
        if any(d.overloads for d in later) or not all(hasattr(d, "_cache") for d in later):
            return False
        child = _Child([f"{name}={codes}" for name, codes in jobs.items()], own)
    except Exception:  # e.g. no process can be started: the run compiles everything itself
        return False
    _child = child
    for d in later:
        d._cache = _AfterChild(d._cache, child, later)
    atexit.register(child.stop)
    return True


def _stop_requested() -> bool:
    """In the child: whether the run closed our standard input (it is exiting)."""
    import select

    try:
        ready, _, _ = select.select([sys.stdin], [], [], 0)
    except (OSError, ValueError):
        return False
    return bool(ready) and not os.read(sys.stdin.fileno(), 1)


def _compile(jobs: list[str]) -> int:
    """In the child: compile each ``"module:function=codes"`` for its signature; 0 if all
    compiled. The cyclic garbage collector is paused while numba compiles, as in the run
    (:func:`mkba.compile_notice.pause_gc_while_compiling`)."""
    from mkba.compile_notice import pause_gc_while_compiling

    pause_gc_while_compiling()
    for job in jobs:
        if _stop_requested():
            return 1
        name, codes = job.split("=")
        _dispatcher(name).compile(signature(codes))
    return 0


if __name__ == "__main__":  # pragma: no cover - run as the child process (tests run it)
    sys.exit(_compile(sys.argv[1:]))
