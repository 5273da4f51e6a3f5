"""mkba.cacheload: numba's cached machine code loaded without the CPU target's lowering
registries (issue 17, target 2: start-up of a warm run), and everything numba does afterwards
as before: a lookup that misses compiles, a later compile installs the registries, numba's BLAS
check finds scipy.linalg.cython_blas alone, and a console run writes the same bytes.

Each case runs in fresh interpreters (the point is what a process has *not* imported), with a
numba cache folder of its own in ``tmp_path``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mkba import cacheload

REPO = Path(__file__).resolve().parents[1]

MODULE = """
import numpy as np
from numba import njit


@njit(cache=True)
def scaled_sum(x, f):
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = x[i] * f + 1.0
    acc = 0.0
    for i in range(x.shape[0]):
        acc += out[i]
    return acc


@njit(cache=True)
def total(x):
    return (x * 2.0).sum()
"""
"""Two cached functions: one that allocates an array (the runtime is needed), one whose
``ndarray.sum`` has its environment in ``numba.np.arraymath`` (imported when it is loaded)."""

PROBE = """
import json, sys
import numpy as np
from mkba import cacheload
installed = cacheload.install() if INSTALL else False
import cached_mod
x = np.linspace(0.0, 1.0, 1001)
got = cached_mod.scaled_sum(x, 3.0)
hits = sum(cached_mod.scaled_sum.stats.cache_hits.values())
misses = sum(cached_mod.scaled_sum.stats.cache_misses.values())
mods = ("numba.np.arraymath", "numba.np.linalg", "numba.cpython.setobj",
        "scipy.linalg.cython_blas", "scipy.linalg")
after_load = {m: m in sys.modules for m in mods}
summed = cached_mod.total(x)
after_total = {m: m in sys.modules for m in mods}
lib = cached_mod.scaled_sum.overloads[
    next(iter(cached_mod.scaled_sum.overloads))].library
engine = lib._codegen._engine
lazy = "_mkba_bitcode" in lib.__dict__
from mkba.cacheload import elf_global_definitions
elf = sorted(elf_global_definitions(lib.__dict__["_mkba_object"])) if lazy else []
unknown = engine.is_symbol_defined("no_such_symbol_anywhere")
noted = sorted(n for n in elf if n in engine._defined_symbols)
from numba import njit
@njit
def fresh(a):  # compiled here: the compiler installs the registries
    return np.sort(a)[::-1].sum()
compiled = fresh(x)
@njit
def links(a):  # links the cached library into new code (its module for linking)
    return cached_mod.scaled_sum(a, 2.0) + 1.0
