"""Results of a bottom-up programme: money per intervention and physical effects.

* ``by_intervention``: per programme entry, PV of costs and benefits, NPV and BCR (scenario
  perspective, with the usual statistics), the NPV in every perspective, participants and
  planned spend. Measures can be ranked on it.
* ``physical``: participants and outcome units changed (people off bijstand, crimes avoided,
  care clients ...) per intervention, outcome, area and year, with mean and P5/P50/P95 over
  the draws; plus the total over the years (e.g. person-years off bijstand). Participants are
  planned, so their quantiles coincide.

Only scenarios with a programme get these keys (top-down scenarios are unchanged).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mkba.engine import Run
from mkba.outputs import Names, output_array, parse_output
from mkba.results import stats
from mkba.schema.interventions import EVIDENCE_GRADES
from mkba.schema.scenario import PERSPECTIVES


def has_programme(run: Run) -> bool:
    return run.model.programme is not None


def by_intervention(run: Run) -> dict[str, Any]:
    m = run.model
    pr = m.programme
    assert pr is not None
    o = run.outcomes
    ids, own = Names.of(m), m.spec.scenario.perspective
    out: dict[str, Any] = {}
    for mi, key in enumerate(pr.ids):

        def entry(part: str, persp: str = own, key: str = key) -> np.ndarray:
            """A registry output of this entry: ``P.by_intervention.KEY.PART``."""
            return output_array(o, m, parse_output(ids, f"{persp}.by_intervention.{key}.{part}"))

        ben, cost, npv = entry("benefits_pv"), entry("costs_pv"), entry("npv")
        f = m.spec.params.interventions[pr.files[mi]]
        out[key] = {
            "intervention": pr.files[mi],
            "label": pr.labels[mi],
            "label_nl": pr.labels_nl[mi],
            "participants": float(pr.participants[mi].sum()),
            "planned_spend": float(pr.planned_spend[mi].sum()),
            "costs_pv": stats(cost),
            "benefits_pv": stats(ben),
            "npv": stats(npv),
            "bcr": stats(entry("bcr")),
            "prob_npv_positive": float(np.mean(npv > 0)),
            "npv_by_perspective": {p: stats(entry("npv", p)) for p in PERSPECTIVES},
            "evidence": {
                s: {
                    "grade": e.evidence,
                    "grade_nl": EVIDENCE_GRADES[e.evidence][0],
                    "design": e.design,
                    "haircut": e.grade_haircut,
                }
                for s, e in f.effects.items()
            },
        }
    return out


def physical_table(run: Run) -> pd.DataFrame:
    """Long table: intervention, outcome (``participants`` or a stream), unit, area, year,
    mean, p5, p50, p95. Years without any change are left out."""
    m = run.model
    pr = m.programme
    assert pr is not None
    o = run.outcomes
    years = m.years
    rows: list[dict[str, Any]] = []
    for mi, key in enumerate(pr.ids):
        for ai, a in enumerate(m.areas):
            for t, y in enumerate(years):
                p = float(pr.participants[mi, ai, t])
                if p != 0.0:
                    rows.append(
                        {
                            "intervention": key,
                            "outcome": "participants",
                            "unit": "participant",
                            "area": a,
                            "year": int(y),
                            "mean": p,
                            "p5": p,
                            "p50": p,
                            "p95": p,
                        }
                    )
    if pr.n_links and o.physical.size:
        q = np.quantile(o.physical, (0.05, 0.5, 0.95), axis=0)  # (3, L, A, T)
        mean = o.physical.mean(axis=0)
        for li in range(pr.n_links):
            key = pr.ids[pr.link_int[li]]
            s = m.streams[pr.link_stream[li]]
            for ai, a in enumerate(m.areas):
                for t, y in enumerate(years):
                    if mean[li, ai, t] == 0.0 and q[2, li, ai, t] == 0.0 and q[0, li, ai, t] == 0.0:
                        continue
                    rows.append(
                        {
                            "intervention": key,
                            "outcome": s,
                            "unit": pr.link_unit[li],
                            "area": a,
                            "year": int(y),
                            "mean": float(mean[li, ai, t]),
                            "p5": float(q[0, li, ai, t]),
                            "p50": float(q[1, li, ai, t]),
                            "p95": float(q[2, li, ai, t]),
                        }
                    )
    cols = ["intervention", "outcome", "unit", "area", "year", "mean", "p5", "p50", "p95"]
    return pd.DataFrame(rows, columns=cols)


def physical_totals(run: Run) -> dict[str, Any]:
    """Per intervention and outcome, summed over areas and years: participants, and units
    changed (person-years off bijstand for a stock; crimes avoided for a yearly flow) with
    their statistics."""
    m = run.model
    pr = m.programme
    assert pr is not None
    o = run.outcomes
    out: dict[str, Any] = {}
    for mi, key in enumerate(pr.ids):
        out[key] = {"participants": float(pr.participants[mi].sum())}
    for li in range(pr.n_links):
        key = pr.ids[pr.link_int[li]]
        s = m.streams[pr.link_stream[li]]
        tot = o.physical[:, li].sum(axis=(1, 2))
        out[key][s] = {"unit": pr.link_total_unit[li], **stats(tot)}
    return out


def physical(run: Run) -> dict[str, Any]:
    """The ``physical`` key of a run summary: totals and the per-year rows."""
    return {
        "draws": int(run.outcomes.physical.shape[0]),  # draws the quantiles are taken over
        "totals": physical_totals(run),
        "rows": physical_table(run).to_dict(orient="records"),
    }


def by_intervention_table(run: Run) -> pd.DataFrame:
    rows = []
    for key, d in by_intervention(run).items():
        for metric in ("costs_pv", "benefits_pv", "npv", "bcr"):
            rows.append(
                {
                    "intervention": key,
                    "label": d["label"],
                    "participants": d["participants"],
                    "metric": metric,
                    **d[metric],
                }
            )
    return pd.DataFrame(rows)
