"""The run's memory made resident on another thread before the run writes it (mkba.prefault;
issue 17, target 3). The sizes are checked against the arrays the run allocates, the slicing
of the ``madvise`` calls against a hand count, and in fresh processes (the ``malloc`` settings
last for a process's life) that prefaulted memory is reused without page faults, that no byte
the process holds is changed, and that a run gives the same numbers with and without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mkba import memory, prefault
from mkba.checks import runnable
from mkba.engine import Outcomes
from mkba.load import load_scenario
from mkba.model import Model

ROOT = Path(__file__).resolve().parents[1]
GLIBC = memory.glibc() is not None
LINUX_POPULATE = (
    sys.platform.startswith("linux")
    and int(os.uname().release.split(".")[0]) * 100 + int(os.uname().release.split(".")[1]) >= 514
)


def _model(name: str) -> Model:
    return runnable(load_scenario(ROOT / "scenarios" / name))


def test_outcome_bytes_of_the_reference_by_hand() -> None:
    m = _model("reference-2021.toml")
    # per draw, float64: benefits 3 + costs 3 (perspectives) + stream 3 x 7 + area benefits and
    # costs 16 + 16 + components 19 + stakeholder benefits and costs 5 + 5 + payback 1 + flow
    # and discounted flow 30 + 30 = 149 values = 1,192 bytes; no programme
    assert prefault.outcome_bytes(m, 1, np.float64) == 1192
    assert prefault.outcome_bytes(m, 1_000_000, np.float64) == 1_192_000_000
    # float32 per-area arrays: 32 values of 4 bytes instead of 8
    assert prefault.outcome_bytes(m, 1000, np.float32) == 1000 * (1192 - 32 * 4)


@pytest.mark.parametrize("name", ["reference-2021.toml", "wijkprogramma-example.toml"])
@pytest.mark.parametrize("draws", [0, 1, 7, 1000, 5000])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_outcome_bytes_are_the_arrays_a_run_allocates(name: str, draws: int, dtype: type) -> None:
    m = _model(name)
    arrays = vars(Outcomes.empty(draws, m, dtype)).values()
    assert prefault.outcome_bytes(m, draws, dtype) == sum(a.nbytes for a in arrays)


def test_light_bytes_are_the_companions_arrays_in_a_twin_pass() -> None:
    m = _model("evidence-2021.toml")
    # per draw, float64: benefits 3 + costs 3 + stream 3 x 7 = 27 values = 216 bytes
    assert prefault.light_bytes(m, 1) == 216
    for draws in (1, 9, 4096):
        arrays = vars(Outcomes.light(draws, m)).values()
        assert prefault.light_bytes(m, draws) == sum(a.nbytes for a in arrays)


def test_sink_bytes_are_an_implied_effects_sinks_arrays() -> None:
    from mkba.implied import FullStrengthSink

    m = _model("reference-2021.toml")
    # per draw: full-strength and baseline volumes of the reference's 7 streams, float64:
    # 2 x 7 x 8 = 112 bytes (mkba.implied.FullStrengthSink.__init__)
    assert prefault.sink_bytes(m, 1) == 112
    for name in ("reference-2021.toml", "evidence-2021.toml", "wijkprogramma-example.toml"):
        m = _model(name)
        for draws in (1, 9, 4096):
            sink = FullStrengthSink(m, draws)
            assert prefault.sink_bytes(m, draws) == sink.full.nbytes + sink.base.nbytes, name


def test_alongside_bytes_are_the_irr_threads_results() -> None:
    from mkba.decide.irr import IrrAlongside

    draws = 1000
    alongside = IrrAlongside(np.zeros((draws, 30)), np.zeros(30))
    try:
        held = [
            v for v in vars(alongside).values() if isinstance(v, np.ndarray) and v.size == draws
        ]
        assert sum(a.nbytes for a in held) == prefault.ALONGSIDE_BYTES * draws
    finally:
        alongside.abort()


def test_for_twin_asks_for_everything_the_twin_pass_allocates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the reference and its companion at 1M draws: the two sinks 2 x 112 bytes a draw, the run's
    # outcome arrays 1,192, the IRR's results 16, the companion's light arrays 216: 1,648 bytes
    # a draw, 1.648 GB (within MAX_BYTES, 1,879 MB)
    m, other = _model("reference-2021.toml"), _model("evidence-2021.toml")
    asked: list[int] = []
    monkeypatch.setattr(memory, "_KEPT", True)
    monkeypatch.delenv(prefault.ENV, raising=False)
    monkeypatch.setattr(prefault, "start", lambda nbytes: asked.append(nbytes))
    prefault.for_twin(m, other, 1_000_000, np.float64)
    assert asked == [1_648_000_000]
    assert asked[0] <= prefault.MAX_BYTES < memory.TRIM_THRESHOLD - 128 * 2**20


def test_early_bytes_of_the_reference_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = ROOT / "scenarios" / "reference-2021.toml"
    # per draw: benefits and costs of 3 perspectives, payback, flow and discounted flow over
    # 2021..2050 (30 years): 6 + 1 + 60 = 67 float64 = 536 bytes; 16 areas' benefits and
    # costs: 32 x 8 = 256 bytes (32 x 4 = 128 in float32)
    assert prefault.early_bytes(ref, None, 1_000_000, "all") == 792_000_000
    assert prefault.early_bytes(ref, None, 1_000_000, "none") == 792_000_000
    assert prefault.early_bytes(ref, None, 1000, " Float32 ") == 664_000
    # the scenario's own draws (20,000) without -n; the default scenario of the working folder
    assert prefault.early_bytes(ref, None, None, "all") == 20_000 * 792
    monkeypatch.chdir(ROOT)
    assert prefault.early_bytes(None, None, 10, "all") == 7920


def test_the_early_constants_are_the_engines() -> None:
    # one definition each (mkba.constants), the engine's names refer to it
    from mkba import api
    from mkba.schema import scenario

    assert prefault.DEFAULT_SCENARIO is api.DEFAULT_SCENARIO
    assert prefault.PERSPECTIVES is scenario.PERSPECTIVES == ("welfare", "fiscal", "study")


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.toml")), ids=lambda p: p.name)
@pytest.mark.parametrize("area_draws", ["all", "float32"])
def test_early_bytes_never_exceed_the_runs_arrays(path: Path, area_draws: str) -> None:
    m = runnable(load_scenario(path))
    dtype = np.float32 if area_draws == "float32" else np.float64
    for draws in (1, 1000, 1_000_000):
        early = prefault.early_bytes(path, None, draws, area_draws)
        assert 0 < early <= prefault.outcome_bytes(m, draws, dtype), (draws, early)


def test_early_bytes_are_0_when_unsure(tmp_path: Path) -> None:
    ref = ROOT / "scenarios" / "reference-2021.toml"
    assert prefault.early_bytes(ref, "some-variant", 10**6, "all") == 0  # may change areas
    assert prefault.early_bytes(tmp_path / "missing.toml", None, 10**6, "all") == 0
    assert prefault.early_bytes(tmp_path / "book.xlsx", None, 10**6, "all") == 0
    cases = {
        "bad.toml": "areas = [",  # not TOML
        "noareas.toml": "base_year = 2021\nhorizon = 2050\n",
        "emptyareas.toml": "areas = []\nbase_year = 2021\nhorizon = 2050\n",
        "numbers.toml": "areas = [1, 2]\nbase_year = 2021\nhorizon = 2050\n",
        "backwards.toml": 'areas = ["a"]\nbase_year = 2050\nhorizon = 2021\n',
        "textyear.toml": 'areas = ["a"]\nbase_year = "2021"\nhorizon = 2050\n',
        "nodraws.toml": 'areas = ["a"]\nbase_year = 2021\nhorizon = 2050\n',  # without -n
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        draws = None if name == "nodraws.toml" else 10**6
        assert prefault.early_bytes(tmp_path / name, None, draws, "all") == 0, name
    (tmp_path / "ok.toml").write_text('areas = ["a", "b"]\nbase_year = 2021\nhorizon = 2022\n')
    # 8 x (6 + 1 + 2 x 2) + 2 x 2 x 8 = 88 + 32 bytes a draw
    assert prefault.early_bytes(tmp_path / "ok.toml", None, 10, "all") == 1200


def test_the_programme_example_caps_its_physical_rows() -> None:
    # the bottom-up programme's physical effects keep at most PHYSICAL_BYTES of draws: the size
    # grows by less than the other arrays' bytes per draw beyond that
    m = _model("wijkprogramma-example.toml")
    assert m.programme is not None and m.programme.n_links > 0  # the example has 4 links
    big = 10_000_000
    arrays = vars(Outcomes.empty(0, m)).values()
    per_draw = sum(a.itemsize * int(np.prod(a.shape[1:])) for a in arrays)
    assert prefault.outcome_bytes(m, big, np.float64) < per_draw * big


class _FakeLibc:
    """malloc / free / madvise recorded instead of called (ctypes sets argtypes on them)."""

    def __init__(self, block: int, refuse_after: int | None = None) -> None:
        self.calls: list[tuple[str, int, int]] = []
        self.block = block
        self.refuse_after = refuse_after

        def malloc(size: int) -> int:
            self.calls.append(("malloc", size, 0))
            return self.block

        def free(ptr: int) -> None:
            self.calls.append(("free", ptr, 0))

        def madvise(addr: int, length: int, advice: int) -> int:
            assert advice == prefault.MADV_POPULATE_WRITE
            n = sum(1 for c in self.calls if c[0] == "madvise")
            self.calls.append(("madvise", addr, length))
            return -1 if self.refuse_after is not None and n >= self.refuse_after else 0

        self.malloc, self.free, self.madvise = malloc, free, madvise


def test_populate_slices_the_whole_pages_of_the_freed_block() -> None:
    mib = 2**20
    block = 0x7F00_0000_0010  # 16 bytes past a page boundary, as malloc's chunk header
    size = 100 * mib + 123
    libc = _FakeLibc(block)
    done = prefault.populate(libc, size)  # type: ignore[arg-type]  # a fake C library
    lo = 0x7F00_0000_1000  # the first whole page
    hi = (block + size) // 4096 * 4096  # the last whole page ends here
    # by hand: 32 + 32 + 32 MiB slices, then the rest (100 MiB + 123 - 16 bytes, less the
    # first page's 4,080 bytes and the tail's partial page)
    assert libc.calls[:2] == [("malloc", size, 0), ("free", block, 0)]
    slices = [(a, n) for kind, a, n in libc.calls if kind == "madvise"]
    assert slices[:3] == [(lo, 32 * mib), (lo + 32 * mib, 32 * mib), (lo + 64 * mib, 32 * mib)]
    assert slices[3] == (lo + 96 * mib, hi - lo - 96 * mib)
    assert len(slices) == 4 and done == hi - lo


def test_populate_stops_at_the_first_refusal() -> None:
    # an older kernel refuses MADV_POPULATE_WRITE (EINVAL): one call, nothing populated
    libc = _FakeLibc(0x10000, refuse_after=0)
    assert prefault.populate(libc, 200 * 2**20) == 0  # type: ignore[arg-type]  # a fake
    assert [c[0] for c in libc.calls] == ["malloc", "free", "madvise"]
    # refused after two slices: the two count
    libc = _FakeLibc(0x10000, refuse_after=2)
    assert prefault.populate(libc, 200 * 2**20) == 64 * 2**20  # type: ignore[arg-type]


def test_populate_without_a_block_does_nothing() -> None:
    libc = _FakeLibc(0)  # malloc refused
    assert prefault.populate(libc, 100 * 2**20) == 0  # type: ignore[arg-type]  # a fake
    assert [c[0] for c in libc.calls] == ["malloc"]


def test_only_where_the_memory_settings_are_in_force(monkeypatch: pytest.MonkeyPatch) -> None:
    m = _model("reference-2021.toml")
    monkeypatch.setattr(memory, "_KEPT", False)  # this test process: glibc's defaults
    assert not prefault.enabled()
    assert prefault.for_run(m, 1_000_000, np.float64) is None
    assert prefault.start(10 * prefault.MIN_BYTES) is None
    ref = ROOT / "scenarios" / "reference-2021.toml"
    assert prefault.early(ref, None, 10**6, "all") is None
    monkeypatch.setattr(memory, "_KEPT", True)
    monkeypatch.setenv(prefault.ENV, "0")
    assert not prefault.enabled()
    assert prefault.start(10 * prefault.MIN_BYTES) is None
    monkeypatch.delenv(prefault.ENV)
    assert prefault.enabled()
    # without -n the scenario file is not read again (its own draws: for_run decides)
    monkeypatch.setattr(prefault, "early_bytes", lambda *a: pytest.fail("read the file"))
    assert prefault.early(ref, None, None, "all") is None
    # small runs are not worth a thread (the default run of the reference: 24 MB)
    assert prefault.outcome_bytes(m, 20_000, np.float64) < prefault.MIN_BYTES
    assert prefault.for_run(m, 20_000, np.float64) is None


PROBE = """
import resource, sys, threading
import numpy as np
import mkba.memory, mkba.prefault as pf

