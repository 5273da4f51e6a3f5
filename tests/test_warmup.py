"""The cold first run's compile child (:mod:`mkba.warmup`): the run loads what the child
compiled, compiles itself when the child failed or hung, starts nothing when the cache is warm,
and the signatures the child compiles are those the run calls (issue 17, target 9)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from mkba import compile_notice, engine, kernel, warmup
from mkba.checks import runnable
from mkba.cli import main
from mkba.load import load_scenario

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"
PROGRAMME = ROOT / "scenarios" / "wijkprogramma-example.toml"

TINY = """
import os
import time

from numba import njit

if os.environ.get("WARMUP_TINY_SLOW"):  # the child's import takes 2 s: the run compiles first
    time.sleep(2.0)


@njit(cache=True, nogil=True)
def total(x):
    s = 0.0
    for v in x:
        s += v
    return s


@njit(cache=True, nogil=True)
def largest(x):
    m = x[0]
    for v in x:
        m = max(m, v)
    return m
"""


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, str]:
    """A new module with one cached compiled function (its cache in ``tmp_path``, or under
    NUMBA_CACHE_DIR, for this process and the child alike), importable by both."""
    name = f"warmup_tiny_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text(TINY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    )
    monkeypatch.setattr(warmup, "_child", None)
    monkeypatch.delenv(warmup.ENV, raising=False)
    return importlib.import_module(name), name


def _reaped(child: warmup._Child) -> bool:
    """The child has exited and was waited for (no zombie)."""
    return child.exited.wait(30) and child.proc.returncode is not None


def test_the_run_loads_what_the_child_compiled(tiny: tuple[ModuleType, str]) -> None:
    mod, name = tiny
    assert warmup.start_jobs({f"{name}:total": "F1"}, [])
    child = warmup._child
    assert child is not None
    assert mod.total(np.arange(5.0)) == 10.0  # 0 + 1 + 2 + 3 + 4; waits for the child first
    assert _reaped(child) and child.returncode == 0
    assert sum(mod.total._cache_hits.values()) == 1  # loaded from the child's cache files
    assert not mod.total._cache_misses  # not compiled in this process
    assert not warmup.start_jobs({f"{name}:total": "F1"}, [])  # one child per process


def test_the_run_compiles_its_share_while_the_child_runs(
    tiny: tuple[ModuleType, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the run first needs what the child compiles, it compiles its own share (by
    signature, before that function is called) while the child still runs, then loads the
    child's function from the cache."""
    mod, name = tiny
    monkeypatch.setenv("WARMUP_TINY_SLOW", "1")
    assert warmup.start_jobs({f"{name}:total": "F1"}, [], {f"{name}:largest": "F1"})
    child = warmup._child
    assert child is not None
    assert not mod.largest.overloads
    assert mod.total(np.arange(5.0)) == 10.0  # 0 + 1 + 2 + 3 + 4, from the child's cache
    assert _reaped(child) and child.returncode == 0
    assert sum(mod.total._cache_hits.values()) == 1 and not mod.total._cache_misses
    assert sum(mod.largest._cache_misses.values()) == 1  # compiled here, not called yet
    assert warmup.signature("F1") in mod.largest.signatures
    assert mod.largest(np.array([3.0, 7.0, -1.0])) == 7.0  # the largest of the three
    assert sum(mod.largest._cache_misses.values()) == 1  # not compiled again


def test_the_child_takes_the_shared_functions_the_run_has_not_taken(
    tiny: tuple[ModuleType, str],
) -> None:
    """The run takes shared functions only in time it would spend waiting: a child done
    before the run needs it has compiled the shared function too (claimed in the folder it was
    given), and the run loads it from the cache when it first calls it."""
    mod, name = tiny
    assert warmup.start_jobs({f"{name}:total": "F1"}, [], {f"{name}:largest": "F1"})
    child = warmup._child
    assert child is not None and _reaped(child) and child.returncode == 0
    assert not os.path.exists(child.claims)  # removed once the child has exited
    assert mod.total(np.arange(4.0)) == 6.0  # 0 + 1 + 2 + 3
    assert not mod.largest.overloads and not child.mine
    assert mod.largest(np.array([2.0, -5.0])) == 2.0
    assert sum(mod.largest._cache_hits.values()) == 1 and not mod.largest._cache_misses


