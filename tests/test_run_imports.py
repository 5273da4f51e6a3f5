"""What a plain ``mkba run`` of the reference loads (issue 17). Structural, not timed: a fresh
process runs the whole command (sampling with PERT, lognormal and correlated parameters, the
kernel, statistics and every output) and reports ``sys.modules`` and numba's cache misses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

PROBE = """
import json, sys
import mkba.cli
try:
    mkba.cli.main({argv!r})
except SystemExit as e:
    code = e.code
else:
    code = 0
from mkba import kernel
misses = {{name: sum(getattr(kernel, name).stats.cache_misses.values())
          for name in ("simulate_chunk", "aggregate_totals")}}
print(json.dumps([code, sorted(m for m in sys.modules if m.startswith("scipy")), misses]),
      file=sys.stderr)
"""


def _run(argv: list[str]) -> tuple[Any, list[str], dict[str, int], str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)],
        capture_output=True,
        text=True,
        check=False,
    )
    code, loaded, misses = json.loads(proc.stderr.strip().splitlines()[-1])
    assert code in (0, None), proc.stderr
    return code, loaded, misses, proc.stderr


def test_a_plain_run_imports_no_scipy_stats(tmp_path: Path) -> None:
    """scipy.stats cost 0.5-0.7 s of CPU to import, about a third of a default run."""
    _, loaded, _, _ = _run(["run", "-n", "1000", "--out", str(tmp_path / "run")])
    assert (tmp_path / "run" / "summary.json").exists()
    assert "scipy.special._ufuncs" in loaded  # the PERT quantiles were computed (the probe ran)
    # the ufuncs alone, without scipy.special's __init__ (mkba.lightimport)
    assert "scipy.special" not in loaded, loaded
    assert not [m for m in loaded if m.startswith("scipy.stats")], loaded


def test_runs_of_any_size_share_one_compiled_kernel(tmp_path: Path) -> None:
    """One chunk (1,000 draws: whole column-major per-area arrays) and several chunks (5,000
    draws: row slices of them) used to be two kernel types, i.e. a second 20-second compile;
    after either run the other loads the kernel from the cache, and says nothing about
    compiling."""
    _run(["run", "-n", "1000", "--no-write"])  # compiles if the cache is cold
    _, _, misses, stderr = _run(["run", "-n", "5000", "--no-write"])
    assert misses == {"simulate_chunk": 0, "aggregate_totals": 0}, misses
    assert "compiling" not in stderr
    _, _, misses, stderr = _run(["run", "-n", "700", "--no-write", "--no-companion"])
    assert misses == {"simulate_chunk": 0, "aggregate_totals": 0}, misses
    assert "compiling" not in stderr
