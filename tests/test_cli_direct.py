"""``mkba run`` with plain arguments is called without typer (issue 17, target 2): the
parameters :func:`mkba.cli.run.direct_arguments` reads must be exactly those typer gives the
command for the same arguments (typer's own parse is the expected value in every case), any
other form must be left to typer, and errors and interruptions must end the same way on both
paths (the typer path's output is the expected one)."""

from __future__ import annotations

import errno
import inspect
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import mkba.cli as cli
from mkba.cli import run as runmod

ROOT = Path(__file__).resolve().parents[1]

PLAIN = [
    [],
    ["scenarios/reference-2021.toml"],
    ["s.toml", "-n", "5000", "--out", "runs/x", "--force"],
    ["-n", "1", "--seed", "0"],
    ["--draws", "100000000", "--seed", "123456789012345678"],
    ["--json", "--no-write", "--no-companion"],
    ["--companion", "-o", "d", "-v", "low", "--area-draws", "Float32"],
    ["--variant", "high", "x.xlsx", "--area-draws", "none", "--json"],
    ["-n", "20", "a b/c d.toml", "--out", "ü/ñ"],
]
"""Arguments after ``run`` that the direct path reads."""

OTHER = [
    ["--help"],
    ["-n", "0"],
    ["-n", "100000001"],
    ["-n", "007"],
    ["-n", "1e3"],
    ["-n", "+5"],
    ["-n", " 5"],
    ["-n", "1_000"],
    ["-n", "٣"],  # an Arabic-Indic digit: typer's int, not this path, decides
    ["--seed", "-1"],
    ["--seed", "1234567890123456789"],
    ["-n"],
    ["--out"],
    ["--out", ""],
    ["--out", "-x"],
    ["--out=dir"],
    ["-n5000"],
    ["-n", "5", "-n", "6"],
    ["--companion", "--no-companion"],
    ["a.toml", "b.toml"],
    ["--"],
    ["-"],
    [""],
    ["--bogus"],
    ["--forc"],
    ["-f"],
]
"""Arguments after ``run`` left to typer (usage errors, help, forms the direct path does not
read)."""


