"""The data behind every chart, table and report section, read from a run directory.

Compute only: functions here return data frames (and a few scalars in :class:`ChartData`);
:mod:`mkba.report.charts` draws them and the tests check them.

Optional tables of a sensitivity run or a batch are plain data frames with these columns
(extra columns are kept; ``name`` may be a parameter path such as ``streams.safety.effect``):

=============  =======================================================================
table          columns
=============  =======================================================================
``tornado``    name, low, high, output_low, output_high, base_output
``switching``  name, base, switching_value, ratio (switching value / base)
``discount``   rate, npv_mean, npv_p5, npv_p50, npv_p95
``variants``   variant, npv_p5, npv_p50, npv_p95, bcr_p50, costs_p50, benefits_p50
=============  =======================================================================

:func:`load_run` finds them as ``<name>.parquet`` or ``<name>.csv`` (also under the aliases in
:data:`EXTRA_FILES`) in the folders given as ``sensitivity`` (several: ``mkba sensitivity``
writes one run directory per method) and ``batch`` (a batch directory or its ``summary/``),
else in the run directory, its ``sensitivity/`` and ``batch/`` folders, and for a run of a
batch (``manifest.json`` names it) in that batch's ``summary/``. Column spellings of
``mkba sensitivity`` and ``mkba batch`` are accepted (:data:`ALIASES`).
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mkba.errors import InputError, MkbaError, Problem, RunError
from mkba.report.inputs import RunInputs
from mkba.report.labels import Labels, check_lang
from mkba.texts import text as tr
from mkba.texts import text_or

REQUIRED_FILES = ("manifest.json", "summary.json")
TABLE_FILES = ("breakdown", "draws", "yearly_quantiles")

TORNADO_COLUMNS = ("name", "low", "high", "output_low", "output_high", "base_output")
SWITCHING_COLUMNS = ("name", "base", "switching_value", "ratio")
DISCOUNT_COLUMNS = ("rate", "npv_mean", "npv_p5", "npv_p50", "npv_p95")
VARIANT_COLUMNS = (
    "variant",
    "npv_p5",
    "npv_p50",
    "npv_p95",
    "bcr_p50",
    "costs_p50",
    "benefits_p50",
)

EXTRA_FILES: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    # table: (file stems in order of preference, required columns, kind of folder)
    "tornado": (("tornado",), TORNADO_COLUMNS, "sensitivity"),
    "switching": (("switching", "switching_values"), SWITCHING_COLUMNS, "sensitivity"),
    "discount": (("discount", "discount_sweep"), DISCOUNT_COLUMNS, "sensitivity"),
    "variants": (("comparison", "variants"), VARIANT_COLUMNS, "batch"),
}


@dataclass
class RunData:
    """Everything a report needs from one run directory."""

    path: Path
    manifest: dict[str, Any]
    summary: dict[str, Any]
    breakdown: pd.DataFrame
    yearly: pd.DataFrame
    draws: pd.DataFrame
    spec: Any = None  # mkba.load.Spec of the run's scenario, when it can be found
    spec_note: str | None = None  # why the spec is missing, or that the files changed
    extras: dict[str, pd.DataFrame] = field(default_factory=dict)
    extra_files: dict[str, Path] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)  # computed once per run
    given: dict[str, list[Path]] = field(default_factory=dict)  # --sensitivity / --batch folders
    inputs: RunInputs | None = None  # inputs.json, or built from the spec of an older run

    @property
    def perspective(self) -> str:
        return str(self.summary["perspective"])

    @property
    def params(self) -> Any:
        return self.spec.params if self.spec is not None else None

    def labels(self, lang: str) -> Labels:
        if self.inputs is not None:
            return Labels(lang, names=self.inputs.names(check_lang(lang)))
        return Labels(lang, self.params)


def _read_table(folder: Path, stem: str) -> pd.DataFrame | None:
    pq, csv = folder / f"{stem}.parquet", folder / f"{stem}.csv"
    if pq.is_file():
        return pd.read_parquet(pq)
    if csv.is_file():
        return pd.read_csv(csv)
    return None


def check_columns(df: pd.DataFrame, columns: tuple[str, ...], file: str) -> pd.DataFrame:
    """``df`` if it has ``columns``; else an :class:`InputError` naming the missing ones."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            [
                Problem(
                    file,
                    "columns",
                    f"missing columns {', '.join(missing)} (expected {', '.join(columns)})",
                    list(df.columns),
                )
            ]
        )
    return df


ALIASES: dict[str, dict[str, str]] = {
    # other spellings of the columns (as ``mkba sensitivity`` and ``mkba batch`` write them)
    "tornado": {"output_base": "base_output"},
    "switching": {},
    "discount": {"mean": "npv_mean", "p5": "npv_p5", "p50": "npv_p50", "p95": "npv_p95"},
    "variants": {
        "costs_pv_p50": "costs_p50",
        "benefits_pv_p50": "benefits_p50",
    },
}


