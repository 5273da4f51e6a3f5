"""The decision commands (issue 15): run directories, common random numbers, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mkba import engine
from mkba.decide import api as decide
from mkba.errors import InputError
from mkba.load import load_scenario
from mkba.model import lower
from test_cli import mkba

ROOT = Path(__file__).parents[1]
LINEAR = ROOT / "tests" / "fixtures" / "linear" / "scenarios" / "linear.toml"


@pytest.mark.parametrize("command", ["voi", "allocate", "discover", "acceptability"])
def test_every_decision_command_has_help(command: str) -> None:
    r = mkba(command, "--help")
    assert r.returncode == 0 and len(r.stdout) > 300


def test_discover_cli_writes_a_run_directory(tmp_path: Path) -> None:
    out = tmp_path / "prim"
    r = mkba("discover", str(LINEAR), "-n", "2000", "--json", "-o", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["condition"] == "welfare.npv < 0"
    (box,) = doc["boxes"]
    # NPV = a1 U1 + a2 U2 - c U3 < 0 concentrates at a high overrun U3
    params = {lim["parameter"]: lim for lim in box["limits"]}
    assert "costs.main.overrun" in params
    assert params["costs.main.overrun"]["low"] > 1.0
    assert box["density"] >= 0.8
    for name in ("result.json", "manifest.json", "boxes.csv", "trajectory.parquet"):
        assert (out / name).is_file(), name
    for lang in ("en", "nl"):
        assert (out / f"chart_discover_{lang}.png").is_file()
    traj = pd.read_parquet(out / "trajectory.parquet")
    assert traj["chosen"].sum() == 1 and traj["mass"].iloc[0] == 1.0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["allocate", "--min", "area:nowhere=5"], "unknown area"),
        (["allocate", "--objective", "median"], "--objective"),
        (["allocate", "--output", "by_stream.s1"], "--output"),
        (["voi", "--output", "bcr"], "ratio"),
        (["voi", "--options", "nope"], "unknown variants"),
        (["discover", "--alpha", "0.9"], "--alpha"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(tmp_path: Path, args: list[str], needle: str) -> None:
    out = tmp_path / "x"
    r = mkba(args[0], str(LINEAR), *args[1:], "-n", "64", "-o", str(out), cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr
    assert not out.exists()


def test_acceptability_uses_the_same_draws(tmp_path: Path) -> None:
    res = decide.run_acceptability(LINEAR, draws=1000, write=False)
    spec = load_scenario(LINEAR)
    run = engine.simulate(lower(spec), draws=1000)
    p_run = float(np.mean(run.outcomes.npv[:, 0] > 0))
    rates = pd.DataFrame(res.document["discount"])
    # the sweep's point at the scenario's own rate (3 %) is the run itself (same draws)
    at = rates.loc[np.isclose(rates["rate"], 0.03), "prob_npv_positive"]
    assert float(at.iloc[0]) == p_run == res.document["prob_npv_positive"]
    over = pd.DataFrame(res.document["overrun"])
    assert (
        float(over.loc[np.isclose(over["overrun_factor"], 1.0), "prob_npv_positive"].iloc[0])
        == p_run
    )
    # more overrun, less acceptable
    assert np.all(np.diff(over["prob_npv_positive"]) <= 0)
    assert res.document["irr"]["perspective"] == "welfare"


def test_voi_is_reproducible_and_rejects_bad_input(tmp_path: Path) -> None:
    a = decide.run_voi(LINEAR, draws=512, resamples=10, out=tmp_path / "a")
    b = decide.run_voi(LINEAR, draws=512, resamples=10, out=tmp_path / "b")
    assert (tmp_path / "a" / "result.json").read_bytes() == (
        tmp_path / "b" / "result.json"
    ).read_bytes()
    assert a.result.evpi == b.result.evpi
    with pytest.raises(InputError):
        decide.run_voi(LINEAR, draws=64, output="by_area.nowhere", write=False)


def test_voi_between_variants_uses_common_random_numbers() -> None:
    """The correlated variant only adds a copula: with rho = 0 it would be the same draws; here
    the options' NB columns differ only through the variant, and each option's mean equals a
    separate run of that variant with the same seed."""
    res = decide.run_voi(LINEAR, options=["correlated"], draws=512, resamples=0, write=False)
    r = res.result
    assert r.options == ["do nothing", "linear", "linear:correlated"]
    run = engine.simulate(lower(load_scenario(LINEAR, variant="correlated")), draws=512)
    assert r.means[2] == pytest.approx(float(run.outcomes.npv[:, 0].mean()), rel=1e-12)
