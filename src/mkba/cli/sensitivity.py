"""``mkba sensitivity``: tornado, switching values, discount sweep, Sobol' and Morris."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from mkba.cli.common import err_console, out_console
from mkba.constants import MAX_DRAWS
from mkba.constants import SENSITIVITY_OUTPUT_HELP as OUTPUT_HELP
from mkba.errors import InputError, Problem
from mkba.output import to_json
from mkba.report.format import CLI

if TYPE_CHECKING:
    import pandas as pd

    from mkba.sensitivity.api import SensitivityResult

HELP = """Sensitivity and uncertainty analysis of a scenario: what drives the result, and when does
it flip.

Methods: tornado (each parameter or group at its P10 and P90, the others at base values, sorted
by swing; --mc: on the Monte Carlo mean with common random numbers); switching (the value of
each parameter at which the output crosses 0, or 1 for a ratio, or --threshold; by root finding
on the full model, within the distribution's support or --bounds); discount (the output against
the discount rate, and the rate where it changes sign); sobol (first-order and total Sobol'
indices with SALib, bootstrap confidence intervals); morris (Morris mu*, sigma with SALib).

--draws: Sobol' base samples N (default 4096, a power of two; N x (groups + 2) evaluations);
Morris trajectories (default 100); Monte Carlo draws for --mc and the discount sweep (default
4096). --groups: none (default), stream, kind, and/or NAME=PATTERN[,PATTERN...] with glob
patterns over parameter paths, e.g. effects=streams.*.effect. Correlated parameters are
analysed as one group by default (Sobol' indices assume independent inputs).

Parameter names are shown without 'streams.' and '.components'; --json and the run directory
keep the full paths. Tables and raw samples are written to runs/<scenario>-sensitivity-<method>-<id>/.
"""


def _quantiles(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise InputError(
            [Problem("--quantiles", "", "expected LOW,HIGH, e.g. 0.1,0.9", text)]
        ) from None
    return lo, hi


class _Fmt:
    """Number format of one output: EUR bn for large money, plain otherwise."""

    def __init__(self, values: Any, ratio: bool) -> None:
        vals = [abs(float(v)) for v in values if v is not None and math.isfinite(float(v))]
        self.ratio = ratio
        self.bn = not ratio and bool(vals) and max(vals) >= 1e8
        self.unit = "ratio" if ratio else ("EUR bn" if self.bn else "EUR")

    def __call__(self, x: Any) -> str:
        if x is None or (isinstance(x, float) and not math.isfinite(x)):
            return "-"
        x = float(x)
        if self.ratio:
            return CLI.num(x, 3)
        if self.bn:
            return CLI.num(x / 1e9, 3)
        return CLI.num(x, 0)


def _num(x: Any) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return CLI.plain(float(x))


def _values(x: Any) -> str:
    if isinstance(x, list):
        return "group" if len(x) > 1 else _num(x[0])
    return _num(x)


def short(name: str) -> str:
    """A parameter path for display: ``streams.`` and ``.components`` left out."""
    parts = []
    for part in name.split("+"):
        if part.startswith("streams."):
            part = part.removeprefix("streams.").replace(".components.", ".", 1)
        parts.append(part)
    return "+".join(parts)


def _is_ratio(name: str) -> bool:
    return name.split(".")[-1] == "bcr"


def _tornado(res: SensitivityResult, top: int) -> Table:
    r = res.result
    t: pd.DataFrame = r.table
    f = _Fmt(list(t["output_low"]) + list(t["output_high"]), _is_ratio(r.output))
    table = Table(
        title=f"Tornado of {r.output} ({r.mode}; {f.unit}); base {f(r.base_output)}",
        title_justify="left",
    )
    for col in ("#", "parameter / group", "low", "high", f"{r.output} low", f"{r.output} high"):
        table.add_column(
            col,
            justify="left" if col == "parameter / group" else "right",
            overflow="fold",
        )
    table.add_column("swing", justify="right")
    for rec, (_, row) in list(zip(r.records, t.iterrows(), strict=True))[:top]:
        table.add_row(
            str(row["rank"]),
            short(row["name"]),
            _values(rec["low"]),
            _values(rec["high"]),
            f(row["output_low"]),
            f(row["output_high"]),
            f(row["swing"]),
        )
    return table


def _switching(res: SensitivityResult, top: int) -> Table:
    r = res.result
    t: pd.DataFrame = r.table
    f = _Fmt([r.base_output], _is_ratio(r.output))
    table = Table(
        title=f"Switching values: where {r.output} = {CLI.plain(r.threshold)} ({r.mode}; base "
        f"{f(r.base_output)} {f.unit}), one parameter at a time",
        title_justify="left",
    )
    for col in ("parameter", "base", "switching value", "x base", "P(beyond)", "bounds"):
        table.add_column(col, justify="left" if col == "parameter" else "right", overflow="fold")
    for _, row in t.head(top).iterrows():
        crosses = row["status"] == "crosses"
        table.add_row(
            short(row["name"]),
            _num(row["base"]),
            _num(row["switching_value"]) if crosses else "none within bounds",
            CLI.num(row["ratio"], 3) if crosses and math.isfinite(row["ratio"]) else "-",
            CLI.pct(row["prob_beyond"], 1) if math.isfinite(row["prob_beyond"]) else "-",
            f"{_num(row['bound_low'])} .. {_num(row['bound_high'])}",
        )
    return table


def _discount(res: SensitivityResult) -> Table:
    r = res.result
    t: pd.DataFrame = r.table
    f = _Fmt(list(t["mean"]) + list(t["output_base"]), _is_ratio(r.output))
    table = Table(
        title=f"{r.output} against the discount rate ({f.unit}; {r.draws} draws, common "
        "random numbers)",
        title_justify="left",
    )
    for col in (
        "rate",
        "base values",
        "mean",
        "P5",
        "P50",
        "P95",
        f"P(> {CLI.plain(r.threshold)})",
    ):
        table.add_column(col, justify="right")
    for _, row in t.iterrows():
        table.add_row(
            CLI.pct(row["rate"], 2),
            f(row["output_base"]),
            f(row["mean"]),
            f(row["p5"]),
            f(row["p50"]),
            f(row["p95"]),
            CLI.pct(row["prob_above_threshold"], 0),
        )

    def rate(x: float | None) -> str:
        return "none within the rates" if x is None else CLI.pct(x, 3)

    table.caption = (
        f"{r.output} crosses {CLI.plain(r.threshold)} at a discount rate of {rate(r.switching_rate)} "
        f"(base values) and {rate(r.switching_rate_mean)} (Monte Carlo mean); scenario rate "
        f"{r.scenario_rate}"
    )
    table.caption_justify = "left"
    return table


def _indices(res: SensitivityResult, top: int) -> list[Table]:
    r = res.result
    tables = []
    for name, sub in r.table.groupby("output", sort=False):
        if r.method == "sobol":
            sub = sub.sort_values("ST", ascending=False)
            table = Table(
                title=f"Sobol' indices of {name} (N = {r.base_samples}, "
                f"{CLI.count(r.evaluations)} evaluations; 95 % bootstrap intervals)",
                title_justify="left",
            )
            _columns(table, ("S1", "± S1", "ST", "± ST"))
            for _, row in sub.head(top).iterrows():
                table.add_row(
                    short(row["name"]),
                    CLI.num(row["S1"], 3),
                    CLI.num(row["S1_conf"], 3),
                    CLI.num(row["ST"], 3),
                    CLI.num(row["ST_conf"], 3),
                )
        else:
            sub = sub.sort_values("mu_star", ascending=False)
            f = _Fmt(sub["mu_star"], _is_ratio(str(name)))
            table = Table(
                title=f"Morris screening of {name} ({r.base_samples} trajectories, "
                f"{CLI.count(r.evaluations)} evaluations; {f.unit} per unit of cumulative probability)",
                title_justify="left",
            )
            _columns(table, ("mu*", "± mu*", "sigma", "mu"))
            for _, row in sub.head(top).iterrows():
                table.add_row(
                    short(row["name"]),
                    f(row["mu_star"]),
                    f(row["mu_star_conf"]),
                    f(row["sigma"]),
                    f(row["mu"]),
                )
        if len(sub) > top:
            table.caption = f"top {top} of {len(sub)} (--top to show more)"
            table.caption_justify = "left"
        tables.append(table)
    return tables


def _columns(table: Table, numeric: tuple[str, ...]) -> None:
    """A left-aligned parameter column followed by right-aligned figures."""
    table.add_column("parameter / group", justify="left", overflow="fold")
    for col in numeric:
        table.add_column(col, justify="right", overflow="fold")


def register(app: typer.Typer) -> None:
    @app.command(help=HELP)
    def sensitivity(
        scenario: Path = typer.Argument(
            None,
            help="Scenario file. Default: scenarios/reference-2021.toml (the 16-area reference).",
        ),
        method: str = typer.Option(
            ..., "--method", "-m", help="tornado | switching | discount | sobol | morris."
        ),
        output: list[str] = typer.Option(
            None,
            "--output",
            help=f"Output to explain (default npv, the scenario's perspective): {OUTPUT_HELP}. "
            "Sobol and Morris take several.",
        ),
        groups: list[str] = typer.Option(
            None,
            "--groups",
            "-g",
            help="none | stream | kind | NAME=PATTERN[,PATTERN...] (repeatable).",
        ),
        params: list[str] = typer.Option(
            None,
            "--params",
            "-p",
            help="Parameters to analyse (glob patterns, comma-separated; default all uncertain).",
        ),
        draws: int = typer.Option(
            None,
            "--draws",
            "-n",
            min=1,
            max=MAX_DRAWS,
            help="Sobol' base samples N / Morris trajectories / Monte Carlo draws.",
        ),
        seed: int = typer.Option(None, "--seed", min=0, help="Seed (default: the scenario's)."),
        variant: str = typer.Option(None, "--variant", "-v", help="A named variant."),
        bounds: list[str] = typer.Option(
            None,
            "--bounds",
            "-b",
            help="PATH=LOW:HIGH in the parameter's own units, or xK for K times its base value; "
            "PATH may be a glob pattern (e.g. '*=x0:x3'). Tornado, switching; repeatable.",
        ),
        quantiles: str = typer.Option(
            "0.1,0.9", "--quantiles", help="Tornado: low and high quantile (default P10, P90)."
        ),
        threshold: float = typer.Option(
            None,
            "--threshold",
            help="Switching/discount: where the conclusion changes (0; 1 for bcr).",
        ),
        mc: bool = typer.Option(
            False,
            "--mc",
            help="Tornado/switching on the Monte Carlo mean (common random numbers).",
        ),
        rates: str = typer.Option(
            None, "--rates", help="Discount: START:STOP:STEP or a list (default 0:0.06:0.0025)."
        ),
        per_area: bool = typer.Option(
            False, "--per-area", help="Sobol/Morris: also every area's NPV."
        ),
        per_year: bool = typer.Option(
            False, "--per-year", help="Sobol/Morris: also the cumulative NPV up to every year."
        ),
        levels: int = typer.Option(4, "--levels", min=2, help="Morris grid levels."),
        resamples: int = typer.Option(
            100, "--resamples", min=10, help="Bootstrap resamples of the confidence intervals."
        ),
        convergence: str = typer.Option(
            "bootstrap",
            "--convergence",
            help="Sobol: bootstrap (intervals) | halving (also a separate design with N/2).",
        ),
        correlations: str = typer.Option(
            "group",
            "--correlations",
            help="Sobol/Morris: group (correlated parameters in one group) | ignore.",
        ),
        top: int = typer.Option(20, "--top", min=1, help="Rows shown in the tables."),
        out: Path = typer.Option(
            None,
            "--out",
            "-o",
            help="Run directory (default: runs/<scenario>-sensitivity-<method>-<id>).",
        ),
        no_write: bool = typer.Option(False, "--no-write", help="Do not write a run directory."),
        force: bool = typer.Option(
            False, "--force", help="Replace a finished output at --out (see the README)."
        ),
        as_json: bool = typer.Option(
            False, "--json", help="Print one JSON document on stdout instead of tables."
        ),
    ) -> None:
        from mkba.cli import engine_imports

        # imported here, not at the top: `mkba --help` must not load the engine (issue 17)
        with engine_imports():
            from mkba import api
            from mkba.sensitivity import run_sensitivity

        path = scenario if scenario is not None else api.default_scenario()
        res = run_sensitivity(
            path,
            method.strip().lower(),
            variant=variant,
            outputs=list(output or ["npv"]),
            groups=list(groups or []),
            params=list(params or []),
            draws=draws,
            seed=seed,
            bounds=list(bounds or []),
            quantiles=_quantiles(quantiles),
            threshold=threshold,
            mc=mc,
            rates=rates,
            per_area=per_area,
            per_year=per_year,
            levels=levels,
            resamples=resamples,
            convergence=convergence,
            correlations=correlations,
            out=out,
            write=not no_write,
            force=force,
        )
        if as_json:
            typer.echo(to_json(res.document), nl=False)
        elif res.method == "tornado":
            out_console.print(_tornado(res, top))
        elif res.method == "switching":
            out_console.print(_switching(res, top))
        elif res.method == "discount":
            out_console.print(_discount(res))
        else:
            for table in _indices(res, top):
                out_console.print(table)
        for w in res.warnings:
            err_console.print(f"warning: {w}", markup=False, highlight=False)
        conv = res.manifest.get("convergence")
        if conv:
            verdict = "converged" if conv["converged"] else "NOT converged"
            err_console.print(f"{verdict}: {conv['criterion']}", markup=False, highlight=False)
        tm = res.manifest["timings"]
        split = ", ".join(
            f"{k.removesuffix('_s')} {CLI.num(v, 2)} s"
            for k, v in tm.items()
            if k in ("sample_s", "map_s", "evaluate_s", "analyze_s", "halving_s")
        )
        err_console.print(
            f"{CLI.count(res.manifest['evaluations'])} model evaluations in {CLI.num(tm['total_s'], 1)} s"
            + (f" ({split})" if split else ""),
            markup=False,
            highlight=False,
        )
        if res.output_dir is not None:
            err_console.print(f"written to {res.output_dir}", markup=False, highlight=False)
