"""Property-based test over mutated scenario, parameter and areas files (issue 10).

Oracle, for every mutation hypothesis generates: ``mkba validate`` exits 0, or exits 2 with
``file: key`` messages; never a traceback or exit 1. And what validate accepts, a short run
(64 draws) accepts, with finite results (exit 0; no statistic undefined except a payback
year or BCR). The mutations replace, delete or rename any value of a TOML file (with
infinities, nan, huge and tiny numbers, wrong types, hostile text, distribution tables) and
any cell of ``areas.csv`` (including a byte-order mark, semicolons and decimal commas).

Bounded and deterministic: ``max_examples`` examples, ``derandomize=True``.
``python tests/test_hostile_inputs.py N`` runs N examples and prints the figures.
"""

from __future__ import annotations

import copy
import json
import math
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robust_helpers import cli, tiny_copy

MAX_EXAMPLES = 50
FIGURES = {"cases": 0, "valid": 0, "invalid": 0, "tracebacks": 0}

TOML_FILES = (
    "scenarios/one.toml",
    "parameters/streams/s1.toml",
    "parameters/costs.toml",
    "parameters/cpi.toml",
    "parameters/programme.toml",
    "parameters/areas.toml",
)
VALUES: list[Any] = [
    math.inf,
    -math.inf,
    math.nan,
    0,
    0.0,
    -1,
    -0.5,
    0.5,
    1,
    2,
    100,
    2100,
    1e15,
    1e16,
    1e308,
    -1e308,
    5e-324,
    10**30,
    2**63 - 1,
    "",
    "x",
    "=1+1",
    "$a_{$",
    "../../../x",
    True,
    [],
    [1, math.nan],
    [math.inf],
    {},
    {"type": "choice", "values": [0.1, math.nan]},
    {"type": "choice", "values": [0.0, 1e15]},
    {"type": "uniform", "min": 0.0, "max": math.inf},
    {"type": "uniform", "min": 0.0, "max": 1e15},
    {"type": "lognormal", "median": 1.0, "high": 1e15},
    {"type": "normal", "mean": 0.0, "sd": 1.0},
    {"type": "pert", "min": 0.0, "mode": 0.0, "max": 0.0},
    {"type": "beta", "alpha": 1e-300, "beta": 1e-300},
]
CSV_VALUES = [
    *("", "inf", "-inf", "nan", "-1", "1e308", "1e15", "1,500", "x", "=1+1", "$x$"),
    *("0", "0.3", "0,3", " 7 ", "12345", "1e6", "a3", "Area $x^2$", "=cmd"),
]


