"""Charts, workbook and report of a run: the data behind each chart (not pixels), the workbook
read back with openpyxl, byte-identical chart files, a self-contained HTML report rendered in
headless Chromium, and the command line."""

from __future__ import annotations

import io
import json
import math
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_helpers import mkba as _mkba
from mkba import api
from mkba.report import charts as ch
from mkba.report import data as rd
from mkba.report import make_report
from mkba.report.html import inline_svg
from mkba.report.labels import Labels
from mkba.report.workbook import SHEETS, build_workbook, sheet_name, table_name

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"
TINY = ROOT / "tests" / "fixtures" / "tiny" / "scenarios" / "one.toml"
DRAWS = 400


@pytest.fixture(scope="module")
def ref_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 16-area reference with a few hundred draws (numbers are not checked here)."""
    out = tmp_path_factory.mktemp("ref") / "run"
    api.run_scenario(REFERENCE, draws=DRAWS, out=out)
    return out


@pytest.fixture(scope="module")
def ref(ref_dir: Path) -> rd.RunData:
    return rd.load_run(ref_dir)


@pytest.fixture(scope="module")
def report_dir(ref_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make_report`` in Dutch with every format, into a copy of the run directory."""
    out = tmp_path_factory.mktemp("report") / "run"
    shutil.copytree(ref_dir, out)
    make_report(out, formats=("html", "md", "xlsx"), lang="nl")
    return out


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1.0)


# --- synthetic sensitivity and batch tables (their producers are separate commands) --------

TORNADO = pd.DataFrame(
    {
        "name": ["streams.safety.effect", "streams.housing.effect", "costs.physical.overrun"],
        "low": [0.05, 0.02, 0.95],
        "high": [0.2, 0.05, 1.5],
        "output_low": [1.0e9, 1.8e9, 2.5e9],
        "output_high": [3.2e9, 2.4e9, 1.2e9],
        "base_output": [2.1e9, 2.1e9, 2.1e9],
    }
)
SWITCHING = pd.DataFrame(
    {
        "name": ["streams.safety.effect", "costs.physical.overrun"],
        "base": [0.1, 1.1],
        "switching_value": [0.02, 2.3],
        "ratio": [0.2, 2.09],
    }
)
DISCOUNT = pd.DataFrame(
    {
        "rate": [0.04, 0.01, 0.02, 0.03],  # unsorted on purpose
        "npv_mean": [-0.5e9, 3.0e9, 2.0e9, 1.0e9],
        "npv_p5": [-1.5e9, 1.0e9, 0.5e9, -0.2e9],
        "npv_p50": [-0.4e9, 2.8e9, 1.9e9, 0.6e9],
        "npv_p95": [0.6e9, 5.0e9, 3.9e9, 2.2e9],
    }
)
VARIANTS = pd.DataFrame(
    {
        "variant": ["reference", "half_budget", "no_governance"],
        "npv_p5": [0.2e9, -0.1e9, -1.9e9],
        "npv_p50": [2.0e9, 0.9e9, -0.6e9],
        "npv_p95": [4.5e9, 2.3e9, 1.3e9],
        "bcr_p50": [1.52, 1.47, 0.82],
        "costs_p50": [3.8e9, 1.9e9, 3.47e9],
        "benefits_p50": [5.8e9, 2.8e9, 2.85e9],
    }
)


@pytest.fixture(scope="module")
def extras_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    sens = tmp_path_factory.mktemp("sens")
    TORNADO.to_csv(sens / "tornado.csv", index=False)
    SWITCHING.to_parquet(sens / "switching.parquet", index=False)
    # the spelling `mkba sensitivity` writes: mean/p5/p50/p95
    DISCOUNT.rename(columns=lambda c: c.replace("npv_", "")).to_csv(
        sens / "discount.csv", index=False
    )
    batch = tmp_path_factory.mktemp("batch")
    VARIANTS.to_csv(batch / "comparison.csv", index=False)
    return sens, batch


# --- data behind the charts ---------------------------------------------------------------


