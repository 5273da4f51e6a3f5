"""Parameter groups: which uncertain parameters a sensitivity method moves together.

A grouping is built from the model's registry of uncertain parameters (``model.uncertain``),
never written by hand. ``--groups`` values, combined:

- a built-in grouping (at most one): ``none`` (or ``parameter``: every parameter alone, the
  default), ``stream`` (one group per stream, plus ``costs`` and ``programme``), ``kind``
  (effects, dead weight, displacement, volumes, trends, timing, unit values, value growth,
  cost overruns, follow-up costs, additionality, and each programme parameter);
- named groups ``NAME=PATTERN[,PATTERN...]`` with glob patterns over parameter paths, e.g.
  ``effects=streams.*.effect`` or ``care_values=streams.care_*.components.*.unit_value``.
  Named groups take precedence; parameters they leave out follow the built-in grouping.

Correlated inputs (item 5 of the sensitivity issue). Sobol indices, and Morris screening read
as importance, assume independent inputs. Where the scenario rank-correlates parameters, the
default remedy is the grouped analysis: every set of parameters linked by correlations is put
in one group (their groups are merged), sampled through the scenario's Gaussian copula, and the
index of the group is then a proper share of variance. With ``correlations="ignore"`` the
correlations are dropped instead (inputs sampled independently) and a warning says so.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

from mkba.errors import InputError, Problem
from mkba.model import Model

BUILTIN = ("none", "parameter", "stream", "kind")
CORRELATION_MODES = ("group", "ignore")

_KIND = {
    "effect": "effects",
    "deadweight": "deadweight",
    "displacement": "displacement",
    "trend": "trends",
    "lag": "timing",
    "ramp": "timing",
    "half_life": "timing",
    "rate": "volumes",
    "factor": "volumes",
    "unit_value": "unit_values",
    "growth": "value_growth",
    "overrun": "cost_overruns",
    "followup_rate": "followup_costs",
    "additional_share": "additionality",
}


def stream_of(path: str) -> str:
    """The stream a parameter belongs to, or ``costs`` / ``programme``."""
    parts = path.split(".")
    if parts[0] == "streams" and len(parts) > 1:
        return parts[1]
    return parts[0]


def kind_of(path: str) -> str:
    """The kind of a parameter (all effect sizes, all unit values, ...)."""
    parts = path.split(".")
    if parts[0] == "programme":
        return parts[-1]
    return _KIND.get(parts[-1], parts[-1])


@dataclass(frozen=True)
class Grouping:
    """Which parameters are analysed and in which group each one is.

    ``params`` are in the model's column order; ``labels[i]`` is the group of ``params[i]``;
    ``names`` are the groups in order of first appearance (SALib's order).
    """

    params: tuple[str, ...]
    labels: tuple[str, ...]
    # correlations sampled through the scenario's copula (each set kept whole in one group)
    pairs: tuple[tuple[str, str, float], ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.labels))

    def members(self, name: str) -> tuple[str, ...]:
        return tuple(p for p, g in zip(self.params, self.labels, strict=True) if g == name)

    @property
    def trivial(self) -> bool:
        """Every parameter in a group of its own."""
        return len(self.names) == len(self.params)

    def as_dict(self) -> dict[str, list[str]]:
        return {g: list(self.members(g)) for g in self.names}


def _problem(spec: str, message: str) -> Problem:
    return Problem("--groups", spec, message, spec)


def select_params(model: Model, patterns: Sequence[str] = ()) -> tuple[str, ...]:
    """Uncertain parameters matching any of the glob ``patterns`` (all when none given)."""
    if not patterns:
        return model.uncertain
    chosen: set[str] = set()
    problems = []
    for text in patterns:
        for pat in (p.strip() for p in text.split(",") if p.strip()):
            hits = fnmatch.filter(model.uncertain, pat)
            if not hits:
                problems.append(
                    Problem("--params", pat, "matches no uncertain parameter of the scenario", pat)
                )
            chosen.update(hits)
    if problems:
        raise InputError(problems)
    return tuple(p for p in model.uncertain if p in chosen)


def correlated_sets(model: Model) -> list[tuple[str, ...]]:
    """Sets of uncertain parameters linked by the scenario's correlations (connected parts)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for c in model.spec.scenario.correlations:
        a, b = c.params
        parent[find(a)] = find(b)
    sets: dict[str, list[str]] = {}
    for p in model.uncertain:
        if p in parent:
            sets.setdefault(find(p), []).append(p)
    return [tuple(v) for v in sets.values() if len(v) > 1]


def resolve_groups(
    model: Model,
    specs: Sequence[str] = (),
    *,
    params: Sequence[str] | None = None,
    correlations: str = "group",
) -> Grouping:
    """Build the grouping of ``params`` (default: every uncertain parameter) from ``specs``.

    Parameters
    ----------
    model : Model
        The lowered scenario (its registry of uncertain parameters and correlations).
    specs : sequence of str
        ``--groups`` values (see the module docstring).
    params : sequence of str, optional
        The parameters to analyse, a subset of ``model.uncertain``.
    correlations : {"group", "ignore"}
        ``group``: correlated parameters are put in one group (their groups merged) and
        sampled through the copula; ``ignore``: sampled independently, with a warning.

    Raises
    ------
    InputError
        Unknown built-in groupings, more than one built-in, malformed ``NAME=PATTERN``,
        patterns that match nothing, parameters claimed by two named groups.
    """
    if correlations not in CORRELATION_MODES:
        raise InputError(
            [
                Problem(
                    "--correlations",
                    "",
                    f"expected one of {', '.join(CORRELATION_MODES)}",
                    correlations,
                )
            ]
        )
    chosen = tuple(model.uncertain if params is None else params)
    problems: list[Problem] = []
    builtin = "none"
    named: dict[str, str] = {}
    builtins_seen = []
    for raw in specs:
        spec = raw.strip()
        if "=" not in spec:
            if spec not in BUILTIN:
                problems.append(
                    _problem(
                        spec,
                        f"expected one of {', '.join(BUILTIN)} or NAME=PATTERN[,PATTERN...]",
                    )
                )
                continue
            builtins_seen.append(spec)
            builtin = spec
            continue
        name, _, pats = spec.partition("=")
        name = name.strip()
        patterns = [p.strip() for p in pats.split(",") if p.strip()]
        if not name or not patterns:
            problems.append(_problem(spec, "expected NAME=PATTERN[,PATTERN...]"))
            continue
        for pat in patterns:
            hits = fnmatch.filter(chosen, pat)
            if not hits:
                problems.append(_problem(spec, f"pattern {pat!r} matches no analysed parameter"))
            for h in hits:
                if named.get(h, name) != name:
                    problems.append(
                        _problem(spec, f"{h} is already in group {named[h]!r}"),
                    )
                named.setdefault(h, name)
    if len(set(builtins_seen)) > 1:
        problems.append(_problem(" ".join(builtins_seen), "give at most one built-in grouping"))
    if problems:
        raise InputError(problems)

    def label(p: str) -> str:
        if p in named:
            return named[p]
        if builtin == "stream":
            return stream_of(p)
        if builtin == "kind":
            return kind_of(p)
        return p

    labels = {p: label(p) for p in chosen}
    warnings: list[str] = []
    kept: list[tuple[str, ...]] = []
    for s in correlated_sets(model):
        inside = [p for p in s if p in labels]
        text = ", ".join(s)
        if correlations == "ignore":
            warnings.append(
                f"correlations between {text} are ignored (--correlations ignore): the inputs "
                "are sampled independently, so the indices describe the model without them"
            )
            continue
        if len(inside) < len(s):
            warnings.append(
                f"{text} are correlated but only {', '.join(inside) or 'none'} are analysed: "
                "the correlations are dropped and the inputs sampled independently"
            )
            continue
        kept.append(s)
        old = list(dict.fromkeys(labels[p] for p in s))
        if len(old) == 1:
            warnings.append(
                f"Sobol indices assume independent inputs; {text} are correlated and analysed "
                f"together in group {old[0]!r}"
            )
            continue
        merged = "+".join(old)
        for p, g in labels.items():
            if g in old:
                labels[p] = merged
        warnings.append(
            f"Sobol indices assume independent inputs; {text} are correlated, so their groups "
            f"are merged into one group {merged!r} (the default remedy; --correlations ignore "
            "samples them independently instead)"
        )
    in_kept = {p for s in kept for p in s}
    pairs = tuple(
        (c.params[0], c.params[1], c.rho)
        for c in model.spec.scenario.correlations
        if c.params[0] in in_kept
    )
    return Grouping(
        params=chosen,
        labels=tuple(labels[p] for p in chosen),
        pairs=pairs,
        warnings=tuple(warnings),
    )