linked = links(x)
import numba.np.arraymath as am
print(json.dumps({
    "installed": installed, "value": got.hex(), "hits": hits, "misses": misses,
    "after_load": after_load, "summed": summed.hex(), "after_total": after_total,
    "total_hits": sum(cached_mod.total.stats.cache_hits.values()), "lazy": lazy,
    "elf": elf, "unknown": unknown, "noted": noted, "linked": linked.hex(), "compiled": compiled.hex(), "have_blas": am._HAVE_BLAS,
    "scipy_linalg": "scipy.linalg" in sys.modules,
}))
"""


def _probe(tmp_path: Path, install: bool, code: str | None = None) -> dict[str, object]:
    """Run ``code`` (default: :data:`PROBE` with ``install``) in a new Python process with
    its numba cache in ``tmp_path`` and ``tmp_path`` importable; its last line of output,
    a JSON object."""
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO / "src")]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.replace("INSTALL", repr(install)) if code is None else code],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=env,
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert isinstance(out, dict)
    return out


def test_cache_miss_compiles_then_load_without_registries(tmp_path: Path) -> None:
    """With install(): an empty cache misses and compiles (the compiler refreshes the target
    itself); a second process loads the machine code without numba.np.arraymath & co. and gets
    the same values as without install(); a cached function whose environment is in
    numba.np.arraymath imports it, with numba's BLAS check finding cython_blas loaded alone (no
    scipy.linalg package); a function compiled afterwards works. The loaded library's bitcode is
    parsed only when needed: a symbol lookup numba's set does not answer, or linking the
    cached function into new code (same value as numba's own load)."""
    (tmp_path / "cached_mod.py").write_text(textwrap.dedent(MODULE))
    first = _probe(tmp_path, install=True)
    assert first["installed"] is True
    assert first["misses"] == 1 and first["hits"] == 0
    second = _probe(tmp_path, install=True)
    assert second["installed"] is True
    assert second["hits"] == 1 and second["misses"] == 0
    assert second["total_hits"] == 1
    assert second["after_load"] == {
        "numba.np.arraymath": False,
        "numba.np.linalg": False,
        "numba.cpython.setobj": False,
        "scipy.linalg.cython_blas": False,
        "scipy.linalg": False,
    }
    assert second["after_total"] == {
        # the environment of ndarray.sum: the module deferred (in sys.modules, its code not
        # run yet, so numba.np.linalg, which it imports, is not imported either)
        "numba.np.arraymath": True,
        "numba.np.linalg": False,
        "numba.cpython.setobj": False,
        "scipy.linalg.cython_blas": True,
        "scipy.linalg": False,
    }
    plain = _probe(tmp_path, install=False)  # numba as it is: the lookup refreshes the target
    assert plain["hits"] == 1
    assert plain["after_load"]["numba.np.arraymath"] is True
    # expected numbers: numba's own load (plain) of the same cache file
    assert first["value"] == second["value"] == plain["value"]
    assert first["summed"] == second["summed"] == plain["summed"]
    assert second["compiled"] == plain["compiled"]
    # the bitcode of a loaded library parsed only when needed; every lookup numba's answer
    assert second["lazy"] is True and plain["lazy"] is False
    assert "cached_mod" in " ".join(second["elf"])  # the function's own symbols
    # an unknown name parses every pending module (numba's own set, noted as at load): each
    # global symbol of the object code is among the module's definitions
    assert second["unknown"] is False and plain["unknown"] is False
    assert second["noted"] == second["elf"]
    assert second["linked"] == plain["linked"]  # linked into new code: the module parsed then
    assert second["have_blas"] is True
    assert second["scipy_linalg"] is False


def test_another_numba_body_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``Cache.load_overload`` that is not numba's known body: nothing replaced."""
    from numba.core import caching

    def load_overload(self: object, sig: object, target_context: object) -> None:
        return None

    monkeypatch.setattr(cacheload, "_installed", False)
    monkeypatch.setattr(caching.Cache, "load_overload", load_overload)
    assert cacheload.install() is False
    assert caching.Cache.load_overload is load_overload


def _console_run(out: Path, cache_load: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), cacheload.ENV: cache_load}
    subprocess.run(
        [sys.executable, "-m", "mkba", "run", "-n", "3000", "--out", str(out)],
        capture_output=True,
        check=True,
        cwd=REPO,
        env=env,
    )


def test_console_run_same_bytes_with_and_without(tmp_path: Path) -> None:
    """The console script's default scenario (3,000 draws) with mkba.cacheload (the default)
    and without (MKBA_CACHE_LOAD=0, numba's own lookups): every file byte for byte equal
    (manifest.json's timings and the output folder in summary.json aside)."""
    _console_run(tmp_path / "on", "1")
    _console_run(tmp_path / "off", "0")
    names = sorted(p.name for p in (tmp_path / "off").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "on").iterdir())
    assert "draws.parquet" in names
    for name in names:
        a = (tmp_path / "on" / name).read_bytes()
        b = (tmp_path / "off" / name).read_bytes()
        if name == "manifest.json":
            ja, jb = json.loads(a), json.loads(b)
            ja.pop("timings"), jb.pop("timings")
            assert ja == jb
        elif name == "summary.json":
            assert a.replace(b'"on"', b'"off"') == b, name
        else:
            assert a == b, name


