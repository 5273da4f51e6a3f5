"""A run and its companion simulated in two passes or in one (issue 17, target 3; i19-twin).

    python benchmarks/bench_twin.py [--draws 1000000] [--repeats 4]

In one process, alternated: ``engine.simulate`` of the companion (evidence-2021, its samples
handed to a sink and not kept) and then of the run (reference-2021, samples spilled, into the
companion's arrays: ``reuse=``), as ``mkba run`` did before i19-twin, against
``engine.simulate_twin`` (one sampling pass). The sinks do nothing, so that only the
simulation is measured. Prints wall and process CPU seconds (every thread), min and median, and
checks once that both give the same outcomes. CPU time: a busy machine matters less than for
walls.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import numpy as np

from mkba import engine
from mkba.checks import runnable
from mkba.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=4)
    args = ap.parse_args()
    ref = runnable(load_scenario(ROOT / "scenarios" / "reference-2021.toml"))
    evi = runnable(load_scenario(ROOT / "scenarios" / "evidence-2021.toml"))
    sc = ref.spec.scenario
    kw = {"draws": args.draws, "seed": sc.seed, "sampler": sc.sampler, "chunk_size": sc.chunk_size}
    twin = engine.twin_of(
        ref,
        evi,
        **kw,
        other_draws=args.draws,
        other_seed=evi.spec.scenario.seed,
        other_sampler=evi.spec.scenario.sampler,
        other_chunk_size=evi.spec.scenario.chunk_size,
    )
    assert twin is not None, "the reference and its companion are not twins"

    def nothing(lo: int, samples: np.ndarray) -> None:
        pass

    def two() -> tuple[engine.Run, engine.Run]:
        o = engine.simulate(evi, **kw, keep_samples=False, on_samples=nothing)
        return engine.simulate(ref, **kw, spill_samples=True, on_samples=nothing), o

    def two_reusing() -> None:
        o = engine.simulate(evi, **kw, keep_samples=False, on_samples=nothing)
        reuse = o.outcomes
        del o
        engine.simulate(ref, **kw, spill_samples=True, on_samples=nothing, reuse=reuse)

    def one() -> tuple[engine.Run, engine.Run]:
        return engine.simulate_twin(
            ref, twin, **kw, spill_samples=True, on_samples=nothing, other_on_samples=nothing
        )

    # the same numbers (and a warm-up of both)
    (r2, o2), (r1, o1) = two(), one()
    for name in ("benefits", "costs", "stream"):
        assert np.array_equal(getattr(o1.outcomes, name), getattr(o2.outcomes, name)), name
    for name, x in r2.outcomes.fields().items():
        assert np.array_equal(getattr(r1.outcomes, name), x, equal_nan=True), name
    del r2, o2, r1, o1
    times: dict[str, list[tuple[float, float, float, float]]] = {"two passes": [], "twin": []}
    for _ in range(args.repeats):
        for name, f in (("two passes", two_reusing), ("twin", one)):
            r0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            f()
            r1, w1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            user, sys = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
            times[name].append((user + sys, user, sys, w1 - w0))
    print(f"{args.draws:,} draws, {args.repeats} alternated repeats (min / median, seconds)")
    for name, v in times.items():
        cols = [[x[i] for x in v] for i in range(4)]
        print(
            f"  {name:10s}"
            + "".join(
                f"  {label} {min(c):.2f} / {statistics.median(c):.2f}"
                for label, c in zip(("CPU", "user", "sys", "wall"), cols, strict=True)
            )
        )


if __name__ == "__main__":
    main()
