"""draws.parquet's writer, CPU per row group: main e5d4c18's ``ColumnsWriter`` (the verbatim copy
``tests/pqwrite_reference.py``) against today's, alternated in one process, on the row groups of
a run's own draws.parquet (issue 17, target 3; branch i25-pq).

    mkba run scenarios/reference-2021.toml -n 1000000 --out /tmp/r --force
    PYTHONPATH=src python benchmarks/bench_pqwrite.py /tmp/r/draws.parquet [--groups 61]
        [--rounds 4] [--sink direct|null] [--json]

The first 8 row groups of the file are read into memory (NumPy columns) and written ``--groups``
times in turn (61 row groups of 16,384 rows: a million draws), with the footer, into
``--sink``: ``direct`` a :class:`mkba.output.DirectFile` on a temporary file of ``--dir``
(as ``mkba run`` writes it; its writing thread's CPU added), ``null`` a sink that only counts
the bytes (the writer's own CPU). CPU is the calling thread's (``time.thread_time``). Both
files are compared byte for byte.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class _Null:
    """A sink that counts the bytes written."""

    def __init__(self) -> None:
        self.pos = 0

    def write(self, b: Any) -> int:
        n = memoryview(b).nbytes
        self.pos += n
        return n

    def tell(self) -> int:
        return self.pos


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", help="a run's draws.parquet")
    ap.add_argument("--groups", type=int, default=61)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--sink", choices=("direct", "null"), default="direct")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    sys.path.insert(0, str(ROOT / "tests"))
    import pqwrite_reference
    from mkba import output, pqwrite

    pf = pq.ParquetFile(args.file)
    groups = [
        [np.ascontiguousarray(c.to_numpy()) for c in pf.read_row_group(g).columns]
        for g in range(min(8, pf.num_row_groups))
    ]
    schema = pa.schema([(f.name, f.type) for f in pf.schema_arrow])
    dtypes = [c.dtype for c in groups[0]]
    folder = Path(tempfile.mkdtemp(dir=args.dir))
    kinds = {"main": pqwrite_reference, "now": pqwrite}
    times: dict[str, list[float]] = {k: [] for k in kinds}
    try:
        for _ in range(args.rounds):
            for name, mod in kinds.items():
                path = folder / f"{name}.parquet"
                path.unlink(missing_ok=True)
                io_cpu = 0.0
                cpu = time.thread_time()
                if args.sink == "null":
                    w = mod.ColumnsWriter(_Null(), schema, dtypes, created_by="bench")
                    for g in range(args.groups):
                        w.write_row_group(groups[g % len(groups)])
                    w.footer()
                else:
                    with open(path, "wb") as fh, output.DirectFile(fh, 2 * 2**20) as sink:
                        w = mod.ColumnsWriter(sink, schema, dtypes, created_by="bench")
                        for g in range(args.groups):
                            w.write_row_group(groups[g % len(groups)])
                        w.close()
                    io_cpu = sink.io_cpu_s
                times[name].append(time.thread_time() - cpu + io_cpu)
        same = None
        if args.sink == "direct":
            same = (folder / "main.parquet").read_bytes() == (folder / "now.parquet").read_bytes()
    finally:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()
    doc = {
        "rows": sum(len(groups[g % len(groups)][0]) for g in range(args.groups)),
        "sink": args.sink,
        "cpu_s": times,
        "same_bytes": same,
        "load_average": os.getloadavg(),
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    for name, xs in times.items():
        print(f"{name}: CPU {', '.join(f'{x:.3f}' for x in xs)} s (min {min(xs):.3f})")
    print(f"rows {doc['rows']:,}; same bytes: {same}; load average {doc['load_average']}")


if __name__ == "__main__":
    main()
