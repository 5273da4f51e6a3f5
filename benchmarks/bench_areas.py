"""How the engine scales in the number of areas (issue 17, target 6).

    python benchmarks/bench_areas.py [--areas 16,100,400,1000,3000] [--draws 8192] [--e2e] [--json]

For each area count, a synthetic scenario (:mod:`synthetic_areas`: the reference over ``A``
made-up wijken) is lowered, a parameter matrix of ``--draws`` draws is sampled, and the
compiled kernel is timed on it chunk by chunk, as ``engine.simulate`` calls it
(:func:`mkba.engine.totals_chunk`: the kernel sums over areas itself; the aggregation after it
is timed separately). All area counts are timed alternately, ``--repeats`` rounds, best of each,
so the ratios come from the same machine conditions. Reported: kernel time per draw and per
area-draw, and the ratio of the per-area-draw cost at each ``A`` to that at the smallest.

``--old`` also times the previous path (per-area raw outputs ``ben[n, A, C]`` and
``cost[n, A, K]`` + :func:`mkba.kernel.aggregate`) for area counts up to 1,000.

``--e2e`` runs, in fresh subprocesses, the 3,000-area scenario at 20,000 draws end to end:
``engine.simulate`` (float64 and float32 per-area outcomes) plus the summary statistics of
:func:`mkba.results.summary`, with wall time and peak memory; and the whole ``mkba run``
command (every output written) as the user runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(1, str(HERE))


from mkba import engine  # noqa: E402
from mkba.load import load_scenario  # noqa: E402
from mkba.model import lower  # noqa: E402
from mkba.sampling import chunk_bounds  # noqa: E402
from synthetic_areas import synthetic_areas_scenario  # noqa: E402

TARGET_FLAT = 1.2  # kernel cost per area-draw at 3,000 areas / at 16 areas
TARGET_E2E_S = 20.0  # 3,000 areas, 20,000 draws, end to end


def own_peak_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_busy() -> tuple[float, float]:
    """(wall, busy CPU seconds of the whole machine) from /proc/stat."""
    v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    return time.perf_counter(), (v[0] + v[1] + v[2] + v[5] + v[6]) / hz


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


class Case:
    def __init__(self, folder: Path, A: int, draws: int) -> None:
        self.m = lower(load_scenario(synthetic_areas_scenario(folder, A)))
        m = self.m
        self.A = A
        sc = m.spec.scenario
        self.bounds = chunk_bounds(draws, sc.chunk_size)
        fac = engine.correlation_factor(m)
        self.theta_t = [
            m.theta_t(
                engine.uniforms(
                    m,
                    lo,
                    hi,
                    seed=sc.seed,
                    sampler=sc.sampler,
                    chunk=j,
                    chunk_size=sc.chunk_size,
                    factor=fac,
                )
            )
            for j, (lo, hi) in enumerate(self.bounds)
        ]
        self.out = engine.Outcomes.empty(draws, m)
        for v in self.out.fields().values():
            v.fill(0.0)  # first touch outside the timings
        self.args = engine._kernel_args(m)
        self.draws = draws

    def new(self) -> tuple[float, float]:
        """(kernel, aggregate) seconds over all draws, the engine's path."""
        k = tot = 0.0
        for (lo, hi), th in zip(self.bounds, self.theta_t, strict=True):
            t0 = time.perf_counter()
            k += engine.totals_chunk(self.m, th, self.out.take(slice(lo, hi)), self.args)
            tot += time.perf_counter() - t0
        return k, tot - k

    def old(self) -> float:
        """Kernel with per-area raw outputs + aggregate (the path before issue 17)."""
        m = self.m
        scratch = engine._scratch(m, self.bounds[0][1] - self.bounds[0][0])
        t0 = time.perf_counter()
        for (lo, hi), th in zip(self.bounds, self.theta_t, strict=True):
            raw = engine.raw_chunk(
                m, engine.Transposed(th), "numba", self.args, None, None, scratch
            )
            engine._aggregate_into(m, raw, self.out, slice(lo, hi))
        return time.perf_counter() - t0


CHILD = r"""
import json, sys, time
sys.path.insert(0, {src!r})
t0 = time.perf_counter()
import numpy as np
from mkba import engine, results
from mkba.load import load_scenario
from mkba.model import lower
m = lower(load_scenario({path!r}))
engine.simulate(m, draws=64, keep_samples=False)  # compile / load the cache
t1 = time.perf_counter()
run = engine.simulate(m, draws={draws}, area_dtype=np.{dtype})
t2 = time.perf_counter()
s = results.summary(run)
t3 = time.perf_counter()
peak = 0.0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        peak = float(line.split()[1]) / 1024.0
print(json.dumps({{"start_s": t1 - t0, "simulate_s": t2 - t1, "summary_s": t3 - t2,
                  "split": run.timings, "peak_mib": peak}}))
"""