def test_summary_table_adds_up_and_lists_pm_items(ref: rd.RunData) -> None:
    s = ref.summary
    f = rd.summary_table(ref, ref.labels("nl")).frame
    benefits = f[f["kind"] == "benefit"]
    assert set(benefits["key"]) == set(s["by_stream"])
    assert _rel(benefits["mean"].sum(), s["benefits_pv"]["mean"]) < 1e-9  # means add up
    row = f.set_index("key")
    assert row.loc["costs", "p50"] == s["costs_pv"]["p50"]
    assert row.loc["npv", "p5"] == s["npv"]["p5"]
    assert row.loc["bcr", "p50"] == s["bcr"]["p50"]
    assert row.loc["prob_npv_positive", "mean"] == s["prob_npv_positive"]
    assert list(benefits["mean"]) == sorted(benefits["mean"], reverse=True)
    pm = f[f["kind"] == "pm"]
    assert {"health", "self_reliance", "social_cohesion"} <= set(pm["key"])
    assert pm[["mean", "p50", "p5", "p95"]].isna().all().all()
    assert "Gezondheid en levensverwachting" in set(pm["label"])  # Dutch labels
    assert row.loc["benefit_savings", "label"] == "Besparing op uitkeringen (bijstand)"


def test_waterfall_runs_from_costs_to_npv(ref: rd.RunData) -> None:
    cd = rd.waterfall(ref, ref.labels("en"))
    f = cd.frame
    assert f["kind"].iloc[0] == "cost" and f["kind"].iloc[-1] == "total"
    assert f["delta"].iloc[0] == -ref.summary["costs_pv"]["mean"]
    steps = f.iloc[:-1]
    assert np.allclose(steps["start"].iloc[1:].to_numpy(), steps["end"].iloc[:-1].to_numpy())
    assert np.allclose(steps["end"] - steps["start"], steps["delta"])
    assert _rel(f["end"].iloc[-1], ref.summary["npv"]["mean"]) < 1e-9
    assert abs(cd.meta["gap"]) < 1e-6 * ref.summary["costs_pv"]["mean"]


def test_stakeholder_parts_add_up_to_each_net_and_to_the_welfare_npv(ref: rd.RunData) -> None:
    labels = ref.labels("en")
    cd = rd.stakeholders(ref, labels)
    f = cd.frame
    d = ref.draws
    for k, net in cd.meta["net"].items():
        assert _rel(f[f["stakeholder"] == k]["value"].sum(), net) < 1e-9
        expect = (d[f"stakeholder.{k}.benefits_pv"] - d[f"stakeholder.{k}.costs_pv"]).mean()
        assert _rel(net, expect) < 1e-9
    assert (f[f["sign"] == "gain"]["value"] > 0).all()
    assert (f[f["sign"] == "loss"]["value"] < 0).all()
    # transfers move money between stakeholders: together they are the welfare result
    assert _rel(sum(cd.meta["net"].values()), d["welfare.npv"].mean()) < 1e-9
    # residents pay the benefit-payment transfer that municipalities gain
    res = f[(f["stakeholder"] == "residents") & (f["part"] == "benefit_savings")]
    assert set(res["sign"]) == {"gain", "loss"}
    assert cd.meta["public"]["municipalities"] and not cd.meta["public"]["residents"]
    t = rd.stakeholder_table(ref, labels)
    assert np.allclose(
        t["gains_mean"] - t["losses_mean"] - t["costs_mean"], t["net_mean"], rtol=1e-9, atol=1.0
    )


def test_areas_sorted_and_from_the_summary(ref: rd.RunData) -> None:
    f = rd.areas(ref, ref.labels("nl")).frame
    s = ref.summary
    assert len(f) == 16 and list(f["npv"]) == sorted(f["npv"], reverse=True)
    one = f.set_index("area").loc["rotterdam-zuid"]
    assert one["label"] == "Rotterdam-Zuid"
    assert one["benefits"] == s["by_area"]["rotterdam-zuid"]["mean"]
    assert one["costs"] == s["by_area_costs"]["rotterdam-zuid"]["mean"]
    assert _rel(f["benefits"].sum(), s["benefits_pv"]["mean"]) < 1e-9
    assert _rel(f["costs"].sum(), s["costs_pv"]["mean"]) < 1e-9


