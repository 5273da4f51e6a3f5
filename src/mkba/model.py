"""Lowering: a validated :class:`~mkba.load.Spec` becomes dense arrays for the kernels.

Everything the kernel needs is either draw-independent (volumes, budgets, discount factors,
weights) or a per-draw parameter. Per-draw parameters are packed into one matrix ``theta``
(draws x slots): fixed quantities fill their slot with one value, uncertain ones get a column
of the uniform sample mapped through their inverse CDF. Money is indexed to the scenario's
price year here, once, with the CPI table: ``value * CPI[price_year] / CPI[value_price_year]``.

Notation (docs/model.md §1): areas a, streams s, components c, stakeholders k,
domains d, perspectives p, years t (base_year .. horizon).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mkba.distributions import InverseCdf
from mkba.errors import InputError, Problem
from mkba.interventions import Programme, active_entries, lower_programme
from mkba.load import Spec
from mkba.schema.parameters import STREAM_QUANTITIES
from mkba.schema.quantity import MAX_MAGNITUDE, Quantity
from mkba.schema.scenario import PERSPECTIVES, BudgetSpec
from mkba.tomlio import display_path, parse_number

if TYPE_CHECKING:
    from mkba.rng import ColumnPlan

# per-stream slots, in this order, in theta
STREAM_SLOTS = ("rate", "factor", *STREAM_QUANTITIES)
COMPONENT_SLOTS = ("unit_value", "growth")
DOMAIN_SLOTS = ("overrun", "additional_share", "followup_rate")
GLOBAL_SLOTS = ("elasticity", "governance_penalty")


@dataclass(frozen=True)
class Slots:
    """Offsets of each parameter block in ``theta``."""

    S: int
    C: int
    D: int

    def stream(self, name: str) -> int:
        return STREAM_SLOTS.index(name) * self.S

    def component(self, name: str) -> int:
        return len(STREAM_SLOTS) * self.S + COMPONENT_SLOTS.index(name) * self.C

    def domain(self, name: str) -> int:
        return (
            len(STREAM_SLOTS) * self.S
            + len(COMPONENT_SLOTS) * self.C
            + DOMAIN_SLOTS.index(name) * self.D
        )

    def glob(self, name: str) -> int:
        return (
            len(STREAM_SLOTS) * self.S
            + len(COMPONENT_SLOTS) * self.C
            + len(DOMAIN_SLOTS) * self.D
            + GLOBAL_SLOTS.index(name)
        )

    @property
    def size(self) -> int:
        return self.glob(GLOBAL_SLOTS[-1]) + 1


@dataclass(frozen=True)
class Model:
    """Dense arrays of one scenario. Money in euros of ``price_year``."""

    spec: Spec
    # labels
    areas: tuple[str, ...]
    area_names: tuple[str, ...]
    streams: tuple[str, ...]
    components: tuple[str, ...]
    stakeholders: tuple[str, ...]
    domains: tuple[str, ...]
    years: np.ndarray  # (T,) calendar years base_year..horizon
    # structure
    comp_stream: np.ndarray  # (C,) int
    comp_sign: np.ndarray  # (C,) +1 gain, -1 loss
    stakeholder_weights: np.ndarray  # (K, C) +1 gainer, -1 loser of a transfer
    benefit_weights: np.ndarray  # (P, C) which benefits each perspective counts
    cost_weights: np.ndarray  # (P, K) which payers' costs each perspective counts
    public: np.ndarray  # (K,) bool
    # volumes and response
    volume0: np.ndarray  # (A, S) base[a] * multiplier[a]
    data_year: np.ndarray  # (S,) year of the volume data
    response_w: np.ndarray  # (S, D)
    budget_ratio: np.ndarray  # (A, D) B_total / Bref_total (see response)
    gov_ratio: np.ndarray  # (A,) Bgov / Bgov_ref (1 without a governance domain)
    # programme timing per area
    prog_start: np.ndarray  # (A,) first budget year
    prog_end: np.ndarray  # (A,) last budget year
    period_group: np.ndarray  # (A,) index of the (start, end) group
    group_start: np.ndarray  # (G,)
    group_end: np.ndarray  # (G,)
    # costs
    budget: np.ndarray  # (A, D, T) programme spend per year, price-year euros; in the horizon
    # year minus the residual value of durable investment (see residual_value)
    payer_share: np.ndarray  # (D, K)
    budget_pv: np.ndarray  # (A, D) sum_t budget * DFc
    followup_pv: np.ndarray  # (A, D) PV of one unit of follow-up rate (avg annual spend x years)
    followup_flow: np.ndarray  # (A, D, T) undiscounted follow-up per unit rate
    # discounting
    df_stream: np.ndarray  # (S, T)
    df_cost: np.ndarray  # (T,)
    # per-draw parameters
    slots: Slots
    theta_fixed: np.ndarray  # (Q,) values of all slots (medians for uncertain ones)
    uncertain: tuple[str, ...]  # parameter paths sampled, in column order
    uncertain_slot: np.ndarray  # (U,) slot index of each uncertain column
    uncertain_scale: np.ndarray  # (U,) multiplier applied after the inverse CDF (CPI)
    quantities: dict[str, Quantity]
    slot_index: dict[str, tuple[int, float]]
    inverse_cdfs: tuple[InverseCdf, ...]
    registry: tuple[str, ...]  # every parameter path of the parameter folder, in file order
    uncertain_col: np.ndarray  # (U,) column of each uncertain parameter in the registry
    programme: Programme | None = None  # bottom-up interventions (docs/model.md §3), if any

    @property
    def shape(self) -> dict[str, int]:
        return {
            "areas": len(self.areas),
            "streams": len(self.streams),
            "components": len(self.components),
            "stakeholders": len(self.stakeholders),
            "domains": len(self.domains),
            "years": len(self.years),
        }

    def theta(self, u: np.ndarray) -> np.ndarray:
        """Per-draw parameter matrix from a uniform matrix ``u`` (draws x uncertain)."""
        return np.ascontiguousarray(self.theta_t(u).T)

    def _theta_t_fixed(self, n: int) -> np.ndarray:
        """A (slots x n) matrix with the fixed slots filled; the uncertain rows are left for
        the caller to write (every one of them is written)."""
        tht = np.empty((self.theta_fixed.size, n))
        fixed = np.ones(self.theta_fixed.size, dtype=bool)
        fixed[self.uncertain_slot] = False
        tht[fixed] = self.theta_fixed[fixed, None]
        return tht

    @functools.cached_property
    def fixed_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The slots that are not sampled (ascending) and their values: the rows
        :meth:`_theta_t_fixed` fills, for :func:`mkba.rng.fill_theta` to fill on its threads."""
        fixed = np.ones(self.theta_fixed.size, dtype=bool)
        fixed[self.uncertain_slot] = False
        rows = np.flatnonzero(fixed)
        return rows, self.theta_fixed[rows]

    @functools.cached_property
    def column_plan(self) -> ColumnPlan:
        """How the compiled sampler treats each uncertain column (:mod:`mkba.rng`)."""
        from mkba.rng import column_plan

        return column_plan(self.inverse_cdfs)

    def theta_t(self, u: np.ndarray, threads: int | None = None) -> np.ndarray:
        """The same, one parameter per row (slots x draws): the kernel's layout. The columns
        go through their inverse CDFs (:func:`mkba.rng.fill_theta`) on ``threads`` threads
        (default: numba's thread count; see :func:`mkba.sampling.for_each`); each writes its
        own row, so the numbers do not depend on the thread count."""
        from mkba.rng import fill_theta

        n = u.shape[0]
        tht = self._theta_t_fixed(n)
        ut = np.ascontiguousarray(u.T, dtype=np.float64)
        fill_theta(
            self.column_plan, self.inverse_cdfs, tht, self.uncertain_slot,
            self.uncertain_scale, ut=ut, threads=threads,
        )  # fmt: skip
        return tht

    def sample_theta_t(
        self,
        sampler: str,
        n: int,
        *,
        seed: int,
        chunk: int,
        threads: int | None = None,
        factor: tuple[np.ndarray, np.ndarray] | None = None,
        samples: np.ndarray | None = None,
        u_cols: np.ndarray | None = None,
        u_out: np.ndarray | None = None,
    ) -> np.ndarray:
        """``theta_t(apply_copula(uniform_matrix(...), factor))`` of one chunk of a ``random``
        or ``lhs`` sample, in one compiled pass per group of columns on several threads
        (:func:`mkba.rng.fill_theta`): each uncertain parameter's column is drawn from its own
        stream, clipped, put through its inverse CDF and scaled into its row. With a copula
        ``factor`` the columns are drawn first, the correlated ones then correlated together
        (:func:`mkba.sampling.apply_copula_t`), and their inverse CDFs applied after. The same
        numbers as the two steps, for any thread count. ``samples`` (n x uncertain, any layout;
        written in place when column-major, :func:`mkba.engine.column_major`), if given,
        receives the sampled values in their own units (``row / scale``).
        ``u_out`` (len(u_cols) x n), if given, receives the uniforms of the uncertain columns
        ``u_cols`` (the twin mode of :func:`mkba.rng.fill_theta`)."""
        from mkba.rng import fill_theta

        tht = np.empty((self.theta_fixed.size, n))  # the fixed rows filled on the threads
        fill_theta(
            self.column_plan, self.inverse_cdfs, tht, self.uncertain_slot,
            self.uncertain_scale, sampler=sampler, seed=seed, chunk=chunk,
            cols=self.uncertain_col, factor=factor, samples=samples, threads=threads,
            u_cols=u_cols, u_out=u_out, fixed=self.fixed_rows,
        )  # fmt: skip
        return tht

    def theta_at(self, values: dict[str, float]) -> np.ndarray:
        """One parameter vector: the fixed/base values, with ``values`` (by path, in the
        quantity's own units and price year) put in their slots."""
        th = self.theta_fixed.copy()
        index = {p: j for j, p in enumerate(self.uncertain)}
        for path, v in values.items():
            if path in index:
                j = index[path]
                th[self.uncertain_slot[j]] = v * self.uncertain_scale[j]
            else:
                slot, scale = self.slot_of(path)
                th[slot] = v * scale
        return th

    def slot_of(self, path: str) -> tuple[int, float]:
        """Slot index and price-index scale of a parameter path."""
        return self.slot_index[path]