def normalize(name: str, df: pd.DataFrame, perspective: str | None = None) -> pd.DataFrame:
    """Rename known other spellings of a table's columns to the documented ones.

    For ``variants``: a table with a ``perspective`` column keeps one perspective's rows
    (``perspective``, else the only one, else ``study``, else the first); a missing or empty
    ``variant`` is filled from ``job`` (or ``scenario``).
    """
    f = df.copy()
    ren = {a: b for a, b in ALIASES.get(name, {}).items() if a in f.columns and b not in f.columns}
    f = f.rename(columns=ren)
    if name == "variants":
        if "perspective" in f.columns and f["perspective"].nunique() > 1:
            have = list(dict.fromkeys(f["perspective"]))
            p = perspective if perspective in have else ("study" if "study" in have else have[0])
            f = f[f["perspective"] == p]
        label = None
        for col in ("job", "scenario"):
            if col in f.columns:
                label = f[col].astype(str)
                break
        if "variant" not in f.columns:
            if label is not None:
                f["variant"] = label
        elif label is not None:
            empty = f["variant"].isna() | (f["variant"].astype(str).isin(["", "None", "nan"]))
            f["variant"] = f["variant"].where(~empty, label)
    return f.reset_index(drop=True)


Folders = Path | str | Sequence[Path | str] | None


def _folders(given: Folders) -> list[Path]:
    if given is None:
        return []
    if isinstance(given, str | Path):
        return [Path(given)]
    return [Path(g) for g in given]


def check_stamps(
    run_manifest: dict[str, Any], tables: dict[str, pd.DataFrame], files: dict[str, Path]
) -> None:
    """Refuse sensitivity tables of another scenario than the run's, and a tornado and
    switching values of different outputs (:func:`mkba.runinfo.stamp_table` stamps them; a
    table of an older version without stamps is taken as it is)."""
    problems = []
    own = run_manifest.get("scenario_hash")
    for name, df in tables.items():
        if name == "variants" or "scenario_hash" not in df.columns or own is None:
            continue
        theirs = {str(h) for h in df["scenario_hash"].dropna()}
        if theirs and theirs != {own}:
            problems.append(
                Problem(
                    f"{files[name]}.*",
                    "scenario_hash",
                    f"a {name} table of another scenario or variant (hash "
                    f"{', '.join(sorted(h[:12] for h in theirs))}; this run: {own[:12]}): "
                    "not merged into this report; run the sensitivity analysis on this scenario",
                )
            )
    if "tornado" in tables and "switching" in tables:
        keys = []
        both = set(tables["tornado"].columns) & set(tables["switching"].columns)
        cols = [c for c in ("output", "output_perspective") if c in both]
        for name in ("tornado", "switching"):
            df = tables[name]
            keys.append({tuple(str(x) for x in r) for r in df[cols].drop_duplicates().values})
        if all(keys) and keys[0] != keys[1]:
            show = [" ".join(sorted(" ".join(k) for k in ks)) for ks in keys]
            problems.append(
                Problem(
                    f"{files['switching']}.*",
                    "output",
                    f"switching values of output {show[1]} cannot be merged into a tornado of "
                    f"output {show[0]}: run both for the same --output",
                )
            )
    if problems:
        raise InputError(problems)


def find_extras(
    run_dir: Path, sensitivity: Folders = None, batch: Folders = None
) -> tuple[dict[str, pd.DataFrame], dict[str, Path]]:
    """Sensitivity and batch tables next to a run (see the module docstring).

    ``sensitivity`` may name several folders: ``mkba sensitivity`` writes one run directory
    per method (tornado, switching, discount). The first folder holding a table wins.
    """
    sens, bat = _folders(sensitivity), _folders(batch)
    problems = []
    for label, folders in (("--sensitivity", sens), ("--batch", bat)):
        for folder in folders:
            if not folder.is_dir():
                problems.append(Problem(str(folder), label, "folder not found"))
    if problems:
        raise InputError(problems)
    tables: dict[str, pd.DataFrame] = {}
    files: dict[str, Path] = {}
    # a run of a batch (BATCH/runs/JOB) finds the batch's table in BATCH/summary
    manifest = run_dir / "manifest.json"
    batch_home: list[Path] = []
    try:
        home = json.loads(manifest.read_text(encoding="utf-8")).get("batch")
    except (OSError, ValueError):
        home = None
    if home:  # as written (relative to the working folder), else where a batch puts its runs
        batch_home = [Path(home) / "summary", Path(home), run_dir.parent.parent / "summary"]
    for name, (stems, columns, kind) in EXTRA_FILES.items():
        if kind == "sensitivity":
            folders = [*sens, run_dir, run_dir / "sensitivity"]
        else:
            folders = [x for f in bat for x in (f, f / "summary")]
            folders += [run_dir, run_dir / "batch", *batch_home]
        for folder in folders:
            for stem in stems:
                df = _read_table(folder, stem)
                if df is not None:
                    path = folder / stem
                    check_columns(normalize(name, df), columns, str(path) + ".*")
                    tables[name] = df
                    files[name] = path
                    break
            if name in tables:
                break
    check_stamps(
        json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else {},
        tables,
        files,
    )
    return tables, files


def _scenario_candidates(manifest: dict[str, Any], run_dir: Path) -> list[Path]:
    p = Path(str(manifest.get("scenario_file", "")))
    if p.is_absolute():
        return [p]
    out = [Path.cwd() / p, run_dir.resolve().parent.parent / p]
    params = manifest.get("parameters_dir")
    if params:
        out.append(Path(params).parent / p)
    return out


