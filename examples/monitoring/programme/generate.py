"""Generate the illustrative monitoring data of this folder (synthetic, not real figures).

For the example programme (scenarios/wijkprogramma-example.toml) in Den Haag Zuidwest:
bijstand recipients and youth-care clients, the model's own volumes with the programme
``V(t) - dV(t)`` (top-down none, the measures' changes included) at one chosen parameter
vector (the "truth" below: the measures' effects per participant at half their central
values; every other parameter at its central value), plus normal measurement noise; and the
participants reached by two measures: debt help as planned, the neighbourhood team at 80 % of
its plan (a shortfall the monitor should flag), each with 5 % noise. Run from the repository
root:

    python examples/monitoring/programme/generate.py

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
AREA = "den-haag-zuidwest"
YEARS = range(2025, 2029)  # nulmeting 2025 (the programme's first year), monitor 2026-2028
# indicator -> (stream, coefficient of variation of the measurement)
INDICATORS = {
    "bijstand": ("benefit_savings", 0.02),
    "jeugdzorg": ("care_youth", 0.03),
}
# participants: measure -> (share of the plan reached, coefficient of variation)
REACH = {"schuldhulp": (1.0, 0.05), "buurtteam": (0.8, 0.05)}
HALVED = (
    "interventions.schuldhulp.effects.benefit_savings.effect",
    "interventions.ips.effects.benefit_savings.effect",
    "interventions.buurtteam.effects.care_youth.effect",
)
SEED = 2027


def main() -> None:
    m = lower(load_scenario(HERE.parents[2] / "scenarios" / "wijkprogramma-example.toml"))
    pr = m.programme
    assert pr is not None
    a = m.areas.index(AREA)
    truth = {p: 0.5 * float(m.theta_fixed[m.slot_of(p)[0]]) for p in HALVED}
    theta = m.theta_at(truth)[None, :]
    rng = np.random.default_rng(SEED)
    rows = []
    for ind, (stream, cv) in INDICATORS.items():
        V, dV = volumes(m, theta, ((a, m.streams.index(stream)),))
        for year in YEARS:
            t = year - int(m.years[0])
            mu = float(V[0, 0, t] - dV[0, 0, t])
            rows.append(
                {
                    "indicator": ind,
                    "area_id": AREA,
                    "year": year,
                    "value": round(mu * (1.0 + cv * rng.standard_normal())),
                    "sd": "",
                    "cv": cv,
                    "baseline": "yes" if year == YEARS[0] else "no",
                    "intervention": "",
                }
            )
    for entry, (share, cv) in REACH.items():
        mi = pr.ids.index(entry)
        for year in YEARS:
            plan = float(pr.participants[mi, a, year - int(m.years[0])])
            if plan <= 0:
                continue
            rows.append(
                {
                    "indicator": "deelnemers",
                    "area_id": AREA,
                    "year": year,
                    "value": round(share * plan * (1.0 + cv * rng.standard_normal())),
                    "sd": "",
                    "cv": cv,
                    "baseline": "no",
                    "intervention": entry,
                }
            )
    with (HERE / "observations.csv").open("w", newline="", encoding="utf-8") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        wr.writeheader()
        wr.writerows(rows)


if __name__ == "__main__":
    main()
