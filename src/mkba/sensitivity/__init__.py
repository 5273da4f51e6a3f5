"""Sensitivity and uncertainty analysis: what drives the result, and when does it flip.

Methods (each explains one named output, see :mod:`mkba.outputs`):

- :func:`tornado`: one-way sensitivity; each parameter (group) at its low and high value
  (default P10 and P90, or explicit bounds), the others at base values, sorted by swing;
  optionally on the Monte Carlo mean with common random numbers.
- :func:`switching_values`: the value of a parameter at which the output crosses a threshold
  (NPV = 0, BCR = 1, ...), by root finding on the full model; as a value and as a multiple
  of the base value.
- :func:`discount_sweep`: the output against the discount rate, and the rate at which it
  changes sign.
- :func:`sobol`, :func:`morris`: global sensitivity with SALib, on parameters or named
  groups, for any output, per area and per year on request, with convergence checks.

Correlated inputs are analysed as one group by default (see :mod:`mkba.sensitivity.groups`).
:func:`run_sensitivity` is the library call behind ``mkba sensitivity``.
"""

from mkba.outputs import OutputRef, expand_outputs, output_array, parse_output
from mkba.sensitivity.api import DEFAULT_DRAWS, METHODS, SensitivityResult, run_sensitivity
from mkba.sensitivity.groups import Grouping, resolve_groups, select_params
from mkba.sensitivity.indices import GlobalResult, morris, salib_problem, sobol
from mkba.sensitivity.local import (
    DiscountResult,
    SwitchingResult,
    TornadoResult,
    discount_sweep,
    rate_grid,
    switching_values,
    tornado,
)

__all__ = [
    "DEFAULT_DRAWS",
    "METHODS",
    "DiscountResult",
    "GlobalResult",
    "Grouping",
    "OutputRef",
    "SensitivityResult",
    "SwitchingResult",
    "TornadoResult",
    "discount_sweep",
    "expand_outputs",
    "morris",
    "output_array",
    "parse_output",
    "rate_grid",
    "resolve_groups",
    "run_sensitivity",
    "salib_problem",
    "select_params",
    "sobol",
    "switching_values",
    "tornado",
]