def load_spec(manifest: dict[str, Any], run_dir: Path) -> tuple[Any, str | None]:
    """The scenario of a run (for names, assumptions and sources) and a note on it.

    The manifest's ``scenario_file`` is tried as written (relative to the working folder),
    relative to the repository that holds ``runs/``, and next to the parameter folder. If the
    files changed since the run (another scenario hash), the spec is still returned and the
    note says so: the report then shows today's assumptions, clearly marked.
    """
    from mkba.load import load_scenario

    for path in _scenario_candidates(manifest, run_dir):
        if path.is_file():
            try:
                spec = load_scenario(path, variant=manifest.get("variant"))
                point = manifest.get("grid_point")
                if point:  # a grid point of a batch: the same scenario with its updates
                    from mkba.load import grid_points

                    updates = dict(grid_points(spec.base_scenario)).get(point)
                    if updates is not None:
                        spec = load_scenario(path, variant=manifest.get("variant"), updates=updates)
            except MkbaError as exc:
                return None, f"{path}: the scenario no longer loads ({str(exc).splitlines()[0]})"
            if spec.digest != manifest.get("scenario_hash"):
                return spec, (
                    f"{path}: the scenario or parameter files changed since this run "
                    "(another hash); names, assumptions and sources are today's"
                )
            return spec, None
    return None, (
        f"scenario file {manifest.get('scenario_file')!r} not found: "
        "names are shown as ids and assumptions are left out"
    )


def load_run(
    path: Path | str,
    *,
    sensitivity: Folders = None,
    batch: Folders = None,
    with_spec: bool = True,
) -> RunData:
    """Read a run directory written by ``mkba run``.

    Raises :class:`~mkba.errors.RunError` (exit 3) when ``path`` is not a complete run
    directory and :class:`~mkba.errors.InputError` (exit 2) when a sensitivity or batch
    table lacks its columns.
    """
    run_dir = Path(path)
    if not (run_dir / "manifest.json").is_file():
        raise RunError(f"{run_dir}: not an mkba run directory (no manifest.json)")
    missing = [f for f in REQUIRED_FILES if not (run_dir / f).is_file()]
    missing += [
        f"{t}.parquet"
        for t in TABLE_FILES
        if not (run_dir / f"{t}.parquet").is_file() and not (run_dir / f"{t}.csv").is_file()
    ]
    if missing:
        raise RunError(f"{run_dir}: incomplete run directory (missing {', '.join(missing)})")
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    frames = {t: _read_table(run_dir, t) for t in TABLE_FILES}
    inputs = RunInputs.read(run_dir) if with_spec else None
    spec, note = None, None
    if with_spec and inputs is None:  # a run of an older version: its scenario, if found
        spec, note = load_spec(manifest, run_dir)
        if spec is not None:
            inputs = RunInputs.from_spec(spec, manifest, summary)
    extras, extra_files = find_extras(run_dir, sensitivity, batch)
    return RunData(
        path=run_dir,
        manifest=manifest,
        summary=summary,
        breakdown=frames["breakdown"],
        yearly=frames["yearly_quantiles"],
        draws=frames["draws"],
        spec=spec,
        spec_note=note,
        extras=extras,
        extra_files=extra_files,
        given={"sensitivity": _folders(sensitivity), "batch": _folders(batch)},
        inputs=inputs,
    )


def scenario_title(run: RunData, lang: str) -> str:
    """The scenario's title in ``lang``: ``title_nl`` for Dutch when the scenario gives one."""
    s = run.summary
    if run.inputs is not None:
        title_nl = run.inputs.title_nl
    else:
        title_nl = run.spec.scenario.title_nl if run.spec is not None else None
    if lang == "nl" and title_nl:
        return str(title_nl)
    return str(s.get("title") or s["scenario"])


# --- PM items ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PmItem:
    """An effect named but not monetised (pro memorie)."""

    id: str
    label: str
    label_nl: str
    why: str
    why_nl: str
    related: str | None = None
    sign: str = "+"

    @property
    def text(self) -> str:
        """The summary-table entry: ``+PM``, ``\u2212PM`` or ``\u00b1PM``."""
        return {"+": "+PM", "-": "\u2212PM", "+/-": "\u00b1PM"}[self.sign]

    def name(self, lang: str) -> str:
        return self.label_nl if lang == "nl" else self.label

    def reason(self, lang: str) -> str:
        return self.why_nl if lang == "nl" else self.why


def pm_items(run: RunData | None) -> list[PmItem]:
    """The PM items of the run's scenario (``[pm.<id>]`` tables): they belong to the
    programme, not to the package. None when the scenario cannot be found."""
    if run is None or run.inputs is None:
        return []
    return [PmItem(id=k, **v) for k, v in run.inputs.pm.items()]


# --- chart data ------------------------------------------------------------------------------


@dataclass
class ChartData:
    """The numbers one chart draws: a data frame and a few scalars."""

    frame: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)


def _stat(d: dict[str, Any], key: str = "mean") -> float:
    v = d.get(key)
    return math.nan if v is None else float(v)


def summary_table(run: RunData, labels: Labels) -> ChartData:
    """Costs, benefits by stream, totals, NPV, BCR, P(NPV > 0) and PM lines.

    Columns: key, kind (cost | benefit | total | npv | bcr | prob | pm), label, mean, p50,
    p5, p95. Money in euros of the price year, PV at the base year, scenario perspective.
    """
    s = run.summary
    rows: list[dict[str, Any]] = []

    def add(key: str, kind: str, label: str, st: dict[str, Any] | None) -> None:
        st = st or {}
        rows.append(
            {
                "key": key,
                "kind": kind,
                "label": label,
                **{k: _stat(st, k) for k in ("mean", "p50", "p5", "p95")},
            }
        )

    add("costs", "cost", labels.t("programme_costs"), s["costs_pv"])
    streams = sorted(s["by_stream"].items(), key=lambda kv: -_stat(kv[1]))
    for sid, st in streams:
        add(sid, "benefit", labels.stream(sid), st)
    add("benefits", "total", labels.t("total_benefits"), s["benefits_pv"])
    add("npv", "npv", labels.t("saldo"), s["npv"])
    add("bcr", "bcr", labels.t("bcr"), s["bcr"])
    p = float(s["prob_npv_positive"])
    add("prob_npv_positive", "prob", labels.t("prob_npv_positive"), {"mean": p})
    items = pm_items(run)
    for item in items:
        add(item.id, "pm", item.name(labels.lang), None)
    return ChartData(
        pd.DataFrame(rows), {"perspective": run.perspective, "pm": {i.id: i.text for i in items}}
    )