def test_cashflow_fan_and_npv_distribution(ref: rd.RunData) -> None:
    s = ref.summary
    y = ref.yearly
    cash = rd.cashflow(ref)
    cum = y[y["series"] == "cumulative_discounted"].sort_values("year")
    assert list(cash.frame["year"]) == list(range(s["base_year"], s["horizon"] + 1))
    assert np.array_equal(cash.frame["p10"].to_numpy(), cum["p10"].to_numpy())
    assert cash.meta["payback_p50"] == s["payback_year"]["p50"]
    assert math.isclose(cash.meta["never_share"], 1 - s["payback_year"].get("share_defined", 1.0))
    fan = rd.fan(ref).frame
    q = fan[list(rd.FAN_COLUMNS)].to_numpy()
    assert (np.diff(q, axis=1) >= -1e-6).all()  # P5 <= P20 <= ... <= P95 every year
    assert fan["year"].max() == s["horizon"] == 2050
    npv = rd.npv_distribution(ref)
    assert npv.frame["count"].sum() == DRAWS == npv.meta["draws"]
    assert math.isclose(npv.frame["cdf"].iloc[-1], 1.0)
    assert (np.diff(npv.frame["cdf"]) >= 0).all()
    assert npv.meta["prob_positive"] == s["prob_npv_positive"]
    assert math.isclose(npv.meta["p50"], s["npv"]["p50"])


def test_rank_correlations_find_the_driver() -> None:
    rng = np.random.default_rng(1)
    x, z, noise = rng.random(2000), rng.random(2000), rng.random(2000)
    draws = pd.DataFrame(
        {
            "study.npv": 10 * x - z + 0.1 * noise,
            "param.streams.s.effect": x,
            "param.streams.s.deadweight": z,
            "param.streams.s.lag": noise,
            "param.constant": np.ones(2000),
        }
    )
    run = rd.RunData(Path("."), {}, {"perspective": "study"}, None, None, draws)  # type: ignore[arg-type]
    f = rd.rank_correlations(run, Labels("en")).frame
    assert list(f["parameter"])[:2] == ["streams.s.effect", "streams.s.deadweight"]
    assert f["rho"].iloc[0] > 0.95 and f["rho"].iloc[1] < -0.05
    assert "constant" not in set(f["parameter"])
    assert f["label"].iloc[0] == "s: effect size"


def test_rank_correlations_of_a_real_run(ref: rd.RunData) -> None:
    f = rd.rank_correlations(ref, ref.labels("nl")).frame
    assert 0 < len(f) <= 15 and (f["rho"].abs() <= 1).all()
    assert list(f["rho"].abs()) == sorted(f["rho"].abs(), reverse=True)
    assert all(lbl != path for lbl, path in zip(f["label"], f["parameter"], strict=True))
    assert ref.labels("nl").param("streams.care_wmo.components.support_cost.unit_value") == (
        "Wmo-ondersteuning, bespaarde Wmo-kosten: eenheidsprijs"
    )


