"""An input workbook: a scenario a finance department fills in with Excel.

``mkba template --xlsx FILE`` writes the workbook; ``mkba validate FILE.xlsx`` and
``mkba run FILE.xlsx`` read it back. Sheets (one header row, one row per item):

- ``scenario``: key | value | note -- title, years, discount rate, perspective, draws, seed,
  the parameter ``library`` (a folder, relative to the workbook), the ``streams`` used (comma
  separated), and the budget's price year and provenance;
- ``areas``: area_id | name | population | ... (numeric columns drive stream volumes);
- ``area_columns``: column | unit | description | year | source_* | assumption, one row per
  column of ``areas``;
- ``budget``: area_id | domain | year | amount (EUR of the budget price year, all payers);
- ``values``: parameter | value | dist | min | mode | max | unit | price_year | per | source_* |
  assumption: a parameter of the library set by the user (a scenario override);
- ``payers``: domain | stakeholder | share | source_* | assumption.

The workbook is turned into a programme folder (``mkba.toml`` extending the library, areas,
budget table, scenario) and loaded through the same validation as the TOML path; every problem
is reported at its cell: ``FILE.xlsx: sheet 'values', row 4, column 'value': ...``. Nothing is
computed or written when there is a problem. ``mkba run`` keeps the folder beside the workbook
(``FILE.mkba/``) so that ``mkba report`` finds the scenario of the run.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from mkba.errors import InputError, Problem
from mkba.tomlio import display_path

if TYPE_CHECKING:  # pragma: no cover
    from mkba.load import Spec

SCENARIO_KEYS: dict[str, tuple[str, bool]] = {
    # key: (kind, required)
    "title": ("text", True),
    "title_nl": ("text", False),
    "library": ("text", True),
    "streams": ("list", False),
    "base_year": ("int", True),
    "price_year": ("int", True),
    "start_year": ("int", True),
    "horizon": ("int", True),
    "discount_rate": ("number", True),
    "perspective": ("text", False),
    "draws": ("int", False),
    "seed": ("int", False),
    "budget_price_year": ("int", True),
    "budget_source_title": ("text", False),
    "budget_source_publisher": ("text", False),
    "budget_source_year": ("int", False),
    "budget_source_url": ("text", False),
    "budget_assumption": ("text", False),
}
SOURCE_COLS = ("source_title", "source_publisher", "source_year", "source_url")
VALUE_COLS = (
    "parameter",
    "value",
    "dist",
    "min",
    "mode",
    "max",
    "unit",
    "price_year",
    "per",
    *SOURCE_COLS,
    "assumption",
)
AREA_COLUMN_COLS = ("column", "unit", "description", "year", *SOURCE_COLS, "assumption")
BUDGET_COLS = ("area_id", "domain", "year", "amount")
PAYER_COLS = ("domain", "stakeholder", "share", *SOURCE_COLS, "assumption")


@dataclass
class Cells:
    """Where each generated key came from: (generated file, key prefix) -> cell text."""

    book: str
    where: dict[tuple[str, str], str] = field(default_factory=dict)
    folder: str = ""
    """Display path of the generated programme folder (problems of other files, e.g. of the
    library, keep their own file)."""

    def cell(self, sheet: str, row: int, column: str | None = None) -> str:
        text = f"sheet '{sheet}', row {row}"
        return text + (f", column '{column}'" if column else "")

    def map(self, problem: Problem) -> Problem:
        """A problem of a generated file, told at the workbook cell it came from."""
        best = None
        for (file, prefix), cell in self.where.items():
            if not problem.file.endswith(file):
                continue
            matches = problem.key == prefix or problem.key.startswith(prefix + ".")
            if matches and (best is None or len(prefix) > len(best[0])):
                best = (prefix, cell)
        if best is None and not (self.folder and problem.file.startswith(self.folder)):
            return problem
        key = best[1] if best else problem.key
        if best and problem.key != best[0] and best[0]:
            rest = problem.key[len(best[0]) + 1 :]
            if rest:
                key = f"{key} ({rest})"
        return Problem(self.book, key, problem.message, problem.value)


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v).strip()
    return s or None


def _number(
    v: Any, cells: Cells, sheet: str, row: int, col: str, problems: list[Problem]
) -> float | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, bool):
        problems.append(Problem(cells.book, cells.cell(sheet, row, col), "not a number", v))
        return None
    if isinstance(v, int | float):
        if not math.isfinite(float(v)):
            problems.append(Problem(cells.book, cells.cell(sheet, row, col), "not finite", v))
            return None
        return float(v)
    text = str(v).strip().replace("\u00a0", "")
    try:
        return (
            float(text.replace(",", "."))
            if text.count(",") == 1 and "." not in text
            else float(text)
        )
    except ValueError:
        problems.append(Problem(cells.book, cells.cell(sheet, row, col), "not a number", v))
        return None


def _integer(
    v: Any, cells: Cells, sheet: str, row: int, col: str, problems: list[Problem]
) -> int | None:
    x = _number(v, cells, sheet, row, col, problems)
    if x is None:
        return None
    if not x.is_integer():
        problems.append(Problem(cells.book, cells.cell(sheet, row, col), "not a whole number", v))
        return None
    return int(x)


def _sheet_rows(
    wb: Any,
    sheet: str,
    columns: tuple[str, ...],
    required: tuple[str, ...],
    cells: Cells,
    problems: list[Problem],
) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """Header and non-empty rows (row number, column -> value) of a sheet."""
    if sheet not in wb.sheetnames:
        problems.append(Problem(cells.book, f"sheet '{sheet}'", "missing sheet"))
        return [], []
    ws = wb[sheet]
    rows = list(ws.iter_rows(values_only=True))
    if not rows:
        problems.append(Problem(cells.book, f"sheet '{sheet}'", "empty sheet (no header row)"))
        return [], []
    header = [(_text(h) or "") for h in rows[0]]
    for need in required:
        if need not in header:
            problems.append(Problem(cells.book, cells.cell(sheet, 1), f"missing column {need!r}"))
    if columns:
        for i, h in enumerate(header):
            if h and h not in columns:
                problems.append(Problem(cells.book, cells.cell(sheet, 1, h), "unknown column", h))
                header[i] = ""
    out = []
    for r, values in enumerate(rows[1:], start=2):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        out.append((r, {h: v for h, v in zip(header, values, strict=False) if h}))
    return header, out


def _source(
    row: dict[str, Any], cells: Cells, sheet: str, r: int, problems: list[Problem]
) -> dict[str, Any] | None:
    title = _text(row.get("source_title"))
    if title is None:
        return None
    src: dict[str, Any] = {"title": title}
    pub = _text(row.get("source_publisher"))
    if pub:
        src["publisher"] = pub
    year = _integer(row.get("source_year"), cells, sheet, r, "source_year", problems)
    if year is not None:
        src["year"] = year
    url = _text(row.get("source_url"))
    if url:
        src["url"] = url
    return src


def read_workbook(path: Path, folder: Path) -> tuple[Path, Cells]:
    """Write the programme folder of workbook ``path`` into ``folder``; return the scenario
    file and the cell map. Raises :class:`InputError` (at cells) for problems found in the
    sheets themselves."""
    import openpyxl

    path = Path(path)
    book = display_path(path)
    cells = Cells(book)
    problems: list[Problem] = []
    scen_file = f"scenarios/{path.stem}.toml"
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise InputError([Problem(book, "", "file not found")]) from None
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise InputError([Problem(book, "", f"cannot read the workbook: {exc}")]) from None

    # --- scenario
    _, srows = _sheet_rows(
        wb, "scenario", ("key", "value", "note"), ("key", "value"), cells, problems
    )
    sc: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for r, row in srows:
        key = _text(row.get("key"))
        if key is None:
            continue
        if key not in SCENARIO_KEYS:
            problems.append(Problem(book, cells.cell("scenario", r, "key"), "unknown key", key))
            continue
        if key in seen:
            problems.append(
                Problem(
                    book, cells.cell("scenario", r, "key"), f"given twice (row {seen[key]})", key
                )
            )
            continue
        seen[key] = r
        kind, _ = SCENARIO_KEYS[key]
        v = row.get("value")
        x: Any  # an int, a number, a list of names or a text, by the key's kind
        if kind == "int":
            x = _integer(v, cells, "scenario", r, "value", problems)
        elif kind == "number":
            x = _number(v, cells, "scenario", r, "value", problems)
        elif kind == "list":
            t = _text(v)
            x = [s.strip() for s in t.split(",") if s.strip()] if t else None
        else:
            x = _text(v)
        if x is not None:
            sc[key] = x
    for key, (_, required) in SCENARIO_KEYS.items():
        if required and key not in sc and key not in seen:
            problems.append(Problem(book, "sheet 'scenario'", "missing key", key))
    library = None
    if "library" in sc:
        library = (path.parent / sc["library"]).resolve()
        if not (library / "model.toml").is_file():
            problems.append(
                Problem(
                    book,
                    cells.cell("scenario", seen["library"], "value"),
                    "not a parameter library folder (no model.toml)",
                    sc["library"],
                )
            )
            library = None

    # --- areas
    aheader, arows = _sheet_rows(wb, "areas", (), ("area_id", "population"), cells, problems)
    _, crows = _sheet_rows(
        wb, "area_columns", AREA_COLUMN_COLS, ("column", "unit", "description"), cells, problems
    )
    columns: dict[str, Any] = {}
    for r, row in crows:
        col = _text(row.get("column"))
        if col is None:
            continue
        meta: dict[str, Any] = {
            "unit": _text(row.get("unit")) or "",
            "description": _text(row.get("description")) or "",
        }
        year = _integer(row.get("year"), cells, "area_columns", r, "year", problems)
        if year is not None:
            meta["year"] = year
        src = _source(row, cells, "area_columns", r, problems)
        if src:
            meta["source"] = src
        if _text(row.get("assumption")):
            meta["assumption"] = _text(row.get("assumption"))
        columns[col] = meta
        cells.where[("areas.toml", f"columns.{col}")] = cells.cell("area_columns", r)
    area_cols = [h for h in aheader if h]
    area_ids: list[str] = []
    csv_lines = [",".join(area_cols)]
    for i, (r, row) in enumerate(arows, start=2):
        vals = []
        for c in area_cols:
            v = row.get(c)
            if c != "area_id" and columns.get(c, {}).get("unit") not in ("text", "flag", None):
                x = _number(v, cells, "areas", r, c, problems)
                vals.append("" if x is None else repr(x))
            else:
                t = _text(v) or ""
                if any(ch in t for ch in ',"\n'):
                    t = '"' + t.replace('"', '""') + '"'
                vals.append(t)
            cells.where[("areas.csv", f"line {i}.{c}")] = cells.cell("areas", r, c)
        cells.where[("areas.csv", f"line {i}")] = cells.cell("areas", r)
        area_ids.append(_text(row.get("area_id")) or "")
        csv_lines.append(",".join(vals))

    # --- budget
    _, brows = _sheet_rows(wb, "budget", BUDGET_COLS, BUDGET_COLS, cells, problems)
    budget_lines = ["area_id,domain,year,amount"]
    for i, (r, row) in enumerate(brows, start=2):
        a = _text(row.get("area_id")) or ""
        d = _text(row.get("domain")) or ""
        y = _integer(row.get("year"), cells, "budget", r, "year", problems)
        amt = _number(row.get("amount"), cells, "budget", r, "amount", problems)
        if a not in area_ids:
            problems.append(
                Problem(book, cells.cell("budget", r, "area_id"), "area not in sheet 'areas'", a)
            )
        if amt is not None and amt < 0:
            problems.append(
                Problem(book, cells.cell("budget", r, "amount"), "must be non-negative", amt)
            )
        for c in BUDGET_COLS:
            cells.where[("budget.csv", f"line {i}.{c}")] = cells.cell("budget", r, c)
        cells.where[("budget.csv", f"line {i}")] = cells.cell("budget", r)
        if y is not None and amt is not None:
            budget_lines.append(f"{a},{d},{y},{amt!r}")
    if len(budget_lines) == 1 and "budget" in wb.sheetnames:
        problems.append(Problem(book, "sheet 'budget'", "no budget rows"))

    # --- values (overrides)
    overrides: dict[str, Any] = {}
    _, vrows = _sheet_rows(wb, "values", VALUE_COLS, ("parameter", "unit"), cells, problems)
    for r, row in vrows:
        p = _text(row.get("parameter"))
        if p is None:
            continue
        q: dict[str, Any] = {"unit": _text(row.get("unit")) or ""}
        dist = _text(row.get("dist"))
        if dist:
            q["dist"] = {"type": dist}
            for k in ("min", "mode", "max"):
                x = _number(row.get(k), cells, "values", r, k, problems)
                if x is not None:
                    q["dist"][k] = x
        else:
            x = _number(row.get("value"), cells, "values", r, "value", problems)
            if x is not None:
                q["value"] = x
        py = _integer(row.get("price_year"), cells, "values", r, "price_year", problems)
        if py is not None:
            q["price_year"] = py
        if _text(row.get("per")):
            q["per"] = _text(row.get("per"))
        src = _source(row, cells, "values", r, problems)
        if src:
            q["source"] = src
        if _text(row.get("assumption")):
            q["assumption"] = _text(row.get("assumption"))
        overrides[p] = q
        cells.where[(scen_file, f"overrides.{p}")] = cells.cell("values", r, "parameter")
        for k, col in (
            ("value", "value"),
            ("dist", "dist"),
            ("unit", "unit"),
            ("price_year", "price_year"),
            ("per", "per"),
            ("source", "source_title"),
            ("assumption", "assumption"),
        ):
            cells.where[(scen_file, f"overrides.{p}.{k}")] = cells.cell("values", r, col)

    # --- payers
    _, prows = _sheet_rows(
        wb, "payers", PAYER_COLS, ("domain", "stakeholder", "share"), cells, problems
    )
    payers: dict[str, dict[str, Any]] = {}
    for r, row in prows:
        d = _text(row.get("domain")) or ""
        k = _text(row.get("stakeholder")) or ""
        share = _number(row.get("share"), cells, "payers", r, "share", problems)
        entry = payers.setdefault(d, {"shares": {}})
        if share is not None:
            entry["shares"][k] = share
        src = _source(row, cells, "payers", r, problems)
        if src:
            entry.setdefault("source", []).append(src)
        if _text(row.get("assumption")):
            entry["assumption"] = _text(row.get("assumption"))
        cells.where.setdefault((scen_file, f"overrides.costs.{d}.payers"), cells.cell("payers", r))
        cells.where[(scen_file, f"overrides.costs.{d}.payers.shares.{k}")] = cells.cell(
            "payers", r, "stakeholder"
        )
    for d, entry in payers.items():
        overrides[f"costs.{d}.payers"] = entry

    if problems:
        raise InputError(problems)

    # --- the programme folder
    assert library is not None
    folder.mkdir(parents=True, exist_ok=True)
    cells.folder = display_path(folder)
    (folder / "scenarios").mkdir(exist_ok=True)
    manifest: dict[str, Any] = {
        "title": sc["title"],
        "extends": Path(os.path.relpath(library, folder.resolve())).as_posix(),
    }
    if "streams" in sc:
        manifest["use"] = {"streams": sc["streams"]}
        cells.where[("mkba.toml", "use")] = cells.cell("scenario", seen["streams"], "value")
    (folder / "mkba.toml").write_text(tomli_w.dumps(manifest), encoding="utf-8")
    (folder / "areas.csv").write_text("\n".join(csv_lines) + "\n", encoding="utf-8")
    (folder / "areas.toml").write_text(
        tomli_w.dumps({"id_column": "area_id", "columns": columns}), encoding="utf-8"
    )
    (folder / "budget.csv").write_text("\n".join(budget_lines) + "\n", encoding="utf-8")
    budget: dict[str, Any] = {"price_year": sc["budget_price_year"], "table": "../budget.csv"}
    bsrc = {
        k[len("budget_source_") :]: sc[k]
        for k in (
            "budget_source_title",
            "budget_source_publisher",
            "budget_source_year",
            "budget_source_url",
        )
        if k in sc
    }
    if bsrc:
        budget["source"] = bsrc
    if "budget_assumption" in sc:
        budget["assumption"] = sc["budget_assumption"]
    scenario: dict[str, Any] = {
        k: sc[k]
        for k in (
            "title",
            "title_nl",
            "base_year",
            "price_year",
            "start_year",
            "horizon",
            "discount_rate",
            "perspective",
            "draws",
            "seed",
        )
        if k in sc
    }
    scenario["parameters"] = ".."
    scenario["areas"] = area_ids
    scenario["budget"] = budget
    if overrides:
        scenario["overrides"] = overrides
    for key, r in seen.items():
        target = {"budget_price_year": "budget.price_year"}.get(key, key)
        if key.startswith("budget_source") or key == "budget_assumption":
            target = "budget"
        cells.where[(scen_file, target)] = cells.cell("scenario", r, "value")
    cells.where[(scen_file, "areas")] = "sheet 'areas'"
    cells.where[(scen_file, "budget")] = "sheet 'budget'"
    scen_path = folder / scen_file
    scen_path.write_text(tomli_w.dumps(scenario), encoding="utf-8")
    return scen_path, cells


def load_workbook_scenario(path: Path, folder: Path | None = None) -> Spec:
    """The :class:`~mkba.load.Spec` of a workbook, validated as the TOML path is (every
    problem at its cell), with its budget checked by lowering it. With ``folder`` the programme
    folder is kept there; otherwise it is written to a temporary folder and removed."""
    from mkba.load import load_scenario
    from mkba.model import lower

    tmp = None
    if folder is None:
        tmp = Path(tempfile.mkdtemp(prefix="mkba-xlsx-"))
        folder = tmp
    try:
        scen, cells = read_workbook(path, folder)
        try:
            spec = load_scenario(scen)
            lower(spec)  # the budget table is read here: its problems too
        except InputError as exc:
            raise InputError([cells.map(p) for p in exc.problems]) from None
        return spec
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def programme_folder(path: Path) -> Path:
    """Where ``mkba run FILE.xlsx`` keeps the programme folder read from the workbook."""
    path = Path(path)
    return path.with_name(path.stem + ".mkba")


def validate_workbook(path: Path) -> list[Problem]:
    """Every problem of an input workbook (empty when it is valid); nothing is kept."""
    try:
        load_workbook_scenario(path)
    except InputError as exc:
        return list(exc.problems)
    return []


def prepare_run(path: Path) -> Path:
    """Validate the workbook, then (only when valid) write its programme folder beside it
    (``FILE.mkba/``, replaced) and return the scenario file to run."""
    load_workbook_scenario(path)
    folder = programme_folder(path)
    staging = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    scen, _ = read_workbook(path, staging)
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return folder / "scenarios" / scen.name


# --- the template ----------------------------------------------------------------------------


def write_template(path: Path, library: Path) -> Path:
    """An input workbook to fill in, with a worked example (two areas, EUR 2 m over four
    years, library streams) that validates and runs as written."""
    import xlsxwriter

    path = Path(path)
    rel = Path(os.path.relpath(Path(library).resolve(), path.resolve().parent)).as_posix()
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False})
    head = wb.add_format({"bold": True, "bg_color": "#DDE5F0", "border": 1})
    note = wb.add_format({"italic": True, "font_color": "#555555", "text_wrap": True})

    def sheet(
        name: str,
        header: tuple[str, ...],
        rows: list[tuple[Any, ...]],
        widths: dict[int, int] | None = None,
    ) -> None:
        ws = wb.add_worksheet(name)
        for c, h in enumerate(header):
            ws.write_string(0, c, h, head)
            ws.set_column(c, c, (widths or {}).get(c, max(12, len(h) + 2)))
        for r, values in enumerate(rows, start=1):
            for c, v in enumerate(values):
                if v is None:
                    continue
                if isinstance(v, int | float) and not isinstance(v, bool):
                    ws.write_number(r, c, v)
                else:
                    ws.write_string(r, c, str(v))
        ws.freeze_panes(1, 0)
        ws.repeat_rows(0)
        ws.set_landscape()
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)

    ws = wb.add_worksheet("instructions")
    ws.set_column(0, 0, 110)
    lines = [
        "mkba input workbook",
        "",
        "Fill in the sheets; one row per item, the first row is the header. Then:",
        "    mkba validate THIS.xlsx     every problem is named by sheet, row and column",
        "    mkba run THIS.xlsx          runs it (keeps the programme folder THIS.mkba/ beside the workbook)",
        "",
        "scenario: title, years, discount rate, the parameter library (a folder relative to this file) and",
        "    the streams of the library the programme uses (comma separated: ls parameters/streams).",
        "areas: one row per area; area_id lower-kebab-case. Every column needs a row in area_columns",
        "    with its unit and a source (title, publisher, year, url) or an assumption with the reasoning.",
        "budget: EUR per area, domain and year, all payers, in prices of budget_price_year.",
        "    Domains: physical, social, education, work, safety, governance.",
        "values: parameters of the library you set yourself, by path (as in the report's assumptions",
        "    table, e.g. streams.benefit_savings.effect): a value, or a distribution (dist = triangular,",
        "    pert or uniform with min, mode, max), its unit, price_year and per (year or once) for money,",
        "    and a source or an assumption.",
        "payers: who pays each domain's spending; shares of a domain sum to 1.",
    ]
    for i, t in enumerate(lines):
        ws.write_string(i, 0, t, note if i else head)
    sheet(
        "scenario",
        ("key", "value", "note"),
        [
            ("title", "Debt help in two areas", "Title of the scenario"),
            ("title_nl", "Schuldhulp in twee wijken", "Dutch title (report with --lang nl)"),
            ("library", rel, "The parameter library, relative to this workbook"),
            ("streams", "benefit_savings, care_mental", "Library streams the programme uses"),
            ("base_year", 2025, "Present values at this year"),
            ("price_year", 2025, "Money in prices of this year (CBS CPI up to 2025)"),
            ("start_year", 2026, "First year of spending"),
            ("horizon", 2040, "Last year counted"),
            ("discount_rate", 0.0225, "Real; Dutch standard since 2021"),
            ("perspective", "welfare", "welfare or fiscal"),
            ("draws", 2000, "Monte Carlo draws"),
            ("seed", 1, "Random seed"),
            ("budget_price_year", 2025, "Price year of the budget sheet"),
            (
                "budget_assumption",
                "EUR 2 m over four years from the municipal budget (template example).",
                "Or budget_source_title/_publisher/_year/_url",
            ),
        ],
        {0: 20, 1: 45, 2: 60},
    )
    sheet(
        "areas",
        ("area_id", "name", "population", "low_financial_welfare_share"),
        [("noord", "Noord", 12000, 0.12), ("zuid", "Zuid", 8000, 0.15)],
        {3: 28},
    )
    ex = "Template example; replace with CBS Kerncijfers wijken en buurten for your areas."
    sheet(
        "area_columns",
        AREA_COLUMN_COLS,
        [
            ("name", "text", "Area name", None, None, None, None, None, ex),
            ("population", "person", "Inhabitants on 1 January", 2025, None, None, None, None, ex),
            (
                "low_financial_welfare_share",
                "fraction",
                "Share of residents with low financial welfare",
                2024,
                None,
                None,
                None,
                None,
                ex,
            ),
        ],
        {2: 40, 8: 60},
    )
    sheet(
        "budget",
        BUDGET_COLS,
        [
            (a, d, y, amt)
            for a, share in (("noord", 0.6), ("zuid", 0.4))
            for d, dshare in (("social", 0.8), ("governance", 0.2))
            for y in (2026, 2027, 2028, 2029)
            for amt in (round(2_000_000 * share * dshare / 4, 2),)
        ],
    )
    sheet(
        "values",
        VALUE_COLS,
        [
            (
                "streams.benefit_savings.effect",
                None,
                "pert",
                0.0,
                0.01,
                0.03,
                "fraction",
                None,
                None,
                None,
                None,
                None,
                None,
                "A small debt-help programme takes about 1 % (0-3 %) of the areas' bijstand recipients off benefits (template example).",
            ),
            (
                "streams.care_mental.effect",
                None,
                "triangular",
                0.0,
                0.01,
                0.02,
                "fraction",
                None,
                None,
                None,
                None,
                None,
                None,
                "Less debt stress, slightly fewer mental-health clients (template example).",
            ),
        ],
        {0: 34, 13: 60},
    )
    sheet(
        "payers",
        PAYER_COLS,
        [
            (
                "social",
                "municipalities",
                1.0,
                None,
                None,
                None,
                None,
                "A municipal programme (template example).",
            ),
            (
                "governance",
                "municipalities",
                1.0,
                None,
                None,
                None,
                None,
                "A municipal programme (template example).",
            ),
        ],
        {7: 50},
    )
    wb.close()
    return path