def waterfall(run: RunData, labels: Labels) -> ChartData:
    """Steps from minus the costs, through each stream's benefits, to the NPV (means).

    Columns: key, label, kind (cost | benefit | total), delta, start, end. Means add up,
    so the last bar (the NPV) ends where the steps end; ``meta["gap"]`` is the difference
    from the run's mean NPV (rounding only).
    """
    s = run.summary
    costs = _stat(s["costs_pv"])
    rows = [
        {
            "key": "costs",
            "label": labels.t("programme_costs"),
            "kind": "cost",
            "delta": -costs,
            "start": 0.0,
            "end": -costs,
        }
    ]
    level = -costs
    for sid, st in sorted(s["by_stream"].items(), key=lambda kv: -_stat(kv[1])):
        m = _stat(st)
        rows.append(
            {
                "key": sid,
                "label": labels.stream(sid),
                "kind": "benefit",
                "delta": m,
                "start": level,
                "end": level + m,
            }
        )
        level += m
    rows.append(
        {
            "key": "npv",
            "label": labels.t("npv.short"),
            "kind": "total",
            "delta": level,
            "start": 0.0,
            "end": level,
        }
    )
    return ChartData(pd.DataFrame(rows), {"gap": level - _stat(s["npv"])})


def component_weights(params: Any) -> dict[str, dict[str, float]]:
    """component ``stream.comp`` -> {stakeholder: +1 gainer / -1 loser of a transfer}."""
    out: dict[str, dict[str, float]] = {}
    for sid, st in params.streams.items():
        for cid, comp in st.components.items():
            w = {comp.gainer: 1.0}
            if comp.loser is not None:
                w[comp.loser] = w.get(comp.loser, 0.0) - 1.0
            out[f"{sid}.{cid}"] = w
    return out


def stakeholders(run: RunData, labels: Labels) -> ChartData:
    """What each stakeholder gains and pays, split by stream (means over draws).

    The stakeholder view counts every effect and every payer's programme costs, whatever the
    run's perspective; a transfer is a gain for one stakeholder and a loss for another.
    Columns: stakeholder, stakeholder_label, part (a stream id or ``programme_costs``),
    part_label, sign (gain | loss), value (signed). ``meta["net"]``: net per stakeholder,
    equal to ``stakeholder.<k>.benefits_pv - costs_pv`` of the draws.
    """
    d = run.draws
    ks = [
        c.split(".")[1]
        for c in d.columns
        if c.startswith("stakeholder.") and c.endswith(".benefits_pv")
    ]
    rows: list[dict[str, Any]] = []
    weights = run.inputs.component_weights if run.inputs is not None else None
    comp_cols = [c for c in d.columns if c.startswith("component.")]
    means = {c[len("component.") :]: float(d[c].mean()) for c in comp_cols}
    for k in ks:
        if weights is not None:
            parts: dict[tuple[str, str], float] = {}
            for comp, m in means.items():
                w = weights.get(comp, {}).get(k, 0.0)
                if w == 0.0 or m == 0.0:
                    continue
                v = w * m
                key = (comp.split(".")[0], "gain" if v > 0 else "loss")
                parts[key] = parts.get(key, 0.0) + v
            for (sid, sign), v in sorted(parts.items()):
                rows.append(
                    {
                        "stakeholder": k,
                        "stakeholder_label": labels.stakeholder(k),
                        "part": sid,
                        "part_label": labels.stream(sid),
                        "sign": sign,
                        "value": v,
                    }
                )
        else:
            b = float(d[f"stakeholder.{k}.benefits_pv"].mean())
            rows.append(
                {
                    "stakeholder": k,
                    "stakeholder_label": labels.stakeholder(k),
                    "part": "benefits",
                    "part_label": labels.t("benefits_other"),
                    "sign": "gain" if b >= 0 else "loss",
                    "value": b,
                }
            )
        c = float(d[f"stakeholder.{k}.costs_pv"].mean())
        if c != 0.0:
            rows.append(
                {
                    "stakeholder": k,
                    "stakeholder_label": labels.stakeholder(k),
                    "part": "programme_costs",
                    "part_label": labels.t("programme_costs"),
                    "sign": "loss" if c > 0 else "gain",
                    "value": -c,
                }
            )
    frame = pd.DataFrame(
        rows, columns=["stakeholder", "stakeholder_label", "part", "part_label", "sign", "value"]
    )
    net = {
        k: float((d[f"stakeholder.{k}.benefits_pv"] - d[f"stakeholder.{k}.costs_pv"]).mean())
        for k in ks
    }
    public = {}
    if run.inputs is not None:
        public = {k: run.inputs.public[k] for k in ks}
    # stakeholders without flows (nothing gained, lost or paid in the means) are left out
    flows = {k for k, v in zip(frame["stakeholder"], frame["value"], strict=True) if v != 0.0}
    order = [k for k in ks if k in flows or net[k] != 0.0]
    return ChartData(frame, {"net": net, "order": order, "public": public})


