"""What the implied physical effects cost a million-draw run (issue 17, target 3; branch
i24-physical), in CPU seconds: the twin pass (reference-2021 with evidence-2021, as
``mkba run`` makes it) with the implied-effects sinks and without them, alternated in one
process: ``sampled`` (``implied.TwinSink.sampled``, as ``api._simulate_twin_beside`` since
i24-physical: the sinks' thread reads each chunk's samples where the simulation made them),
``copy`` (``on_samples=pair, other_on_samples=pair.other_samples``, as before: each chunk
copied on the simulating thread) and ``without``; then both sinks' ``attach`` (their
statistics) and the two ``headline_probability`` calls of the side summaries; then the joint
pass's own work on kept samples, piece by piece, on one thread.

    python benchmarks/bench_implied.py [--draws 1000000] [--repeats 3]
        [--sides without,copy,sampled] [--json]

The manifest's ``side_physical_busy_s`` is the sink's *wall* time on its thread, which a
busy 2-core machine stretches (1.5-1.9 s there against 0.5-1.0 CPU-s of the thread): this
script gives the CPU seconds.

Per repeat and side: ``wall_s`` and ``cpu_s`` (the process's) of the pass, ``main_cpu_s``
(the simulating thread's), with the sinks also ``sink_cpu_s`` (the sinks' thread) and
``handover_cpu_s`` (the simulating thread's CPU time in the hand-overs) and
``handover_wall_s`` (its wall time in them, with any wait for the sinks' thread).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from bench_twin_sink import Timed  # noqa: E402  # this folder is the script's: sys.path[0]
from mkba import engine, implied  # noqa: E402
from mkba.checks import runnable  # noqa: E402
from mkba.load import load_scenario  # noqa: E402


class _TimedSampled:
    """``on_sampled`` wrapped: the calling thread's CPU seconds in it and in its releases."""

    def __init__(self, fn: Any) -> None:
        self.fn, self.cpu = fn, 0.0

    def __call__(self, lo: int, samples: np.ndarray, twin: np.ndarray) -> Any:
        t = time.thread_time()
        release = self.fn(lo, samples, twin)
        self.cpu += time.thread_time() - t

        def timed() -> None:
            t = time.thread_time()
            release()
            self.cpu += time.thread_time() - t

        return timed


class Pass:
    """The twin pass of ``draws`` draws, again and again (the outcome arrays reused, as a
    run reuses the companion's)."""

    def __init__(self, draws: int) -> None:
        self.m = runnable(load_scenario(ROOT / "scenarios" / "reference-2021.toml"))
        self.o = runnable(load_scenario(ROOT / "scenarios" / "evidence-2021.toml"))
        sc, osc = self.m.spec.scenario, self.o.spec.scenario
        self.draws = draws
        twin = engine.twin_of(
            self.m,
            self.o,
            draws=draws,
            seed=sc.seed,
            sampler=sc.sampler,
            chunk_size=sc.chunk_size,
            other_draws=draws,
            other_seed=osc.seed,
            other_sampler=osc.sampler,
            other_chunk_size=osc.chunk_size,
        )
        assert twin is not None
        self.twin = twin
        self.reuse: engine.Outcomes | None = None
        self.last: tuple[Any, ...] = ()

    def one(self, sinks: str) -> dict[str, float]:
        m, sc = self.m, self.m.spec.scenario
        kwargs: dict[str, Any] = {}
        pair = None
        if sinks != "without":
            own = implied.FullStrengthSink(m, self.draws)
            other = implied.FullStrengthSink(self.o, self.draws)
            pair = implied.TwinSink(own, other, self.twin.cols)
            if sinks == "copy":
                a, b = Timed(pair), Timed(pair.other_samples)
                kwargs = {"on_samples": a, "other_on_samples": b}
            else:
                a, b = _TimedSampled(pair.sampled), Timed(None)
                kwargs = {"on_sampled": a}
        w, c, t = time.perf_counter(), time.process_time(), time.thread_time()
        run, orun = engine.simulate_twin(
            m,
            self.twin,
            draws=self.draws,
            seed=sc.seed,
            sampler=sc.sampler,
            chunk_size=sc.chunk_size,
            spill_samples=self.draws * len(m.uncertain) * 8 > 256 * 2**20,
            reuse=self.reuse,
            **kwargs,
        )
        if pair is not None:
            pair.close()
        out = {
            "wall_s": time.perf_counter() - w,
            "cpu_s": time.process_time() - c,
            "main_cpu_s": time.thread_time() - t,
        }
        if pair is not None:
            out["sink_cpu_s"] = pair.cpu_s
            out["handover_cpu_s"] = a.cpu + b.cpu
            # the simulating thread's wall in the hand-overs, with the waits for the thread
            out["handover_wall_s"] = pair.seconds + pair.other_seconds
            self.last = (own, other, run, orun)
        self.reuse = run.outcomes
        return out

    def after(self) -> dict[str, float]:
        """Both sinks' attach and the two headline probabilities, after the last pass with
        the sinks (the threads of the pass ended: a second's pause first)."""
        own, other, run, orun = self.last
        time.sleep(1.0)
        w, c = time.perf_counter(), time.process_time()
        other.attach(orun)
        own.attach(run)
        w1, c1 = time.perf_counter(), time.process_time()
        implied.headline_probability(orun)
        implied.headline_probability(run)
        return {
            "attach_wall_s": w1 - w,
            "attach_cpu_s": c1 - c,
            "headline_probability_s": time.perf_counter() - w1,
        }


