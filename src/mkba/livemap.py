"""numba's live-variable map computed on bit sets: the same sets for a fraction of the CPU.

After each pass that changes a function's IR, numba's post-processing works out which variables
are alive at the entry of each block (``numba.core.analysis.compute_live_map``, through
``postproc.VariableLifetime.livemap``), to place the ``del`` of each variable. It does so by
two fix-point iterations over Python sets of variable names: first the names defined or used in
any block that reaches a block (``def_reach``), then the live ones pushed back to the
predecessors (``liveness``). For the top-down kernel (hundreds of blocks, thousands of
variables, about 190 calls during its compile) those set unions took 3.3 CPU-s of a 16 CPU-s
compile on the project machine (issue 17, target 9: the kernel's compile is the cold first
run's path).

:func:`compute_live_map` solves the same equations with Python integers as bit sets (one bit
per variable name, numbered in the order first seen): a union of two sets is one OR of two
integers. Both iterations compute the least fix point of the same monotone equations, which
does not depend on the order of the updates, so the result is the same: a dict with the same
keys in the same order, each value the same set of names (compared at every call during whole
compiles of every function a run compiles, and on random control-flow graphs in
``tests/test_livemap.py``). numba puts the ``del`` statements of each block in sorted order of
the names, so nothing downstream depends on the order in which a set iterates (which Python's
string hashing changes from process to process anyway): the IR, the machine code and the
numbers are the same (the cache files compared byte for byte).

:func:`install` puts it in place of numba's when numba's function is the one this was written
for (the byte code of it and of its inner functions, :data:`_EXPECTED`); otherwise nothing is
replaced. It is installed where mkba starts a compile (:func:`mkba.compile_notice.
pause_gc_while_compiling`: the cold run and the compile child); a warm run compiles nothing and
does not import this module. Once installed it stays in place for the rest of the process,
for every numba compile in it (also of code that is not mkba's, e.g. a notebook's own
functions): the same maps, so the same code. The fingerprint covers byte code, which changes
with CPython's minor version: on another Python or numba nothing is replaced (numba's own map
is used, as before).
"""

from __future__ import annotations

import hashlib
from typing import Any

_EXPECTED = "2a42cf73770916a1"
"""The fingerprint (:func:`_fingerprint`) of ``numba.core.analysis.compute_live_map`` in the
numba this was written for (0.68)."""

_installed = False
_numba_own: Any = None
"""numba's own ``compute_live_map``, once :func:`install` has replaced it (for comparison)."""


def _fingerprint(function: Any) -> str:
    """A short hash of ``function``'s byte code, names and constants, and of its inner
    functions' (the code objects among its constants), independent of line numbers."""
    h = hashlib.sha256()

    def add(code: Any) -> None:
        h.update(code.co_code)
        h.update(repr(code.co_names).encode())
        h.update(repr(code.co_varnames).encode())
        for const in code.co_consts:
            if hasattr(const, "co_code"):
                add(const)
            else:
                h.update(repr(const).encode())

    add(function.__code__)
    return h.hexdigest()[:16]


def compute_live_map(
    cfg: Any, blocks: Any, var_use_map: dict[Any, Any], var_def_map: dict[Any, Any]
) -> dict[Any, set[str]]:
    """``numba.core.analysis.compute_live_map`` on bit sets: for each block (in the order of
    ``blocks``), the set of variable names alive at its entry, given the control-flow graph
    ``cfg`` and the names each block uses (``var_use_map``) and defines (``var_def_map``)."""
    index: dict[str, int] = {}
    names: list[str] = []

    def bits(vs: Any) -> int:
        mask = 0
        for name in vs:
            i = index.get(name)
            if i is None:
                i = index[name] = len(names)
                names.append(name)
            mask |= 1 << i
        return mask

    use = {b: bits(vs) for b, vs in var_use_map.items()}
    defined = {b: bits(vs) for b, vs in var_def_map.items()}
    topo = list(cfg.topo_order())
    # the names defined or used in any block from which a block can be reached (itself
    # included): numba's def_reach, for the blocks reachable from the entry and their
    # successors (0 for the others, as numba's empty default)
    succs = {b: [s for s, _ in cfg.successors(b)] for b in topo}
    reach: dict[Any, int] = {}
    changed = True
    while changed:
        changed = False
        for b in topo:
            r = reach.get(b, 0) | defined[b] | use[b]
            if r != reach.get(b, 0):
                reach[b] = r
                changed = True
            for s in succs[b]:
                old = reach.get(s, 0)
                if old | r != old:
                    reach[s] = old | r
                    changed = True
    # alive at a block's entry: used in it, or alive at a successor's entry, defined or used
    # in a block that reaches it and not defined in it (numba's liveness, backwards)
    live = {b: use[b] for b in blocks}
    backwards = topo[::-1]
    preds = {b: [p for p, _ in cfg.predecessors(b)] for b in backwards}
    changed = True
    while changed:
        changed = False
        for b in backwards:
            alive = live[b]
            for p in preds[b]:
                old = live[p]
                new = old | (alive & reach.get(p, 0) & ~defined[p])
                if new != old:
                    live[p] = new
                    changed = True
    out: dict[Any, set[str]] = {}
    for b, mask in live.items():  # (the bits read from the binary digits: linear in the
        digits = bin(mask)[:1:-1]  # names, where peeling the lowest bit off is quadratic)
        out[b] = {names[i] for i, c in enumerate(digits) if c == "1"}
    return out


def install() -> bool:
    """Use :func:`compute_live_map` for numba's, in this process, from now on, if numba's is
    the one this was written for; whether it is in place. Idempotent."""
    global _installed, _numba_own
    if _installed:
        return True
    try:
        from numba.core import analysis

        if _fingerprint(analysis.compute_live_map) != _EXPECTED:
            return False
    except Exception:  # numba's internals moved: leave numba as it is
        return False
    _numba_own = analysis.compute_live_map
    analysis.compute_live_map = compute_live_map
    _installed = True
    return True
