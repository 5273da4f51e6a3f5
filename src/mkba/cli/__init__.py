"""Command line: thin commands, one library call each; data to stdout, messages to stderr.

Exit codes: 0 success; 1 internal error (a bug); 2 invalid input (bad files or arguments);
3 run failed; 4 partial failure (some scenarios of a batch failed, or some `mkba test`
cases failed); 130 interrupted.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO, cast

from mkba import __version__
from mkba.cli.common import err_console
from mkba.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_INVALID_INPUT,
    MkbaError,
    from_system_error,
)

if TYPE_CHECKING:  # typer is imported when a command line is made (not for a plain `mkba run`)
    import typer

HELP = """mkba: Monte Carlo social cost-benefit analysis (MKBA) of area-based neighbourhood
programmes (wijkaanpak).

Exit codes: 0 success; 1 internal error (a bug, please report); 2 invalid input (a parameter
or scenario file, or a command-line argument, is wrong: nothing was computed or written);
3 the run failed; 4 a batch finished but some scenarios failed, or some `mkba test` cases
failed; 130 interrupted.
"""

COMMAND_MODULES: tuple[str, ...] = (
    "init",
    "validate",
    "run",
    "calibrate",
    "sensitivity",
    "batch",
    "report",
    "monitor",
    "template",
    "decide",
    "modeltest",
)
"""The modules of :mod:`mkba.cli` that register the commands (each has ``register(app)``), in
the order ``mkba --help`` lists their commands."""

COMMANDS: dict[str, str] = {
    "init": "init",
    "validate": "validate",
    "run": "run",
    "calibrate": "calibrate",
    "sensitivity": "sensitivity",
    "batch": "batch",
    "compare": "batch",
    "chart": "report",
    "report": "report",
    "monitor": "monitor",
    "template": "template",
    "voi": "decide",
    "allocate": "decide",
    "discover": "decide",
    "acceptability": "decide",
    "test": "modeltest",
}
"""Each command's name and the module of :mod:`mkba.cli` that registers it (tested against the
commands the modules register)."""


def _version(value: bool) -> None:
    if value:
        import typer

        typer.echo(f"mkba {__version__}")
        raise typer.Exit()


@functools.cache
def _root() -> Callable[..., None]:
    """The root's callback (its ``--version`` option), made once."""
    import typer

    def _root(
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ) -> None:
        """mkba command line."""

    return _root


def make_app(modules: tuple[str, ...] = COMMAND_MODULES) -> typer.Typer:
    """The command line with the commands of ``modules`` (names in :data:`COMMAND_MODULES`;
    default: all of them). Each module is imported here, when it is registered."""
    import importlib

    import typer

    new = typer.Typer(
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    new.callback()(_root())
    for name in modules:
        importlib.import_module(f"mkba.cli.{name}").register(new)
    return new


def app_for(args: list[str]) -> typer.Typer:
    """The command line that parses ``args``: when the first argument names a command
    (:data:`COMMANDS`), the root with that command's module alone (the others are not
    imported, and typer builds one command's parameters instead of sixteen: ~0.02 CPU-s of
    a default ``mkba run``); else (``--help``, ``--version``, no or an unknown command) the
    whole command line, :data:`app`. The root (its help, ``--version``) and the named
    command's parameters, help and messages are the same in both."""
    module = COMMANDS.get(args[0]) if args else None
    return whole_app() if module is None else make_app((module,))


_WHOLE_APP: typer.Typer | None = None


def whole_app() -> typer.Typer:
    """The whole command line (every command), made on first use and kept."""
    global _WHOLE_APP
    if _WHOLE_APP is None:
        _WHOLE_APP = make_app()
    return _WHOLE_APP


def __getattr__(name: str) -> Any:
    """``mkba.cli.app``: :func:`whole_app` (made when first asked for, so that the console
    script's ``mkba run`` does not import and build the other commands)."""
    if name == "app":
        return whole_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_OWN_PROCESS = False
"""Whether :func:`main` runs the process's own command line (the console script, ``python -m
mkba``): the process ends when the command does."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``mkba`` console script (``argv`` None: the process's own command
    line; the process ends when this returns, see :func:`_end_of_process`)."""
    global _OWN_PROCESS
    _OWN_PROCESS = argv is None
    if _OWN_PROCESS:
        _start_of_process()
    try:
        _main(argv)
    except SystemExit as stop:
        code = stop.code if stop.code is not None else 0
        if _OWN_PROCESS and _EXIT_NOW and isinstance(code, int):
            _exit_now(code)  # returns only when the usual ending must report something
        raise
    finally:
        if argv is None:
            _end_of_process()


YOUNG_COLLECTION_THRESHOLD = 10_000
"""Allocations of container objects between two collections of the youngest generation in the
console script's process (CPython's default is 700): importing the engine makes about 150,000
long-lived objects, and collecting every 700 of them cost about 0.1 s of CPU of a default
``mkba run``. At most this many objects wait to be collected (a few MB)."""


HUGEPAGE_ENV = "NUMPY_MADVISE_HUGEPAGE"
"""NumPy's switch for asking the kernel for transparent huge pages (``madvise(MADV_HUGEPAGE)``)
on every array of 4 MiB or more; NumPy asks by default. Read when NumPy is imported, so it also
reaches the processes the console script starts (the compile child, batch and Dask workers)."""


def _start_of_process() -> None:
    """Fewer young-generation collections in the console script's own process (see
    :data:`YOUNG_COLLECTION_THRESHOLD`); the older generations keep CPython's thresholds. And
    no transparent huge pages: see :func:`_no_huge_pages`; freed memory kept in the process
    for the next allocation: see :func:`mkba.memory.keep_freed_memory`."""
    import gc

    from mkba.memory import keep_freed_memory

    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)
    _no_huge_pages()
    keep_freed_memory()


