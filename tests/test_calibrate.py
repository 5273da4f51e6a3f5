"""Calibration: a hand-solvable fit, and the shipped record reproduces."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from mkba import calibrate as cal
from mkba import engine
from mkba.errors import InputError
from mkba.load import load_scenario
from mkba.model import lower
from mkba.tomlio import read_toml

ROOT = Path(__file__).parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny" / "scenarios" / "one.toml"
RECORD = ROOT / "parameters" / "calibration" / "reference-2021.toml"


def test_linear_fit_by_hand() -> None:
    """Benefits are proportional to the effect size (all else fixed), so asking for twice the
    welfare benefits must scale the effect by exactly 2; costs are proportional to the budget,
    so asking for 1.5 times the costs scales the budget total by 1.5."""
    m = lower(load_scenario(TINY))
    base = engine.evaluate(m, m.theta_fixed[None, :])
    b0, c0 = float(base.benefits[0, 0]), float(base.costs[0, 0])
    targets = [cal.Target("benefits_pv.p50", 2 * b0), cal.Target("costs_pv.p50", 1.5 * c0)]
    fit = cal.calibrate(TINY, targets, [["streams.s1.effect"], ["budget.total"]], draws=16)
    # the budget's response R = (B/Bref)^beta stays 1: Bref moves with the fitted budget
    assert fit.factors[0] == pytest.approx(2.0, rel=1e-8)
    assert fit.factors[1] == pytest.approx(1.5, rel=1e-8)
    doc = cal.record(fit, "test")
    assert doc["values"]["streams.s1.effect"]["value"] == pytest.approx(0.4, rel=1e-8)
    assert "calibrated" in doc["values"]["streams.s1.effect"]
    assert doc["scenario"]["budget"]["total"] == pytest.approx(15000, rel=1e-8)
    assert all(abs(t["relative_residual"]) < 1e-8 for t in doc["record"]["targets"])


def test_bad_targets_and_free_parameters() -> None:
    with pytest.raises(InputError, match="expected NAME=VALUE"):
        cal.parse_target("benefits")
    with pytest.raises(InputError, match="unknown parameter"):
        cal.calibrate(TINY, [cal.Target("benefits_pv.p50", 1.0)], [["streams.s1.nope"]], draws=16)
    with pytest.raises(InputError, match="unknown stream"):
        cal.calibrate(
            TINY, [cal.Target("by_stream.zz.p50", 1.0)], [["streams.s1.effect"]], draws=16
        )


def test_shipped_record_reproduces() -> None:
    """Running the command stored in the record again gives the stored factors."""
    stored = read_toml(RECORD)
    argv = shlex.split(stored["record"]["command"])[2:]
    scenario = ROOT / argv[0]
    targets, groups = [], []
    for flag, value in zip(argv[1::2], argv[2::2], strict=True):
        if flag in ("-t", "--target"):
            targets.append(cal.parse_target(value))
        elif flag in ("-f", "--free"):
            groups.append(value.split(","))
    fit = cal.calibrate(scenario, targets, groups)
    assert cal.compare(fit, stored) == []
    for t in stored["record"]["targets"]:
        assert abs(t["relative_residual"]) < 1e-6
