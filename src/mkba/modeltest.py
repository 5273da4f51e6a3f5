"""Model tests written by an analyst: "for these inputs I expect this output, from this source".

A case file (TOML) holds one or more ``[[case]]`` tables::

    [[case]]
    name = "tiny: welfare PV of benefits"            # shown in the report
    scenario = "../fixtures/tiny/scenarios/one.toml"  # relative to the case file
    variant = "half"                                  # optional
    seed = 1                                          # optional (default: the scenario's)
    draws = 16                                        # optional (default: the scenario's)
    output = "welfare.benefits_pv"                    # an output name, as `mkba sensitivity --output`
    statistic = "mean"                                # mean, sd, p5, p50, p95, prob_positive
    expected = 30962.68
    rel_tol = 1e-12                                   # and/or abs_tol; at least one
    source = "hand calculation: 3750/1.03 + 7500 (1.03^-2 + ... + 1.03^-5)"

A case passes when ``|actual - expected| <= max(abs_tol, rel_tol * |expected|)``.
``prob_positive`` is the share of draws whose output is above 0. Every case file is
checked (scenario, variant and output name included) before anything runs; a problem is
reported as ``file: case[N].key: message`` (N from 0) (exit 2). Runs with the same scenario, variant,
seed and draws are shared by the cases that need them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field, model_validator

from mkba.engine import Run, simulate
from mkba.errors import InputError, Problem
from mkba.load import _read, _validate, load_scenario
from mkba.model import Model, lower
from mkba.results import stats
from mkba.schema.quantity import Strict
from mkba.schema.scenario import MAX_DRAWS
from mkba.tomlio import display_path

STATISTICS = ("mean", "sd", "p5", "p50", "p95", "prob_positive")


class Case(Strict):
    """One expectation about one output of one run."""

    name: str = Field(min_length=1)
    scenario: str = Field(min_length=1)
    variant: str | None = None
    seed: Annotated[int, Field(ge=0)] | None = None
    draws: Annotated[int, Field(ge=1, le=MAX_DRAWS)] | None = None
    output: str = Field(min_length=1)
    statistic: str = "mean"
    expected: float
    abs_tol: Annotated[float, Field(ge=0, strict=False)] | None = None
    rel_tol: Annotated[float, Field(ge=0, strict=False)] | None = None
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Case:
        if self.statistic not in STATISTICS:
            raise ValueError(
                f"statistic must be one of {', '.join(STATISTICS)} (got {self.statistic!r})"
            )
        if self.abs_tol is None and self.rel_tol is None:
            raise ValueError("give a tolerance: abs_tol, rel_tol or both")
        return self


class CaseFile(Strict):
    case: list[Case] = Field(min_length=1)


@dataclass(frozen=True)
class Prepared:
    """A checked case: where it came from and the run it needs."""

    file: str
    index: int
    case: Case
    path: Path  # the scenario file

    @property
    def run_key(self) -> tuple[str, str | None, int | None, int | None]:
        return (str(self.path), self.case.variant, self.case.seed, self.case.draws)

    @property
    def label(self) -> str:
        return f"{self.file}::{self.case.name}"


@dataclass(frozen=True)
class Outcome:
    """The result of one case."""

    prepared: Prepared
    actual: float
    tolerance: float
    passed: bool

    def as_dict(self) -> dict[str, Any]:
        c = self.prepared.case
        return {
            "file": self.prepared.file,
            "case": c.name,
            "scenario": c.scenario,
            "variant": c.variant,
            "output": c.output,
            "statistic": c.statistic,
            "expected": c.expected,
            "actual": self.actual,
            "tolerance": self.tolerance,
            "passed": self.passed,
            "source": c.source,
        }


def output_values(run: Run, name: str) -> np.ndarray:
    """Per-draw values of a named output: the one place a case reads outputs (the names of
    output registry :mod:`mkba.outputs`, as ``mkba sensitivity --output`` takes them)."""
    from mkba.outputs import output_array

    return output_array(run.outcomes, run.model, name)


def check_output_name(model: Model, name: str) -> None:
    """Raise :class:`InputError` for an output name the model does not have."""
    from mkba.outputs import parse_output

    parse_output(model, name)


def statistic(values: np.ndarray, name: str) -> float:
    """One statistic of per-draw values (NaN draws, e.g. an undefined ratio, left out)."""
    if name == "prob_positive":
        ok = values[~np.isnan(values)]
        return float(np.mean(ok > 0)) if ok.size else math.nan
    return stats(values)[name]


def load_cases(paths: list[Path]) -> list[Prepared]:
    """Read and check every case of every file: the case schema, the scenario file, the
    variant and the output name. Raises :class:`InputError` listing every problem."""
    problems: list[Problem] = []
    out: list[Prepared] = []
    models: dict[tuple[str, str | None], Model | None] = {}
    for path in paths:
        name = display_path(path)
        if not path.is_file():
            problems.append(Problem(name, "", "case file not found"))
            continue
        raw = _read(path, problems)
        if raw is None:
            continue
        cf = _validate(CaseFile, raw, name, problems)
        if cf is None:
            continue
        for i, case in enumerate(cf.case):
            where = f"case[{i}]"  # as the schema errors say it (0-based)
            spath = (path.parent / case.scenario).resolve()
            if not spath.is_file():
                problems.append(
                    Problem(name, f"{where}.scenario", "scenario file not found", case.scenario)
                )
                continue
            key = (str(spath), case.variant)
            if key not in models:
                try:
                    models[key] = lower(load_scenario(spath, variant=case.variant))
                except InputError as exc:
                    models[key] = None
                    problems += [Problem(name, f"{where}.scenario", str(p)) for p in exc.problems]
            model = models[key]
            if model is None:
                continue
            try:
                check_output_name(model, case.output)
            except InputError as exc:
                for p in exc.problems:
                    problems.append(Problem(name, f"{where}.output", p.message, case.output))
                continue
            out.append(Prepared(name, i, case, spath))
    if problems:
        raise InputError(problems)
    return out


def run_cases(prepared: list[Prepared]) -> list[Outcome]:
    """Run every case (one simulation per distinct scenario, variant, seed and draws)."""
    runs: dict[tuple[str, str | None, int | None, int | None], Run] = {}
    results: list[Outcome] = []
    for p in prepared:
        c = p.case
        run = runs.get(p.run_key)
        if run is None:
            model = lower(load_scenario(p.path, variant=c.variant))
            run = runs[p.run_key] = simulate(model, draws=c.draws, seed=c.seed, keep_samples=False)
        actual = statistic(output_values(run, c.output), c.statistic)
        tol = max(c.abs_tol or 0.0, (c.rel_tol or 0.0) * abs(c.expected))
        passed = math.isfinite(actual) and abs(actual - c.expected) <= tol
        results.append(Outcome(p, actual, tol, passed))
    return results


def case_files(paths: list[Path]) -> list[Path]:
    """The case files named: a folder stands for its ``*.toml`` files (sorted)."""
    out: list[Path] = []
    for p in paths:
        out += sorted(p.glob("*.toml")) if p.is_dir() else [p]
    return out
