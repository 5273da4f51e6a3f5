"""Shared helpers of the monitoring tests."""

from __future__ import annotations

from pathlib import Path


def write_obs(folder: Path, rows: str, sidecar: str, name: str = "obs") -> Path:
    """An observations table ``name.csv`` with its sidecar ``name.toml`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.toml").write_text(sidecar, encoding="utf-8")
    path = folder / f"{name}.csv"
    path.write_text(rows, encoding="utf-8")
    return path
