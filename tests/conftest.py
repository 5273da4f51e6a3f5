"""Fixtures shared by the test modules: the reference and the evidence scenario as runnable
models (one load per module, as each module had it before)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mkba.checks import runnable
from mkba.load import load_scenario
from mkba.model import Model

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


@pytest.fixture(scope="module")
def ref() -> Model:
    """scenarios/reference-2021.toml, runnable."""
    return runnable(load_scenario(SCENARIOS / "reference-2021.toml"))


@pytest.fixture(scope="module")
def evi() -> Model:
    """scenarios/evidence-2021.toml, runnable."""
    return runnable(load_scenario(SCENARIOS / "evidence-2021.toml"))
