"""Errors users can act on.

Every error mkba raises for a user's mistake derives from :class:`MkbaError` and carries its
context (file, key path, value). The command line turns them into one line per problem and an
exit code; it never shows a traceback for them.

Exit codes (also in ``mkba --help`` and the README):

====  ==========================================================
 0    success
 1    unexpected internal error (a bug: please report it)
 2    invalid input: a parameter or scenario file failed validation
 3    a run failed for a reason other than input (numerical problem, output not writable)
 4    partial failure: a batch finished but some scenarios failed, or some
      ``mkba test`` cases failed
130   interrupted (Ctrl-C); finished chunks are kept for ``--resume``
====  ==========================================================
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INVALID_INPUT = 2
EXIT_RUN_FAILED = 3
EXIT_PARTIAL = 4
EXIT_INTERRUPTED = 130

_MISSING = object()


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Problem:
    """One problem in one input file: where, what, and the offending value."""

    file: str
    key: str
    message: str
    value: Any = _MISSING

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        got = "" if self.value is _MISSING else f" (got {_short(self.value)})"
        return f"{where}: {self.message}{got}"


class MkbaError(Exception):
    """Base of all errors mkba raises for problems a user can fix."""

    exit_code = EXIT_RUN_FAILED

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        key: str | None = None,
        scenario: str | None = None,
        area: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.key = key
        self.scenario = scenario
        self.area = area

    def __str__(self) -> str:
        parts = [p for p in (self.file, self.key) if p]
        prefix = ": ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class InputError(MkbaError):
    """One or more problems in the input files. Nothing was computed or written."""

    exit_code = EXIT_INVALID_INPUT

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(
            "\n".join(str(p) for p in self.problems) or "invalid input",
        )

    def __str__(self) -> str:
        return self.message


class RunError(MkbaError):
    """A run could not be completed (numerical failure, output not writable...)."""

    exit_code = EXIT_RUN_FAILED


def from_system_error(exc: BaseException) -> MkbaError | None:
    """The one place that turns a system error into an error a user can act on (the command
    line shows its message and exits with its code instead of a traceback), or None for a
    bug. A failed write (read-only file system, no permission, full disk, a name too long, a
    path through a file, a symlink loop) is a failed run (exit 3): the message names the path
    and the cause; atomic writes leave nothing half-written. A path mkba cannot even use (a NUL
    byte in it) or input nested too deeply to read is invalid input (exit 2)."""
    if isinstance(exc, OSError):
        paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
        where = " -> ".join(paths) or "(a file)"
        cause = exc.strerror or str(exc)
        if exc.filename is not None and exc.errno in (errno.EEXIST, errno.ENOTDIR):
            target = Path(os.fsdecode(exc.filename))
            if target.is_symlink() and not target.exists():
                cause = "a symbolic link that leads nowhere or in a loop"
            elif target.exists() and not target.is_dir():
                cause = "a file, where a folder is needed"
        return RunError(f"{where}: {cause}; nothing was left half-written")
    if isinstance(exc, ValueError) and "null byte" in str(exc):
        err: MkbaError = MkbaError(f"a path contains a NUL byte: {exc}")
        err.exit_code = EXIT_INVALID_INPUT
        return err
    if isinstance(exc, RecursionError):
        err = MkbaError("input nested too deeply to read (tables or arrays thousands deep)")
        err.exit_code = EXIT_INVALID_INPUT
        return err
    if isinstance(exc, MemoryError):
        return RunError("out of memory: ask for fewer draws (--draws) or a smaller chunk_size")
    return None
