"""Import one compiled submodule of a heavy package without running the package's ``__init__``.

Two scipy packages are imported by a run only for one compiled submodule each, and their
``__init__`` costs far more than that submodule:

- ``scipy.special``: :mod:`mkba.invcdf` needs the ufuncs of ``scipy.special._ufuncs`` (the
  very objects ``scipy.special`` exports); the package's ``__init__`` builds array-API wrappers
  of every special function, which import ``numpy.f2py``, ``numpy.ma``, ``numpy.testing`` and
  more.
- ``scipy.linalg``: numba checks at import of ``numba.np.arraymath`` (when the first compiled
  function is loaded) that a BLAS is there, by ``import scipy.linalg.cython_blas``, which runs
  all of ``scipy.linalg``'s ``__init__`` (and the same array-API module). When
  ``scipy.linalg.cython_blas`` is already in ``sys.modules``, that statement finds it there and
  imports no package ``__init__`` (Python looks up the full dotted name first).

Measured on the project machine: the two packages' ``__init__`` about 0.15-0.2 CPU-s of a
``mkba run``, against about 0.02 for the compiled submodules alone. Nothing computed changes:
the same compiled modules, loaded once.

How (:func:`submodule_alone`): while the package's own import lock is held, an empty module
made from the package's spec stands in for the package in ``sys.modules``, marked as being
initialised (as Python marks a package whose ``__init__`` is running), so that the submodule
can be imported; then the stand-in is taken out again. A thread that imports the package
meanwhile waits for that lock and then imports the whole package, which takes the submodules
already loaded (the same objects); a thread that had already found the stand-in in
``sys.modules`` gets every name of the real package through it (:class:`_StandIn`). When the
package is imported later (e.g. scipy.stats
imports scipy.special), a one-time finder (:class:`_BindAfterInit`) gives the package, once its
``__init__`` has run, the submodules loaded alone as attributes (``scipy.special._gufuncs``),
as an ordinary import would have. If anything is not as expected (another Python, another
scipy), the whole package is imported instead, as before.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType


def submodule_alone(package: str, name: str) -> ModuleType:
    """The module ``package.name``, imported without ``package``'s ``__init__`` when the package
    is not imported yet (see the module docstring); else (or when that fails) the ordinary
    import, which runs it."""
    full = f"{package}.{name}"
    done = sys.modules.get(full)
    if done is not None:
        return done
    if package not in sys.modules:
        try:
            return _under_stand_in(package, full)
        except Exception:  # any surprise: the ordinary import below
            pass
    return importlib.import_module(full)


def _under_stand_in(package: str, full: str) -> ModuleType:
    # CPython's import machinery: the per-module lock Python itself holds while a package
    # initialises
    from importlib import _bootstrap

    parent = package.rpartition(".")[0]
    if parent:
        importlib.import_module(parent)  # the package's own parent, imported as usual
    with _bootstrap._ModuleLockManager(package):  # type: ignore[attr-defined]  # private, not in typeshed; a change of it falls back to the ordinary import
        if package in sys.modules:  # another thread imported it meanwhile
            return importlib.import_module(full)
        spec = _find_spec(package)
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError(f"{package} is not a package")
        stand_in = importlib.util.module_from_spec(spec)
        stand_in.__class__ = _StandIn
        spec._initializing = True  # type: ignore[attr-defined]  # what Python sets on a module whose __init__ runs: other threads wait for the lock
        before = set(sys.modules)
        sys.modules[package] = stand_in
        try:
            module = importlib.import_module(full)
        finally:
            if sys.modules.get(package) is stand_in:
                del sys.modules[package]
            spec._initializing = False  # type: ignore[attr-defined]  # see above
        prefix = package + "."
        children = {
            name[len(prefix) :]: sys.modules[name]
            for name in set(sys.modules) - before
            if name.startswith(prefix) and "." not in name[len(prefix) :]
        }
        for finder in sys.meta_path:  # one finder per package: another child loaded alone
            if isinstance(finder, _BindAfterInit) and finder.package == package:
                finder.children.update(children)
                break
        else:
            sys.meta_path.insert(0, _BindAfterInit(package, children))
    return module


def _find_spec(package: str) -> ModuleSpec | None:
    """The package's spec as ``sys.meta_path`` finds it, without asking a :class:`_BindAfterInit`
    (which would take itself out, as if the package were being imported)."""
    parent = package.rpartition(".")[0]
    path = getattr(sys.modules[parent], "__path__", None) if parent else None
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        if isinstance(finder, _BindAfterInit) or find is None:
            continue
        spec = find(package, path)
        if spec is not None:
            return spec
    return None


class _StandIn(ModuleType):
    """The package's stand-in (:func:`_under_stand_in`). While it is in ``sys.modules`` it is a
    package whose ``__init__`` has not run (missing names are missing). A thread that took it
    from ``sys.modules`` in that window (Python's own ``import`` statement then waits for the
    package lock but keeps the module it found) still gets every name: once the stand-in is
    out, a missing name is looked up in the real package, imported then if need be."""

    def __getattr__(self, attr: str) -> object:
        name = self.__name__
        if sys.modules.get(name) is self:
            raise AttributeError(f"partially initialized module {name!r} has no attribute {attr!r}")
        return getattr(importlib.import_module(name), attr)


class _BindAfterInit(importlib.abc.MetaPathFinder):
    """A one-time finder for ``package`` (see the module docstring): it finds the package as
    the rest of ``sys.meta_path`` does, and after the package's ``__init__`` has run, binds
    ``children`` (submodules loaded under a stand-in) as its attributes where the ``__init__``
    did not. It takes itself out of ``sys.meta_path`` when used."""

    def __init__(self, package: str, children: dict[str, ModuleType]) -> None:
        self.package = package
        self.children = children

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != self.package:
            return None
        with contextlib.suppress(ValueError):  # (another thread's import took it out first)
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _ThenBind(spec.loader, self.children)
        return spec


class _ThenBind(importlib.abc.Loader):
    """The package's own loader, then the children bound (:class:`_BindAfterInit`); the
    module's ``__loader__`` and ``__spec__.loader`` are the package's own loader afterwards."""

    def __init__(self, loader: importlib.abc.Loader, children: dict[str, ModuleType]) -> None:
        self.loader = loader
        self.children = children

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        module.__loader__ = self.loader
        self.loader.exec_module(module)
        for name, child in self.children.items():
            if name not in module.__dict__:
                setattr(module, name, child)


def special_ufuncs() -> ModuleType:
    """``scipy.special._ufuncs``: ``ndtri``, ``ndtr``, ``expit``, the Boost beta quantile and
    density (the objects ``scipy.special`` exports), without ``scipy.special``'s ``__init__``."""
    return submodule_alone("scipy.special", "_ufuncs")


def blas_for_numba() -> None:
    """Load ``scipy.linalg.cython_blas`` alone, before numba's first compiled function is
    loaded: numba's BLAS check then finds it and imports no ``scipy.linalg`` package."""
    submodule_alone("scipy.linalg", "cython_blas")