kept = mkba.memory.keep_freed_memory()
{how}
"""

REUSE = """
thread = pf.start(256 << 20)
thread.join()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
a = np.ones(32 << 20)  # 256 MiB written, from the populated top of the heap
print("R", kept, pf.populated, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

# a second start with a larger size populates only what lies beyond the first one's range
GROW = """
first = pf.start(128 << 20)
first.join()
one = pf.populated
second = pf.start(192 << 20)
second.join()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
a = np.ones(24 << 20)  # 192 MiB
print("R", kept, one, pf.populated, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

FRESH = """
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
a = np.ones(32 << 20)
print("R", kept, 0, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

# the main thread allocates, writes and frees arrays of many sizes while the heap is populated
# under it: every array must hold what was written into it
RACE = """
rng = np.random.default_rng(5)
thread = pf.start(512 << 20)
held, bad = [], 0
for i in range(400):
    n = int(rng.integers(1, 2 << 20))
    a = np.full(n, float(i))
    held.append(a)
    if len(held) > 40:
        b = held.pop(int(rng.integers(0, len(held))))
        bad += int(not (b == b[0]).all())
thread.join()
bad += sum(int(not (b == b[0]).all()) for b in held)
print("R", kept, pf.populated, bad)
"""


# a batch's array pool: an anonymous mapping of 256 MiB whose first 100 MiB + 5 bytes a job
# uses; some of it written before, the rest after the populate. Only the job's whole pages
# rounded up (25,601 pages) are populated, what was written stays, and writing the job's part
# afterwards faults no more
MAPPING = """
import mmap
slab = mmap.mmap(-1, 256 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
head = np.frombuffer(slab, np.uint8, count=8 << 20)
head[:] = 7
thread = pf.start_mapping(slab, (100 << 20) + 5)
thread.join()
part = np.frombuffer(slab, np.uint8, count=100 << 20)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
part[8 << 20:] = 3
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print("R", kept, pf.populated, faults, int((head == 7).all()))
"""


def _probe(how: str, **env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if k not in memory.USER_ENV}
    clean.pop(prefault.ENV, None)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(how=how)],
        capture_output=True,
        text=True,
        check=False,
        env={**clean, "NUMPY_MADVISE_HUGEPAGE": "0", **env},
    )
    assert proc.returncode == 0, proc.stderr
    return [x for x in proc.stdout.splitlines() if x.startswith("R ")][-1].split()[1:]