DEFERRED_PROBE = """
import json, sys
import numpy as np
from mkba import cacheload
assert cacheload.install()
import cached_mod
x = np.linspace(0.0, 1.0, 1001)
got = cached_mod.scaled_sum(x, 3.0)
hits = sum(cached_mod.scaled_sum.stats.cache_hits.values())
kind = type(sys.modules.get("numba.np.arrayobj")).__name__
from numba.core.environment import Environment
envs = [e for e in list(Environment._memo.values())
        if e.globals.get("__name__") == "numba.np.arrayobj"]
empty = all("make_array" not in e.globals for e in envs)
from numba import njit
@njit
def fresh(a):  # compiled here: the contexts refresh, the deferred modules run first
    b = np.empty_like(a)
    b[:] = a[::-1]
    return np.sort(b).sum()
compiled = fresh(x)
after = type(sys.modules["numba.np.arrayobj"]).__name__
filled = all(e.globals is sys.modules["numba.np.arrayobj"].__dict__ for e in envs) and all(
    "make_array" in e.globals for e in envs)
print(json.dumps({"value": got.hex(), "hits": hits, "kind": kind, "envs": len(envs),
                  "empty": empty, "compiled": compiled.hex(), "after": after, "filled": filled}))
"""


def test_environments_of_numba_modules_are_deferred_until_a_compile(tmp_path: Path) -> None:
    """A cached function whose helpers' environments live in numba.np.arrayobj loads without
    running that module (its namespace empty until then) and gives numba's value; a compile
    afterwards (the contexts refresh) runs the module first, into the same namespace the
    environments hold, and compiles as numba does (same value as without install())."""
    (tmp_path / "cached_mod.py").write_text(textwrap.dedent(MODULE))
    _probe(tmp_path, install=True)  # fills the cache
    plain = _probe(tmp_path, install=False)
    out = _probe(tmp_path, install=True, code=DEFERRED_PROBE)
    assert out["hits"] == 1 and out["value"] == plain["value"]
    assert out["kind"] == "_DeferredModule" and out["envs"] > 0 and out["empty"] is True
    assert out["after"] == "module" and out["filled"] is True
    ref = np.linspace(0.0, 1.0, 1001)
    assert float.fromhex(out["compiled"]) == np.sort(ref[::-1]).sum()


def test_a_deferred_module_runs_once_on_first_use(tmp_path: Path) -> None:
    """cacheload._defer: the module is in sys.modules and on its package without having run;
    the first attribute read runs it once into the namespace handed out; a module whose code
    fails is taken out of sys.modules, as a failed import is."""
    pkg = tmp_path / "deferpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "good.py").write_text(
        "import builtins\nbuiltins.RUNS = getattr(builtins, 'RUNS', 0) + 1\nVALUE = 42\n"
    )
    (pkg / "bad.py").write_text("raise RuntimeError('broken')\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import builtins

        import deferpkg  # type: ignore[import-not-found]  # made above

        namespace = cacheload._defer("deferpkg.good")
        assert namespace is not None and "VALUE" not in namespace
        module = sys.modules["deferpkg.good"]
        assert deferpkg.good is module and not hasattr(builtins, "RUNS")
        assert module.VALUE == 42 and namespace["VALUE"] == 42
        assert module.__dict__ is namespace and type(module).__name__ == "module"
        assert module.VALUE == 42 and builtins.RUNS == 1  # type: ignore[attr-defined]  # set by the module
        assert cacheload._defer("deferpkg.good") is None  # imported: left alone
        assert cacheload._defer("deferpkg.missing") is None  # no such module
        assert cacheload._defer("deferpkg.good.sub") is None  # the parent is not a package
        assert cacheload._defer("no_such_package.mod") is None  # the parent is not imported
        assert "deferpkg.missing" not in sys.modules and "deferpkg.good.sub" not in sys.modules
        assert cacheload._defer("deferpkg.bad") is not None
        with pytest.raises(RuntimeError, match="broken"):
            cacheload.run_deferred_modules()
        assert "deferpkg.bad" not in sys.modules
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("deferpkg.good", "deferpkg.bad", "deferpkg"):
            sys.modules.pop(name, None)
        import builtins

        if hasattr(builtins, "RUNS"):
            del builtins.RUNS


def test_another_rebuild_env_body_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ``environment._rebuild_env`` that is not numba's known body: nothing replaced."""
    from numba.core import base, environment

    def rebuild(modname: object, consts: object, env_name: object) -> None:
        return None

    refresh = base.BaseContext.refresh
    monkeypatch.setattr(environment, "_rebuild_env", rebuild)
    assert cacheload._deferred_environment_modules() is False
    assert environment._rebuild_env is rebuild
    assert base.BaseContext.refresh is refresh
