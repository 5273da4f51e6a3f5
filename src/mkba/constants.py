"""Constants the command line needs to describe its options, kept free of heavy imports.

``mkba --help`` and ``mkba --version`` import only this module, typer and rich (see
tests/test_startup.py); the schema and the sensitivity code re-export these names.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_SCENARIO = Path("scenarios/reference-2021.toml")
"""The scenario of a command when none is named, relative to the working directory (the
repository root): the 16-area reference. Here, not in :mod:`mkba.api`, so that ``mkba run``
can read it before the engine is imported (:func:`mkba.prefault.early`)."""

PERSPECTIVES = ("welfare", "fiscal", "study")
"""The perspectives every run computes (re-exported by :mod:`mkba.schema.scenario`)."""

MAX_DRAWS = 100_000_000
"""The most draws a scenario or a ``--draws`` option may ask for."""

SENSITIVITY_OUTPUT_HELP = (
    "[PERSPECTIVE.]npv|bcr|costs_pv|benefits_pv, [PERSPECTIVE.]by_stream.STREAM, "
    "by_area.AREA[.npv|.bcr|.costs_pv|.benefits_pv] (bare: benefits), "
    "by_stakeholder.K[.net|.benefits|.costs], by_component.STREAM.COMPONENT, "
    "[PERSPECTIVE.]by_intervention.M.npv|bcr|costs_pv|benefits_pv, cumulative_npv.YEAR, irr, "
    "payback_year"
)
"""The output names of the registry (:mod:`mkba.outputs`), as help text: kept here so that
the CLI can show it without importing the engine."""

DECIDE_DEFAULT_OUTPUT = "welfare.npv"
"""The output ``mkba voi``, ``allocate``, ``discover`` and ``acceptability`` decide on by default."""
