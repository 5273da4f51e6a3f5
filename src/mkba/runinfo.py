"""The one writer of run ids and manifest heads, for every kind of run directory.

``mkba run``, ``mkba sensitivity``, ``mkba batch``, the decisions and ``mkba monitor`` all name
their output by :func:`hash_id` over their inputs and settings and open their ``manifest.json``
with :func:`manifest_head`: the run id, the scenario by name, variant, file and hash, the
perspective, and the package versions. Paths in a manifest are written by
:func:`portable_path`: never an absolute path of the machine that made the run.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def hash_id(parts: Iterable[str], *, terminated: bool = True) -> str:
    """12 hex digits of the SHA-256 of ``parts``: each followed by a NUL byte
    (``terminated``) or NUL-separated. Same inputs, same id."""
    h = hashlib.sha256()
    if terminated:
        for part in parts:
            h.update(part.encode())
            h.update(b"\0")
    else:
        h.update("\0".join(parts).encode())
    return h.hexdigest()[:12]


def portable_path(path: Path | str | None) -> str | None:
    """A path as written in an output: relative to the working folder when inside it, else
    only its last name (never an absolute path, nor a ``..`` walk out of the working folder,
    of the machine that made the run); POSIX separators."""
    if path is None:
        return None
    p = Path(path)
    if not p.is_absolute() and ".." not in p.parts:
        return p.as_posix()
    # lexically (no resolve: a folder about to be written may not exist or loop)
    cwd = Path.cwd()
    q = Path(os.path.normpath(cwd / p))
    try:
        return q.relative_to(cwd).as_posix()
    except ValueError:
        return q.name


def stamp_table(df: Any, scenario_hash: str, perspectives: dict[str, str]) -> Any:
    """A result table stamped with the scenario hash and, beside its ``output`` column, the
    perspective each output is in (``perspectives``: output name -> perspective), so that a
    report can refuse to merge tables of another scenario or output."""
    out = df.copy()
    out["scenario_hash"] = scenario_hash
    if "output" in out.columns:
        out["output_perspective"] = [perspectives.get(str(o), "") for o in out["output"]]
    return out


def manifest_head(spec: Any, rid: str, kind: str | None = None) -> dict[str, Any]:
    """The fields every manifest of a run on ``spec`` starts with."""
    head: dict[str, Any] = {"run_id": rid}
    if kind is not None:
        head["kind"] = kind
    head.update(
        {
            "scenario": spec.name,
            "variant": spec.variant,
            "scenario_file": portable_path(spec.path),
            "scenario_hash": spec.digest,
            "parameters_dir": portable_path(spec.params.root),
            "parameters_hash": spec.params.digest,
            "calibration_file": portable_path(spec.calibration_path),
            "perspective": spec.scenario.perspective,
        }
    )
    return head
