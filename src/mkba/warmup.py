"""A cold first run compiles the kernel while a child process compiles the sampler; the
later functions go to whichever process is free first; the IRR is left to the child.

numba compiles one function at a time in a process (one global compiler lock), so a first
``mkba run`` with an empty cache compiled its functions one after the other on one of the
machine's cores. The run needs the sampler first (``mkba.rng``), then the kernel
(``simulate_chunk``, the longest compile), then the aggregation, the side summary's loop, the
IRR and the statistics' passes, and with a bottom-up programme the programme's kernel
(``simulate_programme``).

When :func:`mkba.engine.announce_compile` finds the cache cold, :func:`start` starts
``python -m mkba.warmup`` with the names of the sampler's functions (with a bottom-up
programme: of both kernels; :data:`CHILD`), and the run compiles the kernel itself at once
(:data:`RUN_FIRST`; the longest compile is on the run's path whatever the split, and so it
starts without waiting for the child's start-up). The kernel's own compiled callees
(:data:`FIRST`) the child claims and compiles first, so that the run's kernel compile loads
them instead of compiling them. The child compiles its functions for the
argument types the run uses (:data:`SIGNATURES`), which writes numba's on-disk cache, the same
files the run would write, and reports each one on its standard output once its files are
written. When the run first needs one of the child's functions, its cache lookup first
compiles its share of the functions needed later (:data:`SHARED`, by signature, one after the
other, only while the child has not compiled its own functions yet), then waits until the
child has reported that function (:class:`_AfterChild`), then loads what the child wrote. The
machine code is the one the run would have compiled itself: the same source, types and
compiler; the numbers are the same.

:data:`SHARED` is one list for both processes, longest compile first: the child takes from
it once its own functions are compiled, the run while it waits for the child and later any
it needs that nobody has taken, each the next function the other has not taken (a *claim*: a
file created exclusively in a folder of the run's, :func:`_claim`). So whichever process is
free first compiles the next function (issue 17, target 9).

:data:`DEFERRED` functions have an exact NumPy twin (the IRR's scan and bisection, 7-10
CPU-s): the child compiles them last, at the lowest priority, and the run does not wait for
them: while :func:`pending` says the child has not reported one, the run computes with its
twin (the same numbers). The child compiles them also after the run has exited, for the next
run. A cold first run thus compiles only the kernel on its path (issue 17, target 9: before,
the IRR and the aggregation came after the sampler in the run, 37-49 CPU-s in all on 2 cores).

- The run reads a function's cache files only after the child has reported it. numba writes a
  function's index before its data, so a read while the child writes could see an entry
  without its data (or an older data file of the same name).
- If the child failed before reporting a function, was not done after :data:`TIMEOUT_S` (it
  is then killed), or the signature it compiled is not the one the run calls, the run compiles
  the function itself, as before. A function the child has not reported has its cache index
  emptied first (``Cache.flush``), so nothing half-written is read.
- The run and the child never compile the same function, nor one such a function calls
  (:data:`DEPENDENCIES`): each function of :data:`FIRST` and :data:`SHARED` is compiled by
  the one process that claimed it, and the run reads no cache file the child may be writing
  (every cache lookup of a function the child may compile waits for the child's report of it
  or its caller; the run's kernel compile, reaching a callee the child claimed, waits for it).
- A warm run starts nothing: :func:`mkba.engine.announce_compile` looks at the cache first.
- At exit of the run, a child still compiling is asked to stop (its standard input is closed);
  it stops after the function it is compiling, so no cache file is left half-written, then
  compiles the deferred functions (unless it was asked before its own were done). A thread of
  the run reaps it (no zombie process) and removes the claims' folder; a child that outlives
  the run removes it itself.
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
    "mkba.kernel:_pow_lanes": "F1 f F1",
    "mkba.kernel:_other_groups": "F3 F4 F1 F1 F1 i i i",
    "mkba.rng:sample_rows": "U2 I1 b b i I1 I1 F2 I2 F1 F1 F1 I1 F3 I1 F3 F2 I1 I2 b b",
    "mkba.rng:copula_rows": "F2 I1 F2 b b",
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
C-contiguous float64 array of k dimensions, ``Ik`` of int64, ``Uk`` of uint64, ``S1`` a 1-D
float32 array, ``i`` an int64, ``f`` a float64, ``b`` a bool), with the default per-area
outcomes (float64; see :data:`AREA_ARGS` for ``--area-draws float32``).
``tests/test_warmup.py`` checks them against the types a run passes."""

