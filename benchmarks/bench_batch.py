"""Batch benchmark (issue 17, target 5): the nine shipped variants of the reference (base +
eight) at N draws each, every output written, in-process (numba threads) and on a Dask
LocalCluster of 2 worker processes with one thread each; checks that both give identical
numbers.

Reported, besides wall times (which mean little on a busy machine):

- in process: the process's CPU seconds (user + sys) and the split of the jobs' time into
  simulation (sampling + kernel + aggregation, from each run's manifest) and the rest
  (statistics and writing), its peak resident memory after each job (target: no growth with
  the batch) and its page faults; with the console script's glibc malloc settings
  (mkba.memory.keep_freed_memory; ``MKBA_BENCH_MALLOC=default`` for glibc's own);
- on the cluster: CPU seconds of the client process (which also hosts the LocalCluster's
  scheduler) and of each worker process, the client's share of the batch CPU (target
  <= 25 %), and each worker's peak resident memory, for a batch of 3 jobs and of all 9 jobs,
  each on a fresh cluster (target: no growth with the batch);
- the other processes' share of the machine during each part (from /proc/stat): above 10 %
  the wall times are marked "not judged".

    python benchmarks/bench_batch.py [--draws 100000] [--workers 2] [--json] [--skip-in-process]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

# As the console script does (mkba.cli._no_huge_pages), before NumPy is imported; the
# LocalCluster's workers inherit it.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

# As the console script does (mkba.cli._start_of_process), before any thread starts: glibc
# keeps freed memory in this process (the in-process batch); the workers get theirs from
# mkba.batch.WORKER_MALLOC. MKBA_BENCH_MALLOC=default leaves glibc's defaults.
if os.environ.get("MKBA_BENCH_MALLOC") != "default":
    from mkba.memory import keep_freed_memory

    KEPT = keep_freed_memory()
else:
    KEPT = False

import numpy as np
import pandas as pd

from mkba import batch as bt
from mkba import engine
from mkba.load import load_scenario
from mkba.model import lower

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"
TICK = os.sysconf("SC_CLK_TCK")


def machine_cpu_s() -> float:
    """CPU seconds used by every process on the machine so far (/proc/stat, all CPUs)."""
    with open("/proc/stat") as fh:
        f = [int(x) for x in fh.readline().split()[1:]]
    busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7]  # user nice system irq softirq steal
    return busy / TICK


def own_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def worker_usage() -> dict[str, float]:
    """Run on a worker: its CPU seconds, minor page faults, and peak and current resident
    memory (MiB) so far.

    The peak is the process's own (``VmHWM`` of /proc/self/status), not ``ru_maxrss``: Linux
    carries ``ru_maxrss`` over ``execve`` from the process that started the worker, so every
    worker reported at least the client's peak at the time it was started (806 MiB for both
    workers after the in-process batch)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    status = own_memory()
    return {
        "cpu_s": r.ru_utime + r.ru_stime,
        "minflt": r.ru_minflt,
        "peak_mib": status.get("VmHWM", r.ru_maxrss / 1024),
        "rss_mib": status.get("VmRSS", float("nan")),
    }


def split(res: bt.BatchResult) -> dict[str, float]:
    """Seconds of the jobs' simulation (sampling + kernel + aggregation) and in total."""
    sim = total = 0.0
    for jr in res.jobs:
        assert jr.output_dir is not None
        t = json.loads((jr.output_dir / "manifest.json").read_text())["timings"]
        sim += t.get("sampling_s", 0.0) + t.get("kernel_s", 0.0) + t.get("aggregate_s", 0.0)
        total += t["total_s"]
    return {"jobs_simulate_s": sim, "jobs_total_s": total, "jobs_rest_s": total - sim}


def in_process(jobs: list[bt.Job], out: Path, draws: int) -> tuple[bt.BatchResult, dict[str, Any]]:
    peaks: list[float] = []  # this process's peak after each job (MiB)
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    m0, c0, t0 = machine_cpu_s(), own_cpu_s(), time.perf_counter()
    res = bt.run_batch(
        jobs, out=out, draws=draws, on_job_done=lambda jr: peaks.append(own_memory()["VmHWM"])
    )
    wall, cpu = time.perf_counter() - t0, own_cpu_s() - c0
    others = max(0.0, machine_cpu_s() - m0 - cpu) / (wall * (os.cpu_count() or 1))
    return res, {
        "wall_s": wall,
        "cpu_s": cpu,
        "others_share": others,
        "peak_after_each_job_mib": peaks,
        "minflt": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0,
        "kept_freed_memory": KEPT,
        **split(res),
    }


def own_memory() -> dict[str, float]:
    """This process's peak and current resident memory (MiB, /proc/self/status)."""
    status = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                status[key] = int(value.split()[0]) / 1024  # kB
    return status


