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

Each cached function also carries its LLVM module as bitcode ("for further inlining with other
libraries"), which numba parses at every load to note the symbols the library defines
(``JitEngine._defined_symbols``) and to keep it for linking. A run only calls the loaded
functions: it never links them into new code. :func:`install` also makes that parse lazy
(:func:`_lazy_shared_modules`): the bitcode is kept as bytes and parsed when the module is first
needed (:attr:`CPUCodeLibrary._shared_module`, for linking), and a symbol lookup
(``JitEngine.is_symbol_defined``) that the symbols noted so far do not answer is answered from
the object code's ELF symbol table (a global symbol defined there is one the module defines), or
else by parsing every pending module as numba would have (:func:`_is_symbol_defined`). Every
lookup gives numba's answer. Measured (busy machine): the ten loads of a default run took
0.16-0.22 CPU-s with the parses (0.07-0.09 of it ``parse_bitcode``, 0.03-0.04 the symbol scans),
0.045-0.053 without.

numba's BLAS check (``import scipy.linalg.cython_blas`` when ``numba.np.arraymath`` is
imported, one of the deferred modules) then runs only when that module is imported after all:
when something is compiled, or when a cached function's environment lives in it (a function
using ``ndarray.sum``, say). :func:`install` puts a one-time finder (:class:`_BlasFirst`) in
front of the import system that loads ``scipy.linalg.cython_blas`` alone first
(:func:`mkba.lightimport.blas_for_numba`), as the console script did before every run (which
cost 0.035-0.05 CPU-s and 56 modules when nothing needs it).

Loading a cached function also rebuilds its helpers' environments (``_rebuild_env``), each on
the namespace of the module its function was defined in, which numba imports for that: 42
environments of a default run live in ``numba.np.arrayobj``, whose import (with
``numba.cpython.unicode`` and ``charseq``) cost 0.04 CPU-s of the main thread, for a namespace
the loaded code never reads (only object-mode code reads an environment's globals; the
constants it uses are pickled with the environment). :func:`install` defers such a module of
numba's that is not imported yet (:func:`_deferred_environment_modules`): it is put into
``sys.modules`` with its namespace, which the environment holds, and its code runs into that
namespace when any of its attributes is first read, or right before numba's typing or target
context refreshes its registries (some of those modules add to the registries when they run),
so a compile sees the registries as before.

If numba's ``Cache.load_overload`` is not the one this was written for (another numba), nothing
is replaced (:func:`install` returns False) and the console script loads the BLAS module ahead,
as before; likewise with ``MKBA_CACHE_LOAD=0`` (:data:`ENV`). Installed by the console
script's :func:`mkba.cli.engine_imports` only.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import sys
import threading
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

ENV = "MKBA_CACHE_LOAD"
"""Environment variable: ``0`` leaves numba's cache lookups as they are in the console script
(each one refreshes the CPU target; for measuring)."""

_EXPECTED_UNSERIALIZE = frozenset(
    {
        "create_library",
        "parse_bitcode",
        "_finalize_final_module",
        "_set_compiled_object",
        "enable_object_caching",
        "_shared_module",
        "_load_defined_symbols",
        "_engine",
        "_codegen",
        "_final_module",
        "ValueError",
        "isinstance",
        "ll",
    }
)
"""The names numba's own ``CPUCodeLibrary._unserialize`` uses (numba 0.68); another body: its
bitcode parse is left as it is."""

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

    # numba's method replaced on purpose (see the module docstring)
    caching.Cache.load_overload = load_overload  # type: ignore[method-assign]  # on purpose
    _lazy_shared_modules()
    _deferred_environment_modules()
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


