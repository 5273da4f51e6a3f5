"""Compare two scenarios, variants or finished runs draw by draw.

Two scenarios (or variants) on the same parameter folder, run with the same seed and draws,
see the same random numbers for every shared parameter (common random numbers, see
:func:`mkba.engine.uniforms`): the distribution of their difference reflects the variant, not
sampling noise. Finished runs are compared draw by draw when their seed, draws, sampler, chunk
size and parameter folder agree; otherwise the difference is reported as between independent
samples, with a warning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mkba import engine, outputs, results
from mkba.batch import parse_job
from mkba.errors import InputError, Problem
from mkba.model import lower
from mkba.results import stats
from mkba.schema.scenario import PERSPECTIVES


@dataclass
class Side:
    label: str
    draws: pd.DataFrame
    meta: dict[str, Any]  # seed, draws, sampler, chunk_size, parameters_hash, perspective


def _from_run_dir(path: Path) -> Side:
    man_path, draws_path = path / "manifest.json", path / "draws.parquet"
    if not man_path.is_file() or not draws_path.is_file():
        raise InputError(
            [
                Problem(
                    str(path),
                    "",
                    "not a finished mkba run directory (no manifest.json or draws.parquet)",
                )
            ]
        )
    man = json.loads(man_path.read_text())
    label = man["scenario"] + (f":{man['variant']}" if man.get("variant") else "")
    return Side(label, pd.read_parquet(draws_path), man)


def _from_scenario(text: str, draws: int | None, seed: int | None) -> Side:
    job = parse_job(text)
    spec = job.load()
    model = lower(spec)
    run = engine.simulate(model, draws=draws, seed=seed)
    meta = {
        "seed": run.seed,
        "draws": run.draws,
        "sampler": run.sampler,
        "chunk_size": run.chunk_size,
        "parameters_hash": spec.params.digest,
        "perspective": spec.scenario.perspective,
    }
    return Side(job.label, results.draws_table(run), meta)


def load_side(text: str, draws: int | None = None, seed: int | None = None) -> Side:
    path = Path(text)
    if path.is_dir():
        return _from_run_dir(path)
    return _from_scenario(text, draws, seed)


def _crn(a: Side, b: Side) -> bool:
    keys = ("seed", "draws", "sampler", "chunk_size", "parameters_hash")
    return all(a.meta.get(k) == b.meta.get(k) for k in keys)


def compare_sides(a: Side, b: Side) -> dict[str, Any]:
    """The distribution of A - B, per perspective, stream, area and stakeholder.

    Every figure is a registry output (:mod:`mkba.outputs`) read from each side's draws table
    with :func:`~mkba.outputs.table_array`: ``P.npv``, ``P.costs_pv``, ``P.benefits_pv``,
    ``P.by_stream.S`` (A's perspective), ``by_area.A.npv`` and ``by_stakeholder.K`` (net)."""
    crn = _crn(a, b)
    n = min(len(a.draws), len(b.draws))
    da, db = a.draws.iloc[:n], b.draws.iloc[:n]
    doc: dict[str, Any] = {
        "a": a.label,
        "b": b.label,
        "draws": n,
        "common_random_numbers": crn,
        "perspectives": {},
        "by_stream": {},
        "by_area_npv": {},
        "by_stakeholder": {},
        "warnings": [],
    }
    if not crn:
        doc["warnings"].append(
            "A and B do not share seed, draws, sampler, chunk size and parameter folder: their draws are "
            "independent, so the difference includes the Monte Carlo noise of both"
        )
    pa, pb = a.meta.get("perspective"), b.meta.get("perspective")
    p = pa if pa in PERSPECTIVES else "welfare"
    ids_a, ids_b = outputs.table_names(da.columns, p), outputs.table_names(db.columns, p)

    def side(table: pd.DataFrame, name: str) -> np.ndarray:
        return outputs.table_array(table, outputs.parse_output(ids_a, name))

    def diff(name: str) -> np.ndarray:
        return side(da, name) - side(db, name)

    for q in PERSPECTIVES:
        npv = diff(f"{q}.npv")
        doc["perspectives"][q] = {
            "npv_difference": stats(npv),
            "costs_difference": stats(diff(f"{q}.costs_pv")),
            "benefits_difference": stats(diff(f"{q}.benefits_pv")),
            "prob_a_better": float(np.mean(npv > 0)),
            "npv_a": stats(side(da, f"{q}.npv")),
            "npv_b": stats(side(db, f"{q}.npv")),
        }
    doc["stream_perspective"] = p
    for s in (s for s in ids_a.streams if s in ids_b.streams):
        doc["by_stream"][s] = stats(diff(f"{p}.by_stream.{s}"))
    for area in (x for x in ids_a.areas if x in ids_b.areas):
        doc["by_area_npv"][area] = stats(diff(f"by_area.{area}.npv"))
    for k in (k for k in ids_a.stakeholders if k in ids_b.stakeholders):
        doc["by_stakeholder"][k] = stats(diff(f"by_stakeholder.{k}"))
    if pa != pb:
        doc["warnings"].append(
            f"the per-area figures are in each run's own perspective ({pa} and {pb})"
        )
    return doc


def compare(a: str, b: str, *, draws: int | None = None, seed: int | None = None) -> dict[str, Any]:
    """Compare A and B: scenario files (``file.toml`` or ``file.toml:variant``) or run dirs.

    Scenarios are run with the same draws and seed (by default A's own), so that they use
    common random numbers.
    """
    side_a = load_side(a, draws, seed)
    if not Path(b).is_dir() and not Path(a).is_dir():
        draws = draws or side_a.meta["draws"]
        seed = side_a.meta["seed"] if seed is None else seed
    side_b = load_side(b, draws, seed)
    return compare_sides(side_a, side_b)