def test_tornado_switching_discount_and_variants_from_plain_frames() -> None:
    labels = Labels("en")
    t = rd.tornado(TORNADO, labels, SWITCHING)
    f = t.frame
    assert list(f["name"]) == [
        "streams.safety.effect",
        "costs.physical.overrun",
        "streams.housing.effect",
    ]  # widest swing first
    assert list(f["swing"]) == [2.2e9, 1.3e9, 0.6e9]
    assert f.set_index("name").loc["costs.physical.overrun", "switching_value"] == 2.3
    assert math.isnan(f.set_index("name").loc["streams.housing.effect", "switching_value"])
    assert t.meta["base_output"] == 2.1e9
    sw = rd.switching_table(SWITCHING, labels)
    assert list(sw["name"]) == ["costs.physical.overrun", "streams.safety.effect"]
    d = rd.discount_sweep(DISCOUNT, rate=0.0225)
    assert list(d.frame["rate"]) == [0.01, 0.02, 0.03, 0.04]
    # median NPV 0.6e9 at 3 %, -0.4e9 at 4 %: zero at 3.6 %
    assert math.isclose(d.meta["switching_rate"], 0.036)
    v = rd.variants(VARIANTS)
    assert list(v.frame["variant"]) == ["reference", "half_budget", "no_governance"]
    with pytest.raises(Exception, match="missing columns"):
        rd.tornado(TORNADO.drop(columns=["output_low"]), labels)


def test_batch_comparison_table_is_accepted() -> None:
    """`mkba batch` writes one row per job and perspective with costs_pv_p50 etc."""
    rows = []
    for job, npv in (("reference-2021", 2.0e9), ("reference-2021:half_budget", 0.9e9)):
        for p, k in (("welfare", 0.1), ("fiscal", 0.2), ("study", 1.0)):
            rows.append(
                {
                    "job": job,
                    "variant": None if ":" not in job else job.split(":")[1],
                    "perspective": p,
                    "npv_p5": k * npv - 1e9,
                    "npv_p50": k * npv,
                    "npv_p95": k * npv + 1e9,
                    "bcr_p50": 1.5,
                    "costs_pv_p50": 3.8e9,
                    "benefits_pv_p50": 5.8e9,
                }
            )
    f = rd.variants(pd.DataFrame(rows), perspective="study").frame
    assert list(f["variant"]) == ["reference-2021", "half_budget"]
    assert list(f["npv_p50"]) == [2.0e9, 0.9e9]
    assert list(f["costs_p50"]) == [3.8e9, 3.8e9]


def test_pm_items_are_data_of_the_scenario(ref: rd.RunData) -> None:
    items = rd.pm_items(ref)
    assert len(items) >= 5
    assert all(i.label and i.label_nl and i.why and i.why_nl for i in items)
    assert ref.inputs is not None and [i.id for i in items] == list(ref.inputs.pm)
    assert {i.text for i in items} <= {"+PM", "\u2212PM", "\u00b1PM"}
    assert rd.pm_items(None) == []


def test_a_run_whose_scenario_is_gone_or_changed(ref_dir: Path, tmp_path: Path) -> None:
    """Without its scenario file the report still has every number, with ids for names; with
    changed files it says that the assumptions shown are today's."""
    from mkba.report.document import build_document
    from mkba.report.html import render_html

    gone = tmp_path / "gone"
    shutil.copytree(ref_dir, gone)
    (gone / "inputs.json").unlink()  # a run directory of a version before inputs.json
    manifest = json.loads((gone / "manifest.json").read_text())
    manifest["scenario_file"] = str(tmp_path / "nowhere.toml")
    (gone / "manifest.json").write_text(json.dumps(manifest))
    run = rd.load_run(gone)
    assert run.spec is None and "not found" in str(run.spec_note)
    labels = run.labels("en")
    parts = rd.stakeholders(run, labels).frame
    assert set(parts["part"]) <= {"benefits", "programme_costs"}
    assert rd.assumptions(run, labels).empty
    html = render_html(build_document(run, "en", set()), {})
    assert "The assumptions cannot be listed" in html and "benefit_savings" in html

    changed = tmp_path / "changed"
    shutil.copytree(ref_dir, changed)
    (changed / "inputs.json").unlink()
    manifest = json.loads((changed / "manifest.json").read_text())
    manifest["scenario_hash"] = "0" * 64
    (changed / "manifest.json").write_text(json.dumps(manifest))
    run = rd.load_run(changed)
    assert run.spec is not None and "changed since this run" in str(run.spec_note)
    html = render_html(build_document(run, "nl", set()), {})
    assert "Let op:" in html


