"""``mkba calibrate``: fit free parameters to published targets and write the record."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer
from rich.table import Table

from mkba.cli.common import err_console, out_console
from mkba.cli.options import draws_option, out_option, seed_option
from mkba.errors import EXIT_RUN_FAILED
from mkba.output import to_json
from mkba.tomlio import read_toml


def register(app: typer.Typer) -> None:
    @app.command()
    def calibrate(
        scenario: Path = typer.Argument(
            ..., help="Scenario file to calibrate (its own calibration record is ignored)."
        ),
        target: list[str] = typer.Option(
            ...,
            "--target",
            "-t",
            help="NAME=VALUE, e.g. benefits_pv.p50=5.8e9 or by_stream.benefit_savings.p50=2e9.",
        ),
        free: list[str] = typer.Option(
            ...,
            "--free",
            "-f",
            help="A free parameter path, or several joined by commas sharing one factor "
            "(e.g. streams.care_youth.effect,streams.care_wmo.effect); budget.per_resident for the budget.",
        ),
        draws: int = draws_option("Draws per evaluation (default: the scenario's)."),
        seed: int = seed_option(),
        out: Path = out_option("Record to write (default: the scenario's calibration file)."),
        check: bool = typer.Option(
            False, "--check", help="Fit again and compare with the stored record; write nothing."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the record as JSON on stdout."),
        show_implications: bool = typer.Option(
            True,
            "--implications/--no-implications",
            help="After the fit, report what it implies: physical effects against the priors, "
            "the prior probability of the targets, switching values in physical units "
            "(two more runs).",
        ),
    ) -> None:
        """Fit the free parameters so that the target statistics are met, and write the record."""
        from mkba.cli import engine_imports

        with engine_imports():  # here, not at the top: keeps `mkba --help` light
            from mkba import calibrate as cal

        targets = [cal.parse_target(t) for t in target]
        groups = [[p.strip() for p in f.split(",") if p.strip()] for f in free]
        fit = cal.calibrate(scenario, targets, groups, draws=draws, seed=seed)
        command = (
            "mkba calibrate " + " ".join(shlex.quote(a) for a in sys.argv[2:])
            if len(sys.argv) > 2
            else ""
        )
        doc = cal.record(fit, command)
        dest = out
        if dest is None and fit.spec.base_scenario.calibration:
            dest = (fit.spec.path.parent / fit.spec.base_scenario.calibration).resolve()
        table = Table(
            title=f"Calibration of {fit.spec.name} ({fit.draws} draws, seed {fit.seed}): {fit.status}"
        )
        for col in ("target", "value", "fitted", "relative residual"):
            table.add_column(col, justify="left" if col == "target" else "right")
        for t in doc["record"]["targets"]:
            table.add_row(
                t["name"],
                f"{t['target']:.6g}",
                f"{t['fitted']:.6g}",
                f"{t['relative_residual']:.2e}",
            )
        for f in doc["record"]["free"]:
            table.add_row("factor: " + ", ".join(f["params"]), "", f"{f['factor']:.6f}", "")
        if check:
            if dest is None or not dest.exists():
                err_console.print("error: no stored record to check against")
                raise typer.Exit(EXIT_RUN_FAILED)
            diffs = cal.compare(fit, read_toml(dest))
            err_console.print(table)
            if diffs:
                for d in diffs:
                    err_console.print(f"differs: {d}")
                raise typer.Exit(EXIT_RUN_FAILED)
            err_console.print(f"reproduced: {dest}")
            return
        if dest is None:
            err_console.print("error: give --out: the scenario has no calibration key")
            raise typer.Exit(EXIT_RUN_FAILED)
        cal.write_record(dest, doc)
        imp = cal.implications(fit) if show_implications else None
        if as_json:
            typer.echo(to_json({**doc, "implications": imp} if imp else doc), nl=False)
        else:
            out_console.print(table)
            if imp:
                for t in implications_tables(imp):
                    out_console.print(t)
        err_console.print(f"written: {dest}")


def implications_tables(imp: dict) -> list:
    """Rich tables of :func:`mkba.calibrate.implications`."""
    pri, cal_ = imp["physical_prior"], imp["physical_calibrated"]
    year = cal_["year_full_strength"]
    t1 = Table(
        title=f"What the calibration implies: volume change in {year} (full strength), "
        "summed over the areas, P50 (P5-P95)"
    )
    for col in ("effect", "priors (evidence)", "calibrated", "share of baseline (cal.)"):
        t1.add_column(col, justify="left" if col == "effect" else "right")
    for s, v in cal_["streams"].items():
        p = pri["streams"][s]["at_full_strength"]
        c = v["at_full_strength"]
        t1.add_row(
            v["what"],
            f"{p['p50']:,.0f} ({p['p5']:,.0f}-{p['p95']:,.0f})",
            f"{c['p50']:,.0f} ({c['p5']:,.0f}-{c['p95']:,.0f})",
            f"{v['share_of_baseline']['p50']:.1%} of {v['baseline']['p50']:,.0f}",
        )
    pp = imp["prior_probability"]
    t2 = Table(title="Prior probability of the targets (share of draws of the uncalibrated priors)")
    t2.add_column("target")
    t2.add_column("share of prior draws", justify="right")
    for name, v in pp["each"].items():
        t2.add_row(f"{name} >= {pp['targets'][name]:.3g}", f"{v:.2%}")
    t2.add_row("all targets together", f"{pp['all']:.2%}")
    h = pp.get("headline")
    if h:
        t2.add_row(
            f"study benefits >= {h['benefits_target']:.3g} and benefit savings >= "
            f"{h['benefit_savings_target']:.3g}",
            f"{h['share_both']:.2%} of {h['draws']:,}",
        )
    t3 = Table(
        title=f"Switching values in physical units (priors; mean NPV = 0 when the one effect "
        f"is scaled, all else as drawn; volume change in {year})"
    )
    for col in ("effect", "perspective", "priors give", "needed", "factor"):
        t3.add_column(col, justify="left" if col in ("effect", "perspective") else "right")
    for v in imp["switching_prior"].values():
        what = pri["streams"][v["stream"]]["what"]
        t3.add_row(
            what,
            v["perspective"],
            f"{v['mean_at_full_strength']:,.0f}",
            f"{v['needed_at_full_strength']:,.0f}",
            f"x {v['factor']:.2f}",
        )
    return [t1, t2, t3]