AREA_ARGS: dict[str, dict[str, tuple[int, ...]]] = {
    "totals": {"mkba.kernel:simulate_chunk": (35, 36, 45, 46)},
    "programme": {},
}
"""For a run of each kind, the arguments (0-based positions in :data:`SIGNATURES`) that hold
the per-area outcomes in the run's area type: the top-down kernel's ``out_area_ben``,
``out_area_cost`` and its twin's two, float32 arrays (``S1``) in a run with ``--area-draws
float32`` (:func:`signatures`). A cold run of that kind thus compiles the kernel it calls, and
only that one: before, it compiled the float64 kernel up front and then the float32 one when
it first called it (13-16 CPU-s each). A bottom-up programme's kernels write their per-area
raw outputs in float64 whatever the area type (its ``aggregate`` is called with both)."""


def signatures(kind: str, area_dtype: Any = None) -> dict[str, str]:
    """:data:`SIGNATURES` as a run of ``kind`` (a key of :data:`LATER`) with per-area outcomes
    of ``area_dtype`` (numpy's float64, the default, or float32) calls them: the arguments of
    :data:`AREA_ARGS` ``[kind]`` are ``S1`` for float32."""
    import numpy as np

    sigs = dict(SIGNATURES)
    dtype = np.dtype(np.float64 if area_dtype is None else area_dtype)
    if dtype == np.float64:
        return sigs
    if dtype != np.float32:
        raise ValueError(f"per-area outcomes are float64 or float32, not {dtype}")
    for name, positions in AREA_ARGS[kind].items():
        codes = sigs[name].split()
        for i in positions:
            if codes[i] != "F1":
                raise AssertionError(f"{name}: argument {i} is not a per-area output")
            codes[i] = "S1"
        sigs[name] = " ".join(codes)
    return sigs


RUN_FIRST = {
    "totals": ("mkba.kernel:simulate_chunk",),
    "programme": (),
}
"""What the run compiles itself, by signature, as soon as it has started the child (before it
samples): the kernel (``simulate_chunk``, the longest compile, 15-25 CPU-s on the AMD
machine), so that the longest compile starts at once instead of after the child's own
start-up (0.7-4 s more of wall time, with the machine quiet to busy). A bottom-up programme
leaves both kernels to the child (``simulate_programme`` calls ``_pow_lanes`` too)."""

FIRST = {
    "totals": ("mkba.kernel:_pow_lanes", "mkba.kernel:_other_groups"),
    "programme": (),
}
"""The compiled functions that the run's own compile (:data:`RUN_FIRST`) calls, compiled ahead
by whichever process claims each first, as :data:`SHARED` (:func:`_claim`): the child claims
them before its own jobs, so that the run's kernel compile, when its typing reaches a call of
one, waits for the child's report and loads it from the cache instead of compiling it (about
0.5 CPU-s off the run's path, measured: ``_pow_lanes`` 0.25, ``_other_groups`` 0.23); a child
slow to start leaves them to the run, which claims and compiles them itself, as before. The
run does not compile its share of :data:`SHARED` while it waits for these (it waits inside
its own compile). The kernel's machine code is the same either way: the cache stores each
function's optimised IR for linking, which the caller links as it links a callee compiled in
the same process (the kernel's disassembly compared, apart from numba's per-process name
counter; the linked IR of a small caller in ``tests/test_warmup.py``)."""

CHILD = {
    "totals": ("mkba.rng:sample_rows", "mkba.rng:copula_rows"),
    "programme": ("mkba.kernel:simulate_chunk", "mkba.kernel:simulate_programme"),
}
"""What the child compiles first, in the order a run needs them: for a top-down run the
sampler (about 7 CPU-s), while the run compiles the kernel; for a bottom-up programme the
kernel and the programme's kernel on its per-area raw outputs, while the run compiles the
sampler when it first samples. Then it takes from :data:`SHARED`."""