def pieces(p: Pass, draws: int) -> dict[str, float]:
    """The joint pass's own work (``FullStrength.figures`` of both runs) on ``draws`` kept
    samples in blocks of :data:`implied.FULL_STRENGTH_ROWS`, on this thread: the hand-over's
    copy, the slot values, NumPy's powers and the compiled rows, CPU seconds per million."""
    m, twin = p.m, p.twin
    sc = m.spec.scenario
    run = engine.simulate(m, draws=draws, seed=sc.seed)
    assert run.samples is not None
    s0 = np.ascontiguousarray(run.samples)
    U, k = s0.shape[1], twin.cols.size
    own = implied.FullStrengthSink(m, draws)
    other = implied.FullStrengthSink(p.o, draws)
    pair = implied.TwinSink(own, other, twin.cols)
    pair.close()
    fo = own.at_full
    view = np.empty((draws, U + k))
    view[:, :U] = s0
    view[:, U:] = s0[:, twin.cols]
    B = implied.FULL_STRENGTH_ROWS
    blocks = [view[a : a + B] for a in range(0, draws, B)]
    col = np.concatenate([fo.col, pair._effects[0]])
    scale = np.concatenate([fo.scale_used, pair._effects[1]])
    fixed = np.concatenate([fo.fixed_used, pair._effects[2]])
    S, G, K = m.slots.S, fo.end_f.size, fo.slots.size
    vals = [np.empty((b.shape[0], col.size)) for b in blocks]
    es = [np.empty((b.shape[0], G, S, 1)) for b in blocks]
    tbs = [np.empty((b.shape[0], S, 1)) for b in blocks]
    powers: list[tuple[np.ndarray, np.ndarray]] = []
    outs = [tuple(np.empty((b.shape[0], S)) for _ in range(3)) for b in blocks]
    buf = np.empty((m.spec.scenario.chunk_size, U))

    def copy() -> None:  # as BackgroundSink/TwinSink hand a chunk over
        for lo in range(0, draws, buf.shape[0]):
            c = s0[lo : lo + buf.shape[0]]
            np.copyto(buf[: c.shape[0]], c)

    def slot_values() -> None:
        for b, v, e, tb in zip(blocks, vals, es, tbs, strict=True):
            implied._slot_values(b, col, scale, fixed, fo.at, fo.y, fo.end_f, v, e, tb)

    def numpy_powers() -> None:
        powers.clear()
        el = fo.glob_at["elasticity"]
        for v, tb in zip(vals, tbs, strict=True):
            with np.errstate(divide="ignore"):
                rpow = np.ascontiguousarray(
                    fo.rows[None, :, None, :] ** v[:, el][:, None, None, None]
                )
            powers.append((tb**fo.trend_power, rpow))

    def rows() -> None:
        no_r = np.empty((0, 0, 0))
        for v, e, (tpow, rpow), (full, base, full2) in zip(vals, es, powers, outs, strict=True):
            implied._full_strength_rows(
                v, fo.at, fo.y, fo.start_f, fo.end_f, fo.v0, fo.v0_total, fo.row, fo.group,
                fo.gm, fo.ratio, rpow, fo.w, no_r, e, tpow, full, base, K, full2,
            )  # fmt: skip

    def figures() -> None:  # the whole of it, as TwinSink._both calls it
        for b in blocks:
            fo.figures(b, fo.col, fo.scale_used, pair._effects)

    got: dict[str, list[float]] = {}
    for _ in range(3):
        for name, f in (
            ("copy", copy),
            ("slot_values", slot_values),
            ("numpy_powers", numpy_powers),
            ("compiled_rows", rows),
            ("figures_whole", figures),
        ):
            t = time.thread_time()
            f()
            got.setdefault(name, []).append((time.thread_time() - t) * 1e6 / draws)
    return {k: min(v) for k, v in got.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pieces-draws", type=int, default=200_000)
    ap.add_argument("--sides", default="without,copy,sampled", help="which passes, in order")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    p = Pass(args.draws)
    small = Pass(min(args.draws, 5000))
    small.one("sampled")  # compiled and warm
    small.one("copy")
    p.one("without")  # the outcome arrays made once
    sides = args.sides.split(",")
    res: dict[str, list[dict[str, float]]] = {k: [] for k in sides}
    for rep in range(args.repeats):
        for side in sides if rep % 2 == 0 else sides[::-1]:
            t = p.one(side)
            res[side].append(t)
            if not args.json:
                print(side, {k: round(v, 3) for k, v in t.items()}, flush=True)
    doc: dict[str, Any] = {
        "draws": args.draws,
        "passes": res,
        "after": p.after(),
        "pieces_cpu_s_per_million": pieces(p, args.pieces_draws),
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    for side, rows in res.items():
        print(side, {k: sorted(round(r[k], 3) for r in rows) for k in rows[0]})
    print("after", {k: round(v, 3) for k, v in doc["after"].items()})
    print(
        "pieces (CPU-s per million draws)",
        {k: round(v, 3) for k, v in doc["pieces_cpu_s_per_million"].items()},
    )


if __name__ == "__main__":
    main()
