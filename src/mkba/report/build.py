"""The library calls behind ``mkba chart`` and ``mkba report``: one function each."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mkba.errors import InputError, Problem
from mkba.output import atomic_write_bytes, atomic_write_text
from mkba.report import charts as ch
from mkba.report import data as rd
from mkba.report.document import build_document
from mkba.report.format import LANGS
from mkba.report.html import render_html
from mkba.report.markdown import render_markdown
from mkba.report.workbook import build_workbook

REPORT_FORMATS = ("html", "md", "xlsx")
DEFAULT_REPORT_FORMATS = ("html", "xlsx")
CHART_DIR = "charts"
FILES = {"html": "report.html", "md": "report.md", "xlsx": "workbook.xlsx"}
"""File names of the report formats in the output folder (charts go to ``charts/``)."""

_NEEDS = {
    "sensitivity": "a sensitivity run (tornado, switching or discount tables as .csv or .parquet "
    "in the run directory, its sensitivity/ folder, or --sensitivity DIR)",
    "batch": "a batch comparison (comparison.csv or .parquet in the run directory, its batch/ "
    "folder, or --batch DIR)",
}


def _check(values: Sequence[str], allowed: Sequence[str], option: str) -> None:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise InputError(
            [Problem(option, "", f"must be one of {', '.join(allowed)}", v) for v in bad]
        )


def make_charts(
    run_dir: Path,
    *,
    kinds: Sequence[str] | None = None,
    formats: Sequence[str] = ch.FORMATS,
    lang: str = "en",
    out: Path | None = None,
    sensitivity: rd.Folders = None,
    batch: rd.Folders = None,
) -> list[Path]:
    """Write chart files ``<out>/<kind>.<format>`` (default ``out``: ``RUN_DIR/charts``).

    ``kinds=None`` draws every chart the run has data for; a kind asked for by name that
    lacks its data (e.g. ``tornado`` without a sensitivity run) is an input error.
    """
    _check([lang], LANGS, "--lang")
    _check(list(formats), ch.FORMATS, "--format")
    if kinds is not None:
        _check(list(kinds), ch.KINDS, "--kind")
    run = rd.load_run(run_dir, sensitivity=sensitivity, batch=batch)
    rendered = ch.render(run, kinds, formats=tuple(dict.fromkeys(formats)), lang=lang)
    if kinds is not None:
        missing = [k for k in kinds if k not in {r.kind for r in rendered}]
        if missing:
            raise InputError(
                [
                    Problem(
                        "--kind",
                        k,
                        f"this run has no data for it: it needs {_NEEDS[ch.CHARTS[k].needs]}"
                        if ch.CHARTS[k].needs
                        else "this run has no data for it",
                        k,
                    )
                    for k in missing
                ]
            )
    return ch.write(rendered, Path(out) if out is not None else Path(run_dir) / CHART_DIR)


def make_report(
    run_dir: Path,
    *,
    formats: Sequence[str] = DEFAULT_REPORT_FORMATS,
    lang: str = "en",
    out: Path | None = None,
    sensitivity: rd.Folders = None,
    batch: rd.Folders = None,
    charts: bool = True,
    decide: rd.Folders = None,
) -> list[Path]:
    """Write the report of a run into ``out`` (default: the run directory).

    Always the chart files (``charts/<kind>.png`` and ``.svg``, unless ``charts=False`` and
    only xlsx is asked for); then per format ``report.html`` (self-contained, charts inline),
    ``report.md`` (charts linked as PNG) and ``workbook.xlsx``.
    """
    _check([lang], LANGS, "--lang")
    _check(list(formats), REPORT_FORMATS, "--format")
    formats = tuple(dict.fromkeys(formats))
    run_dir = Path(run_dir)
    run = rd.load_run(run_dir, sensitivity=sensitivity, batch=batch)
    if decide:  # decision runs (mkba voi/allocate/discover/acceptability): "Deciding" section
        from mkba.report import decide as dreport

        run.cache["decisions"] = dreport.load_decisions(decide)
    folder = Path(out) if out is not None else run_dir
    written: list[Path] = []
    need_charts = charts or "html" in formats or "md" in formats
    rendered = ch.render(run, None, formats=ch.FORMATS, lang=lang) if need_charts else []
    if need_charts and run.cache.get("decisions"):
        rendered += dreport.render(run.cache["decisions"], lang)
    if charts or "md" in formats:
        written += ch.write(rendered, folder / CHART_DIR)
    kinds = {r.kind for r in rendered}
    if "html" in formats or "md" in formats:
        document = build_document(run, lang, kinds, run_dir_text=str(run_dir))
        if "html" in formats:
            svgs = {r.kind: r.files["svg"] for r in rendered}
            path = folder / FILES["html"]
            atomic_write_text(path, render_html(document, svgs))
            written.append(path)
        if "md" in formats:
            pngs = {r.kind: f"{CHART_DIR}/{r.kind}.png" for r in rendered}
            path = folder / FILES["md"]
            atomic_write_text(path, render_markdown(document, pngs))
            written.append(path)
    if "xlsx" in formats:
        path = folder / FILES["xlsx"]
        atomic_write_bytes(path, build_workbook(run, lang))
        written.append(path)
    return written