SHARED = {
    "totals": (
        "mkba.kernel:aggregate_totals",
        "mkba.implied:_full_strength_rows",
        "mkba.colstats:sum_sq_dev",
        "mkba.colstats:transpose_sums",
        "mkba.implied:_slot_values",
        "mkba.colstats:add_running_sum",
    ),
    "programme": (
        "mkba.kernel:aggregate",
        "mkba.colstats:sum_sq_dev",
        "mkba.colstats:transpose_sums",
        "mkba.colstats:add_running_sum",
    ),
}
"""The functions a run needs after the kernel, compiled ahead by signature by whichever
process takes them first (see the module docstring), longest compile first so that the last
ones, taken when one process is nearly done, are short (CPU-s with an empty cache on the AMD
machine, busy: ``aggregate_totals`` 2.5, ``_full_strength_rows`` 2.3, the statistics' passes
1.0, 0.8 and 0.2, ``_slot_values`` 0.7). The run takes them only while the child has not
compiled its own functions yet, and later any it needs that the child has not taken (what is
left is compiled when first called, as without a child)."""

DEFERRED = {
    "totals": ("mkba.decide.irr:_scan_bisect",),
    "programme": ("mkba.decide.irr:_scan_bisect",),
}
"""Functions with an exact NumPy twin, compiled only by the child, last and at the lowest
priority, also after the run has exited (for the next run): the run does not wait for them,
it computes with the twin while :func:`pending` says the child has not compiled them yet
(the IRR, 7-10 CPU-s with its callees: :func:`mkba.decide.irr._scan_bisect_numpy`, tested
bit-equal to the compiled ``_scan_bisect``)."""

LATER = {
    kind: RUN_FIRST[kind] + FIRST[kind] + CHILD[kind] + SHARED[kind] + DEFERRED[kind]
    for kind in CHILD
}
"""Every function compiled ahead on a cold first run, in either process, for the types of
:func:`signatures` (with ``--area-draws float32``, a bottom-up programme's ``aggregate`` is
called with float32 per-area outcomes too: that one the run compiles when it calls it)."""

DEPENDENCIES = {
    "mkba.kernel:simulate_chunk": ("mkba.kernel:_pow_lanes", "mkba.kernel:_other_groups"),
    "mkba.kernel:simulate_programme": ("mkba.kernel:_pow_lanes",),
    "mkba.rng:sample_rows": ("mkba.rng:ndtri_into",),
    "mkba.rng:copula_rows": ("mkba.rng:ndtr_into",),
    "mkba.decide.irr:_scan_bisect": (
        "mkba.decide.irr:_bisect_step",
        "mkba.decide.irr:_horner",
        "mkba.decide.irr:_brackets",
        "mkba.decide.irr:_cuts",
    ),
}
"""Compiled functions that a function compiled ahead calls (compiled with it, cached apart;
the ``inline="always"`` ones are inlined, not compiled apart)."""


def _dispatcher(name: str) -> Any:
    module, function = name.split(":")
    return getattr(importlib.import_module(module), function)


