"""The implied-effects sinks of a twin pass (issue 17, target 3; branch i22-side): two
``implied.BackgroundSink`` (as before i22-side: each sink on a thread of its own, each chunk
copied twice) against one ``implied.TwinSink`` (one thread, one copy, the two sinks' figures
in one joint pass), in one process, alternated, with a check that both give the same figures.

    python benchmarks/bench_twin_sink.py [--draws 1000000] [--repeats 3]

Per repeat and side: the sink thread(s)' CPU seconds, the simulating thread's CPU seconds in
the hand-overs (``time.thread_time`` around each ``on_samples`` call), the CPU seconds of the
two ``attach`` calls (the physical effects' statistics, on threads: the process's CPU), and
the process's CPU seconds for the whole twin pass (``engine.simulate_twin`` plus the sinks'
close). CPU time, so a busy machine matters less than for wall times; say how busy it was.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from mkba import engine, implied  # noqa: E402
from mkba.checks import runnable  # noqa: E402
from mkba.load import load_scenario  # noqa: E402


class Timed:
    """``on_samples`` wrapped: the calling thread's CPU seconds in it (also used by
    bench_implied.py)."""

    def __init__(self, fn: Any) -> None:
        self.fn, self.cpu = fn, 0.0

    def __call__(self, lo: int, samples: np.ndarray) -> None:
        t = time.thread_time()
        try:
            self.fn(lo, samples)
        finally:
            self.cpu += time.thread_time() - t


def one(m: Any, twin: engine.Twin, draws: int, new: bool) -> tuple[dict[str, float], Any]:
    sc = m.spec.scenario
    own = implied.FullStrengthSink(m, draws)
    other = implied.FullStrengthSink(twin.other, draws)
    if new:
        pair = implied.TwinSink(own, other, twin.cols)
        a, b = Timed(pair), Timed(pair.other_samples)
        closers = [pair]
    else:
        bg, obg = implied.BackgroundSink(own), implied.BackgroundSink(other)
        a, b = Timed(bg), Timed(obg)
        closers = [obg, bg]
    c0 = time.process_time()
    run, orun = engine.simulate_twin(
        m,
        twin,
        draws=draws,
        seed=sc.seed,
        sampler=sc.sampler,
        chunk_size=sc.chunk_size,
        on_samples=a,
        other_on_samples=b,
    )
    for c in closers:
        c.close()
    c1 = time.process_time()
    figures = [np.array(x) for x in (own.full, own.base, other.full, other.base)]
    other.attach(orun)
    own.attach(run)
    c2 = time.process_time()
    out = {
        "twin_pass_cpu": c1 - c0,
        "sink_threads_cpu": sum(c.cpu_s for c in closers),
        "handover_cpu": a.cpu + b.cpu,
        "attach_cpu": c2 - c1,
    }
    return out, (figures, orun._side_physical, run._side_physical)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    m = runnable(load_scenario(ROOT / "scenarios" / "reference-2021.toml"))
    o = runnable(load_scenario(ROOT / "scenarios" / "evidence-2021.toml"))
    sc, osc = m.spec.scenario, o.spec.scenario
    twin = engine.twin_of(
        m,
        o,
        draws=args.draws,
        seed=sc.seed,
        sampler=sc.sampler,
        chunk_size=sc.chunk_size,
        other_draws=args.draws,
        other_seed=osc.seed,
        other_sampler=osc.sampler,
        other_chunk_size=osc.chunk_size,
    )
    assert twin is not None
    one(m, twin, min(args.draws, 5000), True)  # compiled and warm
    res: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    for rep in range(args.repeats):
        got = {}
        for side in ("old", "new") if rep % 2 == 0 else ("new", "old"):
            t, got[side] = one(m, twin, args.draws, side == "new")
            res[side].append(t)
            print(side, {k: round(v, 3) for k, v in t.items()}, flush=True)
        (fa, *da), (fb, *db) = got["old"], got["new"]
        same = all(np.array_equal(x, y, equal_nan=True) for x, y in zip(fa, fb, strict=True))
        if not (same and da == db):
            raise SystemExit("the figures differ")
    for side, rows in res.items():
        keys = rows[0]
        print(side, {k: sorted(round(r[k], 3) for r in rows) for k in keys})


if __name__ == "__main__":
    main()