# --- charts: files and determinism -------------------------------------------------------


def test_chart_files_are_byte_identical_for_the_same_run(ref: rd.RunData, report_dir: Path) -> None:
    """Rendering again (another call, other rcParams) gives the bytes make_report wrote."""
    import matplotlib

    with matplotlib.rc_context({"font.size": 20, "lines.linewidth": 7, "svg.hashsalt": "x"}):
        again = ch.render(ref, lang="nl")
    kinds = {r.kind for r in again}
    assert kinds == {
        "summary",
        "waterfall",
        "stakeholders",
        "areas",
        "cashflow",
        "fan",
        "npv",
        "drivers",
    }
    for r in again:
        for fmt, data in r.files.items():
            assert (report_dir / "charts" / f"{r.kind}.{fmt}").read_bytes() == data, (r.kind, fmt)
    svg = (report_dir / "charts" / "waterfall.svg").read_text()
    assert "<dc:date>" not in svg and "Matplotlib v" not in svg
    png = (report_dir / "charts" / "waterfall.png").read_bytes()
    assert png.startswith(b"\x89PNG") and b"Matplotlib" not in png


def test_chart_command_gives_the_same_bytes_in_another_process(
    report_dir: Path, tmp_path: Path
) -> None:
    r = _mkba(
        "chart",
        str(report_dir),
        "--kind",
        "waterfall",
        "--kind",
        "npv",
        "--format",
        "svg",
        "--format",
        "png",
        "--lang",
        "nl",
        "--out",
        str(tmp_path),
    )
    assert r.returncode == 0, r.stderr
    assert sorted(Path(p).name for p in r.stdout.split()) == [
        "npv.png",
        "npv.svg",
        "waterfall.png",
        "waterfall.svg",
    ]
    for name in ("waterfall.svg", "waterfall.png", "npv.svg", "npv.png"):
        assert (tmp_path / name).read_bytes() == (report_dir / "charts" / name).read_bytes()


def test_sensitivity_and_batch_charts(ref_dir: Path, extras_dir: tuple[Path, Path]) -> None:
    sens, batch = extras_dir
    run = rd.load_run(ref_dir, sensitivity=sens, batch=batch)
    assert set(run.extras) == {"tornado", "switching", "discount", "variants"}
    out = ch.render(run, ["tornado", "discount", "variants"], formats=("svg",), lang="en")
    assert [r.kind for r in out] == ["tornado", "discount", "variants"]
    assert all(r.files["svg"].startswith(b"<?xml") for r in out)
    # without the tables those kinds have no data
    assert ch.render(rd.load_run(ref_dir), ["tornado", "variants"], formats=("svg",)) == []


def test_english_labels_and_units_on_money_axes(ref: rd.RunData) -> None:
    ctx = ch.ChartContext.from_run(ref, "en")
    assert ctx.scale == "bn"
    assert ctx.money_axis("pv", axis="x") == "€ bn, price level 2021, present value 2021"
    assert ctx.money_axis("flow_real", "m") == (
        "€ m per year\nreal (price level 2021), undiscounted"
    )
    nl = ch.ChartContext.from_run(ref, "nl")
    assert nl.money_axis("cum_disc") == (
        "€ mld, cumulatief\nprijspeil 2021, verdisconteerd naar 2021"
    )
    fig = ch.build("fan", ref, ctx)
    assert fig is not None
    ylabel = fig.axes[0].get_ylabel()
    assert "price level 2021" in ylabel and "undiscounted" in ylabel
    texts = " ".join(t.get_text() for t in fig.texts)
    assert "Net benefits per year" in texts and f"run {ref.manifest['run_id']}" in texts


# --- workbook ------------------------------------------------------------------------------