def _lazy_shared_modules() -> bool:
    """Make the bitcode parse of a library loaded from the cache lazy (see the module
    docstring); whether it was done (numba's code is the one this was written for)."""
    try:
        from numba.core import codegen

        unserialize = codegen.CPUCodeLibrary.__dict__["_unserialize"].__func__
        names = set(unserialize.__code__.co_names)
        if not names <= _EXPECTED_UNSERIALIZE or "parse_bitcode" not in names:
            return False
        if "_shared_module" in codegen.CPUCodeLibrary.__dict__:
            return False
        engine_lookup = codegen.JitEngine.is_symbol_defined
    except Exception:  # numba's internals moved: leave them as they are
        return False

    def get_shared(self: Any) -> Any:
        """The library's module for linking: parsed now if it was loaded lazily."""
        mod = self.__dict__.get("_mkba_shared_module")
        if mod is None and self.__dict__.get("_mkba_bitcode") is not None:
            mod = _materialize(self)
        return mod

    def set_shared(self: Any, mod: Any) -> None:
        self.__dict__["_mkba_shared_module"] = mod

    def _unserialize(cls: Any, codegen_: Any, state: Any) -> Any:
        """numba's ``_unserialize`` with the bitcode of an ``object`` library kept as bytes."""
        name, kind, data = state
        if kind != "object":
            return unserialize(cls, codegen_, state)
        self = codegen_.create_library(name)
        assert isinstance(self, cls)
        object_code, shared_bitcode = data
        self.enable_object_caching()
        self._set_compiled_object(object_code)
        self.__dict__["_mkba_bitcode"] = shared_bitcode
        self.__dict__["_mkba_globals"] = None  # the object code's global symbols, when asked
        self.__dict__["_mkba_object"] = object_code
        pending = codegen_._engine.__dict__.setdefault("_mkba_pending", [])
        pending.append(self)
        self._finalize_final_module()
        return self

    def is_symbol_defined(self: Any, name: str) -> bool:
        return _is_symbol_defined(self, name, engine_lookup)

    codegen.CPUCodeLibrary._shared_module = property(get_shared, set_shared)
    # numba's methods replaced on purpose (see the module docstring)
    codegen.CPUCodeLibrary._unserialize = classmethod(_unserialize)  # type: ignore[method-assign, assignment]  # on purpose
    codegen.JitEngine.is_symbol_defined = is_symbol_defined  # type: ignore[method-assign]  # on purpose
    return True


_EXPECTED_REBUILD_ENV = frozenset(
    {
        "lookup_environment",
        "importlib",
        "import_module",
        "Environment",
        "__dict__",
        "consts",
        "env_name",
        "_memo",
    }
)
"""The names numba's own ``environment._rebuild_env`` uses (numba 0.68): the environment
rebuilt from the module's namespace and the pickled constants. Another body: left as it is."""

_deferred_lock = threading.RLock()
_deferred: dict[str, ModuleType] = {}
"""Modules made for environments (:func:`_deferred_environment_modules`) whose code has not
run yet, by name."""


class _DeferredModule(ModuleType):
    """A module in ``sys.modules`` whose code runs when any of its attributes is first read
    (then it is a plain module): :func:`run_deferred_module`."""

    def __getattribute__(self, attr: str) -> Any:
        run_deferred_module(ModuleType.__getattribute__(self, "__name__"))
        return ModuleType.__getattribute__(self, attr)


def run_deferred_module(name: str) -> None:
    """Run the code of the deferred module ``name`` into its namespace, once, as the import
    system would have when it was made (its ``__spec__`` marked initialising meanwhile); an
    error takes it out of ``sys.modules``, as a failed import does. Nothing if it ran."""
    with _deferred_lock:
        module = _deferred.pop(name, None)
        if module is None:
            return
        module.__class__ = ModuleType
        spec = module.__spec__
        assert spec is not None and spec.loader is not None
        spec._initializing = True  # type: ignore[attr-defined]  # what importlib marks
        try:
            spec.loader.exec_module(module)
        except BaseException:
            if sys.modules.get(name) is module:
                del sys.modules[name]
            raise
        finally:
            spec._initializing = False  # type: ignore[attr-defined]  # what importlib marks


def run_deferred_modules() -> None:
    """Run every deferred module's code (before numba's contexts install registries)."""
    while _deferred:
        run_deferred_module(next(iter(_deferred)))


def _deferred_environment_modules() -> bool:
    """Rebuild the environment of a cached function whose module is one of numba's own that
    is not imported yet (``numba.np.arrayobj`` for numba's array helpers, 42 environments of a
    default run) on that module's namespace made now and filled when the module's code runs:
    on the first read of any of its attributes, or when numba's typing or target context
    refreshes its registries (which some of those modules add to when their code runs).
    A loaded function uses only the environment's constants (pickled with it and set here);
    its namespace is the one its module fills. Whether it was done."""
    try:
        from numba.core import base, environment
        from numba.core.typing import context

        original = environment._rebuild_env
        if set(original.__code__.co_names) != _EXPECTED_REBUILD_ENV:
            return False
        refreshes = (base.BaseContext.refresh, context.BaseContext.refresh)
    except Exception:  # numba's internals moved: leave them as they are
        return False

    def rebuild_env(modname: Any, consts: Any, env_name: Any) -> Any:
        """numba's ``_rebuild_env``; a numba module not imported yet is made deferred."""
        env = environment.lookup_environment(env_name)
        if env is not None:
            return env
        module = sys.modules.get(modname) if isinstance(modname, str) else None
        if isinstance(module, _DeferredModule):
            namespace = ModuleType.__getattribute__(module, "__dict__")
        elif module is None and isinstance(modname, str) and modname.startswith("numba."):
            namespace = _defer(modname)
        else:
            return original(modname, consts, env_name)
        if namespace is None:
            return original(modname, consts, env_name)
        env = environment.Environment(namespace)
        env.consts[:] = consts
        env.env_name = env_name
        environment.Environment._memo[env_name] = env
        return env

    def refreshing(refresh: Any) -> Any:
        def refresh_after_deferred(self: Any) -> Any:
            run_deferred_modules()
            return refresh(self)

        return refresh_after_deferred

    # numba's functions replaced on purpose (see the docstring)
    environment._rebuild_env = rebuild_env
    base.BaseContext.refresh = refreshing(refreshes[0])  # type: ignore[method-assign]  # on purpose
    context.BaseContext.refresh = refreshing(refreshes[1])  # type: ignore[method-assign]  # on purpose
    return True