def test_a_shared_function_already_in_this_process_is_not_shared(
    tiny: tuple[ModuleType, str],
) -> None:
    mod, name = tiny
    assert mod.largest(np.array([1.0, 2.0])) == 2.0  # compiled here first
    assert warmup.start_jobs({f"{name}:total": "F1"}, [], {f"{name}:largest": "F1"})
    child = warmup._child
    assert child is not None and child.shared == {}
    assert mod.total(np.arange(3.0)) == 3.0  # 0 + 1 + 2, from the child's cache
    assert _reaped(child) and child.returncode == 0
    assert sum(mod.largest._cache_misses.values()) == 1  # compiled once, here


def test_a_claim_is_taken_once(tmp_path: Path) -> None:
    assert warmup._claim(str(tmp_path), "pkg.mod:f")
    assert not warmup._claim(str(tmp_path), "pkg.mod:f")  # the other process had it
    assert warmup._claim(str(tmp_path), "pkg.mod:g")
    assert not warmup._claim(str(tmp_path / "gone"), "pkg.mod:h")  # no folder: no claim


def test_the_child_compiles_only_what_it_claims(
    tiny: tuple[ModuleType, str], tmp_path: Path
) -> None:
    """The child's command line: its jobs, then the shared ones it can still claim."""
    mod, name = tiny
    claims = tmp_path / "claims"  # (tmp_path also holds the module)
    claims.mkdir()
    assert warmup._claim(str(claims), f"{name}:largest")  # taken by the run
    argv = [f"{name}:total=F1", warmup._SHARE, str(claims), f"{name}:largest=F1"]
    # (its standard input open, as the run keeps it: closed means "stop")
    proc = subprocess.Popen([sys.executable, "-m", "mkba.warmup", *argv], stdin=subprocess.PIPE)
    assert proc.wait(timeout=300) == 0
    assert proc.stdin is not None
    proc.stdin.close()
    assert not claims.exists()  # the child removed the claims' folder when done
    mod.total(np.arange(2.0))
    mod.largest(np.arange(2.0))
    assert sum(mod.total._cache_hits.values()) == 1  # the child compiled its job
    assert sum(mod.largest._cache_misses.values()) == 1  # not the run's claim