def _no_huge_pages() -> None:
    """Tell NumPy not to ask for transparent huge pages, in this process and the ones it starts,
    unless the user set :data:`HUGEPAGE_ENV` (their choice stands).

    Where the kernel's ``transparent_hugepage/defrag`` is ``madvise`` (a common default), every
    first touch of such an array may compact memory to find a 2 MiB page. On the project's 2-core
    machine a ``mkba run -n 1000000`` spent 6.1-7.3 s of system CPU that way and took 15.6-16.5 s;
    without the request 2.5-2.7 s and 11.5-12.3 s, with less user CPU too (14.4-15.1 s against
    15.2-15.7 s; three runs each, alternated; benchmarks/README.md). The numbers are the same:
    this only changes how the kernel backs the memory."""
    if os.environ.get(HUGEPAGE_ENV) is not None:
        return
    os.environ[HUGEPAGE_ENV] = "0"
    numpy = sys.modules.get("numpy")
    if numpy is not None:  # imported before main(): switch it off directly
        core = getattr(numpy, "_core", None) or numpy.core  # NumPy 2 / NumPy 1.26
        core.multiarray._set_madvise_hugepage(False)


@contextlib.contextmanager
def engine_imports() -> Iterator[None]:
    """Around a command's heavy imports (numpy, numba, pydantic's schemas), in the console
    script's own process: no garbage collection while they run, then :func:`settle_imports`.
    Importing the engine makes about 150,000 objects that live until the process ends;
    collecting among them while they are made (about 20 collections, 5 of them of the middle
    generation, which walk up to 100,000 objects each) found next to nothing. The collector
    is switched on again when the block ends, also on an error. At the block's end,
    :func:`mkba.cacheload.install` (else :func:`mkba.lightimport.blas_for_numba`). Does nothing
    when :func:`main` was called with ``argv``."""
    if not _OWN_PROCESS:
        yield
        return
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        # compiled functions loaded from numba's cache without the CPU target's lowering
        # registries (mkba.cacheload); if that cannot be done, numba's BLAS check (when its
        # first compiled function is loaded) finds scipy.linalg.cython_blas loaded, without
        # scipy.linalg's __init__ (mkba.lightimport)
        from mkba import cacheload
        from mkba.lightimport import blas_for_numba

        if os.environ.get(cacheload.ENV) == "0" or not cacheload.install():
            blas_for_numba()
    finally:
        settle_imports()
        if was_enabled:
            gc.enable()


def settle_imports() -> None:
    """After a command's heavy imports, in the console script's own process: move the objects
    made so far (modules, classes, functions: about 150,000 after importing the engine) out of
    the garbage collector's reach, so that the collections during the run walk only the run's
    own objects (:func:`gc.freeze`). They live until the process ends anyway; nothing is
    computed differently. Does nothing when :func:`main` was called with ``argv``."""
    if _OWN_PROCESS:
        import gc

        gc.freeze()


_EXIT_NOW = False
"""Set by a command (:func:`exit_when_done`) whose every output is written and closed when it
returns, so that the console script's process may end at once (:func:`_exit_now`)."""


def own_process() -> bool:
    """Whether :func:`main` runs the console script's own process (the process ends when the
    command does), not a caller's ``main(argv)``."""
    return _OWN_PROCESS


def exit_when_done() -> None:
    """Called by a command when its work is done and its output written (files closed and
    fsync'ed, text printed): in the console script's own process, end the process right away
    after the command returns (:func:`_exit_now`). Does nothing when :func:`main` was called
    with ``argv``."""
    global _EXIT_NOW
    _EXIT_NOW = _OWN_PROCESS


