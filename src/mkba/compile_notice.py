"""A message on stderr when the numba engine is compiled instead of loaded from its cache.

The first run after installing (or after the kernel changed) compiles the engine, which takes
tens of seconds; later runs load it from numba's on-disk cache in well under a second. Without
a word, a cold first run looks hung, so :func:`announce` prints one line on stderr (whether or
not stderr is a terminal) before the first call, once per process.

While numba compiles, Python's cyclic garbage collector is paused (:func:`pause_gc_while_compiling`,
started with the message and in the compile child of :mod:`mkba.warmup`): a compile builds
hundreds of thousands of small linked objects (numba IR, types, llvmlite IR), and the
collector's passes over them were 10-15 % of a cold compile's CPU (issue 17, target 9). A warm
run compiles nothing and is not touched; the machine code and the numbers are the same.
"""

from __future__ import annotations

import gc
import sys
import threading
from typing import Any

ESTIMATE = "10 to 30 s on a 2-core machine"
"""Cold compile of a first run measured on the project machine: 10 s of CPU, 13-16 s of wall
time with the machine busy (issue 17, target 9: the kernels no longer parallel=True; before,
17-21 s of CPU and 20-67 s of wall time)."""

_announced = False


def is_cached(dispatcher: Any, sig: tuple[Any, ...] | None = None) -> bool:
    """Whether ``dispatcher`` (a numba ``@njit(cache=True)`` function) has machine code in this
    process or in its on-disk cache for this CPU: for the argument types ``sig`` (a tuple of
    numba types, as numba's cache index keys them) when given, else for any. When that cannot
    be told (numba internals differ), True: better no message than a wrong one."""
    if dispatcher.overloads if sig is None else tuple(sig) in dispatcher.overloads:
        return True  # compiled or loaded in this process already
    try:
        index = dispatcher._cache._cache_file._load_index()  # {} when the source changed
        magic = dispatcher.targetctx.codegen().magic_tuple()
    except Exception:  # private numba API: stay quiet if it moved
        return True
    return any(key[1] == magic and (sig is None or key[0] == tuple(sig)) for key in index)


def announced() -> bool:
    """Whether :func:`announce` has been called in this process (it looks only once)."""
    return _announced


def announce(dispatchers: list[Any]) -> bool:
    """Print the compile message once per process if any of ``dispatchers`` must be compiled;
    return whether it was printed. An item is a dispatcher (cached for any argument types
    will do) or a pair of a dispatcher and the argument types the run calls it with (cached
    for those: e.g. the kernel for float32 per-area outcomes, which a cache holding only the
    float64 one does not have)."""
    global _announced
    if _announced:
        return False
    _announced = True
    if all(is_cached(*d) if isinstance(d, tuple) else is_cached(d) for d in dispatchers):
        return False
    pause_gc_while_compiling()
    print(
        f"mkba: compiling the simulation engine once ({ESTIMATE}); "
        "later runs load it from the cache in under a second",
        file=sys.stderr,
        flush=True,
    )
    return True


_parts: set[str] = set()
_parts_lock = threading.Lock()


def announce_part(dispatcher: Any, what: str, estimate: str) -> bool:
    """Print, once per process for each ``what``, that ``dispatcher`` is compiled now when it
    is not cached (see :func:`is_cached`); return whether it was printed. For a function
    compiled after the engine was found in the cache: e.g. the IRR, which a cold first run
    leaves to its compile child (:mod:`mkba.warmup`), so that a run started before that child
    is done compiles it itself, and says so instead of pausing for seconds without a word."""
    with _parts_lock:
        if what in _parts:
            return False
        _parts.add(what)
    if is_cached(dispatcher):
        return False
    pause_gc_while_compiling()
    print(
        f"mkba: compiling {what} once ({estimate}); later runs load it from the cache",
        file=sys.stderr,
        flush=True,
    )
    return True


class _GcPause:
    """Pauses the cyclic garbage collector from the start of the outermost numba compile in
    this process to its end, then re-enables it if it was enabled before (the listener of
    :func:`pause_gc_while_compiling`). Compiles nest (a function's callees are compiled
    inside its own compile) and run under numba's global compiler lock, one at a time, so a
    depth counter tells the outermost one. Reference counting still frees what is not in a
    cycle; the cycles a compile leaves are collected by the first collection after it (about
    +10 MB of peak memory while the kernel compiles, measured)."""

    def __init__(self) -> None:
        self.depth = 0
        self._enable_after = False
        self._lock = threading.Lock()

    def on_start(self, event: Any) -> None:
        with self._lock:
            if self.depth == 0:
                self._enable_after = gc.isenabled()
                gc.disable()
            self.depth += 1

    def on_end(self, event: Any) -> None:
        with self._lock:
            self.depth -= 1
            if self.depth == 0 and self._enable_after:
                gc.enable()


_gc_pause: _GcPause | None = None


def pause_gc_while_compiling() -> None:
    """From now on in this process, pause the cyclic garbage collector during every numba
    compile (:class:`_GcPause`, registered for numba's public ``numba:compile`` event, which
    numba sends only when it compiles, not when it loads from its cache); once per process.
    If numba's event API is not there, compiles are as before. Also puts numba's live-variable
    map on bit sets (:func:`mkba.livemap.install`: the same IR, less CPU)."""
    global _gc_pause
    if _gc_pause is not None:
        return
    from mkba import livemap

    livemap.install()
    try:
        from numba.core import event

        class _Listener(_GcPause, event.Listener):
            pass

        listener = _Listener()
        event.register("numba:compile", listener)
    except Exception:  # pragma: no cover - another numba: compile with the collector on
        return
    _gc_pause = listener
