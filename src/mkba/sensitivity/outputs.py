"""Named outputs of the model: kept for old imports; the registry is :mod:`mkba.outputs`."""

from __future__ import annotations

from mkba.outputs import (
    AREA_PARTS,
    HELP,
    STAKEHOLDER_PARTS,
    TOTALS,
    OutputRef,
    default_threshold,
    expand_outputs,
    output_array,
    parse_output,
)

__all__ = [
    "AREA_PARTS",
    "HELP",
    "STAKEHOLDER_PARTS",
    "TOTALS",
    "OutputRef",
    "default_threshold",
    "expand_outputs",
    "output_array",
    "parse_output",
]