def _exit_now(code: int) -> None:
    """End the console script's process with ``code`` without the interpreter's own teardown.

    Everything the interpreter does at exit that can be seen outside the process is done
    first, in its order: wait for the threads that are not daemons (and the thread pools'
    exit hooks), run the ``atexit`` handlers, flush stdout and stderr. What is skipped is
    tearing down about 1,000 modules and the objects they hold (0.03-0.08 s of a default
    ``mkba run``, measured from the printed table to the end of the process); every file of
    the run was written, fsync'ed and closed before. If stdout or stderr cannot be flushed
    (e.g. a closed pipe), this returns and the interpreter ends as usual, reporting it."""
    import atexit
    import os
    import threading

    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    shutdown = getattr(threading, "_shutdown", None)  # what the interpreter calls first at exit
    if shutdown is None:
        return
    output = sys.modules.get("mkba.output")
    if output is not None:  # replaced run folders still being removed (remove_replaced_beside)
        output.finish_removals()
    shutdown()
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


def _end_of_process() -> None:
    """Let the interpreter exit without walking every object again.

    At exit CPython runs several full garbage collections over every tracked object (about
    170,000 after a run: the numba, pydantic and pyarrow modules), which took 0.3-0.6 s of a
    default ``mkba run``. :func:`gc.freeze` moves the live objects out of the collector's
    reach: interpreter shutdown still clears every module and frees every object that is not
    part of a reference cycle, runs the ``atexit`` handlers and flushes stdout and stderr; only
    reference cycles that are still alive at exit are left to the operating system (as for any
    process killed at exit). Every output file was written, flushed, fsync'ed and closed before
    (:mod:`mkba.output`). Only for the console script: a caller that runs :func:`main` with
    ``argv`` in its own process (tests) keeps its collector as it was."""
    import gc

    gc.freeze()


COMPLETE_VAR = "_MKBA_COMPLETE"
"""The variable typer's command line reads for shell completion (``_{PROG}_COMPLETE``)."""


def _direct(args: list[str]) -> dict[str, Any] | None:
    """The parameters of ``mkba run`` when ``args`` are ``run`` and plain arguments that
    :func:`mkba.cli.run.direct_arguments` reads (the command is then called without typer;
    the same values, the same run), else None."""
    if not args or args[0] != "run" or COMPLETE_VAR in os.environ:
        return None  # (typer answers a shell-completion request, even with completion off)
    from mkba.cli.run import direct_arguments

    return direct_arguments(args[1:])


def _run_direct(parameters: dict[str, Any]) -> int | None:
    """Call ``mkba run``'s body with ``parameters``, ending as typer's command line ends
    (``typer.core._main`` with ``standalone_mode=False``): Ctrl-C exits with 130 silently; an
    end of input writes a line break on stderr and is reported as an interruption; a closed
    pipe (EPIPE) quiets stdout and stderr and exits with 1."""
    from mkba.cli.run import run_command

    try:
        run_command(**parameters)
    except EOFError:
        print(file=sys.stderr, flush=True)
        err_console.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        try:  # typer's own wrapper (typer 0.29 keeps click as typer._click)
            from typer._click.utils import PacifyFlushWrapper
        except ImportError:  # a typer that moved it: the streams to nowhere, the same ending
            sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115  # held to exit
        else:
            sys.stdout = cast(TextIO, PacifyFlushWrapper(sys.stdout))
            sys.stderr = cast(TextIO, PacifyFlushWrapper(sys.stderr))
        sys.exit(1)
    return None


def _interruptions() -> tuple[type[BaseException], ...]:
    """Ctrl-C, and typer's ``Abort`` when typer is loaded (what typer makes of a Ctrl-C or an
    end of input during a command, after writing a line break to stderr). An ``except``
    clause evaluates this when an exception is matched: typer need not be imported."""
    typer = sys.modules.get("typer")
    return (KeyboardInterrupt,) if typer is None else (typer.Abort, KeyboardInterrupt)


def _usage_errors() -> tuple[type[BaseException], ...]:
    """typer's usage errors (bad option values, missing arguments) when typer is loaded."""
    exceptions = sys.modules.get("typer.exceptions")
    return () if exceptions is None else (exceptions.TyperException,)


def _main(argv: list[str] | None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        direct = _direct(args)
        if direct is not None:
            code = _run_direct(direct)
        else:
            chosen = app_for(args)
            code = chosen(args=argv, standalone_mode=False)
    except _interruptions():
        err_console.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except _usage_errors() as exc:  # usage errors: bad option values, missing arguments
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(f"error: {exc}", markup=False)
        sys.exit(EXIT_INVALID_INPUT)
    except MkbaError as exc:
        for line in str(exc).splitlines():
            err_console.print(f"error: {line}", markup=False, highlight=False)
        sys.exit(exc.exit_code)
    except Exception as exc:
        user = from_system_error(exc)
        if user is not None:
            err_console.print(f"error: {user}", markup=False, highlight=False)
            sys.exit(user.exit_code)
        import traceback

        traceback.print_exc()
        err_console.print(
            "internal error: this is a bug in mkba; please report it with the traceback above"
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else 0)