def signature(codes: str) -> tuple[Any, ...]:
    """numba argument types from codes as in :data:`SIGNATURES` (e.g. ``"F2 I1 i"``)."""
    from numba import types

    kinds: dict[str, Any] = {"i": types.int64, "f": types.float64, "b": types.boolean}
    kinds.update({f"I{k}": types.Array(types.int64, k, "C") for k in (1, 2)})
    kinds.update({f"U{k}": types.Array(types.uint64, k, "C") for k in (1, 2)})
    kinds["S1"] = types.Array(types.float32, 1, "C")
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
    """The child process, and a thread that reads which functions it has compiled (one name
    a line on its standard output, :func:`_report`) and waits for it (so it is reaped when it
    ends)."""

    def __init__(
        self,
        jobs: list[str],
        shared: dict[str, str] | None = None,
        deferred: dict[str, str] | None = None,
        early: dict[str, str] | None = None,
    ) -> None:
        import subprocess
        import tempfile

        self.jobs = [job.split("=")[0] for job in jobs]  # the child's own, by name
        self.shared = dict(shared or {})  # not taken by the run yet (see compile_own)
        self.deferred = set(deferred or {})
        self.early = set(early or {})  # claimed like the shared ones, before the jobs
        self._tried: set[str] = set()  # the names the run has tried to claim
        self.mine: set[str] = set()  # the names of shared (or early) functions the run took
        self.done: set[str] = set()  # the names the child has compiled (and saved)
        self.claims = tempfile.mkdtemp(prefix="mkba-warmup-")
        argv = [sys.executable, "-m", "mkba.warmup", *jobs]
        if early:
            argv += [_EARLY, *(f"{n}={c}" for n, c in early.items())]
        # (the claims' folder also without shared functions: the child removes it when done)
        argv += [_SHARE, self.claims, *(f"{n}={c}" for n, c in self.shared.items())]
        if deferred:
            argv += [_DEFER, *(f"{n}={c}" for n, c in deferred.items())]
        env = dict(os.environ)
        # the child imports this mkba (the cache files are named after its source files)
        src = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                close_fds=True,
            )
        except BaseException:
            _remove(self.claims)
            raise
        self.pid = os.getpid()  # the run's process (a forked copy of it does not wait)
        self._cond = threading.Condition()
        self.exited = threading.Event()
        self.returncode: int | None = None
        threading.Thread(target=self._reap, name="mkba-warmup-reaper", daemon=True).start()

    def _reap(self) -> None:
        with contextlib.suppress(Exception):  # (a closed pipe: the child's end)
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                with self._cond:
                    self.done.add(line.decode("ascii", "replace").strip())
                    self._cond.notify_all()
        self.returncode = self.proc.wait()
        _remove(self.claims)
        with self._cond:
            self.exited.set()
            self._cond.notify_all()

    def wait_for(self, name: str, timeout: float) -> bool:
        """Wait until the child has compiled ``name`` or has exited (killing it after
        ``timeout``); whether it compiled ``name`` (its cache files are then complete)."""
        import time

        end = time.monotonic() + timeout
        with self._cond:
            while name not in self.done and not self.exited.is_set():
                left = end - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            if name in self.done:
                return True
        if not self.exited.is_set():
            self.proc.kill()  # hung: nothing it writes from now on is read
            self.exited.wait(10.0)
        return name in self.done

    def busy(self) -> bool:
        """Whether the child is still compiling its own functions (the run's wait)."""
        return not self.exited.is_set() and not all(n in self.done for n in self.jobs)

    def compile_own(self) -> None:
        """In the run: compile the shared functions the child has not taken (``"module:function"``
        to signature codes, in order), each after claiming it, while the child is still
        compiling its own functions, i.e. in time the run would spend waiting for them. Each is
        compiled at most once; a function that does not compile for its signature is left to
        be compiled when first called."""
        while self.shared and self.busy():
            name, codes = next(iter(self.shared.items()))
            if self.take(name):
                with contextlib.suppress(Exception):  # compiled when called instead, as before
                    _dispatcher(name).compile(signature(codes))

    def take(self, name: str) -> bool:
        """In the run: claim the shared (or :data:`FIRST`) function ``name`` for the run if no
        process has (its cache then no longer waits for the child); whether the run has it."""
        if name in self.mine:
            return True
        if name in self._tried or (name not in self.shared and name not in self.early):
            return False  # not claimable, or asked before
        self._tried.add(name)
        self.shared.pop(name, None)
        if not _claim(self.claims, name):
            return False  # the child compiles it: loaded after it said so
        self.mine.add(name)
        for n in (name, *DEPENDENCIES.get(name, ())):  # ours: no waiting for the child
            _own_cache(_dispatcher(n))
        return True

    def stop(self) -> None:
        """Ask the child to stop after the function it is compiling (at exit of the run; the
        :data:`DEFERRED` functions it still compiles, for the next run)."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):  # the child has gone already
                self.proc.stdin.close()


_SHARE = "--shared"
"""In the child's arguments: the claims' folder and the shared functions follow."""

_EARLY = "--early"
"""In the child's arguments (after its jobs): the :data:`FIRST` functions follow, claimed in
the folder given after :data:`_SHARE`, compiled before the jobs."""

_DEFER = "--deferred"
"""In the child's arguments (after the shared ones): the deferred functions follow."""


