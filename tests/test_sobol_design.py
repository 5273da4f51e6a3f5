"""The vectorised Saltelli design (issue 17, target 7) against SALib's own sampler.

:func:`mkba.sensitivity.design.saltelli_design` must give SALib's design of
``SALib.sample.sobol.sample(..., calc_second_order=False)`` element for element (same scrambled
Sobol' sequence and seed, same row layout), so the indices SALib's analysis computes from it are
SALib's; and on the linear fixture of tests/test_sensitivity.py (NPV = a1 U1 + a2 U2 - c U3,
closed-form indices in that file's docstring) the indices are the analytic ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import sobol as sobol_sample

from mkba.load import load_scenario
from mkba.model import lower
from mkba.sensitivity import resolve_groups, salib_problem, sobol
from mkba.sensitivity.common import evaluate_design
from mkba.sensitivity.design import group_index, saltelli_design
from mkba.sensitivity.outputs import parse_output

ROOT = Path(__file__).parents[1]
LINEAR = ROOT / "tests" / "fixtures" / "linear" / "scenarios" / "linear.toml"
U1 = "streams.s1.components.gain.unit_value"
U2 = "streams.s2.components.gain.unit_value"
U3 = "costs.main.overrun"
RANGE = {U1: (500.0, 1500.0), U2: (200.0, 1000.0), U3: (0.8, 1.6)}
A = sum(1.03**-k for k in range(1, 6))
COEF = {U1: 10 * A, U2: 10 * A, U3: -30_000 * (1.03**-1 + 1.03**-2)}  # as in test_sensitivity


def _problem(d: int, groups: list[str] | None, bounds=None) -> dict:  # type: ignore[no-untyped-def,type-arg]
    p = {
        "num_vars": d,
        "names": [f"p{i}" for i in range(d)],
        "bounds": bounds if bounds is not None else [[0.0, 1.0]] * d,
    }
    if groups is not None:
        p["groups"] = groups
    return p


@pytest.mark.parametrize(
    ("d", "groups", "bounds"),
    [
        (3, None, None),
        (6, ["a", "b", "a", "c", "b", "c"], None),  # groups in order of first appearance
        (4, ["x", "x", "x", "x"], None),  # one group: SALib treats it as no groups
        (4, ["p0", "p1", "p2", "p3"], None),  # groups == names: no groups
        (2, None, [[-1.0, 3.0], [10.0, 20.0]]),  # bounds other than the unit cube
        (40, [f"g{i % 30}" for i in range(40)], None),  # 30 groups
    ],
)
@pytest.mark.parametrize("seed", [0, 11])
def test_design_equals_salib_element_for_element(d, groups, bounds, seed) -> None:  # type: ignore[no-untyped-def]
    p = _problem(d, groups, bounds)
    ours = saltelli_design(dict(p), 128, seed)
    salib = sobol_sample.sample(dict(p), 128, calc_second_order=False, seed=seed)
    assert ours.shape == salib.shape
    assert np.array_equal(ours, salib)


def test_group_index_numbers_groups_by_first_appearance() -> None:
    assert group_index(_problem(5, ["b", "a", "b", "c", "a"])).tolist() == [0, 1, 0, 2, 1]
    assert group_index(_problem(3, None)).tolist() == [0, 1, 2]


def test_indices_from_the_design_equal_salibs_and_the_closed_form() -> None:
    m = lower(load_scenario(LINEAR))
    g = resolve_groups(m)
    problem = salib_problem(g)
    ref = parse_output(m, "npv")
    n = 2048
    x_ours = saltelli_design(dict(problem), n, 5)
    x_salib = sobol_sample.sample(dict(problem), n, calc_second_order=False, seed=5)
    y_ours = evaluate_design(m, g, x_ours, [ref])[0]["npv"]
    y_salib = evaluate_design(m, g, x_salib, [ref])[0]["npv"]
    assert np.array_equal(y_ours, y_salib)
    si = sobol_analyze.analyze(
        problem, y_ours, calc_second_order=False, seed=np.random.default_rng(1)
    )
    # closed form (tests/test_sensitivity.py docstring): S1 = ST = a_i^2 Var U_i / sum
    v = {k: COEF[k] ** 2 * (RANGE[k][1] - RANGE[k][0]) ** 2 / 12 for k in COEF}
    tot = sum(v.values())
    for i, name in enumerate(g.names):
        assert si["S1"][i] == pytest.approx(v[name] / tot, abs=0.03)
        assert si["ST"][i] == pytest.approx(v[name] / tot, abs=0.03)
    # and what mkba's sobol() reports is exactly that analysis of that design
    res = sobol(m, ["npv"], g, n=n, seed=5, resamples=100)
    assert np.array_equal(res.design, x_salib)
    t = res.table.set_index("name")
    for i, name in enumerate(g.names):
        assert t.loc[name, "S1"] == pytest.approx(si["S1"][i], abs=1e-12)
        assert t.loc[name, "ST"] == pytest.approx(si["ST"][i], abs=1e-12)
