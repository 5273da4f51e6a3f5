"""A synthetic many-area scenario: the reference scenario over ``n`` made-up neighbourhoods.

The Netherlands has about 3,000 wijken (CBS Wijk- en buurtkaart). To measure how the engine
scales in the number of areas, this builds, in a given folder, a copy of the shipped parameter
folder whose ``areas.csv`` holds the 20 real focus areas plus ``n`` synthetic ones (``w00001``,
...), each a copy of one of the real rows (cycled) with its population divided by 20 (wijk-sized,
about 3,000-8,000 inhabitants) plus the synthetic area's number ``k`` (so that no two areas are
equal: copies of one row would give byte-equal per-area columns, whose statistics the engine
computes once, :class:`mkba.results.ColumnCopies`, which would flatter the benchmark), and a scenario equal to the reference (calibration, budget per
resident, perspective, draws) but over the ``n`` synthetic areas. With
``area_weights = "low_financial_welfare_share"`` the budget per resident differs between areas,
so the investment response is not 1 everywhere. Numbers are not meaningful; the shape is.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "scenarios" / "reference-2021.toml"


def synthetic_areas_scenario(folder: Path, n: int, *, draws: int | None = None) -> Path:
    """Write ``folder/parameters`` and ``folder/areas-<n>.toml``; return the scenario path."""
    params = folder / "parameters"
    if not params.exists():
        shutil.copytree(REPO / "parameters", params)
        with open(REPO / "parameters" / "areas.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        fields = list(rows[0])
        with open(params / "areas.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)
            for k in range(1, 3001):
                r = dict(rows[(k - 1) % len(rows)])
                r["area_id"] = f"w{k:05d}"
                r["name"] = f"Wijk {k}"
                r["population"] = str(round(float(r["population"]) / 20) + k)
                w.writerow(r)
    if not 1 <= n <= 3000:
        raise ValueError("between 1 and 3,000 synthetic areas")
    text = REFERENCE.read_text()
    start = text.index("areas = [")
    end = text.index("]", start) + 1
    ids = ", ".join(f'"w{k:05d}"' for k in range(1, n + 1))
    text = text[:start] + f"areas = [{ids}]" + text[end:]
    text = text.replace('parameters = "../parameters"', 'parameters = "parameters"')
    text = text.replace(
        'calibration = "../parameters/calibration/reference-2021.toml"',
        'calibration = "parameters/calibration/reference-2021.toml"',
    )
    text = text.replace(
        'area_weights = "population"', 'area_weights = "low_financial_welfare_share"'
    )
    if draws is not None:
        text = text.replace("draws = 20000", f"draws = {draws}")
    path = folder / f"areas-{n}.toml"
    path.write_text(text)
    return path