def e2e(folder: Path, draws: int) -> dict:  # type: ignore[type-arg]
    path = synthetic_areas_scenario(folder, 3000, draws=draws)
    res: dict = {"areas": 3000, "draws": draws}  # type: ignore[type-arg]
    for dtype in ("float64", "float32"):
        code = CHILD.format(src=str(REPO / "src"), path=str(path), draws=draws, dtype=dtype)
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if p.returncode:
            res[dtype] = {"error": p.stderr[-2000:]}
            continue
        r = json.loads(p.stdout)
        r["process_wall_s"] = time.perf_counter() - t0
        res[f"engine_{dtype}"] = r
    out = folder / "run-out"
    mkba = Path(sys.executable).with_name("mkba")
    cmd = [str(mkba), "run", str(path), "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) if out.exists() else 0
    res["mkba_run"] = {
        "cmd": " ".join(cmd[1:]),
        "exit": p.returncode,
        "wall_s": wall,
        "output_mib": size / 2**20,
        "stderr_tail": p.stderr[-500:],
    }
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--areas", default="16,100,400,1000,3000")
    ap.add_argument("--draws", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--old", action="store_true", help="also time the previous path (A <= 1000)")
    ap.add_argument("--e2e", action="store_true", help="3,000 areas x 20,000 draws end to end")
    ap.add_argument("--e2e-draws", type=int, default=20_000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    areas = [int(x) for x in a.areas.split(",")]
    w0, b0 = cpu_busy()
    c0 = own_cpu()
    res: dict = {"draws": a.draws, "repeats": a.repeats, "areas": {}}  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory(prefix="mkba-bench-areas-") as tmp:
        folder = Path(tmp)
        cases = [Case(folder, A, a.draws) for A in areas]
        for c in cases:  # compile / warm
            c.new()
        times: dict[int, dict[str, list[float]]] = {
            c.A: {"kernel": [], "aggregate": [], "old": []} for c in cases
        }
        for _ in range(a.repeats):
            for c in cases:
                k, g = c.new()
                times[c.A]["kernel"].append(k)
                times[c.A]["aggregate"].append(g)
                if a.old and c.A <= 1000:
                    times[c.A]["old"].append(c.old())
        base = None
        k0 = min(times[cases[0].A]["kernel"])
        for c in cases:
            t = times[c.A]
            k = min(t["kernel"])
            per_ad = k / (a.draws * c.A)
            base = per_ad if base is None else base
            row = {
                "kernel_s": k,
                "kernel_s_all": t["kernel"],
                "aggregate_s": min(t["aggregate"]),
                "us_per_draw": 1e6 * k / a.draws,
                "ns_per_area_draw": 1e9 * per_ad,
                "ratio_to_smallest": per_ad / base,
                # cost of one more area, from the smallest case (removes the per-draw part
                # that does not depend on the areas: time profiles, unit values, flows)
                "marginal_ns_per_area_draw": (
                    1e9 * (k - k0) / (a.draws * (c.A - cases[0].A)) if c is not cases[0] else None
                ),
            }
            if t["old"]:
                row["old_kernel_plus_aggregate_s"] = min(t["old"])
                row["old_ns_per_area_draw"] = 1e9 * min(t["old"]) / (a.draws * c.A)
            res["areas"][c.A] = row
            if not a.json:
                extra = (
                    f"; old path {1e9 * min(t['old']) / (a.draws * c.A):7.1f} ns/area-draw"
                    if t["old"]
                    else ""
                )
                print(
                    f"A={c.A:5d}: kernel {k:7.3f} s ({row['us_per_draw']:8.1f} us/draw, "
                    f"{row['ns_per_area_draw']:6.1f} ns/area-draw, x{row['ratio_to_smallest']:.2f}), "
                    f"aggregate {row['aggregate_s']:.3f} s{extra}",
                    flush=True,
                )
        del cases
        if a.e2e:
            res["e2e"] = e2e(folder, a.e2e_draws)
    w1, b1 = cpu_busy()
    other = max(0.0, (b1 - b0) - (own_cpu() - c0))
    res["contention"] = {
        "wall_s": w1 - w0,
        "other_cpu_s": other,
        "other_share": other / ((w1 - w0) * (os.cpu_count() or 1)),
    }
    largest = res["areas"][max(areas)]
    res["targets"] = [
        {
            "target": f"kernel cost per area-draw at {max(areas)} areas <= {TARGET_FLAT}x that at "
            f"{min(areas)}",
            "value": round(largest["ratio_to_smallest"], 3),
            "pass": largest["ratio_to_smallest"] <= TARGET_FLAT,
        }
    ]
    if "e2e" in res:
        run = res["e2e"]["mkba_run"]
        res["targets"].append(
            {
                "target": f"3,000 areas x {a.e2e_draws:,} draws end to end (mkba run) <= "
                f"{TARGET_E2E_S:.0f} s",
                "value": round(run["wall_s"], 2),
                "pass": run["exit"] == 0 and run["wall_s"] <= TARGET_E2E_S,
            }
        )
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        if "e2e" in res:
            print(json.dumps(res["e2e"], indent=2))
        c = res["contention"]
        print(f"other processes used {100 * c['other_share']:.0f} % of the machine")
        for t in res["targets"]:
            print(f"{'PASS' if t['pass'] else 'FAIL'}  {t['target']}: {t['value']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
