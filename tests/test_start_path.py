"""The start and end of a default `mkba run` (issue 17, target 2): the process exits without
walking every object again, and the scenario and its companion load their library once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mkba.load import load_scenario, shared_parameters

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"

FREEZE_PROBE = """
import atexit, gc, sys
import mkba.cli
atexit.register(lambda: print("FROZEN", gc.get_freeze_count() > 0, file=sys.stderr))
sys.argv = ["mkba", "--version"]
mkba.cli.main({argv})
"""


def _frozen_at_exit(argv: str) -> bool:
    proc = subprocess.run(
        [sys.executable, "-c", FREEZE_PROBE.format(argv=argv)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("mkba "), proc.stdout
    line = [x for x in proc.stderr.splitlines() if x.startswith("FROZEN")][-1]
    return line.split()[1] == "True"


def test_the_console_script_leaves_the_collector_frozen_at_exit() -> None:
    # `mkba` (main() without argv) freezes the collector as it ends: the interpreter's final
    # collections then skip every live object; a caller's own main(argv) keeps its collector
    assert _frozen_at_exit("")
    assert not _frozen_at_exit("['--version']")


def test_a_console_script_run_writes_everything_it_prints(tmp_path: Path) -> None:
    # after the freeze, stdout is still flushed whole and every file is in place
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "mkba", "run", "-n", "800", "--out", str(out), "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["draws"] == 800
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for name in manifest["files"]:
        assert (out / name).stat().st_size > 0, name


def test_shared_parameters_give_each_scenario_what_it_loads_alone() -> None:
    # `mkba run` loads the reference and its companion (evidence) in one shared_parameters
    # block: the companion gets the library the reference loaded, and must equal its own load
    # (the reference is calibrated; the shared set must not carry that into the evidence)
    ref_alone = load_scenario(SCENARIOS / "reference-2021.toml")
    ev_alone = load_scenario(SCENARIOS / "evidence-2021.toml")
    with shared_parameters():
        ref = load_scenario(SCENARIOS / "reference-2021.toml")
        ev = load_scenario(SCENARIOS / "evidence-2021.toml")
    assert ref.params is ev.params  # one load of the library
    for alone, shared in ((ref_alone, ref), (ev_alone, ev)):
        assert shared.digest == alone.digest
        assert shared.quantities == alone.quantities
        assert shared.scenario == alone.scenario
    assert ref.quantities != ev.quantities  # the calibration makes them differ


def test_settle_imports_freezes_only_in_the_console_script() -> None:
    import gc

    import mkba.cli

    assert not mkba.cli._OWN_PROCESS  # the tests call main(argv), if at all
    before = gc.get_freeze_count()
    mkba.cli.settle_imports()
    assert gc.get_freeze_count() == before
    probe = (
        "import gc, sys, mkba.cli\n"
        "mkba.cli._OWN_PROCESS = True\n"
        "mkba.cli.settle_imports()\n"
        "print(gc.get_freeze_count() > 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "True"


def test_the_console_script_collects_the_young_generation_less_often() -> None:
    import gc

    from mkba.cli import YOUNG_COLLECTION_THRESHOLD

    default = gc.get_threshold()  # CPython's (pytest leaves it alone)
    probe = (
        "import atexit, gc, sys\n"
        "import mkba.cli\n"
        "atexit.register(lambda: print('T', gc.get_threshold(), file=sys.stderr))\n"
        "sys.argv = ['mkba', '--version']\n"
        "mkba.cli.main({argv})\n"
    )
    mkba = (YOUNG_COLLECTION_THRESHOLD, *default[1:])
    for argv, want in (("", mkba), ("['--version']", default)):
        proc = subprocess.run(
            [sys.executable, "-c", probe.format(argv=argv)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        line = [x for x in proc.stderr.splitlines() if x.startswith("T ")][-1]
        assert line == f"T {want}", (argv, line)


def test_the_console_script_asks_numpy_for_no_huge_pages_unless_the_user_chose() -> None:
    """NumPy's hugepage request is off in the console script's process and in processes it
    starts (the environment variable), but an explicit NUMPY_MADVISE_HUGEPAGE stands; main(argv)
    called from Python leaves NumPy alone."""
    import os

    probe = (
        "import atexit, os, sys\n"
        "import numpy, mkba.cli\n"
        "def show():\n"
        "    core = getattr(numpy, '_core', None) or numpy.core\n"
        "    now = core.multiarray._set_madvise_hugepage(True)\n"
        "    print('H', now, os.environ.get('NUMPY_MADVISE_HUGEPAGE'), file=sys.stderr)\n"
        "atexit.register(show)\n"
        "sys.argv = ['mkba', '--version']\n"
        "mkba.cli.main({argv})\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    numpy_default = subprocess.run(  # True on Linux kernels from 4.6 on
        [
            sys.executable,
            "-c",
            "import numpy; c = getattr(numpy, '_core', None) or numpy.core; "
            "print(c.multiarray._set_madvise_hugepage(1))",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    cases = (
        ("", None, "H False 0"),  # numpy imported first: switched off directly, env for children
        ("", "1", "H True 1"),  # the user's choice stands
        ("['--version']", None, f"H {numpy_default} None"),  # called from Python: NumPy's default
    )
    for argv, user, want in cases:
        run_env = dict(env) if user is None else {**env, "NUMPY_MADVISE_HUGEPAGE": user}
        proc = subprocess.run(
            [sys.executable, "-c", probe.format(argv=argv)],
            capture_output=True,
            text=True,
            check=False,
            env=run_env,
        )
        assert proc.returncode == 0, proc.stderr
        line = [x for x in proc.stderr.splitlines() if x.startswith("H ")][-1]
        assert line == want, (argv, user, line)
