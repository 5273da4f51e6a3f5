"""mkba.lightimport: one compiled submodule of scipy.special / scipy.linalg without the package's
``__init__`` (issue 17, start-up), and the package as an ordinary import gives it afterwards.

The scipy cases run in a fresh interpreter (the point is what is *not* imported); the
stand-in's own behaviour (the package imported later, a thread importing it meanwhile, the
fallbacks) on small packages made in ``tmp_path``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mkba.lightimport import submodule_alone


def _fresh(code: str, cwd: Path | None = None) -> object:
    """Run ``code`` in a fresh interpreter (exit status 0 required); its last line of stdout,
    read as JSON."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_special_ufuncs_alone_then_the_whole_package() -> None:
    """The ufuncs come without scipy.special's __init__; importing scipy.special (and
    scipy.stats) afterwards gives the same objects, every submodule bound as an attribute,
    and the same numbers as scipy.stats (the functions are the same objects)."""
    out = _fresh(
        """
        import json, sys
        import numpy as np
        from mkba import invcdf
        u = invcdf.special_ufuncs()
        alone = sorted(m for m in sys.modules if m.startswith("scipy.special"))
        q = np.linspace(0.0, 1.0, 1001)
        mine = [invcdf.norm_ppf(q), invcdf.Exact("beta", (2.0, 5.0), 1.0, 3.0).ppf(q),
                invcdf.norm_cdf(np.linspace(-9, 9, 101))]
        import scipy.special as special
        from scipy import stats
        theirs = [stats.norm.ppf(q), stats.beta(2.0, 5.0, 1.0, 3.0).ppf(q),
                  stats.norm.cdf(np.linspace(-9, 9, 101))]
        print(json.dumps({
            "alone": alone,
            "same_objects": [special._ufuncs is u, special.ndtri is u.ndtri,
                             special.ndtr is u.ndtr, special.expit is u.expit],
            "bound": [hasattr(special, n) for n in
                      ("_ufuncs", "_ufuncs_cxx", "_gufuncs", "_special_ufuncs", "logsumexp")],
            "equal": [bool(np.array_equal(a, b, equal_nan=True)) for a, b in zip(mine, theirs)],
            "finders_left": [type(f).__name__ for f in sys.meta_path
                             if type(f).__module__ == "mkba.lightimport"],
        }))
        """
    )
    assert isinstance(out, dict)
    assert "scipy.special" not in out["alone"], out["alone"]
    assert "scipy.special._ufuncs" in out["alone"]
    assert "scipy.special._support_alternative_backends" not in out["alone"]
    assert out["same_objects"] == [True] * 4
    assert out["bound"] == [True] * 5
    assert out["equal"] == [True] * 3
    assert out["finders_left"] == []


def test_blas_for_numba_keeps_scipy_linalg_out() -> None:
    """numba's BLAS check (at import of numba.np.arraymath) finds cython_blas loaded alone and
    imports no scipy.linalg; scipy.linalg imported afterwards is whole, cython_blas bound."""
    out = _fresh(
        """
        import json, sys
        from mkba.lightimport import blas_for_numba
        blas_for_numba()
        import numba.np.arraymath as am
        after_numba = sorted(m for m in sys.modules if m.startswith("scipy.linalg"))
        import scipy.linalg
        print(json.dumps({
            "have_blas": am._HAVE_BLAS,
            "after_numba": after_numba,
            "bound": scipy.linalg.cython_blas is sys.modules["scipy.linalg.cython_blas"],
            "whole": hasattr(scipy.linalg, "solve"),
        }))
        """
    )
    assert isinstance(out, dict)
    assert out["have_blas"] is True
    assert out["after_numba"] == ["scipy.linalg.cython_blas"], out["after_numba"]
    assert out["bound"] is True and out["whole"] is True


def test_console_run_imports_neither_package(tmp_path: Path) -> None:
    """The console script's ``mkba run`` (engine_imports: blas_for_numba; the load:
    special_ufuncs) imports neither scipy.special's nor scipy.linalg's __init__."""
    repo = Path(__file__).resolve().parents[1]
    out = _fresh(
        f"""
        import atexit, json, sys
        import mkba.cli
        # (the console script's process ends in os._exit after the atexit handlers)
        atexit.register(lambda: print(json.dumps(sorted(m for m in sys.modules
                                                        if m.startswith("scipy")))))
        sys.argv = ["mkba", "run", "-n", "500", "--out", {str(tmp_path / "run")!r}]
        mkba.cli.main()
        """,
        cwd=repo,
    )
    assert isinstance(out, list)
    loaded = out
    assert (tmp_path / "run" / "summary.json").exists()
    assert "scipy.special._ufuncs" in loaded  # the run did compute normal/beta quantiles
    assert "scipy.special" not in loaded and "scipy.linalg" not in loaded, loaded


