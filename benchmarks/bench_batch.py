"""Batch benchmark: the nine shipped variants of the reference (base + eight) at N draws
each, in-process (numba threads) against a Dask LocalCluster of 2 worker processes (one
numba thread each), in one process run. Checks that both give identical numbers.

    python benchmarks/bench_batch.py [--draws 100000] [--workers 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd

from mkba import batch as bt
from mkba import engine
from mkba.load import load_scenario
from mkba.model import lower

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--draws", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    # warm up numba (compile or load the cache) outside the timings
    t = time.perf_counter()
    engine.simulate(lower(load_scenario(REFERENCE)), draws=64, keep_samples=False)
    warm_s = time.perf_counter() - t

    jobs = bt.expand_jobs([REFERENCE], ["all"])
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        local = bt.run_batch(jobs, out=Path(tmp) / "inproc", draws=args.draws)
        inproc_s = time.perf_counter() - t

        t = time.perf_counter()
        ex = bt.DaskExecutor(workers=args.workers)
        start_s = time.perf_counter() - t
        dask = bt.run_batch(jobs, out=Path(tmp) / "dask", draws=args.draws, executor=ex)
        dask_s = time.perf_counter() - t

        identical = all(
            pd.read_parquet(a.output_dir / "draws.parquet").equals(
                pd.read_parquet(b.output_dir / "draws.parquet")
            )
            for a, b in zip(local.jobs, dask.jobs, strict=True)
        )
    doc = {
        "jobs": len(jobs),
        "draws_per_job": args.draws,
        "workers": args.workers,
        "warmup_s": warm_s,
        "in_process_s": inproc_s,
        "dask_total_s": dask_s,
        "dask_cluster_start_s": start_s,
        "dask_overhead_vs_in_process": dask_s / inproc_s,
        "identical": identical,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    print(f"{len(jobs)} jobs x {args.draws:,} draws (all results written as run directories)")
    print(f"  in-process (numba threads):        {inproc_s:7.2f} s")
    print(
        f"  Dask LocalCluster, {args.workers} workers:     {dask_s:7.2f} s (of which cluster start {start_s:.2f} s)"
    )
    print(f"  Dask / in-process:                 {dask_s / inproc_s:7.2f}")
    print(f"  identical numbers:                 {identical}")


if __name__ == "__main__":
    main()