def stakeholder_table(run: RunData, labels: Labels) -> pd.DataFrame:
    """Per stakeholder (means): what it gains, what it loses through transfers and losses,
    the programme costs it pays, and its net result with P5, P50, P95.

    Columns: stakeholder, label, public, gains_mean, losses_mean (transfers paid and losses,
    as a positive amount), costs_mean (programme costs paid), net_mean, net_p5, net_p50,
    net_p95. Gains and losses come from :func:`stakeholders`; without the parameter set
    ``gains_mean`` is the net of all effects and ``losses_mean`` is NaN.
    """
    s = run.summary
    parts = stakeholders(run, labels).frame
    rows = []
    for k, net in s["by_stakeholder"].items():
        pub = None
        if run.inputs is not None and k in run.inputs.public:
            pub = run.inputs.public[k]
        mine = parts[(parts["stakeholder"] == k) & (parts["part"] != "programme_costs")]
        if run.inputs is not None:
            gains = float(mine.loc[mine["value"] > 0, "value"].sum())
            losses = float(-mine.loc[mine["value"] < 0, "value"].sum()) + 0.0  # no -0.0
        else:
            gains, losses = _stat(s["by_stakeholder_benefits"][k]), math.nan
        rows.append(
            {
                "stakeholder": k,
                "label": labels.stakeholder(k),
                "public": pub,
                "gains_mean": gains,
                "losses_mean": losses,
                "costs_mean": _stat(s["by_stakeholder_costs"][k]),
                "net_mean": _stat(net),
                "net_p5": _stat(net, "p5"),
                "net_p50": _stat(net, "p50"),
                "net_p95": _stat(net, "p95"),
            }
        )
    return pd.DataFrame(rows)


def areas(run: RunData, labels: Labels) -> ChartData:
    """Benefits, costs and NPV per area (means, scenario perspective), best NPV first.

    Columns: area, label, benefits, costs, npv, npv_p5, npv_p95, bcr (mean benefits / mean
    costs).
    """
    s = run.summary
    rows = []
    for a, b in s["by_area"].items():
        c = s["by_area_costs"][a]
        n = s["by_area_npv"][a]
        cm = _stat(c)
        rows.append(
            {
                "area": a,
                "label": labels.area(a),
                "benefits": _stat(b),
                "costs": cm,
                "npv": _stat(n),
                "npv_p5": _stat(n, "p5"),
                "npv_p95": _stat(n, "p95"),
                "bcr": _stat(b) / cm if cm else math.nan,
            }
        )
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame = frame.sort_values(["npv", "area"], ascending=[False, True], kind="mergesort")
    return ChartData(frame.reset_index(drop=True))


def _series(run: RunData, name: str, cols: tuple[str, ...]) -> pd.DataFrame:
    y = run.yearly
    part = y[y["series"] == name].sort_values("year")
    return part[["year", *cols]].reset_index(drop=True)


def cashflow(run: RunData) -> ChartData:
    """Cumulative discounted net cash flow per year: mean, P10, P50, P90 (scenario perspective).

    ``meta``: ``payback_p50`` (median payback year of the draws that pay back),
    ``never_share`` (share of draws not paid back by the horizon), ``horizon``.
    """
    frame = _series(run, "cumulative_discounted", ("mean", "p10", "p50", "p90"))
    pb = run.summary.get("payback_year", {}) or {}
    share = pb.get("share_defined", 1.0 if pb.get("p50") is not None else 0.0)
    return ChartData(
        frame,
        {
            "payback_p50": _stat(pb, "p50"),
            "never_share": 1.0 - float(share),
            "horizon": run.summary.get("horizon"),
        },
    )


FAN_COLUMNS = ("p5", "p20", "p35", "p50", "p65", "p80", "p95")


def fan(run: RunData) -> ChartData:
    """Yearly net benefits (real, undiscounted; scenario perspective): P5 ... P95 and mean."""
    return ChartData(_series(run, "net_flow", (*FAN_COLUMNS, "mean")))


def npv_distribution(run: RunData, bins: int = 60) -> ChartData:
    """Histogram and empirical CDF of the NPV of the run's perspective.

    Columns: bin_left, bin_right, count, share (count / draws), cdf (share of draws at or
    below ``bin_right``). ``meta``: prob_positive (share of draws with NPV > 0), p5, p50, p95,
    mean, draws.
    """
    x = run.draws[f"{run.perspective}.npv"].to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    n = x.size
    lo, hi = (float(x.min()), float(x.max())) if n else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5 * max(abs(lo), 1.0), hi + 0.5 * max(abs(hi), 1.0)
    counts, edges = np.histogram(x, bins=bins, range=(lo, hi))
    frame = pd.DataFrame(
        {
            "bin_left": edges[:-1],
            "bin_right": edges[1:],
            "count": counts,
            "share": counts / n if n else counts * 0.0,
            "cdf": np.cumsum(counts) / n if n else counts * 0.0,
        }
    )
    q = np.quantile(x, (0.05, 0.5, 0.95)) if n else (math.nan,) * 3
    return ChartData(
        frame,
        {
            "prob_positive": float(np.mean(x > 0)) if n else math.nan,
            "p5": float(q[0]),
            "p50": float(q[1]),
            "p95": float(q[2]),
            "mean": float(x.mean()) if n else math.nan,
            "draws": n,
        },
    )