@pytest.fixture
def pkgdir(tmp_path: Path) -> Iterator[Path]:
    """A folder on sys.path for small packages; their modules are forgotten afterwards."""
    sys.path.insert(0, str(tmp_path))
    before = set(sys.modules)
    finders = list(sys.meta_path)
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in set(sys.modules) - before:
            del sys.modules[name]
        sys.meta_path[:] = finders


def _package(root: Path, name: str, init: str, child: str) -> None:
    (root / name).mkdir()
    (root / name / "__init__.py").write_text(textwrap.dedent(init))
    (root / name / "child.py").write_text(textwrap.dedent(child))


def test_stand_in_package_later_and_child_bound(pkgdir: Path) -> None:
    """The child is loaded without the package's __init__; the package imported afterwards runs
    its __init__ (which does not import the child), gets the child as its attribute, and its
    loader is its own."""
    _package(pkgdir, "lipkg_a", "RAN = True\n", "VALUE = 42\n")
    child = submodule_alone("lipkg_a", "child")
    assert child.VALUE == 42
    assert "lipkg_a" not in sys.modules
    import lipkg_a  # type: ignore[import-not-found]  # made above in tmp_path

    assert lipkg_a.RAN is True
    assert lipkg_a.child is child
    assert type(lipkg_a.__loader__).__module__ != "mkba.lightimport"
    assert lipkg_a.__spec__.loader is lipkg_a.__loader__
    assert not [f for f in sys.meta_path if type(f).__module__ == "mkba.lightimport"]
    assert submodule_alone("lipkg_a", "child") is child  # already loaded: the same module


def test_two_children_loaded_alone_are_both_bound(pkgdir: Path) -> None:
    """Two submodules loaded alone, one after the other: one finder, and the package imported
    later has both as attributes."""
    _package(pkgdir, "lipkg_e", "RAN = True\n", "VALUE = 1\n")
    (pkgdir / "lipkg_e" / "other.py").write_text("VALUE = 2\n")
    child = submodule_alone("lipkg_e", "child")
    other = submodule_alone("lipkg_e", "other")
    finders = [f for f in sys.meta_path if type(f).__module__ == "mkba.lightimport"]
    assert len(finders) == 1
    import lipkg_e  # type: ignore[import-not-found]  # made above in tmp_path

    assert lipkg_e.RAN is True and lipkg_e.child is child and lipkg_e.other is other
    assert not [f for f in sys.meta_path if type(f).__module__ == "mkba.lightimport"]


def test_package_already_imported_is_used_as_is(pkgdir: Path) -> None:
    """When the package is imported already, its submodule is imported the ordinary way."""
    _package(pkgdir, "lipkg_b", "RAN = True\n", "VALUE = 7\n")
    import lipkg_b  # type: ignore[import-not-found]  # made above in tmp_path

    child = submodule_alone("lipkg_b", "child")
    assert lipkg_b.child is child and child.VALUE == 7
    assert not [f for f in sys.meta_path if type(f).__module__ == "mkba.lightimport"]


def test_not_a_package_falls_back_to_the_ordinary_import(pkgdir: Path) -> None:
    """A plain module where a package is expected: no stand-in; the ordinary import's own
    error comes out."""
    (pkgdir / "limod_c.py").write_text("X = 1\n")
    with pytest.raises(ModuleNotFoundError, match=r"limod_c\.child"):
        submodule_alone("limod_c", "child")
    assert sys.modules["limod_c"].X == 1  # (the ordinary import ran the module itself)


def test_a_thread_importing_the_package_meanwhile_gets_the_whole_package(pkgdir: Path) -> None:
    """While the stand-in is in sys.modules (the child takes 0.3 s to import), another thread's
    ``import`` of the package waits and then gets the whole package, never the stand-in."""
    _package(pkgdir, "lipkg_d", "RAN = True\n", "import time\ntime.sleep(0.3)\nVALUE = 1\n")
    seen: list[object] = []

    def other() -> None:
        time.sleep(0.1)
        import lipkg_d  # type: ignore[import-not-found]  # made above in tmp_path

        seen.append(getattr(lipkg_d, "RAN", None))

    thread = threading.Thread(target=other)
    thread.start()
    child = submodule_alone("lipkg_d", "child")
    thread.join()
    assert seen == [True]
    assert sys.modules["lipkg_d"].child is child
