"""Start-up stays light (issue 17, target 1): `mkba --help` and `--version` must not import the
engine's heavy dependencies. Structural, not timed: checks ``sys.modules`` in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("numba", "scipy", "pandas", "dask", "SALib", "matplotlib", "pyarrow")
# (pydantic is not listed: typer itself loads it to parse the options of a subcommand)

PROBE = """
import json, sys
sys.argv = ["mkba", *{argv!r}]
import mkba.cli
try:
    mkba.cli.main({argv!r})
except SystemExit:
    pass
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}})), file=sys.stderr)
"""


def _imported(argv: list[str]) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)],
        capture_output=True,
        text=True,
        check=False,
    )
    last = proc.stderr.strip().splitlines()[-1]
    return set(json.loads(last))


def test_import_of_the_cli_loads_no_heavy_module() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys; import mkba.cli; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(json.loads(proc.stdout))
    assert "mkba" in loaded  # the probe did import the package
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_help_and_version_load_no_heavy_module() -> None:
    for argv in (["--help"], ["--version"], ["run", "--help"], ["sensitivity", "--help"]):
        loaded = _imported(argv)
        assert "typer" in loaded, argv
        assert loaded.isdisjoint(HEAVY), (argv, sorted(loaded & set(HEAVY)))