def _typer_parameters(args: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The parameters typer gives the command for ``run *args``."""
    seen: dict[str, Any] = {}
    names = list(inspect.signature(runmod.run_command).parameters)

    def capture(*values: Any) -> None:
        seen.update(zip(names, values, strict=True))

    monkeypatch.setattr(runmod, "run_command", capture)
    cli.make_app(("run",))(args=["run", *args], standalone_mode=False)
    return seen


@pytest.mark.parametrize("args", PLAIN, ids=lambda a: " ".join(a) or "(none)")
def test_plain_arguments_are_typers_parameters(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    direct = runmod.direct_arguments(args)
    assert direct is not None
    defaults = {k: p.default for k, p in inspect.signature(runmod.run_command).parameters.items()}
    ours = {**defaults, **direct}
    theirs = _typer_parameters(args, monkeypatch)
    assert set(ours) == set(theirs)
    for k in theirs:
        assert type(ours[k]) is type(theirs[k]) and ours[k] == theirs[k], (k, ours[k], theirs[k])


@pytest.mark.parametrize("args", OTHER, ids=lambda a: " ".join(a) or "(empty)")
def test_other_forms_are_left_to_typer(args: list[str]) -> None:
    assert runmod.direct_arguments(args) is None


def test_arguments_that_are_not_strings_are_left_to_typer() -> None:
    assert runmod.direct_arguments([Path("s.toml")]) is None  # type: ignore[list-item]  # a caller's Path
    assert runmod.direct_arguments(["-n", 5]) is None  # type: ignore[list-item]  # an int


def test_only_the_run_command_goes_direct() -> None:
    assert cli._direct(["run", "-n", "5"]) == {"draws": 5}
    for args in ([], ["--version"], ["validate"], ["runs"], ["--version", "run"], ["run", "-h"]):
        assert cli._direct(args) is None, args


def test_a_shell_completion_request_goes_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    """typer answers ``_MKBA_COMPLETE`` on every command line (completion is off: it says so
    and exits 1); the direct path must not run the command instead."""
    monkeypatch.setenv(cli.COMPLETE_VAR, "bash_source")
    assert cli._direct(["run", "-n", "5"]) is None


def test_ctrl_c_while_the_arguments_are_read_is_an_interruption(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(args: list[str]) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(runmod, "direct_arguments", interrupted)
    with pytest.raises(SystemExit) as stop:
        cli.main(["run", "-n", "5"])
    assert stop.value.code == 130 and "interrupted" in capsys.readouterr().err


def test_a_closed_pipe_ends_quietly_without_typers_wrapper(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typer that no longer has ``typer._click.utils``: a closed pipe still exits with 1
    and writes nothing more (the streams go to nowhere)."""

    def fails(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(runmod, "run_command", fails)
    monkeypatch.setitem(sys.modules, "typer._click.utils", None)  # its import fails
    monkeypatch.setattr(sys, "stdout", sys.stdout)
    monkeypatch.setattr(sys, "stderr", sys.stderr)
    with pytest.raises(SystemExit) as stop:
        cli.main(["run", "--no-write"])
    assert stop.value.code == 1
    assert sys.stdout.name == sys.stderr.name == os.devnull  # type: ignore[attr-defined]  # the file opened
    sys.stdout.close()


def _both_ways(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> list[tuple[Any, str, str]]:
    """``main(args)`` through the direct path and through typer: exit code, stdout, stderr."""
    got = []
    for direct in (True, False):
        if not direct:
            monkeypatch.setattr(cli, "_direct", lambda args: None)
        with pytest.raises(SystemExit) as stop:
            cli.main(args)
        out, err = capsys.readouterr()
        got.append((stop.value.code, out, err))
    return got


def test_errors_end_the_same_way_on_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "missing.toml")
    direct, typer_path = _both_ways(["run", missing, "--no-write"], monkeypatch, capsys)
    assert direct == typer_path
    assert direct[0] == 2 and "file not found" in direct[2]


@pytest.mark.parametrize(
    "error",
    [
        KeyboardInterrupt(),
        EOFError(),
        OSError(errno.EPIPE, "Broken pipe"),
        OSError(errno.ENOSPC, "No space left on device"),
        RuntimeError("a bug"),
    ],
    ids=["ctrl-c", "eof", "epipe", "enospc", "bug"],
)
def test_an_interruption_or_failure_ends_the_same_way_on_both_paths(
    error: BaseException, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fails(*args: Any, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(runmod, "run_command", fails)
    # a closed pipe replaces sys.stdout and sys.stderr (as typer does): put them back after
    monkeypatch.setattr(sys, "stdout", sys.stdout)
    monkeypatch.setattr(sys, "stderr", sys.stderr)
    direct, typer_path = _both_ways(["run", "--no-write"], monkeypatch, capsys)
    if isinstance(error, RuntimeError):  # the traceback's frames differ; its last line not
        direct, typer_path = (
            (c, o, e.splitlines()[-1] + e.split("Traceback")[0]) for c, o, e in (direct, typer_path)
        )
    assert direct == typer_path
    expected = {KeyboardInterrupt: 130, EOFError: 130, RuntimeError: 1}.get(type(error))
    if isinstance(error, OSError):
        expected = 1 if error.errno == errno.EPIPE else direct[0]
    assert direct[0] == expected


def test_a_plain_console_run_does_not_import_typer(tmp_path: Path) -> None:
    # the process ends at once when the run is done (mkba.cli._exit_now): atexit reports
    probe = (
        "import atexit, sys, mkba.cli\n"
        "atexit.register(lambda: print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('typer', 'click')), file=sys.stderr))\n"
        f"sys.argv = ['mkba', 'run', 'tests/fixtures/tiny/scenarios/one.toml', '-n', '64', "
        f"'--out', {str(tmp_path / 'run')!r}]\n"
        "mkba.cli.main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "run" / "summary.json").is_file()
    assert proc.stderr.strip().splitlines()[-1] == "[]"
