"""Whole-process benchmark of the command line, as a user feels it (issue 17).

Each command runs as its own process (``python -m mkba ...``, the package sources of this
checkout first on the path), outputs written into a temporary folder. For every repeat it
records the wall time, the CPU time and the peak resident memory of that process (``os.wait4``:
the child's own rusage, including the processes it waited for), and how busy the rest of the
machine was meanwhile: the busy time of all CPUs from ``/proc/stat`` minus the command's own CPU
time, as a share of the machine (wall time x CPUs). A repeat during which other processes used
more than 10 % of the machine is "not judged": its time says little about the code.

    python benchmarks/bench_cli.py                 # --version, --help, run 20k, sensitivity
    python benchmarks/bench_cli.py --million --batch   # plus run 1M draws and the 9-variant batch
    python benchmarks/bench_cli.py --areas 3000    # plus 3,000 synthetic areas x 20k draws
    python benchmarks/bench_cli.py --ten-million --repeats 1   # 10M draws within 16 GiB
    python benchmarks/bench_cli.py --cold          # plus the first run with numba's cache empty
    python benchmarks/bench_cli.py --json          # one JSON document on stdout

Targets are those of issue 17 on the project's 2-core machine (``None``: no target, a figure
to follow). numba's cache is warmed by one untimed ``mkba run`` first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUSY_LIMIT = 0.10
"""Share of the machine other processes may use while a command is measured."""


def _busy_cpu_s() -> float | None:
    """Busy CPU seconds of the whole machine since boot (user, nice, system, irq, softirq)."""
    try:
        v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, IndexError, ValueError):
        return None
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / os.sysconf("SC_CLK_TCK")


def measure(argv: list[str], cwd: Path, env_extra: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python -m mkba *argv`` once; wall, CPU, peak memory and the others' share."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env_extra or {})}
    busy0 = _busy_cpu_s()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mkba", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    busy1 = _busy_cpu_s()
    proc.returncode = os.waitstatus_to_exitcode(status)
    own = usage.ru_utime + usage.ru_stime
    others = None
    if busy0 is not None and busy1 is not None:
        others = max(0.0, (busy1 - busy0) - own) / (wall * (os.cpu_count() or 1))
    return {
        "exit_code": proc.returncode,
        "wall_s": wall,
        "cpu_s": own,
        "sys_s": usage.ru_stime,  # system CPU: mostly clearing fresh memory (page faults)
        "minflt": usage.ru_minflt,  # minor page faults (first touches of fresh memory)
        "peak_mib": usage.ru_maxrss / 1024,  # kilobytes on Linux
        "others_share": others,
        "judged": others is not None and others <= BUSY_LIMIT,
        "stderr_tail": err.decode("utf-8", "replace").strip().splitlines()[-3:],
    }


def _parquet_size(path: Path) -> dict[str, Any]:
    """A run's draws.parquet against its raw data (rows x the columns' value sizes; target 4)."""
    if not path.exists():
        return {}
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    rows = pq.read_metadata(path).num_rows
    raw = rows * sum(f.type.byte_width for f in schema)
    size = path.stat().st_size
    return {
        "parquet_bytes": size,
        "raw_bytes": raw,
        "parquet_over_raw": size / raw if raw else None,
    }


def commands(args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    """The commands measured, each with its targets (seconds, MiB; None: no target)."""
    ref = str(ROOT / "scenarios" / "reference-2021.toml")
    out = [
        {"name": "--version", "argv": ["--version"], "target_s": 0.3, "target_mib": None},
        {"name": "--help", "argv": ["--help"], "target_s": 0.3, "target_mib": None},
        {
            "name": "run (20k draws, all outputs)",
            "argv": ["run", ref, "--out", str(tmp / "run20k"), "--force"],
            "target_s": 1.5,
            "target_mib": None,
            # its timings: what lies outside the run's own total_s (start-up, exit)
            "manifest": tmp / "run20k" / "manifest.json",
        },
        {
            "name": f"sensitivity --method sobol (N={args.sobol_n}, groups stream)",
            "argv": [
                "sensitivity",
                ref,
                "--method",
                "sobol",
                "--groups",
                "stream",
                "--draws",
                str(args.sobol_n),
                "--out",
                str(tmp / "sobol"),
                "--force",
            ],
            "target_s": None,
            "target_mib": None,
        },
    ]
    if args.cold:
        # target 9: the README's main command right after installing, numba's cache empty
        # (a new empty NUMBA_CACHE_DIR for every repeat); the compile notice must be printed
        out.append(
            {
                "name": "cold first run (20k draws, empty numba cache)",
                "argv": ["run", ref, "--out", str(tmp / "cold"), "--force"],
                "target_s": 20.0,
                "target_mib": None,
                "cold_cache": tmp / "numba-cold",
            }
        )
    if args.million:
        out.append(
            {
                "name": "run -n 1000000 (all outputs)",
                "argv": ["run", ref, "-n", "1000000", "--out", str(tmp / "run1m"), "--force"],
                "target_s": 6.0,
                "target_mib": 2048,
                # target 4: statistics <= 0.5 x simulation, from the run's manifest timings
                "manifest": tmp / "run1m" / "manifest.json",
                "target_stats_ratio": 0.5,
            }
        )
    if args.ten_million:
        out.append(
            {
                "name": "run -n 10000000 (all outputs)",
                "argv": ["run", ref, "-n", "10000000", "--out", str(tmp / "run10m"), "--force"],
                "target_s": None,
                "target_mib": 16384,
            }
        )
    if args.areas:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from synthetic_areas import synthetic_areas_scenario

        scen = synthetic_areas_scenario(tmp / "areas", args.areas)
        out.append(
            {
                "name": f"run {args.areas:,} areas x 20k --area-draws none",
                "argv": [
                    "run",
                    str(scen),
                    "-n",
                    "20000",
                    "--no-companion",
                    "--area-draws",
                    "none",
                    "--out",
                    str(tmp / "areas-run"),
                    "--force",
                ],
                "target_s": 20.0,
                "target_mib": None,
                "manifest": tmp / "areas-run" / "manifest.json",
            }
        )
    if args.batch:
        batch = ["batch", ref, "--variants", "all", "-n", "100000", "--force"]
        out.append(
            {
                "name": "batch --variants all -n 100000 (9 runs, in process)",
                "argv": [*batch, "--out", str(tmp / "batch")],
                "target_s": 15.0,
                "target_mib": None,
            }
        )
        # target 5: no slower than the line above beyond the cluster's start (bench_batch.py
        # times the start and the batch apart)
        out.append(
            {
                "name": "batch --variants all -n 100000 --workers 2 (9 runs, Dask)",
                "argv": [*batch, "--workers", "2", "--out", str(tmp / "batch-dask")],
                "target_s": None,
                "target_mib": None,
            }
        )
    return out


def summarise(cmd: dict[str, Any], reps: list[dict[str, Any]]) -> dict[str, Any]:
    judged = [r for r in reps if r["judged"]]
    walls = [r["wall_s"] for r in reps]
    doc = {
        "command": cmd["name"],
        "argv": cmd["argv"],
        "target_s": cmd["target_s"],
        "target_mib": cmd["target_mib"],
        "wall_s_range": [min(walls), max(walls)],
        "cpu_s_range": [min(r["cpu_s"] for r in reps), max(r["cpu_s"] for r in reps)],
        "peak_mib_max": max(r["peak_mib"] for r in reps),
        "sys_s_range": [min(r["sys_s"] for r in reps), max(r["sys_s"] for r in reps)],
        "minflt_range": [min(r["minflt"] for r in reps), max(r["minflt"] for r in reps)],
        "others_share": [r["others_share"] for r in reps],
        "exit_codes": sorted({r["exit_code"] for r in reps}),
        "repeats": reps,
    }
    timings = [r["timings"] for r in reps if r.get("timings")]
    if timings:
        # the run's own split (manifest.json): simulation, statistics, writing
        doc["timings"] = timings
        ratios = [t["statistics_s"] / t["simulate_s"] for t in timings if t.get("simulate_s")]
        if ratios:
            doc["statistics_over_simulation"] = [min(ratios), max(ratios)]
            doc["target_stats_ratio"] = cmd.get("target_stats_ratio")
        # the same in CPU seconds: the statistics' (less draws.parquet's writer beside them)
        # over the simulation's (less the implied-effects sink's thread)
        cpu = [
            t["statistics_cpu_s"] / t["simulate_cpu_s"]
            for t in timings
            if t.get("simulate_cpu_s")
            and t.get("statistics_cpu_s") is not None
            # NaN in the twin pass (the default with a companion): MKBA_TWIN=0 gives it
            and t["simulate_cpu_s"] == t["simulate_cpu_s"]
        ]
        if cpu:
            doc["statistics_over_simulation_cpu"] = [min(cpu), max(cpu)]
    if not judged:
        doc["verdict"] = "not judged (machine busy)"
    elif any(r["exit_code"] != 0 for r in reps):
        doc["verdict"] = "failed (exit code)"
    else:
        best = min(r["wall_s"] for r in judged)
        peak = max(r["peak_mib"] for r in judged)
        ok_t = cmd["target_s"] is None or best <= cmd["target_s"]
        ok_m = cmd["target_mib"] is None or peak <= cmd["target_mib"]
        doc["best_judged_wall_s"] = best
        doc["verdict"] = (
            "no target"
            if cmd["target_s"] is None and cmd["target_mib"] is None
            else ("meets target" if ok_t and ok_m else "misses target")
        )
    return doc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each command (default 3)")
    ap.add_argument("--million", action="store_true", help="also mkba run -n 1000000")
    ap.add_argument("--batch", action="store_true", help="also the 9-variant batch at 100k")
    ap.add_argument(
        "--cold", action="store_true", help="also a whole first run with an empty numba cache"
    )
    ap.add_argument(
        "--ten-million", action="store_true", help="also mkba run -n 10000000 (peak memory)"
    )
    ap.add_argument(
        "--areas",
        type=int,
        default=0,
        help="also a run over this many synthetic areas (e.g. 3000), 20k draws, --area-draws none",
    )
    ap.add_argument("--sobol-n", type=int, default=4096, help="Sobol' base samples N")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="mkba-bench-cli-") as name:
        tmp = Path(name)
        warm = measure(
            ["run", "--no-write", "-n", "2000", str(ROOT / "scenarios" / "reference-2021.toml")],
            ROOT,
        )
        docs = []
        for cmd in commands(args, tmp):
            reps = []
            for i in range(args.repeats):
                env_extra = None
                if cmd.get("cold_cache") is not None:  # a new, empty cache for each repeat
                    env_extra = {"NUMBA_CACHE_DIR": str(Path(cmd["cold_cache"]) / str(i))}
                rep = measure(cmd["argv"], ROOT, env_extra)
                if env_extra is not None:
                    rep["compile_notice"] = any("compiling" in x for x in rep["stderr_tail"])
                if cmd.get("manifest") is not None and Path(cmd["manifest"]).exists():
                    man = json.loads(Path(cmd["manifest"]).read_text())
                    rep["timings"] = {
                        k: v
                        for k, v in man.get("timings", {}).items()
                        if k.endswith("_s") or k == "draws_parquet_spilled_groups"
                    }
                    rep |= _parquet_size(Path(cmd["manifest"]).with_name("draws.parquet"))
                    total = man.get("timings", {}).get("total_s")
                    if total is not None:
                        # start-up before the run's own clock and the ending after it
                        # (imports, printing the tables, the process's exit)
                        rep["outside_total_s"] = rep["wall_s"] - total
                reps.append(rep)
            docs.append(summarise(cmd, reps))
            if not args.json:
                d = docs[-1]
                lo, hi = d["wall_s_range"]
                tgt = f"{d['target_s']:g} s" if d["target_s"] is not None else "-"
                if d["target_mib"] is not None:
                    tgt += f", {d['target_mib']:,} MiB"
                others = ", ".join(f"{x:.0%}" if x is not None else "?" for x in d["others_share"])
                print(
                    f"{d['command']:<58} {lo:7.2f}-{hi:6.2f} s  peak {d['peak_mib_max']:7.0f} MiB"
                    f"  target {tgt:<16} others {others:<16} {d['verdict']}",
                    flush=True,
                )
                (s0, s1), (f0, f1) = d["sys_s_range"], d["minflt_range"]
                print(
                    f"  CPU {d['cpu_s_range'][0]:.2f}-{d['cpu_s_range'][1]:.2f} s, of it system"
                    f" {s0:.2f}-{s1:.2f} s; minor page faults {f0:,}-{f1:,}",
                    flush=True,
                )
                pq_cpu = [t.get("draws_parquet_cpu_s") for t in d.get("timings", [])]
                ratio = [r["parquet_over_raw"] for r in d["repeats"] if "parquet_over_raw" in r]
                if any(x is not None for x in pq_cpu) or ratio:
                    # target 4's Parquet part: its CPU (issue time: see benchmarks/README,
                    # bench_parquet.py) and the file against the raw data
                    cpu = ", ".join(f"{x:.2f}" for x in pq_cpu if x is not None) or "?"
                    size = ", ".join(f"{x:.3f}" for x in ratio) or "?"
                    # the run's wait for it at the end, and (written while simulated,
                    # mkba.drawstream) its row groups whose sampled values were spilled
                    ts = d.get("timings", [])
                    wait = (
                        ", ".join(
                            f"{t['draws_parquet_wait_s']:.2f}"
                            for t in ts
                            if t.get("draws_parquet_wait_s") is not None
                        )
                        or "?"
                    )
                    spilled = [
                        t["draws_parquet_spilled_groups"]
                        for t in ts
                        if "draws_parquet_spilled_groups" in t
                    ]
                    print(
                        f"  draws.parquet CPU {cpu} s, waited for {wait} s; file / raw data"
                        f" {size} (target <= 1.0)"
                        + (
                            f"; row groups spilled {', '.join(map(str, spilled))}"
                            if spilled
                            else ""
                        ),
                        flush=True,
                    )
                outside = [r["outside_total_s"] for r in d["repeats"] if "outside_total_s" in r]
                if outside:
                    print(
                        "  outside the run's total_s (start-up, tables, exit): "
                        + ", ".join(f"{x:.2f}" for x in outside)
                        + " s",
                        flush=True,
                    )
                if "statistics_over_simulation" in d:
                    a, b = d["statistics_over_simulation"]
                    t = d.get("target_stats_ratio")
                    c = d.get("statistics_over_simulation_cpu")
                    print(
                        f"  statistics / simulation {a:.2f}-{b:.2f}"
                        + (f"; in CPU-s {c[0]:.2f}-{c[1]:.2f}" if c else "")
                        + (f" (target <= {t:g})" if t is not None else ""),
                        flush=True,
                    )
    doc = {"warm_up": warm, "cpus": os.cpu_count(), "busy_limit": BUSY_LIMIT, "commands": docs}
    if args.json:
        print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
