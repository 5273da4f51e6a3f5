"""The type checker over src/ (configuration in pyproject.toml, [tool.mypy]): the README's
test command, and so CI, runs it. Every `# type: ignore` left in src/ carries its reason."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def test_mypy_is_clean_on_src(tmp_path_factory: pytest.TempPathFactory) -> None:
    pytest.importorskip("mypy")
    cache = tmp_path_factory.getbasetemp() / "mypy-cache"
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(cache), "--no-error-summary"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_type_ignore_says_why() -> None:
    bare = []
    for path in sorted((ROOT / "src").rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            m = re.search(r"# type: ignore(\[[^\]]*\])?(.*)$", line)
            if m and (m.group(1) is None or not re.match(r"\s+#\s*\S", m.group(2))):
                bare.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not bare, "type: ignore without a code and a reason:\n" + "\n".join(bare)
