"""A cold first run compiles the kernel in a child process; the later functions go to
whichever process is free first.

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
child's functions (the kernel, after its sampler), its cache lookup first compiles its
share of the functions needed after the kernel (:data:`SHARED`, by signature, one after the
other, each only while the child is still running), then waits for the child to exit
(:class:`_AfterChild`), then loads what the child wrote. The machine code is the one the run
would have compiled itself: the same source, types and compiler; the numbers are the same.

:data:`SHARED` is one list for both processes, longest compile first: the child takes from
it once its own functions are compiled, the run once it has compiled its sampler, each the
next function the other has not taken (a *claim*: a file created exclusively in a folder of
the run's, :func:`_claim`). So whichever process is free first compiles the next function,
and neither waits long for the other however the machine's load or the CPU shifts the
compile times (issue 17, target 9: with a fixed split the run compiled 2-4 CPU-s more than
the child on the AMD machine, while the child sat idle).

- The run reads those cache files only after the child has exited. numba writes a function's
  index before its data, so a read while the child writes could see an entry without its data
  (or an older data file of the same name).
- If the child failed, was not done after :data:`TIMEOUT_S` (it is then killed), or the
  signature it compiled is not the one the run calls, the run compiles the function itself, as
  before. After a failed or killed child the functions' cache indexes are emptied first
  (``Cache.flush``), so nothing half-written is read.
- The run and the child never compile the same function, nor one such a function calls
  (:data:`DEPENDENCIES`): each function of :data:`SHARED` is compiled by the one process that
  claimed it, and the run reads no cache file the child may be writing (every cache lookup
  of a function the child may compile waits for the child's exit). After a failed child only
  the functions it may have compiled are emptied.
- A warm run starts nothing: :func:`mkba.engine.announce_compile` looks at the cache first.
- At exit of the run, a child still compiling is asked to stop (its standard input is closed);
  it stops after the function it is compiling, so no cache file is left half-written. A thread
  of the run reaps it (no zombie process) and removes the claims' folder.
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
"""What the child compiles first, in the order a run needs them: the kernel (``simulate_chunk``,
the longest compile, 15-21 CPU-s on the AMD machine), and for a bottom-up programme the
programme's kernel on its per-area raw outputs; then it takes from :data:`SHARED`. Meanwhile
the run compiles the sampler (about 7 CPU-s), then takes from :data:`SHARED` too."""

SHARED = {
    "totals": (
        "mkba.decide.irr:_scan_bisect",
        "mkba.kernel:aggregate_totals",
        "mkba.implied:_full_strength_rows",
        "mkba.colstats:sum_sq_dev",
        "mkba.colstats:transpose_sums",
        "mkba.implied:_slot_values",
        "mkba.colstats:add_running_sum",
    ),
    "programme": (
        "mkba.decide.irr:_scan_bisect",
        "mkba.kernel:aggregate",
        "mkba.colstats:sum_sq_dev",
        "mkba.colstats:transpose_sums",
        "mkba.colstats:add_running_sum",
    ),
}
"""The functions a run needs after the kernel, compiled ahead by signature by whichever
process takes them first (see the module docstring), longest compile first so that the last
ones, taken when one process is nearly done, are short (CPU-s with an empty cache on the AMD
machine, busy: the IRR with its callees 7-9, ``aggregate_totals`` 2.5, ``_full_strength_rows``
2.3, the statistics' passes 1.0, 0.8 and 0.2, ``_slot_values`` 0.7). The run takes them only
while the child still runs (what is left is compiled when first called, as without a
child)."""

LATER = {kind: CHILD[kind] + SHARED[kind] for kind in CHILD}
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


def _claim(folder: str, name: str) -> bool:
    """Take ``name`` (``"module:function"``) for this process: whether no process had taken it
    (a file named after it created exclusively in ``folder``, atomic on every file system
    mkba runs on). False too when the folder is gone (the run removes it once the child has
    exited): then nothing is compiled ahead; the run compiles when it calls."""
    try:
        fd = os.open(os.path.join(folder, name.replace(":", "--")), os.O_CREAT | os.O_EXCL)
    except OSError:  # taken, or the folder is gone
        return False
    os.close(fd)
    return True


class _Child:
    """The child process, and a thread that waits for it (so it is reaped when it ends)."""

    def __init__(self, jobs: list[str], shared: dict[str, str] | None = None) -> None:
        import subprocess
        import tempfile

        self.shared = dict(shared or {})  # not taken by the run yet (see compile_own)
        self.mine: set[str] = set()  # the names of shared functions the run took
        self.claims = tempfile.mkdtemp(prefix="mkba-warmup-")
        share = [f"{name}={codes}" for name, codes in self.shared.items()]
        env = dict(os.environ)
        # the child imports this mkba (the cache files are named after its source files)
        src = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
        argv = [sys.executable, "-m", "mkba.warmup", *jobs]
        if share:
            argv += [_SHARE, self.claims, *share]
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                close_fds=True,
            )
        except BaseException:
            _remove(self.claims)
            raise
        self.pid = os.getpid()  # the run's process (a forked copy of it does not wait)
        self.exited = threading.Event()
        self.returncode: int | None = None
        threading.Thread(target=self._reap, name="mkba-warmup-reaper", daemon=True).start()

    def _reap(self) -> None:
        self.returncode = self.proc.wait()
        _remove(self.claims)
        self.exited.set()

    def wait(self, timeout: float) -> bool:
        """Wait until the child has exited (killing it after ``timeout``); whether it compiled
        everything."""
        if not self.exited.wait(timeout):
            self.proc.kill()
            self.exited.wait(10.0)
        return self.returncode == 0

    def compile_own(self) -> None:
        """In the run: compile the shared functions the child has not taken (``"module:function"``
        to signature codes, in order), each after claiming it, while the child is still
        running, i.e. in time the run would spend waiting for it. Each is compiled at most
        once; a function that does not compile for its signature is left to be compiled when
        first called."""
        while self.shared and not self.exited.is_set():
            name, codes = next(iter(self.shared.items()))
            del self.shared[name]
            if not _claim(self.claims, name):
                continue  # the child compiles it: loaded after the child's exit
            self.mine.add(name)
            for n in (name, *DEPENDENCIES.get(name, ())):  # ours: no waiting for the child
                _own_cache(_dispatcher(n))
            with contextlib.suppress(Exception):  # compiled when called instead, as before
                _dispatcher(name).compile(signature(codes))

    def stop(self) -> None:
        """Ask the child to stop after the function it is compiling (at exit of the run)."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):  # the child has gone already
                self.proc.stdin.close()


_SHARE = "--shared"
"""In the child's arguments: the claims' folder and the shared functions follow."""


def _remove(folder: str) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _own_cache(dispatcher: Any) -> None:
    """Give ``dispatcher`` its own numba cache back (it no longer waits for the child)."""
    if isinstance(dispatcher._cache, _AfterChild):
        dispatcher._cache = dispatcher._cache._cache


class _AfterChild:
    """Stands in for a dispatcher's numba cache until the child has exited: the first cache
    lookup waits for the child, then puts the real cache back and reads it."""

    def __init__(self, cache: Any, child: _Child, later: list[Any]) -> None:
        self._cache = cache
        self._child = child
        self._later = later  # every dispatcher the child may compile (to flush after a failure)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._cache, attr)

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        ours = os.getpid() == self._child.pid  # not in a fork of the run: not its child
        if ours:  # the run's share first, while the child compiles
            self._child.compile_own()
        ok = ours and self._child.wait(TIMEOUT_S)
        for d in self._later:
            if isinstance(d._cache, _AfterChild):
                d._cache = d._cache._cache
                # nothing half-written is read: compiled again (the run's own were unwrapped
                # when it took them, so a failed child's are the only ones flushed)
                if ours and not ok:
                    d._cache.flush()
        return self._cache.load_overload(sig, target_context)


_child: _Child | None = None


def start(kind: str) -> bool:
    """Start the child for a run of ``kind`` (a key of :data:`LATER`), unless one was started
    in this process already, ``MKBA_COMPILE_CHILD=0``, or those functions are in this process
    already; whether it was started. Call only when the cache is cold (it costs a process)."""
    names = CHILD[kind]
    deps = [d for n in names for d in DEPENDENCIES.get(n, ())]
    shared = {n: SIGNATURES[n] for n in SHARED[kind]}
    return start_jobs({n: SIGNATURES[n] for n in names}, deps, shared)


def start_jobs(
    jobs: dict[str, str], dependencies: list[str], shared: dict[str, str] | None = None
) -> bool:
    """:func:`start` for any functions: ``jobs`` maps ``"module:function"`` to its signature
    codes; ``dependencies`` are compiled with them (their cache lookups wait too). ``shared``
    (the same form, in the order to take them): compiled by the child after ``jobs``, or by
    this process when it first needs one of ``jobs``, whichever claims each first
    (:meth:`_Child.compile_own`); their :data:`DEPENDENCIES` go with them."""
    global _child
    if _child is not None or os.environ.get(ENV) == "0":
        return False
    try:
        # (a shared function this process has already compiled or loaded is not shared)
        shared = {n: c for n, c in (shared or {}).items() if not _dispatcher(n).overloads}
        names = [*jobs, *dependencies]
        for n in shared:
            names += [n, *DEPENDENCIES.get(n, ())]
        later = [_dispatcher(n) for n in names]
        if any(d.overloads for d in later) or not all(hasattr(d, "_cache") for d in later):
            return False
        child = _Child([f"{name}={codes}" for name, codes in jobs.items()], shared)
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


def _compile(jobs: list[str], claims: str | None = None, shared: list[str] | None = None) -> int:
    """In the child: compile each ``"module:function=codes"`` of ``jobs`` for its signature,
    then each of ``shared`` that it can claim in the folder ``claims`` (the run takes the
    others); 0 if all compiled. The cyclic garbage collector is paused while numba compiles,
    as in the run (:func:`mkba.compile_notice.pause_gc_while_compiling`)."""
    from mkba.compile_notice import pause_gc_while_compiling

    pause_gc_while_compiling()
    for job in jobs:
        if _stop_requested():
            return 1
        name, codes = job.split("=")
        _dispatcher(name).compile(signature(codes))
    for job in shared or ():
        if _stop_requested():
            return 1
        name, codes = job.split("=")
        if claims is not None and _claim(claims, name):
            _dispatcher(name).compile(signature(codes))
    return 0


def _main(argv: list[str]) -> int:
    """The child's command line: jobs, then optionally :data:`_SHARE`, the claims' folder and
    the shared jobs. The child removes the folder when it is done (as the run does once the
    child has exited; a run that exits first leaves it to the child): a claim after that
    fails, and nothing more is compiled ahead."""
    if _SHARE in argv:
        i = argv.index(_SHARE)
        try:
            return _compile(argv[:i], argv[i + 1], argv[i + 2 :])
        finally:
            _remove(argv[i + 1])
    return _compile(argv)


if __name__ == "__main__":  # pragma: no cover - run as the child process (tests run it)
    sys.exit(_main(sys.argv[1:]))
