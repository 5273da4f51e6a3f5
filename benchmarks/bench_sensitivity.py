"""Benchmark of global sensitivity analysis: Sobol' first-order and total indices, 30 groups,
N = 2^12 base samples, on the 16-area reference (issue 7, item 9: under 20 s end to end).

    python benchmarks/bench_sensitivity.py [--scenario PATH] [--n N] [--groups G] [--json]
                                           [--write]

Everything runs in one process. The numba functions are loaded (or compiled) first and that
time is reported apart; then the full Sobol' analysis (:func:`mkba.sensitivity.sobol`) is
timed end to end, split into

- sampling: the Saltelli design (:func:`mkba.sensitivity.design.saltelli_design`, unit cube,
  groups: SALib's design element for element, built with array operations); SALib's own
  sampler (:func:`SALib.sample.sobol.sample`) is timed once beside it on the same problem and
  seed (``salib_sampler_s``, ``design_speedup``, ``design_equal``; skip with
  ``--no-salib-sampler``);
- mapping: the uniforms through the engine's one sampling path (inverse CDFs, price index);
- model evaluations: :func:`mkba.engine.evaluate`, N (G + 2) parameter vectors;
- analysis: :func:`SALib.analyze.sobol.analyze` (estimators and 100 bootstrap resamples).

``--write`` also times the same analysis through :func:`mkba.sensitivity.run_sensitivity`,
which writes the run directory (tables, design, outputs) into a temporary folder. The groups
are the 76 uncertain parameters in model order, split into ``--groups`` contiguous chunks:
the cost of SALib's sampler grows with parameters x groups x N, the rest with groups x N.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_SCENARIO = REPO / "scenarios" / "reference-2021.toml"
sys.path.insert(0, str(REPO / "src"))  # benchmark this checkout's sources

_T0 = time.perf_counter()
import numba  # noqa: E402
import numpy as np  # noqa: E402

from mkba import engine  # noqa: E402
from mkba.load import load_scenario  # noqa: E402
from mkba.model import lower  # noqa: E402
from mkba.sensitivity import resolve_groups, run_sensitivity, sobol  # noqa: E402

_IMPORT_S = time.perf_counter() - _T0

TARGET_S = 20.0  # issue 7, item 9
TARGET_DESIGN_S = 1.0  # issue 17, target 7: the Sobol' design of 30 groups at N = 2^12


def log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def group_specs(params: tuple[str, ...], groups: int) -> list[str]:
    """``NAME=PATH,PATH,...`` specs splitting ``params`` into ``groups`` contiguous chunks."""
    chunks = np.array_split(np.array(params, dtype=object), groups)
    return [f"g{i + 1:02d}=" + ",".join(c) for i, c in enumerate(chunks) if len(c)]


def bench(a: argparse.Namespace) -> dict:  # type: ignore[type-arg]
    q = a.json
    res: dict = {  # type: ignore[type-arg]
        "scenario": str(a.scenario),
        "n": a.n,
        "import_s": _IMPORT_S,
        "machine": {
            "cpus": os.cpu_count(),
            "numba_threads": numba.get_num_threads(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    t0 = time.perf_counter()
    m = lower(load_scenario(a.scenario))
    res["load_s"] = time.perf_counter() - t0
    specs = group_specs(m.uncertain, a.groups)
    grouping = resolve_groups(m, specs)
    G, k = len(grouping.names), len(grouping.params)
    res.update(parameters=k, groups=G, evaluations=a.n * (G + 2))
    log(
        f"{Path(a.scenario).name}: {k} uncertain parameters in {G} groups, N = {a.n}: "
        f"{a.n * (G + 2):,} model evaluations",
        q,
    )

    # warm-up: load or compile every numba function and SALib's code paths (not timed below)
    t0 = time.perf_counter()
    tiny = m.theta(np.full((8, len(m.uncertain)), 0.5))
    engine.evaluate(m, tiny)
    sobol(m, ["npv"], grouping, n=16, seed=1, resamples=10)
    res["warm_up_s"] = time.perf_counter() - t0
    log(f"warm-up (numba cache load or compile, first SALib calls): {res['warm_up_s']:.2f} s", q)

    t0 = time.perf_counter()
    r = sobol(m, ["npv"], grouping, n=a.n, seed=a.seed)
    wall = time.perf_counter() - t0
    tm = r.timings
    split = {
        "sampling_design_s": tm["sample_s"],
        "sampling_inverse_cdf_s": tm["map_s"],
        "model_evaluations_s": tm["evaluate_s"],
        "salib_analysis_s": tm["analyze_s"],
    }
    split["other_s"] = wall - sum(split.values())
    res.update(
        end_to_end_s=wall,
        split=split,
        evaluation_share=tm["evaluate_s"] / wall,
        us_per_evaluation=1e6 * tm["evaluate_s"] / r.evaluations,
        target_s=TARGET_S,
        meets_target=wall < TARGET_S,
        converged=r.convergence["converged"],
        max_conf=r.convergence["max_conf"],
    )
    res["target_design_s"] = TARGET_DESIGN_S
    res["design_meets_target"] = tm["sample_s"] <= TARGET_DESIGN_S
    if not a.no_salib_sampler:
        from SALib.sample import sobol as sobol_sample

        from mkba.sensitivity.indices import salib_problem

        problem = salib_problem(grouping)
        t0 = time.perf_counter()
        x_salib = sobol_sample.sample(dict(problem), a.n, calc_second_order=False, seed=a.seed)
        res["salib_sampler_s"] = time.perf_counter() - t0
        res["design_equal"] = bool(np.array_equal(x_salib, r.design))
        res["design_speedup"] = res["salib_sampler_s"] / tm["sample_s"]
        log(
            f"SALib's sampler on the same problem: {res['salib_sampler_s']:.2f} s "
            f"({res['design_speedup']:.0f}x the design's {tm['sample_s']:.3f} s); "
            f"same design: {res['design_equal']}",
            q,
        )
    top = r.table.sort_values("ST", ascending=False).head(5)
    res["top_groups"] = [
        {"name": row.name, "ST": row.ST, "members": row.members} for row in top.itertuples()
    ]
    log(
        f"Sobol' end to end: {wall:.2f} s (target < {TARGET_S:.0f} s: "
        f"{'met' if wall < TARGET_S else 'NOT met'})",
        q,
    )
    for key, v in split.items():
        log(f"  {key.removesuffix('_s'):24s} {v:7.2f} s  {100 * v / wall:5.1f} %", q)
    log(
        f"  model: {res['us_per_evaluation']:.1f} us per evaluation; "
        f"{'converged' if r.convergence['converged'] else 'NOT converged'} "
        f"(largest 95 % half-width {r.convergence['max_conf']:.3f})",
        q,
    )

    if a.write:
        with tempfile.TemporaryDirectory(prefix="mkba-bench-sens-") as tmp:
            t0 = time.perf_counter()
            out = run_sensitivity(
                a.scenario,
                "sobol",
                groups=specs,
                draws=a.n,
                seed=a.seed,
                out=Path(tmp) / "run",
            )
            res["with_load_and_write_s"] = time.perf_counter() - t0
            res["run_directory_mib"] = (
                sum(f.stat().st_size for f in (Path(tmp) / "run").iterdir()) / 2**20
            )
            assert out.output_dir is not None
        log(
            f"the same through run_sensitivity (load, analyse, write the run directory): "
            f"{res['with_load_and_write_s']:.2f} s, {res['run_directory_mib']:.1f} MiB",
            q,
        )
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    p.add_argument("--n", type=int, default=2**12, help="Sobol' base samples N (power of two)")
    p.add_argument("--groups", type=int, default=30, help="number of parameter groups")
    p.add_argument("--seed", type=int, default=20211)
    p.add_argument("--write", action="store_true", help="also time writing the run directory")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument(
        "--no-salib-sampler", action="store_true", help="do not time SALib's sampler beside"
    )
    a = p.parse_args()
    res = bench(a)
    if a.json:
        print(json.dumps(res, indent=2, default=float))


if __name__ == "__main__":
    main()
