"""Monitoring a programme of bottom-up measures (interventions).

Expected numbers and where they come from:
- tests/fixtures/programme (see tests/test_interventions.py for the same arithmetic): area a1,
  stream s1 volume 1000 x 0.5 x 0.1 = 50 persons; measure ``help`` reaches 10 participants a
  year 2021-2023 (EUR 10,000 / EUR 1,000), effect 0.4 x (1 - 0.25) = 0.3 per participant, lag
  1, half-life 2 (q = 2^-1/2): cohort stock X = 0, 0, 10, 10q + 10, q(10q + 10) + 10,
  q(q(10q + 10) + 10) in 2020-2025, so the volume with the programme is 50 - 0.3 X;
- the planned participants are the plan of the lowered model (10 a year 2021-2023).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mkba import engine
from mkba.errors import InputError
from mkba.load import load_scenario
from mkba.model import lower
from mkba.monitor.api import monitor
from mkba.monitor.observations import load_observations
from mkba.monitor.projection import prior_theta, prior_z, theta_from_z, volume_columns, volumes

ROOT = Path(__file__).parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "programme" / "scenarios" / "programme.toml"
EXAMPLE_SCENARIO = ROOT / "scenarios" / "wijkprogramma-example.toml"
EXAMPLE_OBS = ROOT / "examples" / "monitoring" / "programme" / "observations.csv"


def test_programme_volumes_by_hand_on_the_fixture() -> None:
    m = lower(load_scenario(FIXTURE))
    V, dV = volumes(m, m.theta_fixed[None, :], ((0, m.streams.index("s1")),))
    q = 0.5**0.5
    x = np.array([0.0, 0.0, 10.0, 10 * q + 10, q * (10 * q + 10) + 10, 0.0])
    x[5] = q * x[4]
    np.testing.assert_allclose(V[0, 0], [50.0] * 6, rtol=1e-14)
    np.testing.assert_allclose(dV[0, 0], 0.3 * x, rtol=1e-12, atol=1e-12)
    # the hand figures of issue 12: 3, 5.12132, 6.62132, 4.68198 persons off s1 in 2022-2025
    np.testing.assert_allclose(dV[0, 0, 2:], [3.0, 5.12132, 6.62132, 4.68198], atol=1e-5)


@pytest.mark.parametrize("scenario", [FIXTURE, EXAMPLE_SCENARIO])
def test_programme_volume_change_valued_equals_the_engine_benefits(scenario: Path) -> None:
    """dV of every area and stream (top-down plus measures), valued and discounted as the
    reference does, equals the engine's benefits per area and component and per perspective
    (numba kernel and NumPy oracle) at rtol 1e-12, draw by draw."""
    m = lower(load_scenario(scenario))
    assert m.programme is not None
    n = 64
    theta = prior_theta(m, draws=n, seed=5, sampler="random", chunk_size=32)
    pairs = tuple((a, s) for a in range(len(m.areas)) for s in range(len(m.streams)))
    _V, dV = volumes(m, theta, pairs)
    dV = dV.reshape(n, len(m.areas), len(m.streams), -1)
    sl, C = m.slots, len(m.components)
    uv = theta[:, sl.component("unit_value") : sl.component("unit_value") + C]
    g = theta[:, sl.component("growth") : sl.component("growth") + C]
    years = m.years.astype(float) - m.spec.scenario.base_year
    value = uv[:, :, None] * (1.0 + g)[:, :, None] ** years[None, None, :]
    flows = dV[:, :, m.comp_stream, :] * value[:, None] * m.comp_sign[None, None, :, None]
    mine = (flows * m.df_stream[m.comp_stream][None, None]).sum(axis=3)  # (n, A, C)
    assert np.abs(mine).max() > 0
    for backend in ("numba", "numpy"):
        ben = engine.raw_chunk(m, theta, backend)[0]
        np.testing.assert_allclose(mine, ben, rtol=1e-12, atol=0)
    out = engine.evaluate(m, theta)
    per_perspective = np.einsum("nac,pc->np", mine, m.benefit_weights)
    np.testing.assert_allclose(per_perspective, out.benefits, rtol=1e-12, atol=0)
