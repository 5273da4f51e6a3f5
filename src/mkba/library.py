"""A parameter library and the programme folders that build on it.

The shipped ``parameters/`` folder is a *library* of sourced values. A *programme folder*
extends it without copying it: it holds an ``mkba.toml`` that names the library, and only
the files it adds or changes::

    my-programme/
      mkba.toml              extends = "../parameters"; [use] streams = [...]
      areas.csv, areas.toml  the programme's own areas (replace the library's table)
      costs.toml             e.g. only [domains.social.payers]
      streams/debt_help.toml a new stream; a file named like a library stream overlays it
      scenarios/base.toml    parameters = ".."

Overlay rules (one rule for every file):

- A single file (``model.toml``, ``programme.toml``, ``costs.toml``, ``cpi.toml``) of the
  programme is merged onto the library's: tables merge key by key, values replace. A table
  that is one entry -- a quantity (has ``unit``), payer shares (``shares``) or response
  weights (``weights``) -- replaces the library's table as a whole, so no stale ``dist`` or
  share survives from the library.
- A folder of entries (``streams/``, and any other kind the loader reads through
  :meth:`Layers.entries`, such as ``interventions/``): a file of a new name adds an entry; a
  file named like a library entry overlays it by the rule above.
- ``areas.csv`` with its sidecar ``areas.toml``: the programme's table replaces the
  library's as a whole (the areas are the programme's own; a sidecar is required with it).
- ``[use]`` in ``mkba.toml`` selects entries per folder (``streams = ["debt_help",
  "benefit_savings"]``); without it every entry is used. A scenario's ``use`` narrows further.

A library may itself extend another library (chains are followed; a cycle is an error).
For every merged key the loader records which file set it, so that each parameter value can
say whether it came from the library or from the programme (:func:`origin_of`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mkba.errors import InputError, Problem
from mkba.tomlio import display_path, read_toml

MANIFEST = "mkba.toml"
"""The file that makes a folder a programme folder (and names its library)."""

SINGLE_FILES = ("model.toml", "programme.toml", "costs.toml", "cpi.toml")
ENTRY_KEYS = frozenset({"unit", "shares", "weights"})
"""A table with one of these keys is one entry: an overlay replaces it whole."""


def overlay(
    base: dict[str, Any],
    update: dict[str, Any],
    label: str,
    origins: dict[tuple[str, ...], str],
    prefix: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Merge ``update`` onto a copy of ``base`` by the overlay rule; record in ``origins``
    (key path -> ``label``) every key the update set."""
    out = copy.deepcopy(base)
    for k, v in update.items():
        path = (*prefix, k)
        old = out.get(k)
        if isinstance(v, dict) and isinstance(old, dict) and not (ENTRY_KEYS & set(v)):
            out[k] = overlay(old, v, label, origins, path)
        else:
            out[k] = copy.deepcopy(v)
            for p in [p for p in origins if p[: len(path)] == path]:
                del origins[p]
            origins[path] = label
    return out


