"""The console script's `mkba run` (issue 17, target 2): no garbage collection during the
engine's imports, and the process ends at once after the run's outputs are written and
printed, with what the interpreter's own exit does that can be seen from outside (non-daemon
threads joined, atexit handlers run, stdout and stderr flushed) and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# A process that runs the console script's main() (argv None), with witnesses of how it ends:
# os._exit says when it is called, an atexit handler, a non-daemon thread that finishes late,
# and an object whose __del__ runs when the interpreter tears its modules down.
PROBE = """
import atexit, os, sys, threading, time
import mkba.cli

real_exit = os._exit

def _exit(code):
    os.write(2, b"OS_EXIT %d\\n" % code)
    real_exit(code)

os._exit = _exit

class Teardown:
    def __del__(self, write=os.write):  # bound now: module globals are gone by then
        write(2, b"TEARDOWN\\n")

teardown = Teardown()
atexit.register(lambda: sys.stderr.write("ATEXIT\\n"))

def late():
    time.sleep(0.3)
    sys.stderr.write("THREAD DONE\\n")

threading.Thread(target=late).start()  # not a daemon: the process must wait for it
sys.argv = ["mkba", *{args!r}]
mkba.cli.main({argv})
"""


def _probe(args: list[str], argv: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args, argv=argv)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def test_a_console_script_run_ends_at_once_after_everything_is_out(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _probe(["run", "-n", "800", "--out", str(out), "--json"])
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # stdout flushed whole
    assert doc["draws"] == 800
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for name in manifest["files"]:
        assert (out / name).stat().st_size > 0, name
    lines = proc.stderr.splitlines()
    assert "THREAD DONE" in lines  # the non-daemon thread was waited for
    assert "ATEXIT" in lines  # the atexit handlers ran ...
    assert lines.index("THREAD DONE") < lines.index("ATEXIT")  # ... after it, as at exit
    assert lines[-1] == "OS_EXIT 0"  # and then the process ended,
    assert "TEARDOWN" not in lines  # without the interpreter's teardown


def test_the_tables_are_printed_whole_before_the_process_ends(tmp_path: Path) -> None:
    proc = _probe(["run", "-n", "800", "--out", str(tmp_path / "run")])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith("written to run"), proc.stdout[-300:]  # the last line
    assert proc.stderr.splitlines()[-1] == "OS_EXIT 0"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--version"], 0),  # commands that do not say they are done end as usual
        (["run", "no-such-scenario.toml", "--no-write"], 2),  # a failed run ends as usual
    ],
)
def test_other_endings_keep_the_interpreters_exit(args: list[str], code: int) -> None:
    proc = _probe(args)
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.splitlines()
    assert "THREAD DONE" in lines
    assert "ATEXIT" in lines
    assert not any(x.startswith("OS_EXIT") for x in lines)
    if code == 2:
        assert any("no-such-scenario.toml" in x for x in lines), proc.stderr


def test_main_with_argv_never_ends_the_process(tmp_path: Path) -> None:
    # the tests' (and any caller's) main(argv) runs the command and returns through SystemExit
    proc = _probe(["run", "-n", "800", "--no-write", "--json"], argv="sys.argv[1:]")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["draws"] == 800
    assert "OS_EXIT" not in proc.stderr

    import mkba.cli

    assert not mkba.cli._OWN_PROCESS
    mkba.cli.exit_when_done()
    assert not mkba.cli._EXIT_NOW


def test_a_closed_stdout_falls_back_to_the_interpreters_exit(tmp_path: Path) -> None:
    # stdout closed by the reader before anything is printed: printing the tables fails, so
    # the command never says it is done and the process ends the usual way (as before this
    # change: exit 1); nothing hangs and the files are written
    out = tmp_path / "run"
    code = PROBE.format(args=["run", "-n", "800", "--out", str(out)], argv="")
    with subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # before anything is printed
        err = proc.stderr.read().decode("utf-8", "replace")
        proc.wait(timeout=300)
    assert proc.returncode != 0, err
    assert "OS_EXIT" not in err
    assert "ATEXIT" in err.splitlines()
    assert (out / "manifest.json").is_file()


ENGINE_IMPORTS_PROBE = """
import gc, sys
import mkba.cli
mkba.cli._OWN_PROCESS = {own}
seen = []
with mkba.cli.engine_imports():
    seen.append(gc.isenabled())
    import mkba.api  # noqa: F401
try:
    with mkba.cli.engine_imports():
        raise RuntimeError("boom")
except RuntimeError:
    pass
print(seen[0], gc.isenabled(), gc.get_freeze_count() > 0)
"""


@pytest.mark.parametrize(("own", "want"), [(True, "False True True"), (False, "True True False")])
def test_engine_imports_run_without_collections_only_in_the_console_script(
    own: bool, want: str
) -> None:
    # console script: the collector is off during the imports, on again after them (also
    # after an error) with the imported objects frozen; a caller's process is left alone
    proc = subprocess.run(
        [sys.executable, "-c", ENGINE_IMPORTS_PROBE.format(own=own)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == want


def test_without_a_terminal_the_run_has_no_bar_and_imports_no_progress_module() -> None:
    probe = (
        "import sys\n"
        "from mkba.cli.run import _progress_bar\n"
        "with _progress_bar(False) as p:\n"
        "    assert p is None\n"
        "print('rich.progress' in sys.modules)\n"
        "with _progress_bar(True) as p:\n"  # a terminal: rich's bar, fed by the callback
        "    p(5, 10)\n"
        "    p(10, 10)\n"
        "print('rich.progress' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True"]


def test_the_platform_probe_leaves_platforms_own_answer_in_its_cache() -> None:
    # the manifest's "platform" comes from platform.platform(): asked on a thread first, the
    # main thread then gets the same text (from platform's cache, without running uname -p)
    probe = (
        "import threading, platform, subprocess\n"
        "from mkba.cli.run import start_platform_probe\n"
        "start_platform_probe()\n"
        "for t in threading.enumerate():\n"
        "    if t.name == 'mkba-platform':\n"
        "        t.join()\n"
        "def refuse(*a, **k):\n"
        "    raise AssertionError('platform ran a process again')\n"
        "subprocess.check_output = refuse\n"
        "subprocess.run = refuse\n"
        "print(platform.platform())\n"
    )
    fresh = subprocess.run(
        [sys.executable, "-c", "import platform; print(platform.platform())"],
        capture_output=True,
        text=True,
        check=True,
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == fresh.stdout