def rank_correlations(run: RunData, labels: Labels, top: int | None = 15) -> ChartData:
    """Spearman rank correlation of each sampled parameter with the NPV, strongest first.

    A screening measure from the run's own draws (``param.*`` columns of draws.parquet),
    not a variance decomposition. Columns: parameter, label, rho. Constant columns are left
    out; an empty frame when the run kept no parameter samples.
    """
    key = f"rank_correlations.{run.perspective}"
    if key not in run.cache:
        run.cache[key] = _spearman(run.draws, f"{run.perspective}.npv")
    rows = [
        {"parameter": path, "label": labels.param(path), "rho": r} for path, r in run.cache[key]
    ]
    frame = pd.DataFrame(rows, columns=["parameter", "label", "rho"])
    if not frame.empty:
        order = np.lexsort((frame["parameter"].to_numpy(), -frame["rho"].abs().to_numpy()))
        frame = frame.iloc[order].reset_index(drop=True)
        if top is not None:
            frame = frame.head(top)
    return ChartData(frame, {"outcome": f"{run.perspective}.npv", "draws": len(run.draws)})


def _spearman(d: pd.DataFrame, outcome: str) -> list[tuple[str, float]]:
    """(parameter path, Spearman rho with ``outcome``) for every non-constant param column."""
    cols = [c for c in d.columns if c.startswith("param.")]
    y = d[outcome].to_numpy(dtype=float)
    if not cols or len(y) <= 2:
        return []
    X = d[cols].to_numpy(dtype=float)
    keep = X.std(axis=0) > 0
    names = [c for c, k in zip(cols, keep, strict=True) if k]
    if not names or np.std(y) == 0:
        return []
    from scipy.stats import rankdata

    rx = rankdata(X[:, keep], axis=0)
    ry = rankdata(y)
    rx = (rx - rx.mean(axis=0)) / rx.std(axis=0)
    ry = (ry - ry.mean()) / ry.std()
    rho = rx.T @ ry / len(ry)
    return [(n[len("param.") :], float(r)) for n, r in zip(names, rho, strict=True)]


def _name_label(name: str, labels: Labels) -> str:
    return labels.param(name) if "." in name else name


def tornado(
    df: pd.DataFrame, labels: Labels, switching: pd.DataFrame | None = None, top: int = 15
) -> ChartData:
    """Tornado bars, widest swing first, with switching values when given.

    ``df`` columns: name, low, high, output_low, output_high, base_output. Adds label and
    swing (``|output_high - output_low|``); with ``switching`` (name, base, switching_value,
    ratio) also switching_value and ratio (NaN where a parameter has none).
    """
    f = normalize("tornado", df)
    check_columns(f, TORNADO_COLUMNS, "tornado")
    f["label"] = [_name_label(str(n), labels) for n in f["name"]]
    f["swing"] = (f["output_high"] - f["output_low"]).abs()
    if switching is not None:
        switching = normalize("switching", switching)
        check_columns(switching, SWITCHING_COLUMNS, "switching")
        sw = switching[["name", "switching_value", "ratio"]].drop_duplicates("name")
        f = f.merge(sw, on="name", how="left")
    order = np.lexsort((f["name"].astype(str).to_numpy(), -f["swing"].to_numpy()))
    f = f.iloc[order].head(top).reset_index(drop=True)
    base = float(f["base_output"].iloc[0]) if len(f) else math.nan
    output = str(f["output"].iloc[0]) if "output" in f.columns and len(f) else "npv"
    return ChartData(f, {"base_output": base, "output": output})