def _leaves(x: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(x, dict):
        for k, v in x.items():
            out += _leaves(v, (*path, k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            out += _leaves(v, (*path, i))
    return out


def _mutate_toml(data: dict[str, Any], path: tuple[Any, ...], op: str, value: Any) -> dict:
    data = copy.deepcopy(data)
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if op == "delete":
        del parent[last]
    elif op == "rename" and isinstance(parent, dict):
        parent[f"{last}x"] = parent.pop(last)
    elif op.startswith("scale"):
        old = parent[last]
        if isinstance(old, int | float) and not isinstance(old, bool):
            parent[last] = old * float(op.split(":")[1])  # a plausible, or extreme, number
    else:
        parent[last] = value
    return data


def _mutate_csv(text: str, row: int, col: int, value: str, form: str) -> str:
    lines = [ln.split(",") for ln in text.strip().splitlines()]
    r = lines[row % len(lines)]
    r[col % len(r)] = value
    sep = ";" if form in ("semicolon", "bom+semicolon") else ","
    out = "\n".join(sep.join(cells) for cells in lines) + "\n"
    if sep == ";":
        out = out.replace("0.25", "0,25").replace("0.5", "0,5")
    return ("\ufeff" if form.startswith("bom") else "") + out


STAT_KEYS = ("mean", "p5", "p50", "p95", "prob_npv_positive")


def _finite(doc: Any, key: str = "") -> list[str]:
    """Paths of undefined statistics (JSON null, or a number that is not finite) in a
    summary, except those undefined for some draws by nature (payback year, BCR, IRR)."""
    from mkba.results import _MAY_BE_UNDEFINED

    if key in _MAY_BE_UNDEFINED:
        return []
    if isinstance(doc, dict):
        bad = [k for k in STAT_KEYS if k in doc and not _is_finite(doc[k])]
        if "share_defined" in doc:
            bad.append("share_defined")
        return [f"{key}.{k}" for k in bad] + [
            p for k, v in doc.items() if isinstance(v, dict) for p in _finite(v, k)
        ]
    return []


def _is_finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


FILE_KEY = re.compile(r"error: [^:\s]*/[^:\s]*: \S")
"""``error: some/path: ...``: the message names the file (or folder) first."""


def check(root: Path, scenario: Path) -> None:
    FIGURES["cases"] += 1
    v = cli("validate", str(scenario))
    if "Traceback" in v.err or v.code == 1:
        FIGURES["tracebacks"] += 1
    assert v.code in (0, 2), v.err
    assert "Traceback" not in v.err and "internal error" not in v.err, v.err
    if v.code == 2:
        FIGURES["invalid"] += 1
        assert FILE_KEY.search(v.err), v.err
        return
    FIGURES["valid"] += 1
    r = cli("run", str(scenario), "-n", "64", "--no-write", "--json")
    if "Traceback" in r.err or r.code == 1:
        FIGURES["tracebacks"] += 1
    assert r.code == 0, f"validate accepted, run exit {r.code}:\n{r.err}"
    doc = json.loads(r.out)
    assert not _finite(doc), _finite(doc)


def _base(root: Path) -> Path:
    """The tiny fixture with two uncertain, correlated parameters, overrides and a grid."""
    scenario = tiny_copy(root)
    s1 = root / "parameters" / "streams" / "s1.toml"
    s1.write_text(
        s1.read_text()
        .replace(
            'unit = "fraction"\nvalue = 0.2\n',
            'unit = "fraction"\ndist = { type = "pert", min = 0.1, mode = 0.2, max = 0.4 }\n',
            1,
        )
        .replace(
            'unit = "fraction"\nvalue = 0.25\n',
            'unit = "fraction"\ndist = { type = "uniform", min = 0.1, max = 0.3 }\n',
            1,
        )
    )
    scenario.write_text(
        scenario.read_text().replace(
            "[variants.half]",
            '[[correlations]]\nparams = ["streams.s1.effect", "streams.s1.deadweight"]\n'
            'rho = 0.4\n\n[overrides."streams.s1.volume.rate"]\nscale = 1.1\n\n'
            '[overrides."streams.s1.ramp"]\nvalue = 1.0\nassumption = "A shorter ramp-up, as a test."'
            '\n\n[grid]\n"budget.scale" = [0.5, 1.0]\n\n[variants.half]',
        )
    )
    return scenario


toml_mutation = st.tuples(
    st.sampled_from(TOML_FILES),
    st.integers(0, 10_000),
    st.sampled_from(
        ["replace", "replace", "delete", "rename"]
        + [f"scale:{k}" for k in ("0", "0.5", "0.9", "1.1", "2", "10", "1e3", "1e9", "-1")]
    ),
    st.sampled_from(VALUES),
)
csv_mutation = st.tuples(
    st.integers(0, 10),
    st.integers(0, 10),
    st.sampled_from(CSV_VALUES),
    st.sampled_from(["plain", "bom", "semicolon", "bom+semicolon"]),
)
mutation = st.one_of(
    st.tuples(st.just("toml"), toml_mutation), st.tuples(st.just("csv"), csv_mutation)
)


def apply(root: Path, kind: str, m: tuple[Any, ...]) -> None:
    if kind == "toml":
        name, index, op, value = m
        path = root / name
        import tomllib

        data = tomllib.loads(path.read_text())
        leaves = _leaves(data)
        data = _mutate_toml(data, leaves[index % len(leaves)], op, value)
        path.write_text(tomli_w.dumps(data))
    else:
        row, col, value, form = m
        path = root / "parameters" / "areas.csv"
        path.write_text(_mutate_csv(path.read_text().lstrip("\ufeff"), row, col, value, form))


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(mutation, min_size=1, max_size=2))
def test_mutated_inputs_never_end_in_a_traceback(mutations: list[tuple[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        scenario = _base(root)
        for kind, m in mutations:
            apply(root, kind, m)
        check(root, scenario)


def test_the_unmutated_base_is_valid_and_runs() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        scenario = _base(root)
        assert cli("validate", str(scenario)).code == 0
        r = cli("run", str(scenario), "-n", "64", "--no-write", "--json")
        assert r.code == 0 and not _finite(json.loads(r.out))


if __name__ == "__main__":  # more examples for the figures in a report
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    inner = test_mutated_inputs_never_end_in_a_traceback.hypothesis.inner_test
    run = settings(max_examples=n, deadline=None, derandomize=True, database=None)(
        given(st.lists(mutation, min_size=1, max_size=2))(inner)
    )
    try:
        run()
    finally:
        print(json.dumps(FIGURES))