def test_workbook_reads_back(report_dir: Path, ref: rd.RunData) -> None:
    import openpyxl

    path = report_dir / "workbook.xlsx"
    wb = openpyxl.load_workbook(path)
    # the evidence-and-claim sheet only exists for a run made with its companion
    keys = [k for k in SHEETS if k != "claim" or ref.summary.get("side_by_side")]
    assert wb.sheetnames == [sheet_name(k, "nl") for k in keys]
    tables = {name for ws in wb.worksheets for name in ws.tables}
    assert tables == {table_name(k) for k in keys}
    s = ref.summary

    ws = wb["Samenvatting"]
    assert ws.freeze_panes is not None
    top = int(re.sub(r"\D", "", ws.freeze_panes)) - 1  # the header row
    header = [c.value for c in ws[top]]
    assert header[:4] == ["Post", "Soort", "Eenheid", "Gemiddelde"]
    rows = {r[0]: r for r in ws.iter_rows(min_row=top + 1, values_only=True) if r[0]}
    costs = rows["Programmakosten"]
    assert math.isclose(costs[3], s["costs_pv"]["mean"], rel_tol=1e-12)
    assert math.isclose(costs[5], s["costs_pv"]["p50"], rel_tol=1e-12)
    assert rows["Gezondheid en levensverwachting"][3] == "+PM"  # a PM item of the scenario, signed
    money = ws.cell(row=top + 1, column=4).number_format
    # one scale for the workbook (table_scale): the reference's rows run from about EUR 0.2 bn
    # to EUR 5.8 bn, so billions with two decimals
    assert money.startswith("€ #,##0.00,,,") and '"mld"' in money
    assert ws.cell(row=1, column=1).value == ref.inputs.title_nl  # the Dutch title

    ws = wb["Gebieden"]
    data = [r for r in ws.tables["tblAreas"].ref.split(":")]
    assert data[0].startswith("A")
    values = list(ws.iter_rows(min_row=int(ws.freeze_panes[1:]), values_only=True))
    assert len(values) == 16
    area = {r[0]: r for r in values}["rotterdam-zuid"]
    assert math.isclose(area[2], s["by_area"]["rotterdam-zuid"]["mean"], rel_tol=1e-12)

    ws = wb["Jaren"]
    values = list(ws.iter_rows(min_row=int(ws.freeze_panes[1:]), values_only=True))
    assert [r[0] for r in values] == list(range(2021, 2051))
    header = [c.value for c in ws[int(ws.freeze_panes[1:]) - 1]]
    assert any("niet verdisconteerd" in str(h) for h in header)
    assert any(str(h).startswith("verdisconteerd") for h in header)

    ws = wb["Actoren"]
    values = list(ws.iter_rows(min_row=int(ws.freeze_panes[1:]), values_only=True))
    assert {r[0] for r in values} == set(s["by_stakeholder"])

    ws = wb["Aannames"]
    header = [c.value for c in ws[int(ws.freeze_panes[1:]) - 1]]
    col = {h: i for i, h in enumerate(header)}
    values = list(ws.iter_rows(min_row=int(ws.freeze_panes[1:]), values_only=True))
    by_path = {r[col["Pad"]]: r for r in values}
    uv = by_path["streams.benefit_savings.components.benefit_payment.unit_value"]
    assert uv[col["Eenheid"]] == "EUR/persoon/jaar" and uv[col["Prijspeil"]] == 2018  # Dutch units
    assert str(uv[col["URL"]]).startswith("https://")
    link_row = [r for r in ws.iter_rows(min_row=int(ws.freeze_panes[1:])) if r[col["URL"]].value]
    assert link_row and link_row[0][col["URL"]].hyperlink is not None

    ws = wb["Manifest"]
    kv = {r[0]: r[1] for r in ws.iter_rows(min_row=int(ws.freeze_panes[1:]), values_only=True)}
    assert kv["run_id"] == ref.manifest["run_id"] and kv["seed"] == ref.manifest["seed"]

    with zipfile.ZipFile(path) as z:  # openpyxl does not read charts back: look inside
        assert any(n.startswith("xl/charts/chart") for n in z.namelist())


