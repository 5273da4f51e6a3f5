"""Generate the illustrative monitoring data of this folder (synthetic, not real figures).

The observations are the reference scenario's own volumes in Rotterdam-Zuid with the
programme, ``V(t) - dV(t)``, at one chosen parameter vector (the "truth" below; every other
parameter at its central value), plus normal measurement noise with the coefficient of
variation of each indicator, rounded to whole units. Run from the repository root:

    python examples/monitoring/generate.py

It rewrites ``observations.csv``; the same script gives the same file.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from mkba.load import load_scenario
from mkba.model import lower
from mkba.monitor.projection import volumes

HERE = Path(__file__).parent
AREA = "rotterdam-zuid"
YEARS = range(2021, 2026)  # nulmeting 2021 (the year before the programme), monitor 2022-2025
# indicator -> (stream, coefficient of variation of the measurement)
INDICATORS = {
    "bijstand": ("benefit_savings", 0.02),
    "jeugdzorg": ("care_youth", 0.03),
    "misdrijven": ("safety", 0.04),
}
# The truth the data are generated from: effects weaker than the calibrated reference assumes
# (its prior medians are about 0.21, 0.09 and 0.11), volumes and trends at their centres.
TRUTH = {
    "streams.benefit_savings.effect": 0.10,
    "streams.care_youth.effect": 0.05,
    "streams.safety.effect": 0.10,
    "streams.benefit_savings.trend": 0.0,
    "streams.care_youth.trend": 0.01,
    "streams.safety.trend": -0.005,
}
SEED = 2026


def main() -> None:
    m = lower(load_scenario(HERE.parents[1] / "scenarios" / "reference-2021.toml"))
    a = m.areas.index(AREA)
    theta = m.theta_at(TRUTH)[None, :]
    rng = np.random.default_rng(SEED)
    rows = []
    for ind, (stream, cv) in INDICATORS.items():
        pair = (a, m.streams.index(stream))
        V, dV = volumes(m, theta, (pair,))
        for year in YEARS:
            t = year - int(m.years[0])
            mu = float(V[0, 0, t] - dV[0, 0, t])
            value = round(mu * (1.0 + cv * rng.standard_normal()))
            rows.append(
                {
                    "indicator": ind,
                    "area_id": AREA,
                    "year": year,
                    "value": value,
                    "sd": "",
                    "cv": cv,
                    "baseline": "yes" if year == YEARS[0] else "no",
                }
            )
    with (HERE / "observations.csv").open("w", newline="", encoding="utf-8") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        wr.writeheader()
        wr.writerows(rows)


if __name__ == "__main__":
    main()
