"""The assumptions table of a report: every quantity of the model with its value or
distribution, unit, price year, provenance and origin, from a run's stored inputs."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mkba import tomlcache
from mkba.report.labels import Labels
from mkba.texts import text as tr
from mkba.texts import text_or

if TYPE_CHECKING:  # pandas and the run directory only for the report's data frames:
    import pandas as pd  # `mkba run` stamps the rows into inputs.json without them

    from mkba.report.rundir import RunData

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
        raw = tomlcache.loads(Path(calibration_file).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    budget = raw.get("scenario", {}).get("budget")
    if not budget:
        return None
    date = raw.get("record", {}).get("date", "")
    keys = ", ".join(f"budget.{k}" for k in budget)
    return f"{keys}: fitted by mkba calibrate {date} ({Path(calibration_file).name})".strip()


def _texts(obj: Any, lang: str, key: str) -> tuple[str | None, bool]:
    """The library text ``key`` of ``obj`` in ``lang`` and whether it is in that language: the
    Dutch twin (``key_nl``) in Dutch when given, else the English text."""
    en = getattr(obj, key, None)
    nl = getattr(obj, f"{key}_nl", None) if lang == "nl" else None
    return (nl, True) if nl is not None else (en, lang == "en")


def _library_texts(
    obj: Any,
    lang: str,
    assumption_default: tuple[str | None, bool] | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """``assumption``, ``note`` and ``translated`` keywords of a table row for ``obj`` in
    ``lang`` (see :func:`_texts`); ``assumption_default`` is the assumption (text, in ``lang``)
    when ``obj`` states none; ``label`` names the key that gives the row's label."""
    out: dict[str, Any] = {"translated": []}
    for key in ("assumption", "note"):
        text, done = _texts(obj, lang, key)
        if text is None and key == "assumption" and assumption_default is not None:
            text, done = assumption_default
        out[key] = text
        if done and lang != "en" and text is not None:
            out["translated"].append(key)
    if label is not None and lang != "en" and _texts(obj, lang, label)[1]:
        out["translated"].append("label")
    return out


def english_left(rows: list[dict[str, Any]]) -> bool:
    """Whether a Dutch assumptions table (rows of :data:`ASSUMPTION_COLUMNS`) still quotes a
    library or scenario text in English: one without a Dutch twin, or a calibration record."""
    for r in rows:
        keys = ["assumption", "note", "calibrated"] + (["label"] if r["group"] == "areas" else [])
        done = r.get("translated")
        done = done if isinstance(done, list | tuple) else []
        for k in keys:
            v = r.get(k)
            if isinstance(v, str) and v.strip() and k not in done:
                return True
    return False


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
    "translated",
)
"""``translated`` lists the text columns (``label``, ``assumption``, ``note``) of a row that are
written in the table's language from the library's Dutch twin (``assumption_nl``, ...); any
other library text in a Dutch table is English and shown marked as such."""


def assumptions(run: RunData, labels: Labels) -> pd.DataFrame:
    """The assumptions table of a run (:func:`assumptions_from_spec`), as stamped into its
    ``inputs.json`` at run time; empty when a run has neither stored inputs nor a scenario."""
    import pandas as pd

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
    import pandas as pd

    from mkba.report.rundir import scenario_title

    if run.spec is None:
        return pd.DataFrame(columns=list(ASSUMPTION_COLUMNS))
    rows = assumption_rows(
        run.spec,
        labels,
        title=scenario_title(run, labels.lang),
        calibration_file=run.manifest.get("calibration_file"),
    )
    return pd.DataFrame(rows, columns=list(ASSUMPTION_COLUMNS))


def assumption_rows(
    spec: Any, labels: Labels, *, title: str, calibration_file: str | None
) -> list[dict[str, Any]]:
    """The rows of :func:`assumptions_from_spec` (dicts of :data:`ASSUMPTION_COLUMNS`) of a
    loaded :class:`mkba.load.Spec`: ``title`` is the scenario's title in the labels' language
    and ``calibration_file`` the run's calibration record (manifest), if any. Needs no pandas:
    ``mkba run`` stamps them into ``inputs.json`` (:mod:`mkba.report.inputs`)."""
    from mkba.report.format import format_pct, format_plain

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
                "translated": kw.get("translated", []),
            }
        )

    desc, desc_done = _texts(sc, lang, "description")
    row(
        "scenario",
        "title",
        "Scenario",
        title,
        "text",
        note=desc,
        translated=["note"] if desc_done and lang != "en" and desc is not None else [],
    )
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
        extra.append(f"{tr('wb.costs', lang)} {format_pct(dr.costs, lang, 2)}")
    if extra:
        rate_text += " (" + ", ".join(extra) + ")"
    row(
        "scenario",
        "discount_rate",
        tr("axis.discount_rate", lang),
        rate_text,
        "1/year",
    )
    row(
        "scenario",
        "perspective",
        tr("doc.perspective", lang),
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
            **_library_texts(b, lang),
            calibrated=_calibrated_budget(calibration_file),
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
            est = _texts(meta.estimated, lang, "method")
        row(
            "areas",
            f"areas.{col}",
            str(_texts(meta, lang, "description")[0]),
            "areas.csv",
            meta.unit,
            sources=_sources(meta.source),
            **_library_texts(meta, lang, assumption_default=est, label="description"),
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
            **_library_texts(q, lang),
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
            **_library_texts(dc.payers, lang),
            origin=origin[0],
            origin_file=origin[1],
        )
    return rows