def discount_factors(
    spec: Spec, years: np.ndarray, streams: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """``DF(t) = prod_{tau = base+1..t} 1 / (1 + rho(tau))``; DF(base_year) = 1.

    A scalar rate gives ``(1 + rho)^-(t - base_year)`` exactly; a schedule applies the rate in
    force in each year (the latest schedule entry at or before it).
    """
    sc = spec.scenario
    dr = sc.discount_rate

    def factors(rate_of_year: Callable[[int], float]) -> np.ndarray:
        rates = np.array([rate_of_year(int(y)) for y in years[1:]])
        if dr.schedule is None and np.all(rates == rates[0] if rates.size else True):
            return (1.0 + (rates[0] if rates.size else 0.0)) ** -(years - sc.base_year).astype(
                float
            )
        return np.concatenate([[1.0], np.cumprod(1.0 / (1.0 + rates))])

    def generic(y: int) -> float:
        if dr.schedule is None:
            assert dr.rate is not None
            return dr.rate
        keys = sorted(k for k in dr.schedule if k <= y)
        return dr.schedule[keys[-1]]

    def constant(rate: float) -> Callable[[int], float]:
        return lambda _y: rate

    base = factors(generic)
    df_stream = np.empty((len(streams), len(years)))
    for i, s in enumerate(streams):
        if s in dr.streams:
            df_stream[i] = factors(constant(dr.streams[s]))
        else:
            df_stream[i] = base
    df_cost = factors(constant(dr.costs)) if dr.costs is not None else base
    return df_stream, df_cost


def _table_years(spec: Spec, bs: BudgetSpec) -> list[int]:
    if bs.table is None:
        return []
    _, rows = spec.tables[bs.table]  # read at loading: lowering reads no files
    out = []
    for r in rows:
        try:
            out.append(int(r["year"]))
        except (KeyError, ValueError):
            continue
    return out


def _budget_array(
    spec: Spec,
    scenario_budget: BudgetSpec,
    areas: tuple[str, ...],
    domains: tuple[str, ...],
    years: np.ndarray,
    start_year: int | None = None,
) -> np.ndarray:
    """Budget B[a, d, t] in euros of the scenario price year."""
    params = spec.params
    sc = spec.scenario
    start = sc.start_year if start_year is None else start_year
    last = int(years[-1])
    bs = scenario_budget
    cpi = params.cpi.values
    index = cpi[sc.price_year] / cpi[bs.price_year]
    A, D, T = len(areas), len(domains), len(years)
    B = np.zeros((A, D, T))
    if bs.table is not None:
        path = (spec.path.parent / bs.table).resolve()
        name = display_path(path)
        cols, rows = spec.tables[bs.table]  # read at loading: lowering reads no files
        problems = []
        for need in ("area_id", "domain", "year", "amount"):
            if need not in cols:
                problems.append(Problem(name, "header", f"missing column {need!r}"))
        if problems:
            raise InputError(problems)
        for i, r in enumerate(rows, start=2):
            a, d = r["area_id"].strip(), r["domain"].strip()
            try:
                y, amt = int(r["year"]), parse_number(r["amount"])
            except ValueError:
                problems.append(
                    Problem(name, f"line {i}", "year must be an integer and amount a number", r)
                )
                continue
            if a not in areas:
                if a not in params.areas.ids:
                    problems.append(Problem(name, f"line {i}.area_id", "unknown area", a))
                continue
            if d not in domains:
                problems.append(Problem(name, f"line {i}.domain", "unknown domain", d))
                continue
            if not start <= y <= last:
                problems.append(Problem(name, f"line {i}.year", "outside start_year..horizon", y))
                continue
            if amt < 0 or not math.isfinite(amt) or amt > MAX_MAGNITUDE:
                problems.append(
                    Problem(
                        name,
                        f"line {i}.amount",
                        f"must be a non-negative number up to {MAX_MAGNITUDE:g}",
                        r["amount"],
                    )
                )
                continue
            B[areas.index(a), domains.index(d), y - int(years[0])] += amt
        if problems:
            raise InputError(problems)
    else:
        assert bs.domains is not None and bs.profile is not None
        if bs.total is not None:
            total = bs.total
        else:
            assert bs.per_resident is not None
            pop = params.areas.numeric["population"]
            total = bs.per_resident * float(sum(pop[params.areas.index(a)] for a in areas))
        if isinstance(bs.area_weights, str):
            col = params.areas.numeric[bs.area_weights]
            w_area = np.array([col[params.areas.index(a)] for a in areas])
        else:
            w_area = np.array([bs.area_weights[a] for a in areas], float)
        if w_area.sum() <= 0:
            raise InputError(
                [Problem(display_path(spec.path), "budget.area_weights", "weights sum to zero")]
            )
        w_area = w_area / w_area.sum()
        w_dom = np.array([bs.domains.get(d, 0.0) for d in domains])
        w_dom = w_dom / w_dom.sum()
        prof = np.asarray(bs.profile, float)
        prof = prof / prof.sum()
        t0 = start - int(years[0])
        B[:, :, t0 : t0 + prof.size] = (
            total * w_area[:, None, None] * w_dom[None, :, None] * prof[None, None, :]
        )
    return B * bs.scale * index


def lower(spec: Spec) -> Model:
    """Turn a validated spec into the dense arrays of :class:`Model`."""
    sc = spec.scenario
    params = spec.params
    q = spec.quantities
    areas = tuple(sc.areas)
    a_idx = [params.areas.index(a) for a in areas]
    names = params.areas.text.get("name", areas)
    area_names = tuple(names[i] for i in a_idx) if names is not areas else areas
    streams = tuple(params.streams)
    components = tuple(f"{s}.{c}" for s in streams for c in params.streams[s].components)
    stakeholders = tuple(params.model.stakeholders)
    domains = tuple(params.model.domains)
    years = np.arange(sc.base_year, sc.horizon + 1)
    A, S, C, K, D, T = (
        len(areas),
        len(streams),
        len(components),
        len(stakeholders),
        len(domains),
        len(years),
    )
    P = len(PERSPECTIVES)

    public = np.array([params.model.stakeholders[k].public for k in stakeholders])
    comp_stream = np.empty(C, dtype=np.int64)
    comp_sign = np.empty(C)
    kw = np.zeros((K, C))
    bw = np.zeros((P, C))
    for ci, cpath in enumerate(components):
        s, c = cpath.split(".")
        comp = params.streams[s].components[c]
        comp_stream[ci] = streams.index(s)
        sign = -1.0 if comp.loss else 1.0
        comp_sign[ci] = sign
        kw[stakeholders.index(comp.gainer), ci] += 1.0
        if comp.loser is not None:
            kw[stakeholders.index(comp.loser), ci] -= 1.0
        bw[PERSPECTIVES.index("welfare"), ci] = kw[:, ci].sum()
        bw[PERSPECTIVES.index("fiscal"), ci] = kw[public, ci].sum()
        bw[PERSPECTIVES.index("study"), ci] = 1.0 if comp.in_study else 0.0
    cw = np.zeros((P, K))
    cw[PERSPECTIVES.index("welfare")] = 1.0
    cw[PERSPECTIVES.index("fiscal")] = public
    cw[PERSPECTIVES.index("study")] = public

    numeric = params.areas.numeric
    volume0 = np.empty((A, S))
    data_year = np.empty(S)
    response_w = np.zeros((S, D))
    for si, s in enumerate(streams):
        st = params.streams[s]
        base = numeric[st.volume.base][a_idx]
        mult = numeric[st.volume.multiplier][a_idx] if st.volume.multiplier else np.ones(A)
        volume0[:, si] = base * mult
        data_year[si] = st.volume.year
        for d, w in st.response.weights.items():
            response_w[si, domains.index(d)] = w

    df_stream, df_cost = discount_factors(spec, years, streams)
    has_programme = bool(active_entries(sc))
    if sc.budget is None:  # a bottom-up programme only
        B = np.zeros((A, D, T))
    else:
        B = _budget_array(spec, sc.budget, areas, domains, years)
    Btot = B.sum(axis=2)
    base_sc = spec.base_scenario
    if (
        sc.budget is None
        or base_sc.budget is None
        or (
            base_sc.budget is sc.budget
            and base_sc.start_year == sc.start_year
            and base_sc.areas == sc.areas
        )
    ):
        Rtot = Btot
    else:
        # The reference budget (before the variant's changes) only enters through its totals
        # per area and domain, allocated over the scenario's own areas (a variant may select
        # a subset); lay it out over a span long enough for its own profile.
        bs0 = base_sc.budget
        span_end = max(
            sc.horizon,
            spec.base_scenario.start_year + len(bs0.profile or []) + 1,
            *_table_years(spec, bs0),
        )
        ref_years = np.arange(min(sc.base_year, spec.base_scenario.start_year), span_end + 1)
        base_areas = tuple(base_sc.areas)
        Rall = _budget_array(
            spec, bs0, base_areas, domains, ref_years, start_year=base_sc.start_year
        ).sum(axis=2)
        Rtot = Rall[[base_areas.index(a) for a in areas]]
    # Response ratio: B / Bref where the reference funds the domain; where the reference
    # spends nothing, a budget there has no estimated effect (ratio 0).
    with np.errstate(divide="ignore", invalid="ignore"):
        budget_ratio = np.where(Rtot > 0, Btot / np.where(Rtot > 0, Rtot, 1.0), 0.0)
    gov = [i for i, d in enumerate(domains) if params.model.domains[d].governance]
    # Governance ratio Bgov / Bgov_ref; 1 (no penalty) where the reference has no governance
    # budget, or without a governance domain.
    gov_ratio = np.where(Rtot[:, gov[0]] > 0, budget_ratio[:, gov[0]], 1.0) if gov else np.ones(A)

    spend = B.sum(axis=1)  # (A, T)
    active = spend > 0
    if not active.any(axis=1).all() and not has_programme:
        missing = [areas[i] for i in np.flatnonzero(~active.any(axis=1))]
        raise InputError(
            [Problem(display_path(spec.path), "budget", "areas without any budget", missing)]
        )
    # areas without a top-down budget (bottom-up programme only): no top-down effect (R = 0)
    prog_start = np.array(
        [years[np.flatnonzero(r)[0]] if r.any() else sc.start_year for r in active], dtype=float
    )
    prog_end = np.array(
        [years[np.flatnonzero(r)[-1]] if r.any() else sc.start_year for r in active], dtype=float
    )
    pairs = sorted(set(zip(prog_start.tolist(), prog_end.tolist(), strict=True)))
    period_group = np.array(
        [pairs.index((s0, e0)) for s0, e0 in zip(prog_start, prog_end, strict=True)], dtype=np.int64
    )
    group_start = np.array([p[0] for p in pairs])
    group_end = np.array([p[1] for p in pairs])

    payer_share = np.zeros((D, K))
    fyears = np.zeros(D, dtype=np.int64)
    for di, d in enumerate(domains):
        dc = params.costs.domains[d]
        for k, sh in dc.payers.shares.items():
            payer_share[di, stakeholders.index(k)] = sh
        fy = q[f"costs.{d}.followup_years"].value
        fyears[di] = int(fy) if fy is not None and math.isfinite(fy) else T
    followup_flow = np.zeros((A, D, T))
    for a in range(A):
        for dj in range(D):
            n_active = np.count_nonzero(B[a, dj] > 0)
            if n_active == 0:
                continue
            annual = Btot[a, dj] / n_active
            end_t = int(prog_end[a] - years[0])
            followup_flow[a, dj, end_t + 1 : min(T, end_t + 1 + fyears[dj])] = annual
    followup_pv = np.einsum("adt,t->ad", followup_flow, df_cost)
    # Residual value (Leidraad MKBA: restwaarde) of durable investment at the horizon, booked as
    # a negative cost in the horizon year; the response ratios and follow-up above use the
    # spend only. Costs then scale it by overrun and additionality like the spend it came from.
    life = np.array(
        [
            params.costs.domains[d].service_life.value  # type: ignore[union-attr]  # None excluded on the next line
            if params.costs.domains[d].service_life is not None
            else 0.0
            for d in domains
        ]
    )
    B = B.copy()
    B[:, :, -1] -= residual_value(B, years, life)
    budget_pv = np.einsum("adt,t->ad", B, df_cost)

    registry = tuple(params.quantities())
    if not has_programme:
        # without a programme the registry is that of the top-down parameters alone, so that a
        # Sobol design (whose columns depend on its dimension) is the same as before
        # interventions existed; random and LHS columns never depend on the others
        registry = tuple(p for p in registry if not p.startswith("interventions."))
    slots = Slots(S, C, D)
    theta_fixed = np.empty(slots.size)
    cpi = params.cpi.values
    uncertain: list[str] = []
    u_slot: list[int] = []
    u_scale: list[float] = []

    def fill(slot_map: dict[str, tuple[int, float]], absent: dict[str, float]) -> None:
        """Central values into ``theta_fixed`` (``absent[path]`` where the library has no such
        quantity) and the uncertain ones into the sampling lists, slot by slot."""
        for path, (slot, scale) in slot_map.items():
            qty = q.get(path)
            if qty is None:
                theta_fixed[slot] = absent[path]
                continue
            central = qty.value if qty.value is not None else _inverse_cdf(qty).median
            theta_fixed[slot] = central * scale
            if qty.is_uncertain:
                uncertain.append(path)
                u_slot.append(slot)
                u_scale.append(scale)

    smap = _slot_map(streams, components, domains, slots, q, cpi, sc.price_year)
    fill(smap, {p: 1.0 for p in smap})  # only a volume factor may be absent: fixed 1
    programme = None
    if has_programme:
        programme, psmap, absent = lower_programme(
            spec,
            areas,
            streams,
            stakeholders,
            years,
            volume0,
            data_year,
            theta_fixed,
            slots.stream,
            slots.size,
            cw,
        )
        theta_fixed = np.concatenate([theta_fixed, np.empty(programme.n_slots)])
        fill(psmap, absent)
        smap = {**smap, **psmap}

    return Model(
        spec=spec,
        areas=areas,
        area_names=tuple(area_names),
        streams=streams,
        components=components,
        stakeholders=stakeholders,
        domains=domains,
        years=years,
        comp_stream=comp_stream,
        comp_sign=comp_sign,
        stakeholder_weights=kw,
        benefit_weights=bw,
        cost_weights=cw,
        public=public,
        volume0=volume0,
        data_year=data_year,
        response_w=response_w,
        budget_ratio=budget_ratio,
        gov_ratio=gov_ratio,
        prog_start=prog_start,
        prog_end=prog_end,
        period_group=period_group,
        group_start=group_start,
        group_end=group_end,
        budget=B,
        payer_share=payer_share,
        budget_pv=budget_pv,
        followup_pv=followup_pv,
        followup_flow=followup_flow,
        df_stream=df_stream,
        df_cost=df_cost,
        slots=slots,
        theta_fixed=theta_fixed,
        uncertain=tuple(uncertain),
        uncertain_slot=np.asarray(u_slot, dtype=np.int64),
        uncertain_scale=np.asarray(u_scale),
        quantities=q,
        slot_index=smap,
        inverse_cdfs=tuple(_inverse_cdf(q[p]) for p in uncertain),
        registry=registry,
        uncertain_col=np.array([registry.index(p) for p in uncertain], dtype=np.int64),
        programme=programme,
    )


def residual_value(budget: np.ndarray, years: np.ndarray, life: np.ndarray) -> np.ndarray:
    """Book value left at the end of the horizon year of the spend ``budget[a, d, t]``.

    Straight-line depreciation over the service life ``life[d]`` (years; 0 = not durable),
    money spent in the middle of its year: what is spent in year ``y`` has served
    ``horizon + 0.5 - y`` years by the end of the horizon, so
    ``R[a, d] = sum_y B[a, d, y] * max(0, 1 - (horizon + 0.5 - y) / life[d])``.
    """
    served = years[-1] + 0.5 - years.astype(float)  # (T,)
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(life[:, None] > 0, 1.0 - served[None, :] / life[:, None], 0.0)
    left = np.clip(left, 0.0, 1.0)  # (D, T)
    return np.einsum("adt,dt->ad", budget, left)


_INVERSE_CDFS: dict[str, InverseCdf] = {}


def _inverse_cdf(q: Quantity) -> InverseCdf:
    """The inverse CDF of a quantity, built once per distinct quantity in a process (building
    one tabulates about 2,000 exact quantiles; sweeps and calibrations lower many models)."""
    key = q.model_dump_json(include={"unit", "value", "dist"})
    inv = _INVERSE_CDFS.get(key)
    if inv is None:
        if len(_INVERSE_CDFS) > 4096:
            _INVERSE_CDFS.clear()
        inv = _INVERSE_CDFS[key] = InverseCdf(q)
    return inv


def _slot_map(
    streams: tuple[str, ...],
    components: tuple[str, ...],
    domains: tuple[str, ...],
    slots: Slots,
    q: dict[str, Quantity],
    cpi: dict[int, float],
    price_year: int,
) -> dict[str, tuple[int, float]]:
    """Slot and price-index scale of every parameter path the kernel reads."""
    out: dict[str, tuple[int, float]] = {}
    for si, s in enumerate(streams):
        for name in STREAM_SLOTS:
            key = (
                f"streams.{s}.volume.{name}"
                if name in ("rate", "factor")
                else f"streams.{s}.{name}"
            )
            out[key] = (slots.stream(name) + si, 1.0)
    for ci, cpath in enumerate(components):
        s, c = cpath.split(".")
        uv = q[f"streams.{s}.components.{c}.unit_value"]
        assert uv.price_year is not None  # money: the schema requires a price year
        out[f"streams.{s}.components.{c}.unit_value"] = (
            slots.component("unit_value") + ci,
            cpi[price_year] / cpi[uv.price_year],
        )
        out[f"streams.{s}.components.{c}.growth"] = (slots.component("growth") + ci, 1.0)
    for di, d in enumerate(domains):
        for name in DOMAIN_SLOTS:
            out[f"costs.{d}.{name}"] = (slots.domain(name) + di, 1.0)
    for name in GLOBAL_SLOTS:
        out[f"programme.{name}"] = (slots.glob(name), 1.0)
    return out