@pytest.mark.skipif(not (GLIBC and LINUX_POPULATE), reason="glibc and Linux 5.14+ only")
def test_prefaulted_memory_is_reused_without_page_faults() -> None:
    kept, populated, faults = _probe(REUSE)
    assert kept == "True"
    assert int(populated) >= (256 << 20) - 4096
    assert int(faults) < 500, faults
    _, _, fresh = _probe(FRESH)
    assert int(fresh) > 60_000, fresh  # 256 MiB = 65,536 pages of 4 KiB


@pytest.mark.skipif(not (GLIBC and LINUX_POPULATE), reason="glibc and Linux 5.14+ only")
def test_a_second_start_adds_only_the_pages_beyond_the_first() -> None:
    kept, one, two, faults = _probe(GROW)
    assert kept == "True"
    assert (128 << 20) - 4096 <= int(one) <= 128 << 20
    # the rest of 192 MiB (the main thread's few small allocations in between may move the
    # second block's start up by some pages)
    assert (64 << 20) - 4096 <= int(two) <= (64 << 20) + (1 << 20), two
    assert int(faults) < 500, faults


@pytest.mark.skipif(not (GLIBC and LINUX_POPULATE), reason="glibc and Linux 5.14+ only")
def test_populating_under_a_working_heap_changes_no_byte() -> None:
    kept, populated, bad = _probe(RACE)
    assert kept == "True" and int(populated) > 0
    assert bad == "0"


