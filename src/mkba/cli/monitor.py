"""``mkba monitor``: monitoring data against the projected band, and the updated effects."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mkba.cli.common import err_console, out_console
from mkba.output import to_json

WORDS = {
    "en": {
        "bands": "Observed against the projected band (P5–P95)",
        "indicator": "Indicator",
        "area": "Area",
        "year": "Year",
        "null": "Without programme",
        "prog": "With programme",
        "post": "After updating",
        "observed": "Observed",
        "flag": "Flag",
        "below": "below the band",
        "above": "above the band",
        "baseline": " (nulmeting)",
        "update": "Before and after monitoring (mean, P5–P95)",
        "quantity": "Quantity",
        "prior": "Before",
        "posterior": "After",
        "ess": "Effective sample size: {ess} of {n} draws ({share} %)",
        "illustrative": "Illustrative, synthetic data: not real monitoring figures.",
        "written": "posterior run directory: {path}",
        "pnpv": "P(NPV > 0)",
    },
    "nl": {
        "bands": "Waargenomen tegenover de geprojecteerde band (P5–P95)",
        "indicator": "Indicator",
        "area": "Gebied",
        "year": "Jaar",
        "null": "Zonder programma",
        "prog": "Met programma",
        "post": "Na bijwerken",
        "observed": "Waargenomen",
        "flag": "Signaal",
        "below": "onder de band",
        "above": "boven de band",
        "baseline": " (nulmeting)",
        "update": "Vóór en na monitoring (gemiddelde, P5–P95)",
        "quantity": "Grootheid",
        "prior": "Vóór",
        "posterior": "Na",
        "ess": "Effectieve steekproefomvang: {ess} van {n} trekkingen ({share} %)",
        "illustrative": "Illustratieve, synthetische gegevens: geen echte monitoringcijfers.",
        "written": "run-map na bijwerken: {path}",
        "pnpv": "Kans op positief saldo",
    },
}


def _tables(res, lang: str):  # type: ignore[no-untyped-def]
    from mkba.monitor.charts import indicator_label, parameter_label
    from mkba.report.format import format_eur, format_number, format_pct, format_ratio
    from mkba.report.labels import Labels

    tx = WORDS[lang]
    labels = Labels(lang, res.model.spec.params)

    def n0(x: float) -> str:
        return format_number(x, lang, 0)

    def band(r, key: str) -> str:  # type: ignore[no-untyped-def]
        return f"{n0(r[key + '_p5'])} – {n0(r[key + '_p95'])}"

    t1 = Table(title=tx["bands"], title_justify="left")
    for col in ("indicator", "area", "year", "observed", "null", "prog", "post", "flag"):
        t1.add_column(
            tx[col], justify="right" if col not in ("indicator", "area", "flag") else "left"
        )
    b = res.bands[~res.bands["observed"].isna()]
    for _, r in b.iterrows():
        t1.add_row(
            indicator_label(res, r["indicator"], lang),
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

    def cell(r, which: str, fmt) -> str:  # type: ignore[no-untyped-def]
        return f"{fmt(r[which + '_mean'])} ({fmt(r[which + '_p5'])} – {fmt(r[which + '_p95'])})"

    for _, r in res.parameters.iterrows():
        name = parameter_label(labels, r["name"], lang)
        if r["area_id"]:
            name += f" ({labels.area(r['area_id'])})"
        unit = res.model.quantities.get(r["name"])
        if (unit is not None and unit.unit in ("fraction", "1/year")) or r["kind"] == "net_effect":
            fmt = lambda x: format_pct(x, lang, 1)  # noqa: E731
        else:
            fmt = lambda x: format_number(x, lang, 2)  # noqa: E731
        t2.add_row(name, cell(r, "prior", fmt), cell(r, "post", fmt))
    o = res.outcomes
    for _, r in o.iterrows():
        persp = labels.perspective(r["perspective"])
        if r["name"] == "npv":
            fmt = lambda x: format_eur(x, lang)  # noqa: E731
            t2.add_row(
                f"{labels.t('npv.short')} ({persp})", cell(r, "prior", fmt), cell(r, "post", fmt)
            )
        elif r["name"] == "bcr":
            fmt = lambda x: format_ratio(x, lang)  # noqa: E731
            t2.add_row(
                f"{labels.t('bcr.short')} ({persp})", cell(r, "prior", fmt), cell(r, "post", fmt)
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
            help="Warn when the effective sample size falls below this many draws.",
        ),
        max_draws: int = typer.Option(
            None,
            "--max-draws",
            min=1,
            help="Regenerate: double the prior draws while the effective sample size is below "
            "--min-ess, up to this many (default: no regeneration).",
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
        from mkba.errors import InputError, Problem
        from mkba.monitor.api import monitor as run_monitor

        if lang not in WORDS:
            raise InputError([Problem("--lang", "", "must be one of nl, en", lang)])
        res = run_monitor(
            scenario,
            observations,
            variant=variant,
            draws=draws,
            seed=seed,
            through=through,
            min_ess=min_ess,
            max_draws=max_draws,
            out=out,
            write=not no_write,
            lang=lang,
        )
        tx = WORDS[lang]
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
        out_console.print(t2)
        if res.summary.get("output_dir"):
            err_console.print(tx["written"].format(path=res.summary["output_dir"]))
