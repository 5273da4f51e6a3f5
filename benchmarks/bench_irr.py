"""IRR benchmark (issue 17, target 4): the per-draw IRR of the statistics (``decide.irr.irr``)
on the reference scenario's flows at N draws, CPU seconds (user + sys of the process, both
threads) and wall time per call; with ``--oracle`` alternated with the IRR of main 0a9a722
(the verbatim copy ``tests/irr_i18_oracle.py``) in the same process, and every call's result
checked equal to the other's bit for bit.

    python benchmarks/bench_irr.py [--draws 1000000] [--repeats 4] [--oracle] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from mkba import engine
from mkba.decide import irr as irr_mod
from mkba.load import load_scenario
from mkba.model import lower

ROOT = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--oracle", action="store_true", help="alternate with main 0a9a722's IRR")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    m = lower(load_scenario(ROOT / "scenarios" / "reference-2021.toml"))
    run = engine.simulate(m, draws=args.draws, keep_samples=False)
    flow = np.ascontiguousarray(run.outcomes.flow)
    offsets = m.years.astype(float) - float(m.spec.scenario.base_year)
    del run
    kinds: dict[str, ModuleType] = {"new": irr_mod}
    if args.oracle:
        sys.path.insert(0, str(ROOT / "tests"))
        import irr_i18_oracle  # the old module, verbatim

        kinds = {"old": irr_i18_oracle, "new": irr_mod}
    for mod in kinds.values():  # compile or load the cache
        mod.irr(flow[:5000], offsets)
    times: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    last: Any = None
    for _ in range(args.repeats):
        for name, mod in kinds.items():
            c, w = _cpu(), time.perf_counter()
            res = mod.irr(flow, offsets)
            times[name].append({"wall_s": time.perf_counter() - w, "cpu_s": _cpu() - c})
            if last is not None:
                assert np.array_equal(res.irr, last.irr, equal_nan=True)
                assert np.array_equal(res.roots, last.roots)
            last = res
    doc = {"draws": args.draws, "load_average": os.getloadavg(), "times": times}
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    for name, rows in times.items():
        walls = ", ".join(f"{r['wall_s']:.3f}" for r in rows)
        cpus = ", ".join(f"{r['cpu_s']:.3f}" for r in rows)
        print(f"{name}: wall {walls} s; CPU {cpus} s")
    print(f"load average {doc['load_average']}")


if __name__ == "__main__":
    main()
