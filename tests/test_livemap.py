"""mkba.livemap: numba's live-variable map on bit sets gives numba's own map (the same keys in
the same order, the same sets) on random control-flow graphs, on the IR of mkba's kernels, and
at every call during a compile; the machine code compiled with it is the same bytes."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numba import njit
from numba.core import analysis, compiler
from numba.core.controlflow import CFGraph

from mkba import kernel, livemap, rng
from mkba.decide import irr


def _numba_own() -> Any:
    """numba's compute_live_map, whether or not this process replaced it."""
    return livemap._numba_own or analysis.compute_live_map


pytestmark = pytest.mark.skipif(
    livemap._fingerprint(_numba_own()) != livemap._EXPECTED,
    reason="mkba.livemap was written for numba 0.68 on CPython 3.11: not installed over this one",
)


def test_a_compile_started_by_mkba_installs_it() -> None:
    """compile_notice.pause_gc_while_compiling (where a cold run and the compile child start
    compiling) puts the bit sets in place of numba's map (a new process: this one may have it
    already)."""
    code = (
        "from numba.core import analysis; from mkba import compile_notice, livemap\n"
        "assert analysis.compute_live_map is not livemap.compute_live_map\n"
        "compile_notice.pause_gc_while_compiling()\n"
        "assert analysis.compute_live_map is livemap.compute_live_map\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


def test_many_names_alive_at_once() -> None:
    """A long chain of blocks with many names alive across it (the decode of large bit sets)."""
    g = CFGraph()
    n = 300
    for b in range(n):
        g.add_node(b)
    for b in range(n - 1):
        g.add_edge(b, b + 1)
    g.add_edge(n - 1, 0)
    g.set_entry_point(0)
    g.process()
    blocks = dict.fromkeys(range(n))
    defs = {b: {f"v{b}_{i}" for i in range(20)} for b in range(n)}
    use = {b: {f"v{(b + 7) % n}_{i}" for i in range(0, 20, 3)} for b in range(n)}
    want = _numba_own()(g, blocks, use, defs)
    got = livemap.compute_live_map(g, blocks, use, defs)
    assert got == want and list(got) == list(want)


def _random_case(
    seed: int,
) -> tuple[CFGraph, dict[int, None], dict[int, set[str]], dict[int, set[str]]]:
    """A random graph (forward and back edges, self loops, blocks not reachable from the
    entry) with random names used and defined per block."""
    r = np.random.default_rng(seed)
    n = int(r.integers(1, 40))
    g = CFGraph()
    for b in range(n):
        g.add_node(b)
    for b in range(n):
        for _ in range(int(r.integers(0, 3))):
            g.add_edge(b, int(r.integers(0, n)))  # any block: loops, back edges, self loops
    g.set_entry_point(0)
    g.process()
    pool = [f"v{i}" for i in range(int(r.integers(1, 200)))]
    pick = lambda: {pool[i] for i in r.integers(0, len(pool), int(r.integers(0, 12)))}  # noqa: E731
    order = [int(b) for b in r.permutation(n)]  # blocks in any order
    return g, dict.fromkeys(order), {b: pick() for b in order}, {b: pick() for b in order}


@pytest.mark.parametrize("seed", range(300))
def test_the_same_map_as_numba_on_random_graphs(seed: int) -> None:
    g, blocks, use, defs = _random_case(seed)
    want = _numba_own()(g, blocks, use, defs)
    got = livemap.compute_live_map(g, blocks, use, defs)
    assert got == want and list(got) == list(want)


@pytest.mark.parametrize(
    "function",
    [kernel.simulate_chunk, kernel.simulate_programme, rng.sample_rows, irr._scan_bisect],
)
def test_the_same_map_as_numba_on_mkba_s_kernels(function: Any) -> None:
    """The untyped IR of mkba's largest compiled functions (hundreds of blocks)."""
    fir = compiler.run_frontend(function.py_func)
    cfg = analysis.compute_cfg_from_blocks(fir.blocks)
    ud = analysis.compute_use_defs(fir.blocks)
    want = _numba_own()(cfg, fir.blocks, ud.usemap, ud.defmap)
    got = livemap.compute_live_map(cfg, fir.blocks, ud.usemap, ud.defmap)
    assert got == want and list(got) == list(want)
    assert sum(map(len, want.values())) > 100  # a real case: many live names


def test_every_call_during_a_compile_gives_numba_s_map(monkeypatch: pytest.MonkeyPatch) -> None:
    """A function compiled here (not cached): at each of numba's calls, both maps are equal."""
    calls: list[bool] = []
    own = _numba_own()

    def both(cfg: Any, blocks: Any, use: Any, defs: Any) -> Any:
        want = own(cfg, blocks, use, defs)
        got = livemap.compute_live_map(cfg, blocks, use, defs)
        calls.append(got == want and list(got) == list(want))
        return want

    monkeypatch.setattr(analysis, "compute_live_map", both)

    @njit
    def f(x: np.ndarray, k: int) -> float:
        s = 0.0
        for i in range(x.size):
            if x[i] > 0:
                for j in range(k):
                    s += x[i] * j
            elif x[i] < -1:
                break
            else:
                s -= 1.0
        return s

    assert f(np.array([1.0, -0.5, 2.0, -3.0, 4.0]), 3) == 3.0 * 1.0 - 1.0 + 3.0 * 2.0
    assert len(calls) > 3 and all(calls)


def test_installed_only_over_the_numba_it_was_written_for(monkeypatch: pytest.MonkeyPatch) -> None:
    assert livemap._fingerprint(_numba_own()) == livemap._EXPECTED
    monkeypatch.setattr(livemap, "_installed", False)
    monkeypatch.setattr(livemap, "_EXPECTED", "another numba")
    here = analysis.compute_live_map
    assert not livemap.install()
    assert analysis.compute_live_map is here  # left as it was


TINY = """
import numpy as np
from numba import njit


@njit(cache=True)
def f(x, k):
    s = 0.0
    for i in range(x.size):
        if x[i] > 0:
            for j in range(k):
                s += x[i] * j
        elif x[i] < -1:
            break
        else:
            s -= np.sqrt(-x[i])
    return s
"""


def test_the_same_machine_code_with_and_without(tmp_path: Path) -> None:
    """A function compiled in a new process with numba's map and in another with the bit sets:
    the same cache files, byte for byte (machine code and the IR kept for linking)."""
    name = f"livemap_tiny_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text(TINY)
    caches = []
    for install in (False, True):
        cache = tmp_path / f"cache-{install}"
        code = (
            f"from mkba import livemap; assert livemap.install() or not {install}\n"
            if install
            else ""
        )
        code += f"import numpy as np, {name} as m; print(m.f(np.array([1.0, -0.5, 2.0]), 3))"
        # (one hash seed for both: the typed IR's text kept in the cache lists some
        # statements in an order that follows string hashing, the machine code does not)
        env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONHASHSEED": "0"}
        env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert float(out.stdout) == 1.0 * 3 - np.sqrt(0.5) + 2.0 * 3
        caches.append(cache)
    files = [sorted(p.relative_to(c) for p in c.rglob("*") if p.is_file()) for c in caches]
    assert files[0] == files[1] and any(p.suffix == ".nbc" for p in files[0])
    for rel in files[0]:
        assert (caches[0] / rel).read_bytes() == (caches[1] / rel).read_bytes(), rel