def _defer(name: str) -> dict[str, Any] | None:
    """Put module ``name`` into ``sys.modules`` (and on its package) without running its code
    (:class:`_DeferredModule`); its namespace, or None when it cannot be found this way."""
    import importlib.util

    parent_name, _, child = name.rpartition(".")
    parent = sys.modules.get(parent_name)
    with _deferred_lock:
        if name in sys.modules or parent is None:
            return None
        try:
            spec = importlib.util.find_spec(name)
            if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
                return None
            module = importlib.util.module_from_spec(spec)
        except Exception:  # not found this way: numba's own import then reports it
            return None
        namespace: dict[str, Any] = module.__dict__
        module.__class__ = _DeferredModule
        _deferred[name] = module
        sys.modules[name] = module
        setattr(parent, child, module)
        return namespace


def _materialize(library: Any) -> Any:
    """Parse a lazily loaded library's bitcode and note its symbols, as numba's own
    ``_unserialize`` does at load; the module."""
    import llvmlite.binding as ll  # type: ignore[import-untyped]  # llvmlite ships no type information

    bitcode = library.__dict__.pop("_mkba_bitcode")
    mod = ll.parse_bitcode(bitcode)
    library.__dict__["_mkba_shared_module"] = mod
    engine = library._codegen._engine
    engine._load_defined_symbols(mod)
    pending = engine.__dict__.get("_mkba_pending", [])
    if library in pending:
        pending.remove(library)
    library.__dict__.pop("_mkba_object", None)
    library.__dict__.pop("_mkba_globals", None)
    return mod


def _is_symbol_defined(engine: Any, name: str, lookup: Any) -> bool:
    """numba's answer to whether ``name`` is defined in this session: the symbols noted so far,
    then the global symbols defined in the object code of the libraries loaded lazily (each one
    a definition of the library's module, which numba would have noted), then, not found there
    either, every pending module parsed and noted (numba's own set)."""
    if lookup(engine, name):
        return True
    pending = engine.__dict__.get("_mkba_pending")
    if not pending:
        return False
    for library in pending:
        defined = library.__dict__.get("_mkba_globals")
        if defined is None:
            defined = elf_global_definitions(library.__dict__["_mkba_object"])
            library.__dict__["_mkba_globals"] = defined
        if name in defined:
            return True
    for library in list(pending):
        _materialize(library)
    return bool(lookup(engine, name))


def elf_global_definitions(obj: bytes) -> frozenset[str]:
    """The names of the global and weak symbols an ELF64 little-endian relocatable object
    defines (section index not ``SHN_UNDEF``), from its ``.symtab``; empty for anything else
    (then every lookup falls through to numba's own parse)."""
    import struct

    if len(obj) < 64 or obj[:4] != b"\x7fELF" or obj[4] != 2 or obj[5] != 1:
        return frozenset()
    shoff = struct.unpack_from("<Q", obj, 0x28)[0]
    shentsize, shnum = struct.unpack_from("<HH", obj, 0x3A)
    if shentsize != 64 or shoff + shnum * 64 > len(obj):
        return frozenset()
    out: set[str] = set()
    for i in range(shnum):
        _, sh_type, _, _, off, size, link, _, _, entsize = struct.unpack_from(
            "<IIQQQQIIQQ", obj, shoff + i * 64
        )
        if sh_type != 2 or entsize != 24 or link >= shnum:  # SHT_SYMTAB, Elf64_Sym
            continue
        str_off, str_size = struct.unpack_from("<QQ", obj, shoff + link * 64 + 24)
        strtab = obj[str_off : str_off + str_size]
        for st_name, st_info, _, st_shndx, _, _ in struct.iter_unpack(
            "<IBBHQQ", obj[off : off + size]
        ):
            if st_info >> 4 in (1, 2) and st_shndx != 0 and st_name:  # GLOBAL/WEAK, defined
                end = strtab.index(b"\0", st_name)
                out.add(strtab[st_name:end].decode("utf-8", "replace"))
    return frozenset(out)