def on_cluster(
    jobs: list[bt.Job], out: Path, draws: int, workers: int
) -> tuple[bt.BatchResult, dict[str, Any]]:
    t0 = time.perf_counter()
    ex = bt.DaskExecutor(workers=workers)
    start_s = time.perf_counter() - t0
    before = ex.client.run(worker_usage)
    m1, c1, t1 = machine_cpu_s(), own_cpu_s(), time.perf_counter()
    try:
        res = bt.run_batch(jobs, out=out, draws=draws, executor=_KeepOpen(ex))
        wall, client = time.perf_counter() - t1, own_cpu_s() - c1
        machine = machine_cpu_s() - m1
        after = ex.client.run(worker_usage)
    finally:
        ex.close()
    per_worker = {
        w: {
            "cpu_s": after[w]["cpu_s"] - before[w]["cpu_s"],
            "minflt": after[w]["minflt"] - before[w]["minflt"],
            "peak_mib": after[w]["peak_mib"],
            "rss_after_mib": after[w]["rss_mib"],
        }
        for w in after
        if w in before
    }
    work = sum(v["cpu_s"] for v in per_worker.values())
    others = max(0.0, machine - client - work) / (wall * (os.cpu_count() or 1))
    return res, {
        "jobs": len(jobs),
        "cluster_start_s": start_s,
        "wall_s": wall,
        "client_cpu_s": client,
        "workers_cpu_s": work,
        "client_share": client / (client + work) if client + work else float("nan"),
        "busiest_worker_cpu_s": max(v["cpu_s"] for v in per_worker.values()),
        "worker_peak_mib": sorted(v["peak_mib"] for v in per_worker.values()),
        "worker_rss_after_mib": sorted(v["rss_after_mib"] for v in per_worker.values()),
        "worker_minflt": sum(v["minflt"] for v in per_worker.values()),
        "others_share": others,
        **split(res),
    }


class _KeepOpen:
    """The executor for one batch without closing the cluster (its workers are asked for
    their usage after the batch)."""

    def __init__(self, ex: bt.DaskExecutor) -> None:
        self.ex = ex
        self.name = ex.name

    def warm(self, *args: Any) -> None:
        if hasattr(self.ex, "warm"):  # (older versions have no warm-up)
            self.ex.warm(*args)

    def run(self, *args: Any) -> Any:
        return self.ex.run(*args)  # (the executor of older versions was a generator)

    def close(self) -> None:
        pass


def identical(a: bt.BatchResult, b: bt.BatchResult) -> bool:
    same = True
    for x, y in zip(a.jobs, b.jobs, strict=True):
        assert x.output_dir is not None and y.output_dir is not None
        dx = pd.read_parquet(x.output_dir / "draws.parquet")
        dy = pd.read_parquet(y.output_dir / "draws.parquet")
        same &= list(dx) == list(dy) and all(
            np.array_equal(dx[c].to_numpy(), dy[c].to_numpy(), equal_nan=True) for c in dx
        )
        sx = json.loads((x.output_dir / "summary.json").read_text())
        sy = json.loads((y.output_dir / "summary.json").read_text())
        sx.pop("output_dir"), sy.pop("output_dir")
        same &= sx == sy
    return bool(same)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--draws", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--skip-in-process", action="store_true")
    args = ap.parse_args()

    # warm up numba (compile or load the cache) outside the timings
    engine.simulate(lower(load_scenario(REFERENCE)), draws=64, keep_samples=False)

    jobs = bt.expand_jobs([REFERENCE], ["all"])
    doc: dict[str, Any] = {"draws_per_job": args.draws, "workers": args.workers}
    with tempfile.TemporaryDirectory() as tmp:
        local = None
        if not args.skip_in_process:
            local, doc["in_process"] = in_process(jobs, Path(tmp) / "inproc", args.draws)
        _, doc["dask_3_jobs"] = on_cluster(jobs[:3], Path(tmp) / "d3", args.draws, args.workers)
        dask, doc["dask_9_jobs"] = on_cluster(jobs, Path(tmp) / "d9", args.draws, args.workers)
        if local is not None:
            doc["identical"] = identical(local, dask)
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    print(f"{len(jobs)} jobs x {args.draws:,} draws, every output written")

    def judged(share: float) -> str:
        return "" if share <= 0.10 else f" (not judged: others used {share:.0%})"

    if "in_process" in doc:
        d = doc["in_process"]
        peaks = d["peak_after_each_job_mib"]
        print(
            f"  in process: {d['wall_s']:.1f} s wall{judged(d['others_share'])}, "
            f"{d['cpu_s']:.1f} CPU-s; jobs: simulation {d['jobs_simulate_s']:.1f} s, "
            f"statistics + writing {d['jobs_rest_s']:.1f} s; peak memory after job 1, 3, "
            f"{len(peaks)}: {peaks[0]:.0f}, {peaks[min(2, len(peaks) - 1)]:.0f}, "
            f"{peaks[-1]:.0f} MiB; {d['minflt']:,} page faults"
            + ("" if d["kept_freed_memory"] else " (glibc's malloc defaults)")
        )
    for key in ("dask_3_jobs", "dask_9_jobs"):
        d = doc[key]
        print(
            f"  Dask {args.workers} workers, {d['jobs']} jobs: {d['wall_s']:.1f} s wall "
            f"(+ {d['cluster_start_s']:.1f} s start){judged(d['others_share'])}; "
            f"client {d['client_cpu_s']:.2f} CPU-s = {d['client_share']:.1%} of the batch CPU "
            f"({d['workers_cpu_s']:.1f} on workers, busiest {d['busiest_worker_cpu_s']:.1f}); "
            f"worker peak memory {', '.join(f'{m:.0f}' for m in d['worker_peak_mib'])} MiB "
            f"(after the batch {', '.join(f'{m:.0f}' for m in d['worker_rss_after_mib'])}); "
            f"{d['worker_minflt']:,} page faults on the workers"
        )
    if "identical" in doc:
        print(f"  in process and Dask identical (draws, summary.json): {doc['identical']}")


if __name__ == "__main__":
    main()
