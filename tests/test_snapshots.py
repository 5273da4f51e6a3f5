"""Seeded regression snapshots of every shipped scenario: any change in a number is a visible,
explained change (regenerate with ``python tests/snapshots/update.py`` and add a CHANGELOG entry)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from snapshots.update import HERE, cases, name, snapshot


def _flatten(d: object, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(d, int | float) and not isinstance(d, bool):
        out[prefix] = float(d)
    return out


CASES = cases()


def test_every_scenario_has_a_snapshot() -> None:
    expected = {name(p, v) for p, v in CASES}
    stored = {p.name for p in HERE.glob("*.json")}
    assert expected == stored, "run python tests/snapshots/update.py"


@pytest.mark.parametrize(("path", "variant"), CASES, ids=[name(p, v) for p, v in CASES])
def test_snapshot(path: Path, variant: str | None) -> None:
    stored = json.loads((HERE / name(path, variant)).read_text())
    now = snapshot(path, variant)
    a, b = _flatten(stored["summary"]), _flatten(now["summary"])
    assert a.keys() == b.keys()
    for k in a:
        if math.isnan(a[k]) and math.isnan(b[k]):
            continue
        # same seed and inputs: equal up to floating-point differences between machines
        assert b[k] == pytest.approx(a[k], rel=1e-9, abs=1e-6), k