def test_user_strings_never_become_formulas(tmp_path: Path) -> None:
    """A scenario title or an area name that looks like a formula stays text."""
    fixture = tmp_path / "tiny"
    shutil.copytree(TINY.parents[1], fixture)
    evil_title = '=HYPERLINK("http://x.example","click")'
    scen = fixture / "scenarios" / "one.toml"
    scen.write_text(scen.read_text().replace('title = "One area', f"title = '{evil_title}' #"))
    areas = fixture / "parameters" / "areas.csv"
    text = areas.read_text()
    header = text.splitlines()[0].split(",")
    assert "name" in header
    lines = text.splitlines()
    cells = lines[1].split(",")
    cells[header.index("name")] = "=1+1"
    lines[1] = ",".join(cells)
    areas.write_text("\n".join(lines) + "\n")
    run_dir = tmp_path / "run"
    api.run_scenario(scen, draws=32, out=run_dir)
    data = build_workbook(rd.load_run(run_dir), "en")

    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb["Summary"]
    assert ws["A1"].value == evil_title and ws["A1"].data_type == "s"
    ws = wb["Areas"]
    names = [c for row in ws.iter_rows() for c in row if c.value == "=1+1"]
    assert names and all(c.data_type == "s" for c in names)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        assert not any("<f>" in z.read(n).decode() for n in sheets)


# --- HTML and Markdown -------------------------------------------------------------------


