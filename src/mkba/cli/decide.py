"""``mkba voi``, ``mkba allocate``, ``mkba discover``, ``mkba acceptability``: decisions.

Thin commands: each validates its options, makes one library call (:mod:`mkba.decide.api`)
and prints tables (data to stdout, messages to stderr) or ``--json``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from mkba.cli.common import err_console, out_console
from mkba.cli.options import out_option, seed_option
from mkba.cli.sensitivity import short
from mkba.constants import DECIDE_DEFAULT_OUTPUT
from mkba.constants import SENSITIVITY_OUTPUT_HELP as OUTPUT_HELP
from mkba.errors import InputError, Problem
from mkba.output import to_json

if TYPE_CHECKING:
    from mkba.decide import api as decide


def _eur(x: Any) -> str:
    """Euros for a table, in the project's number format (``€3.8 bn``, ``€12,346``)."""
    from mkba.report.format import format_eur  # not at the top: mkba.report loads matplotlib

    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    x = float(x)
    if abs(x) < 0.5:
        return "€0"
    if abs(x) >= 1e9:
        return format_eur(x, "en", scale="bn", digits=2)
    if abs(x) >= 1e6:
        return format_eur(x, "en", scale="m", digits=1)
    return format_eur(x, "en")


def _pct(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "none"
    return f"{float(x):.{digits}%}"


def _epilogue(res: decide.DecisionResult) -> None:
    for w in res.warnings:
        err_console.print(f"warning: {w}", markup=False, highlight=False)
    tm = res.manifest["timings"]
    split = ", ".join(f"{k.removesuffix('_s')} {v:.1f} s" for k, v in tm.items() if k != "total_s")
    err_console.print(f"done in {tm['total_s']:.1f} s ({split})", markup=False, highlight=False)
    if res.output_dir is not None:
        err_console.print(f"written to {res.output_dir}", markup=False, highlight=False)


def _list(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out += [p.strip() for p in v.split(",") if p.strip()]
    return out


# The options every decision command shares, defined once.
SCENARIO = typer.Argument(
    None, help="Scenario file. Default: scenarios/reference-2021.toml (the 16-area reference)."
)
VARIANT = typer.Option(None, "--variant", "-v", help="A named variant.")
SEED = seed_option()
NO_WRITE = typer.Option(False, "--no-write", help="Do not write a run directory.")
AS_JSON = typer.Option(False, "--json", help="Print one JSON document on stdout instead of tables.")
PARAMS = typer.Option(
    None, "--params", "-p", help="Parameters (glob patterns; default all uncertain)."
)


def _draws(default: int) -> Any:
    return typer.Option(None, "--draws", "-n", min=2, help=f"Draws (default {default}).")


def _out(kind: str) -> Any:
    return out_option(f"Run directory (default: runs/<scenario>-{kind}-<id>).")


def _decide(
    kind: str,
    show: Callable[[decide.DecisionResult], None],
    scenario: Path | None,
    *,
    as_json: bool,
    no_write: bool,
    **options: Any,
) -> None:
    """The part every decision command shares: one library call (``run_KIND``), then
    ``--json`` or the command's tables, then warnings, timings and where it was written."""
    from mkba.cli import engine_imports

    # imported here, not at the top: `mkba --help` must not load the engine (issue 17)
    with engine_imports():
        from mkba import api
        from mkba.decide import api as decide_api

    run = getattr(decide_api, f"run_{kind}")
    res = run(
        scenario if scenario is not None else api.default_scenario(),
        write=not no_write,
        **options,
    )
    if as_json:
        typer.echo(to_json(res.document), nl=False)
    else:
        show(res)
    _epilogue(res)


VOI_HELP = """Value of information: what is it worth to know more before committing?

EVPI: the expected gain of choosing between doing nothing, the scenario and --options
(variants, on the same draws) with every uncertain parameter known. EVPPI: the same for one
parameter or group (--groups as in mkba sensitivity), by spline regression on the Monte Carlo
draws (Strong, Oakley & Brennan 2014), with a bootstrap standard error. Euros of the price year.
"""


ALLOCATE_HELP = """The allocation of the programme budget over areas and domains that maximises
expected welfare NPV (--objective mean; or prob: P(NPV > 0); or quantile:Q, e.g. quantile:0.1,
a risk-averse choice), on the same draws for every allocation (SLSQP).

Reports the marginal NPV of one more euro per cell, area and domain at the optimum, the
efficient frontier (budget against the objective) and how often across draws the allocation
beats the scenario's own. --min/--max area:ID=AMOUNT or domain:NAME=AMOUNT (euros, a share
such as 10%, or xK times the scenario's amount there); repeatable. Cells are capped at
--cell-max times their scenario amount: the investment response is estimated around it.
"""


DISCOVER_HELP = """Scenario discovery: PRIM boxes of parameter ranges in which the output is
negative (below --threshold; with --above, at or above it), with coverage (share of such draws
inside the box), density (share of the box's draws that are such draws) and the peeling
trajectory. Friedman & Fisher (1999), as in the EMA Workbench.
"""


ACCEPT_HELP = """Acceptability curves: P(NPV > 0) against the discount rate (every rate
recomputed on the same draws) and against a cost overrun factor k (costs x k), and the
distribution of the internal rate of return.
"""


def _table(title: str, columns: tuple[str, ...], left: str | None = None) -> Table:
    """A table with its title on the left; column ``left`` left-aligned, the rest right."""
    t = Table(title=title, title_justify="left")
    for col in columns:
        t.add_column(col, justify="left" if col == left else "right")
    return t


def _show_voi(res: decide.DecisionResult, top: int) -> None:
    r = res.result
    t = _table(
        f"Options ({r.output}; EUR, price level {res.document['price_year']})",
        ("option", "expected net benefit", "P(best)"),
        left="option",
    )
    for o, m, p in zip(r.options, r.means, r.prob_best, strict=True):
        t.add_row(o + (" (chosen now)" if o == r.best else ""), _eur(m), _pct(p))
    out_console.print(t)
    out_console.print(
        f"EVPI: {_eur(r.evpi)} (se {_eur(r.evpi_se)}) - the most it is worth to resolve "
        "all uncertainty before committing"
    )
    t = _table(
        "EVPPI: what knowing one parameter (group) is worth",
        ("#", "parameter / group", "EVPPI", "se", "share of EVPI"),
        left="parameter / group",
    )
    for _, row in r.table.head(top).iterrows():
        t.add_row(
            str(row["rank"]),
            short(row["group"]),
            _eur(row["evppi"]),
            _eur(row["se"]),
            _pct(row["share_of_evpi"]),
        )
    out_console.print(t)


def _show_allocate(res: decide.DecisionResult) -> None:
    d = res.document
    o, s = d["optimum"], d["scenario_allocation"]
    t = _table(
        f"Allocation of {_eur(d['budget'])} ({d['output']}, objective "
        f"{d['objective_label']}; EUR, price level {d['price_year']})",
        ("", "best allocation", "scenario's allocation"),
        left="",
    )
    t.add_row("E[NPV]", _eur(o["npv_mean"]), _eur(s["npv_mean"]))
    t.add_row("P5 of NPV", _eur(o["npv_p5"]), _eur(s["npv_p5"]))
    t.add_row("P(NPV > 0)", _pct(o["prob_npv_positive"]), _pct(s["prob_npv_positive"]))
    out_console.print(t)
    out_console.print(
        f"gain {_eur(d['gain_mean'])} (se {_eur(d['gain_se'])}); better in "
        f"{d['beats_scenario_allocation']:.1%} of draws; shadow price of the budget "
        + (
            f"{d['shadow_price']:+.3f} EUR NPV per extra euro"
            if d["shadow_price"] is not None and math.isfinite(d["shadow_price"])
            else "undefined (every cell at a bound or a kink)"
        )
    )
    if d["objective"] != "mean":
        out_console.print(
            "marginal returns below are of E[NPV]; at this optimum the objective's own "
            "marginal returns are equal, not these"
        )
    for dim, rows in (("area", d["by_area"]), ("domain", d["by_domain"])):
        t = _table(f"By {dim}", (dim, "amount", "share", "marginal NPV per extra euro"), dim)
        for r in rows:
            t.add_row(
                r[dim], _eur(r["amount"]), _pct(r["share"]), f"{r['marginal_npv_per_euro']:+.3f}"
            )
        out_console.print(t)
    t = _table(
        "Efficient frontier",
        ("budget", "objective", "E[NPV]", "P(NPV > 0)", "scenario's allocation"),
    )
    fmt = _pct if d["objective"] == "prob" else _eur
    for r in d["frontier"]:
        t.add_row(
            _eur(r["budget"]),
            fmt(r["objective"]),
            _eur(r["npv_mean"]),
            _pct(r["prob_npv_positive"]),
            fmt(r["reference_objective"]),
        )
    out_console.print(t)


def _show_discover(res: decide.DecisionResult) -> None:
    d = res.document
    out_console.print(f"draws with {d['condition']}: {d['base_rate']:.1%} of {d['draws']:,}")
    for b in d["boxes"]:
        t = _table(
            f"Box {b['box']}: coverage {b['coverage']:.1%}, density "
            f"{b['density']:.1%}, mass {b['mass']:.1%}",
            ("parameter", "low", "high", "quantiles", "sampled range"),
            left="parameter",
        )
        for r in b["limits"]:
            t.add_row(
                short(r["parameter"]),
                f"{r['low']:.4g}",
                f"{r['high']:.4g}",
                f"P{100 * r['low_quantile']:.0f}-P{100 * r['high_quantile']:.0f}",
                f"{r['sample_min']:.4g} .. {r['sample_max']:.4g}",
            )
        out_console.print(t)


def _show_acceptability(res: decide.DecisionResult) -> None:
    d = res.document
    ir = d["irr"]
    out_console.print(
        f"{d['output']}: P(NPV > 0) {d['prob_npv_positive']:.1%}; even odds at a discount "
        f"rate of {_pct(d['rate_at_even_odds'], 2)} and at a cost overrun factor of "
        + ("none" if d["overrun_at_even_odds"] is None else f"{d['overrun_at_even_odds']:.2f}")
    )
    out_console.print(
        f"IRR ({ir['perspective']} perspective): P5 {_pct(ir['p5'])}, P50 {_pct(ir['p50'])}, "
        f"P95 {_pct(ir['p95'])}; no IRR in {ir['share_none']:.1%} of draws, several roots in "
        f"{ir['share_multiple']:.1%}"
    )
    t = _table(
        "P(NPV > 0) by discount rate and by overrun factor",
        ("discount rate", "P(NPV > 0)", "overrun factor", "P(NPV > 0) "),
    )
    rr, oo = d["discount"][::4], d["overrun"][::5]
    for i in range(max(len(rr), len(oo))):
        a = rr[i] if i < len(rr) else None
        b = oo[i] if i < len(oo) else None
        t.add_row(
            _pct(a["rate"], 2) if a else "",
            _pct(a["prob_npv_positive"]) if a else "",
            f"{b['overrun_factor']:.2f}" if b else "",
            _pct(b["prob_npv_positive"]) if b else "",
        )
    out_console.print(t)


def register(app: typer.Typer) -> None:
    @app.command(help=VOI_HELP)
    def voi(
        scenario: Path = SCENARIO,
        output: str = typer.Option(
            DECIDE_DEFAULT_OUTPUT, "--output", help=f"Net benefit, in euros: {OUTPUT_HELP}."
        ),
        options: list[str] = typer.Option(
            None, "--options", help="Variants to choose between as well (comma-separated)."
        ),
        groups: list[str] = typer.Option(
            None, "--groups", "-g", help="none | stream | kind | NAME=PATTERN[,PATTERN...]."
        ),
        params: list[str] = PARAMS,
        draws: int = _draws(4096),
        resamples: int = typer.Option(100, "--resamples", min=0, help="Bootstrap resamples."),
        top: int = typer.Option(15, "--top", min=1, help="Rows shown."),
        seed: int = SEED,
        variant: str = VARIANT,
        out: Path = _out("voi"),
        no_write: bool = NO_WRITE,
        as_json: bool = AS_JSON,
    ) -> None:
        _decide(
            "voi",
            lambda res: _show_voi(res, top),
            scenario,
            as_json=as_json,
            no_write=no_write,
            variant=variant,
            options=_list(options),
            output=output,
            groups=list(groups or []),
            params=list(params or []),
            draws=draws,
            seed=seed,
            resamples=resamples,
            out=out,
        )

    @app.command(help=ALLOCATE_HELP)
    def allocate(
        scenario: Path = SCENARIO,
        output: str = typer.Option(
            DECIDE_DEFAULT_OUTPUT, "--output", help="npv | welfare.npv | fiscal.npv | study.npv."
        ),
        objective: str = typer.Option("mean", "--objective", help="mean | prob | quantile:Q."),
        budget: float = typer.Option(
            None, "--budget", help="Total budget in euros (default: the scenario's)."
        ),
        by: str = typer.Option("area,domain", "--by", help="area,domain | area | domain."),
        minimum: list[str] = typer.Option(
            None, "--min", help="area:ID=AMOUNT or domain:NAME=AMOUNT."
        ),
        maximum: list[str] = typer.Option(
            None, "--max", help="area:ID=AMOUNT or domain:NAME=AMOUNT."
        ),
        cell_max: float = typer.Option(
            3.0, "--cell-max", help="Cap per cell, x its scenario amount."
        ),
        frontier: str = typer.Option(
            "0.5,0.75,1,1.25,1.5", "--frontier", help="Budget factors of the frontier."
        ),
        draws: int = _draws(1000),
        seed: int = SEED,
        variant: str = VARIANT,
        out: Path = _out("allocate"),
        no_write: bool = NO_WRITE,
        as_json: bool = AS_JSON,
    ) -> None:
        try:
            factors = [float(x) for x in frontier.split(",") if x.strip()]
        except ValueError:
            raise InputError(
                [Problem("--frontier", "", "expected budget factors, e.g. 0.5,1,1.5", frontier)]
            ) from None
        _decide(
            "allocate",
            _show_allocate,
            scenario,
            as_json=as_json,
            no_write=no_write,
            variant=variant,
            output=output,
            objective=objective,
            budget=budget,
            by=by,
            minimum=list(minimum or []),
            maximum=list(maximum or []),
            cell_max=cell_max,
            frontier=factors,
            draws=draws,
            seed=seed,
            out=out,
        )

    @app.command(help=DISCOVER_HELP)
    def discover(
        scenario: Path = SCENARIO,
        output: str = typer.Option(
            DECIDE_DEFAULT_OUTPUT, "--output", help=f"Output: {OUTPUT_HELP}."
        ),
        threshold: float = typer.Option(None, "--threshold", help="Default 0 (1 for bcr)."),
        above: bool = typer.Option(False, "--above", help="Draws at or above the threshold."),
        params: list[str] = PARAMS,
        alpha: float = typer.Option(0.05, "--alpha", help="Peeling share per step."),
        mass_min: float = typer.Option(0.05, "--mass-min", help="Smallest box (share of draws)."),
        density: float = typer.Option(0.8, "--density", help="Density a chosen box must reach."),
        boxes: int = typer.Option(1, "--boxes", min=1, help="Boxes to find (covering)."),
        draws: int = _draws(4096),
        seed: int = SEED,
        variant: str = VARIANT,
        out: Path = _out("discover"),
        no_write: bool = NO_WRITE,
        as_json: bool = AS_JSON,
    ) -> None:
        _decide(
            "discover",
            _show_discover,
            scenario,
            as_json=as_json,
            no_write=no_write,
            variant=variant,
            output=output,
            threshold=threshold,
            above=above,
            params=_list(params),
            alpha=alpha,
            mass_min=mass_min,
            density=density,
            boxes=boxes,
            draws=draws,
            seed=seed,
            out=out,
        )

    @app.command(help=ACCEPT_HELP)
    def acceptability(
        scenario: Path = SCENARIO,
        output: str = typer.Option(
            DECIDE_DEFAULT_OUTPUT, "--output", help="npv or PERSPECTIVE.npv."
        ),
        rates: str = typer.Option(
            "0:0.08:0.0025", "--rates", help="Discount rates START:STOP:STEP or a list."
        ),
        factors: str = typer.Option(
            "0.5:3:0.05", "--factors", help="Overrun factors START:STOP:STEP or a list."
        ),
        draws: int = _draws(4096),
        seed: int = SEED,
        variant: str = VARIANT,
        out: Path = _out("acceptability"),
        no_write: bool = NO_WRITE,
        as_json: bool = AS_JSON,
    ) -> None:
        _decide(
            "acceptability",
            _show_acceptability,
            scenario,
            as_json=as_json,
            no_write=no_write,
            variant=variant,
            output=output,
            rates=rates,
            factors=factors,
            draws=draws,
            seed=seed,
            out=out,
        )
