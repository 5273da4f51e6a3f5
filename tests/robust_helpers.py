"""Helpers of the robustness tests: run the command line in-process and copy the tiny fixture."""

from __future__ import annotations

import contextlib
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

from mkba.cli import main

ROOT = Path(__file__).parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"


@dataclass
class Result:
    code: int
    out: str
    err: str


def cli(*args: str) -> Result:
    """``mkba ARGS`` in this process (fast: the kernel stays compiled): exit code, stdout,
    stderr."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return Result(code, out.getvalue(), err.getvalue())


def tiny_copy(dest: Path) -> Path:
    """A copy of the tiny fixture (parameters/ and scenarios/) under ``dest``; returns the
    scenario file."""
    shutil.copytree(TINY, dest, dirs_exist_ok=True)
    return dest / "scenarios" / "one.toml"
