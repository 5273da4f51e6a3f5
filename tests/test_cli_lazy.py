"""The console script builds only the command it runs (issue 17, target 2): `mkba run ...`
imports and registers `mkba.cli.run` alone; anything else (`--help`, `--version`, no or an
unknown command) gets the whole command line. The command table that decides this
(`mkba.cli.COMMANDS`) must name every command the modules register, with its module.

Expected values come from the modules themselves: the whole command line's commands are what
`register(app)` of each module in `COMMAND_MODULES` adds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer
import typer.main

import mkba.cli as cli

ROOT = Path(__file__).resolve().parents[1]


def _names(app: typer.Typer) -> list[str]:
    group = typer.main.get_command(app)
    return list(group.commands)  # type: ignore[attr-defined]  # a click Group: the root has a callback


def test_the_command_table_names_every_command_with_its_module() -> None:
    from_modules: dict[str, str] = {}
    for module in cli.COMMAND_MODULES:
        for name in _names(cli.make_app((module,))):
            assert name not in from_modules, f"{name} registered twice"
            from_modules[name] = module
    assert from_modules == cli.COMMANDS
    # the whole command line lists them in the modules' order, as before
    assert _names(cli.app) == list(from_modules)
    assert cli.app is cli.whole_app()


def test_a_named_command_gets_a_root_with_that_command_only() -> None:
    for name, module in cli.COMMANDS.items():
        app = cli.app_for([name, "--help"])
        assert app is not cli.app
        assert set(_names(app)) == {n for n, m in cli.COMMANDS.items() if m == module}
    for args in ([], ["--help"], ["--version"], ["runn"], ["--version", "run"], ["-x", "run"]):
        assert cli.app_for(args) is cli.app, args


def test_a_console_run_imports_no_other_command_module(tmp_path: Path) -> None:
    probe = (
        "import sys, mkba.cli\n"
        "sys.argv = ['mkba', 'run', '--help']\n"
        "try:\n"
        "    mkba.cli.main()\n"
        "finally:\n"
        "    print(sorted(m for m in sys.modules if m.startswith('mkba.cli.')), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    assert "Usage:" in proc.stdout and "run [OPTIONS]" in proc.stdout
    loaded = eval(proc.stderr.strip().splitlines()[-1])  # the probe's own repr of a list
    assert set(loaded) <= {"mkba.cli.common", "mkba.cli.options", "mkba.cli.run"}, loaded
    assert "mkba.cli.run" in loaded


def test_help_and_usage_errors_are_those_of_the_whole_command_line() -> None:
    # the same text and exit code whether the whole command line or one command parses them
    from typer.testing import CliRunner

    runner = CliRunner()
    for args in (["run", "--help"], ["run", "--bogus"], ["batch", "--help"], ["voi", "--help"]):
        whole = runner.invoke(cli.app, args)
        alone = runner.invoke(cli.app_for(args), args)
        assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output), args


CACHELOAD_PROBE = """
import atexit, sys
import mkba.cli
def report():
    from mkba import cacheload
    print("CACHELOAD", cacheload._installed, "numba" in sys.modules, file=sys.stderr)
atexit.register(report)
sys.argv = ["mkba", *{args!r}]
mkba.cli.main()
"""


def test_the_engine_commands_load_numba_functions_through_cacheload(tmp_path: Path) -> None:
    # sensitivity, batch, compare, calibrate, the decision commands, test and monitor import
    # the engine in mkba.cli.engine_imports, as `mkba run` does: the console script installs
    # mkba.cacheload (here each ends with exit 2 on a missing scenario, after its imports)
    missing = str(tmp_path / "missing.toml")
    for args in (
        ["sensitivity", "-m", "tornado", missing, "--no-write"],
        ["batch", missing, "--out", str(tmp_path / "b")],
        ["compare", missing, missing],
        ["calibrate", missing, "-t", "npv.p50=0", "-f", "budget.per_resident"],
        ["voi", missing, "--no-write"],
        ["test", missing],
        ["monitor", missing, missing],
    ):
        proc = subprocess.run(
            [sys.executable, "-c", CACHELOAD_PROBE.format(args=args)],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        assert proc.returncode == 2, (args, proc.stderr)
        assert "CACHELOAD True True" in proc.stderr, (args, proc.stderr)