def _remove(folder: str) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _own_cache(dispatcher: Any) -> None:
    """Give ``dispatcher`` its own numba cache back (it no longer waits for the child)."""
    if isinstance(dispatcher._cache, _AfterChild):
        dispatcher._cache = dispatcher._cache._cache


class _AfterChild:
    """Stands in for the numba cache of ``dispatcher`` until the child has compiled it
    (``name``: the function the child compiles it with, itself or its caller): the first
    cache lookup waits for the child's word, then puts the real cache back and reads it."""

    def __init__(self, cache: Any, child: _Child, name: str, dispatcher: Any) -> None:
        self._cache = cache
        self._child = child
        self._name = name
        self._dispatcher = dispatcher

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._cache, attr)

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        child = self._child
        ours = os.getpid() == child.pid  # not in a fork of the run: not its child
        if ours and self._name not in child.early:  # (early: inside the run's own compile)
            child.compile_own()  # the run's share first, while the child compiles its own
        if ours and child.take(self._name):  # a shared one nobody took: compiled here
            return self._cache.load_overload(sig, target_context)
        ok = ours and child.wait_for(self._name, TIMEOUT_S)
        _own_cache(self._dispatcher)
        if ours and not ok:  # nothing half-written is read: compiled again
            self._cache.flush()
        return self._cache.load_overload(sig, target_context)


_child: _Child | None = None


def pending(name: str) -> bool:
    """Whether ``name`` (``"module:function"``, one of :data:`DEFERRED`) is still being
    compiled by this run's child: the run then computes with its NumPy twin instead of
    calling it. False without a child, once the child said it is compiled (the call loads
    it from the cache), once the child has exited (the call compiles it, as without a
    child), and in a forked copy of the run."""
    child = _child
    return (
        child is not None
        and name in child.deferred
        and name not in child.done
        and not child.exited.is_set()
        and os.getpid() == child.pid
    )


def start(kind: str, area_dtype: Any = None) -> bool:
    """Start the child for a run of ``kind`` (a key of :data:`LATER`) whose per-area outcomes
    are of ``area_dtype`` (float64 by default; see :func:`signatures`), unless one was started
    in this process already, ``MKBA_COMPILE_CHILD=0``, or those functions are in this process
    already; whether it was started. Then compile :data:`RUN_FIRST` here for the types the run
    calls (the run's longest compile, while the child compiles the sampler). Call only when
    the cache is cold (it costs a process)."""
    sigs = signatures(kind, area_dtype)
    names = CHILD[kind]
    deps = [d for n in names for d in DEPENDENCIES.get(n, ())]
    shared = {n: sigs[n] for n in SHARED[kind]}
    deferred = {n: sigs[n] for n in DEFERRED[kind]}
    early = {n: sigs[n] for n in FIRST[kind]}
    if not start_jobs({n: sigs[n] for n in names}, deps, shared, deferred, early):
        return False
    for name in RUN_FIRST[kind]:
        with contextlib.suppress(Exception):  # compiled when called instead, as before
            _dispatcher(name).compile(signature(sigs[name]))
    return True


def start_jobs(
    jobs: dict[str, str],
    dependencies: list[str],
    shared: dict[str, str] | None = None,
    deferred: dict[str, str] | None = None,
    early: dict[str, str] | None = None,
) -> bool:
    """:func:`start` for any functions: ``jobs`` maps ``"module:function"`` to its signature
    codes; ``dependencies`` are compiled with them (their cache lookups wait too). ``shared``
    (the same form, in the order to take them): compiled by the child after ``jobs``, or by
    this process when it first needs one of ``jobs``, whichever claims each first
    (:meth:`_Child.compile_own`); their :data:`DEPENDENCIES` go with them. ``deferred`` (the
    same form): compiled by the child last (see :data:`DEFERRED`, :func:`pending`). ``early``
    (the same form): claimed by the child before ``jobs``, or by this process when it first
    needs one (see :data:`FIRST`)."""
    global _child
    if _child is not None or os.environ.get(ENV) == "0":
        return False
    try:
        # (a shared or deferred function this process has already compiled or loaded is not
        # compiled ahead)
        shared = {n: c for n, c in (shared or {}).items() if not _dispatcher(n).overloads}
        deferred = {n: c for n, c in (deferred or {}).items() if not _dispatcher(n).overloads}
        early = {n: c for n, c in (early or {}).items() if not _dispatcher(n).overloads}
        groups = {n: n for n in jobs}
        groups.update({d: next(iter(jobs), d) for d in dependencies})
        for n in [*early, *shared, *deferred]:
            groups.update({m: n for m in (n, *DEPENDENCIES.get(n, ()))})
        later = {m: _dispatcher(m) for m in groups}
        if any(d.overloads for d in later.values()) or not all(
            hasattr(d, "_cache") for d in later.values()
        ):
            return False
        child = _Child([f"{name}={codes}" for name, codes in jobs.items()], shared, deferred, early)
    except Exception:  # e.g. no process can be started: the run compiles everything itself
        return False
    _child = child
    for m, d in later.items():
        d._cache = _AfterChild(d._cache, child, groups[m], d)
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