def test_an_own_function_that_does_not_compile_is_compiled_when_called(
    tiny: tuple[ModuleType, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mod, name = tiny
    monkeypatch.setenv("WARMUP_TINY_SLOW", "1")
    # indexing an int64: a typing error in the run's own share
    assert warmup.start_jobs({f"{name}:total": "F1"}, [], {f"{name}:largest": "i"})
    child = warmup._child
    assert child is not None
    assert mod.total(np.arange(5.0)) == 10.0  # 0 + 1 + 2 + 3 + 4, from the child's cache
    assert _reaped(child) and child.returncode == 0
    assert sum(mod.total._cache_hits.values()) == 1
    assert not mod.largest.overloads
    assert mod.largest(np.array([1.0, 4.0])) == 4.0


def test_the_run_and_the_child_compile_different_functions() -> None:
    """No function (nor one it calls) is compiled in both processes: the child's own jobs
    and their callees are neither the run's own (compiled first) nor shared nor deferred, each
    shared function is claimed by one process, and no two of the others call the same compiled
    function; so the run never reads a cache file the child may be writing. The shared list
    is ordered longest compile first; the IRR, which has a NumPy twin, is deferred."""
    for kind in warmup.CHILD:
        child = {*warmup.CHILD[kind]}
        child |= {d for n in warmup.CHILD[kind] for d in warmup.DEPENDENCIES.get(n, ())}
        first = set(warmup.FIRST[kind])  # claimed: compiled by one process, the run loads them
        assert first <= {d for n in warmup.RUN_FIRST[kind] for d in warmup.DEPENDENCIES[n]}
        seen: set[str] = set()
        for n in (
            *warmup.RUN_FIRST[kind],
            *warmup.FIRST[kind],
            *warmup.SHARED[kind],
            *warmup.DEFERRED[kind],
        ):
            group = {n, *warmup.DEPENDENCIES.get(n, ())}
            if n in warmup.RUN_FIRST[kind]:
                group -= first
            assert not group & child and not group & seen, (kind, n)
            seen |= group
        assert set(warmup.LATER[kind]) == {
            *warmup.RUN_FIRST[kind],
            *warmup.FIRST[kind],
            *warmup.CHILD[kind],
            *warmup.SHARED[kind],
            *warmup.DEFERRED[kind],
        }
        assert all(n in warmup.SIGNATURES for n in warmup.LATER[kind])
        aggregate = "aggregate" if kind == "programme" else "aggregate_totals"
        assert warmup.SHARED[kind][0] == f"mkba.kernel:{aggregate}"  # the longest
        assert warmup.DEFERRED[kind] == ("mkba.decide.irr:_scan_bisect",)  # it has a twin


def test_a_callee_the_child_claimed_is_loaded_by_the_run_s_compile(
    tiny: tuple[ModuleType, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An early function (:data:`mkba.warmup.FIRST`: a callee of the run's own compile) is
    claimed by the child before its jobs; the run's lookup waits for the child's report and
    loads it, and does not compile its share of the shared functions meanwhile (it would be
    inside its own compile)."""
    mod, name = tiny
    monkeypatch.setenv("WARMUP_TINY_SLOW", "1")  # the child is importing when the run asks
    early = {f"{name}:total": "F1"}
    assert warmup.start_jobs({}, [], {f"{name}:largest": "F1"}, None, early)
    child = warmup._child
    assert child is not None
    claims = child.claims
    deadline = time.monotonic() + 120
    while not os.path.exists(os.path.join(claims, f"{name}--total")):  # the child's claim
        assert time.monotonic() < deadline and not child.exited.is_set()
        time.sleep(0.05)
    assert mod.total(np.arange(5.0)) == 10.0  # 0 + 1 + 2 + 3 + 4, from the child's cache
    assert f"{name}:total" in child.done
    assert sum(mod.total._cache_hits.values()) == 1 and not mod.total._cache_misses
    assert not mod.largest.overloads and not child.mine  # no share compiled on the way
    assert _reaped(child) and child.returncode == 0


def test_a_callee_the_child_has_not_claimed_is_compiled_by_the_run(
    tiny: tuple[ModuleType, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child slow to start: the run claims the early function itself and compiles it (as
    without a child); the child compiles only what it could claim."""
    mod, name = tiny
    monkeypatch.setenv("WARMUP_TINY_SLOW", "1")
    assert warmup.start_jobs({}, [], None, None, {f"{name}:total": "F1"})
    child = warmup._child
    assert child is not None
    assert mod.total(np.arange(3.0)) == 3.0  # 0 + 1 + 2, compiled here
    assert child.mine == {f"{name}:total"}
    assert sum(mod.total._cache_misses.values()) == 1
    assert _reaped(child) and child.returncode == 0
    assert f"{name}:total" not in child.done


CALLER = """
from numba import njit


@njit(cache=True, nogil=True)
def inner(x, out):
    for i in range(x.shape[0]):
        out[i] = x[i] * x[i] + 1.0


@njit(cache=True, nogil=True)
def outer(x):
    out = np.empty_like(x)
    inner(x, out)
    s = 0.0
    for v in out:
        s += v
    return s
"""


def _linked_ir(cache: Path, stem: str) -> str:
    """The optimised LLVM IR that numba's cache file of ``stem`` holds for linking (the
    module its machine code is emitted from), with numba's per-process function counter
    (``B<n>v<k>B`` in the mangled names) made neutral."""
    import pickle
    import re

    from llvmlite import binding

    (data,) = cache.rglob(f"{stem}-*.nbc")
    payload = pickle.loads(data.read_bytes())  # (numba's cache data: one pickled tuple)
    state = next(x for x in payload if isinstance(x, tuple) and len(x) == 3 and x[1] == "object")
    module = binding.parse_bitcode(state[2][1])
    return re.sub(r"B\d+v\d+B", "BvB", str(module))


def test_a_caller_compiled_with_its_callee_from_another_process_is_the_same_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel's callees (:data:`mkba.warmup.FIRST`) may come from the child's cache files:
    the caller compiled then links the callee's optimised IR from the cache, the same IR as
    when it compiles the callee itself, so the caller's code (and so every number) is the
    same. Checked on a small caller and callee: compiled together in one process, and with
    the callee compiled by another process first."""
    name = f"warmup_caller_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text("import numpy as np\n" + CALLER)
    monkeypatch.syspath_prepend(str(tmp_path))  # (the cache files name the module)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT / "src")])

    def compile_in_new_process(cache: Path, *names: str) -> None:
        code = "import sys; from mkba import warmup\n"
        code += "for spec in sys.argv[1:]:\n"
        code += "    n, c = spec.split('=')\n"
        code += "    warmup._dispatcher(n).compile(warmup.signature(c))\n"
        subprocess.run(
            [sys.executable, "-c", code, *names],
            env={**env, "NUMBA_CACHE_DIR": str(cache)},
            check=True,
            timeout=300,
        )

    together, apart = tmp_path / "together", tmp_path / "apart"
    compile_in_new_process(together, f"{name}:outer=F1")
    compile_in_new_process(apart, f"{name}:inner=F1 F1")
    compile_in_new_process(apart, f"{name}:outer=F1")
    assert _linked_ir(together, f"{name}.outer") == _linked_ir(apart, f"{name}.outer")
    assert _linked_ir(together, f"{name}.inner") == _linked_ir(apart, f"{name}.inner")


def test_a_failed_child_does_not_break_the_run(tiny: tuple[ModuleType, str]) -> None:
    mod, name = tiny
    assert warmup.start_jobs({f"{name}:total": "i"}, [])  # iterating an int: a typing error
    child = warmup._child
    assert child is not None
    assert mod.total(np.arange(5.0)) == 10.0  # compiled here instead
    assert _reaped(child) and child.returncode == 1
    assert sum(mod.total._cache_misses.values()) == 1


def test_a_child_compiling_other_types_costs_only_time(tiny: tuple[ModuleType, str]) -> None:
    mod, name = tiny
    assert warmup.start_jobs({f"{name}:total": "I1"}, [])  # int64 arrays; the run: float64
    child = warmup._child
    assert child is not None
    assert mod.total(np.arange(5.0)) == 10.0
    assert _reaped(child) and child.returncode == 0
    assert sum(mod.total._cache_misses.values()) == 1  # float64 not in the cache: compiled


def test_a_hung_child_is_killed_and_the_run_compiles(
    tiny: tuple[ModuleType, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mod, name = tiny
    monkeypatch.setattr(warmup, "TIMEOUT_S", 0.0)  # the child is not done at once
    assert warmup.start_jobs({f"{name}:total": "F1"}, [])
    child = warmup._child
    assert child is not None
    assert mod.total(np.arange(5.0)) == 10.0
    assert _reaped(child) and child.returncode != 0  # killed
    assert sum(mod.total._cache_misses.values()) == 1  # its index was emptied: compiled here


def test_no_child_when_switched_off(
    tiny: tuple[ModuleType, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mod, name = tiny
    monkeypatch.setenv(warmup.ENV, "0")
    assert not warmup.start_jobs({f"{name}:total": "F1"}, [])
    assert warmup._child is None
    assert mod.total(np.arange(3.0)) == 3.0


def test_the_child_stops_when_the_run_exits_first(tiny: tuple[ModuleType, str]) -> None:
    """At exit the run closes the child's standard input; the child compiles nothing more
    (here: it is asked before it starts the first function)."""
    _, name = tiny
    assert warmup.start_jobs({f"{name}:total": "F1"}, [])
    child = warmup._child
    assert child is not None
    child.stop()
    assert _reaped(child) and child.returncode in (0, 1)  # 1: stopped before compiling


def test_a_warm_run_starts_no_child(monkeypatch: pytest.MonkeyPatch) -> None:
    m = runnable(load_scenario(REFERENCE))
    engine.simulate(m, draws=64, chunk_size=64)  # compiled or loaded: the engine is warm
    monkeypatch.setattr(compile_notice, "_announced", False)
    monkeypatch.setattr(warmup, "_child", None)
    started: list[tuple[object, ...]] = []
    monkeypatch.setattr(warmup, "start", lambda *args: started.append(args))
    engine.announce_compile(m)
    assert started == []
    # the same for a run with float32 per-area outcomes, once its kernel is cached too
    engine.simulate(m, draws=64, chunk_size=64, area_dtype=np.float32)
    monkeypatch.setattr(compile_notice, "_announced", False)
    engine.announce_compile(m, np.float32)
    assert started == []
    # a cold cache (as the notice sees it) starts the child, for the path the run takes
    monkeypatch.setattr(compile_notice, "_announced", False)
    monkeypatch.setattr(compile_notice, "is_cached", lambda d, sig=None: False)
    engine.announce_compile(m)
    monkeypatch.setattr(compile_notice, "_announced", False)
    engine.announce_compile(runnable(load_scenario(PROGRAMME)))
    monkeypatch.setattr(compile_notice, "_announced", False)
    engine.announce_compile(m, np.float32)
    assert started == [("totals", np.float64), ("programme", np.float64), ("totals", np.float32)]


def test_the_kernel_counts_as_cached_only_for_the_run_s_area_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cache that holds the top-down kernel for one per-area type only is cold for a run of
    the other: the notice is printed and the compile started for the run's type (before, a
    ``--area-draws float32`` run after a default one compiled its kernel without a word, and a
    cold one compiled both kernels)."""
    m = runnable(load_scenario(REFERENCE))
    asked: list[object] = []

    def only_float64(d: object, sig: tuple[object, ...] | None = None) -> bool:
        asked.append(sig)
        if d is kernel.simulate_chunk:
            return sig is not None and "float32" not in str(sig)
        return True  # everything else cached

    monkeypatch.setattr(compile_notice, "is_cached", only_float64)
    monkeypatch.setattr(warmup, "_child", None)
    started: list[tuple[object, ...]] = []
    monkeypatch.setattr(warmup, "start", lambda *args: started.append(args))
    monkeypatch.setattr(compile_notice, "_announced", False)
    engine.announce_compile(m)
    assert started == []
    monkeypatch.setattr(compile_notice, "_announced", False)
    engine.announce_compile(m, np.float32)
    assert started == [("totals", np.float32)]
    f32 = warmup.signature(warmup.signatures("totals", np.float32)["mkba.kernel:simulate_chunk"])
    f64 = warmup.signature(warmup.SIGNATURES["mkba.kernel:simulate_chunk"])
    assert asked[0] == f64 and f32 in asked


def test_a_float32_run_compiles_the_float32_kernel_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """warmup.start for a run with float32 per-area outcomes compiles the kernel for those
    types (:func:`warmup.signatures`: the four per-area outputs float32, everything else as
    :data:`warmup.SIGNATURES`), and no other: a cold ``--area-draws float32`` run compiled the
    unused float64 kernel first (13-16 CPU-s) before."""
    jobs: list[tuple[object, ...]] = []
    monkeypatch.setattr(warmup, "start_jobs", lambda *args: jobs.append(args) or True)
    compiled: list[tuple[str, tuple[object, ...]]] = []

    class Recorder:
        def __init__(self, name: str) -> None:
            self.name = name

        def compile(self, sig: tuple[object, ...]) -> None:
            compiled.append((self.name, sig))

    monkeypatch.setattr(warmup, "_dispatcher", Recorder)
    assert warmup.start("totals", np.float32)
    f32 = warmup.signatures("totals", np.float32)["mkba.kernel:simulate_chunk"]
    assert compiled == [("mkba.kernel:simulate_chunk", warmup.signature(f32))]
    codes = f32.split()
    f64 = warmup.SIGNATURES["mkba.kernel:simulate_chunk"].split()
    area = [35, 36, 45, 46]  # out_area_ben, out_area_cost, out2_area_ben, out2_area_cost
    assert [i for i, (a, b) in enumerate(zip(codes, f64, strict=True)) if a != b] == area
    assert {codes[i] for i in area} == {"S1"}
    assert str(warmup.signature("S1")[0]) == "array(float32, 1d, C)"
    # the child's own jobs are the same for both types (the sampler, the shared ones, the IRR)
    (args,) = jobs
    assert args[0] == {n: warmup.SIGNATURES[n] for n in warmup.CHILD["totals"]}
    compiled.clear()
    assert warmup.start("totals")
    assert compiled == [("mkba.kernel:simulate_chunk", warmup.signature(" ".join(f64)))]
    # a bottom-up programme: the same types for either (its kernels write float64 raw outputs)
    assert warmup.signatures("programme", np.float32) == warmup.SIGNATURES
    with pytest.raises(ValueError, match="float64 or float32"):
        warmup.signatures("totals", np.float16)


def test_the_cache_check_can_ask_for_one_signature(tiny: tuple[ModuleType, str]) -> None:
    """compile_notice.is_cached with argument types: True only for a signature compiled (in
    this process) or on disk (a new process), whatever other signatures are there."""
    mod, name = tiny
    assert mod.total(np.array([1.0, 2.0])) == 3.0  # compiled for float64, cached on disk
    f64, f32 = warmup.signature("F1"), warmup.signature("S1")
    assert compile_notice.is_cached(mod.total, f64)
    assert not compile_notice.is_cached(mod.total, f32)
    assert compile_notice.is_cached(mod.total)
    probe = (
        f"import {name} as m; from mkba import compile_notice as c, warmup as w; "
        "print(c.is_cached(m.total, w.signature('F1')), c.is_cached(m.total, w.signature('S1')),"
        " c.is_cached(m.total), bool(m.total.overloads))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "True", "False"]


def test_the_child_compiles_the_types_a_run_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After whole runs in this process (a top-down scenario with its side summary and IRR,
    and a bottom-up programme), each function the child would compile has been called with
    the child's signature."""
    from mkba.decide import irr as irr_mod

    # the compiled IRR, not its twin, also in a cold session (a child of this process
    # compiling it is waited for)
    monkeypatch.setattr(irr_mod, "_compiling_elsewhere", lambda: False)
    monkeypatch.setenv(warmup.ENV, "0")
    for i, scenario in enumerate((REFERENCE, PROGRAMME)):
        with pytest.raises(SystemExit) as done:
            main(["run", str(scenario), "-n", "300", "--out", str(tmp_path / str(i)), "--force"])
        assert done.value.code in (0, None)
    with pytest.raises(SystemExit) as done:  # the kernel for float32 per-area outcomes
        argv = ["run", str(REFERENCE), "-n", "300", "--area-draws", "float32"]
        main([*argv, "--out", str(tmp_path / "f32"), "--force"])
    assert done.value.code in (0, None)
    f32 = warmup.signatures("totals", np.float32)["mkba.kernel:simulate_chunk"]
    assert warmup.signature(f32) in kernel.simulate_chunk.signatures
    for kind in ("totals", "programme"):
        for name in warmup.LATER[kind]:
            if name in warmup.FIRST[kind]:
                # the kernel's callees: not looked up when the kernel is loaded from the cache;
                # the cold first run below checks their one compiled signature
                continue
            dispatcher = warmup._dispatcher(name)
            assert warmup.signature(warmup.SIGNATURES[name]) in dispatcher.signatures, name
    assert kernel.aggregate_totals is warmup._dispatcher("mkba.kernel:aggregate_totals")


def test_a_cold_first_run_with_the_child_gives_the_same_numbers(tmp_path: Path) -> None:
    """The whole first run with an empty numba cache (the run compiles the kernel, the child
    the sampler and functions needed after the kernel, the run loads them; the IRR with its
    NumPy twin while the child compiles it): the same printed results as a warm run; each of
    those functions was compiled once, for the run's types (one entry in each index)."""
    cache = tmp_path / "numba-cache"
    env = {k: v for k, v in os.environ.items() if k != warmup.ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])

    def run(name: str, **extra: str) -> subprocess.CompletedProcess[str]:
        argv = ["run", str(REFERENCE), "-n", "500", "--out", str(tmp_path / name), "--force"]
        return subprocess.run(
            [sys.executable, "-m", "mkba", *argv],
            capture_output=True,
            text=True,
            env={**env, **extra},
            timeout=600,
        )

    cold = run("cold", NUMBA_CACHE_DIR=str(cache))
    assert cold.returncode == 0, cold.stderr
    assert "compiling the simulation engine once" in cold.stderr
    warm = run("warm")  # the test session's cache
    assert warm.returncode == 0, warm.stderr
    strip = lambda out: [x for x in out.splitlines() if "written to" not in x]  # noqa: E731
    assert strip(cold.stdout) == strip(warm.stdout)
    stems = ("kernel.simulate_chunk", "kernel.aggregate_totals", "implied._full_strength_rows")
    stems += ("rng.sample_rows", "rng.copula_rows", "irr._scan_bisect")
    stems += ("colstats.sum_sq_dev", "colstats.transpose_sums", "colstats.add_running_sum")
    stems += ("kernel._pow_lanes", "kernel._other_groups")  # (the child's signatures: the run's)
    # the IRR is deferred: the child may still compile it after the run has exited (numba
    # writes the data file last, each file renamed into place whole)
    deadline = time.monotonic() + 600
    while not list(cache.rglob("irr._scan_bisect-*.nbc")) and time.monotonic() < deadline:
        time.sleep(0.5)
    for stem in stems:
        (index,) = cache.rglob(f"{stem}-*.nbi")
        (data,) = cache.rglob(f"{stem}-*.nbc")  # one compiled signature
        assert data.stat().st_size > 0 and index.stat().st_size > 0


def test_the_collector_is_paused_while_numba_compiles(tiny: tuple[ModuleType, str]) -> None:
    """While numba compiles (a cache miss), Python's cyclic garbage collector is off; before
    and after, as it was (mkba.compile_notice.pause_gc_while_compiling)."""
    import gc

    from numba.core import event

    mod, _ = tiny
    compile_notice.pause_gc_while_compiling()
    compile_notice.pause_gc_while_compiling()  # once per process: one listener
    seen: list[bool] = []

    class Probe(event.Listener):
        def on_start(self, e: event.Event) -> None:
            seen.append(gc.isenabled())

        def on_end(self, e: event.Event) -> None:
            pass

    probe = Probe()
    event.register("numba:compile", probe)  # after the pause's listener: sees its effect
    try:
        assert gc.isenabled()
        assert mod.largest(np.array([1.0, 3.0, 2.0])) == 3.0  # a compile
        assert gc.isenabled()
    finally:
        event.unregister("numba:compile", probe)
    assert seen and not any(seen)


def test_the_collector_pause_follows_the_outermost_compile() -> None:
    """Compiles nest (callees inside their caller): the collector comes back only at the end
    of the outermost one, and only if it was on before."""
    import gc

    pause = compile_notice._GcPause()
    assert gc.isenabled()
    try:
        pause.on_start(None)
        pause.on_start(None)  # a callee
        pause.on_end(None)
        assert not gc.isenabled()
        pause.on_end(None)
        assert gc.isenabled()
        gc.disable()  # off before: stays off
        pause.on_start(None)
        pause.on_end(None)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_deferred_function_is_pending_until_the_child_has_compiled_it(
    tiny: tuple[ModuleType, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deferred function is the child's only, compiled after its jobs: until the child says
    it is compiled, :func:`mkba.warmup.pending` tells the run to use its twin; then the run
    loads it from the child's cache files."""
    mod, name = tiny
    monkeypatch.setenv("WARMUP_TINY_SLOW", "1")  # the child is still importing
    assert warmup.start_jobs({f"{name}:total": "F1"}, [], None, {f"{name}:largest": "F1"})
    child = warmup._child
    assert child is not None
    assert warmup.pending(f"{name}:largest")
    assert not warmup.pending(f"{name}:total")  # not deferred
    assert _reaped(child) and child.returncode == 0
    assert not warmup.pending(f"{name}:largest")
    assert child.done == {f"{name}:total", f"{name}:largest"}  # reported one by one
    assert mod.largest(np.array([2.0, 9.0, 4.0])) == 9.0  # the largest of the three
    assert sum(mod.largest._cache_hits.values()) == 1 and not mod.largest._cache_misses


def test_the_run_does_not_wait_for_the_deferred_functions(tiny: tuple[ModuleType, str]) -> None:
    """The run loads a job as soon as the child reports it (not when the child exits), and
    the child compiles the deferred functions also after the run has asked it to stop (they
    are for the next run)."""
    mod, name = tiny
    assert warmup.start_jobs({f"{name}:total": "F1"}, [], None, {f"{name}:largest": "F1"})
    child = warmup._child
    assert child is not None
    assert mod.total(np.arange(4.0)) == 6.0  # 0 + 1 + 2 + 3, once the child reported it
    assert f"{name}:total" in child.done
    assert sum(mod.total._cache_hits.values()) == 1 and not mod.total._cache_misses
    child.stop()  # the run exits
    assert _reaped(child) and child.returncode == 0
    assert f"{name}:largest" in child.done
    assert mod.largest(np.array([-1.0, -3.0])) == -1.0
    assert sum(mod.largest._cache_hits.values()) == 1 and not mod.largest._cache_misses


def test_a_child_stopped_before_its_jobs_compiles_nothing_deferred(
    tiny: tuple[ModuleType, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mod, name = tiny
    monkeypatch.setenv("WARMUP_TINY_SLOW", "1")  # stopped while it imports
    assert warmup.start_jobs({f"{name}:total": "F1"}, [], None, {f"{name}:largest": "F1"})
    child = warmup._child
    assert child is not None
    child.stop()
    assert _reaped(child) and child.returncode == 1 and not child.done
    assert not warmup.pending(f"{name}:largest")  # the child is gone: compiled when called
    assert mod.largest(np.array([5.0, 1.0])) == 5.0
    assert sum(mod.largest._cache_misses.values()) == 1


def test_the_irr_uses_its_numpy_twin_while_the_child_compiles_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While :func:`mkba.warmup.pending` says the child compiles the IRR, :func:`irr` does
    not call the compiled scan: the NumPy twin gives the same numbers, bit for bit (compared
    with the compiled IRR of the same flows)."""
    from mkba.decide import irr as irr_mod

    rng = np.random.default_rng(17)
    flow = np.cumsum(rng.standard_normal((5000, 31)), axis=1)
    flow[:, 0] -= 3.0  # an investment first: mostly one root
    flow[:500] = rng.standard_normal((500, 31))  # noise: several roots
    offsets = np.arange(31.0)
    with monkeypatch.context() as m:  # compiled, also in a cold session whose child compiles it
        m.setattr(irr_mod, "_compiling_elsewhere", lambda: False)
        want = irr_mod.irr(flow, offsets, chunk=1024)
    asked: list[str] = []
    monkeypatch.setattr(warmup, "pending", lambda name: asked.append(name) or True)

    def compiled(*args: object) -> bool:
        raise AssertionError("the compiled IRR was called while the child compiles it")

    monkeypatch.setattr(irr_mod, "_scan_bisect", compiled)
    got = irr_mod.irr(flow, offsets, chunk=1024)
    assert set(asked) == {"mkba.decide.irr:_scan_bisect"} and len(asked) == 5  # each block
    assert np.array_equal(got.roots, want.roots)
    assert np.array_equal(got.irr, want.irr, equal_nan=True)
    assert np.array_equal(np.signbit(got.irr), np.signbit(want.irr))
    assert (want.roots == 1).any() and (want.roots > 1).any()


def test_the_irr_asks_only_a_process_that_may_have_a_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A process that never imported :mod:`mkba.warmup` started no child: the IRR does not
    import it to ask (a warm run); with it imported, it asks :func:`mkba.warmup.pending`."""
    from mkba.decide import irr as irr_mod

    monkeypatch.setattr(warmup, "pending", lambda name: name == irr_mod._COMPILED)
    assert irr_mod._compiling_elsewhere()
    monkeypatch.delitem(sys.modules, "mkba.warmup")
    assert not irr_mod._compiling_elsewhere()
    assert "mkba.warmup" not in sys.modules
