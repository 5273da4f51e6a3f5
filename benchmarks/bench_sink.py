"""The implied-effects sink of a million-draw simulation (issue 17, target 3; branch i19-sink):
the CPU time of ``implied.FullStrengthSink``, the class of main before i19-sink
(``tests/full_strength_i18_oracle.py``, figures in C order) against the current one, in one
process, alternated, with a check that both give the same figures.

    python benchmarks/bench_sink.py [--repeats 4] [--scenario PATH]

Each chunk of 4,096 sampled rows is first copied into a buffer, as ``implied.BackgroundSink``
hands it over, then given to the sink; the chunks' time is the thread's CPU time
(``time.thread_time``), ``attach`` (the statistics of the figures, on threads) the process's.
The samples of 200,000 draws are fed five times over. CPU time, so a busy machine matters less
than for wall times.
"""

from __future__ import annotations

import argparse
import sys
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

import full_strength_i18_oracle as oracle  # noqa: E402
from mkba import engine, implied  # noqa: E402
from mkba.checks import runnable  # noqa: E402
from mkba.load import load_scenario  # noqa: E402

DRAWS = 1_000_000
KEPT = 200_000
CHUNK = 4096


def one(m: Any, samples: np.ndarray, old: bool) -> tuple[float, float, dict[str, Any]]:
    """(chunks' CPU-s, attach's CPU-s, the physical effects) of one sink of DRAWS draws."""
    new_cls = implied.FullStrength
    implied.FullStrength = oracle.FullStrength if old else new_cls
    try:
        sink = implied.FullStrengthSink(m, DRAWS)
    finally:
        implied.FullStrength = new_cls
    if old:  # main's layout of the figures
        sink.full = np.empty((DRAWS, len(m.streams)))
        sink.base = np.empty((DRAWS, len(m.streams)))
    buf = np.empty((CHUNK, samples.shape[1]))
    cpu = 0.0
    for lo in range(0, DRAWS, CHUNK):
        rows = min(CHUNK, DRAWS - lo)
        a = lo % KEPT
        src = np.concatenate([samples[a : a + rows], samples[: max(0, a + rows - KEPT)]])
        view = buf[:rows]
        np.copyto(view, src)
        t = time.thread_time()
        sink(lo, view)
        cpu += time.thread_time() - t
    run = types.SimpleNamespace(model=m, draws=DRAWS)
    t = time.process_time()
    sink.attach(run)
    return cpu, time.process_time() - t, run._side_physical


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "reference-2021.toml"))
    args = ap.parse_args()
    m = runnable(load_scenario(Path(args.scenario)))
    run = engine.simulate(m, draws=KEPT, seed=5)
    assert run.samples is not None
    samples = np.ascontiguousarray(run.samples)
    res: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
    for rep in range(args.repeats):
        docs = {}
        for side in ("old", "new") if rep % 2 == 0 else ("new", "old"):
            cpu, att, docs[side] = one(m, samples, side == "old")
            res[side].append((cpu, att))
        same = docs["old"] == docs["new"]
        line = {k: f"chunks {v[-1][0]:.3f} + attach {v[-1][1]:.3f}" for k, v in res.items()}
        print(rep, line, "same figures:", same, flush=True)
        if not same:
            raise SystemExit("the figures differ")
    for side, v in res.items():
        c, a = float(np.median([x[0] for x in v])), float(np.median([x[1] for x in v]))
        print(f"{side}: median {c:.3f} + {a:.3f} = {c + a:.3f} CPU-s per million-draw simulation")


if __name__ == "__main__":
    main()