def switching_table(df: pd.DataFrame, labels: Labels) -> pd.DataFrame:
    """Switching values with labels, nearest to the base first (smallest ``|log ratio|``:
    halving and doubling are equally far); parameters without one last."""
    f = normalize("switching", df)
    check_columns(f, SWITCHING_COLUMNS, "switching")
    f["label"] = [_name_label(str(n), labels) for n in f["name"]]
    ratio = pd.to_numeric(f["ratio"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.where(ratio > 0, np.abs(np.log(ratio)), np.inf)
    dist = np.nan_to_num(dist, nan=np.inf)
    order = np.lexsort((f["name"].astype(str).to_numpy(), dist))
    return f.iloc[order].reset_index(drop=True)


def discount_sweep(df: pd.DataFrame, rate: float | None = None) -> ChartData:
    """NPV against the discount rate, lowest rate first.

    ``meta``: ``rate`` (the run's rate), ``output`` (the ``output`` column, default ``npv``),
    ``threshold`` (0, or 1 for a benefit-cost ratio) and ``switching_rate`` (where the median
    crosses the threshold, by linear interpolation; NaN if it does not).
    """
    f = normalize("discount", df)
    check_columns(f, DISCOUNT_COLUMNS, "discount")
    f = f.sort_values("rate", kind="mergesort").reset_index(drop=True)
    output = str(f["output"].iloc[0]) if "output" in f.columns and len(f) else "npv"
    from mkba.outputs import is_ratio_name

    threshold = 1.0 if is_ratio_name(output) else 0.0
    r = f["rate"].to_numpy(dtype=float)
    y = f["npv_p50"].to_numpy(dtype=float) - threshold
    cross = math.nan
    for i in range(len(y) - 1):
        if y[i] == 0:
            cross = float(r[i])
            break
        if y[i] * y[i + 1] < 0:
            cross = float(r[i] + (r[i + 1] - r[i]) * y[i] / (y[i] - y[i + 1]))
            break
    meta = {"rate": rate, "switching_rate": cross, "output": output, "threshold": threshold}
    return ChartData(f, meta)


def variant_label(row: dict[str, Any] | pd.Series, lang: str) -> str:
    """A variant's name in ``lang``: ``title_nl`` (Dutch) or ``title`` (English) of the batch
    table, else its id with spaces for underscores (``half_budget`` -> ``half budget``)."""
    col = "title_nl" if check_lang(lang) == "nl" else "title"
    name = row.get(col)
    if isinstance(name, str) and name.strip():
        return name
    return str(row["variant"]).replace("_", " ")


def variants(df: pd.DataFrame, perspective: str | None = None, lang: str = "en") -> ChartData:
    """Variant comparison, in the order given (the batch's order), with each variant's name
    in ``lang`` in a ``label`` column (:func:`variant_label`).

    A batch's ``comparison`` table (one row per job and perspective, ``costs_pv_p50``...) is
    accepted too: it is cut to ``perspective`` (default: ``study`` if present, else the first)
    and its columns renamed (see :func:`normalize`).
    """
    f = normalize("variants", df, perspective=perspective)
    check_columns(f, VARIANT_COLUMNS, "comparison")
    f = f.reset_index(drop=True).copy()
    f["label"] = [variant_label(r, lang) for _, r in f.iterrows()]
    return ChartData(f, {"perspective": perspective})


def perspectives_table(run: RunData, labels: Labels) -> pd.DataFrame:
    """One row per perspective: costs, benefits, NPV (P50, P5, P95), BCR P50, P(NPV > 0)."""
    rows = []
    for p, d in run.summary["perspectives"].items():
        rows.append(
            {
                "perspective": p,
                "label": labels.perspective(p),
                "costs_p50": _stat(d["costs_pv"], "p50"),
                "benefits_p50": _stat(d["benefits_pv"], "p50"),
                "npv_p50": _stat(d["npv"], "p50"),
                "npv_p5": _stat(d["npv"], "p5"),
                "npv_p95": _stat(d["npv"], "p95"),
                "npv_mean": _stat(d["npv"]),
                "bcr_p50": _stat(d["bcr"], "p50"),
                "prob_npv_positive": float(d["prob_npv_positive"]),
            }
        )
    return pd.DataFrame(rows)


def money_scale_values(run: RunData) -> list[float]:
    """The amounts that fix a run's common money unit (costs and benefits, all perspectives)."""
    vals = []
    for d in run.summary["perspectives"].values():
        vals += [_stat(d["costs_pv"], "p95"), _stat(d["benefits_pv"], "p95")]
    return vals


# --- assumptions and sources ----------------------------------------------------------------

_DIST_FIELDS = ("min", "mode", "max", "mean", "sd", "median", "high", "alpha", "beta")
"""Fields of a distribution in the order written; their words are ``dist.field.*`` in the
catalogue, the distributions' names ``dist.*``."""


def describe_value(q: Any, lang: str) -> str:
    """A quantity's value or distribution in words: ``PERT: min 0,02 · mode 0,06 · max 0,12``."""
    from mkba.report.format import format_plain, list_separator

    if q.dist is None:
        return format_plain(q.value, lang)
    d = q.dist
    name = text_or(f"dist.{d.type}", lang, d.type)
    if d.type == "choice":
        vals = list_separator(lang).join(format_plain(v, lang) for v in d.values)
        return f"{name}: {vals}"
    parts = []
    for f in _DIST_FIELDS:
        v = getattr(d, f, None)
        if v is None or (f in ("min", "max") and d.type == "beta" and v in (0.0, 1.0)):
            continue
        key = tr(f"dist.field.{f}", lang)
        if f == "high" and d.type == "lognormal":
            key = f"P{round(100 * d.high_q)}"
        parts.append(f"{key} {format_plain(v, lang)}")
    return f"{name}: " + " · ".join(parts)


def _sources(src: Any) -> list[dict[str, Any]]:
    if not src:
        return []
    return [
        {"title": s.title, "publisher": s.publisher, "year": s.year, "url": s.url, "table": s.table}
        for s in src
    ]


def _calibrated_budget(calibration_file: str | None) -> str | None:
    """The calibration record's note when it fitted the budget, else ``None``."""
    if not calibration_file or not Path(calibration_file).is_file():
        return None
    try:
        raw = tomllib.loads(Path(calibration_file).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    budget = raw.get("scenario", {}).get("budget")
    if not budget:
        return None
    date = raw.get("record", {}).get("date", "")
    keys = ", ".join(f"budget.{k}" for k in budget)
    return f"{keys}: fitted by mkba calibrate {date} ({Path(calibration_file).name})".strip()


def source_text(sources: list[dict[str, Any]]) -> str:
    """``Publisher (year): Title; ...`` for a table cell."""
    out = []
    for s in sources:
        who = f"{s['publisher']} ({s['year']})" if s.get("publisher") else f"({s['year']})"
        out.append(f"{who}: {s['title']}")
    return "; ".join(out)


ASSUMPTION_COLUMNS = (
    "group",
    "path",
    "label",
    "value",
    "unit",
    "price_year",
    "per",
    "uncertain",
    "sources",
    "assumption",
    "note",
    "calibrated",
    "origin",
    "origin_file",
)


def assumptions(run: RunData, labels: Labels) -> pd.DataFrame:
    """The assumptions table of a run (:func:`assumptions_from_spec`), as stamped into its
    ``inputs.json`` at run time; empty when a run has neither stored inputs nor a scenario."""
    if run.inputs is None:
        return pd.DataFrame(columns=list(ASSUMPTION_COLUMNS))
    return run.inputs.assumptions(labels.lang, ASSUMPTION_COLUMNS)


def assumptions_from_spec(run: RunData, labels: Labels) -> pd.DataFrame:
    """Every input of the run with unit, price year and sources (or the stated assumption).

    Groups: ``scenario`` (years, discount rate, budget), ``areas`` (the columns of
    areas.csv), ``parameters`` (every quantity, after calibration and overrides). Columns:
    see :data:`ASSUMPTION_COLUMNS`; ``sources`` holds a list of dicts (title, publisher,
    year, url, table). Empty when the run's scenario cannot be loaded.
    """
    from mkba.report.format import format_pct, format_plain

    spec = run.spec
    if spec is None:
        return pd.DataFrame(columns=list(ASSUMPTION_COLUMNS))
    lang = labels.lang
    sc = spec.scenario
    rows: list[dict[str, Any]] = []

    def row(group: str, path: str, label: str, value: str, unit: str = "", **kw: Any) -> None:
        rows.append(
            {
                "group": group,
                "path": path,
                "label": label,
                "value": value,
                "unit": unit,
                "price_year": kw.get("price_year"),
                "per": kw.get("per"),
                "uncertain": bool(kw.get("uncertain", False)),
                "sources": kw.get("sources", []),
                "assumption": kw.get("assumption"),
                "note": kw.get("note"),
                "calibrated": kw.get("calibrated"),
                "origin": kw.get("origin"),
                "origin_file": kw.get("origin_file"),
            }
        )

    row("scenario", "title", "Scenario", scenario_title(run, lang), "text", note=sc.description)
    row(
        "scenario",
        "areas",
        tr("data.areas", lang),
        ", ".join(labels.area(a) for a in sc.areas),
        "text",
    )
    for key in ("base_year", "price_year", "start_year", "horizon"):
        row("scenario", key, tr(f"data.{key}", lang), str(getattr(sc, key)), "year")
    dr = sc.discount_rate
    if dr.schedule is None:
        rate_text = format_pct(dr.rate, lang, 2)
    else:
        rate_text = "; ".join(
            f"{y}: {format_pct(r, lang, 2)}" for y, r in sorted(dr.schedule.items())
        )
    extra = [f"{labels.stream(s)} {format_pct(r, lang, 2)}" for s, r in dr.streams.items()]
    if dr.costs is not None:
        extra.append(f"{tr('data.costs', lang)} {format_pct(dr.costs, lang, 2)}")
    if extra:
        rate_text += " (" + ", ".join(extra) + ")"
    row(
        "scenario",
        "discount_rate",
        tr("data.discount_rate_real", lang),
        rate_text,
        "1/year",
    )
    row(
        "scenario",
        "perspective",
        tr("data.perspective", lang),
        labels.perspective(sc.perspective),
        "text",
    )
    b = sc.budget
    if b is not None:  # a bottom-up programme may have no top-down budget
        if b.per_resident is not None:
            amount, unit = format_plain(b.per_resident * b.scale, lang), "EUR/resident"
        elif b.total is not None:
            amount, unit = format_plain(b.total * b.scale, lang), "EUR"
        else:
            amount, unit = str(b.table), "table"
        row(
            "scenario",
            "budget",
            tr("data.programme_budget_all_payers", lang),
            amount,
            unit,
            price_year=b.price_year,
            per="once",
            sources=_sources(b.source),
            assumption=b.assumption,
            note=b.note,
            calibrated=_calibrated_budget(run.manifest.get("calibration_file")),
        )
        if b.domains:
            total = sum(b.domains.values()) or 1.0
            row(
                "scenario",
                "budget.domains",
                tr("data.budget_by_domain", lang),
                "; ".join(
                    f"{labels.domain(d)} {format_pct(v / total, lang)}"
                    for d, v in b.domains.items()
                ),
                "share",
            )
        if b.profile:
            total = sum(b.profile) or 1.0
            row(
                "scenario",
                "budget.profile",
                tr("data.spending_profile", lang),
                "; ".join(
                    f"{sc.start_year + i}: {format_pct(v / total, lang)}"
                    for i, v in enumerate(b.profile)
                ),
                "share",
            )
    params = spec.params
    for col, meta in params.areas.sidecar.columns.items():
        est = None
        if meta.estimated is not None:
            est = meta.estimated.method
        row(
            "areas",
            f"areas.{col}",
            meta.description,
            "areas.csv",
            meta.unit,
            sources=_sources(meta.source),
            assumption=meta.assumption or est,
            note=meta.note,
        )
    has_origin = hasattr(spec, "origin")
    for path, q in spec.quantities.items():
        origin = spec.origin(path) if has_origin else (None, None)
        row(
            "parameters",
            path,
            labels.param(path),
            describe_value(q, lang),
            q.unit,
            price_year=q.price_year,
            per=q.per,
            uncertain=q.is_uncertain,
            sources=_sources(q.source),
            assumption=q.assumption,
            note=q.note,
            calibrated=q.calibrated,
            origin=origin[0],
            origin_file=origin[1],
        )
    for d, dc in params.costs.domains.items():
        path = f"costs.{d}.payers"
        origin = spec.origin(path) if has_origin else (None, None)
        row(
            "parameters",
            path,
            f"{labels.domain(d)}: " + tr("data.payer_shares", lang),
            "; ".join(
                f"{labels.stakeholder(k)} {format_pct(v, lang)}"
                for k, v in dc.payers.shares.items()
            ),
            "share",
            sources=_sources(dc.payers.source),
            assumption=dc.payers.assumption,
            note=dc.payers.note,
            origin=origin[0],
            origin_file=origin[1],
        )
    return pd.DataFrame(rows, columns=list(ASSUMPTION_COLUMNS))
