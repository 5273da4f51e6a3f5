"""The command line as a user runs it, for the tests that check whole commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def mkba(
    *args: str, cwd: Path | None = None, columns: int = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point (``python -m mkba``) in ``cwd`` (default: the
    repository root), with a terminal ``columns`` wide; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "mkba", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=dict(os.environ, COLUMNS=str(columns)),
        timeout=600,
    )
