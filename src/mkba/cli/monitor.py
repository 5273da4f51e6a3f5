"""``mkba monitor``: monitoring data against the projected band, and the updated effects."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from mkba import texts
from mkba.cli.common import err_console, out_console
from mkba.output import to_json

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from mkba.monitor.api import MonitorResult


def _tables(res: MonitorResult, lang: str) -> tuple[Table, Table]:
    from mkba.monitor.charts import indicator_label, parameter_label
    from mkba.report.format import format_eur, format_number, format_pct, format_ratio
    from mkba.report.labels import Labels

    tx = texts.group("cli.monitor.", lang)
    labels = Labels(lang, res.model.spec.params)

    def n0(x: float) -> str:
        return format_number(x, lang, 0)

    def band(r: pd.Series, key: str) -> str:
        return f"{n0(r[key + '_p5'])} – {n0(r[key + '_p95'])}"

    t1 = Table(title=tx["bands"], title_justify="left")
    for col in ("indicator", "area", "year", "observed", "null", "prog", "post", "flag"):
        t1.add_column(
            tx[col], justify="right" if col not in ("indicator", "area", "flag") else "left"
        )
    b = res.bands[~res.bands["observed"].isna()]
    for _, r in b.iterrows():
        head = indicator_label(res, r["indicator"], lang)
        if r.get("intervention"):
            pr = res.model.programme
            assert pr is not None  # only a programme's rows name an intervention
            mi = pr.ids.index(r["intervention"])
            head += f" ({(pr.labels_nl if lang == 'nl' else pr.labels)[mi]})"
        t1.add_row(
            head,
            labels.area(r["area_id"]),
            str(r["year"]) + (tx["baseline"] if r["baseline"] else ""),
            n0(r["observed"]),
            band(r, "null"),
            band(r, "prog"),
            band(r, "post"),
            tx[r["flag"]] if r["flag"] else "",
        )

    t2 = Table(title=tx["update"], title_justify="left")
    for col in ("quantity", "prior", "posterior"):
        t2.add_column(tx[col], justify="left" if col == "quantity" else "right")

    def cell(r: pd.Series, which: str, fmt: Callable[[float], str]) -> str:
        return f"{fmt(r[which + '_mean'])} ({fmt(r[which + '_p5'])} – {fmt(r[which + '_p95'])})"

    for _, r in res.parameters.iterrows():
        name = parameter_label(labels, r["name"], lang)
        if r["area_id"]:
            name += f" ({labels.area(r['area_id'])})"
        unit = res.model.quantities.get(r["name"])
        per_participant = r["name"].startswith("interventions.") and r["name"].endswith(
            (".effect", ".net_effect")
        )
        if per_participant:  # units of the stream per participant
            fmt = lambda x: format_number(x, lang, 3)  # noqa: E731
        elif (unit is not None and unit.unit in ("fraction", "1/year")) or r[
            "kind"
        ] == "net_effect":
            fmt = lambda x: format_pct(x, lang, 1)  # noqa: E731
        else:
            fmt = lambda x: format_number(x, lang, 2)  # noqa: E731
        t2.add_row(name, cell(r, "prior", fmt), cell(r, "post", fmt))
    o = res.outcomes
    for _, r in o.iterrows():
        persp = labels.perspective(r["perspective"])
        if r["name"] == "npv" and r["kind"] == "outcome":
            fmt = lambda x: format_eur(x, lang)  # noqa: E731
            t2.add_row(
                f"{labels.t('npv.short')} ({persp})", cell(r, "prior", fmt), cell(r, "post", fmt)
            )
        elif r["name"] == "bcr":
            fmt = lambda x: format_ratio(x, lang)  # noqa: E731
            t2.add_row(
                f"{labels.t('bcr.short')} ({persp})", cell(r, "prior", fmt), cell(r, "post", fmt)
            )
        elif r["kind"] == "area":
            fmt = lambda x: format_eur(x, lang)  # noqa: E731
            t2.add_row(
                f"{tx['area_npv']} {labels.area(r['area_id'])} ({persp})",
                cell(r, "prior", fmt),
                cell(r, "post", fmt),
            )
        elif r["name"] == "prob_npv_positive":
            t2.add_row(
                f"{tx['pnpv']} ({persp})",
                format_pct(r["prior_mean"], lang, 0),
                format_pct(r["post_mean"], lang, 0),
            )
    return t1, t2


def register(app: typer.Typer) -> None:
    @app.command()
    def monitor(
        scenario: Path = typer.Argument(..., help="Scenario file."),
        observations: Path = typer.Argument(
            ...,
            help="Observations table (CSV: indicator, area_id, year, value, sd or cv, "
            "baseline) with its sidecar of the same name ending in .toml beside it.",
        ),
        variant: str = typer.Option(None, "--variant", "-v", help="A named variant."),
        draws: int = typer.Option(
            None, "--draws", "-n", min=1, help="Prior draws (default: the scenario's)."
        ),
        seed: int = typer.Option(None, "--seed", min=0, help="Root random seed."),
        through: int = typer.Option(
            None, "--through", help="Use only observations up to and including this year."
        ),
        min_ess: float = typer.Option(
            200.0,
            "--min-ess",
            min=1.0,
            help="Effective sample size [draws] below which importance weights count as "
            "collapsed (warning; auto switches to smc).",
        ),
        method: str = typer.Option(
            "auto",
            "--method",
            help="is: importance weights on the prior draws; smc: regenerate the draws by "
            "tempered sequential Monte Carlo; auto: is, or smc when the effective sample size "
            "falls below --min-ess.",
        ),
        lang: str = typer.Option("en", "--lang", help="Language of tables and charts: nl or en."),
        out: Path = typer.Option(
            None,
            "--out",
            "-o",
            help="Posterior run directory (default: runs/<scenario>-monitor-<id>).",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
        no_write: bool = typer.Option(False, "--no-write", help="Do not write anything."),
    ) -> None:
        """Observed indicators against the projected band with and without the programme,
        and the draws reweighted by the observations' likelihood (importance sampling):
        posterior effect sizes and an updated NPV, BCR and P(NPV > 0).

        Writes a run directory of the posterior (an equal-weight set of draws resampled with
        the weights; `mkba report` works on it) with the monitoring tables and charts in its
        monitor/ folder.
        """
        from mkba.cli import engine_imports
        from mkba.errors import InputError, Problem

        with engine_imports():  # here, not at the top: keeps `mkba --help` light
            from mkba.monitor.api import monitor as run_monitor

        if lang not in texts.LANGS:
            raise InputError([Problem("--lang", "", "must be one of nl, en", lang)])
        res = run_monitor(
            scenario,
            observations,
            variant=variant,
            draws=draws,
            seed=seed,
            through=through,
            min_ess=min_ess,
            method=method,
            out=out,
            write=not no_write,
            lang=lang,
        )
        tx = texts.group("cli.monitor.", lang)
        for msg in res.warnings:
            err_console.print(f"warning: {msg}", markup=False, highlight=False)
        if as_json:
            doc = dict(res.summary)
            doc["bands"] = res.bands[~res.bands["observed"].isna()].to_dict(orient="records")
            doc["parameters"] = res.parameters.to_dict(orient="records")
            doc["outcomes"] = res.outcomes.to_dict(orient="records")
            typer.echo(to_json(doc), nl=False)
            return
        if res.observations.sidecar.illustrative:
            out_console.print(tx["illustrative"])
        t1, t2 = _tables(res, lang)
        out_console.print(t1)
        share = res.ess / res.prior_draws * 100
        from mkba.report.format import format_number

        out_console.print(
            tx["ess"].format(
                ess=format_number(res.ess, lang, 0),
                n=format_number(res.prior_draws, lang, 0),
                share=format_number(share, lang, 1 if share < 10 else 0),
            )
        )
        out_console.print(tx[f"method.{res.method}"].format(k=len(res.summary["smc_stages"])))
        out_console.print(t2)
        if res.summary.get("output_dir"):
            err_console.print(tx["written"].format(path=res.summary["output_dir"]))