def _report(name: str) -> None:
    """In the child: tell the run that ``name`` is compiled and its cache files written (a
    line on standard output; nothing when the run has gone)."""
    with contextlib.suppress(OSError):
        os.write(1, f"{name}\n".encode("ascii"))


def _compile(
    jobs: list[str],
    claims: str | None = None,
    shared: list[str] | None = None,
    deferred: list[str] | None = None,
    early: list[str] | None = None,
) -> int:
    """In the child: compile each of ``early`` that it can claim in the folder ``claims``,
    then each ``"module:function=codes"`` of ``jobs`` for its signature, then each of
    ``shared`` that it can claim (the run takes the others), then, at the lowest priority,
    each of ``deferred`` (also when the run has exited meanwhile, unless that was before
    ``jobs`` were done); 0 if all compiled. Each name is reported when compiled
    (:func:`_report`). The cyclic garbage collector is paused while numba compiles, as in the
    run (:func:`mkba.compile_notice.pause_gc_while_compiling`)."""
    from mkba.compile_notice import pause_gc_while_compiling

    pause_gc_while_compiling()
    for job in early or ():
        if _stop_requested():
            return 1
        name, codes = job.split("=")
        if claims is not None and _claim(claims, name):
            _dispatcher(name).compile(signature(codes))
            _report(name)
    for job in jobs:
        if _stop_requested():
            return 1
        name, codes = job.split("=")
        _dispatcher(name).compile(signature(codes))
        _report(name)
    code = 0
    for job in shared or ():
        if _stop_requested():
            code = 1
            break
        name, codes = job.split("=")
        if claims is not None and _claim(claims, name):
            _dispatcher(name).compile(signature(codes))
            _report(name)
    if deferred:
        with contextlib.suppress(OSError, AttributeError):  # (no nice: the same priority)
            os.nice(19)
    for job in deferred or ():
        name, codes = job.split("=")
        _dispatcher(name).compile(signature(codes))
        _report(name)
    return code


def _main(argv: list[str]) -> int:
    """The child's command line: jobs, then optionally :data:`_EARLY` and the early jobs,
    then optionally :data:`_SHARE`, the claims' folder and the shared jobs, then optionally
    :data:`_DEFER` and the deferred jobs. The child removes the folder when it is done (as
    the run does once the child has exited; a run that exits first leaves it to the child): a
    claim after that fails, and nothing more is compiled ahead."""
    deferred: list[str] = []
    if _DEFER in argv:
        i = argv.index(_DEFER)
        argv, deferred = argv[:i], argv[i + 1 :]
    if _SHARE in argv:
        i = argv.index(_SHARE)
        argv, claims, shared = argv[:i], argv[i + 1], argv[i + 2 :]
        early: list[str] = []
        if _EARLY in argv:
            j = argv.index(_EARLY)
            argv, early = argv[:j], argv[j + 1 :]
        try:
            return _compile(argv, claims, shared, deferred, early)
        finally:
            _remove(claims)
    return _compile(argv, deferred=deferred)


if __name__ == "__main__":  # pragma: no cover - run as the child process (tests run it)
    sys.exit(_main(sys.argv[1:]))
