"""Bottom-up interventions (maatregelen): loading, validation and lowering to arrays.

docs/model.md §3. A programme entry m of a scenario runs intervention file ``m`` in some
areas with a budget or a reach per year. Lowering turns it into:

* planned participants ``P[m, a, t]`` (deterministic: the plan, at the planned cost per
  participant, i.e. the base value of ``cost.per_participant``):
  budget-driven ``P = min(max(B(t) - F, 0) / c, target(t) - reached(t))``, reach-driven
  ``P = min(R(t), target(t) - reached(t))``, where ``reached`` is everyone this measure has
  already taken in that area (each person takes part once) and the target group is the base
  value of the stream's volume (times ``share``) or the given count. A cost overrun or a
  higher drawn cost per participant therefore raises costs only, never the reach;
* one *link* l per (entry, outcome stream) with its integer lag, its profile by year since
  participation (``[1]`` without a profile table), whether the last profile value decays with
  a half-life afterwards (``tail``), and the evidence haircut;
* per-draw parameter slots appended after the top-down ones: per entry cost per participant,
  fixed cost per area-year and overrun; per link effect, deadweight, attribution,
  displacement and half-life.

The kernel (:func:`mkba.kernel.simulate_programme`) and the NumPy oracle
(:func:`mkba.reference.simulate_programme`) then compute, per draw, area and link,

    X(t) = sum_{k < K} f[k] P(t - L - k) + tail(t),
    tail(t) = q tail(t-1) + q f[K-1] P(t - L - K),   q = 2^(-1/h) (0 without a half-life)
    D(t) = e (1 - dw)(1 - attr)(1 - disp)(1 - haircut) X(t)       units changed, alone

and combine the links acting on one stream in one area *sequentially on the part not yet
changed*, in programme order: with the stream's volume V(t) (nulalternatief, per draw),
``s_l = clip(D_l / V, -1, 1)``, ``dU_l = V s_l prod_{j before l} (1 - s_j)``. The combined
change ``V (1 - prod (1 - s_l))`` never exceeds V and counts nobody twice; each link's dU
is its attributable part (they sum to the combined change). dU moves the stream's volume,
so the stream's value components, transfers, stakeholders and perspectives apply unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mkba.errors import Problem
from mkba.schema.interventions import (
    EFFECT_QUANTITIES,
    INTERVENTION_QUANTITIES,
    InterventionFile,
)
from mkba.schema.quantity import Quantity
from mkba.tomlio import display_path

if TYPE_CHECKING:  # pragma: no cover
    from mkba.library import Layers
    from mkba.load import AreaTable, ParameterSet, Spec
    from mkba.schema.parameters import CpiFile, ModelFile, StreamFile
    from mkba.schema.scenario import ScenarioFile

DEFAULTS = {"fixed_per_area_year": 0.0, "overrun": 1.0, "half_life": 0.0}


def intervention_quantities(interventions: dict[str, InterventionFile]) -> dict[str, Quantity]:
    """Every quantity of the intervention files by its path, in file order."""
    out: dict[str, Quantity] = {}
    for iid, f in interventions.items():
        if f.target.share is not None:
            out[f"interventions.{iid}.target.share"] = f.target.share
        for key in INTERVENTION_QUANTITIES:
            q = getattr(f.cost, key)
            if q is not None:
                out[f"interventions.{iid}.cost.{key}"] = q
        for s, e in f.effects.items():
            for key in (*EFFECT_QUANTITIES, "lag"):
                q = getattr(e, key)
                if q is not None:
                    out[f"interventions.{iid}.effects.{s}.{key}"] = q
    return out


def load_interventions(
    layers: Layers,
    model: ModelFile | None,
    areas: AreaTable | None,
    streams: dict[str, StreamFile],
    cpi: CpiFile | None,
    problems: list[Problem],
) -> tuple[dict[str, InterventionFile], list[Path]]:
    """Validate ``interventions/*.toml`` over the library layers (the folder is optional;
    a programme folder adds or overlays entries like streams, see :mod:`mkba.library`)."""
    from mkba.load import _validate

    out: dict[str, InterventionFile] = {}
    # stream files on disk (an invalid stream file is reported once, by its own validation)
    known_streams = set(streams) | layers.ids("streams")
    entries = layers.entries("interventions", problems)
    paths = [p for ps in entries.values() for p in ps]
    for iid, ps in entries.items():
        name = display_path(ps[-1])
        if not iid.replace("_", "").isalnum() or not iid[0].isalpha() or iid.lower() != iid:
            problems.append(Problem(name, "", "intervention file names must be lower_snake_case"))
            continue
        raw, name = layers.read(f"interventions/{iid}.toml", problems)
        f = _validate(InterventionFile, raw, name, problems) if raw is not None else None
        if f is None:
            continue
        if f.target.stream is not None and f.target.stream not in known_streams:
            problems.append(Problem(name, "target.stream", "unknown stream", f.target.stream))
        # a library file's counts name the library's areas; a programme folder that replaces
        # the area table is checked per scenario instead (programme_problems: every area an
        # entry runs in needs a count)
        own_areas = not layers.is_programme or ps[-1].resolve().is_relative_to(layers.top.resolve())
        if f.target.count is not None and areas is not None and own_areas:
            for a in f.target.count.per_area:
                if a not in areas.ids:
                    problems.append(Problem(name, f"target.count.per_area.{a}", "unknown area", a))
        for s in f.effects:
            if s not in known_streams:
                problems.append(Problem(name, f"effects.{s}", "unknown stream", s))
        if model is not None:
            for k in f.cost.payers.shares:
                if k not in model.stakeholders:
                    problems.append(
                        Problem(name, f"cost.payers.shares.{k}", "unknown stakeholder", k)
                    )
        if cpi is not None:
            for key in ("per_participant", "fixed_per_area_year"):
                q = getattr(f.cost, key)
                if q is not None and q.price_year not in cpi.values:
                    problems.append(
                        Problem(
                            name,
                            f"cost.{key}.price_year",
                            f"price year outside the CPI table "
                            f"({min(cpi.values)}-{max(cpi.values)}); cannot index it",
                            q.price_year,
                        )
                    )
        out[iid] = f
    return out, paths


def active_entries(sc: ScenarioFile) -> list[tuple[str, Any]]:
    """The programme entries a scenario runs (dropped ones left out), in file order."""
    return [(k, e) for k, e in sc.interventions.items() if not e.drop]


def programme_problems(
    sc: ScenarioFile,
    params: ParameterSet,
    file: str,
    problems: list[Problem],
    quantities: dict[str, Quantity] | None = None,
) -> None:
    """Cross-checks of a scenario's ``[interventions.<id>]`` against the parameter folder, and
    of overridden intervention quantities the schema of the file would have refused."""
    cpi = params.cpi.values
    for path, q in (quantities or {}).items():
        if not path.startswith("interventions."):
            continue
        if path.endswith(".lag") and (q.value is None or q.value != math.floor(q.value)):
            problems.append(
                Problem(file, f"overrides.{path}", "lag must be a fixed whole number of years")
            )
        if path.endswith(".target.share") and q.value is None:
            problems.append(
                Problem(file, f"overrides.{path}", "share must be fixed (it plans the reach)")
            )
    used: dict[str, str] = {}
    for key, e in active_entries(sc):
        where = f"interventions.{key}"
        iid = e.intervention or key
        f = params.interventions.get(iid)
        if f is None:
            known = ", ".join(params.interventions) or "none"
            problems.append(
                Problem(
                    file, where, f"unknown intervention (parameters/interventions: {known})", iid
                )
            )
            continue
        if iid in used:
            problems.append(
                Problem(file, where, f"intervention already used by entry {used[iid]!r}", iid)
            )
        used[iid] = key
        areas = e.areas if e.areas is not None else sc.areas
        for a in areas:
            if a not in sc.areas:
                problems.append(Problem(file, f"{where}.areas", "area not in this scenario", a))
            if f.target.count is not None and a not in f.target.count.per_area:
                problems.append(
                    Problem(file, f"{where}.areas", "no target count for this area in the file", a)
                )
        start = e.start_year if e.start_year is not None else sc.start_year
        if start < sc.base_year:
            problems.append(Problem(file, f"{where}.start_year", "before base_year", start))
        sched_key = "budget" if e.budget is not None else "reach"
        sched = e.budget if e.budget is not None else e.reach
        lists = sched.items() if isinstance(sched, dict) else [(None, sched)]
        for a, v in lists:
            k = f"{where}.{sched_key}" + (f".{a}" if a is not None else "")
            if a is not None and a not in areas:
                problems.append(Problem(file, k, "area not among this entry's areas", a))
            if start + len(v) - 1 > sc.horizon:
                problems.append(Problem(file, k, "runs past the horizon", len(v)))
        if isinstance(sched, dict):
            for a in areas:
                if a not in sched:
                    problems.append(Problem(file, f"{where}.{sched_key}", f"no schedule for {a!r}"))
        if e.price_year is not None and e.price_year not in cpi:
            problems.append(
                Problem(file, f"{where}.price_year", "outside the CPI table", e.price_year)
            )


# --- lowering ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Programme:
    """Dense arrays of a scenario's bottom-up programme (M entries, L links, A areas, T years)."""

    ids: tuple[str, ...]  # (M,) scenario entry keys
    files: tuple[str, ...]  # (M,) intervention file ids
    labels: tuple[str, ...]
    labels_nl: tuple[str, ...]
    link_int: np.ndarray  # (L,) entry of each link
    link_stream: np.ndarray  # (L,) stream index
    link_lag: np.ndarray  # (L,) int years
    link_prof: np.ndarray  # (L, KP) effect multipliers by year since participation
    link_nprof: np.ndarray  # (L,) int length of each profile
    link_tail: np.ndarray  # (L,) 1.0: the last profile value decays with the half-life
    link_haircut: np.ndarray  # (L,)
    link_unit: tuple[str, ...]  # (L,) the stream's volume unit (people, crimes ...)
    link_total_unit: tuple[str, ...]  # (L,) unit of the sum over years: person-year, or crime
    participants: np.ndarray  # (M, A, T) planned participants
    fixed_years: np.ndarray  # (M, A, T) 1.0 in years the fixed cost applies
    target: np.ndarray  # (M, A, T) target group (base values)
    planned_spend: np.ndarray  # (M, A, T) planned euros (price year): P c + F
    payer_share: np.ndarray  # (M, K)
    cost_weights: np.ndarray  # (M, P) share of the entry's cost each perspective counts
    base_slot: int  # first programme slot in theta

    @property
    def n_entries(self) -> int:
        return len(self.ids)

    @property
    def n_links(self) -> int:
        return int(self.link_int.size)

    def int_slot(self, name: str) -> int:
        return self.base_slot + INTERVENTION_QUANTITIES.index(name) * self.n_entries

    def link_slot(self, name: str) -> int:
        return (
            self.base_slot
            + len(INTERVENTION_QUANTITIES) * self.n_entries
            + EFFECT_QUANTITIES.index(name) * self.n_links
        )

    @property
    def n_slots(self) -> int:
        return len(INTERVENTION_QUANTITIES) * self.n_entries + len(EFFECT_QUANTITIES) * self.n_links

    def offsets(self) -> tuple[np.ndarray, np.ndarray]:
        oi = np.array([self.int_slot(n) for n in INTERVENTION_QUANTITIES], dtype=np.int64)
        ol = np.array([self.link_slot(n) for n in EFFECT_QUANTITIES], dtype=np.int64)
        return oi, ol


def programme_slot_map(
    spec: Spec, base_slot: int
) -> tuple[list[tuple[str, str, int]], dict[str, tuple[int, float]]]:
    """The links [(entry, stream, file index)] and the slot/scale of every programme path."""
    sc = spec.scenario
    params = spec.params
    cpi = params.cpi.values
    entries = active_entries(sc)
    M = len(entries)
    links: list[tuple[str, str, int]] = []
    for mi, (key, e) in enumerate(entries):
        f = params.interventions[e.intervention or key]
        for s in f.effects:
            links.append((key, s, mi))
    L = len(links)
    smap: dict[str, tuple[int, float]] = {}
    for mi, (key, e) in enumerate(entries):
        iid = e.intervention or key
        f = params.interventions[iid]
        for j, name in enumerate(INTERVENTION_QUANTITIES):
            q = getattr(f.cost, name)
            scale = 1.0
            if q is not None and q.is_money:
                scale = cpi[sc.price_year] / cpi[q.price_year]
            smap[f"interventions.{iid}.cost.{name}"] = (base_slot + j * M + mi, scale)
    nI = len(INTERVENTION_QUANTITIES) * M
    for li, (key, s, mi) in enumerate(links):
        e = entries[mi][1]
        iid = e.intervention or key
        for j, name in enumerate(EFFECT_QUANTITIES):
            smap[f"interventions.{iid}.effects.{s}.{name}"] = (base_slot + nI + j * L + li, 1.0)
    return links, smap


def lower_programme(
    spec: Spec,
    areas: tuple[str, ...],
    streams: tuple[str, ...],
    stakeholders: tuple[str, ...],
    years: np.ndarray,
    volume0: np.ndarray,
    data_year: np.ndarray,
    theta_fixed: np.ndarray,
    stream_slot: Any,
    base_slot: int,
    cost_weights: np.ndarray,
) -> tuple[Programme, dict[str, tuple[int, float]], dict[str, float]]:
    """Arrays of the programme, its slot map, and the fixed value of every programme slot whose
    quantity is absent (fixed cost 0, overrun 1, no half-life)."""
    sc = spec.scenario
    params = spec.params
    q = spec.quantities
    cpi = params.cpi.values
    entries = active_entries(sc)
    links, smap = programme_slot_map(spec, base_slot)
    M, L, A, T, K = len(entries), len(links), len(areas), len(years), len(stakeholders)
    absent: dict[str, float] = {}
    for path in smap:
        if path not in q:
            absent[path] = DEFAULTS[path.rsplit(".", 1)[1]]

    def base_value(path: str) -> float:
        if path in absent:
            return absent[path]
        from mkba.model import _inverse_cdf

        qty = q[path]
        v = qty.value if qty.value is not None else _inverse_cdf(qty).median
        return float(v) * smap[path][1]

    participants = np.zeros((M, A, T))
    fixed_years = np.zeros((M, A, T))
    target = np.zeros((M, A, T))
    planned = np.zeros((M, A, T))
    payer = np.zeros((M, K))
    ids, files, labels, labels_nl = [], [], [], []
    y0 = int(years[0])
    for mi, (key, e) in enumerate(entries):
        iid = e.intervention or key
        f = params.interventions[iid]
        ids.append(key)
        files.append(iid)
        labels.append(f.label)
        labels_nl.append(f.label_nl)
        for k, sh in f.cost.payers.shares.items():
            payer[mi, stakeholders.index(k)] = sh
        c_plan = base_value(f"interventions.{iid}.cost.per_participant")
        f_plan = base_value(f"interventions.{iid}.cost.fixed_per_area_year")
        # target group per area and year (base values of the volume)
        if f.target.stream is not None:
            si = streams.index(f.target.stream)
            th = theta_fixed
            rate = th[stream_slot("rate") + si]
            fac = th[stream_slot("factor") + si]
            g = th[stream_slot("trend") + si]
            sq = q.get(f"interventions.{iid}.target.share")
            share = float(sq.value) if sq is not None and sq.value is not None else 1.0
            tgt = (
                volume0[:, si][:, None]
                * rate
                * fac
                * share
                * (1.0 + g) ** (years[None, :].astype(float) - data_year[si])
            )
        else:
            assert f.target.count is not None
            tgt = np.array([[f.target.count.per_area.get(a, 0.0)] * T for a in areas])
        entry_areas = e.areas if e.areas is not None else sc.areas
        start = (e.start_year if e.start_year is not None else sc.start_year) - y0
        index = cpi[sc.price_year] / cpi[e.price_year] if e.price_year is not None else 1.0
        for a in entry_areas:
            ai = areas.index(a)
            target[mi, ai] = tgt[ai]
            sched = e.budget if e.budget is not None else e.reach
            assert sched is not None
            vals = sched[a] if isinstance(sched, dict) else sched
            reached = 0.0
            for j, x in enumerate(vals):
                t = start + j
                x = x * e.scale
                if x <= 0.0:
                    continue
                if e.budget is not None:
                    avail = max(x * index - f_plan, 0.0) / c_plan if c_plan > 0 else 0.0
                else:
                    avail = x
                p = min(avail, max(tgt[ai, t] - reached, 0.0))
                reached += p
                participants[mi, ai, t] = p
                fixed_years[mi, ai, t] = 1.0
                planned[mi, ai, t] = p * c_plan + f_plan
    KP = max([1] + [len(_profile(spec, lk)) for lk in links])
    link_prof = np.zeros((L, KP))
    link_nprof = np.zeros(L, dtype=np.int64)
    link_tail = np.zeros(L)
    link_lag = np.zeros(L, dtype=np.int64)
    link_stream = np.zeros(L, dtype=np.int64)
    link_int = np.zeros(L, dtype=np.int64)
    link_haircut = np.zeros(L)
    units: list[str] = []
    total_units: list[str] = []
    for li, lk in enumerate(links):
        key, s, mi = lk
        e = entries[mi][1]
        eff = params.interventions[e.intervention or key].effects[s]
        prof = _profile(spec, lk)
        link_prof[li, : len(prof)] = prof
        link_nprof[li] = len(prof)
        link_tail[li] = 1.0 if eff.half_life is not None else 0.0
        link_lag[li] = int(q[f"interventions.{e.intervention or key}.effects.{s}.lag"].value or 0)
        link_stream[li] = streams.index(s)
        link_int[li] = mi
        link_haircut[li] = eff.grade_haircut
        units.append(params.streams[s].volume.unit)
        # a stock (persons, clients) summed over years gives unit-years; a flow (crimes a
        # year) summed over years gives units
        flow = params.streams[s].volume.rate.unit.endswith("/year")
        total_units.append(units[-1] if flow else f"{units[-1]}-year")
    prog = Programme(
        ids=tuple(ids),
        files=tuple(files),
        labels=tuple(labels),
        labels_nl=tuple(labels_nl),
        link_int=link_int,
        link_stream=link_stream,
        link_lag=link_lag,
        link_prof=link_prof,
        link_nprof=link_nprof,
        link_tail=link_tail,
        link_haircut=link_haircut,
        link_unit=tuple(units),
        link_total_unit=tuple(total_units),
        participants=participants,
        fixed_years=fixed_years,
        target=target,
        planned_spend=planned,
        payer_share=payer,
        cost_weights=payer @ cost_weights.T,
        base_slot=base_slot,
    )
    return prog, smap, absent


def _profile(spec: Spec, link: tuple[str, str, int]) -> list[float]:
    key, s, mi = link
    e = active_entries(spec.scenario)[mi][1]
    eff = spec.params.interventions[e.intervention or key].effects[s]
    return list(eff.profile.values) if eff.profile is not None else [1.0]


def persistence(h: float) -> float:
    """Yearly retention q = 2^(-1/h) of a half-life h (0 -> 0, inf -> 1)."""
    if h == 0.0:
        return 0.0
    if math.isinf(h):
        return 1.0
    return 0.5 ** (1.0 / h)