@dataclass
class Layers:
    """The chain of folders a parameter set is read from: library first, programme last."""

    roots: tuple[Path, ...]
    use: dict[str, list[str]] | None = None
    manifest: Path | None = None
    origins: dict[str, dict[tuple[str, ...], str]] = field(default_factory=dict)
    """Per file name (``costs.toml``, ``streams/x.toml``): key path -> display path of the
    file that set it."""

    @property
    def top(self) -> Path:
        return self.roots[-1]

    @property
    def is_programme(self) -> bool:
        return len(self.roots) > 1

    def read(self, name: str, problems: list[Problem]) -> tuple[dict[str, Any] | None, str]:
        """The merged content of ``name`` over all layers, and the display path of the topmost
        file that has it (where a problem is reported)."""
        merged: dict[str, Any] | None = None
        shown = display_path(self.roots[-1] / name)
        origins: dict[tuple[str, ...], str] = {}
        for root in self.roots:
            path = root / name
            if not path.is_file():
                continue
            try:
                raw = read_toml(path)
            except InputError as exc:
                problems.extend(exc.problems)
                return None, display_path(path)
            shown = display_path(path)
            merged = overlay(merged or {}, raw, shown, origins)
        if merged is None:
            problems.append(Problem(shown, "", "file not found"))
            return None, shown
        self.origins[name] = origins
        return merged, shown

    def ids(self, kind: str) -> set[str]:
        """Every entry id of a folder over all layers, before any ``[use]`` selection."""
        return {p.stem for root in self.roots for p in (root / kind).glob("*.toml")}

    def entries(self, kind: str, problems: list[Problem]) -> dict[str, list[Path]]:
        """Entry id -> the files of that id, library first; filtered by ``[use]``."""
        found: dict[str, list[Path]] = {}
        for root in self.roots:
            for path in sorted((root / kind).glob("*.toml")):
                found.setdefault(path.stem, []).append(path)
        if self.use is not None and kind in self.use:
            where = display_path(self.manifest) if self.manifest else MANIFEST
            for i, eid in enumerate(self.use[kind]):
                if eid not in found:
                    known = ", ".join(sorted(found)) or "none"
                    problems.append(
                        Problem(where, f"use.{kind}[{i}]", f"no such entry (known: {known})", eid)
                    )
            found = {e: found[e] for e in self.use[kind] if e in found}
        return found

    def areas(self) -> tuple[Path, Path]:
        """``areas.csv`` and its sidecar from the topmost layer that has an ``areas.csv``."""
        for root in reversed(self.roots):
            if (root / "areas.csv").is_file():
                return root / "areas.csv", root / "areas.toml"
        return self.top / "areas.csv", self.top / "areas.toml"

    def files(self) -> list[Path]:
        """Every file that contributes to the parameter set (for its digest)."""
        out = [self.manifest] if self.manifest else []
        for root in self.roots:
            out += [root / n for n in SINGLE_FILES if (root / n).is_file()]
        out += list(self.areas())
        return out


def resolve(root: Path) -> Layers:
    """The layers of a parameter folder: itself, or a programme folder and its library."""
    root = Path(root)
    chain: list[Path] = []
    use: dict[str, list[str]] | None = None
    manifest: Path | None = None
    cur: Path | None = root.resolve()
    while cur is not None:
        if cur in chain:
            raise InputError(
                [Problem(display_path(cur / MANIFEST), "extends", "libraries extend in a cycle")]
            )
        chain.append(cur)
        man = cur / MANIFEST
        if not man.is_file():
            break
        raw = read_toml(man)
        name = display_path(man)
        unknown = sorted(set(raw) - {"extends", "use", "title", "description"})
        if unknown:
            raise InputError([Problem(name, k, "unknown key") for k in unknown])
        if manifest is None:
            manifest = man
            u = raw.get("use")
            if u is not None:
                if not isinstance(u, dict) or not all(
                    isinstance(v, list) and all(isinstance(x, str) for x in v) for v in u.values()
                ):
                    raise InputError(
                        [Problem(name, "use", "must map folders to lists of entry ids", u)]
                    )
                use = u
        ext = raw.get("extends")
        if ext is None:
            break
        if not isinstance(ext, str):
            raise InputError([Problem(name, "extends", "must be a folder path", ext)])
        nxt = (cur / ext).resolve()
        if not nxt.is_dir():
            raise InputError([Problem(name, "extends", "library folder not found", ext)])
        cur = nxt
    return Layers(tuple(reversed(chain)), use, manifest)


def quantity_location(path: str) -> tuple[str, tuple[str, ...]]:
    """Where a parameter path lives: ``costs.social.overrun`` -> (``costs.toml``,
    (``domains``, ``social``, ``overrun``)); ``streams.x.effect`` -> (``streams/x.toml``,
    (``effect``,))."""
    parts = path.split(".")
    stem = parts[0]
    if f"{stem}.toml" in SINGLE_FILES:
        keys = tuple(parts[1:])
        if stem == "costs":
            keys = ("domains", *keys)
        return f"{stem}.toml", keys
    return f"{stem}/{parts[1]}.toml", tuple(parts[2:])


def origin_of(layers: Layers, path: str) -> str | None:
    """The display path of the file that set parameter ``path``; None if unknown."""
    name, keys = quantity_location(path)
    origins = layers.origins.get(name)
    if not origins:
        return None
    for n in range(len(keys), -1, -1):
        if keys[:n] in origins:
            return origins[keys[:n]]
    return None
