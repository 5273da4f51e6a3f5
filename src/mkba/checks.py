"""The checks between loading and simulating: a validated spec lowers to arrays that a run
can use. ``mkba validate`` and every command that runs use :func:`runnable`, so validate
rejects whatever a run would reject before computing."""

from __future__ import annotations

import numpy as np

from mkba.errors import InputError, Problem
from mkba.load import Spec
from mkba.model import Model, lower
from mkba.tomlio import display_path

_ARRAYS = (
    "volume0",
    "budget",
    "budget_ratio",
    "gov_ratio",
    "budget_pv",
    "followup_pv",
    "df_stream",
    "df_cost",
)
"""Arrays that must be finite; ``theta_fixed`` may hold ``inf`` (a half-life without decay)
but never nan."""


def check_model(model: Model) -> None:
    """Every lowered array is finite and the correlations form a valid correlation matrix;
    raise :class:`InputError` naming the scenario file otherwise."""
    from mkba.engine import correlation_factor

    file = display_path(model.spec.path)
    bad = [name for name in _ARRAYS if not np.all(np.isfinite(getattr(model, name)))]
    if np.isnan(model.theta_fixed).any():
        bad.append("theta_fixed")
    if bad:
        raise InputError(
            [
                Problem(
                    file,
                    "budget" if any(b.startswith("budget") for b in bad) else "",
                    "the inputs give non-finite numbers (a value too large, or a discount rate "
                    "that makes the factors overflow)",
                    bad,
                )
            ]
        )
    correlation_factor(model)


def runnable(spec: Spec) -> Model:
    """Lower a spec and check the arrays (see :func:`check_model`)."""
    model = lower(spec)
    check_model(model)
    return model
