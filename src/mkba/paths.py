"""Output folder names from user labels, and the rule for replacing a finished output.

A scenario, variant or grid-point label is user text: it may contain ``/``, ``..``, spaces,
``%``, a NUL byte or be hundreds of characters long. :func:`safe_name` is the one function that
turns labels into a folder name: safe on every file system, length-limited, never ``.``/``..``
and never containing a path separator, and *injective*: two different labels never give the
same name (a label that is not already a clean lower-case slug gets a short hash of its exact
text). The label itself is kept intact in tables and manifests; only the folder name changes.

:func:`check_target` is the one rule for writing a finished output folder: a folder that
already holds a finished output is replaced only by the identical run (the same run id, so the
same bytes) or when the user says so (``--force``).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from mkba.errors import EXIT_INVALID_INPUT, MkbaError

MAX_PART = 48
"""Longest slug of one label part, before its hash (a file name may have 255 bytes)."""

_CLEAN = re.compile(r"^[a-z0-9][a-z0-9_.=,]*(?:-[a-z0-9_.=,]+)*$")
_UNSAFE = re.compile(r"[^a-z0-9_.=,-]+")


def _slug(text: str) -> str:
    s = _UNSAFE.sub("-", text.lower())
    s = re.sub(r"-{2,}", "-", s)
    s = re.sub(r"\.{2,}", ".", s)
    return s.strip("-.")[:MAX_PART].strip("-.")


def _is_clean(text: str) -> bool:
    return (
        len(text) <= MAX_PART
        and _CLEAN.match(text) is not None
        and ".." not in text
        and not text.endswith(".")
    )


def safe_part(label: str) -> str:
    """One label as a folder-name part: the label itself when it is already a clean slug
    (lower-case letters, digits, ``_ . = ,`` and single ``-``), else its slug followed by ``-``
    and the first 8 hex digits of the SHA-256 of the exact label."""
    if _is_clean(label):
        return label
    digest = hashlib.sha256(label.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    slug = _slug(label)
    return f"{slug}-{digest}" if slug else f"x-{digest}"


def safe_name(*parts: str | None) -> str:
    """A folder name for a label made of parts (scenario, variant or grid point...): each part
    by :func:`safe_part`, joined by ``--``. Injective up to SHA-256 prefix collisions, since a
    part never contains ``--``."""
    return "--".join(safe_part(p) for p in parts if p is not None)


class OutputExistsError(MkbaError):
    """A finished output is in the way; nothing was computed or written."""

    exit_code = EXIT_INVALID_INPUT


def _run_id_of(folder: Path) -> str | None:
    try:
        doc = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    rid = doc.get("run_id") if isinstance(doc, dict) else None
    return rid if isinstance(rid, str) else None


def check_target(final: Path, run_id: str | None, *, force: bool = False) -> None:
    """Refuse to replace a finished output unless it is the same run or ``force`` is set.

    ``final`` may not exist (fine), may be an empty folder (fine), or may be a finished mkba
    output (has ``manifest.json``): replaced only when its run id equals ``run_id`` (the same
    inputs and settings give the same bytes) or with ``force``. Anything else (a file, a
    folder of the user's) is never replaced, not even with ``force``.
    """
    final = Path(final)
    if not final.exists() and not final.is_symlink():
        return
    if not final.is_dir():
        raise OutputExistsError(
            f"{final}: exists and is not a folder; choose another --out",
        )
    if not (final / "manifest.json").is_file():
        if any(final.iterdir()):
            raise OutputExistsError(
                f"{final}: exists and is not an mkba run directory (no manifest.json); "
                "choose another --out or remove it"
            )
        return
    if force:
        return
    existing = _run_id_of(final)
    if run_id is not None and existing == run_id:
        return
    raise OutputExistsError(
        f"{final}: holds a finished output (run id {existing or 'unknown'}) that this run "
        f"(run id {run_id or 'new'}) would replace; choose another --out, or add --force to "
        "replace it"
    )
