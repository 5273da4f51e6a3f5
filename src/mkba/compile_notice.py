"""A message on stderr when the numba engine is compiled instead of loaded from its cache.

The first run after installing (or after the kernel changed) compiles the engine, which takes
tens of seconds; later runs load it from numba's on-disk cache in well under a second. Without
a word, a cold first run looks hung, so :func:`announce` prints one line on stderr (whether or
not stderr is a terminal) before the first call, once per process.
"""

from __future__ import annotations

import sys
from typing import Any

ESTIMATE = "10 to 30 s on a 2-core machine"
"""Cold compile of a first run measured on the project machine: 10 s of CPU, 13-16 s of wall
time with the machine busy (issue 17, target 9: the kernels no longer parallel=True; before,
17-21 s of CPU and 20-67 s of wall time)."""

_announced = False


def is_cached(dispatcher: Any) -> bool:
    """Whether ``dispatcher`` (a numba ``@njit(cache=True)`` function) has machine code in this
    process or in its on-disk cache for this CPU. When that cannot be told (numba internals
    differ), True: better no message than a wrong one."""
    if dispatcher.overloads:  # compiled or loaded in this process already
        return True
    try:
        index = dispatcher._cache._cache_file._load_index()  # {} when the source changed
        magic = dispatcher.targetctx.codegen().magic_tuple()
    except Exception:  # private numba API: stay quiet if it moved
        return True
    return any(key[1] == magic for key in index)


def announce(dispatchers: list[Any]) -> bool:
    """Print the compile message once per process if any of ``dispatchers`` must be compiled;
    return whether it was printed."""
    global _announced
    if _announced:
        return False
    _announced = True
    if all(is_cached(d) for d in dispatchers):
        return False
    print(
        f"mkba: compiling the simulation engine once ({ESTIMATE}); "
        "later runs load it from the cache in under a second",
        file=sys.stderr,
        flush=True,
    )
    return True