def test_html_report_is_self_contained(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="nl">' in html
    assert "<script" not in html.lower()
    assert not re.search(r"<link\b", html, re.I)
    assert not re.search(r"\bsrc\s*=", html, re.I)  # no images, frames or scripts fetched
    assert "@import" not in html and "url(http" not in html
    # every external reference is a plain link to a source
    for m in re.finditer(r'href="([^"]+)"', html):
        assert m.group(1).startswith(("#", "https://", "http://")), m.group(1)
    assert html.count("<svg ") == 8 and html.count('<figure id="fig-') == 8
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # chart ids made unique
    for heading in (
        "Kern",
        "Drie perspectieven",
        "Wie betaalt en wie wint",
        "Onzekerheid",
        "Wat het resultaat bepaalt",
        "Aannames en bronnen",
        "Deze run reproduceren",
    ):
        assert f">{heading}</h2>" in html
    assert re.search(r"€ \d,\d mld", html)  # Dutch number format (decimal comma)
    assert "Spearman" in html  # no sensitivity run: the rank correlations, labelled
    assert "mkba run scenarios/reference-2021.toml" in html or "mkba run " in html
    assert "--seed 20211" in html
    assert "https://www.cbs.nl/" in html  # sources are linked


def test_markdown_links_the_png_charts(report_dir: Path) -> None:
    md = (report_dir / "report.md").read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\((charts/[a-z]+\.png)\)", md)
    assert len(links) == 8
    assert all((report_dir / p).is_file() for p in links)
    assert md.startswith("# Maatschappelijke kosten-batenanalyse")


def test_report_with_sensitivity_and_batch(ref_dir: Path, extras_dir: tuple[Path, Path]) -> None:
    from mkba.report.document import build_document
    from mkba.report.html import render_html

    sens, batch = extras_dir
    run = rd.load_run(ref_dir, sensitivity=[sens], batch=batch)
    rendered = ch.render(run, ["tornado", "discount", "variants"], formats=("svg",), lang="en")
    kinds = {r.kind for r in rendered}
    document = build_document(run, "en", kinds)
    html = render_html(document, {r.kind: r.files["svg"] for r in rendered})
    for kind in ("tornado", "discount", "variants"):
        assert f'id="fig-{kind}"' in html
    assert "Spearman" not in html  # the sensitivity run replaces the screening
    assert (
        "Switching values" in html and "half budget" in html
    )  # a variant without title: its id in words
    assert f"--sensitivity {sens}" in html and f"--batch {batch}" in html  # how to reproduce
    assert "median NPV turns negative" in html  # the sweep crosses zero at 3.6 %


def test_inline_svg_prefixes_ids() -> None:
    svg = b'<?xml version="1.0"?>\n<svg xmlns="x"><defs><path id="a"/></defs><use xlink:href="#a"/><g clip-path="url(#a)"/></svg>'
    out = inline_svg(svg, "k-", "A <chart>")
    assert out.startswith('<svg role="img" aria-label="A &lt;chart&gt;"')
    assert 'id="k-a"' in out and 'href="#k-a"' in out and "url(#k-a)" in out


# --- command line ------------------------------------------------------------------------


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The console entry point in this process (fast; the subprocess test above covers one
    real process)."""
    from mkba.cli import main

    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, " ".join(err.split())


def test_report_command_writes_into_the_run_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    code, _out, err = _main(capsys, "run", str(TINY), "-n", "64", "--out", str(run_dir), "--json")
    assert code == 0, err
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    code, out, err = _main(
        capsys, "report", str(run_dir), "--format", "xlsx", "--format", "md", "--lang", "en"
    )
    assert code == 0, err
    written = [Path(p) for p in out.split()]
    assert run_dir / "workbook.xlsx" in written and run_dir / "report.md" in written
    assert (run_dir / "charts" / "waterfall.svg").is_file()
    assert not (run_dir / "report.html").exists()
    assert "report written" in err
    # the tiny run samples nothing: no rank correlations, the report says so
    assert not (run_dir / "charts" / "drivers.png").exists()
    assert "nothing can be ranked" in (run_dir / "report.md").read_text()
    for name, data in before.items():  # the run's own files are untouched
        assert (run_dir / name).read_bytes() == data
    assert not list(run_dir.rglob("*.tmp"))


def test_command_line_errors(
    tmp_path: Path, ref_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _main(capsys, "report", str(tmp_path))
    assert code == 3 and "not an mkba run directory" in err
    code, _, err = _main(capsys, "chart", str(ref_dir), "--kind", "pie")
    assert code == 2 and "--kind" in err and "pie" in err
    code, _, err = _main(capsys, "chart", str(ref_dir), "--kind", "tornado")
    assert code == 2 and "sensitivity" in err
    code, _, err = _main(capsys, "report", str(ref_dir), "--lang", "de")
    assert code == 2 and "nl, en" in err
    code, _, err = _main(capsys, "chart", str(ref_dir), "--format", "pdf")
    assert code == 2 and "png, svg" in err
    bad = tmp_path / "sens"
    bad.mkdir()
    pd.DataFrame({"name": ["x"], "low": [1]}).to_csv(bad / "tornado.csv", index=False)
    code, _, err = _main(capsys, "report", str(ref_dir), "--sensitivity", str(bad))
    assert code == 2 and "missing columns" in err
    code, _, err = _main(capsys, "report", str(ref_dir), "--batch", str(tmp_path / "nope"))
    assert code == 2 and "folder not found" in err


# --- headless Chromium ------------------------------------------------------------------


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


@pytest.mark.skipif(
    _chromium() is None,
    reason="chromium not installed (scripts/setup-chromium.sh installs it; .ci/run calls it)",
)
def test_report_renders_in_headless_chromium(report_dir: Path, tmp_path: Path) -> None:
    from PIL import Image

    exe = _chromium()
    assert exe is not None
    url = (report_dir / "report.html").resolve().as_uri()
    shot = tmp_path / "report.png"
    common = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    r = subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1280,2400", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.is_file(), r.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape[:2] == (2400, 1280)
    # not blank: many colours, and far from all white
    colours = np.unique(img.reshape(-1, 3) // 8, axis=0)
    assert len(colours) > 200
    assert (img.min(axis=2) < 200).mean() > 0.05
    # the charts loaded: colours only the charts use appear on the first screen (the stream
    # colours of the summary table and the waterfall, e.g. #E69F00 and #CC79A7)
    for rgb in ((0xE6, 0x9F, 0x00), (0xCC, 0x79, 0xA7)):
        close = (np.abs(img.astype(int) - np.array(rgb)).sum(axis=2) < 30).sum()
        assert close > 200, rgb
