"""A run directory as data: its files, the optional tables of sensitivity and batch runs
(found by name and column aliases, checked against the run's stamps), and its scenario.

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mkba.errors import InputError, MkbaError, Problem, RunError
from mkba.report.inputs import RunInputs, title_in
from mkba.report.labels import Labels, check_lang

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
    if run.inputs is not None:
        title_nl = run.inputs.title_nl
    else:
        title_nl = run.spec.scenario.title_nl if run.spec is not None else None
    return title_in(run.summary, title_nl, lang)
