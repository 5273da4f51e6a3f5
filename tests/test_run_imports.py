"""A plain ``mkba run`` of the reference imports no scipy.stats (issue 17: importing it was
0.5-0.7 s of CPU, about a third of a default run). Structural, not timed: checks
``sys.modules`` of a fresh process after a whole run (sampling with PERT, lognormal and
correlated parameters, the kernel, statistics and every output)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
import mkba.cli
try:
    mkba.cli.main({argv!r})
except SystemExit as e:
    code = e.code
else:
    code = 0
print(json.dumps([code, sorted(m for m in sys.modules if m.startswith("scipy"))]), file=sys.stderr)
"""


def test_a_plain_run_imports_no_scipy_stats(tmp_path: Path) -> None:
    argv = ["run", "-n", "1000", "--out", str(tmp_path / "run")]
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)],
        capture_output=True,
        text=True,
        check=False,
    )
    code, loaded = json.loads(proc.stderr.strip().splitlines()[-1])
    assert code in (0, None), proc.stderr
    assert (tmp_path / "run" / "summary.json").exists()
    assert "scipy.special" in loaded  # the PERT quantiles were computed (the probe ran)
    assert not [m for m in loaded if m.startswith("scipy.stats")], loaded