@pytest.mark.skipif(not (GLIBC and LINUX_POPULATE), reason="glibc and Linux 5.14+ only")
def test_a_pool_mapping_is_populated_for_the_jobs_part_only() -> None:
    kept, populated, faults, head = _probe(MAPPING)
    assert kept == "True"
    assert int(populated) == 25_601 * 4096
    assert int(faults) < 500, faults
    assert head == "1"


def test_a_small_mapping_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import mmap

    monkeypatch.setattr(memory, "_KEPT", True)
    slab = mmap.mmap(-1, 2**20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    assert prefault.start_mapping(slab, 2**20) is None
    monkeypatch.setattr(memory, "_KEPT", False)
    assert prefault.start_mapping(slab, 2**20) is None


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_nothing_without_the_memory_settings() -> None:
    # a user's own malloc setting: mkba.memory stands back, and so does the prefault
    assert _probe("print('R', kept, pf.start(256 << 20))", MALLOC_ARENA_MAX="4") == [
        "False",
        "None",
    ]


def _summary(run_dir: Path) -> dict:
    doc = json.loads((run_dir / "summary.json").read_text())
    doc.pop("output_dir", None)
    return doc


_STARTED = "mkba-test: prefault thread started"

_CONSOLE_SCRIPT = """
import sys
from mkba import prefault
from mkba.cli import main

start = prefault.start


def witnessed(nbytes):
    thread = start(nbytes)
    if thread is not None:
        print({started!r}, file=sys.stderr, flush=True)
    return thread


prefault.start = witnessed
sys.argv = {argv!r}
main()  # without argv: as the console script (mkba.memory's settings, the prefault)
"""
"""A process that runs ``mkba`` as the console script does (main() without argv), telling on
stderr when a prefault thread was started."""


@pytest.mark.skipif(not (GLIBC and LINUX_POPULATE), reason="glibc and Linux 5.14+ only")
def test_a_console_script_run_is_the_same_with_and_without_the_prefault(tmp_path: Path) -> None:
    # 60,000 draws of the reference: 71.5 MB of outcome arrays, above MIN_BYTES
    assert prefault.outcome_bytes(_model("reference-2021.toml"), 60_000, np.float64) > (
        prefault.MIN_BYTES
    )
    env = {k: v for k, v in os.environ.items() if k not in memory.USER_ENV}
    env["PYTHONPATH"] = str(ROOT / "src")
    dirs = {}
    for flag in ("1", "0"):
        out = tmp_path / f"run{flag}"
        argv = ["mkba", "run", "-n", "60000", "--out", str(out), "--json"]
        proc = subprocess.run(
            [sys.executable, "-c", _CONSOLE_SCRIPT.format(started=_STARTED, argv=argv)],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
            env={**env, prefault.ENV: flag},
        )
        assert proc.returncode == 0, proc.stderr
        # the prefault ran in the first process only (else this test compared a run with itself)
        assert (_STARTED in proc.stderr) == (flag == "1"), proc.stderr
        dirs[flag] = out
    assert _summary(dirs["1"]) == _summary(dirs["0"])
    import pyarrow.parquet as pq

    with_pf = pq.read_table(dirs["1"] / "draws.parquet")
    without = pq.read_table(dirs["0"] / "draws.parquet")
    assert with_pf.column_names == without.column_names
    for name in with_pf.column_names:
        a = with_pf.column(name).to_numpy()
        b = without.column(name).to_numpy()
        assert a.tobytes() == b.tobytes(), name


def test_the_run_command_and_the_api_call_the_three_steps(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # the wiring: mkba run hands its arguments to early before the engine's import; the API
    # calls for_run with the run's draws and area type, and for_twin with the companion's
    # model when the twin pass is used (reference-2021 and evidence-2021 are twins)
    from mkba.cli import main

    calls: list[tuple] = []
    monkeypatch.setattr(prefault, "early", lambda *a: calls.append(("early", *a)))
    monkeypatch.setattr(
        prefault, "for_run", lambda m, n, dtype: calls.append(("for_run", n, dtype))
    )
    monkeypatch.setattr(
        prefault,
        "for_twin",
        lambda m, other, n, dtype: calls.append(("for_twin", other.spec.scenario.title, n, dtype)),
    )
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit) as stop:
        main(["run", "-n", "300", "--area-draws", "float32", "--no-write", "--json"])
    assert stop.value.code == 0
    evidence = load_scenario(ROOT / "scenarios" / "evidence-2021.toml").scenario.title
    assert calls == [
        ("early", None, None, 300, "float32"),
        ("for_run", 300, np.float32),
        ("for_twin", evidence, 300, np.float32),
    ]
