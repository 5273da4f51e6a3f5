"""draws.parquet's CPU: the writer of issue 17's time against today's (target 4's Parquet part).

    PYTHONPATH=src python benchmarks/bench_parquet.py               # 1M draws of the reference
    PYTHONPATH=src python benchmarks/bench_parquet.py --draws 200000 --repeats 3 --json

One simulation of the reference (``engine.simulate``, the sampled values spilled as
``mkba run`` does at this size), the per-draw IRR made once, then each writer alternated,
``--repeats`` times, into a temporary folder on the disk (``--dir``, default the system's):

- ``issue``: the writer of issue 17's time (commit b33ccd5's parent): a pandas data frame of
  every column (``results.draws_table``), ``DataFrame.to_parquet`` into memory (pandas'
  defaults: snappy, dictionary encoding of every column), written atomically through the page
  cache and fsync'ed;
- ``now``: :func:`mkba.output.write_columns` as ``mkba run`` calls it.

CPU is the process's (user + system, ``getrusage``) over the write: the kernel's own
write-back threads are not in it (they are another process's), which favours the page-cache
writer. The data frame needs the samples in memory: they are read back from the spill file
before the ``issue`` writer starts (not timed). Peak memory of the ``issue`` writer at 1M is
about 6 GB.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _cpu() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def _issue_writer(folder: Path, run: Any) -> None:
    """draws.parquet as written at issue 17's time (output.write_table of b33ccd5's parent)."""
    from mkba import results
    from mkba.output import atomic_write_bytes

    buf = io.BytesIO()
    results.draws_table(run).to_parquet(buf, index=False)
    atomic_write_bytes(folder / "draws.parquet", buf.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--draws", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--dir", default=None, help="folder for the files (default: the system's)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    import numpy as np
    import pandas  # noqa: F401  # imported before the timing (the issue's writer needs it)
    import pyarrow.parquet  # noqa: F401

    from mkba import engine, results
    from mkba.api import draws_group_rows
    from mkba.checks import runnable
    from mkba.load import load_scenario
    from mkba.output import write_columns

    model = runnable(load_scenario(ROOT / "scenarios" / "reference-2021.toml"))
    run = engine.simulate(model, draws=args.draws, spill_samples=True)
    cols = results.draws_columns(run)  # the IRR of every draw, once
    in_memory = None
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mkba-bench-parquet-", dir=args.dir) as name:
        tmp = Path(name)
        for rep in range(args.repeats):
            for which in ("issue", "now"):
                folder = tmp / f"{which}-{rep}"
                folder.mkdir()
                if which == "issue" and in_memory is None and run.spilled is not None:
                    in_memory = dataclasses.replace(
                        run, samples=np.asarray(run.spilled), spilled=None
                    )
                    results.draws_columns(in_memory)  # its IRR made here, not timed
                u0, s0 = _cpu()
                t0 = time.perf_counter()
                if which == "issue":
                    _issue_writer(folder, in_memory if in_memory is not None else run)
                else:
                    write_columns(
                        folder, "draws", cols, group_rows=draws_group_rows(run.chunk_size)
                    )
                wall = time.perf_counter() - t0
                u1, s1 = _cpu()
                size = (folder / "draws.parquet").stat().st_size
                rows.append(
                    {
                        "writer": which,
                        "repeat": rep,
                        "wall_s": wall,
                        "user_s": u1 - u0,
                        "sys_s": s1 - s0,
                        "cpu_s": u1 - u0 + s1 - s0,
                        "bytes": size,
                        "raw_bytes": args.draws
                        * sum(np.asarray(v[:1]).itemsize for v in cols.values()),
                    }
                )
                (folder / "draws.parquet").unlink()
                if not args.json:
                    r = rows[-1]
                    print(
                        f"{which:<6} wall {r['wall_s']:6.2f} s  CPU {r['cpu_s']:6.2f} s "
                        f"(user {r['user_s']:.2f}, sys {r['sys_s']:.2f})  "
                        f"file / raw {r['bytes'] / r['raw_bytes']:.4f}",
                        flush=True,
                    )
    best = {w: min(r["cpu_s"] for r in rows if r["writer"] == w) for w in ("issue", "now")}
    doc = {"draws": args.draws, "repeats": rows, "cpu_ratio_best": best["issue"] / best["now"]}
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"issue / now CPU (best of each): {doc['cpu_ratio_best']:.1f}x (target >= 5)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
